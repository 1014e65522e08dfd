"""Model repository: live versions of named ONNX classifiers, each with its dynamic batcher.

Like KServe's ``ModelRepository`` and Triton's model versions: every load of a name adds a
version (1, 2, … never reused in a process), several versions can be live at once, and
version 0 in a lookup means the newest. Requests hold a *lease* on the version they use; an
unloaded version leaves the repository at once (no new request finds it) but its batcher is
closed only when the last leased request has finished, so unloading or replacing a model
never drops a request that was already in flight or queued.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from synthclf.core.artifacts import ArtifactRef
from synthclf.core.config import Settings
from synthclf.core.errors import (
    IntegrityError,
    InvalidInput,
    NotFound,
    ResourceExhausted,
    SynthclfError,
)
from synthclf.core.inputs import fetch_kind
from synthclf.core.limits import check_at_most, check_model_name, shown
from synthclf.core.onnx_runtime import CUDA, FP32_GRAPH, OnnxClassifier, select_providers
from synthclf.core.store import open_store
from synthclf.inference.batcher import DynamicBatcher
from synthclf.inference.precision import GraphChoice, choose_graph

log = logging.getLogger("synthclf.inference")
#: Artifact kind the repository serves.
ONNX_KIND = "onnx-model"


def model_instances(settings: Settings, provider: str) -> int:
    """Batches of one model version that run at once on ``provider``.

    ``inference_model_instances`` 0 means 2 on CPU and 1 on CUDA: two runs side by side keep
    the cores busy while one run is between operators (on 2 vCPUs two single-threaded runs
    did 290 texts/s against 190 for one two-threaded run, benchmarks/README.md); the runs
    share one session and its intra-op threads, so a lone request still uses every core.
    """
    cores = len(os.sched_getaffinity(0))
    return settings.inference_model_instances or (1 if provider == CUDA else min(2, cores))


@dataclass(frozen=True)
class LoadedModel:
    """One live version of a model.

    Attributes:
        name: the name callers use.
        version: 1, 2, … per name, assigned by :meth:`ModelRepository.load`.
        artifact: the onnx-model artifact it came from.
        classifier: the ONNX Runtime session, tokenizer and labels.
        loaded_at: when it was loaded, Unix seconds.
        graph_bytes: size of the served graph file, bytes.
        choice: which graph is served (fp32 ``model.onnx`` or ``model.int8.onnx``) and why.
    """

    name: str
    version: int
    artifact: ArtifactRef
    classifier: OnnxClassifier
    loaded_at: float
    graph_bytes: int = 0
    choice: GraphChoice = GraphChoice(FP32_GRAPH, "")

    @property
    def graph(self) -> str:
        """The graph file served: ``model.onnx`` (fp32) or ``model.int8.onnx``."""
        return self.classifier.graph

    @property
    def labels(self) -> list[str]:
        """Label names in logit order."""
        return list(self.classifier.labels)

    @property
    def execution_provider(self) -> str:
        """ONNX Runtime execution provider the session runs on."""
        return self.classifier.execution_provider

    @property
    def max_length(self) -> int:
        """Truncation length in tokens."""
        return self.classifier.max_length


@dataclass(eq=False)
class LiveVersion:
    """A live version, its batcher and the number of requests holding it."""

    model: LoadedModel
    batcher: DynamicBatcher
    users: int = 0
    retired: bool = field(default=False)


class ModelRepository:
    """Named, versioned ONNX models fetched (sha256-verified) from the artifact store.

    Args:
        settings: store location, credentials, cache folder, ``inference_prefer_gpu``.
        make_batcher: builds the dynamic batcher of a newly loaded version.
        on_retire: called with each unloaded version once its batcher is closed.
    """

    def __init__(self, settings: Settings, make_batcher: Callable[[LoadedModel], DynamicBatcher],
                 on_retire: Callable[[LoadedModel], None] = lambda model: None):
        self.settings = settings
        self.store = open_store(settings.artifact_store, settings)
        self._make_batcher = make_batcher
        self._on_retire = on_retire
        self._live: dict[str, dict[int, LiveVersion]] = {}
        self._last_version: dict[str, int] = {}
        self._lock = threading.Lock()
        self._load_lock = threading.Lock()

    def check(self) -> None:
        """Readiness: the artifact store is reachable (raises otherwise)."""
        self.store.check()

    def load(self, name: str, uri: str) -> LoadedModel:
        """Fetch, verify and load an ``onnx-model`` artifact as a new version of ``name``.

        Loading the artifact that already is the newest live version of ``name`` returns
        that version (a retried LoadModel does not pile up copies). Versions already live
        keep serving throughout, and after a failure.

        Raises:
            InvalidInput: bad name (empty, too long, characters outside A-Z a-z 0-9 . _ -),
                empty URI, the artifact is not an onnx-model, or its labels.json is unusable.
            NotFound: no artifact at ``uri``.
            ResourceExhausted: ``inference_max_loaded_models`` versions or
                ``inference_max_loaded_bytes`` of graphs are loaded already.
            IntegrityError: a file does not match the manifest's sha256, or the model is
                unusable (labels vs logits width, missing tokenizer inputs, a warm-up run that
                fails or gives NaN).
        """
        check_model_name(name, self.settings)
        if not uri:
            raise InvalidInput("LoadModel needs the URI of an onnx-model artifact")
        try:
            artifact = fetch_kind(uri, self.settings, ONNX_KIND, "uri")
        except InvalidInput as exc:
            raise InvalidInput(f"{exc.message}; export a model first (TrainingService.ExportOnnx)") from exc
        with self._load_lock:  # one load at a time: versions in load order, memory bounded
            with self._lock:
                versions = self._live.get(name, {})
                newest = versions[max(versions)].model if versions else None
            if newest is not None and newest.artifact.id == artifact.ref.id:
                log.info("model '%s' version %d already serves %s", name, newest.version, uri)
                return newest
            providers = select_providers(self.settings.inference_prefer_gpu)
            choice = choose_graph(artifact, self.settings, providers[0])
            graph_bytes = sum(e.size for e in artifact.manifest.files if e.path == choice.graph)
            self._check_capacity(graph_bytes)
            classifier, choice = self._open(artifact, uri, providers, choice)
            with self._lock:
                version = self._last_version.get(name, 0) + 1
                self._last_version[name] = version
                model = LoadedModel(name, version, artifact.ref, classifier, time.time(),
                                    graph_bytes, choice)
                self._live.setdefault(name, {})[version] = LiveVersion(model, self._make_batcher(model))
        log.info("loaded model '%s' version %d from %s on %s (labels: %s; max_length %d); serving "
                 "%s: %s", name, version, uri, model.execution_provider, ", ".join(model.labels),
                 model.max_length, model.graph, choice.reason)
        return model

    def _open(self, artifact, uri: str, providers: list[str],
              choice: GraphChoice) -> tuple[OnnxClassifier, GraphChoice]:
        """Open the chosen graph; an int8 copy that cannot be opened falls back to fp32.

        Raises:
            IntegrityError, InvalidInput: the fp32 graph (or the folder) is unusable; the
                message names the artifact.
        """
        def open_graph(graph: str) -> OnnxClassifier:
            """A session on ``graph`` (fp32 or int8 file) with this service's settings."""
            return OnnxClassifier(
                artifact.path, providers=providers,
                max_batch_size=self.settings.inference_max_batch_size,
                intra_op_threads=self.settings.inference_intra_op_threads,
                settings=self.settings, graph=graph)

        try:
            if choice.graph != FP32_GRAPH:
                try:
                    return open_graph(choice.graph), choice
                except IntegrityError as exc:
                    log.warning("onnx-model %s: %s cannot be served (%s); serving fp32",
                                shown(uri, 200), choice.graph, exc.message)
                    choice = GraphChoice(FP32_GRAPH, f"the int8 copy failed to load ({exc.message})",
                                         choice.macro_f1_delta)
            return open_graph(FP32_GRAPH), choice
        except SynthclfError as exc:
            raise type(exc)(f"onnx-model {shown(uri, 200)}: {exc.message}") from exc

    def _check_capacity(self, graph_bytes: int) -> None:
        """Refuse a load beyond the loaded-models limits (caller holds the load lock).

        Raises:
            ResourceExhausted: naming the limit and its setting.
        """
        with self._lock:
            live = [v.model for versions in self._live.values() for v in versions.values()]
        check_at_most(len(live) + 1, self.settings, "inference_max_loaded_models",
                      "model versions would be loaded (unload one first)", ResourceExhausted)
        check_at_most(sum(m.graph_bytes for m in live) + graph_bytes, self.settings,
                      "inference_max_loaded_bytes",
                      "bytes of ONNX graphs would be loaded (unload a model first)", ResourceExhausted)

    def unload(self, name: str, version: int = 0) -> list[LoadedModel]:
        """Take a version (0: every version) of ``name`` out of service.

        New requests no longer find it; requests already holding it (queued or running)
        complete, then its batcher is closed.

        Returns:
            The unloaded versions.

        Raises:
            NotFound: the name or version is not loaded (the message lists what is).
        """
        with self._lock:
            versions = self._live.get(name, {})
            if not versions or (version and version not in versions):
                raise NotFound(self._missing(name, version))
            chosen = [version] if version else sorted(versions)
            gone = [versions.pop(v) for v in chosen]
            if not versions:
                del self._live[name]
            idle = []
            for live in gone:
                live.retired = True
                if live.users == 0:
                    idle.append(live)
        for live in idle:
            self._retire(live)
        log.info("unloaded model '%s' version(s) %s", name, ", ".join(map(str, chosen)))
        return [live.model for live in gone]

    def get(self, name: str, version: int = 0) -> LoadedModel:
        """The live version (0: newest) of ``name``.

        Raises:
            NotFound: not loaded; the message lists the loaded models or live versions.
        """
        with self._lock:
            return self._find(name, version).model

    def list(self) -> list[LoadedModel]:
        """Every live version, by name then version."""
        with self._lock:
            return [self._live[n][v].model for n in sorted(self._live) for v in sorted(self._live[n])]

    def serving(self, name: str) -> bool:
        """Whether ``name`` has at least one live version."""
        with self._lock:
            return bool(self._live.get(name))

    @contextmanager
    def lease(self, name: str, version: int = 0) -> Iterator[LiveVersion]:
        """Hold a live version (0: newest) for the duration of one request.

        Raises:
            NotFound: not loaded.
        """
        with self._lock:
            live = self._find(name, version)
            live.users += 1
        try:
            yield live
        finally:
            with self._lock:
                live.users -= 1
                idle = live.retired and live.users == 0
            if idle:
                self._retire(live)

    def close(self) -> None:
        """Unload everything, letting queued requests finish (server shutdown)."""
        for name in list(self._live):
            try:
                self.unload(name)
            except NotFound:
                pass

    def _retire(self, live: LiveVersion) -> None:
        """Close an unloaded version's batcher (its queue is empty: nobody holds it)."""
        live.batcher.close(wait=False)
        self._on_retire(live.model)

    def _find(self, name: str, version: int) -> LiveVersion:
        """The live entry (caller holds the lock)."""
        versions = self._live.get(name)
        if not versions or (version and version not in versions):
            raise NotFound(self._missing(name, version))
        return versions[version or max(versions)]

    def _missing(self, name: str, version: int) -> str:
        """NotFound message naming what is loaded (caller holds the lock)."""
        versions = self._live.get(name)
        if not versions:
            loaded = ", ".join(sorted(self._live)) or "none"
            return f"model '{shown(name)}' is not loaded; loaded models: {loaded}"
        return (f"model '{shown(name)}' has no live version {version}; live versions: "
                f"{', '.join(map(str, sorted(versions)))}")
