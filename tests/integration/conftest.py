"""Fixtures of the integration tests: a small ONNX classifier to serve, published on demand.

The classifier is all-MiniLM-L6-v2 with a new, seeded 2-label head (ham/spam; built by
tests/classifiers.py), exported with the training service's own exporter (parity-checked against PyTorch). It is not trained: the
serving tests need real ONNX Runtime outputs, not accuracy, and skipping training keeps the
fixture at seconds. Tests that need a trained model use the training service
(test_training_service.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from classifiers import export, minilm_classifier

from synthclf.core.artifacts import publish
from synthclf.core.config import Settings
from synthclf.core.store import open_store

LABELS = ["ham", "spam"]
#: Sequence length the fixture model is exported and served with, tokens.
MAX_LENGTH = 64
SAMPLE_TEXTS = [
    "WINNER!! You have been selected for a £900 prize reward, call 09061701461 now",
    "ok lar... joking wif u oni",
    "Free entry in 2 a wkly comp to win FA Cup final tkts 21st May 2005",
    "I'll be home soon, do you want anything from the shop?",
    "hi",
    "URGENT! Your mobile number has been awarded a bonus, text CLAIM to 81010",
]


@pytest.fixture(scope="session")
def onnx_model_folder(tmp_path_factory) -> Path:
    """Folder of an exported ``onnx-model`` artifact (model.onnx, tokenizer, labels.json)."""
    source = minilm_classifier(tmp_path_factory.mktemp("classifier"), LABELS, seed=0, scale=30)
    return export(source, tmp_path_factory.mktemp("onnx") / "model", SAMPLE_TEXTS, MAX_LENGTH)


@pytest.fixture(scope="session")
def publish_onnx_model(onnx_model_folder):
    """A function ``(settings, artifact_id="fixture") -> URI`` publishing the fixture classifier
    as ``onnx-model/<artifact_id>`` in the settings' artifact store."""

    def publish_to(settings: Settings, artifact_id: str = "fixture") -> str:
        """Publish the exported folder into ``settings.artifact_store``; returns the URI."""
        ref = publish(open_store(settings.artifact_store, settings), onnx_model_folder,
                      kind="onnx-model", artifact_id=artifact_id, service="tests",
                      stats={"max_length": MAX_LENGTH})
        return ref.uri

    return publish_to
