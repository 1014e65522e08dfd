"""Hosting services: one gRPC server with any subset of the four servicers.

``synthclf serve all`` hosts all four in one process (the embedded default, like Jaeger's
all-in-one); ``synthclf serve training`` hosts one. Every server has grpc.health.v1 fed by
real readiness checks, server reflection, and a graceful shutdown; optionally a bearer token
and TLS (:mod:`synthclf.core.auth`). Hosting inference adds the Open Inference Protocol
service (``inference.GRPCInferenceService``), per-model health
(``synthclf.v1.InferenceService/<model>``) and, with ``metrics_port``, Prometheus ``/metrics``.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass, field
from typing import Any

import grpc
import prometheus_client
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from synthclf.core.allocator import limit_malloc_arenas
from synthclf.core.artifacts import sweep_staging
from synthclf.core.auth import AuthInterceptor, read_token, server_credentials
from synthclf.core.cancellation import cancel_all
from synthclf.core.config import Settings
from synthclf.core.errors import InvalidInput
from synthclf.core.grpc_server import MESSAGE_SIZE_OPTIONS, ErrorInterceptor, HealthReporter
from synthclf.v1 import (
    analysis_pb2,
    analysis_pb2_grpc,
    generation_pb2,
    generation_pb2_grpc,
    inference_pb2,
    inference_pb2_grpc,
    training_pb2,
    training_pb2_grpc,
)

log = logging.getLogger("synthclf.server")
SERVICES = ("generation", "training", "inference", "analysis")
#: Seconds in-flight calls get to finish on shutdown.
GRACE_S = 10.0


def _build(name: str, settings: Settings, server: grpc.Server) -> tuple[str, Any]:
    """Create one service's core and servicer, register it; return (full name, core)."""
    core: Any
    if name == "generation":
        from synthclf.generation.service import GenerationCore
        from synthclf.generation.servicer import GenerationServicer

        core = GenerationCore(settings)
        generation_pb2_grpc.add_GenerationServiceServicer_to_server(GenerationServicer(core), server)
        return generation_pb2.DESCRIPTOR.services_by_name["GenerationService"].full_name, core
    if name == "training":
        from synthclf.training.service import TrainingCore
        from synthclf.training.servicer import TrainingServicer

        core = TrainingCore(settings)
        training_pb2_grpc.add_TrainingServiceServicer_to_server(TrainingServicer(core), server)
        return training_pb2.DESCRIPTOR.services_by_name["TrainingService"].full_name, core
    if name == "inference":
        from synthclf.inference.service import InferenceCore
        from synthclf.inference.servicer import InferenceServicer

        core = InferenceCore(settings)
        inference_pb2_grpc.add_InferenceServiceServicer_to_server(InferenceServicer(core), server)
        return inference_pb2.DESCRIPTOR.services_by_name["InferenceService"].full_name, core
    from synthclf.analysis.predictors import InProcessPredictors, ServedPredictors
    from synthclf.analysis.service import AnalysisCore
    from synthclf.analysis.servicer import AnalysisServicer

    core = AnalysisCore(settings, served=ServedPredictors(), in_process=InProcessPredictors(settings))
    analysis_pb2_grpc.add_AnalysisServiceServicer_to_server(AnalysisServicer(core), server)
    return analysis_pb2.DESCRIPTOR.services_by_name["AnalysisService"].full_name, core


INFERENCE_SERVICE = inference_pb2.DESCRIPTOR.services_by_name["InferenceService"].full_name
ANALYSIS_SERVICE = analysis_pb2.DESCRIPTOR.services_by_name["AnalysisService"].full_name


def _host_inference(core, server: grpc.Server, reporter: HealthReporter) -> str:
    """Add the OIP servicer and per-model health to a server hosting ``core`` (InferenceCore).

    Per-model status ``synthclf.v1.InferenceService/<model>`` is SERVING while the model has a
    live version and NOT_SERVING after its last version is unloaded. Returns the OIP service's
    full name (for reflection).
    """
    from synthclf.inference.oip_servicer import OipServicer
    from synthclf.oip import grpc_predict_v2_pb2, grpc_predict_v2_pb2_grpc

    grpc_predict_v2_pb2_grpc.add_GRPCInferenceServiceServicer_to_server(
        OipServicer(core, reporter.ready), server)

    def publish(model: str, serving: bool) -> None:
        """Mirror a load/unload in grpc.health.v1."""
        reporter.servicer.set(f"{INFERENCE_SERVICE}/{model}",
                              health_pb2.HealthCheckResponse.SERVING if serving
                              else health_pb2.HealthCheckResponse.NOT_SERVING)

    core.subscribe(publish)
    return grpc_predict_v2_pb2.DESCRIPTOR.services_by_name["GRPCInferenceService"].full_name


def _start_metrics(settings: Settings, port: int, host: str, registry: Any) -> tuple[Any, str]:
    """Serve ``registry`` on ``http(s)://host:port/metrics`` (``port``: the settings' metrics_port; TLS when configured).

    Returns:
        (the HTTP server, its host:port).
    """
    tls: dict[str, Any] = {"certfile": str(settings.tls_cert_file), "keyfile": str(settings.tls_key_file)} \
        if settings.tls_cert_file and settings.tls_key_file else {}
    addr = host.strip("[]")
    try:
        httpd, _ = prometheus_client.start_http_server(port, addr=addr,
                                                       registry=registry, **tls)
    except OSError as exc:
        raise InvalidInput(f"cannot serve metrics on {host}:{port}: "
                           f"{exc.strerror}") from exc
    return httpd, f"{host}:{httpd.server_port}"


@dataclass
class RunningServer:
    """A started server: its address and how to stop it.

    Attributes:
        metrics_address: host:port of Prometheus ``/metrics``, or None when off.
    """

    server: grpc.Server
    address: str
    health: HealthReporter
    metrics_address: str | None = None
    closers: list[Callable[[], None]] = field(default_factory=list)

    def stop(self, grace_s: float = GRACE_S) -> None:
        """Mark NOT_SERVING, cancel running jobs, then stop, letting in-flight calls finish for
        ``grace_s``; then stop the metrics endpoint and the cores' workers (dynamic batchers).

        Cancelled jobs (Train, Generate, analyses) stop at their next progress event and
        answer CANCELLED, so the whole stop takes well under compose's ``stop_grace_period``
        (30 s) with the default ``grace_s`` of 10 s.
        """
        self.health.stop()
        if cancelled := cancel_all("the server is shutting down"):
            log.info("shutting down: cancelled %d running job(s)", cancelled)
        self.server.stop(grace_s).wait()
        for close in self.closers:
            close()


def start_server(names: list[str], settings: Settings, host: str = "127.0.0.1", port: int = 50051,
                 max_workers: int = 16) -> RunningServer:
    """Start a gRPC server hosting ``names`` (``["all"]`` for all four).

    Args:
        names: services to host.
        settings: configuration shared by the cores; ``auth_token[_file]``, ``tls_*_file`` and
            ``metrics_port`` switch on authentication, TLS and Prometheus metrics.
        host: bind address. port: bind port; 0 picks a free one.
        max_workers: thread-pool size (streams of long jobs hold a thread each).

    Returns:
        The running server with its bound address.

    Raises:
        InvalidInput: unknown service name, production checks failed, unreadable token or
            certificate files, or a port that cannot be bound.
    """
    settings.check_production()
    wanted = list(SERVICES) if names == ["all"] else names
    unknown = [n for n in wanted if n not in SERVICES]
    if unknown:
        raise InvalidInput(f"unknown service(s) {', '.join(unknown)}; choose from all, {', '.join(SERVICES)}")
    token, credentials = read_token(settings), server_credentials(settings)
    limit_malloc_arenas(settings)
    sweep_staging(settings)
    if "inference" in wanted:  # every waiting Predict call holds a handler thread
        max_workers = max(max_workers, settings.inference_grpc_threads)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=max_workers),
                         interceptors=[*([AuthInterceptor(token)] if token else []), ErrorInterceptor()],
                         options=MESSAGE_SIZE_OPTIONS)
    cores = dict(_build(name, settings, server) for name in wanted)
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reporter = HealthReporter(health_servicer, {name: core.check for name, core in cores.items()})
    extra = [_host_inference(cores[INFERENCE_SERVICE], server, reporter)] \
        if INFERENCE_SERVICE in cores else []
    reflection.enable_server_reflection(
        [*cores, *extra, health.SERVICE_NAME, reflection.SERVICE_NAME], server)
    target = f"{host}:{port}"
    bound = server.add_secure_port(target, credentials) if credentials else server.add_insecure_port(target)
    if bound == 0:
        raise InvalidInput(f"cannot bind {host}:{port}")
    closers = [core.close for core in cores.values() if callable(getattr(core, "close", None))]
    metrics_address = None
    if settings.metrics_port is not None:
        registry = getattr(cores.get(INFERENCE_SERVICE), "registry", prometheus_client.REGISTRY)
        httpd, metrics_address = _start_metrics(settings, settings.metrics_port, host, registry)
        closers.insert(0, lambda: (httpd.shutdown(), httpd.server_close()))
    server.start()
    reporter.start()
    if INFERENCE_SERVICE in cores:  # NOT_SERVING until SYNTHCLF_INFERENCE_MODELS are loaded
        cores[INFERENCE_SERVICE].start(on_ready=reporter.refresh)
    address = f"{host}:{bound}"
    if ANALYSIS_SERVICE in cores and INFERENCE_SERVICE in cores:
        cores[ANALYSIS_SERVICE].local_inference_address = address  # Evaluate calls this server
    log.info("serving %s on %s (%s, %s; artifact store %s; metrics %s)", ", ".join(wanted), address,
             "TLS" if credentials else "plaintext", "bearer token" if token else "no authentication",
             settings.artifact_store, f"http{'s' if credentials else ''}://{metrics_address}/metrics"
             if metrics_address else "off")
    return RunningServer(server, address, reporter, metrics_address, closers)


def serve_forever(names: list[str], settings: Settings, host: str, port: int) -> None:
    """Start a server and block until SIGINT/SIGTERM, then shut down gracefully: running jobs
    are cancelled and in-flight calls get :data:`GRACE_S` seconds (:meth:`RunningServer.stop`)."""
    running = start_server(names, settings, host, port)
    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        """Log the signal and let the wait below return."""
        log.info("received %s", signal.Signals(signum).name)
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, on_signal)
    stop.wait()
    log.info("shutting down (grace %.0f s)", GRACE_S)
    running.stop()
