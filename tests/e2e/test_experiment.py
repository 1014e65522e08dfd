"""The experiment flow end to end: Prefect's local API, the four services over gRPC on loopback,
the real local LLM (llama.cpp + Gemma-3-270M), and artifacts on moto's S3 server."""

from __future__ import annotations

import pytest

from orchestration.flows import Endpoints, ExperimentConfig, experiment
from synthclf.core.artifacts import read_manifest
from synthclf.core.config import get_settings
from synthclf.llm_server import LocalLLMServer
from synthclf.server import start_server

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def llm_url():
    with LocalLLMServer(get_settings().cache_dir) as server:
        yield server.base_url


def test_experiment_flow_on_sms_spam(llm_url, s3_endpoint, tmp_path, monkeypatch):
    from prefect.testing.utilities import prefect_test_harness

    monkeypatch.setenv("SYNTHCLF_ARTIFACT_STORE", "s3://synthclf-e2e/artifacts")
    monkeypatch.setenv("SYNTHCLF_S3_ENDPOINT", s3_endpoint)
    monkeypatch.setenv("SYNTHCLF_S3_ACCESS_KEY", "testing")
    monkeypatch.setenv("SYNTHCLF_S3_SECRET_KEY", "testing")
    monkeypatch.setenv("SYNTHCLF_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("SYNTHCLF_LLM_BASE_URL", llm_url)
    settings = get_settings()
    running = start_server(["all"], settings, port=0)
    config = ExperimentConfig(task="sms_spam", rows_per_label=4, real_train_rows=24, test_rows=60,
                              epochs=1, max_length=32, batch_size=8)
    try:
        with prefect_test_harness(server_startup_timeout=120):
            result = experiment(config, Endpoints.all_in_one(running.address))
    finally:
        running.stop(grace_s=1)

    assert set(result.metrics) == {"real", "zero_shot", "few_shot"}
    for source, values in result.metrics.items():
        assert 0.0 <= values["macro_f1"] <= 1.0 and 0.0 <= values["accuracy"] <= 1.0, source
        assert values["support"] == 60, source  # every text of the real test split was scored
    report = read_manifest(result.report_uri, settings)
    assert report.kind == "report" and result.report_uri.startswith("s3://synthclf-e2e/")
    evaluations = [read_manifest(u, settings) for u in report.inputs if "/evaluation/" in u]
    assert len(evaluations) == 3
    test_uris = {m.parameters["dataset_uri"] for m in evaluations}
    assert len(test_uris) == 1  # all three models scored on the same real test split
    test_split = read_manifest(test_uris.pop(), settings)
    assert test_split.stats["source"] == "real" and test_split.stats["split"] == "test"
    for source in ("real", "zero_shot", "few_shot"):
        assert f"{source} (Macro-F1" in result.markdown
