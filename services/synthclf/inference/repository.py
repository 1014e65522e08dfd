"""Model repository: ONNX classifiers loaded from the artifact store, served by name.

Like KServe's ``ModelRepository``: holds live models; loading under an existing name swaps the
model atomically, so in-flight requests finish on the model they started with.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

import numpy as np

from synthclf.core.artifacts import ArtifactRef, fetch
from synthclf.core.config import Settings
from synthclf.core.errors import InvalidInput, NotFound
from synthclf.core.store import open_store
from synthclf.inference.onnx_model import OnnxClassifier

log = logging.getLogger("synthclf.inference")


@dataclass(frozen=True)
class LoadedModel:
    """A live model: its name, the artifact it came from, and the classifier."""

    name: str
    artifact: ArtifactRef
    classifier: OnnxClassifier

    @property
    def labels(self) -> list[str]:
        """Label names in logit order."""
        return list(self.classifier.labels)


@dataclass(frozen=True)
class Predictions:
    """Result of :meth:`ModelRepository.predict`.

    Attributes:
        labels: label names, the columns of ``probabilities``.
        probabilities: float32 array, shape [n_texts, n_labels], rows sum to 1.
    """

    labels: list[str]
    probabilities: np.ndarray

    @property
    def predicted(self) -> list[str]:
        """Most probable label per text (argmax of each row)."""
        return [self.labels[i] for i in self.probabilities.argmax(axis=1)]


class ModelRepository:
    """Named ONNX models fetched (sha256-verified) from the artifact store.

    Args:
        settings: store location, credentials and cache folder.
    """

    def __init__(self, settings: Settings):
        self.settings = settings
        self.store = open_store(settings.artifact_store, settings)
        self._models: dict[str, LoadedModel] = {}
        self._lock = threading.Lock()

    def check(self) -> None:
        """Readiness: the artifact store is reachable."""
        self.store.check()

    def load(self, name: str, uri: str) -> LoadedModel:
        """Fetch, verify and load an ``onnx-model`` artifact under ``name``.

        Raises:
            InvalidInput: empty name, or the artifact is not an ONNX model.
            NotFound: no artifact at ``uri``. IntegrityError: files do not match the manifest.
        """
        if not name:
            raise InvalidInput("model name is required")
        artifact = fetch(uri, self.settings)
        if artifact.manifest.kind != "onnx-model":
            raise InvalidInput(f"{uri} is a '{artifact.manifest.kind}' artifact, not an onnx-model")
        model = LoadedModel(name, artifact.ref, OnnxClassifier(artifact.path))
        with self._lock:
            self._models[name] = model
        log.info("loaded model '%s' from %s on %s (labels: %s)", name, uri,
                 model.classifier.execution_provider, ", ".join(model.labels))
        return model

    def get(self, name: str) -> LoadedModel:
        """The live model called ``name``; NotFound lists the loaded ones."""
        with self._lock:
            model = self._models.get(name)
            known = sorted(self._models)
        if model is None:
            raise NotFound(f"model '{name}' is not loaded; loaded models: {', '.join(known) or 'none'}")
        return model

    def list(self) -> list[LoadedModel]:
        """Loaded models, by name."""
        with self._lock:
            return [self._models[k] for k in sorted(self._models)]

    def predict(self, name: str, texts: list[str]) -> Predictions:
        """Classify ``texts`` with model ``name``.

        Raises:
            NotFound: model not loaded. InvalidInput: no texts.
        """
        if not texts:
            raise InvalidInput("no texts to classify")
        model = self.get(name)
        return Predictions(model.labels, model.classifier.predict_batch(list(texts)))
