"""The four services over real gRPC on loopback: health, reflection, and clear errors."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from synthclf.clients import AnalysisClient, GenerationClient, InferenceClient, TrainingClient
from synthclf.core.corpora import load_real_dataset
from synthclf.core.errors import InvalidInput, NotFound, NotReady, Unavailable
from synthclf.core.sampling import subsample
from synthclf.core.schema import read_jsonl
from synthclf.server import start_server


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from synthclf.core.config import Settings

    root = tmp_path_factory.mktemp("svc")
    # An LLM URL where nothing listens: generation must fail with UNAVAILABLE, not hang.
    settings = Settings(artifact_store=str(root / "artifacts"), cache_dir=root / "cache",
                        llm_base_url="http://127.0.0.1:9/v1", llm_timeout_s=2.0)
    running = start_server(["all"], settings, port=0)
    running.settings = settings
    yield running
    running.stop(grace_s=1)


def test_health_reports_every_service_serving(server):
    with grpc.insecure_channel(server.address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        for name in ("", "synthclf.v1.GenerationService", "synthclf.v1.TrainingService",
                     "synthclf.v1.InferenceService", "synthclf.v1.AnalysisService"):
            status = stub.Check(health_pb2.HealthCheckRequest(service=name), timeout=5).status
            assert status == health_pb2.HealthCheckResponse.SERVING, name


def test_import_real_data_is_idempotent_and_stratified(server, tmp_path):
    with GenerationClient(server.address) as client:
        first = client.import_real_data("sms_spam", max_train_rows=40, max_test_rows=20, seed=1)
        again = client.import_real_data("sms_spam", max_train_rows=40, max_test_rows=20, seed=1)
        train, test = (read_jsonl(client.download(ref.uri, tmp_path / f"{ref.id}.jsonl"))
                       for ref in (first.train, first.test))
    assert first == again
    assert first.train.kind == "dataset" and first.train.uri != first.test.uri
    # stratified: each capped split keeps the corpus's spam share (within the one row per label
    # every label is guaranteed and one row of rounding), exactly as the stratified sampler draws it
    corpus = load_real_dataset("sms_spam", seed=1)
    share = corpus["label"].eq("spam").mean()
    for split, frame, rows in (("train", train, 40), ("test", test, 20)):
        assert len(frame) == rows and set(frame["split"]) == {split}
        assert 1 <= frame["label"].eq("spam").sum() and abs(frame["label"].eq("spam").sum() - share * rows) < 2, split
        expected = subsample(corpus[corpus["split"] == split], rows, seed=1)
        assert frame["label"].value_counts().to_dict() == expected["label"].value_counts().to_dict(), split
    assert not set(train["text"]) & set(test["text"])


def test_unknown_task_is_not_found(server):
    with GenerationClient(server.address) as client, pytest.raises(NotFound, match="unknown task 'nope'"):
        client.import_real_data("nope")


def test_task_without_offline_data_is_not_ready(server):
    with GenerationClient(server.address) as client, pytest.raises(NotReady, match="no real data"):
        client.import_real_data("tweet_irony")


def test_unreachable_llm_is_unavailable(server):
    with GenerationClient(server.address) as client, pytest.raises(Unavailable, match="unreachable"):
        client.generate("sms_spam", mode="zero_shot", rows_per_label=1, progress=lambda e: None)


def test_training_without_data_is_invalid(server):
    with TrainingClient(server.address) as client, pytest.raises(InvalidInput, match="no training data"):
        client.train("sms_spam", [], progress=lambda e: None)


def test_predict_with_unloaded_model_is_not_found(server):
    with InferenceClient(server.address) as client, pytest.raises(NotFound, match="not loaded"):
        client.predict("missing", ["hello"])


def test_load_of_missing_artifact_is_not_found(server):
    with InferenceClient(server.address) as client, pytest.raises(NotFound):
        client.load_model("m", (Path(server.settings.artifact_store) / "onnx-model" / "nothing").as_uri())


def test_report_without_evaluations_is_invalid(server):
    with AnalysisClient(server.address) as client, pytest.raises(InvalidInput):
        client.report("empty", [])


def test_evaluate_missing_dataset_is_not_found(server):
    missing = (Path(server.settings.artifact_store) / "dataset" / "x").as_uri()
    with AnalysisClient(server.address) as client, pytest.raises(NotFound):
        client.evaluate(model_name="m", dataset_uri=missing, inference_address=server.address,
                        progress=lambda e: None)
