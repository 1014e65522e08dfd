"""Typed inputs of the experiment report: evaluations, datasets, models and analyses.

:class:`ReportData` is what :mod:`synthclf.analysis.reporting` gathers from artifacts and
:mod:`synthclf.analysis.render` renders; keeping it typed (not loose dicts) lets sentences,
tables and figures share one reading of the numbers.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from synthclf.analysis.diversity import DiversityResult
from synthclf.analysis.projection import ProjectionResult
from synthclf.analysis.runs import ScoredRun
from synthclf.analysis.similarity import SimilarityResult
from synthclf.analysis.subjectivity import SweepResult, TaskSubjectivityResult
from synthclf.analysis.table1 import SeedAggregate, aggregate
from synthclf.analysis.verdict import TaskVerdict


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
    prompts: dict[str, Any] = Field(
        default_factory=dict,
        description="The prompts a synthetic set was generated with (its manifest's "
        "parameters.prompts: context_prompt, per_label, diversity_prompt, "
        "imitation_instruction), shown in the report for review; empty for real data.")

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
    runs: list[ScoredRun] = Field(default_factory=list, description="Every evaluation, with its condition.")
    verdicts: list[TaskVerdict] = Field(default_factory=list)
    projections: list[ProjectionResult] = Field(default_factory=list)
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
        return sorted({r.condition.task for r in self.runs} | {d.task for d in self.datasets}
                      | {m.task for m in self.models})

    def cells(self) -> list[SeedAggregate]:
        """Every recipe with its seeds averaged (:func:`synthclf.analysis.table1.aggregate`)."""
        return aggregate(self.runs)

    def table1_cells(self) -> list[SeedAggregate]:
        """The Table-1 recipes (curve points and mixed models left out)."""
        return [c for c in self.cells() if c.condition.is_table1]

    def cost_usd(self, row: DatasetRow) -> float:
        """LLM cost of generating a dataset in US$ (0 for real data).

        At the report's prices when either is set; otherwise the cost the generation service
        recorded (0 for a local LLM, or when it recorded none).
        """
        if self.usd_per_million_prompt_tokens or self.usd_per_million_completion_tokens:
            return ((row.prompt_tokens or 0) * self.usd_per_million_prompt_tokens
                    + (row.completion_tokens or 0) * self.usd_per_million_completion_tokens) / 1e6
        return row.cost_usd or 0.0
