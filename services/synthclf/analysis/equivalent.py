"""Real-label equivalent: where a synthetic (or mixed) model lands on the real-data learning curve.

The learning curve is the mean Macro-F1 (over seeds) of models trained on n real rows per
label, n = 8, 16, 32, … . Its expected value is taken to rise with n, so the points are fitted
with isotonic regression (scikit-learn's ``isotonic_regression``, pool-adjacent-violators) —
noise that makes a larger n score lower is pooled, never extrapolated. The equivalent of a
model with Macro-F1 m is the smallest n at which the fitted curve reaches m, interpolated
linearly in log n between the two fitted points around it. Below the fitted first point the
answer is "< n_first", above the last "≥ n_last": the curve says nothing outside its range.

The interval repeats this on every bootstrap replicate — curve points and the model each
re-averaged over seeds drawn with replacement, on the same test resample
(:func:`synthclf.analysis.table1.seed_mean_replicates`) — and takes percentiles of the
replicate equivalents; a bound outside the curve is censored ("< 8", "≥ 64").
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel, Field
from sklearn.isotonic import isotonic_regression

from synthclf.core.errors import InvalidInput


def fit_curve(per_label: Sequence[int], scores: Sequence[float] | np.ndarray) -> np.ndarray:
    """Non-decreasing least-squares fit of a learning curve (isotonic regression).

    Args:
        per_label: increasing real rows per label (P ≥ 1).
        scores: mean Macro-F1 at each size (P).

    Returns:
        float [P]: the fitted, non-decreasing values.

    Raises:
        InvalidInput: sizes not strictly increasing, or lengths differ.
    """
    sizes = np.asarray(per_label, dtype=np.float64)
    if len(sizes) != len(scores) or len(sizes) == 0:
        raise InvalidInput(f"a learning curve needs one score per size, got {len(sizes)} sizes and "
                           f"{len(scores)} scores")
    if np.any(np.diff(sizes) <= 0) or sizes[0] <= 0:
        raise InvalidInput(f"learning-curve sizes must be positive and strictly increasing, got {list(per_label)}")
    return isotonic_regression(np.asarray(scores, dtype=np.float64), increasing=True)


def invert_curve(per_label: Sequence[int], fitted: np.ndarray, target: float) -> float:
    """The smallest n where the fitted curve reaches ``target``, interpolated in log n.

    Returns:
        n (a float in [per_label[0], per_label[-1]]); ``-inf`` when ``target`` is below the
        fitted first point, ``+inf`` when above the fitted last point.
    """
    if target < fitted[0]:
        return -math.inf
    if target > fitted[-1]:
        return math.inf
    j = int(np.argmax(fitted >= target))
    if j == 0:
        return float(per_label[0])
    lo, hi = fitted[j - 1], fitted[j]
    t = (target - lo) / (hi - lo)
    log_n = math.log(per_label[j - 1]) + t * (math.log(per_label[j]) - math.log(per_label[j - 1]))
    return math.exp(log_n)


class Equivalent(BaseModel):
    """A model's real-label equivalent (real rows per label) with its interval."""

    per_label: float | None = Field(description="Equivalent n; None outside the curve (see position).")
    position: str = Field(description="'inside', 'below' (< first size) or 'above' (≥ last size).")
    low: float | None = Field(None, description="Lower bound; None when outside the curve or unknown.")
    high: float | None = Field(None, description="Upper bound; None when outside the curve or unknown.")
    low_outside: str = Field("", description="'below' / 'above' when the lower bound is outside the curve.")
    high_outside: str = Field("", description="'below' / 'above' when the upper bound is outside the curve.")
    first: int = Field(description="The curve's first size.")
    last: int = Field(description="The curve's last size.")

    def _bound(self, value: float | None, outside: str) -> str:
        if outside == "below":
            return f"< {self.first}"
        if outside == "above":
            return f"≥ {self.last}"
        return f"{value:.0f}"

    @property
    def text(self) -> str:
        """As shown: ``22 (15–31)``, ``< 8``, ``≥ 64``, ``22 (< 8–31)``."""
        head = self._bound(self.per_label, "" if self.position == "inside" else self.position)
        if self.low is None and self.high is None and not (self.low_outside or self.high_outside):
            return head
        low, high = self._bound(self.low, self.low_outside), self._bound(self.high, self.high_outside)
        return head if low == high == head else f"{head} ({low}–{high})"


def _quantile_bound(values: np.ndarray, q: float, lower: bool) -> float:
    """The q-quantile of values that may hold ±inf, without interpolating across infinities."""
    ordered = np.sort(values)
    position = q * (len(ordered) - 1)
    return float(ordered[math.floor(position)] if lower else ordered[math.ceil(position)])


def real_label_equivalent(per_label: Sequence[int], curve: Sequence[float], target: float, *,
                          curve_replicates: np.ndarray | None = None, target_replicates: np.ndarray | None = None,
                          confidence: float = 0.95) -> Equivalent:
    """Place a model with Macro-F1 ``target`` on a real-data learning curve.

    Args:
        per_label: the curve's sizes, strictly increasing (P).
        curve: mean Macro-F1 at each size (P); fitted isotonically here.
        target: the model's mean Macro-F1.
        curve_replicates: float [P, B] bootstrap replicates of the curve points, or None.
        target_replicates: float [B] replicates of the model's score (the same resamples), or None.
        confidence: interval level in (0, 1).

    Returns:
        The :class:`Equivalent`; without replicates it has no interval.

    Raises:
        InvalidInput: bad sizes, or replicate shapes that do not match.
    """
    fitted = fit_curve(per_label, curve)
    point = invert_curve(per_label, fitted, target)
    position = "below" if point == -math.inf else "above" if point == math.inf else "inside"
    result = Equivalent(per_label=None if position != "inside" else point, position=position,
                        first=int(per_label[0]), last=int(per_label[-1]))
    if curve_replicates is None or target_replicates is None:
        return result
    curve_replicates = np.asarray(curve_replicates, dtype=np.float64)
    target_replicates = np.asarray(target_replicates, dtype=np.float64)
    if curve_replicates.shape != (len(per_label), len(target_replicates)):
        raise InvalidInput(f"curve replicates of shape {curve_replicates.shape} do not match "
                           f"{len(per_label)} sizes × {len(target_replicates)} resamples")
    values = np.array([invert_curve(per_label, fit_curve(per_label, curve_replicates[:, b]), target_replicates[b])
                       for b in range(len(target_replicates))])
    tail = (1.0 - confidence) / 2.0
    low, high = _quantile_bound(values, tail, True), _quantile_bound(values, 1.0 - tail, False)

    def outside(value: float) -> str:
        """Where a bound lies outside the curve's range: below (−∞), above (+∞), or inside ("")."""
        return "below" if value == -math.inf else "above" if value == math.inf else ""

    return result.model_copy(update={
        "low": None if math.isinf(low) else low, "high": None if math.isinf(high) else high,
        "low_outside": outside(low), "high_outside": outside(high)})
