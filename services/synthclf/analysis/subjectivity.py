"""Instance- and task-level subjectivity (Li et al. 2023, Sec. 6, Figure 2 / C.1, Table 1 stars).

**Instance level.** Each test instance i has an agreement aᵢ = max over labels of the share of
its annotators choosing that label (:func:`synthclf.core.schema.instance_agreement`, computed
when the data are loaded or imported and stored in the dataset's ``agreement`` column). For a sweep of thresholds γ,
the model's accuracy on the instances with aᵢ ≥ γ is computed; the paper finds accuracy rises
with γ, more steeply for models trained on synthetic data. The trend is summarised by a
least-squares line (:func:`scipy.stats.linregress`: slope, intercept, R²) and Spearman's ρ
with its two-sided p-value (:func:`scipy.stats.spearmanr`).

For the VADER movie snippets (Hutto & Gilbert 2014; ~20 raters rate each snippet −4…4) the
label is the sign of the mean rating and each rater's sign is their "label"; snippets with a
mean of exactly 0 and individual ratings of 0 (neutral: not a label of the binary task) are
dropped by the loader (:func:`synthclf.core.corpora._load_vader_movie`), so aᵢ ∈ [0.5, 1].

**Task level.** Across tasks, the Macro-F1 gap between the real-data model and a
synthetic-data model is set against the task's subjectivity rating (catalog stars) with
Spearman's ρ. With the paper's ten tasks that is ten points; with fewer, a caveat is returned.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel, Field
from scipy import stats

from synthclf.core.errors import InvalidInput

#: Sweep points keeping fewer instances than this are left out of the fit.
MIN_INSTANCES = 10
#: Number of default thresholds.
N_GAMMAS = 11
#: Fewer tasks than this get a caveat in the task-level analysis.
MIN_TASKS = 5
#: Start of the InvalidInput message of a sweep over data without per-annotator labels; callers
#: that skip such data (``orchestration.tasks.instance_subjectivity``) recognise it by this.
NO_AGREEMENT = "no instance has an agreement value"
#: Tolerance when comparing an agreement with γ (shares like 2/3 are not exact in binary).
_EPS = 1e-9


def default_gammas(n_labels: int, n: int = N_GAMMAS) -> list[float]:
    """``n`` evenly spaced thresholds from 1 / ``n_labels`` (the lowest possible aᵢ) to 1."""
    return [round(float(g), 4) for g in np.linspace(1.0 / max(n_labels, 1), 1.0, n)]


class SweepPoint(BaseModel):
    """Accuracy on the instances with agreement ≥ ``gamma``."""

    gamma: float
    accuracy: float
    n: int


class Fit(BaseModel):
    """Trend of accuracy with γ: linear fit and rank correlation (None where undefined)."""

    slope: float | None = Field(None, description="Accuracy change per unit of γ.")
    intercept: float | None = None
    r_squared: float | None = Field(None, description="R² of the linear fit.")
    spearman_rho: float | None = None
    spearman_p: float | None = Field(None, description="Two-sided p-value of Spearman's ρ.")


class SweepResult(BaseModel):
    """An agreement sweep: the kept points, the dropped thresholds and the fitted trend."""

    points: list[SweepPoint]
    dropped: list[SweepPoint] = Field(default_factory=list,
                                      description="Thresholds with too few instances (< min_instances).")
    fit: Fit
    n_instances: int = Field(description="Instances with an agreement value.")
    min_instances: int = MIN_INSTANCES
    evaluation_uri: str = ""
    dataset_uri: str = ""
    task: str = ""
    source: str = ""


def fit_trend(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray) -> Fit:
    """Linear regression of y on x (slope, intercept, R²) and Spearman's ρ with p-value.

    Args:
        x: thresholds (n).
        y: accuracies (n).

    Returns:
        The :class:`Fit`: linear terms need ≥ 2 distinct x; R² also needs non-constant y;
        Spearman needs ≥ 3 points and non-constant x and y. Undefined values are None.
    """
    xs, ys = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    fit = Fit()
    if len(xs) >= 2 and np.ptp(xs) > 0:
        line = stats.linregress(xs, ys)
        fit.slope, fit.intercept = float(line.slope), float(line.intercept)
        if np.ptp(ys) > 0:
            fit.r_squared = float(line.rvalue ** 2)
    if len(xs) >= 3 and np.ptp(xs) > 0 and np.ptp(ys) > 0:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rho, p = stats.spearmanr(xs, ys)
        if np.isfinite(rho):
            fit.spearman_rho, fit.spearman_p = float(rho), float(p)
    return fit


def agreement_sweep(correct: Sequence[bool] | np.ndarray, agreement: Sequence[float] | np.ndarray,
                    gammas: Sequence[float], min_instances: int = MIN_INSTANCES) -> SweepResult:
    """Accuracy on the instances with aᵢ ≥ γ for each γ, and the trend (Figure 2 / C.1).

    Args:
        correct: whether the model got each instance right (n).
        agreement: aᵢ of each instance in [0, 1] (n); NaN rows are left out.
        gammas: thresholds in [0, 1].
        min_instances: thresholds keeping fewer instances are reported as dropped and left
            out of the fit.

    Returns:
        The :class:`SweepResult`, points in increasing γ.

    Raises:
        InvalidInput: length mismatch, no thresholds, a threshold outside [0, 1], or no
            instance with an agreement value.
    """
    right = np.asarray(correct, dtype=bool)
    agree = np.asarray(agreement, dtype=float)
    if len(right) != len(agree):
        raise InvalidInput(f"{len(right)} predictions but {len(agree)} agreement values")
    if not len(gammas):
        raise InvalidInput("the sweep needs at least one threshold γ")
    if any(not 0.0 <= g <= 1.0 for g in gammas):
        raise InvalidInput(f"thresholds γ must lie in [0, 1], got {list(gammas)}")
    known = ~np.isnan(agree)
    if not known.any():
        raise InvalidInput(f"{NO_AGREEMENT}: the dataset has no per-annotator labels")
    right, agree = right[known], agree[known]
    kept: list[SweepPoint] = []
    dropped: list[SweepPoint] = []
    for gamma in sorted(set(float(g) for g in gammas)):
        mask = agree >= gamma - _EPS
        n = int(mask.sum())
        point = SweepPoint(gamma=gamma, accuracy=float(right[mask].mean()) if n else math.nan, n=n)
        (kept if n >= min_instances else dropped).append(point)
    fit = fit_trend([p.gamma for p in kept], [p.accuracy for p in kept])
    return SweepResult(points=kept, dropped=dropped, fit=fit, n_instances=int(known.sum()),
                       min_instances=min_instances)


class TaskGap(BaseModel):
    """Real → synthetic Macro-F1 gap of one task and source."""

    task: str
    source: str
    subjectivity: int
    real_macro_f1: float
    macro_f1: float
    gap: float = Field(description="real_macro_f1 - macro_f1; positive: synthetic data falls short.")
    backbone: str = Field("", description="Encoder of both models; '' = the default.")


class GapCorrelation(BaseModel):
    """Spearman's ρ of gap with subjectivity over tasks, for one data source."""

    source: str
    n_tasks: int
    backbone: str = ""
    spearman_rho: float | None = None
    spearman_p: float | None = None


class TaskSubjectivityResult(BaseModel):
    """Task-level subjectivity analysis."""

    gaps: list[TaskGap]
    correlations: list[GapCorrelation]
    caveat: str = ""
    evaluation_uris: list[str] = Field(default_factory=list)


def task_subjectivity(scores: Sequence[tuple[str, str, str, float]], ratings: dict[str, int]) -> TaskSubjectivityResult:
    """Gap real → each synthetic source per task and backbone, and its Spearman ρ with the tasks' ratings.

    Args:
        scores: (task, backbone, source, Macro-F1) — one per task, backbone and source (seeds
            already averaged); source ``"real"`` is the baseline of its task and backbone.
        ratings: subjectivity stars per task (1..5); tasks without a rating are skipped.

    Returns:
        Gaps and per-source correlations; ``caveat`` explains when ρ is missing or rests on
        fewer than :data:`MIN_TASKS` tasks.
    """
    by_task: dict[tuple[str, str], dict[str, float]] = {}
    for task, backbone, source, value in scores:
        by_task.setdefault((task, backbone), {})[source] = value
    gaps = [
        TaskGap(task=task, source=source, backbone=backbone, subjectivity=ratings[task], real_macro_f1=values["real"],
                macro_f1=value, gap=values["real"] - value)
        for (task, backbone), values in sorted(by_task.items()) if "real" in values and task in ratings
        for source, value in sorted(values.items()) if source != "real"
    ]
    correlations = []
    for source, backbone in sorted({(g.source, g.backbone) for g in gaps}):
        rows = [g for g in gaps if g.source == source and g.backbone == backbone]
        fit = fit_trend([g.subjectivity for g in rows], [g.gap for g in rows])
        correlations.append(GapCorrelation(source=source, backbone=backbone, n_tasks=len(rows),
                                           spearman_rho=fit.spearman_rho, spearman_p=fit.spearman_p))
    n_tasks = len({g.task for g in gaps})
    caveat = ""
    if n_tasks < MIN_TASKS:
        caveat = (f"only {n_tasks} task(s) with both real and synthetic results: Spearman's ρ over so few "
                  f"points is fragile (undefined below 3 tasks or with tied ratings only) — the paper "
                  f"uses 10 tasks; read the gaps one by one")
    missing = sorted({t for t, _ in by_task if t not in ratings})
    if missing:
        caveat = "; ".join(filter(None, [caveat, f"no subjectivity rating for: {', '.join(missing)}"]))
    return TaskSubjectivityResult(gaps=gaps, correlations=correlations, caveat=caveat)
