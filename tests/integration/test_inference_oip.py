"""The inference server's standard surfaces over real gRPC on loopback.

Open Inference Protocol (KServe v2) with a plain ``inference.ModelInferRequest`` and with the
unmodified Triton client (in its own process); per-model grpc.health.v1; reflection; the
Prometheus endpoint.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

import grpc
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)
from prometheus_client.parser import text_string_to_metric_families

from synthclf.clients import InferenceClient
from synthclf.core.config import Settings
from synthclf.core.onnx_runtime import OnnxClassifier
from synthclf.inference.oip_codec import serialize_bytes
from synthclf.oip import grpc_predict_v2_pb2 as oip
from synthclf.oip import grpc_predict_v2_pb2_grpc
from synthclf.server import start_server

TEXTS = ["WINNER!! claim your £1000 prize now, text WIN to 80082",
         "are we still on for lunch tomorrow?", "ok", "Call 09061 to get your free ringtone 2day"]
Request = oip.ModelInferRequest


@pytest.fixture(scope="module")
def service(tmp_path_factory, publish_onnx_model):
    """(server hosting inference with metrics on a free port, its settings); model 'sms'
    loaded from two artifacts (versions 1 and 2)."""
    root = tmp_path_factory.mktemp("oip")
    settings = Settings(artifact_store=str(root / "artifacts"), cache_dir=root / "cache",
                        metrics_port=0)
    running = start_server(["inference"], settings, port=0)
    with InferenceClient(running.address) as client:
        client.load_model("sms", publish_onnx_model(settings, "v1"))
        client.load_model("sms", publish_onnx_model(settings, "v2"))
    yield running, settings
    running.stop(grace_s=1)


@pytest.fixture(scope="module")
def stub(service):
    with grpc.insecure_channel(service[0].address) as channel:
        yield grpc_predict_v2_pb2_grpc.GRPCInferenceServiceStub(channel)


@pytest.fixture(scope="module")
def expected(onnx_model_folder):
    """Probabilities of the same texts from ONNX Runtime in this process, one text at a time."""
    classifier = OnnxClassifier(onnx_model_folder)
    return np.concatenate([classifier.predict_batch([text]) for text in TEXTS])


def text_input(texts=TEXTS, shape=None):
    return Request.InferInputTensor(name="text", datatype="BYTES", shape=shape or [len(texts)],
                                    contents=oip.InferTensorContents(bytes_contents=[t.encode() for t in texts]))


def test_server_live_ready_and_metadata(stub):
    assert stub.ServerLive(oip.ServerLiveRequest(), timeout=5).live
    assert stub.ServerReady(oip.ServerReadyRequest(), timeout=5).ready
    metadata = stub.ServerMetadata(oip.ServerMetadataRequest(), timeout=5)
    assert metadata.name == "synthclf" and metadata.version


def test_model_ready_by_name_and_version(stub):
    def ready(name, version=""):
        return stub.ModelReady(oip.ModelReadyRequest(name=name, version=version), timeout=5).ready

    assert ready("sms") and ready("sms", "1") and ready("sms", "2")
    assert not ready("sms", "3") and not ready("nope")


def test_model_metadata_describes_tensors_and_versions(stub):
    metadata = stub.ModelMetadata(oip.ModelMetadataRequest(name="sms"), timeout=5)
    assert list(metadata.versions) == ["1", "2"] and metadata.platform == "onnxruntime_onnx"
    assert [(t.name, t.datatype, list(t.shape)) for t in metadata.inputs] == [("text", "BYTES", [-1])]
    assert [(t.name, t.datatype, list(t.shape)) for t in metadata.outputs] == [
        ("probabilities", "FP32", [-1, 2]), ("label", "BYTES", [-1])]


def test_model_infer_with_bytes_contents_matches_onnx_runtime(stub, expected, service):
    response = stub.ModelInfer(Request(model_name="sms", id="r1", inputs=[text_input()]), timeout=30)
    assert (response.model_name, response.model_version, response.id) == ("sms", "2", "r1")
    probabilities, label = response.outputs
    assert list(probabilities.shape) == [4, 2] and list(label.shape) == [4]
    got = np.array(probabilities.contents.fp32_contents).reshape(4, 2)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert [b.decode() for b in label.contents.bytes_contents] == [
        ["ham", "spam"][i] for i in expected.argmax(1)]
    with InferenceClient(service[0].address) as client:  # the synthclf.v1 API agrees
        v1 = client.predict("sms", TEXTS)
    np.testing.assert_allclose([p.probabilities for p in v1.predictions], got, atol=1e-6)


def test_model_infer_raw_input_gets_raw_output_of_requested_version(stub, expected):
    request = Request(model_name="sms", model_version="1",
                      inputs=[Request.InferInputTensor(name="text", datatype="BYTES", shape=[4, 1])],
                      outputs=[Request.InferRequestedOutputTensor(name="label")],
                      raw_input_contents=[serialize_bytes(t.encode() for t in TEXTS)])
    response = stub.ModelInfer(request, timeout=30)
    assert response.model_version == "1" and [o.name for o in response.outputs] == ["label"]
    assert list(response.outputs[0].shape) == [4, 1] and len(response.raw_output_contents) == 1


def test_model_infer_without_client_deadline(stub):
    # gRPC reports "no deadline" as ~9.2e18 s remaining; it must not reach a threading wait.
    response = stub.ModelInfer(Request(model_name="sms", inputs=[text_input()]))
    assert [o.name for o in response.outputs] == ["probabilities", "label"]


@pytest.mark.parametrize("request_, code, match", [
    (Request(model_name="nope", inputs=[text_input()]), grpc.StatusCode.NOT_FOUND, "'nope' is not loaded"),
    (Request(model_name="sms", model_version="7", inputs=[text_input()]), grpc.StatusCode.NOT_FOUND, "7"),
    (Request(model_name="sms", inputs=[text_input(shape=[3])]), grpc.StatusCode.INVALID_ARGUMENT,
     r"shape \[3\] but 4 elements"),
    (Request(model_name="sms", inputs=[text_input([])]), grpc.StatusCode.INVALID_ARGUMENT, "no texts"),
])
def test_model_infer_errors_map_to_status_codes(stub, request_, code, match):
    with pytest.raises(grpc.RpcError) as failed:
        stub.ModelInfer(request_, timeout=30)
    assert failed.value.code() == code
    assert re.search(match, failed.value.details())


def test_model_metadata_of_unknown_model_is_not_found(stub):
    with pytest.raises(grpc.RpcError) as failed:
        stub.ModelMetadata(oip.ModelMetadataRequest(name="nope"), timeout=5)
    assert failed.value.code() == grpc.StatusCode.NOT_FOUND


def test_unmodified_triton_client(service, expected):
    script = Path(__file__).with_name("triton_client_call.py")
    done = subprocess.run([sys.executable, str(script), service[0].address, "sms", json.dumps(TEXTS)],
                          capture_output=True, text=True, timeout=120, check=True)
    result = json.loads(done.stdout)
    assert result["live"] and result["ready"] and result["model_ready"]
    assert result["server"]["name"] == "synthclf"
    assert result["metadata"]["inputs"] == [{"name": "text", "datatype": "BYTES", "shape": ["-1"]}]
    assert (result["id"], result["model_version"], result["raw_outputs"]) == ("triton-1", "2", 2)
    np.testing.assert_allclose(result["probabilities"], expected, atol=1e-5)
    assert result["labels"] == [["ham", "spam"][i] for i in expected.argmax(1)]
    assert result["unknown_model_status"] == "StatusCode.NOT_FOUND"


def test_per_model_health_follows_load_and_unload(service, publish_onnx_model):
    running, settings = service
    with grpc.insecure_channel(running.address) as channel, InferenceClient(running.address) as client:
        health = health_pb2_grpc.HealthStub(channel)

        def status(model):
            return health.Check(health_pb2.HealthCheckRequest(
                service=f"synthclf.v1.InferenceService/{model}"), timeout=5).status

        assert status("sms") == health_pb2.HealthCheckResponse.SERVING
        client.load_model("temp", publish_onnx_model(settings))
        assert status("temp") == health_pb2.HealthCheckResponse.SERVING
        client.unload_model("temp")
        assert status("temp") == health_pb2.HealthCheckResponse.NOT_SERVING
        with pytest.raises(grpc.RpcError) as unknown:
            status("never-loaded")
        assert unknown.value.code() == grpc.StatusCode.NOT_FOUND


def test_reflection_lists_both_inference_apis(service):
    with grpc.insecure_channel(service[0].address) as channel:
        services = ProtoReflectionDescriptorDatabase(channel).get_services()
    assert {"inference.GRPCInferenceService", "synthclf.v1.InferenceService",
            "grpc.health.v1.Health"} <= set(services)


def test_metrics_endpoint_counts_requests_and_batches(service):
    running = service[0]
    with InferenceClient(running.address) as client:
        for _ in range(3):
            client.predict("sms", TEXTS)
    with urllib.request.urlopen(f"http://{running.metrics_address}/metrics", timeout=10) as page:
        samples = [s for family in text_string_to_metric_families(page.read().decode())
                   for s in family.samples]

    def value(name, **labels):
        return sum(s.value for s in samples
                   if s.name == name and labels.items() <= s.labels.items())

    assert value("synthclf_inference_requests_total", model="sms", code="OK") >= 3
    assert value("synthclf_inference_batch_size_count", model="sms", version="2") >= 3
    assert value("synthclf_inference_batch_size_sum", model="sms", version="2") >= 12
    assert value("synthclf_inference_request_latency_seconds_count", model="sms") >= 3
