"""What an experiment run produced: one outcome per trained model, Table 1, verdicts, Prefect artifacts.

:func:`table1_markdown` renders the paper's Table 1 from the outcomes with the one Table-1
aggregator (:func:`synthclf.analysis.table1.aggregate`: seeds as mean ± sd, backbones as rows);
:func:`verdict_markdown` the verdict per task. :func:`publish_run_artifacts` attaches both and
a link to the full report to the Prefect flow run.
"""

from __future__ import annotations

from prefect.artifacts import create_link_artifact, create_markdown_artifact
from pydantic import BaseModel, Field

from orchestration.config import ExperimentConfig
from orchestration.tasks import Evaluation, VerdictSummary
from synthclf.analysis.condition import Condition
from synthclf.analysis.metrics import Interval
from synthclf.analysis.runs import ScoredRun
from synthclf.analysis.table1 import aggregate, markdown_table, table1
from synthclf.core.errors import InvalidInput

REPORT_FILE = "report.html"


class RunOutcome(BaseModel):
    """One cell of the plan: a model trained on one data source, evaluated on real test data."""

    task: str
    source: str = Field(description="Data source, e.g. 'few_shot' or 'real:100+few_shot'.")
    backbone: str = Field(description="Encoder; '' = the service's default.")
    seed: int
    real_per_label: int = Field(0, description="Real rows per label (curve point or mixed model); 0: Table 1.")
    label: str = Field(description="The cell as shown in logs: its data, backbone and seed.")
    model_uri: str = ""
    onnx_uri: str = ""
    evaluation: Evaluation | None = None
    error: str = Field("", description="Why this cell has no evaluation.")

    @classmethod
    def of(cls, condition: Condition, config: ExperimentConfig) -> RunOutcome:
        """The (not yet run) outcome of a planned cell."""
        label = condition.label
        if len(config.backbones) > 1:
            label += f" [{condition.backbone_name}]"
        if len(config.seeds) > 1 or condition.real_per_label:
            label += f" seed {condition.seed}"
        return cls(task=condition.task, source=condition.source, backbone=condition.backbone, seed=condition.seed,
                   real_per_label=condition.real_per_label, label=label)

    def condition(self) -> Condition:
        """The cell's typed condition."""
        return Condition(task=self.task, source=self.source, backbone=self.backbone, seed=self.seed,
                         real_per_label=self.real_per_label)


class AnalysisOutputs(BaseModel):
    """What the analysis plan produced: artifact URIs for the report and the verdicts."""

    uris: list[str] = Field(default_factory=list)
    verdicts: list[VerdictSummary] = Field(default_factory=list)


class ExperimentResult(BaseModel):
    """An experiment run: its configuration, outcomes, Table 1, verdicts and report."""

    config: ExperimentConfig
    outcomes: list[RunOutcome]
    table: str = Field(description="Table 1 as Markdown (see table1_markdown).")
    verdicts: list[VerdictSummary] = Field(default_factory=list)
    report_uri: str = Field("", description="The report artifact; '' when no model was evaluated.")
    report_markdown: str = ""
    analysis_uris: list[str] = Field(default_factory=list)


def _scored(outcome: RunOutcome) -> ScoredRun:
    e = outcome.evaluation
    assert e is not None  # callers pass evaluated outcomes only
    return ScoredRun(condition=outcome.condition(), macro_f1=e.macro_f1, accuracy=e.accuracy, support=e.support,
                     evaluation_uri=e.uri,
                     macro_f1_ci=Interval(low=e.macro_f1_ci[0], high=e.macro_f1_ci[1]) if e.macro_f1_ci else None,
                     accuracy_ci=Interval(low=e.accuracy_ci[0], high=e.accuracy_ci[1]) if e.accuracy_ci else None)


def table1_markdown(outcomes: list[RunOutcome]) -> str:
    """Table 1 of the run: rows = tasks (× backbones), columns = data sources, seeds averaged.

    Args:
        outcomes: the run's outcomes; curve points and mixed models are left out, failed cells
            are listed under the table.

    Returns:
        Markdown: the table and its caption (test sizes, seeds, intervals), then the failures.
        Intervals are the evaluations' bootstrap intervals with one seed; with several, the
        report's Table 1 adds the seeds-and-test-set intervals (the flow has no resamples).
    """
    scored = [_scored(o) for o in outcomes if o.evaluation is not None and o.real_per_label == 0]
    notes = [f"- {o.task} / {o.label}: {o.error}" for o in outcomes if o.evaluation is None]
    try:
        table = table1(aggregate(scored))
    except InvalidInput:
        return "\n".join(["no Table-1 model was evaluated", *([""] + notes if notes else [])]) + "\n"
    lines = [markdown_table(table.header, table.rows), "", table.caption + "."]
    return "\n".join([*lines, *([""] + notes if notes else [])]) + "\n"


def verdict_markdown(verdicts: list[VerdictSummary]) -> str:
    """The verdict per task as a Markdown table (task, verdict, why, real-label equivalents)."""
    rows = [[v.task, "don't" if v.decision == "dont" else v.decision, v.reason,
             "; ".join(f"{model} ≈ {text}" for model, text in v.equivalents.items()) or "–"]
            for v in sorted(verdicts, key=lambda v: v.task)]
    return markdown_table(["task", "verdict", "why", "real labels per label"], rows) + "\n"


def report_link(report_uri: str) -> str:
    """Where to open the report: ``<uri>/report.html`` — a file:// URL for a local store, the
    s3:// URI (open it with the MinIO console or ``mc``) for an S3 store."""
    return f"{report_uri.rstrip('/')}/{REPORT_FILE}"


def publish_run_artifacts(title: str, table: str, verdicts: list[VerdictSummary], report_uri: str) -> None:
    """Attach the verdict table and Table 1 (Markdown artifact) and the report link to the flow run.

    Both use fixed keys, so the Prefect UI keeps one versioned history per key across runs.
    """
    answer = f"## Verdict\n\n{verdict_markdown(verdicts)}\n" if verdicts else ""
    create_markdown_artifact(markdown=f"# {title}\n\n{answer}## Table 1\n\n{table}", key="experiment-verdict",
                             description="Verdict per task (replace / stretch / don't) and Table 1")
    if report_uri:
        create_link_artifact(link=report_link(report_uri), link_text="report.html", key="experiment-report",
                             description=f"Full report (figures, analyses, lineage) of '{title}'")
