"""Prometheus collectors of the inference service, in a registry of their own.

Each :class:`~synthclf.inference.service.InferenceCore` owns one :class:`InferenceMetrics`
(a private ``CollectorRegistry``, not prometheus_client's global ``REGISTRY``), so several
cores in one process (tests, the all-in-one server) never collide; the server exposes the
core's registry on its HTTP ``/metrics`` endpoint.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

#: Request latency buckets, seconds (1 ms … 10 s).
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5,
                   1.0, 2.5, 5.0, 10.0)
#: Batch-size buckets, texts per ONNX Runtime run.
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


class InferenceMetrics:
    """The inference collectors (names carry the ``synthclf_inference_`` prefix).

    Attributes:
        registry: the registry holding every collector below.
        requests: counter ``synthclf_inference_requests_total{model, code}``: Predict calls by
            model name and gRPC status code name (``OK``, ``INVALID_ARGUMENT``, …).
        latency: histogram ``synthclf_inference_request_latency_seconds{model}``: Predict
            wall time in the core, seconds (queueing + batching + run).
        texts: counter ``synthclf_inference_texts_total{model}``: texts classified.
        batch_size: histogram ``synthclf_inference_batch_size{model, version}``: texts per
            ONNX Runtime run.
        queue_depth: gauge ``synthclf_inference_queue_depth{model, version}``: texts waiting
            in the dynamic batcher's queue.
    """

    def __init__(self, registry: CollectorRegistry | None = None):
        self.registry = registry or CollectorRegistry()
        self.requests = Counter(
            "synthclf_inference_requests", "Predict requests by model and gRPC status code.",
            ["model", "code"], registry=self.registry)
        self.latency = Histogram(
            "synthclf_inference_request_latency_seconds",
            "Predict latency in the inference core (queue + batch + run), seconds.",
            ["model"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.texts = Counter(
            "synthclf_inference_texts", "Texts classified.", ["model"], registry=self.registry)
        self.batch_size = Histogram(
            "synthclf_inference_batch_size", "Texts per ONNX Runtime run of the dynamic batcher.",
            ["model", "version"], buckets=BATCH_BUCKETS, registry=self.registry)
        self.queue_depth = Gauge(
            "synthclf_inference_queue_depth", "Texts waiting in the dynamic batcher's queue.",
            ["model", "version"], registry=self.registry)

    def for_version(self, model: str, version: int) -> tuple[Histogram, Gauge]:
        """The (batch-size histogram, queue-depth gauge) children of one model version."""
        labels = {"model": model, "version": str(version)}
        return self.batch_size.labels(**labels), self.queue_depth.labels(**labels)

    def forget_version(self, model: str, version: int) -> None:
        """Drop an unloaded version's per-version series (so /metrics does not grow forever)."""
        for collector in (self.batch_size, self.queue_depth):
            try:
                collector.remove(model, str(version))
            except KeyError:
                pass
