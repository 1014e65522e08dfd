"""The experiment flow end to end: Prefect's local API, the four services over gRPC on loopback,
the real default local LLM (llama.cpp + Qwen2.5-Coder-1.5B-Instruct, chat prompts with JSON
output), and artifacts on moto's S3 server."""

from __future__ import annotations

import json

import pytest
from sklearn.metrics import accuracy_score, f1_score

from orchestration.config import Endpoints
from orchestration.flows import experiment
from orchestration.presets import PRESETS
from synthclf.core.artifacts import fetch, read_manifest
from synthclf.core.config import get_settings
from synthclf.core.schema import read_jsonl_records
from synthclf.core.store import open_store
from synthclf.llm_server import LocalLLMServer
from synthclf.server import start_server

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def llm_url():
    with LocalLLMServer(get_settings().cache_dir) as server:
        yield server.base_url


def _task_runs(flow_run_id) -> list:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId, FlowRunFilterParentFlowRunId

    with get_client(sync_client=True) as client:
        runs = [flow_run_id] + [r.id for r in client.read_flow_runs(flow_run_filter=FlowRunFilter(
            parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[flow_run_id])))]
        return [t for run in runs for t in client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run])))]


def test_experiment_flow_on_sms_spam(llm_url, s3_endpoint, tmp_path, monkeypatch):
    from prefect.settings import PREFECT_RESULTS_LOCAL_STORAGE_PATH, temporary_settings
    from prefect.testing.utilities import prefect_test_harness

    monkeypatch.setenv("SYNTHCLF_ARTIFACT_STORE", "s3://synthclf-e2e/artifacts")
    monkeypatch.setenv("SYNTHCLF_S3_ENDPOINT", s3_endpoint)
    monkeypatch.setenv("SYNTHCLF_S3_ACCESS_KEY", "testing")
    monkeypatch.setenv("SYNTHCLF_S3_SECRET_KEY", "testing")
    monkeypatch.setenv("SYNTHCLF_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("SYNTHCLF_LLM_BASE_URL", llm_url)
    settings = get_settings()
    running = start_server(["all"], settings, port=0)
    config = PRESETS["smoke"]
    try:
        with prefect_test_harness(server_startup_timeout=None), \
                temporary_settings(updates={PREFECT_RESULTS_LOCAL_STORAGE_PATH: tmp_path / "results"}):
            result = experiment(config, endpoints=Endpoints.all_in_one(running.address))
            store = open_store(settings.artifact_store, settings)
            artifacts = sorted(store.list(""))
            again = experiment(config, endpoints=Endpoints.all_in_one(running.address), return_state=True)
            rerun_tasks = _task_runs(again.state_details.flow_run_id)
            assert sorted(store.list("")) == artifacts  # the services saw no new job
    finally:
        running.stop(grace_s=1)

    assert again.result().table == result.table
    # load_model is never cached (it changes the inference service); "analyze" is the subflow's run.
    states = {(t.name.rsplit("-", 1)[0], t.state.name) for t in rerun_tasks}
    assert {state for name, state in states if name not in ("load_model", "analyze")} == {"Cached"}, states
    assert {o.source for o in result.outcomes} == {"real", "zero_shot", "few_shot"}
    # Table 1 (3) + the learning curve (sizes 8, 16 × seeds 0, 1) + each synthetic set mixed into 8 real/label.
    assert sum(o.real_per_label == 0 for o in result.outcomes) == 3
    assert sorted(o.real_per_label for o in result.outcomes if o.source == "real" and o.real_per_label) == [8, 8, 16, 16]
    assert len([o for o in result.outcomes if o.source != "real" and o.real_per_label == 8]) == 4
    for outcome in result.outcomes:
        evaluation = outcome.evaluation
        assert evaluation is not None, outcome.error
        assert 0.0 <= evaluation.macro_f1 <= 1.0 and 0.0 <= evaluation.accuracy <= 1.0, outcome.source
        assert evaluation.support == 60, outcome.source  # every text of the real test split was scored
        # the reported numbers are the Macro-F1 (over all labels) and accuracy of the stored predictions
        scored = fetch(evaluation.uri, settings, kind="evaluation")
        rows = read_jsonl_records(scored.file("predictions.jsonl"))
        labels = json.loads(scored.file("metrics.json").read_text())["labels"]
        gold, predicted = [r["gold"] for r in rows], [r["predicted"] for r in rows]
        assert len(rows) == 60 and set(labels) == {"ham", "spam"}, outcome.source
        assert evaluation.macro_f1 == pytest.approx(
            f1_score(gold, predicted, labels=labels, average="macro", zero_division=0), abs=1e-6), outcome.source
        assert evaluation.accuracy == pytest.approx(accuracy_score(gold, predicted), abs=1e-6), outcome.source
    report = read_manifest(result.report_uri, settings)
    assert report.kind == "report" and result.report_uri.startswith("s3://synthclf-e2e/")
    evaluations = [read_manifest(u, settings) for u in report.inputs if "/evaluation/" in u]
    assert len(evaluations) == len(result.outcomes)
    test_uris = {m.parameters["dataset_uri"] for m in evaluations}
    assert len(test_uris) == 1  # every model scored on the same real test split
    test_split = read_manifest(test_uris.pop(), settings)
    assert test_split.stats["source"] == "real" and test_split.stats["split"] == "test"
    assert any("/diversity/" in u for u in result.analysis_uris)
    assert any("/similarity/" in u for u in result.analysis_uris)
    assert result.table.splitlines()[0] == "| task | real | zero_shot | few_shot |"
    (verdict,) = result.verdicts
    assert verdict.task == "sms_spam" and verdict.decision in ("replace", "stretch", "dont")
    assert set(verdict.equivalents) == {"zero_shot", "few_shot", "8 real/label + zero_shot", "8 real/label + few_shot"}
    assert any("/verdict/" in u for u in result.analysis_uris)
    assert result.report_markdown.index("## The answer") < result.report_markdown.index("## Table 1")
    assert "](figures/learning-curve-sms_spam.png)" in result.report_markdown
    datasets = [read_manifest(uri, settings) for o in result.outcomes
                for uri in read_manifest(o.model_uri, settings).inputs if "/dataset/" in uri]
    generated = [m for m in datasets if m.stats["source"] != "real"]
    assert {m.stats["source"] for m in generated} == {"zero_shot", "few_shot"}
    for manifest in generated:  # the default model, its chat prompts and JSON output
        assert manifest.stats["model"] == "qwen2.5-coder-1.5b-instruct"
        assert manifest.stats["prompt_style"] == "chat" and manifest.stats["structured_output"] is True
