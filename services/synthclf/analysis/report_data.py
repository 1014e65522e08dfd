"""Typed inputs of the experiment report: evaluations, datasets, models and analyses.

:class:`ReportData` is what :mod:`synthclf.analysis.collect` gathers from artifacts and
:mod:`synthclf.analysis.report` renders; keeping it typed (not loose dicts) lets findings,
tables and figures share one reading of the numbers.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from synthclf.analysis.diversity import DiversityResult
from synthclf.analysis.metrics import ClassMetrics, Interval
from synthclf.analysis.similarity import SimilarityResult
from synthclf.analysis.subjectivity import SweepResult, TaskSubjectivityResult

#: Column order of the known data sources; others follow alphabetically.
SOURCE_ORDER = ("real", "zero_shot", "few_shot")


def order_sources(sources: set[str] | list[str]) -> list[str]:
    """Known sources in :data:`SOURCE_ORDER`, then the others alphabetically."""
    present = set(sources)
    known = [s for s in SOURCE_ORDER if s in present]
    return known + sorted(present - set(known))


def source_rank(source: str) -> tuple[int, str]:
    """Sort key putting sources in :data:`SOURCE_ORDER`, then alphabetically."""
    return (SOURCE_ORDER.index(source), "") if source in SOURCE_ORDER else (len(SOURCE_ORDER), source)


class EvaluationRow(BaseModel):
    """One evaluation: a model trained on one data source, tested on a task's real test split."""

    task: str
    source: str
    macro_f1: float
    accuracy: float
    support: int
    evaluation_uri: str
    model: str = Field("", description="URI of the evaluated (onnx-)model artifact.")
    dataset_uri: str = Field("", description="URI of the test dataset.")
    macro_f1_ci: Interval | None = None
    accuracy_ci: Interval | None = None
    confidence: float = 0.95
    labels: list[str] = Field(default_factory=list)
    per_class: dict[str, ClassMetrics] = Field(default_factory=dict)
    confusion: list[list[int]] = Field(default_factory=list)
    wall_time_s: float | None = None


class DatasetRow(BaseModel):
    """A dataset used by the experiment, with its generation counts when synthetic."""

    uri: str
    task: str
    source: str
    split: str = ""
    rows: int = 0
    requested: int | None = None
    accepted: int | None = None
    rejected: int | None = None
    rejected_reasons: dict[str, int] = Field(default_factory=dict, description="Rejected outputs per reason.")
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost_usd: float | None = Field(None, description="Cost recorded by the generation service (US$).")
    wall_time_s: float | None = None

    @classmethod
    def from_stats(cls, uri: str, stats: dict[str, Any]) -> DatasetRow:
        """Read a dataset manifest's stats (generation counts are absent for real data).

        ``rejected`` may be a count or a mapping reason → count (summed, reasons kept).
        """
        def number(key: str, kind=int):
            """Format a number for a table cell."""
            value = stats.get(key)
            return kind(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None

        rejected = stats.get("rejected")
        reasons = {str(k): int(v) for k, v in rejected.items() if v} if isinstance(rejected, dict) else {}
        return cls(uri=uri, task=str(stats.get("task", "?")), source=str(stats.get("source", "?")),
                   split=str(stats.get("split", "")), rows=number("rows") or 0, requested=number("requested"),
                   accepted=number("accepted"),
                   rejected=sum(reasons.values()) if isinstance(rejected, dict) else number("rejected"),
                   rejected_reasons=reasons, prompt_tokens=number("prompt_tokens"),
                   completion_tokens=number("completion_tokens"), cost_usd=number("cost_usd", float),
                   wall_time_s=number("wall_time_s", float))

    @property
    def is_real_train(self) -> bool:
        """A real training split (the reference of diversity and similarity)."""
        return self.source == "real" and self.split in ("train", "")

    @property
    def is_real_test(self) -> bool:
        """A real test split."""
        return self.source == "real" and self.split == "test"


class ModelRow(BaseModel):
    """A trained model with its training curves."""

    uri: str
    task: str
    source: str
    curves: list[dict[str, Any]] = Field(default_factory=list)
    best_epoch: int | None = None
    rows: int | None = None
    wall_time_s: float | None = None
    device: str = ""


class ReportData(BaseModel):
    """Everything a report shows."""

    title: str
    evaluations: list[EvaluationRow] = Field(default_factory=list)
    datasets: list[DatasetRow] = Field(default_factory=list)
    models: list[ModelRow] = Field(default_factory=list)
    diversity: list[DiversityResult] = Field(default_factory=list)
    similarity: list[SimilarityResult] = Field(default_factory=list)
    sweeps: list[SweepResult] = Field(default_factory=list)
    task_subjectivity: TaskSubjectivityResult | None = None
    usd_per_million_prompt_tokens: float = 0.0
    usd_per_million_completion_tokens: float = 0.0
    notes: list[str] = Field(default_factory=list, description="Why an analysis is missing, etc.")
    inputs: list[str] = Field(default_factory=list, description="Every artifact URI the report used.")

    def tasks(self) -> list[str]:
        """Tasks seen in evaluations, datasets or models, sorted."""
        return sorted({r.task for r in self.evaluations} | {d.task for d in self.datasets}
                      | {m.task for m in self.models})

    def sources(self) -> list[str]:
        """Data sources of the evaluations, in column order."""
        return order_sources({r.source for r in self.evaluations})

    def evaluations_by_task(self) -> dict[str, dict[str, EvaluationRow]]:
        """Evaluations per task, then per source (sources in column order)."""
        out: dict[str, dict[str, EvaluationRow]] = {}
        for task in sorted({r.task for r in self.evaluations}):
            rows = {r.source: r for r in self.evaluations if r.task == task}
            out[task] = {s: rows[s] for s in order_sources(set(rows))}
        return out

    def cost_usd(self, row: DatasetRow) -> float:
        """LLM cost of generating a dataset in US$ (0 for real data).

        At the report's prices when either is set; otherwise the cost the generation service
        recorded (0 for a local LLM, or when it recorded none).
        """
        if self.usd_per_million_prompt_tokens or self.usd_per_million_completion_tokens:
            return ((row.prompt_tokens or 0) * self.usd_per_million_prompt_tokens
                    + (row.completion_tokens or 0) * self.usd_per_million_completion_tokens) / 1e6
        return row.cost_usd or 0.0
