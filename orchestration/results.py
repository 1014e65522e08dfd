"""What an experiment run produced: one outcome per trained model, Table 1, Prefect artifacts.

:func:`table1_markdown` renders the paper's Table 1 from the outcomes — one row per task,
one column per data source (and backbone, when several), each cell "Macro-F1 / accuracy" on
the task's real test split, averaged over seeds (± sample standard deviation when there are
several). :func:`publish_run_artifacts` attaches it and a link to the full report to the
Prefect flow run.
"""

from __future__ import annotations

import statistics

from pydantic import BaseModel, Field
from prefect.artifacts import create_link_artifact, create_markdown_artifact

from orchestration.config import BASE_SOURCES, ExperimentConfig
from orchestration.tasks import Evaluation

REPORT_FILE = "report.html"


class RunOutcome(BaseModel):
    """One cell of the matrix: a model trained on one data source, evaluated on real test data."""

    task: str
    source: str = Field(description="Data source, e.g. 'few_shot' or 'real:100+few_shot'.")
    backbone: str = Field(description="Encoder; '' = the service's default.")
    seed: int
    label: str = Field(description="The 'source' tag of the evaluation: the source, plus backbone and "
                       "seed when the experiment varies them (the report's columns).")
    model_uri: str = ""
    onnx_uri: str = ""
    evaluation: Evaluation | None = None
    error: str = Field("", description="Why this cell has no evaluation.")


class ExperimentResult(BaseModel):
    """An experiment run: its configuration, outcomes, Table 1 and report."""

    config: ExperimentConfig
    outcomes: list[RunOutcome]
    table: str = Field(description="Table 1 as Markdown (see table1_markdown).")
    report_uri: str = Field("", description="The report artifact; '' when no model was evaluated.")
    report_markdown: str = ""
    analysis_uris: list[str] = Field(default_factory=list)


def _column(source: str, backbone: str, backbones: list[str]) -> str:
    return f"{source} [{backbone or 'default'}]" if len(backbones) > 1 else source


def _cell(values: list[Evaluation]) -> str:
    if not values:
        return "–"
    f1 = [v.macro_f1 for v in values]
    acc = [v.accuracy for v in values]
    if len(values) == 1:
        return f"{f1[0]:.3f} / {acc[0]:.3f}"
    return (f"{statistics.fmean(f1):.3f} ± {statistics.stdev(f1):.3f} / "
            f"{statistics.fmean(acc):.3f} ± {statistics.stdev(acc):.3f}")


def table1_markdown(outcomes: list[RunOutcome]) -> str:
    """Table 1: rows = tasks, columns = data sources (× backbones), cells = Macro-F1 / accuracy.

    Args:
        outcomes: the run's outcomes; those without an evaluation show as "–".

    Returns:
        A Markdown table with a caption line naming the test sizes and the number of seeds.
    """
    tasks = list(dict.fromkeys(o.task for o in outcomes))
    backbones = list(dict.fromkeys(o.backbone for o in outcomes))
    sources = list(dict.fromkeys(o.source for o in outcomes))
    sources.sort(key=lambda s: (BASE_SOURCES.index(s) if s in BASE_SOURCES else len(BASE_SOURCES), s))
    columns = [(s, b) for s in sources for b in backbones]
    header = ["task", *[f"{_column(s, b, backbones)} (Macro-F1 / acc.)" for s, b in columns]]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for task in tasks:
        cells = [_cell([o.evaluation for o in outcomes if o.task == task and o.source == s
                        and o.backbone == b and o.evaluation is not None]) for s, b in columns]
        lines.append("| " + " | ".join([task, *cells]) + " |")
    seeds = len({o.seed for o in outcomes})
    support = {o.task: o.evaluation.support for o in outcomes if o.evaluation is not None}
    caption = ("Macro-F1 / accuracy on each task's real test split "
               f"({', '.join(f'{t}: n={n}' for t, n in support.items()) or 'no evaluation'})")
    if seeds > 1:
        caption += f"; mean ± sd over {seeds} training seeds"
    failed = [o for o in outcomes if o.evaluation is None]
    notes = [f"- {o.task} / {o.label}: {o.error}" for o in failed]
    return "\n".join([*lines, "", caption + ".", *([""] + notes if notes else [])]) + "\n"


def report_link(report_uri: str) -> str:
    """Where to open the report: ``<uri>/report.html`` — a file:// URL for a local store, the
    s3:// URI (open it with the MinIO console or ``mc``) for an S3 store."""
    return f"{report_uri.rstrip('/')}/{REPORT_FILE}"


def publish_run_artifacts(title: str, table: str, report_uri: str) -> None:
    """Attach Table 1 (Markdown artifact) and the report link (link artifact) to the flow run.

    Both use fixed keys, so the Prefect UI keeps one versioned history per key across runs.
    """
    create_markdown_artifact(markdown=f"# {title}\n\n{table}", key="experiment-table-1",
                             description="Table 1: Macro-F1 / accuracy per task and data source")
    if report_uri:
        create_link_artifact(link=report_link(report_uri), link_text="report.html", key="experiment-report",
                             description=f"Full report (figures, analyses, lineage) of '{title}'")
