"""The analysis predictor port: served (a real inference server, version pinned) and in-process."""

from __future__ import annotations

import numpy as np
import pytest
from classifiers import export, tiny_bert

from synthclf.analysis.predictors import InProcessPredictors, ServedPredictors
from synthclf.clients import InferenceClient
from synthclf.core.artifacts import publish
from synthclf.core.config import Settings
from synthclf.core.errors import NotFound
from synthclf.core.onnx_runtime import OnnxClassifier
from synthclf.core.store import open_store
from synthclf.server import start_server

LABELS = ["ham", "spam"]
TEXTS = ["win a free prize now, text WIN", "see you at lunch", "ok", "URGENT: claim your cash reward today"]


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """Two tiny exported classifiers with different weights."""
    root = tmp_path_factory.mktemp("tiny")
    return [export(tiny_bert(root / f"torch-{seed}", LABELS, seed=seed, scale=20), root / f"onnx-{seed}", TEXTS, 32)
            for seed in (0, 1)]


@pytest.fixture
def settings(tmp_path):
    return Settings(artifact_store=str(tmp_path / "artifacts"), cache_dir=tmp_path / "cache")


def _publish(settings, folder, artifact_id: str) -> str:
    return publish(open_store(settings.artifact_store, settings), folder, kind="onnx-model",
                   artifact_id=artifact_id, service="tests").uri


def test_in_process_sessions_are_bounded_and_loaded_only_when_used(settings, folders):
    source = InProcessPredictors(settings, max_models=2)
    lazy = source.open(model="", model_uri=open_store(settings.artifact_store, settings).uri("onnx-model/missing"))
    assert lazy.name == "missing" and lazy.model_version is None  # nothing fetched yet
    with pytest.raises(NotFound):
        lazy.labels
    uris = [_publish(settings, folders[0], f"m{i}") for i in range(3)]
    first = source.classifier(uris[0])
    assert source.classifier(uris[0]) is first  # cached
    source.classifier(uris[1])
    source.classifier(uris[2])  # the least recently used (uris[0]) is dropped
    assert source.classifier(uris[0]) is not first
    predictor = source.open(model="tiny", model_uri=uris[1])
    expected = OnnxClassifier(folders[0], settings=settings).predict_batch(TEXTS)
    np.testing.assert_allclose(predictor.predict_proba(TEXTS), expected, atol=1e-6)
    assert predictor.labels == LABELS and predictor.model_uri == uris[1]


def test_served_predictor_pins_the_version_it_opened(settings, folders):
    running = start_server(["inference"], settings, port=0)
    try:
        with InferenceClient(running.address) as client:
            old = _publish(settings, folders[0], "old")
            client.load_model("sms", old)
            predictor = ServedPredictors().open(model="sms", model_uri="", address=running.address)
            client.load_model("sms", _publish(settings, folders[1], "new"))  # version 2 goes live meanwhile
            try:
                assert (predictor.model_uri, predictor.model_version, predictor.labels) == (old, 1, LABELS)
                expected = OnnxClassifier(folders[0], settings=settings).predict_batch(TEXTS)
                newer = OnnxClassifier(folders[1], settings=settings).predict_batch(TEXTS)
                assert not np.allclose(newer, expected, atol=1e-3)  # the two versions are told apart
                np.testing.assert_allclose(predictor.predict_proba(TEXTS), expected, atol=1e-5)
                client.unload_model("sms", model_version=1)
                with pytest.raises(NotFound):  # never silently the new version
                    predictor.predict_proba(TEXTS)
            finally:
                predictor.close()
            with pytest.raises(NotFound, match="model 'nope' is not loaded in the inference service; loaded: sms"):
                ServedPredictors().open(model="nope", model_uri="", address=running.address)
    finally:
        running.stop(grace_s=1)
