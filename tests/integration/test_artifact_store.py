"""Artifact-store contract, run once per backend: local folder and S3 (moto's server on loopback)."""

from __future__ import annotations

import json

import pytest

from synthclf.core.artifacts import fetch, find, job_id, publish, read_manifest, staging
from synthclf.core.errors import IntegrityError, InvalidInput, NotFound
from synthclf.core.store import open_store


@pytest.fixture
def store(store_settings):
    store = open_store(store_settings.artifact_store, store_settings)
    store.check()
    return store


def test_bytes_round_trip_and_listing(store):
    store.put_bytes("a/b/one.txt", b"1")
    store.put_bytes("a/two.txt", b"22")
    assert store.get_bytes("a/b/one.txt") == b"1"
    assert store.exists("a/two.txt") and not store.exists("a/three.txt")
    assert store.list("a") == ["a/b/one.txt", "a/two.txt"]


def test_missing_key_is_not_found(store):
    with pytest.raises(NotFound):
        store.get_bytes("nope/missing.txt")


def test_publish_then_fetch_verifies(store, store_settings):
    with staging() as folder:
        (folder / "data.jsonl").write_text('{"text": "hi", "label": "ham"}\n')
        (folder / "sub").mkdir()
        (folder / "sub" / "x.json").write_text("{}")
        ref = publish(store, folder, kind="dataset", artifact_id="d1", service="test",
                      parameters={"n": 1}, inputs=["s3://x/dataset/parent"], stats={"rows": 1})
    assert find(store, "dataset", "d1") == ref
    manifest = read_manifest(ref.uri, store_settings)
    assert manifest.kind == "dataset" and manifest.producer.service == "test"
    assert manifest.inputs == ["s3://x/dataset/parent"]
    assert {f.path for f in manifest.files} == {"data.jsonl", "sub/x.json"}
    assert all(len(f.sha256) == 64 and f.size > 0 for f in manifest.files)
    local = fetch(ref.uri, store_settings)
    assert (local.path / "data.jsonl").read_text().startswith('{"text"')


def test_tampered_file_is_refused(store, store_settings):
    with staging() as folder:
        (folder / "data.jsonl").write_text("original\n")
        ref = publish(store, folder, kind="dataset", artifact_id="d2", service="test")
    store.put_bytes("dataset/d2/data.jsonl", b"tampered\n")
    with pytest.raises(IntegrityError, match="data.jsonl"):
        fetch(ref.uri, store_settings)


def test_unpublished_artifact_is_not_found(store, store_settings):
    store.put_bytes("dataset/half/data.jsonl", b"x")  # files without a manifest: not an artifact
    assert find(store, "dataset", "half") is None
    with pytest.raises(NotFound, match="manifest.json missing"):
        fetch(store.uri("dataset/half"), store_settings)


def test_empty_artifact_is_refused(store):
    with staging() as folder, pytest.raises(InvalidInput):
        publish(store, folder, kind="dataset", artifact_id="empty", service="test")


def test_manifest_is_written_last(store, monkeypatch):
    order = []
    put_file, put_bytes = store.put_file, store.put_bytes
    monkeypatch.setattr(store, "put_file", lambda k, p: (order.append(k), put_file(k, p)))
    monkeypatch.setattr(store, "put_bytes", lambda k, d: (order.append(k), put_bytes(k, d)))
    with staging() as folder:
        for name in ("a.txt", "b.txt"):
            (folder / name).write_text(name)
        publish(store, folder, kind="model", artifact_id="m", service="test")
    assert order[-1] == "model/m/manifest.json"
    assert set(order[:-1]) == {"model/m/a.txt", "model/m/b.txt"}


def test_job_id_is_canonical():
    assert job_id("x", {"a": 1, "b": [1, 2]}) == job_id("x", {"b": [1, 2], "a": 1})
    assert job_id("x", {"a": 1}) != job_id("x", {"a": 2})
    assert json.dumps(job_id("x", {})).startswith('"x-')
