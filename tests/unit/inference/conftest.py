"""Fixtures of the inference unit tests: tiny exported classifiers (tiny_classifier.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tiny_classifier import export_tiny

from synthclf.core.artifacts import publish
from synthclf.core.store import open_store


@pytest.fixture(scope="session")
def tiny_onnx_folders(tmp_path_factory) -> tuple[Path, Path]:
    """Two exported tiny classifiers with different weights (seed 0 and seed 1)."""
    root = tmp_path_factory.mktemp("tiny")
    return export_tiny(root, 0), export_tiny(root, 1)


@pytest.fixture
def publish_tiny(tiny_onnx_folders):
    """``(settings, which=0, artifact_id=None) -> URI``: publish tiny model 0 or 1."""

    def publish_to(settings, which: int = 0, artifact_id: str | None = None) -> str:
        """Publish one tiny model into the settings' store as an onnx-model artifact."""
        ref = publish(open_store(settings.artifact_store, settings), tiny_onnx_folders[which],
                      kind="onnx-model", artifact_id=artifact_id or f"tiny-{which}",
                      service="tests")
        return ref.uri

    return publish_to
