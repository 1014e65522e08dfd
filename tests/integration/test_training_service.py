"""The training service over real gRPC on loopback, on real SMS spam data.

Import real data → train (progress stream) → export ONNX with int8 → serve it in the
inference service → Macro-F1 on the real test split; a count + fraction mixture with a
held-out validation set; idempotent re-runs.
"""

from __future__ import annotations

import pytest

from synthclf.analysis.metrics import evaluate_predictions
from synthclf.clients import GenerationClient, InferenceClient, TrainingClient, TrainingData
from synthclf.core.artifacts import fetch, read_manifest
from synthclf.core.catalog import get_task
from synthclf.core.config import Settings
from synthclf.core.schema import read_jsonl
from synthclf.server import start_server

TASK = "sms_spam"


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    """(running server on a free loopback port, its settings)."""
    root = tmp_path_factory.mktemp("training-svc")
    settings = Settings(artifact_store=str(root / "artifacts"), cache_dir=root / "cache")
    running = start_server(["all"], settings, port=0)
    yield running, settings
    running.stop(grace_s=1)


@pytest.fixture(scope="module")
def real(service):
    """Real SMS spam: (train ref with 160 rows, test ref with 200 rows)."""
    with GenerationClient(service[0].address) as client:
        splits = client.import_real_data(TASK, max_train_rows=160, max_test_rows=200, seed=0)
    return splits.train, splits.test


def train_request(**fields) -> dict:
    """Keyword arguments of TrainingClient.train."""
    return {"task": TASK, "max_length": 48, "seed": 0, **fields}


@pytest.fixture(scope="module")
def trained(service, real):
    """Train on the 160 real rows (3 epochs); returns (request, model ref, progress events)."""
    events = []
    request = train_request(data=[TrainingData(dataset_uri=real[0].uri)], epochs=3)
    with TrainingClient(service[0].address) as client:
        return request, client.train(**request, progress=events.append), events


def test_progress_streams_steps_validation_and_eta(trained):
    _, model, events = trained
    assert model.kind == "model"
    assert all(e.stage == "train" and e.unit == "steps" for e in events)
    epoch_ends = [e for e in events if "val_macro_f1" in e.metrics]
    assert [e.metrics["epoch"] for e in epoch_ends] == [1.0, 2.0, 3.0]
    assert any("val_macro_f1" not in e.metrics for e in events)  # the ~10-step events
    assert all({"loss", "eta_s", "step"} <= set(e.metrics) for e in events)
    assert epoch_ends[-1].metrics["eta_s"] == 0.0 and epoch_ends[-1].done == epoch_ends[-1].total


def test_model_manifest_records_data_validation_and_curves(service, real, trained):
    _, model, _ = trained
    manifest = read_manifest(model.uri, service[1])
    stats = manifest.stats
    assert stats["validation_source"] == "split_of_training_data"
    assert stats["inputs"][0]["rows_drawn"] == 160 and stats["train_rows"] == 144
    assert stats["validation"]["size"] == 16 and stats["device"] == "cpu"
    assert [row["epoch"] for row in stats["curves"]] == [1, 2, 3]
    assert {"curves.json", "curves.png", "validation.jsonl", "labels.json"} <= {
        f.path for f in manifest.files}
    assert manifest.inputs == [real[0].uri]


def test_exported_model_is_served_well_above_chance_with_int8_recorded(service, real, trained):
    address, settings = service[0].address, service[1]
    with TrainingClient(address) as client:
        onnx_ref = client.export_onnx(trained[1].uri, quantize_int8=True, progress=lambda e: None)
    stats = read_manifest(onnx_ref.uri, settings).stats
    assert stats["max_abs_logit_diff"] <= 1e-4 and stats["argmax_agree"]
    assert stats["int8_eval_size"] == 16 and stats["int8_measured_on"] == "split_of_training_data"
    assert isinstance(stats["int8_accuracy_delta"], float)
    assert isinstance(stats["int8_macro_f1_delta"], float)
    assert stats["int8_bytes"] < stats["fp32_bytes"] / 2

    test = read_jsonl(fetch(real[1].uri, settings).path / "data.jsonl")
    with InferenceClient(address) as client:
        info = client.load_model("sms", onnx_ref.uri)
        predictions = client.predict("sms", test["text"].tolist()).predictions
    metrics = evaluate_predictions(test["label"].tolist(), [p.label for p in predictions],
                                   get_task(TASK).label_names)
    assert info.name == "sms"
    assert metrics.support == 200 and metrics.macro_f1 > 0.6  # chance: ~0.5


def test_mixture_with_held_out_validation_records_requested_counts(service, real):
    address, settings = service[0].address, service[1]
    with GenerationClient(address) as client:
        other = client.import_real_data(TASK, max_train_rows=100, max_test_rows=40, seed=1)
    other_train, other_test = other.train, other.test
    request = train_request(
        data=[TrainingData(dataset_uri=real[0].uri, count=40),
              TrainingData(dataset_uri=other_train.uri, fraction=0.5)],
        validation_uri=other_test.uri, epochs=1,
    )
    with TrainingClient(address) as client:
        model = client.train(**request, progress=lambda e: None)
    stats = read_manifest(model.uri, settings).stats
    first, second = stats["inputs"]
    assert (first["count"], first["rows_drawn"]) == (40, 40)
    assert (second["fraction"], second["rows_drawn"]) == (0.5, 50)
    assert sum(first["label_counts"].values()) == 40 and sum(second["label_counts"].values()) == 50
    assert stats["rows"] == stats["train_rows"] == 90
    assert stats["validation_source"] == f"held_out:{other_test.uri}"
    assert stats["validation"]["size"] == 40


def test_same_request_returns_the_same_artifact(service, trained):
    request, model, _ = trained
    with TrainingClient(service[0].address) as client:
        assert client.train(**request, progress=lambda e: None) == model
