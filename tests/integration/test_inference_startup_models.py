"""An inference server started with SYNTHCLF_INFERENCE_MODELS, over real gRPC on loopback.

It answers health checks at once but reports NOT_SERVING until its start-up model is loaded —
here the artifact is published only after the server started, so the server retries — then
SERVING, with the model listed, ready for the Open Inference Protocol and predicting. Two such
replicas serve the same model with the same probabilities (what `docker compose up --scale
inference=2` relies on; the compose test checks it in containers).
"""

from __future__ import annotations

import time

import grpc
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from synthclf.clients import InferenceClient
from synthclf.core.config import Settings
from synthclf.core.store import open_store
from synthclf.inference import startup
from synthclf.server import start_server

MODEL_SERVICE = "synthclf.v1.InferenceService/sms"
TEXTS = ["WINNER!! claim your prize now, text WIN to 80082", "see you at lunch", "hi"]


def health_status(address: str, service: str = "") -> str:
    with grpc.insecure_channel(address) as channel:
        status = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=service), timeout=5).status
    return health_pb2.HealthCheckResponse.ServingStatus.Name(status)


def wait_status(address: str, wanted: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while (status := health_status(address)) != wanted:
        assert time.monotonic() < deadline, f"still {status} after {timeout_s:.0f} s"
        time.sleep(0.1)


def test_replicas_report_not_serving_until_their_models_load(tmp_path, publish_onnx_model,
                                                             monkeypatch):
    monkeypatch.setattr(startup, "FIRST_RETRY_S", 0.2)
    store = str(tmp_path / "artifacts")
    settings = Settings(artifact_store=store, cache_dir=tmp_path / "cache")
    # The URI the artifact will have: published only after both replicas started.
    uri = open_store(store, settings).uri("onnx-model/startup")
    replicas = [start_server(["inference"], Settings(
        artifact_store=store, cache_dir=tmp_path / f"cache-{i}", inference_models=f"sms={uri}"),
        port=0) for i in range(2)]
    try:
        for replica in replicas:
            assert health_status(replica.address) == "NOT_SERVING"
            assert health_status(replica.address, "synthclf.v1.InferenceService") == "NOT_SERVING"
        assert publish_onnx_model(settings, "startup") == uri
        probabilities = []
        for replica in replicas:
            wait_status(replica.address, "SERVING")
            assert health_status(replica.address, MODEL_SERVICE) == "SERVING"
            with InferenceClient(replica.address) as client:
                assert [(m.name, m.version) for m in client.list_models()] == [("sms", 1)]
                response = client.predict("sms", TEXTS)
            probabilities.append(np.array([p.probabilities for p in response.predictions]))
        np.testing.assert_allclose(probabilities[0], probabilities[1], atol=1e-6)
    finally:
        for replica in replicas:
            replica.stop(grace_s=1)


def test_a_malformed_setting_stops_the_server_from_starting(tmp_path):
    settings = Settings(artifact_store=str(tmp_path), inference_models="sms=s3://b/x,sms=s3://b/y")
    with pytest.raises(Exception, match="names model 'sms' twice"):
        start_server(["inference"], settings, port=0)
