"""The ``own_task`` flow (deployment ``own_task/default``) as a Prefect UI user runs it: a task
URI and an upload URI as parameters, the four services on loopback, Prefect's local API.
Real training data only (no LLM), tiny sizes."""

from __future__ import annotations

import pandas as pd
import pytest

from orchestration.config import Endpoints
from orchestration.own_task import own_task
from synthclf.clients import GenerationClient
from synthclf.core.artifacts import read_manifest
from synthclf.core.config import Settings
from synthclf.core.corpora import load_real_dataset
from synthclf.core.errors import InvalidInput
from synthclf.server import start_server

TASK = """\
name: my_spam
text_type: SMS message
labels:
  - {name: ham, description: an ordinary personal text message}
  - {name: spam, description: unsolicited advertising or a scam}
"""


@pytest.fixture(scope="module")
def services(tmp_path_factory):
    root = tmp_path_factory.mktemp("own-task")
    settings = Settings(artifact_store=str(root / "artifacts"), cache_dir=root / "cache")
    running = start_server(["all"], settings, port=0)
    yield settings, Endpoints.all_in_one(running.address)
    running.stop(grace_s=1)


def test_own_task_flow_on_a_task_uri_and_an_upload_uri(services, tmp_path, monkeypatch):
    from prefect.settings import PREFECT_RESULTS_LOCAL_STORAGE_PATH, temporary_settings
    from prefect.testing.utilities import prefect_test_harness

    settings, endpoints = services
    monkeypatch.setenv("SYNTHCLF_ARTIFACT_STORE", settings.artifact_store)
    frame = load_real_dataset("sms_spam").groupby("label").head(30)
    frame.rename(columns={"text": "sms", "label": "class"})[["sms", "class"]].to_csv(tmp_path / "sms.csv", index=False)
    bad = pd.concat([frame, pd.DataFrame({"text": ["hello there"], "label": ["unknown"]})])
    bad.rename(columns={"text": "sms", "label": "class"})[["sms", "class"]].to_csv(tmp_path / "bad.csv", index=False)
    with GenerationClient(endpoints.generation) as client:
        task_uri = client.publish_task(TASK).task.uri
        data_uri = client.upload(tmp_path / "sms.csv").upload.uri
        bad_uri = client.upload(tmp_path / "bad.csv").upload.uri
    with prefect_test_harness(server_startup_timeout=None), \
            temporary_settings(updates={PREFECT_RESULTS_LOCAL_STORAGE_PATH: tmp_path / "results"}):
        result = own_task(task_uri, data_uri, text_column="sms", label_column="class", sources=["real"],
                          real_train_rows=24, test_rows=12, epochs=1, endpoints=endpoints)
        with pytest.raises(InvalidInput, match=r"'unknown' \(first at file 'bad.csv', row 61 \(line 62\)\)"):
            own_task(task_uri, bad_uri, text_column="sms", label_column="class", sources=["real"],
                     real_train_rows=24, test_rows=12, epochs=1, endpoints=endpoints)
    [outcome] = [o for o in result.outcomes if o.real_per_label == 0]  # the Table-1 model (curve points aside)
    assert outcome.task == "my_spam" and outcome.evaluation is not None, outcome.error
    assert outcome.evaluation.support == 12
    assert result.table.splitlines()[0] == "| task | real |" and "| my_spam |" in result.table
    assert "my_spam" in result.report_markdown
    evaluation = read_manifest(outcome.evaluation.uri, settings)
    test_split = read_manifest(evaluation.parameters["dataset_uri"], settings)
    assert test_split.inputs == [data_uri, task_uri] and test_split.stats["split"] == "test"
