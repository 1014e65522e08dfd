"""Regression tests of issue 11 (security and robustness) through the real gRPC services.

One all-in-one server on loopback with small limits; each test names the finding it covers:
4 (limits), 5 (no caller-chosen outbound address), 6 (no credential in logs or answers),
7 (clear codes instead of INTERNAL, UNIMPLEMENTED where promised, no server paths in
messages), 8 (bad input refused), and cancellation (deadline, client cancel, SIGTERM).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import pandas as pd
import pytest
from fault_server import FaultServer
from google.protobuf.message import Message
from grpc_health.v1 import health_pb2, health_pb2_grpc

from synthclf.core.artifacts import publish
from synthclf.core.cancellation import active_jobs
from synthclf.core.config import Settings
from synthclf.core.schema import to_jsonl
from synthclf.core.store import open_store
from synthclf.oip import grpc_predict_v2_pb2 as oip
from synthclf.oip import grpc_predict_v2_pb2_grpc as oip_grpc
from synthclf.server import start_server
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

TOKEN = "a-test-token-that-is-long-enough-for-production"
LIMITS = {"max_request_uris": 8, "max_train_rows": 50, "max_bootstrap": 1000, "max_gammas": 5,
          "inference_max_loaded_models": 2, "max_analysis_texts": 1000}
TEXTS = ["win a free prize now", "see you at lunch", "claim your cash reward", "ok thanks",
         "urgent: call now to win", "running late, sorry", "free entry, text WIN", "home soon"]
Code = grpc.StatusCode


def _publish_rows(settings: Settings, folder: Path, artifact_id: str, rows: list[dict] | str) -> str:
    """Publish a dataset whose data.jsonl holds ``rows`` (dicts) or the raw text given."""
    folder.mkdir(parents=True, exist_ok=True)
    data = folder / "data.jsonl"
    if isinstance(rows, str):
        data.write_text(rows)
    else:
        data.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return publish(open_store(settings.artifact_store, settings), folder, kind="dataset",
                   artifact_id=artifact_id, service="tests", stats={"source": "real", "task": "sms_spam"}).uri


@pytest.fixture(scope="module")
def env(tmp_path_factory, publish_onnx_model):
    """The server (bearer token on), a loaded model, a good dataset and the settings."""
    root = tmp_path_factory.mktemp("security")
    patch = pytest.MonkeyPatch()
    patch.setenv("SYNTHCLF_AUTH_TOKEN", TOKEN)  # clients (and Evaluate's own client) send it
    settings = Settings(artifact_store=str(root / "artifacts"), cache_dir=root / "cache",
                        llm_base_url="http://127.0.0.1:9/v1", llm_timeout_s=1.0, **LIMITS)
    onnx_uri = publish_onnx_model(settings)
    frame = pd.DataFrame({"text": TEXTS, "label": ["spam", "ham"] * 4, "split": "test"})
    (root / "good").mkdir()
    to_jsonl(frame, root / "good" / "data.jsonl")
    dataset = publish(open_store(settings.artifact_store, settings), root / "good", kind="dataset",
                      artifact_id="good", service="tests", stats={"rows": 8, "source": "real"}).uri
    running = start_server(["all"], settings, port=0)
    channel = grpc.intercept_channel(grpc.insecure_channel(running.address), _Auth())
    inference_pb2_grpc.InferenceServiceStub(channel).LoadModel(
        inference_pb2.LoadModelRequest(model_name="sms", model_uri=onnx_uri), timeout=120)
    yield {"settings": settings, "root": root, "address": running.address, "channel": channel,
           "onnx": onnx_uri, "dataset": dataset, "running": running}
    channel.close()
    running.stop(grace_s=1)
    patch.undo()


class _Auth(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor):
    """Adds the bearer token (the test's own, minimal client interceptor)."""

    def _with(self, details):
        from synthclf.core.auth import _CallDetails

        return _CallDetails(details.method, details.timeout, [("authorization", f"Bearer {TOKEN}")],
                            details.credentials, details.wait_for_ready, None)

    def intercept_unary_unary(self, continuation, details, request):
        return continuation(self._with(details), request)

    def intercept_unary_stream(self, continuation, details, request):
        return continuation(self._with(details), request)


def refused(call, request, code: Code, *, timeout: float = 60) -> str:
    """Make the call (draining a stream); assert it fails with ``code``; return the details."""
    with pytest.raises(grpc.RpcError) as caught:
        result = call(request, timeout=timeout)
        if not isinstance(result, (Message, bytes)):  # a stream: drain it
            for _ in result:
                pass
    assert caught.value.code() == code, caught.value.details()
    return caught.value.details()


def stubs(env):
    channel = env["channel"]
    return (generation_pb2_grpc.GenerationServiceStub(channel), training_pb2_grpc.TrainingServiceStub(channel),
            inference_pb2_grpc.InferenceServiceStub(channel), analysis_pb2_grpc.AnalysisServiceStub(channel))


# --- Finding 4: one request cannot take the machine --------------------------------------------

def test_train_naming_one_dataset_10000_times_is_refused_at_once(env):
    _, training, _, _ = stubs(env)
    request = training_pb2.TrainRequest(task="sms_spam", data=[training_pb2.TrainingData(dataset_uri=env["dataset"])] * 10_000)
    started = time.monotonic()
    details = refused(training.Train, request, Code.INVALID_ARGUMENT)
    assert "10000 training datasets" in details and "SYNTHCLF_MAX_REQUEST_URIS" in details
    assert time.monotonic() - started < 20


def test_train_rows_over_the_limit_are_refused_before_training(env):
    _, training, _, _ = stubs(env)
    request = training_pb2.TrainRequest(task="sms_spam", data=[training_pb2.TrainingData(dataset_uri=env["dataset"])] * 7)
    details = refused(training.Train, request, Code.INVALID_ARGUMENT)
    assert "56 rows would be drawn" in details and "SYNTHCLF_MAX_TRAIN_ROWS" in details


def test_n_bootstrap_2_31_is_refused(env):
    *_, analysis = stubs(env)
    request = analysis_pb2.EvaluateRequest(dataset_uri=env["dataset"], model_uri=env["onnx"], in_process=True,
                                           n_bootstrap=2**31 - 1)
    assert "SYNTHCLF_MAX_BOOTSTRAP" in refused(analysis.Evaluate, request, Code.INVALID_ARGUMENT)


@pytest.mark.parametrize(("field", "value", "setting"), [
    ("batch_size", 1_000_000, "SYNTHCLF_INFERENCE_MAX_TEXTS_PER_REQUEST"),
])
def test_evaluate_batch_size_is_bounded(env, field, value, setting):
    *_, analysis = stubs(env)
    request = analysis_pb2.EvaluateRequest(dataset_uri=env["dataset"], model_uri=env["onnx"], in_process=True,
                                           **{field: value})
    assert setting in refused(analysis.Evaluate, request, Code.INVALID_ARGUMENT)


def test_too_many_gammas_and_texts_are_refused(env):
    *_, analysis = stubs(env)
    request = analysis_pb2.InstanceSubjectivityRequest(evaluation_uri="x", gammas=[0.1 * i for i in range(6)])
    assert "SYNTHCLF_MAX_GAMMAS" in refused(analysis.InstanceSubjectivity, request, Code.INVALID_ARGUMENT)
    request = analysis_pb2.DiversityRequest(dataset_uri=env["dataset"], max_texts=10**9)
    assert "SYNTHCLF_MAX_ANALYSIS_TEXTS" in refused(analysis.Diversity, request, Code.INVALID_ARGUMENT)


def test_generate_rows_per_label_is_bounded(env):
    generation, *_ = stubs(env)
    request = generation_pb2.GenerateRequest(task="sms_spam", rows_per_label=2**31 - 1,
                                             mode=generation_pb2.GENERATION_MODE_ZERO_SHOT)
    assert "SYNTHCLF_MAX_ROWS_PER_LABEL" in refused(generation.Generate, request, Code.INVALID_ARGUMENT)


@pytest.mark.parametrize(("name", "problem"), [
    ("x" * 12_000_000, "SYNTHCLF_MAX_MODEL_NAME_CHARS"), ("a\x00b", "characters outside"),
    ("\u202eevil", "characters outside"), ("", "empty"), ("../up", "characters outside"),
])
def test_model_names_are_bounded_and_plain(env, name, problem):
    _, _, inference, _ = stubs(env)
    details = refused(inference.LoadModel, inference_pb2.LoadModelRequest(model_name=name, model_uri=env["onnx"]),
                      Code.INVALID_ARGUMENT)
    assert problem in details and len(details) < 500
    listed = inference.ListModels(inference_pb2.ListModelsRequest(), timeout=10)
    assert [m.name for m in listed.models] == ["sms"]


def test_loaded_models_are_bounded(env):
    _, _, inference, _ = stubs(env)
    inference.LoadModel(inference_pb2.LoadModelRequest(model_name="second", model_uri=env["onnx"]), timeout=120)
    try:
        details = refused(inference.LoadModel, inference_pb2.LoadModelRequest(model_name="third", model_uri=env["onnx"]),
                          Code.RESOURCE_EXHAUSTED, timeout=120)
        assert "SYNTHCLF_INFERENCE_MAX_LOADED_MODELS" in details and "the limit is 2" in details
    finally:
        inference.UnloadModel(inference_pb2.UnloadModelRequest(model_name="second"), timeout=30)


# --- Cancellation: deadlines, cancelled calls and SIGTERM stop jobs ----------------------------

def _slow_generate(settings_root: Path, llm: FaultServer):
    settings = Settings(artifact_store=str(settings_root / "artifacts"), cache_dir=settings_root / "cache",
                        llm_base_url=llm.base_url, llm_model="fault-model", llm_timeout_s=5.0, auth_token=None)
    request = generation_pb2.GenerateRequest(task="sms_spam", rows_per_label=200, concurrency=1,
                                             mode=generation_pb2.GENERATION_MODE_ZERO_SHOT,
                                             prompt_style=generation_pb2.PROMPT_STYLE_COMPLETION)
    return settings, request


def _attempts(llm: FaultServer) -> int:
    return sum(llm.log.attempts.values())


def _settles(llm: FaultServer, wait_s: float = 3.0) -> bool:
    """Whether the LLM stops receiving requests (the job stopped) within ``wait_s``."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        before = _attempts(llm)
        time.sleep(wait_s)
        if _attempts(llm) == before and active_jobs() == 0:
            return True
    return False


def test_a_job_stops_when_its_deadline_passes_or_its_call_is_cancelled(tmp_path):
    with FaultServer(delay_s=0.2) as llm:
        settings, request = _slow_generate(tmp_path, llm)
        running = start_server(["generation"], settings, port=0)
        try:
            with grpc.insecure_channel(running.address) as channel:
                stub = generation_pb2_grpc.GenerationServiceStub(channel)
                assert refused(stub.Generate, request, Code.DEADLINE_EXCEEDED, timeout=2.0) is not None
                assert _settles(llm), "generation kept calling the LLM after the deadline"
                first = _attempts(llm)
                assert 0 < first < 40  # 2 s at 0.2 s a request, not 400 requests
                call = stub.Generate(request.__class__(**{**_fields(request), "seed": 7}), timeout=60)
                next(call)  # the first progress event: the job runs
                call.cancel()
                assert _settles(llm), "generation kept calling the LLM after the call was cancelled"
                assert _attempts(llm) - first < 40
        finally:
            running.stop(grace_s=1)


def _fields(message) -> dict:
    return {f.name: v for f, v in message.ListFields()}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_sigterm_stops_a_running_job_within_the_grace_period(tmp_path):
    with FaultServer(delay_s=0.2) as llm:
        settings, request = _slow_generate(tmp_path, llm)
        port = _free_port()
        env = {**os.environ, "SYNTHCLF_ARTIFACT_STORE": settings.artifact_store,
               "SYNTHCLF_CACHE_DIR": str(settings.cache_dir), "SYNTHCLF_LLM_BASE_URL": llm.base_url,
               "SYNTHCLF_LLM_MODEL": "fault-model", "PYTHONPATH": os.pathsep.join(sys.path)}
        env.pop("SYNTHCLF_AUTH_TOKEN", None)
        log = tmp_path / "server.log"
        server = subprocess.Popen([sys.executable, "-m", "synthclf.cli", "serve", "generation",
                                   "--host", "127.0.0.1", "--port", str(port)], env=env,
                                  stdout=subprocess.DEVNULL, stderr=log.open("w"))
        try:
            with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
                grpc.channel_ready_future(channel).result(timeout=120)
                call = generation_pb2_grpc.GenerationServiceStub(channel).Generate(request, timeout=120)
                next(call)  # the job runs
                outcome = {}
                drain = threading.Thread(target=lambda: outcome.setdefault("code", _drain(call)))
                drain.start()
                server.send_signal(signal.SIGTERM)
                started = time.monotonic()
                server.wait(timeout=30)  # docker-compose.yml: stop_grace_period 30s
                stopped_in = time.monotonic() - started
                drain.join(timeout=10)
            assert stopped_in < 20 and server.returncode == 0
            assert outcome["code"] in (Code.CANCELLED, Code.UNAVAILABLE)
            assert _attempts(llm) < 100  # not the 400 requests of a finished job
        finally:
            if server.poll() is None:
                server.kill()
            server.wait()
        assert "cancelling" in log.read_text()


def _drain(call) -> Code:
    try:
        for _ in call:
            pass
    except grpc.RpcError as exc:
        return exc.code()
    return Code.OK


# --- Finding 5: Evaluate never dials a caller-chosen address -----------------------------------

class _Recorder(grpc.GenericRpcHandler):
    """Records every call and its metadata (an attacker's listener)."""

    def __init__(self):
        self.calls: list[tuple[str, dict]] = []

    def service(self, details):
        self.calls.append((details.method, dict(details.invocation_metadata)))
        return None


def test_evaluate_refuses_an_inference_address_the_server_did_not_configure(env):
    recorder = _Recorder()
    listener = grpc.server(ThreadPoolExecutor(2), handlers=[recorder])
    port = listener.add_insecure_port("127.0.0.1:0")
    listener.start()
    try:
        *_, analysis = stubs(env)
        request = analysis_pb2.EvaluateRequest(model_name="sms", dataset_uri=env["dataset"], n_bootstrap=10,
                                               inference_address=f"127.0.0.1:{port}")
        details = refused(analysis.Evaluate, request, Code.INVALID_ARGUMENT)
        assert "SYNTHCLF_INFERENCE_ALLOWED_ADDRESSES" in details
        time.sleep(0.5)
        assert recorder.calls == []  # nothing dialled, no token sent
        served = analysis_pb2.EvaluateRequest(model_name="sms", dataset_uri=env["dataset"], n_bootstrap=10,
                                              condition=analysis_pb2.Condition(task="sms_spam", source="real"))
        last = list(analysis.Evaluate(served, timeout=120))[-1]  # default: the server's own inference
        assert last.metrics.support == len(TEXTS)
    finally:
        listener.stop(0)


# --- Finding 6: credentials are never logged nor echoed ----------------------------------------

def test_a_token_without_the_bearer_scheme_is_neither_logged_nor_echoed(env, caplog):
    with grpc.insecure_channel(env["address"]) as channel, caplog.at_level("DEBUG"):
        stub = inference_pb2_grpc.InferenceServiceStub(channel)
        with pytest.raises(grpc.RpcError) as caught:
            stub.ListModels(inference_pb2.ListModelsRequest(), timeout=10, metadata=[("authorization", TOKEN)])
    assert caught.value.code() == Code.UNAUTHENTICATED
    assert TOKEN not in caught.value.details() and TOKEN not in caplog.text
    assert "Bearer scheme" in caught.value.details()


def test_production_refuses_a_one_character_token(tmp_path):
    from synthclf.core.errors import InvalidInput

    settings = Settings(artifact_store=str(tmp_path / "a"), cache_dir=tmp_path / "c", production=True,
                        auth_token="x")
    with pytest.raises(InvalidInput, match="fewer than 32 bytes"):
        start_server(["inference"], settings, port=0)


# --- Finding 7: a clear status instead of INTERNAL ---------------------------------------------

def test_repository_model_load_and_unload_are_unimplemented(env):
    stub = oip_grpc.GRPCInferenceServiceStub(env["channel"])
    assert "LoadModel" in refused(stub.RepositoryModelLoad, oip.RepositoryModelLoadRequest(model_name="sms"),
                                  Code.UNIMPLEMENTED)
    refused(stub.RepositoryModelUnload, oip.RepositoryModelUnloadRequest(model_name="sms"), Code.UNIMPLEMENTED)


def test_bytes_that_are_no_request_are_invalid_argument(env):
    call = env["channel"].unary_unary("/synthclf.v1.InferenceService/Predict")
    details = refused(call, b"\xff\xff\xff\xff garbage", Code.INVALID_ARGUMENT)
    assert "synthclf.v1.PredictRequest" in details


def test_an_unexpected_error_is_internal_with_an_error_id_in_the_log(env, monkeypatch, caplog):
    from synthclf.inference.repository import ModelRepository

    def broken(self):
        raise RuntimeError("/very/secret/server/path exploded")

    monkeypatch.setattr(ModelRepository, "list", broken)
    _, _, inference, _ = stubs(env)
    with caplog.at_level("ERROR"):
        details = refused(inference.ListModels, inference_pb2.ListModelsRequest(), Code.INTERNAL)
    assert "/very/secret" not in details and "error id" in details
    error_id = details.split("error id ")[1].split(";")[0]
    assert f"error id {error_id}" in caplog.text and "/very/secret/server/path" in caplog.text


BAD_ROWS = {
    "malformed line": '{"text": "ok", "label": "ham"}\n{not json\n',
    "array line": '["text", "label"]\n',
    "null text": [{"text": None, "label": "ham"}, {"text": "b", "label": "spam"}],
    "int text": [{"text": 5, "label": "ham"}, {"text": "b", "label": "spam"}],
    "dict text": [{"text": {"a": 1}, "label": "ham"}, {"text": "b", "label": "spam"}],
    "int label": [{"text": "a", "label": 1}, {"text": "b", "label": "spam"}],
    "null label": [{"text": "a", "label": None}, {"text": "b", "label": "spam"}],
    "no text column": [{"body": "a", "label": "ham"}],
}


@pytest.mark.parametrize("case", list(BAD_ROWS))
def test_malformed_or_wrong_typed_datasets_are_invalid_argument_everywhere(env, case):
    settings, root = env["settings"], env["root"]
    uri = _publish_rows(settings, root / "bad" / case.replace(" ", "-"), f"bad-{case.replace(' ', '-')}",
                        BAD_ROWS[case])
    generation, training, _, analysis = stubs(env)
    calls = [
        (analysis.Evaluate, analysis_pb2.EvaluateRequest(dataset_uri=uri, model_uri=env["onnx"], in_process=True)),
        (analysis.Diversity, analysis_pb2.DiversityRequest(dataset_uri=uri)),
        (training.Train, training_pb2.TrainRequest(task="sms_spam", data=[training_pb2.TrainingData(dataset_uri=uri)])),
        (generation.Generate, generation_pb2.GenerateRequest(
            task="sms_spam", rows_per_label=1, mode=generation_pb2.GENERATION_MODE_FEW_SHOT, examples_uri=uri)),
    ]
    for call, request in calls:
        details = refused(call, request, Code.INVALID_ARGUMENT)
        assert uri in details and str(root) not in details.replace(uri, "")  # the caller's URI, no path


def test_artifacts_of_the_wrong_kind_are_invalid_argument(env):
    _, _, inference, analysis = stubs(env)
    details = refused(analysis.InstanceSubjectivity,
                      analysis_pb2.InstanceSubjectivityRequest(evaluation_uri=env["dataset"]), Code.INVALID_ARGUMENT)
    assert "is a 'dataset' artifact, not an evaluation" in details
    refused(analysis.TaskSubjectivity, analysis_pb2.TaskSubjectivityRequest(evaluation_uris=[env["dataset"]]),
            Code.INVALID_ARGUMENT)
    refused(analysis.Evaluate, analysis_pb2.EvaluateRequest(dataset_uri=env["onnx"], model_uri=env["onnx"],
                                                            in_process=True), Code.INVALID_ARGUMENT)
    refused(inference.LoadModel, inference_pb2.LoadModelRequest(model_name="m", model_uri=env["dataset"]),
            Code.INVALID_ARGUMENT)


@pytest.mark.parametrize("backbone", ["not-a-model-folder", "no-such-org/no-such-model"])
def test_a_backbone_that_is_no_model_folder_is_refused_without_a_hub_wait(env, backbone):
    _, training, _, _ = stubs(env)
    folder = env["root"] / backbone
    if backbone == "not-a-model-folder":
        folder.mkdir(exist_ok=True)
        (folder / "readme.txt").write_text("not a model")
        backbone = str(folder)
    request = training_pb2.TrainRequest(task="sms_spam", data=[training_pb2.TrainingData(dataset_uri=env["dataset"])],
                                        backbone=backbone, epochs=1)
    started = time.monotonic()
    details = refused(training.Train, request, Code.INVALID_ARGUMENT)
    assert time.monotonic() - started < 15 and "backbone" in details


def _broken_copy(env, name: str, change) -> str:
    """Publish a copy of the served model's folder changed by ``change(folder)``."""
    from synthclf.core.artifacts import fetch

    source = fetch(env["onnx"], env["settings"]).path
    folder = env["root"] / "broken" / name
    shutil.copytree(source, folder, ignore=shutil.ignore_patterns("manifest.json"))
    change(folder)
    return publish(open_store(env["settings"].artifact_store, env["settings"]), folder, kind="onnx-model",
                   artifact_id=f"broken-{name}", service="tests").uri


@pytest.mark.parametrize(("name", "change", "code", "problem"), [
    ("max-length", lambda f: (f / "parity.json").write_text(json.dumps({"max_length": 100_000_000})),
     Code.DATA_LOSS, "max_length"),
    ("garbage-graph", lambda f: (f / "model.onnx").write_bytes(b"\x08\x07garbage"), Code.DATA_LOSS, "model.onnx"),
    ("duplicate-labels", lambda f: (f / "labels.json").write_text(json.dumps(["ham", "ham"])),
     Code.INVALID_ARGUMENT, "appears more than once"),
    ("long-label", lambda f: (f / "labels.json").write_text(json.dumps(["ham", "s" * 10_000_000])),
     Code.INVALID_ARGUMENT, "SYNTHCLF_MAX_LABEL_CHARS"),
])
def test_unusable_onnx_models_are_refused_without_server_paths(env, name, change, code, problem):
    _, _, inference, _ = stubs(env)
    uri = _broken_copy(env, name, change)
    details = refused(inference.LoadModel, inference_pb2.LoadModelRequest(model_name=f"b-{name}", model_uri=uri), code,
                      timeout=120)
    assert problem in details and str(env["root"]) not in details.replace(uri, "") and len(details) < 1000


def test_an_unreachable_llm_is_unavailable_without_its_url(env):
    generation, *_ = stubs(env)
    request = generation_pb2.GenerateRequest(task="sms_spam", rows_per_label=1,
                                             mode=generation_pb2.GENERATION_MODE_ZERO_SHOT)
    details = refused(generation.Generate, request, Code.UNAVAILABLE)
    assert "127.0.0.1:9" not in details


# --- Finding 8: bad input is refused before work starts ----------------------------------------

@pytest.mark.parametrize(("fields", "problem"), [
    ({"opset": 1}, "opset must lie in [14, 20]"), ({"opset": 99}, "opset must lie in [14, 20]"),
    ({"parity_tolerance": float("nan")}, "parity_tolerance must be a positive number"),
    ({"parity_tolerance": -1.0}, "parity_tolerance must be a positive number"),
])
def test_export_parameters_are_checked_before_exporting(env, fields, problem):
    _, training, _, _ = stubs(env)  # opset 1 used to fail inside torch.onnx: INTERNAL (the fuzz test found it)
    request = training_pb2.ExportOnnxRequest(model_uri=env["onnx"], **fields)
    assert problem in refused(training.ExportOnnx, request, Code.INVALID_ARGUMENT)


def test_min_words_above_max_words_is_refused_before_generating(env):
    generation, *_ = stubs(env)  # the LLM is unreachable: had it generated, this were UNAVAILABLE
    request = generation_pb2.GenerateRequest(task="sms_spam", rows_per_label=1, min_words=50, max_words=10,
                                             mode=generation_pb2.GENERATION_MODE_ZERO_SHOT)
    assert "min_words (50) exceeds max_words (10)" in refused(generation.Generate, request, Code.INVALID_ARGUMENT)


def test_evaluate_on_labels_the_model_lacks_is_refused(env):
    *_, analysis = stubs(env)
    rows = [{"text": t, "label": label} for t, label in zip(TEXTS, ["ham", "eggs"] * 4)]
    uri = _publish_rows(env["settings"], env["root"] / "eggs", "eggs", rows)
    for request in (analysis_pb2.EvaluateRequest(dataset_uri=uri, model_uri=env["onnx"], in_process=True),
                    analysis_pb2.EvaluateRequest(model_name="sms", dataset_uri=uri)):
        details = refused(analysis.Evaluate, request, Code.INVALID_ARGUMENT)
        assert "labels the model" in details and "eggs" in details


@pytest.mark.parametrize(("column", "value", "problem"), [
    ("agreement", 7.0, "agreement values must lie in [0, 1]"),
    ("split", "validation", "split values must be train or test"),
])
def test_train_checks_split_and_agreement_before_the_mixture_drops_them(env, column, value, problem):
    _, training, _, _ = stubs(env)
    rows = [{"text": t, "label": label, column: value} for t, label in zip(TEXTS, ["ham", "spam"] * 4)]
    uri = _publish_rows(env["settings"], env["root"] / f"col-{column}", f"col-{column}", rows)
    request = training_pb2.TrainRequest(task="sms_spam", data=[training_pb2.TrainingData(dataset_uri=uri)], epochs=1)
    assert problem in refused(training.Train, request, Code.INVALID_ARGUMENT)


def test_the_server_is_still_healthy(env):
    status = health_pb2_grpc.HealthStub(env["channel"]).Check(health_pb2.HealthCheckRequest(), timeout=10)
    assert status.status == health_pb2.HealthCheckResponse.SERVING
