"""Cross-run caching keyed by the content of input artifacts (a temporary Prefect server and a
real local artifact store; the tasks here stand in for service calls and count their runs)."""

from __future__ import annotations

import shutil

import pytest
from prefect import flow, task

from orchestration.caching import ARTIFACT_INPUTS, artifact_uris, content_view, manifest_digest
from synthclf.core.artifacts import publish, split_uri
from synthclf.core.store import open_store

RUNS: list[str] = []


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("SYNTHCLF_ARTIFACT_STORE", str(tmp_path / "artifacts"))
    monkeypatch.setenv("SYNTHCLF_CACHE_DIR", str(tmp_path / "cache"))
    from synthclf.core.config import get_settings

    RUNS.clear()
    return open_store(str(tmp_path / "artifacts"), get_settings())


def _dataset(store, tmp_path, artifact_id: str, text: str) -> str:
    folder = tmp_path / f"stage-{artifact_id}-{len(text)}"
    folder.mkdir()
    (folder / "data.jsonl").write_text(text)
    return publish(store, folder, kind="dataset", artifact_id=artifact_id, service="test").uri


@task(cache_policy=ARTIFACT_INPUTS, persist_result=True)
def derive(endpoints: str, dataset_uri: str, options: dict) -> str:
    """Stands in for a job: publishes a 'model' from a dataset and returns its URI."""
    from synthclf.core.config import get_settings

    RUNS.append(dataset_uri)
    location, _, artifact_id = split_uri(dataset_uri)
    store = open_store(location, get_settings())
    store.put_bytes(f"model/m-{artifact_id}/weights.bin", b"w")
    store.put_bytes(f"model/m-{artifact_id}/manifest.json", b"{}")
    return store.uri(f"model/m-{artifact_id}")


@flow
def pipeline(dataset_uri: str, endpoints: str = "127.0.0.1:1", options: dict | None = None) -> str:
    return derive(endpoints, dataset_uri, options or {"epochs": 1})


def test_content_view_replaces_uris_by_manifest_digests(store, tmp_path):
    uri = _dataset(store, tmp_path, "d1", "a\n")
    view = content_view({"data": [uri], "n": 3})
    assert view == {"data": [{"store": split_uri(uri)[0], "manifest_sha256": manifest_digest(uri)}], "n": 3}
    assert content_view(uri.replace("d1", "gone")) == {"missing": uri.replace("d1", "gone")}
    assert artifact_uris({"a": [uri, "sms_spam"], "b": ("s3://b/x/dataset/d2",)}) == [uri, "s3://b/x/dataset/d2"]


def test_second_run_is_cached_and_ignores_where_services_listen(prefect_api, store, tmp_path):
    uri = _dataset(store, tmp_path, "d1", "a\n")
    first = pipeline(uri)
    assert pipeline(uri, endpoints="elsewhere:2") == first
    assert RUNS == [uri]
    pipeline(uri, options={"epochs": 2})  # another parameter: another key
    assert len(RUNS) == 2


def test_changed_input_content_under_the_same_uri_runs_again(prefect_api, store, tmp_path):
    uri = _dataset(store, tmp_path, "d1", "a\n")
    pipeline(uri)
    shutil.rmtree(store.local_path("dataset/d1"))  # publish never overwrites: delete, then re-create
    assert _dataset(store, tmp_path, "d1", "a\nb\n") == uri  # re-created: same URI, new content
    pipeline(uri)
    assert RUNS == [uri, uri]


def test_a_cached_result_naming_a_deleted_artifact_runs_again(prefect_api, store, tmp_path):
    uri = _dataset(store, tmp_path, "d1", "a\n")
    model_uri = pipeline(uri)
    shutil.rmtree(store.local_path(f"model/{split_uri(model_uri)[2]}"))
    assert pipeline(uri) == model_uri  # re-created instead of handing on a dangling URI
    assert manifest_digest(model_uri) is not None
    assert RUNS == [uri, uri]
    pipeline(uri)
    assert len(RUNS) == 2  # and cached again
