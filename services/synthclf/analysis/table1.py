"""The one Table-1 aggregator: seeds averaged as mean ± sd, backbones as rows (Li et al. 2023, Table 1).

:func:`aggregate` groups scored runs by (task, backbone, source, real rows per label) and
averages their seeds. Its interval is that of the seed mean under both sources of noise — the
training seeds and the test set: each bootstrap replicate b draws the seeds with replacement
and averages their Macro-F1 on test resample b (a two-level bootstrap; the test resamples are
paired across models, see :mod:`synthclf.analysis.runs`). With one seed that is the percentile
bootstrap interval of the evaluation itself. The experiment flow, the report, the verdict and
task-level subjectivity all use this function.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel, Field

from synthclf.analysis.condition import Condition, order_sources, source_rank
from synthclf.analysis.metrics import CONFIDENCE, Interval, percentile_interval
from synthclf.analysis.runs import ScoredRun
from synthclf.core.errors import InvalidInput


class SeedAggregate(BaseModel):
    """One model recipe averaged over its seeds."""

    condition: Condition = Field(description="The recipe (its seed is the first seed's).")
    seeds: list[int]
    support: int = Field(description="Test texts per evaluation.")
    macro_f1: float = Field(description="Mean Macro-F1 over seeds.")
    macro_f1_sd: float | None = Field(None, description="Sample sd over seeds; None with one seed.")
    macro_f1_ci: Interval | None = None
    accuracy: float
    accuracy_sd: float | None = None
    accuracy_ci: Interval | None = None
    confidence: float = CONFIDENCE
    evaluation_uris: list[str] = Field(default_factory=list)

    @property
    def label(self) -> str:
        """The recipe as shown (see :attr:`Condition.label`)."""
        return self.condition.label


def seed_mean_replicates(matrix: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Two-level bootstrap replicates of a seed mean.

    Args:
        matrix: float [S, B]: seed s's score on test resample b.
        rng: draws the seeds (with replacement) of each replicate.

    Returns:
        float [B]: replicate b = mean over S seeds drawn with replacement of their score on
        resample b; with S = 1 the single row.
    """
    n_seeds, n_boot = matrix.shape
    if n_seeds == 1:
        return matrix[0].copy()
    picks = rng.integers(0, n_seeds, size=(n_boot, n_seeds))
    return matrix[picks, np.arange(n_boot)[:, None]].mean(axis=1)


def check_paired(runs: Sequence[ScoredRun]) -> None:
    """Refuse runs whose resamples are not paired (another test split, bootstrap seed or size).

    Raises:
        InvalidInput: naming the two evaluations that differ.
    """
    with_resamples = [(r, r.macro_f1_resamples) for r in runs if r.macro_f1_resamples is not None]
    if not with_resamples:
        return
    first, first_resamples = with_resamples[0]
    for run, resamples in with_resamples[1:]:
        if (run.dataset_uri, run.bootstrap_seed, len(resamples)) != (
                first.dataset_uri, first.bootstrap_seed, len(first_resamples)):
            raise InvalidInput(f"evaluations {first.evaluation_uri} and {run.evaluation_uri} are not paired: "
                               "compared models must be scored on the same test split with the same "
                               "bootstrap seed and number of resamples")


def replicates(runs: Sequence[ScoredRun], rng: np.random.Generator, metric: str = "macro_f1") -> np.ndarray | None:
    """Seed-mean bootstrap replicates [B] of one recipe's runs, or None without resamples."""
    rows = [r.resamples(metric) for r in runs]
    present = [row for row in rows if row is not None]
    if len(present) < len(rows):
        return None
    return seed_mean_replicates(np.vstack(present), rng)


def _sd(values: list[float]) -> float | None:
    return statistics.stdev(values) if len(values) > 1 else None


def aggregate(runs: Sequence[ScoredRun], seed: int = 0) -> list[SeedAggregate]:
    """Average seeds per (task, backbone, source, real rows per label).

    Args:
        runs: scored runs (any roles); within a task they should be paired.
        seed: seed of the seed resampling in the intervals.

    Returns:
        One aggregate per recipe, ordered by task, backbone, real rows per label, source.
        Interval: the two-level bootstrap of the seed mean when every run has resamples; the
        run's own interval with one seed and no resamples; otherwise None.
    """
    rng = np.random.default_rng(seed)
    groups: dict[tuple, list[ScoredRun]] = {}
    for run in runs:
        groups.setdefault(run.condition.group(), []).append(run)
    out = []
    for key in sorted(groups, key=lambda k: (k[0], k[1], k[3], source_rank(k[2]))):
        members = sorted(groups[key], key=lambda r: r.condition.seed)
        cis: dict[str, Interval | None] = {}
        for metric in ("macro_f1", "accuracy"):
            values = replicates(members, rng, metric)
            if values is not None:
                cis[metric] = percentile_interval(values, members[0].confidence)
            elif len(members) == 1:
                cis[metric] = members[0].macro_f1_ci if metric == "macro_f1" else members[0].accuracy_ci
            else:
                cis[metric] = None
        f1 = [r.macro_f1 for r in members]
        acc = [r.accuracy for r in members]
        out.append(SeedAggregate(
            condition=members[0].condition, seeds=[r.condition.seed for r in members], support=members[0].support,
            macro_f1=statistics.fmean(f1), macro_f1_sd=_sd(f1), macro_f1_ci=cis["macro_f1"],
            accuracy=statistics.fmean(acc), accuracy_sd=_sd(acc), accuracy_ci=cis["accuracy"],
            confidence=members[0].confidence, evaluation_uris=[r.evaluation_uri for r in members]))
    return out


def score_text(mean: float, sd: float | None, ci: Interval | None) -> str:
    """``0.912 ± 0.010 [0.880, 0.931]`` (sd with several seeds, interval when known)."""
    text = f"{mean:.3f}" + (f" ± {sd:.3f}" if sd is not None else "")
    return text + (f" [{ci.low:.3f}, {ci.high:.3f}]" if ci is not None else "")


class Table1(BaseModel):
    """Table 1 ready to render: one row per (task, backbone), one column per source."""

    header: list[str]
    rows: list[list[str]]
    caption: str


def table1(cells: Sequence[SeedAggregate]) -> Table1:
    """Table 1 of the Table-1 recipes among ``cells`` (curve points and mixed models left out).

    Cells read "Macro-F1 mean ± sd [CI] / accuracy mean ± sd [CI]"; the backbone column
    appears when there are several.

    Raises:
        InvalidInput: no Table-1 recipe among ``cells``.
    """
    cells = [c for c in cells if c.condition.is_table1]
    if not cells:
        raise InvalidInput("Table 1 needs at least one model trained on a whole data source")
    sources = order_sources(c.condition.source for c in cells)
    backbones = list(dict.fromkeys(c.condition.backbone for c in cells))
    by_key = {(c.condition.task, c.condition.backbone, c.condition.source): c for c in cells}
    header = ["task", *(["backbone"] if len(backbones) > 1 else []), *sources]
    rows = []
    for task in sorted({c.condition.task for c in cells}):
        for backbone in backbones:
            values = []
            for source in sources:
                cell = by_key.get((task, backbone, source))
                values.append("–" if cell is None else (
                    f"{score_text(cell.macro_f1, cell.macro_f1_sd, cell.macro_f1_ci)} / "
                    f"{score_text(cell.accuracy, cell.accuracy_sd, cell.accuracy_ci)}"))
            if any(v != "–" for v in values):
                rows.append([task, *([backbone or "default"] if len(backbones) > 1 else []), *values])
    seeds = max(len(c.seeds) for c in cells)
    level = f"{cells[0].confidence:.0%}"
    support = {c.condition.task: c.support for c in cells}
    caption = (f"Macro-F1 / accuracy on each task's real test split "
               f"({', '.join(f'{t}: n={n}' for t, n in sorted(support.items()))}); "
               + (f"mean ± sd over {seeds} training seeds, " if seeds > 1 else "one training seed, ")
               + f"[{level} interval: " + ("seeds and test set resampled" if seeds > 1 else "test-set bootstrap")
               + "]")
    return Table1(header=header, rows=rows, caption=caption)


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub-flavoured Markdown table (pipes in cells escaped)."""
    def cell(text) -> str:
        """One cell: pipes escaped, newlines as spaces."""
        return str(text).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def table1_markdown(cells: Sequence[SeedAggregate]) -> str:
    """Table 1 as Markdown with its caption below."""
    table = table1(cells)
    return markdown_table(table.header, table.rows) + f"\n\n{table.caption}.\n"
