"""The artifact store as a trust boundary (issue 11): the URI resolver, manifest entry paths,
local symlinks and unlisted files, staging leftovers, identical concurrent jobs, malloc arenas.

Backend-shared behaviour (crafted manifests on local and S3) is in
tests/integration/test_artifact_store.py; through the gRPC services in
tests/integration/test_store_boundary.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from pydantic import ValidationError

from synthclf.core import jobs
from synthclf.core.allocator import ENV_VAR, limit_malloc_arenas
from synthclf.core.artifacts import fetch, find, publish, resolve, single_flight, staging, sweep_staging
from synthclf.core.config import Settings
from synthclf.core.errors import IntegrityError, InvalidInput
from synthclf.core.manifest import FileEntry, json_depth
from synthclf.core.store import open_store

SHA = "0" * 64


@pytest.fixture
def local(tmp_path) -> Settings:
    return Settings(artifact_store=str(tmp_path / "artifacts"), cache_dir=tmp_path / "cache")


@pytest.fixture
def s3(tmp_path) -> Settings:
    return Settings(artifact_store="s3://synthclf/artifacts", cache_dir=tmp_path / "cache")


def _publish(settings: Settings, artifact_id: str = "d1", text: str = "x\n"):
    with staging() as folder:
        (folder / "data.jsonl").write_text(text)
        return publish(open_store(settings.artifact_store, settings), folder, kind="dataset",
                       artifact_id=artifact_id, service="test")


def test_local_store_accepts_its_own_forms(local, tmp_path, monkeypatch):
    root = tmp_path / "artifacts"
    canonical = (root / "dataset" / "d1").as_uri()
    alias = tmp_path / "alias"
    root.mkdir()
    alias.symlink_to(root)
    monkeypatch.chdir(tmp_path)
    for uri in (canonical, canonical + "/", str(root / "dataset" / "d1"), "artifacts/dataset/d1",
                (alias / "dataset" / "d1").as_uri(), "file://localhost" + str(root / "dataset" / "d1")):
        ref = resolve(uri, local, kind="dataset")
        assert (ref.uri, ref.kind, ref.id) == (canonical, "dataset", "d1"), uri


@pytest.mark.parametrize("uri", [
    "file://{root}/../outside/dataset/d1", "file://{root}/dataset/../dataset/d1", "{root}/dataset/d1/..",
    "file://{root}/dataset/%2e%2e", "file://{root}/dataset/d1/extra", "{root}/dataset", "file://{root}",
    "file://evil.example{root}/dataset/d1", "file://{root}/dataset/d1?x=1", "file://{root}/dataset/d1#f",
    "file://{root}/dataset/d%00", "{root}\\dataset\\d1", "s3://synthclf/artifacts/dataset/d1",
    "http://127.0.0.1/artifacts/dataset/d1", "//host/share/dataset/d1", "file:///etc/passwd",
    "/etc/ssh/sshd_config", "file://{root}/dataset/" + "x" * 3000, "file://{root}/data set/d1", "",
])
def test_local_store_refuses_everything_else(local, tmp_path, uri):
    with pytest.raises(InvalidInput, match="artifact URI"):
        resolve(uri.format(root=tmp_path / "artifacts"), local)


def test_symlinked_artifact_folder_is_refused(local, tmp_path):
    outside = tmp_path / "outside" / "d1"
    outside.mkdir(parents=True)
    (tmp_path / "artifacts" / "dataset").mkdir(parents=True)
    (tmp_path / "artifacts" / "dataset" / "d1").symlink_to(outside)
    with pytest.raises(InvalidInput, match="symbolic link"):
        resolve((tmp_path / "artifacts" / "dataset" / "d1").as_uri(), local)


def test_s3_store_accepts_only_its_bucket_and_prefix(s3, tmp_path):
    for uri in ("s3://synthclf/artifacts/dataset/d1", "s3://synthclf/artifacts/dataset/d1/"):
        assert resolve(uri, s3).uri == "s3://synthclf/artifacts/dataset/d1"
    refused = ["s3://another-bucket/artifacts/dataset/d1", "s3://synthclf/dataset/d1",
               "s3://synthclf/other/dataset/d1", "s3://synthclf/artifacts/x/dataset/d1",
               "s3://synthclf/artifacts//dataset/d1", "s3://synthclf/artifacts/dataset/..",
               "s3://synthclf/artifacts/../artifacts/dataset/d1", "s3://synthclf@evil/artifacts/dataset/d1",
               (tmp_path / "cache" / "dataset" / "d1").as_uri(), str(tmp_path / "cache" / "dataset" / "d1"),
               "file:///etc/passwd", "dataset/d1"]
    for uri in refused:
        with pytest.raises(InvalidInput) as caught:
            resolve(uri, s3)
        message = caught.value.message
        assert "artifact URIs must be s3://synthclf/artifacts/<kind>/<id>" in message, uri
        assert str(tmp_path / "cache") not in message.replace(repr(uri)[1:-1], ""), uri


def test_kind_is_checked_against_the_uri(local, tmp_path):
    uri = (tmp_path / "artifacts" / "evaluation" / "e1").as_uri()
    assert resolve(uri, local, kind=("evaluation", "report")).kind == "evaluation"
    with pytest.raises(InvalidInput, match="is a 'evaluation' artifact, not a dataset"):
        resolve(uri, local, kind="dataset")


@pytest.mark.parametrize("path", ["/etc/passwd", "../x", "a/../../x", "a/./b", "a//b", "a/", "a\\b", "a\x00b",
                                  "", "manifest.json", "x" * 2000, "line\nbreak"])
def test_manifest_entry_paths_must_stay_inside_the_folder(path):
    with pytest.raises(ValidationError, match="path"):
        FileEntry(path=path, sha256=SHA, size=1)


def test_manifest_entry_fields_are_typed():
    assert FileEntry(path="figures/curves-x.png", sha256=SHA, size=0).path == "figures/curves-x.png"
    for bad in ({"sha256": "xyz"}, {"size": -1}, {"size": "1"}, {"size": True}):
        with pytest.raises(ValidationError):
            FileEntry(**{"path": "a", "sha256": SHA, "size": 1, **bad})


def test_json_depth_ignores_brackets_inside_strings():
    assert json_depth(b'{"a": "[[[[{{{", "b": [1, [2]]}') == 3
    assert json_depth(b'"\\"[[["') == 0
    assert json_depth(b"[" * 100_000) == 100_000


def test_symlinked_file_in_a_local_artifact_is_refused(local, tmp_path):
    ref = _publish(local)
    outside = tmp_path / "same-bytes.jsonl"
    outside.write_text("x\n")
    data = tmp_path / "artifacts" / "dataset" / "d1" / "data.jsonl"
    data.unlink()
    data.symlink_to(outside)
    with pytest.raises(IntegrityError, match="symbolic link"):
        fetch(ref.uri, local)


def test_unlisted_file_in_a_local_artifact_is_refused(local, tmp_path):
    ref = _publish(local)
    (tmp_path / "artifacts" / "dataset" / "d1" / "tokenizer.json").write_text("{}")
    with pytest.raises(IntegrityError, match="does not list .*tokenizer.json"):
        fetch(ref.uri, local)


def _stage_folder(temp: Path, name: str, age_h: float = 0.0) -> Path:
    folder = temp / name
    folder.mkdir()
    (folder / "weights.bin").write_bytes(b"w")
    stamp = time.time() - age_h * 3600
    os.utime(folder, (stamp, stamp))
    return folder


def test_sweep_removes_leftovers_of_dead_processes_only(local, tmp_path, monkeypatch):
    """Finding 9: kill -9 during Train left staging folders in the temp dir forever."""
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True).stdout.strip()
    prefix = jobs.STAGE_PREFIX
    gone = [_stage_folder(tmp_path, f"{prefix}{dead}.abcd1234-x1"),
            _stage_folder(tmp_path, f"{prefix}{os.getpid()}.00000000-x2"),  # this pid, an earlier run
            _stage_folder(tmp_path, f"{prefix}{os.getppid()}.abcd1234-x3", age_h=25),
            _stage_folder(tmp_path, f"{prefix}old-format", age_h=25)]
    kept = [_stage_folder(tmp_path, f"{prefix}{os.getppid()}.abcd1234-x4"),  # a live process's job
            _stage_folder(tmp_path, f"{prefix}young-format"), _stage_folder(tmp_path, "unrelated", age_h=99)]
    with staging() as mine:
        assert sweep_staging(local, tmp_path) == len(gone)
        assert mine.is_dir()
    assert not any(p.exists() for p in gone) and all(p.is_dir() for p in kept)


def test_staging_of_a_job_thread_is_removed_when_the_process_exits(tmp_path):
    """SIGTERM makes a server return from serve_forever; daemon job threads never reach their
    finally, so interpreter exit removes their staging folders."""
    script = (f"import tempfile, threading, time; tempfile.tempdir = {str(tmp_path)!r}\n"
              "from synthclf.core.artifacts import staging\n"
              "def job():\n    with staging() as f:\n        print(f, flush=True); time.sleep(60)\n"
              "threading.Thread(target=job, daemon=True).start(); time.sleep(1)\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env,
                         timeout=60, check=True).stdout.strip()
    assert out.startswith(str(tmp_path / jobs.STAGE_PREFIX)) and not Path(out).exists()


def test_identical_concurrent_jobs_run_once_and_share_the_artifact(local):
    """Finding 9: two identical Train calls both trained and published to one id."""
    store = open_store(local.artifact_store, local)
    runs, spans = [], []

    @single_flight("dataset")
    def job(text: str, progress=None):
        if existing := find(store, "dataset", f"job-{len(text)}"):
            return existing
        start = time.monotonic()
        runs.append(text)
        time.sleep(0.4)
        spans.append((start, time.monotonic()))
        with staging() as folder:
            (folder / "data.jsonl").write_text(text)
            return publish(store, folder, kind="dataset", artifact_id=f"job-{len(text)}", service="test")

    results = []
    threads = [threading.Thread(target=lambda i=i: results.append(job("same\n", progress=i))) for i in range(4)]
    threads += [threading.Thread(target=lambda: results.append(job("other!\n")))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(runs) == ["other!\n", "same\n"]  # progress callbacks are not part of the key
    assert len({r.uri for r in results if r.id == "job-5"}) == 1 and len(results) == 5
    (a0, a1), (b0, b1) = spans
    assert a0 < b1 and b0 < a1  # different jobs are not serialised


def test_concurrent_publishers_of_one_id_create_it_once(local):
    store = open_store(local.artifact_store, local)
    barrier, refs = threading.Barrier(4), []

    def publisher(i: int) -> None:
        with staging() as folder:
            (folder / "data.jsonl").write_text(f"run {i}: not byte-identical\n")
            (folder / "extra.txt").write_text(str(i) * (i + 1))
            barrier.wait()
            refs.append(publish(store, folder, kind="dataset", artifact_id="raced", service="test"))

    threads = [threading.Thread(target=publisher, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    artifact = fetch(refs[0].uri, local)  # files match the one manifest that was created
    assert len({r.uri for r in refs}) == 1 and artifact.file("data.jsonl").read_text().startswith("run ")
    assert store.list("dataset") == ["dataset/raced/data.jsonl", "dataset/raced/extra.txt",
                                     "dataset/raced/manifest.json"]


def test_malloc_arenas_are_limited_for_this_process_and_its_children(monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)
    assert limit_malloc_arenas(Settings(malloc_arena_max=0)) is False and ENV_VAR not in os.environ
    assert limit_malloc_arenas(Settings(malloc_arena_max=2)) is True
    assert os.environ[ENV_VAR] == "2"


def test_s3_cache_folder_behind_a_symlink_is_never_written_through(s3, tmp_path):
    """fetch on S3 writes only inside cache_dir/<kind>/<id>/: a symlink planted on the way is
    refused before anything is created or downloaded through it."""
    from synthclf.core.artifacts import ArtifactRef, _download
    from synthclf.core.manifest import Manifest, Producer

    outside = tmp_path / "outside"
    outside.mkdir()
    (tmp_path / "cache" / "dataset").mkdir(parents=True)
    (tmp_path / "cache" / "dataset" / "d1").symlink_to(outside)
    manifest = Manifest(kind="dataset", id="d1", producer=Producer(service="x"),
                        files=[FileEntry(path="sub/data.jsonl", sha256=SHA, size=1)])
    ref = ArtifactRef(uri="s3://synthclf/artifacts/dataset/d1", kind="dataset", id="d1")
    with pytest.raises(IntegrityError, match="symbolic link"):
        _download(object(), ref, manifest, tmp_path / "cache" / "dataset" / "d1")
    assert list(outside.iterdir()) == []
