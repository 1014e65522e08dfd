"""Hosting services: one gRPC server with any subset of the four servicers.

``synthclf serve all`` hosts all four in one process (the embedded default, like Jaeger's
all-in-one); ``synthclf serve training`` hosts one. Every server has grpc.health.v1 fed by
real readiness checks, server reflection, and a graceful shutdown.
"""

from __future__ import annotations

import logging
import signal
import threading
from concurrent import futures
from dataclasses import dataclass

import grpc
from grpc_health.v1 import health, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from synthclf.core.config import Settings
from synthclf.core.errors import InvalidInput
from synthclf.core.grpc_server import ErrorInterceptor, HealthReporter
from synthclf.v1 import (
    analysis_pb2, analysis_pb2_grpc, generation_pb2, generation_pb2_grpc, inference_pb2,
    inference_pb2_grpc, training_pb2, training_pb2_grpc,
)

log = logging.getLogger("synthclf.server")
SERVICES = ("generation", "training", "inference", "analysis")
#: Seconds in-flight calls get to finish on shutdown.
GRACE_S = 10.0


def _build(name: str, settings: Settings, server: grpc.Server):
    """Create one service's core and servicer, register it; return (full name, check)."""
    if name == "generation":
        from synthclf.generation.service import GenerationCore
        from synthclf.generation.servicer import GenerationServicer

        core = GenerationCore(settings)
        generation_pb2_grpc.add_GenerationServiceServicer_to_server(GenerationServicer(core), server)
        return generation_pb2.DESCRIPTOR.services_by_name["GenerationService"].full_name, core.check
    if name == "training":
        from synthclf.training.service import TrainingCore
        from synthclf.training.servicer import TrainingServicer

        core = TrainingCore(settings)
        training_pb2_grpc.add_TrainingServiceServicer_to_server(TrainingServicer(core), server)
        return training_pb2.DESCRIPTOR.services_by_name["TrainingService"].full_name, core.check
    if name == "inference":
        from synthclf.inference.service import InferenceCore
        from synthclf.inference.servicer import InferenceServicer

        core = InferenceCore(settings)
        inference_pb2_grpc.add_InferenceServiceServicer_to_server(InferenceServicer(core), server)
        return inference_pb2.DESCRIPTOR.services_by_name["InferenceService"].full_name, core.check
    from synthclf.analysis.service import AnalysisCore
    from synthclf.analysis.servicer import AnalysisServicer

    core = AnalysisCore(settings)
    analysis_pb2_grpc.add_AnalysisServiceServicer_to_server(AnalysisServicer(core), server)
    return analysis_pb2.DESCRIPTOR.services_by_name["AnalysisService"].full_name, core.check


@dataclass
class RunningServer:
    """A started server: its address and how to stop it."""

    server: grpc.Server
    address: str
    health: HealthReporter

    def stop(self, grace_s: float = GRACE_S) -> None:
        """Mark NOT_SERVING, then stop, letting in-flight calls finish for ``grace_s``."""
        self.health.stop()
        self.server.stop(grace_s).wait()


def start_server(names: list[str], settings: Settings, host: str = "127.0.0.1", port: int = 50051,
                 max_workers: int = 16) -> RunningServer:
    """Start a gRPC server hosting ``names`` (``["all"]`` for all four).

    Args:
        names: services to host.
        settings: configuration shared by the cores.
        host: bind address. port: bind port; 0 picks a free one.
        max_workers: thread-pool size (streams of long jobs hold a thread each).

    Returns:
        The running server with its bound address.

    Raises:
        InvalidInput: unknown service name, or production checks failed.
    """
    settings.check_production()
    wanted = list(SERVICES) if names == ["all"] else names
    unknown = [n for n in wanted if n not in SERVICES]
    if unknown:
        raise InvalidInput(f"unknown service(s) {', '.join(unknown)}; choose from all, {', '.join(SERVICES)}")
    if "inference" in wanted:  # every waiting Predict call holds a handler thread
        max_workers = max(max_workers, settings.inference_grpc_threads)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=max_workers),
                         interceptors=[ErrorInterceptor()],
                         options=[("grpc.max_receive_message_length", 64 * 1024 * 1024),
                                  ("grpc.max_send_message_length", 64 * 1024 * 1024)])
    checks = dict(_build(name, settings, server) for name in wanted)
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        [*checks, health.SERVICE_NAME, reflection.SERVICE_NAME], server)
    bound = server.add_insecure_port(f"{host}:{port}")
    if bound == 0:
        raise InvalidInput(f"cannot bind {host}:{port}")
    server.start()
    reporter = HealthReporter(health_servicer, checks)
    reporter.start()
    address = f"{host}:{bound}"
    log.info("serving %s on %s (artifact store %s)", ", ".join(wanted), address, settings.artifact_store)
    return RunningServer(server, address, reporter)


def serve_forever(names: list[str], settings: Settings, host: str, port: int) -> None:
    """Start a server and block until SIGINT/SIGTERM, then shut down gracefully."""
    running = start_server(names, settings, host, port)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    log.info("shutting down (grace %.0f s)", GRACE_S)
    running.stop()
