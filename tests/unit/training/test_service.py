"""Tests of synthclf.training.service: mixtures, validation source, errors, idempotency.

The trainer is replaced by a fake that records what it was given (training itself is
tested in test_trainer.py and, over gRPC, in tests/integration/test_training_service.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from synthclf.core.artifacts import publish, read_manifest, staging
from synthclf.core.config import Settings
from synthclf.core.errors import InvalidInput, NotFound
from synthclf.core.schema import to_jsonl
from synthclf.training import service as service_module
from synthclf.training.service import TrainingCore, TrainingData
from synthclf.training.trainer import TrainConfig, TrainResult


@pytest.fixture
def core(tmp_path) -> TrainingCore:
    return TrainingCore(Settings(artifact_store=str(tmp_path / "artifacts"),
                                 cache_dir=tmp_path / "cache"))


def add_dataset(core: TrainingCore, name: str, texts: list[str], labels: list[str],
                source: str = "real") -> str:
    """Publish a dataset artifact; returns its URI."""
    with staging() as folder:
        to_jsonl(pd.DataFrame({"text": texts, "label": labels}), folder / "data.jsonl")
        return publish(core.store, folder, kind="dataset", artifact_id=name, service="test",
                       stats={"rows": len(texts), "source": source}).uri


def spam_ham(n_ham: int, n_spam: int, prefix: str) -> tuple[list[str], list[str]]:
    texts = [f"{prefix} ham {i}" for i in range(n_ham)] + [f"{prefix} spam {i}" for i in range(n_spam)]
    return texts, ["ham"] * n_ham + ["spam"] * n_spam


@pytest.fixture
def calls(monkeypatch) -> list[dict]:
    """Replace train_classifier with a fake that writes a minimal model folder."""
    seen: list[dict] = []

    def fake_train(texts, labels, label_names, config, output_dir, progress, validation=None,
                   validation_name=""):
        seen.append({"texts": texts, "labels": labels, "validation": validation,
                     "validation_name": validation_name})
        Path(output_dir).mkdir(parents=True, exist_ok=True)
        (Path(output_dir) / "config.json").write_text("{}")
        (Path(output_dir) / "validation.jsonl").write_text("")
        source = f"held_out:{validation_name}" if validation else "split_of_training_data"
        return TrainResult(Path(output_dir), list(label_names), [], 1,
                           {"macro_f1": 0.9, "accuracy": 0.9, "size": 3}, source, len(texts),
                           "cpu", "fp32", 10.0, 1.0, 2)

    monkeypatch.setattr(service_module, "train_classifier", fake_train)
    return seen


def test_mixture_draws_requested_rows_and_records_them(core, calls):
    real = add_dataset(core, "real", *spam_ham(80, 20, "real"))
    synthetic = add_dataset(core, "syn", *spam_ham(200, 200, "syn"), source="few_shot")
    ref = core.train("sms_spam", [TrainingData(uri=real, count=30),
                                  TrainingData(uri=synthetic, fraction=0.1)], TrainConfig())
    assert len(calls[0]["texts"]) == 30 + 40
    manifest = read_manifest(ref.uri, core.settings)
    first, second = manifest.stats["inputs"]
    assert (first["uri"], first["rows_drawn"], first["label_counts"]) == (real, 30, {"ham": 24, "spam": 6})
    assert (second["source"], second["rows_drawn"], second["fraction"]) == ("few_shot", 40, 0.1)
    assert second["label_counts"] == {"ham": 20, "spam": 20}
    assert manifest.stats["rows"] == 70 and manifest.stats["label_counts"] == {"ham": 44, "spam": 26}
    assert manifest.stats["validation_source"] == "split_of_training_data"
    assert manifest.parameters["validation_source"] == "split_of_training_data"
    assert set(manifest.inputs) == {real, synthetic}
    parity = json.loads((core.store.local_path(f"model/{ref.id}") / "parity_texts.json").read_text())
    assert parity and all(text.startswith("real ") for text in parity)
    assert manifest.stats["parity_text_source"] == "real"


def test_held_out_validation_is_used_and_recorded(core, calls):
    synthetic = add_dataset(core, "syn", *spam_ham(20, 20, "syn"), source="zero_shot")
    held_out = add_dataset(core, "val", *spam_ham(5, 5, "val"))
    ref = core.train("sms_spam", [TrainingData(uri=synthetic)], TrainConfig(),
                     validation_uri=held_out)
    assert calls[0]["validation"][0] == spam_ham(5, 5, "val")[0]
    assert calls[0]["validation_name"] == held_out
    manifest = read_manifest(ref.uri, core.settings)
    assert manifest.stats["validation_source"] == f"held_out:{held_out}"
    assert manifest.parameters["validation_source"] == f"held_out:{held_out}"
    assert held_out in manifest.inputs
    # only synthetic training data: the parity texts come from the real held-out set
    assert manifest.stats["parity_text_source"] == "real"


def test_same_request_returns_the_same_artifact_without_training_again(core, calls):
    real = add_dataset(core, "real", *spam_ham(10, 10, "real"))
    first = core.train("sms_spam", [TrainingData(uri=real)], TrainConfig())
    again = core.train("sms_spam", [TrainingData(uri=real)], TrainConfig())
    other = core.train("sms_spam", [TrainingData(uri=real, count=10)], TrainConfig())
    assert first == again != other
    assert len(calls) == 2


@pytest.mark.parametrize(
    ("texts", "labels", "message"),
    [
        ([], [], "is empty"),
        (["only ham", "more ham"], ["ham", "ham"], "single label"),
        (["a", "b"], ["ham", "eggs"], "labels outside the task: eggs"),
        (["fine", "   "], ["ham", "spam"], "1 empty text"),
    ],
)
def test_bad_training_data_is_refused_and_publishes_nothing(core, calls, texts, labels, message):
    uri = add_dataset(core, "bad", texts, labels)
    with pytest.raises(InvalidInput, match=message):
        core.train("sms_spam", [TrainingData(uri=uri)], TrainConfig())
    assert not calls and not core.store.list("model/")


def test_bad_validation_set_and_missing_dataset_are_refused(core, calls):
    real = add_dataset(core, "real", *spam_ham(10, 10, "real"))
    one_label = add_dataset(core, "val", ["ham a", "ham b"], ["ham", "ham"])
    with pytest.raises(InvalidInput, match="validation dataset .* single label"):
        core.train("sms_spam", [TrainingData(uri=real)], TrainConfig(), validation_uri=one_label)
    with pytest.raises(NotFound):
        core.train("sms_spam", [TrainingData(uri=real.replace("/real", "/nope"))], TrainConfig())
    with pytest.raises(InvalidInput, match="asked for 50 rows"):
        core.train("sms_spam", [TrainingData(uri=real, count=50)], TrainConfig())


def test_job_killed_mid_way_leaves_no_model_artifact(core, monkeypatch):
    real = add_dataset(core, "real", *spam_ham(10, 10, "real"))

    def killed(texts, labels, label_names, config, output_dir, *args, **kwargs):
        (Path(output_dir) / "model.safetensors").write_bytes(b"half")
        raise KeyboardInterrupt

    monkeypatch.setattr(service_module, "train_classifier", killed)
    with pytest.raises(KeyboardInterrupt):
        core.train("sms_spam", [TrainingData(uri=real)], TrainConfig())
    assert not core.store.list("model/")
