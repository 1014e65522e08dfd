"""Inference core: versioned ONNX classifiers behind dynamic batchers, with limits and metrics.

Transport-neutral (after KServe's ``DataPlane``; docs/architecture.md): the synthclf.v1 servicer, the
KServe v2 / Open Inference Protocol servicer and in-process callers all use
:class:`InferenceCore`. A Predict call is checked against the request limits, tokenized in
the caller's thread, queued to the model version's :class:`DynamicBatcher` and answered when
its texts have run; every call is counted in the core's own Prometheus registry.
"""

from __future__ import annotations

import builtins
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import grpc
import numpy as np
from prometheus_client import CollectorRegistry

from synthclf.core.config import Settings
from synthclf.core.errors import InvalidInput, SynthclfError
from synthclf.inference.batcher import DynamicBatcher
from synthclf.inference.metrics import InferenceMetrics
from synthclf.inference.repository import LoadedModel, ModelRepository, model_instances
from synthclf.inference.startup import StartupModels, parse_startup_models

__all__ = ["InferenceCore", "LoadedModel", "Predictions"]

log = logging.getLogger("synthclf.inference")
#: Model label of requests for names that are not loaded (bounds the metric's cardinality).
UNKNOWN_MODEL = "(not loaded)"


@dataclass(frozen=True)
class Predictions:
    """Result of :meth:`InferenceCore.predict`.

    Attributes:
        model: the live version that served the request.
        probabilities: float32 [n_texts, n_labels]; rows sum to 1, columns in
            ``model.labels`` order, rows in input order.
    """

    model: LoadedModel
    probabilities: np.ndarray

    @property
    def labels(self) -> list[str]:
        """Label names, the columns of ``probabilities``."""
        return self.model.labels

    @property
    def predicted(self) -> list[str]:
        """Most probable label per text (argmax of each row)."""
        labels = self.model.labels
        return [labels[i] for i in self.probabilities.argmax(axis=1)]


class InferenceCore:
    """Serves named, versioned ONNX classifiers with dynamic batching.

    Args:
        settings: artifact store, ``inference_*`` batching and limit settings.

    Attributes:
        registry: this core's Prometheus registry (requests_total, request latency histogram,
            batch-size histogram, queue-depth gauge), not the global ``REGISTRY``.
        metrics: the collectors in ``registry``.
        startup: the ``inference_models`` this core loads when :meth:`start` is called;
            :meth:`check` fails until they are loaded.

    Raises:
        InvalidInput: ``inference_max_texts_per_request`` exceeds ``inference_max_queue_size``
            (such a request could never be queued), or ``inference_models`` is malformed.
    """

    def __init__(self, settings: Settings):
        if settings.inference_max_texts_per_request > settings.inference_max_queue_size:
            raise InvalidInput(
                f"SYNTHCLF_INFERENCE_MAX_TEXTS_PER_REQUEST ({settings.inference_max_texts_per_request})"
                f" exceeds SYNTHCLF_INFERENCE_MAX_QUEUE_SIZE ({settings.inference_max_queue_size}):"
                " such a request could never be queued")
        self.settings = settings
        self.metrics = InferenceMetrics()
        self.registry: CollectorRegistry = self.metrics.registry
        self.repository = ModelRepository(settings, self._make_batcher, self._retired)
        self._listeners: list[Callable[[str, bool], None]] = []
        self._listeners_lock = threading.Lock()
        self.startup = StartupModels(self, parse_startup_models(settings.inference_models))

    def start(self, on_ready: Callable[[], None] | None = None) -> None:
        """Begin loading the start-up models in the background (the server calls it once it
        answers health checks); ``on_ready()`` runs when the last one has loaded."""
        self.startup.start(on_ready)

    def check(self) -> None:
        """Readiness: the artifact store is reachable and every start-up model is loaded
        (raises Unavailable otherwise, naming what is missing)."""
        self.repository.check()
        self.startup.check()

    def load(self, name: str, uri: str) -> LoadedModel:
        """Fetch (sha256-verified), verify and load an onnx-model artifact as a new version.

        Args:
            name: the name callers will use.
            uri: onnx-model artifact URI.

        Returns:
            The new live version (or the newest one, if it already serves this artifact).

        Raises:
            InvalidInput: empty name/URI, or not an onnx-model. NotFound: no artifact at
            ``uri``. IntegrityError: corrupt or mismatched artifact (live versions keep
            serving).
        """
        model = self.repository.load(name, uri)
        self._notify(name)
        return model

    def unload(self, name: str, version: int = 0) -> list[LoadedModel]:
        """Unload one version (0: every version) of ``name``; queued requests still complete.

        Raises:
            NotFound: nothing matches (the message lists what is loaded).
        """
        models = self.repository.unload(name, version)
        self._notify(name)
        return models

    def get(self, name: str, version: int = 0) -> LoadedModel:
        """A live version (0: newest). Raises NotFound, listing what is loaded."""
        return self.repository.get(name, version)

    def list(self) -> list[LoadedModel]:
        """Every live version, by name then version."""
        return self.repository.list()

    def predict(self, name: str, texts: builtins.list[str], version: int = 0,
                timeout_s: float | None = None) -> Predictions:
        """Classify texts with a live model version, through its dynamic batcher.

        Args:
            name: model name.
            texts: texts to classify (1 … ``inference_max_texts_per_request``, each at most
                ``inference_max_chars_per_text`` characters).
            version: model version; 0 = newest.
            timeout_s: seconds the caller waits (its gRPC deadline); None: no limit.

        Returns:
            The probabilities and the version that served them.

        Raises:
            InvalidInput: no texts, too many, a non-string, or a text too long (the message
                names the limit, the index and the setting).
            NotFound: model or version not loaded.
            ResourceExhausted: the version's queue is full.
            DeadlineExceeded: ``timeout_s`` passed before the texts were classified.
        """
        started = time.perf_counter()
        code, label = grpc.StatusCode.OK, name
        try:
            self._check_limits(texts)
            with self.repository.lease(name, version) as live:
                rows = live.model.classifier.encode(texts)
                left = None if timeout_s is None else timeout_s - (time.perf_counter() - started)
                probabilities = live.batcher.predict(rows, left)
            self.metrics.texts.labels(name).inc(len(texts))
            return Predictions(live.model, probabilities)
        except SynthclfError as exc:
            code = exc.grpc_code
            if code == grpc.StatusCode.NOT_FOUND and not self.repository.serving(name):
                label = UNKNOWN_MODEL
            raise
        except Exception:
            code = grpc.StatusCode.INTERNAL
            raise
        finally:
            self.metrics.requests.labels(label, code.name).inc()
            self.metrics.latency.labels(label).observe(time.perf_counter() - started)

    def subscribe(self, listener: Callable[[str, bool], None]) -> None:
        """Call ``listener(model_name, serving)`` after every load and unload.

        ``serving`` is whether the name still has a live version (for per-model
        grpc.health.v1 status, service name ``synthclf.v1.InferenceService/<model>``).
        """
        with self._listeners_lock:
            self._listeners.append(listener)

    def close(self) -> None:
        """Unload every model; queued requests finish first (server shutdown)."""
        self.startup.stop()
        self.repository.close()

    def _check_limits(self, texts: builtins.list[str]) -> None:
        """InvalidInput naming the limit, index and setting for an unacceptable request."""
        settings = self.settings
        if not texts:
            raise InvalidInput("no texts to classify: send at least one text")
        if len(texts) > settings.inference_max_texts_per_request:
            raise InvalidInput(
                f"{len(texts)} texts in one request; the limit is "
                f"{settings.inference_max_texts_per_request} (split the request, or raise "
                "SYNTHCLF_INFERENCE_MAX_TEXTS_PER_REQUEST)")
        limit = settings.inference_max_chars_per_text
        for index, text in enumerate(texts):
            if not isinstance(text, str):
                raise InvalidInput(f"text {index} is a {type(text).__name__}, not a string")
            if len(text) > limit:
                raise InvalidInput(
                    f"text {index} has {len(text)} characters; the limit is {limit} (shorten "
                    "it, or raise SYNTHCLF_INFERENCE_MAX_CHARS_PER_TEXT)")

    def _make_batcher(self, model: LoadedModel) -> DynamicBatcher:
        """The dynamic batcher of a new live version, wired to its metrics."""
        batch_size, queue_depth = self.metrics.for_version(model.name, model.version)
        settings = self.settings
        return DynamicBatcher(
            model.classifier.run, model.classifier.plan,
            max_batch_size=settings.inference_max_batch_size,
            max_queue_delay_s=settings.inference_max_queue_delay_ms / 1000,
            max_queue_size=settings.inference_max_queue_size,
            name=f"'{model.name}' v{model.version}",
            instances=model_instances(settings, model.execution_provider),
            batch_size_metric=batch_size, queue_depth_metric=queue_depth)

    def _retired(self, model: LoadedModel) -> None:
        """An unloaded version's batcher closed: drop its per-version series."""
        self.metrics.forget_version(model.name, model.version)

    def _notify(self, name: str) -> None:
        """Tell subscribers whether ``name`` still serves."""
        serving = self.repository.serving(name)
        with self._listeners_lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(name, serving)
            except Exception:  # noqa: BLE001 - a listener must not break load/unload
                log.exception("model listener failed for '%s'", name)
