"""synthclf.v1.InferenceService over real gRPC on loopback.

Predict matches ONNX Runtime in this process; limits, unknown models, a corrupt artifact, a
full queue and a passed deadline give their status codes; versions load and unload while
eight callers keep predicting, and every one of their requests is answered by the version it
names, with that version's probabilities.
"""

from __future__ import annotations

import re
import shutil
import threading
import time
import urllib.request

import grpc
import numpy as np
import onnx
import pytest
from onnx import numpy_helper
from prometheus_client.parser import text_string_to_metric_families

from synthclf import cli
from synthclf.clients import InferenceClient
from synthclf.core.config import Settings
from synthclf.core.onnx_runtime import OnnxClassifier
from synthclf.server import start_server
from synthclf.v1 import inference_pb2 as pb
from synthclf.v1 import inference_pb2_grpc

TEXTS = ["WINNER!! claim your £1000 prize now, text WIN to 80082", "ok",
         "are we still on for lunch tomorrow? I can pick you up from the station at noon",
         "Call 09061 to get your free ringtone 2day", "hi", "Sorry, I'll call later",
         "URGENT! You have won a 1 week FREE membership in our £100,000 Prize Jackpot!",
         "Did you catch the bus? Are you frying an egg? Did you make a tea?"]


@pytest.fixture(scope="module")
def variant_folder(onnx_model_folder, tmp_path_factory):
    """The fixture classifier with its head negated: same labels, different probabilities."""
    folder = tmp_path_factory.mktemp("variant") / "model"
    shutil.copytree(onnx_model_folder, folder)
    graph = onnx.load(str(folder / "model.onnx"))
    for tensor in graph.graph.initializer:
        if tensor.name.endswith("classifier.weight"):
            tensor.CopyFrom(numpy_helper.from_array(-numpy_helper.to_array(tensor), tensor.name))
    onnx.save(graph, str(folder / "model.onnx"))
    return folder


@pytest.fixture(scope="module")
def expected(onnx_model_folder, variant_folder):
    """In-process probabilities of TEXTS: (original, variant)."""
    return tuple(OnnxClassifier(f).predict_batch(TEXTS) for f in (onnx_model_folder, variant_folder))


@pytest.fixture(scope="module")
def service(tmp_path_factory, publish_onnx_model):
    """(server hosting inference, its settings, URI of the fixture artifact)."""
    root = tmp_path_factory.mktemp("inference")
    settings = Settings(artifact_store=str(root / "artifacts"), cache_dir=root / "cache",
                        inference_max_texts_per_request=16, inference_max_chars_per_text=500)
    running = start_server(["inference"], settings, port=0)
    uri = publish_onnx_model(settings, "original")
    yield running, settings, uri
    running.stop(grace_s=1)


@pytest.fixture(scope="module")
def client(service):
    with InferenceClient(service[0].address) as client:
        client.load_model("sms", service[2])
        yield client


def code_of(call) -> grpc.StatusCode:
    """Status code of a raw stub call that is expected to fail."""
    with pytest.raises(grpc.RpcError) as info:
        call()
    return info.value.code()


def test_predict_matches_in_process_onnx_runtime(client, expected):
    response = client.predict("sms", TEXTS)
    probabilities = np.array([list(p.probabilities) for p in response.predictions])
    np.testing.assert_allclose(probabilities, expected[0], atol=1e-5)
    assert list(response.labels) == ["ham", "spam"] and response.model_version == 1
    assert [p.label for p in response.predictions] == [["ham", "spam"][i] for i in expected[0].argmax(1)]


def test_metadata_names_provider_max_length_artifact_and_load_time(client, service):
    info = client.model_metadata("sms")
    assert (info.name, info.version, list(info.labels)) == ("sms", 1, ["ham", "spam"])
    assert info.execution_provider == "CPUExecutionProvider" and info.max_length == 64
    assert info.artifact.uri == service[2] and info.artifact.kind == "onnx-model"
    assert 0 < time.time() - info.loaded_at < 600
    assert [(m.name, m.version) for m in client.list_models()] == [("sms", 1)]


@pytest.mark.parametrize("texts, message", [
    ([], "no texts"),
    (["hi"] * 17, "17 texts in one request; the limit is 16 .*MAX_TEXTS_PER_REQUEST"),
    (["ok", "x" * 501], "text 1 has 501 characters; the limit is 500 .*MAX_CHARS_PER_TEXT"),
])
def test_limits_are_invalid_argument(client, service, texts, message):
    stub = inference_pb2_grpc.InferenceServiceStub(client.channel)
    with pytest.raises(grpc.RpcError) as info:
        stub.Predict(pb.PredictRequest(model_name="sms", texts=texts), timeout=10)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert re.search(message, info.value.details())


def test_unknown_model_or_version_is_not_found(client):
    stub = inference_pb2_grpc.InferenceServiceStub(client.channel)
    assert code_of(lambda: stub.Predict(pb.PredictRequest(model_name="nope", texts=["hi"]), timeout=10)) \
        == grpc.StatusCode.NOT_FOUND
    assert code_of(lambda: stub.Predict(pb.PredictRequest(model_name="sms", texts=["hi"], model_version=9),
                                        timeout=10)) == grpc.StatusCode.NOT_FOUND
    assert code_of(lambda: stub.GetModelMetadata(pb.GetModelMetadataRequest(model_name="nope"), timeout=10)) \
        == grpc.StatusCode.NOT_FOUND
    assert code_of(lambda: stub.UnloadModel(pb.UnloadModelRequest(model_name="sms", model_version=9), timeout=10)) \
        == grpc.StatusCode.NOT_FOUND


def test_corrupt_artifact_is_data_loss_and_the_live_version_keeps_serving(client, service, onnx_model_folder):
    settings = service[1]
    from synthclf.core.artifacts import publish
    from synthclf.core.store import open_store

    uri = publish(open_store(settings.artifact_store, settings), onnx_model_folder, kind="onnx-model",
                  artifact_id="corrupt", service="tests").uri
    model_file = f"{settings.artifact_store}/onnx-model/corrupt/model.onnx"
    with open(model_file, "r+b") as handle:
        handle.seek(1000)
        byte = handle.read(1)
        handle.seek(1000)
        handle.write(bytes([byte[0] ^ 0xFF]))
    stub = inference_pb2_grpc.InferenceServiceStub(client.channel)
    with pytest.raises(grpc.RpcError) as info:
        stub.LoadModel(pb.LoadModelRequest(model_name="sms", model_uri=uri), timeout=60)
    assert info.value.code() == grpc.StatusCode.DATA_LOSS and "sha256" in info.value.details()
    assert [m.version for m in client.list_models()] == [1]
    assert client.predict("sms", ["hi"]).model_version == 1


def test_cli_predict_and_models(client, service, capsys):
    address = service[0].address
    assert cli.main(["predict", "--model", "sms", "--address", address, "--json", "ok", "hi"]) == 0
    out = capsys.readouterr().out
    assert '"version": 1' in out and '"label"' in out and '"ham"' in out
    assert cli.main(["models", "list", "--address", address]) == 0
    assert "live sms v1  CPUExecutionProvider  max_length 64  labels ham, spam" in capsys.readouterr().out
    assert cli.main(["predict", "--model", "nope", "--address", address, "hi"]) == 2
    assert "NotFound: model 'nope' is not loaded" in capsys.readouterr().err


def test_hot_reload_under_load_answers_every_request_with_its_version(client, service, variant_folder,
                                                                      publish_onnx_model, expected):
    from synthclf.core.artifacts import publish
    from synthclf.core.store import open_store

    settings = service[1]
    variant_uri = publish(open_store(settings.artifact_store, settings), variant_folder,
                          kind="onnx-model", artifact_id="variant", service="tests").uri
    per_version = {1: expected[0], 2: expected[1], 3: expected[0]}
    answers, failures, stop = [], [], threading.Event()

    def hammer(seed: int) -> None:
        """Predict one random text at a time until told to stop."""
        rng = np.random.default_rng(seed)
        with InferenceClient(service[0].address) as own:
            while not stop.is_set():
                i = int(rng.integers(len(TEXTS)))
                try:
                    response = own.predict("sms", [TEXTS[i]], timeout_s=30)
                    answers.append((i, response.model_version, list(response.predictions[0].probabilities)))
                except Exception as exc:  # noqa: BLE001 - every failure is reported below
                    failures.append(repr(exc))

    threads = [threading.Thread(target=hammer, args=(seed,)) for seed in range(8)]
    for t in threads:
        t.start()
    try:
        time.sleep(0.3)
        assert client.load_model("sms", variant_uri).version == 2
        time.sleep(0.3)
        assert [m.version for m in client.unload_model("sms", model_version=1)] == [1]
        time.sleep(0.3)
        assert client.load_model("sms", service[2]).version == 3
        time.sleep(0.3)
        assert [m.version for m in client.unload_model("sms", model_version=2)] == [2]
        time.sleep(0.3)
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert failures == []
    assert {version for _, version, _ in answers} == {1, 2, 3} and len(answers) > 40
    for i, version, probabilities in answers:
        np.testing.assert_allclose(probabilities, per_version[version][i], atol=1e-5)
    assert [m.version for m in client.list_models()] == [3]


@pytest.fixture
def gated(monkeypatch, tmp_path, publish_onnx_model):
    """A server (queue of 8 texts, metrics on) whose model runs wait at a gate once armed."""
    gate, entered, armed = threading.Event(), threading.Event(), threading.Event()
    run = OnnxClassifier.run

    def held_run(self, rows):
        """The real run; waits at the gate once the test arms it."""
        if armed.is_set():
            entered.set()
            assert gate.wait(20)
        return run(self, rows)

    monkeypatch.setattr(OnnxClassifier, "run", held_run)
    settings = Settings(artifact_store=str(tmp_path / "artifacts"), cache_dir=tmp_path / "cache",
                        inference_max_queue_size=8, inference_max_texts_per_request=8, metrics_port=0,
                        inference_model_instances=1)
    running = start_server(["inference"], settings, port=0)
    with InferenceClient(running.address) as client:
        client.load_model("sms", publish_onnx_model(settings, "gated"))
        armed.set()
        yield running, client, gate, entered
    gate.set()
    running.stop(grace_s=1)


def in_thread(fn) -> tuple[threading.Thread, list]:
    """Run ``fn`` in a thread; its result or exception lands in the returned list."""
    out: list = []

    def body():
        """Keep the outcome."""
        try:
            out.append(fn())
        except grpc.RpcError as exc:
            out.append(exc.code())

    thread = threading.Thread(target=body)
    thread.start()
    return thread, out


def test_full_queue_is_resource_exhausted_and_a_passed_deadline_is_dropped(gated):
    running, client, gate, entered = gated
    stub = inference_pb2_grpc.InferenceServiceStub(client.channel)

    def predict(n: int, timeout: float = 30):
        """Raw Predict of n texts; returns the number of predictions."""
        return len(stub.Predict(pb.PredictRequest(model_name="sms", texts=["hi"] * n), timeout=timeout).predictions)

    first = in_thread(lambda: predict(1))
    assert entered.wait(10)  # the worker is running it; the queue is empty
    assert code_of(lambda: predict(1, timeout=0.3)) == grpc.StatusCode.DEADLINE_EXCEEDED
    second, third = in_thread(lambda: predict(8)), in_thread(lambda: predict(8))
    deadline = time.monotonic() + 10
    while not (second[1] or third[1]) and time.monotonic() < deadline:
        time.sleep(0.01)
    gate.set()
    for thread, _ in (first, second, third):
        thread.join(20)
    assert first[1] == [1]
    assert sorted([second[1][0], third[1][0]], key=str) == [8, grpc.StatusCode.RESOURCE_EXHAUSTED]
    with urllib.request.urlopen(f"http://{running.metrics_address}/metrics", timeout=10) as page:
        samples = {(s.name, s.labels.get("code")): s.value
                   for family in text_string_to_metric_families(page.read().decode())
                   for s in family.samples if s.name == "synthclf_inference_requests_total"}
    assert samples[("synthclf_inference_requests_total", "DEADLINE_EXCEEDED")] == 1
    assert samples[("synthclf_inference_requests_total", "RESOURCE_EXHAUSTED")] == 1
    assert samples[("synthclf_inference_requests_total", "OK")] == 2
