"""The analysis service over real gRPC on loopback, on the real VADER movie snippets.

One module-scoped server hosts all four services. The fixture imports a small real split
(120 train / 200 test rows with per-annotator agreement), trains two tiny all-MiniLM-L6-v2
classifiers through the training service (1 epoch, 32 tokens) — one on the real training
split, one on a small hand-written stand-in for an LLM-generated set — and exports them to
ONNX. Evaluations run in-process with ONNX Runtime (and once through the inference service
to check both paths agree).
"""

from __future__ import annotations

import base64
import io
import json
import math
import re
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from synthclf.clients import AnalysisClient, GenerationClient, InferenceClient, TrainingClient
from synthclf.core.artifacts import fetch, job_id, publish, read_manifest, staging
from synthclf.core.datasets import to_jsonl
from synthclf.core.errors import InvalidInput, NotFound
from synthclf.core.store import open_store
from synthclf.server import start_server
from synthclf.v1 import analysis_pb2, training_pb2

QUIET = {"progress": lambda event: None}
_ADJECTIVES = {"positive": ["wonderful", "moving", "funny", "beautiful", "gripping"],
               "negative": ["boring", "clumsy", "tedious", "shallow", "messy"]}
_NOUNS = ["story", "cast", "script", "ending"]


def _stand_in_synthetic(settings) -> str:
    """Publish 40 templated reviews as a zero-shot dataset (stand-in for LLM output)."""
    rows = [{"text": f"A {adjective} film with a {adjective} {noun}.", "label": label}
            for label, adjectives in _ADJECTIVES.items() for adjective in adjectives for noun in _NOUNS]
    stats = {"rows": len(rows), "source": "zero_shot", "task": "vader_movie", "requested": 50,
             "accepted": 40, "rejected": 10, "prompt_tokens": 5000, "completion_tokens": 600, "wall_time_s": 12.5}
    with staging() as folder:
        to_jsonl(pd.DataFrame(rows), folder / "data.jsonl")
        return publish(open_store(settings.artifact_store, settings), folder, kind="dataset",
                       artifact_id=job_id("test-zero-shot", stats), service="test", stats=stats).uri


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    from synthclf.core.config import Settings

    root = tmp_path_factory.mktemp("analysis")
    settings = Settings(artifact_store=str(root / "artifacts"), cache_dir=root / "cache")
    running = start_server(["all"], settings, port=0)
    try:
        with GenerationClient(running.address) as client:
            train, test = client.import_real_data("vader_movie", max_train_rows=120, max_test_rows=200, seed=0)
        synthetic = _stand_in_synthetic(settings)
        onnx = {}
        with TrainingClient(running.address) as client:
            for source, uri in (("real", train.uri), ("zero_shot", synthetic)):
                model = client.train(training_pb2.TrainRequest(
                    task="vader_movie", data=[training_pb2.TrainingData(uri=uri)], epochs=1, batch_size=16,
                    max_length=32, seed=0), **QUIET)
                onnx[source] = client.export_onnx(model.uri, **QUIET).uri
        evaluations = {}
        with AnalysisClient(running.address) as client:
            for source, model_uri in onnx.items():
                ref, metrics = client.evaluate(analysis_pb2.EvaluateRequest(
                    model_uri=model_uri, in_process=True, dataset_uri=test.uri, n_bootstrap=200,
                    tags={"task": "vader_movie", "source": source}), **QUIET)
                evaluations[source] = (ref.uri, metrics)
        yield {"address": running.address, "settings": settings, "train": train.uri, "test": test.uri,
               "synthetic": synthetic, "onnx": onnx, "evaluations": evaluations}
    finally:
        running.stop(grace_s=1)


def test_in_process_evaluation_has_intervals_predictions_and_is_idempotent(env):
    uri, metrics = env["evaluations"]["real"]
    assert metrics.support == 200 and metrics.n_bootstrap == 200
    assert metrics.macro_f1_ci.low <= metrics.macro_f1 <= metrics.macro_f1_ci.high
    assert metrics.accuracy_ci.low <= metrics.accuracy <= metrics.accuracy_ci.high
    artifact = fetch(uri, env["settings"])
    saved = json.loads((artifact.path / "metrics.json").read_text())
    assert set(saved["per_class"]) == {"negative", "positive"} and len(saved["confusion"]) == 2
    assert saved["per_class"]["positive"]["f1_ci"]["low"] <= saved["per_class"]["positive"]["f1"]
    assert len((artifact.path / "predictions.jsonl").read_text().splitlines()) == 200
    assert artifact.manifest.inputs == [env["onnx"]["real"], env["test"]]
    with AnalysisClient(env["address"]) as client:
        again, _ = client.evaluate(analysis_pb2.EvaluateRequest(
            model_uri=env["onnx"]["real"], in_process=True, dataset_uri=env["test"], n_bootstrap=200,
            tags={"task": "vader_movie", "source": "real"}), **QUIET)
    assert again.uri == uri


def test_served_evaluation_agrees_with_in_process(env):
    with InferenceClient(env["address"]) as client:
        client.load_model("vader-real", env["onnx"]["real"])
    with AnalysisClient(env["address"]) as client:
        _, served = client.evaluate(analysis_pb2.EvaluateRequest(
            model="vader-real", dataset_uri=env["test"], inference_address=env["address"], n_bootstrap=200,
            tags={"task": "vader_movie"}), **QUIET)
    assert served.macro_f1 == pytest.approx(env["evaluations"]["real"][1].macro_f1, abs=1e-9)


def test_in_process_without_model_uri_is_invalid(env):
    with AnalysisClient(env["address"]) as client, pytest.raises(InvalidInput, match="model_uri"):
        client.evaluate(analysis_pb2.EvaluateRequest(in_process=True, dataset_uri=env["test"]), **QUIET)


def test_diversity_of_real_and_stand_in_data(env):
    with AnalysisClient(env["address"]) as client:
        real = client.diversity(env["train"], **QUIET)
        synthetic = client.diversity(env["synthetic"], **QUIET)
        again = client.diversity(env["train"], **QUIET)
    assert real.overall.n == 120 and set(real.per_label) == {"negative", "positive"}
    assert 0 < real.overall.chamfer < real.overall.remote_clique < 2
    assert synthetic.overall.remote_clique < real.overall.remote_clique  # templated text is less diverse
    assert again.diversity.uri == real.diversity.uri
    manifest = read_manifest(real.diversity.uri, env["settings"])
    assert manifest.kind == "diversity" and manifest.inputs == [env["train"]]
    cached = list((Path(env["settings"].cache_dir) / "embeddings").rglob("*.npy"))
    assert len(cached) >= 2  # one embedding table per dataset artifact


def test_similarity_of_held_out_real_texts_to_training_texts(env):
    with AnalysisClient(env["address"]) as client:
        response = client.similarity(env["test"], env["train"], **QUIET)
        stand_in = client.similarity(env["synthetic"], env["train"], k=3, **QUIET)
    assert response.k == 5 and response.n_synthetic == 200 and response.n_real == 120
    assert 0 < response.mean_top_k <= 1 and stand_in.k == 3
    assert read_manifest(response.similarity.uri, env["settings"]).inputs == [env["test"], env["train"]]


def test_instance_subjectivity_on_real_vader_agreement(env):
    evaluation_uri = env["evaluations"]["real"][0]
    with AnalysisClient(env["address"]) as client:
        response = client.instance_subjectivity(analysis_pb2.InstanceSubjectivityRequest(
            evaluation_uri=evaluation_uri), **QUIET)
        via_model = client.instance_subjectivity(analysis_pb2.InstanceSubjectivityRequest(
            model_uri=env["onnx"]["real"], in_process=True, dataset_uri=env["test"], gammas=[1.0, 0.5, 0.75],
            tags={"task": "vader_movie", "source": "real"}), **QUIET)
    gammas = [p.gamma for p in response.points]
    assert gammas == sorted(gammas) and gammas[0] == 0.5 and len(gammas) >= 5
    assert [p.n for p in response.points] == sorted((p.n for p in response.points), reverse=True)
    assert math.isfinite(response.r_squared) and math.isfinite(response.spearman_rho)
    assert math.isfinite(response.spearman_p) and response.evaluation.uri == evaluation_uri
    assert [p.gamma for p in via_model.points] == [0.5, 0.75, 1.0]
    assert via_model.points[0].accuracy == pytest.approx(response.points[0].accuracy)  # same model, same data


def test_instance_subjectivity_without_agreement_is_invalid(env):
    with AnalysisClient(env["address"]) as client:
        ref, _ = client.evaluate(analysis_pb2.EvaluateRequest(
            model_uri=env["onnx"]["real"], in_process=True, dataset_uri=env["synthetic"], n_bootstrap=10), **QUIET)
        with pytest.raises(InvalidInput, match="no instance has an agreement"):
            client.instance_subjectivity(analysis_pb2.InstanceSubjectivityRequest(evaluation_uri=ref.uri), **QUIET)


def test_task_subjectivity_states_the_caveat(env):
    uris = [uri for uri, _ in env["evaluations"].values()]
    with AnalysisClient(env["address"]) as client:
        response = client.task_subjectivity(uris)
    (gap,) = response.gaps
    assert gap.task == "vader_movie" and gap.source == "zero_shot" and gap.subjectivity >= 1
    assert gap.gap == pytest.approx(gap.real_macro_f1 - gap.macro_f1)
    assert math.isnan(response.correlations[0].spearman_rho)
    assert "only 1 task(s)" in response.caveat


def _valid_png(data: bytes) -> None:
    with Image.open(io.BytesIO(data)) as image:
        image.verify()
        assert image.format == "PNG"


def test_report_renders_every_figure_from_lineage(env):
    uris = [uri for uri, _ in env["evaluations"].values()]
    with AnalysisClient(env["address"]) as client:
        response = client.report("VADER movie: real vs stand-in", uris, [env["synthetic"]],
                                 usd_per_million_prompt_tokens=0.5, **QUIET)
    folder = fetch(response.report.uri, env["settings"]).path
    figures = sorted(f for f in response.files if f.startswith("figures/"))
    assert {"report.md", "report.html", "summary.json"} <= set(response.files)
    assert {Path(f).stem.rsplit("-", 1)[0] for f in figures} == {
        "agreement", "curves", "diversity", "projection", "similarity", "task"}
    for name in figures:
        _valid_png((folder / name).read_bytes())
        assert f"]({name})" in response.markdown
    page = (folder / "report.html").read_text()
    embedded = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(embedded) == len(figures)
    for data in embedded:
        _valid_png(base64.b64decode(data))
    markdown = response.markdown
    assert "real (Macro-F1 / acc.)" in markdown and "zero_shot (Macro-F1 / acc.)" in markdown
    assert "vader_movie: zero_shot data is less diverse than real data" in markdown
    assert "vader_movie / real: accuracy" in markdown and "Spearman ρ" in markdown
    assert "40 of 50 LLM outputs kept (80%)" in markdown
    manifest = read_manifest(response.report.uri, env["settings"])
    assert set(uris) <= set(manifest.inputs) and env["train"] in manifest.inputs
    assert any("/diversity/" in u for u in manifest.inputs) and any("/similarity/" in u for u in manifest.inputs)


def test_report_without_evaluations_is_invalid_and_missing_input_not_found(env):
    missing = open_store(env["settings"].artifact_store, env["settings"]).uri("evaluation/nothing")
    with AnalysisClient(env["address"]) as client:
        with pytest.raises(InvalidInput):
            client.report("empty", [], **QUIET)
        with pytest.raises(NotFound):
            client.report("gone", [missing], **QUIET)
