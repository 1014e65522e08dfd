"""The analysis service over real gRPC on loopback, on the real VADER movie snippets.

One module-scoped server hosts all four services. The fixture imports a small real split
(120 train / 200 test rows with per-annotator agreement) and runs a tiny 2-seed, 2-source
experiment through the training service (all-MiniLM-L6-v2, 1 epoch, 32 tokens): the real
training split and a small hand-written stand-in for an LLM-generated set (Table 1), a
learning curve of 8 and 16 real rows per label, and the stand-in mixed into 8 real rows per
label — each with seeds 0 and 1, exported to ONNX. Evaluations run in-process with ONNX
Runtime (and once through the inference service to check both paths agree).
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

from synthclf.clients import AnalysisClient, Condition, GenerationClient, InferenceClient, TrainingClient, TrainingData
from synthclf.core.artifacts import fetch, job_id, publish, read_manifest, staging
from synthclf.core.errors import InvalidInput, NotFound
from synthclf.core.schema import to_jsonl
from synthclf.core.store import open_store
from synthclf.server import start_server

QUIET = {"progress": lambda event: None}
# The module fixture fine-tunes and exports ten tiny models: minutes on a busy 2-vCPU machine.
pytestmark = pytest.mark.timeout(2400)
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


def _condition(source: str, seed: int = 0, per_label: int = 0) -> Condition:
    return Condition(task="vader_movie", source=source, seed=seed, real_per_label=per_label)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    from synthclf.core.config import Settings

    root = tmp_path_factory.mktemp("analysis")
    settings = Settings(artifact_store=str(root / "artifacts"), cache_dir=root / "cache")
    running = start_server(["all"], settings, port=0)
    try:
        with GenerationClient(running.address) as client:
            splits = client.import_real_data("vader_movie", max_train_rows=120, max_test_rows=200, seed=0)
        train, test = splits.train, splits.test
        synthetic = _stand_in_synthetic(settings)
        cells = []  # (source, real rows per label, seed, training data)
        for seed in (0, 1):
            cells += [("real", 0, seed, [TrainingData(dataset_uri=train.uri)]),
                      ("zero_shot", 0, seed, [TrainingData(dataset_uri=synthetic)])]
            cells += [("real", n, seed, [TrainingData(dataset_uri=train.uri, count_per_label=n)]) for n in (8, 16)]
            cells.append(("zero_shot", 8, seed, [TrainingData(dataset_uri=train.uri, count_per_label=8),
                                                 TrainingData(dataset_uri=synthetic)]))
        onnx, evaluations, runs = {}, {}, []
        with TrainingClient(running.address) as trainer, AnalysisClient(running.address) as analysis:
            for source, per_label, seed, data in cells:
                model = trainer.train("vader_movie", data, epochs=1, batch_size=16, max_length=32, seed=seed,
                                      **QUIET)
                model_uri = trainer.export_onnx(model.uri, **QUIET).uri
                result = analysis.evaluate(
                    model_uri=model_uri, in_process=True, dataset_uri=test.uri, n_bootstrap=200,
                    condition=_condition(source, seed, per_label), **QUIET)
                ref, metrics = result.evaluation, result.metrics
                runs.append(ref.uri)
                if per_label == 0 and seed == 0:
                    onnx[source], evaluations[source] = model_uri, (ref.uri, metrics)
        yield {"address": running.address, "settings": settings, "train": train.uri, "test": test.uri,
               "synthetic": synthetic, "onnx": onnx, "evaluations": evaluations, "runs": runs}
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
        again = client.evaluate(
            model_uri=env["onnx"]["real"], in_process=True, dataset_uri=env["test"], n_bootstrap=200,
            condition=_condition("real"), **QUIET).evaluation
    assert again.uri == uri
    assert saved["condition"] == {"task": "vader_movie", "source": "real", "backbone": "", "seed": 0,
                                  "real_per_label": 0}
    resamples = json.loads((artifact.path / "resamples.json").read_text())
    assert len(resamples["macro_f1"]) == 200 and resamples["n"] == 200


def test_zero_bootstrap_resamples_means_no_intervals(env):
    with AnalysisClient(env["address"]) as client:
        metrics = client.evaluate(model_uri=env["onnx"]["real"], in_process=True, dataset_uri=env["test"],
                                  n_bootstrap=0, condition=_condition("real"), **QUIET).metrics
    assert metrics.n_bootstrap == 0 and metrics.macro_f1_ci is None and metrics.accuracy_ci is None
    assert metrics.macro_f1 == pytest.approx(env["evaluations"]["real"][1].macro_f1, abs=1e-9)


def test_served_evaluation_agrees_with_in_process(env):
    with InferenceClient(env["address"]) as client:
        client.load_model("vader-real", env["onnx"]["real"])
    with AnalysisClient(env["address"]) as client:
        served = client.evaluate(
            model_name="vader-real", dataset_uri=env["test"], inference_address=env["address"], n_bootstrap=200,
            condition=_condition("real"), **QUIET).metrics
    assert served.macro_f1 == pytest.approx(env["evaluations"]["real"][1].macro_f1, abs=1e-9)


def test_in_process_without_model_uri_is_invalid(env):
    with AnalysisClient(env["address"]) as client, pytest.raises(InvalidInput, match="model_uri"):
        client.evaluate(in_process=True, dataset_uri=env["test"], condition=_condition("real"), **QUIET)


def test_evaluation_without_a_condition_is_invalid(env):
    with AnalysisClient(env["address"]) as client, pytest.raises(InvalidInput, match="condition"):
        client.evaluate(model_uri=env["onnx"]["real"], in_process=True, dataset_uri=env["test"], **QUIET)


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
        response = client.instance_subjectivity(evaluation_uri=evaluation_uri, **QUIET)
        via_model = client.instance_subjectivity(
            model_uri=env["onnx"]["real"], in_process=True, dataset_uri=env["test"], gammas=[1.0, 0.5, 0.75],
            condition=_condition("real"), **QUIET)
    gammas = [p.gamma for p in response.points]
    assert gammas == sorted(gammas) and gammas[0] == 0.5 and len(gammas) >= 5
    assert [p.n for p in response.points] == sorted((p.n for p in response.points), reverse=True)
    assert math.isfinite(response.r_squared) and math.isfinite(response.spearman_rho)
    assert math.isfinite(response.spearman_p) and response.evaluation.uri == evaluation_uri
    assert [p.gamma for p in via_model.points] == [0.5, 0.75, 1.0]
    assert via_model.points[0].accuracy == pytest.approx(response.points[0].accuracy)  # same model, same data


def test_instance_subjectivity_without_agreement_is_invalid(env):
    with AnalysisClient(env["address"]) as client:
        ref = client.evaluate(
            model_uri=env["onnx"]["real"], in_process=True, dataset_uri=env["synthetic"], n_bootstrap=10,
            condition=_condition("real"), **QUIET).evaluation
        with pytest.raises(InvalidInput, match="no instance has an agreement"):
            client.instance_subjectivity(evaluation_uri=ref.uri, **QUIET)


def test_task_subjectivity_states_the_caveat(env):
    uris = env["runs"]  # curve points and mixed models are left out, seeds averaged
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


def test_verdict_places_the_stand_in_on_the_learning_curve(env):
    with AnalysisClient(env["address"]) as client:
        response = client.verdict(env["runs"], synthetic_datasets={"zero_shot": env["synthetic"]})
        again = client.verdict(env["runs"], synthetic_datasets={"zero_shot": env["synthetic"]})
        with pytest.raises(InvalidInput, match="one task"):
            client.verdict(env["runs"] + [_other_task_evaluation(env)])
    assert again.verdict.uri == response.verdict.uri
    assert response.task == "vader_movie" and response.decision in ("replace", "stretch", "dont")
    assert response.reason and "δ = 0.02" in response.reason
    with AnalysisClient(env["address"]) as client:
        strict = client.verdict(env["runs"], delta=0.0, synthetic_datasets={"zero_shot": env["synthetic"]})
    assert strict.verdict.uri != response.verdict.uri  # δ = 0 is a value, not "use the default"
    assert read_manifest(strict.verdict.uri, env["settings"]).parameters["delta"] == 0.0
    placed = {(e.source, e.real_per_label) for e in response.equivalents}
    assert placed == {("zero_shot", 0), ("zero_shot", 8)}
    for e in response.equivalents:
        assert e.text and (math.isnan(e.per_label) or 8 <= e.per_label <= 16)
    verdict = json.loads((fetch(response.verdict.uri, env["settings"]).path / "verdict.json").read_text())
    assert [p["per_label"] for p in verdict["curve"]] == [8, 16] and verdict["curve"][0]["seeds"] == 2
    assert verdict["stretch"][0]["real_per_label"] == 8 and verdict["replace"][0]["source"] == "zero_shot"
    assert verdict["agreement"] is not None and 0.5 <= verdict["agreement"] <= 1.0  # VADER has annotators
    assert set(read_manifest(response.verdict.uri, env["settings"]).inputs) >= set(env["runs"])


def _other_task_evaluation(env) -> str:
    with AnalysisClient(env["address"]) as client:
        ref = client.evaluate(
            model_uri=env["onnx"]["real"], in_process=True, dataset_uri=env["test"], n_bootstrap=200,
            condition=Condition(task="sms_spam", source="real"), **QUIET).evaluation
    return ref.uri


def _analyses(env) -> list[str]:
    """The analysis plan a flow would run for this experiment (each an artifact)."""
    with AnalysisClient(env["address"]) as client:
        uris = [client.verdict(env["runs"], synthetic_datasets={"zero_shot": env["synthetic"]}).verdict.uri,
                client.diversity(env["train"], **QUIET).diversity.uri,
                client.diversity(env["synthetic"], **QUIET).diversity.uri,
                client.similarity(env["synthetic"], env["train"], **QUIET).similarity.uri,
                client.similarity(env["test"], env["train"], **QUIET).similarity.uri,
                client.projection([env["train"], env["synthetic"]], **QUIET).uri,
                client.instance_subjectivity(
                    evaluation_uri=env["evaluations"]["real"][0], **QUIET).instance_subjectivity.uri,
                client.task_subjectivity(env["runs"]).task_subjectivity.uri]
    return uris


def test_report_of_a_two_seed_two_source_experiment_opens_with_the_verdict(env):
    analyses = _analyses(env)
    with AnalysisClient(env["address"]) as client:
        response = client.report("VADER movie: real vs stand-in", env["runs"], analyses,
                                 price_prompt_per_mtok=0.5, **QUIET)
    folder = fetch(response.report.uri, env["settings"]).path
    figures = sorted(f for f in response.files if f.startswith("figures/"))
    assert {"report.md", "report.html", "summary.json"} <= set(response.files)
    assert {Path(f).stem.rsplit("-", 1)[0] for f in figures} == {
        "agreement", "curves", "diversity", "learning-curve", "projection", "similarity", "task"}
    for name in figures:
        _valid_png((folder / name).read_bytes())
        assert f"]({name})" in response.markdown
    page = (folder / "report.html").read_text()
    embedded = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(embedded) == len(figures)
    for data in embedded:
        _valid_png(base64.b64decode(data))
    markdown = response.markdown
    first_screen = markdown.split("## Behind the verdict")[0]
    assert "## The answer: replace, stretch or don't" in first_screen and "| vader_movie | **" in first_screen
    assert "](figures/learning-curve-vader_movie.png)" in first_screen
    table1 = first_screen.split("## Table 1")[1]
    assert "| task | real | zero_shot |" in table1 and "mean ± sd over 2 training seeds" in table1
    assert re.search(r"\| vader_movie \| \d\.\d{3} ± \d\.\d{3} \[", table1)  # the real baseline, 2 seeds
    assert "vader_movie / zero_shot:" in table1 and "worth ≈" in table1
    assert "vader_movie: zero_shot data is less diverse than real data" in markdown
    assert "vader_movie / real: accuracy" in markdown and "Spearman ρ" in markdown
    assert "40 of 50 LLM outputs kept (80%)" in markdown
    summary = json.loads((folder / "summary.json").read_text())
    (verdict,) = summary["verdicts"]
    assert verdict["task"] == "vader_movie" and {e["text"] for e in verdict["equivalents"]}
    manifest = read_manifest(response.report.uri, env["settings"])
    assert set(env["runs"]) <= set(manifest.inputs) and env["train"] in manifest.inputs
    assert set(analyses) <= set(manifest.inputs)


def test_the_report_computes_nothing_it_is_not_given(env):
    with AnalysisClient(env["address"]) as client:
        response = client.report("evaluations only", env["runs"], **QUIET)
    assert "No verdict" in response.markdown and "## Diversity" not in response.markdown
    assert not any("/diversity/" in u or "/similarity/" in u for u in read_manifest(
        response.report.uri, env["settings"]).inputs)


def test_report_without_evaluations_is_invalid_and_missing_input_not_found(env):
    missing = open_store(env["settings"].artifact_store, env["settings"]).uri("evaluation/nothing")
    with AnalysisClient(env["address"]) as client:
        with pytest.raises(InvalidInput):
            client.report("empty", [], **QUIET)
        with pytest.raises(NotFound):
            client.report("gone", [missing], **QUIET)
