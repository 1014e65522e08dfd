"""Artifact-store contract, run once per backend: local folder and S3 (moto's server on loopback),
including the store as a trust boundary (crafted manifests, foreign URIs: issue 11, findings 1-3, 7)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from synthclf.core.artifacts import fetch, find, job_id, publish, read_artifact_file, read_manifest, staging
from synthclf.core.errors import IntegrityError, InvalidInput, NotFound
from synthclf.core.store import LocalArtifactStore, open_store


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


def test_publish_never_overwrites_a_published_artifact(store, store_settings):
    with staging() as folder:
        (folder / "data.jsonl").write_text("first\n")
        ref = publish(store, folder, kind="dataset", artifact_id="once", service="test")
    with staging() as folder:
        (folder / "data.jsonl").write_text("second, from an identical concurrent job\n")
        assert publish(store, folder, kind="dataset", artifact_id="once", service="test") == ref
    assert fetch(ref.uri, store_settings).file("data.jsonl").read_text() == "first\n"


def test_manifest_is_written_last(store, store_settings, monkeypatch):
    """No reader ever sees the manifest before every file is in place (S3: PUT order; local:
    the folder appears by one rename, complete)."""
    seen = []
    with staging() as folder:
        for name in ("a.txt", "b.txt"):
            (folder / name).write_text(name)
        if isinstance(store, LocalArtifactStore):
            rename = os.rename
            monkeypatch.setattr(os, "rename", lambda src, dst: (seen.append(sorted(os.listdir(src))),
                                                                 rename(src, dst)))
        else:
            put_file, put_object = store.put_file, store.client._put_object
            monkeypatch.setattr(store, "put_file", lambda k, p: (seen.append(k), put_file(k, p)))
            monkeypatch.setattr(store.client, "_put_object",
                                lambda b, k, *a, **kw: (seen.append(k), put_object(b, k, *a, **kw))[1])
        publish(store, folder, kind="model", artifact_id="m", service="test")
    if isinstance(store, LocalArtifactStore):
        assert seen == [["a.txt", "b.txt", "manifest.json"]]
    else:
        assert seen[-1] == "artifacts/model/m/manifest.json"  # (put_file's own PUTs are in seen too)
        assert {"model/m/a.txt", "model/m/b.txt"} <= set(seen[:-1]) and "artifacts/model/m/manifest.json" not in seen[:-1]


def _craft(store, kind: str, artifact_id: str, files: list[dict], **fields) -> str:
    """Write a hand-made manifest (as an attacker with bucket access would) and return its URI."""
    manifest = {"kind": kind, "id": artifact_id, "producer": {"service": "x"}, "files": files, **fields}
    store.put_bytes(f"{kind}/{artifact_id}/manifest.json", json.dumps(manifest).encode())
    return store.uri(f"{kind}/{artifact_id}")


def test_crafted_manifest_cannot_write_or_unlink_outside_the_cache(store, store_settings, tmp_path):
    """Finding 1: an absolute or '..' entry path once made fetch write there, then unlink it."""
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    relative = os.path.relpath(victim, Path(store_settings.cache_dir) / "dataset" / "evil")
    for path in (str(victim), relative, "a/../../../victim.txt", "a\\..\\b", "a/./b", "x\u0000y"):
        if path == str(victim):  # the object an absolute entry names (S3 keys may hold '//')
            store.put_bytes(f"dataset/evil/{path}", b"attacker bytes")
        uri = _craft(store, "dataset", "evil", [{"path": path, "sha256": "0" * 64, "size": 14},
                                                {"path": "data.jsonl", "sha256": "0" * 64, "size": 1}])
        with pytest.raises(IntegrityError, match=r"files\.0\.path"):
            fetch(uri, store_settings)
    assert victim.read_text() == "precious"
    assert not any(p.is_file() for p in Path(store_settings.cache_dir).rglob("*"))


def test_manifest_entry_naming_a_server_file_is_no_size_oracle(store, store_settings, tmp_path):
    """Finding 2: {"path": "/etc/passwd", "size": 0} answered with the file's real size (and,
    on S3, the old fetch then unlinked it: the server file here is a temp file, never a real one)."""
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"s" * 12345)
    uri = _craft(store, "dataset", "oracle", [{"path": str(secret), "sha256": "0" * 64, "size": 0}])
    with pytest.raises(IntegrityError) as caught:
        fetch(uri, store_settings)
    assert "relative" in caught.value.message and "12345" not in caught.value.message
    assert secret.stat().st_size == 12345


@pytest.mark.parametrize("kind, files, missing", [
    ("dataset", [], "data.jsonl"), ("onnx-model", [], "model.onnx, labels.json"),
    ("model", [], "config.json, labels.json"), ("evaluation", [], "metrics.json")])
def test_manifest_without_the_files_its_kind_needs_is_refused(store, store_settings, kind, files, missing):
    """Finding 3: an onnx-model or dataset with "files": [] loaded, served and trained."""
    uri = _craft(store, kind, "hollow", files)
    with pytest.raises(IntegrityError, match=f"needs {missing}"):
        fetch(uri, store_settings)


@pytest.mark.parametrize("body, match", [
    (b"{not json", "not a valid manifest"),
    (b'{"kind": "dataset", "id": "bad", "producer": {"service": "x"}, "files": "data.jsonl"}', "files"),
    (b'{"kind": "dataset", "id": "bad", "producer": {"service": "x"}, "stats": []}', "stats"),
    (b'{"kind": "dataset", "id": "bad", "producer": {"service": "x"}, '
     b'"files": [{"path": "data.jsonl", "sha256": "0", "size": "1"}]}', "sha256"),
    (b'{"kind": "dataset", "id": "bad", "producer": {"service": "x"}, "stats": ' + b"[" * 5000 + b"]" * 5000 + b"}",
     "SYNTHCLF_MAX_MANIFEST_DEPTH"),
    (b'{"kind": "dataset", "id": "bad", "producer": {"service": "x"}, "stats": {"pad": "' + b"x" * (1 << 20) + b'"}}',
     "SYNTHCLF_MAX_MANIFEST_BYTES"),
    (b'{"kind": "model", "id": "other", "producer": {"service": "x"}}', "describes model/other"),
])
def test_malformed_manifest_is_data_loss_not_internal(store, store_settings, body, match):
    """Finding 7 (manifest part): malformed, wrong-typed, deep or huge manifests crashed into INTERNAL."""
    store.put_bytes("dataset/bad/manifest.json", body)
    for read in (fetch, read_manifest):
        with pytest.raises(IntegrityError, match=match):
            read(store.uri("dataset/bad"), store_settings)


def test_only_listed_files_are_opened(store, store_settings):
    with staging() as folder:
        (folder / "data.jsonl").write_text("x\n")
        ref = publish(store, folder, kind="dataset", artifact_id="listed", service="test")
    artifact = fetch(ref.uri, store_settings, kind="dataset")
    with pytest.raises(IntegrityError, match="no file 'labels.json'"):
        artifact.file("labels.json")
    assert artifact.file("labels.json", required=False) is None
    assert read_artifact_file(ref.uri, "data.jsonl", store_settings) == b"x\n"
    store.put_bytes("dataset/listed/data.jsonl", b"y\n")
    with pytest.raises(IntegrityError, match="sha256"):
        read_artifact_file(ref.uri, "data.jsonl", store_settings)


def test_uris_of_another_store_are_refused(store, store_settings):
    with staging() as folder:
        (folder / "data.jsonl").write_text("x\n")
        ref = publish(store, folder, kind="dataset", artifact_id="here", service="test")
    tail = "dataset/here"
    others = ["s3://another-bucket/artifacts/" + tail, "/etc/passwd", "file:///etc/passwd",
              ref.uri.replace("/dataset/", "/dataset/../dataset/"), ref.uri + "?x=1", "http://h/" + tail]
    if isinstance(store, LocalArtifactStore):
        others.append("s3://synthclf/artifacts/" + tail)
    else:
        others += [(Path(store_settings.cache_dir) / tail).as_uri(), ref.uri.replace("/artifacts/", "/other/")]
    for uri in others:
        with pytest.raises(InvalidInput, match="artifact URIs must be"):
            fetch(uri, store_settings)
    with pytest.raises(InvalidInput, match="is a 'dataset' artifact, not an onnx-model"):
        fetch(ref.uri, store_settings, kind="onnx-model")
    assert fetch(ref.uri + "/", store_settings).ref == ref


def test_cache_holds_exactly_the_listed_files(store, store_settings):
    """S3: a file left in the cache folder that the manifest does not list is removed, a
    symlink in place of a listed file is replaced (never followed)."""
    if isinstance(store, LocalArtifactStore):
        pytest.skip("local artifacts are verified in place (tests/unit/core/test_artifacts_security.py)")
    with staging() as folder:
        (folder / "data.jsonl").write_text("x\n")
        ref = publish(store, folder, kind="dataset", artifact_id="cached", service="test")
    cache = Path(store_settings.cache_dir) / "dataset" / "cached"
    cache.mkdir(parents=True)
    outside = cache.parent / "outside.txt"
    outside.write_text("keep")
    (cache / "data.jsonl").symlink_to(outside)
    (cache / "tokenizer.json").write_text("planted")
    artifact = fetch(ref.uri, store_settings)
    assert sorted(p.name for p in artifact.path.iterdir()) == ["data.jsonl"]
    assert not (cache / "data.jsonl").is_symlink() and outside.read_text() == "keep"


def test_job_id_is_canonical():
    assert job_id("x", {"a": 1, "b": [1, 2]}) == job_id("x", {"b": [1, 2], "a": 1})
    assert job_id("x", {"a": 1}) != job_id("x", {"a": 2})
    assert json.dumps(job_id("x", {})).startswith('"x-')
