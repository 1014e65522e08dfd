"""Fuzzing every RPC of every service of an all-in-one server (issue 11).

For each method of ``synthclf.v1`` (generation, training, inference, analysis) and of the Open
Inference Protocol (``inference.GRPCInferenceService``): schema-aware mutations of a valid
request (strategies built from the proto descriptors, fuzz_requests.py), then random and
corrupted bytes sent through a raw channel method (no serializer). A client-streaming method
(Upload) gets the mutated or corrupted message first, then a valid chunk of a CSV file. Every answer must be a
status the caller can act on: never INTERNAL (a bug) or UNKNOWN (an escaped exception).
After each method the server must still report SERVING on grpc.health.v1 and answer a valid
Predict. Runs are derandomized (the same cases every run, so CI is stable); set
``FUZZ_RANDOM=1`` to draw new ones and ``FUZZ_SCALE=10`` for ten times as
many. The number of cases run is printed at the end.
"""

from __future__ import annotations

import collections
import json
import os

import grpc
import pandas as pd
import pytest
from classifiers import tiny_bert
from fuzz_requests import corrupted_bytes, mutations
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import HealthCheck, given, settings

from synthclf.clients import AnalysisClient, Condition, GenerationClient, InferenceClient, TrainingClient, TrainingData
from synthclf.core.artifacts import publish
from synthclf.core.config import Settings
from synthclf.core.schema import to_jsonl
from synthclf.core.store import open_store
from synthclf.oip import grpc_predict_v2_pb2 as oip
from synthclf.server import start_server
from synthclf.v1 import (
    analysis_pb2,
    generation_pb2,
    generation_pb2_grpc,
    inference_pb2,
    training_pb2,
)

pytestmark = [pytest.mark.fuzz, pytest.mark.timeout(600)]

PROTECTED = "fuzz-protected"  # the model the fuzzer never unloads; Predict checks it at the end
TINY_TASK = "name: tiny\nlabels:\n  - {name: pos, description: a happy text}\n  - {name: neg, description: a sad text}\n"
UPLOADED = b"text,label\n" + b"".join(b"text number %d,%s\n" % (i, b"pos" if i % 2 else b"neg") for i in range(40))
#: Mutated requests and corrupted byte strings per method; jobs that really run get fewer.
MUTATIONS, RAW = 16, 8
BUDGET = {"Train": 8, "ExportOnnx": 4, "Report": 5, "LoadModel": 8, "Diversity": 8, "Similarity": 6,
          "Projection": 6, "Verdict": 8}
#: Seconds a fuzz call may take (a job past it is cancelled: DEADLINE_EXCEEDED is fine).
CALL_TIMEOUT_S = 4.0
BAD = {grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN}
SERVICES = [
    generation_pb2.DESCRIPTOR.services_by_name["GenerationService"],
    training_pb2.DESCRIPTOR.services_by_name["TrainingService"],
    inference_pb2.DESCRIPTOR.services_by_name["InferenceService"],
    analysis_pb2.DESCRIPTOR.services_by_name["AnalysisService"],
    oip.DESCRIPTOR.services_by_name["GRPCInferenceService"],
]
METHODS = [m for service in SERVICES for m in service.methods]
CASES: collections.Counter = collections.Counter()
STATUSES: collections.Counter = collections.Counter()


def _dataset(settings: Settings, folder) -> str:
    texts = ["win a free prize now", "see you at lunch", "claim your cash reward", "ok thanks",
             "urgent: call now to win", "running late, sorry", "free entry, text WIN", "home soon"]
    frame = pd.DataFrame({"text": texts, "label": ["spam", "ham"] * 4, "split": "test",
                          "agreement": [1.0, 0.9, 0.8, 1.0, 0.7, 0.6, 1.0, 0.9]})
    to_jsonl(frame, folder / "data.jsonl")
    return publish(open_store(settings.artifact_store, settings), folder, kind="dataset",
                   artifact_id="fuzz-data", service="tests",
                   stats={"rows": len(frame), "source": "real", "split": "test", "task": "sms_spam"}).uri


@pytest.fixture(scope="module")
def env(tmp_path_factory, publish_onnx_model):
    """An all-in-one server with a loaded model, a dataset, a model and an evaluation."""
    root = tmp_path_factory.mktemp("fuzz")
    (root / "data").mkdir()
    settings = Settings(artifact_store=str(root / "artifacts"), cache_dir=root / "cache",
                        llm_base_url="http://127.0.0.1:9/v1", llm_timeout_s=1.0,
                        inference_max_loaded_models=3, max_analysis_texts=64, upload_max_bytes=100_000)
    onnx_uri = publish_onnx_model(settings)
    dataset = _dataset(settings, root / "data")
    backbone = str(tiny_bert(root / "backbone"))  # a training backbone: trains in a second
    running = start_server(["all"], settings, port=0)
    address = running.address
    with InferenceClient(address) as client:
        client.load_model(PROTECTED, onnx_uri)
    options = {"backbone": backbone, "epochs": 1, "batch_size": 8, "max_length": 16, "validation_fraction": 0.0}
    train = training_pb2.TrainRequest(task="sms_spam", data=[training_pb2.TrainingData(dataset_uri=dataset)],
                                      **options)
    with TrainingClient(address) as client:
        model_uri = client.train("sms_spam", [TrainingData(dataset_uri=dataset)], **options,
                                 progress=lambda e: None).uri
    with AnalysisClient(address) as client:
        evaluation = client.evaluate(
            dataset_uri=dataset, model_uri=onnx_uri, in_process=True, n_bootstrap=10,
            condition=Condition(task="sms_spam", source="real"), progress=lambda e: None).evaluation
    upload_header = generation_pb2.UploadRequest(header=generation_pb2.UploadHeader(
        filename="mine.csv", size=len(UPLOADED)))
    with GenerationClient(address) as client:
        task_uri = client.publish_task(TINY_TASK, source="tiny.yaml").task.uri
        upload_uri = generation_pb2_grpc.GenerationServiceStub(client.channel).Upload(
            iter([upload_header, generation_pb2.UploadRequest(chunk=UPLOADED)]), timeout=60).upload.uri
    text = oip.ModelInferRequest.InferInputTensor(
        name="text", datatype="BYTES", shape=[2],
        contents=oip.InferTensorContents(bytes_contents=[b"win a prize", b"see you"]))
    base = {
        "Generate": generation_pb2.GenerateRequest(task="sms_spam", rows_per_label=1,
                                                   mode=generation_pb2.GENERATION_MODE_ZERO_SHOT),
        "ImportRealData": generation_pb2.ImportRealDataRequest(task="sms_spam", max_train_rows=20,
                                                               max_test_rows=10),
        "Upload": upload_header,
        "PublishTask": generation_pb2.PublishTaskRequest(yaml=TINY_TASK, source="tiny.yaml"),
        "Download": generation_pb2.DownloadRequest(dataset_uri=dataset),
        "Train": train,
        "ExportOnnx": training_pb2.ExportOnnxRequest(model_uri=model_uri),
        "Predict": inference_pb2.PredictRequest(model_name=PROTECTED, texts=["win now", "hi"]),
        "ListModels": inference_pb2.ListModelsRequest(),
        "LoadModel": inference_pb2.LoadModelRequest(model_name="fuzz-loaded", model_uri=onnx_uri),
        "UnloadModel": inference_pb2.UnloadModelRequest(model_name="fuzz-loaded"),
        "GetModelMetadata": inference_pb2.GetModelMetadataRequest(model_name=PROTECTED),
        "Evaluate": analysis_pb2.EvaluateRequest(dataset_uri=dataset, model_uri=onnx_uri, in_process=True,
                                                 n_bootstrap=20),
        "Diversity": analysis_pb2.DiversityRequest(dataset_uri=dataset, max_texts=8),
        "Similarity": analysis_pb2.SimilarityRequest(synthetic_uri=dataset, real_uri=dataset, max_texts=8),
        "InstanceSubjectivity": analysis_pb2.InstanceSubjectivityRequest(evaluation_uri=evaluation.uri),
        "TaskSubjectivity": analysis_pb2.TaskSubjectivityRequest(evaluation_uris=[evaluation.uri]),
        "Projection": analysis_pb2.ProjectionRequest(dataset_uris=[dataset], max_texts=8, points=8),
        "Verdict": analysis_pb2.VerdictRequest(evaluation_uris=[evaluation.uri]),
        "Report": analysis_pb2.ReportRequest(title="fuzz", evaluation_uris=[evaluation.uri]),
        "ServerLive": oip.ServerLiveRequest(), "ServerReady": oip.ServerReadyRequest(),
        "ModelReady": oip.ModelReadyRequest(name=PROTECTED),
        "ServerMetadata": oip.ServerMetadataRequest(),
        "ModelMetadata": oip.ModelMetadataRequest(name=PROTECTED),
        "ModelInfer": oip.ModelInferRequest(model_name=PROTECTED, inputs=[text]),
        "RepositoryModelLoad": oip.RepositoryModelLoadRequest(model_name=PROTECTED),
        "RepositoryModelUnload": oip.RepositoryModelUnloadRequest(model_name="fuzz-loaded"),
    }
    pool = [dataset, onnx_uri, model_uri, evaluation.uri, task_uri, upload_uri, "mine.csv", "label",
            dataset.rstrip("/") + "-missing", "sms_spam",
            PROTECTED, "fuzz-loaded", address, backbone, str(root), "zero_shot", "1", "text", "BYTES"]
    channel = grpc.insecure_channel(address, options=[("grpc.max_receive_message_length", 64 << 20),
                                                      ("grpc.max_send_message_length", 64 << 20)])
    yield {"address": address, "base": base, "pool": pool, "channel": channel}
    channel.close()
    running.stop(grace_s=1)


def _call(channel: grpc.Channel, method, data: bytes) -> grpc.StatusCode:
    """Send raw request bytes to ``method``; the final status (responses are not decoded).

    A client-streaming method (Upload) gets ``data`` first, then a valid chunk of a CSV file."""
    path = f"/{method.containing_service.full_name}/{method.name}"
    try:
        if method.client_streaming:
            chunk = generation_pb2.UploadRequest(chunk=UPLOADED).SerializeToString()
            channel.stream_unary(path)(iter([data, chunk]), timeout=CALL_TIMEOUT_S)
        elif method.server_streaming:
            for _ in channel.unary_stream(path)(data, timeout=CALL_TIMEOUT_S):
                pass
        else:
            channel.unary_unary(path)(data, timeout=CALL_TIMEOUT_S)
    except grpc.RpcError as exc:
        return exc.code()
    return grpc.StatusCode.OK


def _check(channel, method, data: bytes, what: str) -> None:
    code = _call(channel, method, data)
    CASES[what] += 1
    STATUSES[code.name] += 1
    assert code not in BAD, f"{method.full_name} answered {code.name} to {what} {data[:300]!r}"


def _assert_healthy(env) -> None:
    """SERVING on grpc.health.v1, and a valid Predict answers with both labels."""
    status = health_pb2_grpc.HealthStub(env["channel"]).Check(health_pb2.HealthCheckRequest(), timeout=10)
    assert status.status == health_pb2.HealthCheckResponse.SERVING
    with InferenceClient(env["address"]) as client:
        response = client.predict(PROTECTED, ["WIN a free prize, call now", "see you at lunch"])
    assert len(response.predictions) == 2 and set(response.labels) == {"ham", "spam"}


def _fuzz_settings(examples: int) -> settings:
    examples = max(1, round(examples * float(os.environ.get("FUZZ_SCALE", "1"))))
    return settings(max_examples=examples, deadline=None, database=None, print_blob=True,
                    derandomize=os.environ.get("FUZZ_RANDOM") != "1",
                    suppress_health_check=list(HealthCheck))


@pytest.mark.parametrize("method", METHODS, ids=lambda m: f"{m.containing_service.name}.{m.name}")
def test_mutated_requests_and_random_bytes_never_answer_internal(env, method):
    base, channel = env["base"][method.name], env["channel"]
    strategy = mutations(base, env["pool"])
    if method.name in ("UnloadModel", "RepositoryModelUnload"):  # keep the model Predict checks
        strategy = strategy.filter(lambda r: PROTECTED not in (getattr(r, "name", ""), getattr(r, "model_name", "")))

    @_fuzz_settings(BUDGET.get(method.name, MUTATIONS))
    @given(strategy)
    def mutated(request):
        _check(channel, method, request.SerializeToString(), "mutation")

    @_fuzz_settings(RAW)
    @given(corrupted_bytes(base.SerializeToString()))
    def raw(data):
        _check(channel, method, data, "raw bytes")

    _check(channel, method, base.SerializeToString(), "valid request")
    mutated()
    raw()
    _assert_healthy(env)


def test_fuzzing_left_the_server_healthy_and_counts_the_cases(env, capsys, record_property):
    _assert_healthy(env)
    total = sum(CASES.values())
    record_property("fuzz_cases", total)
    with capsys.disabled():
        print(f"\nfuzz: {total} cases over {len(METHODS)} methods ({json.dumps(dict(CASES))}); "
              f"statuses {json.dumps(dict(STATUSES.most_common()))}")
    assert total >= len(METHODS) * 3
