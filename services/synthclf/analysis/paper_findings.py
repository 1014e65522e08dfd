"""The paper's three findings, checked against this run's numbers (Li et al. 2023).

Each check states a finding of the paper, the statistic this run gives for it and whether the
run reproduces it — ``yes``, ``partly``, ``no`` or ``not testable`` (the run lacks what the
statistic needs). Nothing here is fixed text: directions and counts come from the results.

1. **Real > few-shot > zero-shot** (§4.1, Table 1): per task, the Table-1 models of the first
   backbone; the differences real − few-shot and few-shot − zero-shot with their paired
   intervals (:func:`synthclf.analysis.verdict.paired_difference`). ``yes`` when the order holds
   on every task's point estimates, ``partly`` on some, ``no`` on none; the count of tasks whose
   two intervals both lie above 0 is given beside it.
2. **The real → synthetic gap grows with task subjectivity** (§4.1, Figure 1): Spearman's ρ of
   the gap with the catalog's subjectivity rating over the tasks, per synthetic source
   (:mod:`synthclf.analysis.subjectivity`). ``yes`` when every source has ρ > 0 with p < 0.05,
   ``partly`` when some ρ > 0 (or all, without significance), ``no`` when none.
3. **Accuracy rises with instance-level agreement** (§5, Figure 2): R² of the linear fit and
   Spearman's ρ of accuracy with the agreement threshold γ, per model of a task with
   per-annotator labels (VADER movie here). ``yes`` when every model has ρ > 0 with p < 0.05,
   ``partly`` when some do, ``no`` when none.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, Field

from synthclf.analysis.condition import REAL
from synthclf.analysis.report_data import ReportData
from synthclf.analysis.runs import ScoredRun
from synthclf.analysis.verdict import paired_difference

#: Significance level of findings 2 and 3.
ALPHA = 0.05
#: The two synthetic modes of the paper (§3), in the order of finding 1.
FEW_SHOT, ZERO_SHOT = "few_shot", "zero_shot"


class PaperFinding(BaseModel):
    """One finding of the paper and this run's answer."""

    number: int = Field(description="1, 2 or 3 (the module's list).")
    claim: str = Field(description="The paper's finding, with its section.")
    reproduced: str = Field(description="'yes', 'partly', 'no' or 'not testable'.")
    statistic: str = Field(description="This run's evidence, every number from the results.")
    details: list[str] = Field(default_factory=list, description="Per task or model, the numbers behind it.")


def _verdict_word(hits: int, total: int) -> str:
    if total == 0:
        return "not testable"
    return "yes" if hits == total else "partly" if hits else "no"


def ordering_finding(data: ReportData, seed: int = 0) -> PaperFinding:
    """Finding 1: real > few-shot > zero-shot per task (Table-1 models, first backbone).

    ``seed`` seeds the seed resampling of the paired intervals."""
    claim = "real data > few-shot synthetic data > zero-shot synthetic data, task by task (§4.1, Table 1)"
    rng = np.random.default_rng(seed)
    table1 = data.table1_cells()
    backbone = table1[0].condition.backbone if table1 else ""
    cells = {(c.condition.task, c.condition.source): c for c in table1 if c.condition.backbone == backbone}
    runs: dict[tuple[str, str], list[ScoredRun]] = {}
    for run in data.runs:
        if run.condition.is_table1 and run.condition.backbone == backbone:
            runs.setdefault((run.condition.task, run.condition.source), []).append(run)
    tasks = sorted(t for t, s in cells if s == REAL and (t, FEW_SHOT) in cells and (t, ZERO_SHOT) in cells)
    holds = separated = 0
    details = []
    for task in tasks:
        real, few, zero = (cells[(task, s)] for s in (REAL, FEW_SHOT, ZERO_SHOT))
        first = paired_difference(runs[(task, REAL)], runs[(task, FEW_SHOT)], real.macro_f1, few.macro_f1, rng,
                                  real.confidence)
        second = paired_difference(runs[(task, FEW_SHOT)], runs[(task, ZERO_SHOT)], few.macro_f1, zero.macro_f1,
                                   rng, real.confidence)
        ok = first.value > 0 and second.value > 0
        sure = ok and first.bound() > 0 and second.bound() > 0
        holds += ok
        separated += sure
        details.append(f"{task}: real {real.macro_f1:.3f}, few-shot {few.macro_f1:.3f}, zero-shot {zero.macro_f1:.3f}; "
                       f"real − few-shot {first.text()}, few-shot − zero-shot {second.text()} — "
                       + ("holds, both intervals above 0" if sure else "holds on the point estimates" if ok
                          else "does not hold"))
    level = f"{cells[(tasks[0], REAL)].confidence:.0%}" if tasks else "95%"
    statistic = (f"the order holds in {holds} of {len(tasks)} tasks on the point estimates; in {separated} of them "
                 f"both differences' {level} intervals lie above 0" if tasks else
                 "no task has real, few-shot and zero-shot Table-1 models")
    return PaperFinding(number=1, claim=claim, reproduced=_verdict_word(holds, len(tasks)), statistic=statistic,
                        details=details)


def subjectivity_finding(data: ReportData) -> PaperFinding:
    """Finding 2: the real → synthetic gap grows with task subjectivity (Spearman's ρ over tasks)."""
    claim = "the real → synthetic performance gap grows with the task's subjectivity (§4.1)"
    result = data.task_subjectivity
    correlations = [c for c in result.correlations if c.spearman_rho is not None] if result else []
    if result is None or not correlations:
        return PaperFinding(number=2, claim=claim, reproduced="not testable",
                            statistic="Spearman's ρ needs the gap on at least 3 tasks with different ratings")
    positive = [c for c in correlations if (c.spearman_rho or 0.0) > 0]
    significant = [c for c in positive if c.spearman_p is not None and c.spearman_p < ALPHA]
    word = ("yes" if len(significant) == len(correlations) else "partly" if positive else "no")
    statistic = "; ".join(f"{c.source}: Spearman ρ {c.spearman_rho:+.2f} (p={c.spearman_p:.2g}, {c.n_tasks} tasks)"
                          for c in correlations)
    gaps = sorted(result.gaps, key=lambda g: (g.source, g.subjectivity, g.task))
    details = [f"{g.source}: {g.task} (subjectivity {'★' * g.subjectivity}) gap {g.gap:+.3f}" for g in gaps]
    return PaperFinding(number=2, claim=claim, reproduced=word, statistic=statistic, details=details)


def agreement_finding(data: ReportData) -> PaperFinding:
    """Finding 3: accuracy rises with instance-level annotator agreement (R², ρ per model)."""
    claim = ("accuracy rises with instance-level annotator agreement, for models trained on real and on "
             "synthetic data (§5, Figure 2)")
    fitted = [s for s in data.sweeps if s.fit.spearman_rho is not None]
    if not fitted:
        return PaperFinding(number=3, claim=claim, reproduced="not testable",
                            statistic="no task with per-annotator labels had enough agreement thresholds for a fit")
    rising = [s for s in fitted if (s.fit.spearman_rho or 0.0) > 0 and s.fit.spearman_p is not None and s.fit.spearman_p < ALPHA]
    details = [f"{s.task} / {s.source}: R² {s.fit.r_squared:.2f}, slope {s.fit.slope:+.3f} per unit of γ, "
               f"Spearman ρ {s.fit.spearman_rho:+.2f} (p={s.fit.spearman_p:.2g})"
               if s.fit.r_squared is not None and s.fit.slope is not None
               else f"{s.task} / {s.source}: Spearman ρ {s.fit.spearman_rho:+.2f} (p={s.fit.spearman_p:.2g})"
               for s in fitted]
    statistic = (f"accuracy rises significantly (ρ > 0, p < {ALPHA}) for {len(rising)} of {len(fitted)} models: "
                 + "; ".join(details))
    return PaperFinding(number=3, claim=claim, reproduced=_verdict_word(len(rising), len(fitted)),
                        statistic=statistic, details=details)


def paper_findings(data: ReportData) -> list[PaperFinding]:
    """The three checks, in the paper's order."""
    return [ordering_finding(data), subjectivity_finding(data), agreement_finding(data)]
