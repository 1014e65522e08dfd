"""Models an inference server loads at start-up (``SYNTHCLF_INFERENCE_MODELS``).

Replicas started with the same ``name=artifact-uri,…`` value load the same models, and each
reports NOT_SERVING (grpc.health.v1, readiness) until all of them are loaded, so a load
balancer or ``docker compose up --scale inference=N --wait`` only sees replicas that can answer
(docs/deploy.md, "Scaling past one machine"). Loading runs in a background thread, so the
server answers health checks meanwhile; it retries while the store is unreachable or the
artifact not yet published (UNAVAILABLE, NOT_FOUND) and gives up on an artifact that can never
load (INVALID_ARGUMENT, DATA_LOSS), which then keeps the replica NOT_SERVING with the reason.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Protocol

from synthclf.core.errors import InvalidInput, NotFound, SynthclfError, Unavailable

__all__ = ["StartupModels", "parse_startup_models"]

log = logging.getLogger("synthclf.inference")
#: Seconds between load attempts of a retryable failure: doubling from 1 up to 30.
FIRST_RETRY_S, MAX_RETRY_S = 1.0, 30.0


class _Loader(Protocol):
    def load(self, name: str, uri: str): ...


def parse_startup_models(spec: str) -> list[tuple[str, str]]:
    """Parse ``name=artifact-uri[,name=artifact-uri…]`` (whitespace around items ignored).

    Args:
        spec: the setting's value; empty or blank means no start-up models.

    Returns:
        (name, uri) pairs in the order given.

    Raises:
        InvalidInput: an item without ``=``, an empty name or URI, or a name given twice.
    """
    models: list[tuple[str, str]] = []
    for item in (part.strip() for part in spec.split(",")):
        if not item:
            continue
        name, sep, uri = (s.strip() for s in item.partition("="))
        if not sep or not name or not uri:
            raise InvalidInput(
                f"SYNTHCLF_INFERENCE_MODELS item '{item}' is not name=artifact-uri "
                "(e.g. sms=s3://synthclf/artifacts/onnx-model/<id>)")
        if any(name == seen for seen, _ in models):
            raise InvalidInput(f"SYNTHCLF_INFERENCE_MODELS names model '{name}' twice")
        models.append((name, uri))
    return models


class StartupModels:
    """Loads the start-up models in a background thread; readiness until they are loaded.

    Args:
        loader: what loads a model (an :class:`~synthclf.inference.service.InferenceCore`).
        models: (name, uri) pairs, from :func:`parse_startup_models`.
    """

    def __init__(self, loader: _Loader, models: list[tuple[str, str]]):
        self.loader = loader
        self.models = list(models)
        self._pending = dict(self.models)
        self._errors: dict[str, str] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, on_loaded: Callable[[], None] | None = None) -> None:
        """Start loading (once); ``on_loaded()`` runs after the last model has loaded."""
        if self._thread is not None or not self.models:
            return
        names = ", ".join(f"{name}={uri}" for name, uri in self.models)
        log.info("loading %d start-up model(s): %s", len(self.models), names)
        self._thread = threading.Thread(target=self._run, args=(on_loaded,),
                                        name="startup-models", daemon=True)
        self._thread.start()

    def check(self) -> None:
        """Readiness: raises Unavailable while a start-up model is not loaded (names it and why)."""
        with self._lock:
            pending = dict(self._pending)
            errors = dict(self._errors)
        if not pending:
            return
        if self._thread is None:
            raise Unavailable(f"start-up models not loading yet: {', '.join(pending)}")
        reasons = "; ".join(f"'{name}' ({uri}): {errors.get(name, 'loading')}"
                            for name, uri in pending.items())
        raise Unavailable(f"start-up models not loaded: {reasons}")

    def stop(self) -> None:
        """Stop retrying (server shutdown); a load in progress finishes."""
        self._stop.set()

    def _run(self, on_loaded: Callable[[], None] | None) -> None:
        for name, uri in self.models:
            if not self._load_one(name, uri):
                return
        log.info("start-up models loaded: %s", ", ".join(name for name, _ in self.models))
        if on_loaded is not None:
            on_loaded()

    def _load_one(self, name: str, uri: str) -> bool:
        """Load with retries; False when stopped or the artifact can never load."""
        delay = FIRST_RETRY_S
        while not self._stop.is_set():
            try:
                model = self.loader.load(name, uri)
            except (Unavailable, NotFound) as exc:
                self._fail(name, exc)
                log.warning("start-up model '%s' (%s) not loaded, retrying in %.0f s: %s",
                            name, uri, delay, exc.message)
                self._stop.wait(delay)
                delay = min(2 * delay, MAX_RETRY_S)
                continue
            except SynthclfError as exc:
                self._fail(name, exc)
                log.error("start-up model '%s' (%s) cannot be loaded; the server stays "
                          "NOT_SERVING: %s", name, uri, exc.message)
                return False
            with self._lock:
                self._pending.pop(name, None)
                self._errors.pop(name, None)
            log.info("start-up model '%s' v%d loaded from %s", name, model.version, uri)
            return True
        return False

    def _fail(self, name: str, exc: SynthclfError) -> None:
        with self._lock:
            self._errors[name] = f"{type(exc).__name__}: {exc.message}"
