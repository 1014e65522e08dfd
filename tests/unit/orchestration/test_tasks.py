"""Prefect tasks against a real analysis server: which refusals a task turns into "nothing to do"."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from orchestration.config import Endpoints
from orchestration.tasks import instance_subjectivity
from synthclf.core.artifacts import publish, staging
from synthclf.core.config import Settings
from synthclf.core.errors import InvalidInput
from synthclf.core.schema import to_jsonl, write_jsonl
from synthclf.core.store import open_store
from synthclf.server import start_server

ROWS = [("win a prize", "spam"), ("see you", "ham"), ("free cash", "spam"), ("ok", "ham")]


@pytest.fixture(scope="module")
def analysis(tmp_path_factory):
    """An analysis server, a test split without per-annotator labels and an evaluation on it."""
    root = tmp_path_factory.mktemp("tasks")
    settings = Settings(artifact_store=str(root / "artifacts"), cache_dir=root / "cache")
    store = open_store(settings.artifact_store, settings)
    with staging() as folder:
        to_jsonl(pd.DataFrame(ROWS, columns=["text", "label"]).assign(split="test"), folder / "data.jsonl")
        dataset = publish(store, folder, kind="dataset", artifact_id="no-raters", service="tests",
                          stats={"rows": len(ROWS), "source": "real", "split": "test", "task": "sms_spam"}).uri
    with staging() as folder:
        (folder / "metrics.json").write_text(json.dumps({"labels": ["ham", "spam"], "macro_f1": 1.0, "tags": {}}))
        write_jsonl(({"row": i, "gold": label, "predicted": label} for i, (_, label) in enumerate(ROWS)),
                    folder / "predictions.jsonl")
        evaluation = publish(store, folder, kind="evaluation", artifact_id="eval-no-raters", service="tests",
                             parameters={"dataset_uri": dataset}).uri
    running = start_server(["analysis"], settings, port=0)
    yield Endpoints.all_in_one(running.address), dataset, evaluation
    running.stop(grace_s=1)


def test_only_data_without_raters_is_skipped(prefect_api, analysis):
    from prefect.logging import disable_run_logger

    endpoints, dataset, evaluation = analysis
    with disable_run_logger():
        assert instance_subjectivity.fn(endpoints, evaluation) == ""  # no per-annotator labels: nothing to sweep
        with pytest.raises(InvalidInput, match="evaluation"):  # a dataset where an evaluation belongs fails the run
            instance_subjectivity.fn(endpoints, dataset)
