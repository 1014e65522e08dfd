"""The artifact store as a trust boundary, through the real gRPC services (issue 11, findings
1-3): LoadModel, Train, Evaluate and Generate's examples refuse URIs outside the configured
store (INVALID_ARGUMENT naming the allowed form) and crafted manifests (DATA_LOSS), on a local
store and on S3 (moto's server on loopback)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from synthclf.clients import AnalysisClient, GenerationClient, InferenceClient, TrainingClient, TrainingData
from synthclf.core.config import Settings
from synthclf.core.errors import IntegrityError, InvalidInput
from synthclf.core.store import open_store
from synthclf.server import start_server


@pytest.fixture(scope="module", params=["local", "s3"])
def stack(request, tmp_path_factory):
    """(running server, its settings, a folder outside the store) for each backend."""
    root = tmp_path_factory.mktemp("boundary")
    common = {"cache_dir": root / "cache", "llm_base_url": "http://127.0.0.1:9/v1", "llm_timeout_s": 2.0}
    if request.param == "local":
        settings = Settings(artifact_store=str(root / "artifacts"), **common)
    else:
        settings = Settings(artifact_store=f"s3://boundary-{uuid.uuid4().hex[:8]}/artifacts",
                            s3_endpoint=request.getfixturevalue("s3_endpoint"), s3_access_key="testing",
                            s3_secret_key="testing", **common)
    running = start_server(["all"], settings, port=0)
    yield running, settings, root
    running.stop(grace_s=1)


def _craft(settings: Settings, kind: str, artifact_id: str, files: list[dict]) -> str:
    """A hand-made manifest in the store, as someone with write access to the bucket could make."""
    store = open_store(settings.artifact_store, settings)
    manifest = {"kind": kind, "id": artifact_id, "producer": {"service": "x"}, "files": files}
    store.put_bytes(f"{kind}/{artifact_id}/manifest.json", json.dumps(manifest).encode())
    return store.uri(f"{kind}/{artifact_id}")


def _outside_uris(settings: Settings, root: Path, kind: str) -> list[str]:
    """URIs that name something outside the configured store."""
    outside = root / "outside" / kind / "x"
    outside.mkdir(parents=True, exist_ok=True)
    uris = [f"s3://another-bucket/artifacts/{kind}/x", outside.as_uri(), str(outside), "/etc/passwd"]
    if settings.artifact_store.startswith("s3://"):
        return uris
    link = Path(settings.artifact_store) / kind / "linked"
    link.parent.mkdir(parents=True, exist_ok=True)
    if not link.is_symlink():
        link.symlink_to(outside)
    return uris + [f"{(Path(settings.artifact_store) / kind).as_uri()}/../../outside/{kind}/x", link.as_uri()]


def _calls(address: str):
    """Per RPC: (artifact kind it takes, a call taking that URI)."""
    def train(uri):
        with TrainingClient(address) as client:
            return client.train("sms_spam", [TrainingData(dataset_uri=uri)], progress=lambda e: None)

    def evaluate(uri):
        with AnalysisClient(address) as client:
            return client.evaluate(dataset_uri=uri, in_process=True, model_uri="s3://x/onnx-model/m",
                                   progress=lambda e: None)

    def generate(uri):
        with GenerationClient(address) as client:
            return client.generate("sms_spam", mode="few_shot", rows_per_label=1, examples_uri=uri,
                                   progress=lambda e: None)

    def load(uri):
        with InferenceClient(address) as client:
            return client.load_model("m", uri)

    return {"LoadModel": ("onnx-model", load), "Train": ("dataset", train), "Evaluate": ("dataset", evaluate),
            "Generate": ("dataset", generate)}


@pytest.mark.parametrize("rpc", ["LoadModel", "Train", "Evaluate", "Generate"])
def test_rpcs_refuse_uris_outside_the_store(stack, rpc):
    running, settings, root = stack
    kind, call = _calls(running.address)[rpc]
    for uri in _outside_uris(settings, root, kind):
        with pytest.raises(InvalidInput, match="artifact URIs must be") as caught:
            call(uri)
        assert str(root / "cache") not in caught.value.message, (rpc, uri)


@pytest.mark.parametrize("rpc", ["LoadModel", "Train", "Evaluate", "Generate"])
def test_rpcs_refuse_crafted_manifests_as_data_loss(stack, rpc):
    """An entry {"path": "/etc/passwd", "size": 0} was a size oracle (and on S3 the old fetch
    unlinked the file it named: the server file here is a temp file, never a real one)."""
    running, settings, root = stack
    kind, call = _calls(running.address)[rpc]
    secret = root / "secret.txt"
    secret.write_bytes(b"s" * 12345)
    oracle = _craft(settings, kind, "oracle", [{"path": str(secret), "sha256": "0" * 64, "size": 0}])
    with pytest.raises(IntegrityError, match="files.0.path") as caught:
        call(oracle)
    assert "12345" not in caught.value.message and secret.stat().st_size == 12345
    hollow = _craft(settings, kind, "hollow", [])
    with pytest.raises(IntegrityError, match="model.onnx, labels.json" if kind == "onnx-model" else "data.jsonl"):
        call(hollow)


def test_artifact_of_the_wrong_kind_is_invalid(stack):
    running, settings, _ = stack
    evaluation = open_store(settings.artifact_store, settings).uri("evaluation/e1")
    _, evaluate = _calls(running.address)["Evaluate"]
    with pytest.raises(InvalidInput, match="is a 'evaluation' artifact, not a dataset"):
        evaluate(evaluation)


def test_identical_concurrent_jobs_run_once(stack, monkeypatch):
    """Finding 9: identical concurrent jobs both ran and published to one id; now one runs and
    the others wait for it and answer its artifacts."""
    import threading
    import time

    from synthclf.generation import service

    running, _, _ = stack
    loads, real = [], service.load_real_dataset

    def slow_load(*args, **kwargs):
        loads.append(threading.get_ident())
        time.sleep(1.0)
        return real(*args, **kwargs)

    monkeypatch.setattr(service, "load_real_dataset", slow_load)
    answers = []

    def call() -> None:
        with GenerationClient(running.address) as client:
            answers.append(client.import_real_data("sms_spam", max_train_rows=30, max_test_rows=10, seed=7))

    threads = [threading.Thread(target=call) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(loads) == 1 and len(answers) == 3 and len(set(map(str, answers))) == 1
