"""The analysis service's predictor port and its two adapters (served and in-process).

Evaluate needs three things of the model it scores: its identity (the ``onnx-model``
artifact URI recorded in the evaluation's id and lineage, a display name, the version that
served), its label names in probability order, and class probabilities for texts.
:class:`Predictor` is that port (a :class:`typing.Protocol`, after Cosmic Python's ports and
adapters); :class:`synthclf.analysis.service.AnalysisCore` is given one
:class:`PredictorSource` per way of predicting when it is built:

* :class:`ServedPredictors` — the inference service over gRPC
  (:class:`synthclf.clients.InferenceClient`): what other systems get. The version live when
  the evaluation starts is pinned, and every batch asks for that version, so a ``LoadModel``
  under the same name while an evaluation runs cannot mix two models into one evaluation, and
  the artifact the evaluation records is the one that predicted.
* :class:`InProcessPredictors` — ONNX Runtime in this process
  (:class:`synthclf.core.onnx_runtime.OnnxClassifier`) on an ``onnx-model`` artifact; at
  most ``max_models`` sessions stay loaded (least recently used dropped), so memory is
  bounded whatever models requests name.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path
from typing import Protocol

import numpy as np

from synthclf.clients import InferenceClient
from synthclf.core.config import Settings
from synthclf.core.errors import InvalidInput, NotFound, SynthclfError
from synthclf.core.inputs import fetch_kind
from synthclf.core.limits import shown

#: onnx-model artifacts kept loaded for in-process evaluation (least recently used dropped).
IN_PROCESS_MODELS = 2


class Predictor(Protocol):
    """A classifier the analysis evaluates (the port).

    Attributes:
        name: the model's name in the caller's terms (served name, or a display name).
        model_uri: the ``onnx-model`` artifact that predicts (the evaluation's identity).
        model_version: the served version pinned for every call; None in process.
        description: how it predicts, for progress messages.
    """

    name: str
    model_uri: str
    model_version: int | None
    description: str

    @property
    def labels(self) -> list[str]:
        """Label names in the order of :meth:`predict_proba`'s columns."""
        ...

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        """Class probabilities, float32 [len(texts), len(labels)], rows in input order."""
        ...

    def close(self) -> None:
        """Release what the predictor holds (a channel); the predictor is not used after."""
        ...


class PredictorSource(Protocol):
    """Opens a :class:`Predictor` for an Evaluate request (the factory side of the port)."""

    def open(self, *, model: str, model_uri: str, address: str) -> Predictor:
        """A predictor for the request's ``model`` / ``model_uri`` / inference ``address``."""
        ...


class ServedPredictor:
    """A model version loaded in the inference service, pinned (see the module docstring).

    Args:
        client: an open client of the inference service (closed by :meth:`close`).
        name: the served model name.
        model_uri: the artifact of the pinned version.
        version: the pinned version.
        labels: its labels, in probability order.
    """

    def __init__(self, client: InferenceClient, name: str, model_uri: str, version: int, labels: list[str]):
        self._client = client
        self.name, self.model_uri = name, model_uri
        self.model_version: int | None = version
        self._pinned = version
        self._labels = list(labels)
        self.description = f"'{shown(name)}' version {version} of the inference service"

    @property
    def labels(self) -> list[str]:
        """Label names of the pinned version."""
        return self._labels

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        """``Predict`` on the pinned version: float32 [len(texts), len(labels)].

        Raises:
            NotFound: the pinned version was unloaded meanwhile (the evaluation stops rather
                than mixing in another version). Unavailable, InvalidInput: as
                :meth:`InferenceClient.predict`. SynthclfError: the service answered with
                another version or label order (a bug in synthclf).
        """
        response = self._client.predict(self.name, texts, model_version=self._pinned)
        if response.model_version != self.model_version or list(response.labels) != self._labels:
            raise SynthclfError(f"the inference service answered a request for '{shown(self.name)}' version "
                                f"{self.model_version} with version {response.model_version}")
        return np.array([list(p.probabilities) for p in response.predictions], dtype=np.float32)

    def close(self) -> None:
        """Close the channel to the inference service."""
        self._client.close()


class ServedPredictors:
    """Opens the newest live version of a served model and pins it (:class:`ServedPredictor`)."""

    def open(self, *, model: str, model_uri: str = "", address: str) -> ServedPredictor:
        """Pin the newest live version of ``model`` at ``address`` (``model_uri`` is not used:
        the served version's artifact is what is evaluated).

        Raises:
            NotFound: ``model`` is not loaded (the message lists the loaded names).
            Unavailable: the inference service cannot be reached.
        """
        client = InferenceClient(address)
        try:
            newest = {}
            for info in client.list_models():  # by name, then version: the last is the newest
                newest[info.name] = info
            if model not in newest:
                raise NotFound(f"model '{shown(model)}' is not loaded in the inference service; "
                               f"loaded: {', '.join(sorted(newest)) or 'none'}")
            info = newest[model]
            return ServedPredictor(client, model, info.artifact.uri, int(info.version), list(info.labels))
        except BaseException:
            client.close()
            raise


class OnnxPredictor:
    """An ``onnx-model`` artifact run by ONNX Runtime in this process, loaded on first use.

    The session comes from its :class:`InProcessPredictors` (bounded cache), so a request
    answered from an existing evaluation never loads the model.
    """

    def __init__(self, source: InProcessPredictors, name: str, model_uri: str):
        self._source = source
        self._classifier = None
        self.name, self.model_uri = name, model_uri
        self.model_version: int | None = None
        self.description = f"'{shown(name)}' in process (ONNX Runtime)"

    def _loaded(self):
        if self._classifier is None:
            self._classifier = self._source.classifier(self.model_uri)
        return self._classifier

    @property
    def labels(self) -> list[str]:
        """The artifact's ``labels.json`` (loads the model)."""
        return list(self._loaded().labels)

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        """:meth:`OnnxClassifier.predict_batch`: float32 [len(texts), len(labels)]."""
        return self._loaded().predict_batch(texts)

    def close(self) -> None:
        """Nothing to release: the session stays in the source's cache."""


class InProcessPredictors:
    """ONNX Runtime sessions of ``onnx-model`` artifacts, at most ``max_models`` kept loaded.

    Args:
        settings: the store the artifacts are fetched from (sha256-verified) and the limits
            :class:`~synthclf.core.onnx_runtime.OnnxClassifier` checks.
        max_models: sessions kept (least recently used dropped); ≥ 1.
    """

    def __init__(self, settings: Settings, max_models: int = IN_PROCESS_MODELS):
        self.settings = settings
        self.max_models = max(1, max_models)
        self._classifiers: OrderedDict[str, object] = OrderedDict()
        self._lock = threading.Lock()

    def open(self, *, model: str = "", model_uri: str, address: str = "") -> OnnxPredictor:
        """A predictor of ``model_uri`` named ``model`` (default the artifact id); ``address``
        is not used."""
        return OnnxPredictor(self, model or Path(model_uri).name, model_uri)

    def classifier(self, model_uri: str):
        """The :class:`OnnxClassifier` of an ``onnx-model`` artifact, loaded once while cached.

        Raises:
            InvalidInput: not an onnx-model artifact, or one ONNX Runtime refuses (the
                message names the URI). NotFound, IntegrityError: as
                :func:`synthclf.core.inputs.fetch_kind`.
        """
        from synthclf.core.onnx_runtime import OnnxClassifier  # onnxruntime only when used

        with self._lock:
            if model_uri not in self._classifiers:
                artifact = fetch_kind(model_uri, self.settings, "onnx-model", "model_uri")
                try:
                    classifier = OnnxClassifier(artifact.path, settings=self.settings)
                except InvalidInput as exc:
                    raise InvalidInput(f"onnx-model {shown(model_uri, 200)}: {exc.message}") from exc
                self._classifiers[model_uri] = classifier
                while len(self._classifiers) > self.max_models:
                    self._classifiers.popitem(last=False)
            self._classifiers.move_to_end(model_uri)
            return self._classifiers[model_uri]
