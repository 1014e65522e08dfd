"""The step flows against the four real services on loopback (real data, no LLM), and their
cross-run cache: a second run makes no call to the services."""

from __future__ import annotations

import pytest

from orchestration.config import Endpoints, TrainingOptions
from orchestration.flows import evaluate, train_classifier
from orchestration.tasks import import_real_data
from synthclf.analysis.condition import Condition
from synthclf.core.artifacts import read_manifest
from synthclf.core.config import Settings
from synthclf.core.store import open_store
from synthclf.server import start_server

TINY = TrainingOptions(epochs=1, batch_size=8, max_length=32)
REAL = Condition(task="sms_spam", source="real")


@pytest.fixture(scope="module")
def services(tmp_path_factory):
    root = tmp_path_factory.mktemp("flows")
    settings = Settings(artifact_store=str(root / "artifacts"), cache_dir=root / "cache")
    running = start_server(["all"], settings, port=0)
    yield settings, Endpoints.all_in_one(running.address)
    running.stop(grace_s=1)


def _task_states(flow_state) -> dict[str, str]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(flow_run_filter=FlowRunFilter(
            id=FlowRunFilterId(any_=[flow_state.state_details.flow_run_id])))
    return {run.task_key.rsplit(".", 1)[-1].split("-")[0]: run.state.name for run in runs}


def test_train_and_evaluate_flows_then_all_cached(services, tmp_path, monkeypatch):
    from prefect.settings import PREFECT_RESULTS_LOCAL_STORAGE_PATH, temporary_settings
    from prefect.testing.utilities import prefect_test_harness

    settings, endpoints = services
    monkeypatch.setenv("SYNTHCLF_ARTIFACT_STORE", settings.artifact_store)  # the cache keys' store
    store = open_store(settings.artifact_store, settings)
    with prefect_test_harness(server_startup_timeout=None), \
            temporary_settings(updates={PREFECT_RESULTS_LOCAL_STORAGE_PATH: tmp_path / "results"}):
        splits = import_real_data.fn(endpoints, "sms_spam", 24, 40, 0)
        trained = train_classifier("sms_spam", [splits.train, splits.train], counts=[10, 0],
                                   fractions=[0.0, 0.5], options=TINY, endpoints=endpoints)
        scored = evaluate(trained.onnx_uri, splits.test, REAL, endpoints=endpoints)
        artifacts = store.list("")
        train_again = train_classifier("sms_spam", [splits.train, splits.train], counts=[10, 0],
                                       fractions=[0.0, 0.5], options=TINY, endpoints=endpoints, return_state=True)
        evaluate_again = evaluate(trained.onnx_uri, splits.test, REAL, endpoints=endpoints, return_state=True)
        states = {**_task_states(train_again), **_task_states(evaluate_again)}
        assert train_again.result() == trained and evaluate_again.result() == scored

    model = read_manifest(trained.model_uri, settings)
    assert [(i["rows_drawn"]) for i in model.stats["inputs"]] == [10, 12]  # the mixture, as asked
    assert read_manifest(trained.onnx_uri, settings).inputs == [trained.model_uri]
    assert scored.support == 40 and 0.0 <= scored.macro_f1 <= 1.0
    assert states == {"train_classifier": "Cached", "export_onnx": "Cached", "load_model": "Completed",
                      "evaluate_model": "Cached"}
    assert store.list("") == artifacts  # nothing new was produced
