"""The Prefect flow ``own_task``: the experiment on a user's published task and uploaded data.

A Prefect UI user fills in two URIs — a ``task`` artifact (``synthclf tasks publish
task.yaml``) and an ``upload`` artifact (``synthclf datasets upload data.csv``) — and the
column mapping; the flow validates the import (INVALID_ARGUMENT on bad data, nothing
published) and runs :func:`orchestration.flows.experiment` on it: real (size-matched) vs
zero-shot vs few-shot, Table 1 and the report. Deployment ``own_task/default`` in prefect.yaml.
"""

from __future__ import annotations

from prefect import flow

from orchestration.config import BASE_SOURCES, Endpoints, ExperimentConfig, UserData
from orchestration.flows import experiment
from orchestration.results import ExperimentResult


@flow(name="own_task")
def own_task(task_uri: str, data_uri: str, text_column: str = "text", label_column: str = "label",
             split_column: str = "", agreement_column: str = "", annotations_column: str = "",
             test_data_uri: str = "", sources: list[str] | None = None, rows_per_label: int = 50,
             real_train_rows: int = 0, test_rows: int = 0, epochs: int = 3, seed: int = 0,
             endpoints: Endpoints | None = None) -> ExperimentResult:
    """Real vs synthetic training data on your own task.

    Args:
        task_uri: the ``task`` artifact (or a catalog task name).
        data_uri: the ``upload`` artifact with your labelled data.
        text_column, label_column: columns with the texts and labels.
        split_column: column with train/test per row; '' = a stratified split.
        agreement_column, annotations_column: per-row agreement in [0, 1], or per-annotator labels.
        test_data_uri: optional ``upload`` with the test rows.
        sources: training data per model (default real, zero_shot, few_shot).
        rows_per_label: synthetic rows per label and mode.
        real_train_rows: real training rows; 0 = size-matched to a synthetic set.
        test_rows: real test rows; 0 = the whole test split.
        epochs: training epochs. seed: data and training seed.
        endpoints: service addresses; default from ``SYNTHCLF_*ADDRESS``.

    Returns:
        The experiment's outcomes, Table 1 and report.
    """
    data = UserData(upload_uri=data_uri, test_upload_uri=test_data_uri, text_column=text_column,
                    label_column=label_column, split_column=split_column, agreement_column=agreement_column,
                    annotations_column=annotations_column)
    config = ExperimentConfig(tasks=[task_uri], user_data={task_uri: data}, sources=sources or list(BASE_SOURCES),
                              real_train_rows=real_train_rows, test_rows=test_rows, data_seed=seed, seeds=[seed],
                              generation={"rows_per_label": rows_per_label}, training={"epochs": epochs})
    return experiment(config, endpoints=endpoints)
