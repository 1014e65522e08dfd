"""Classification metrics on real test data with bootstrap confidence intervals.

Li et al. 2023 report Macro-F1 and accuracy (Table 1). Here each score also gets a
percentile-bootstrap interval: the test set is resampled with replacement ``n_bootstrap``
times and the ``(1 - confidence) / 2`` and ``1 - (1 - confidence) / 2`` percentiles of the
resampled scores are the bounds (Efron & Tibshirani 1993, ch. 13). Resampled scores are
computed from confusion matrices built with one vectorised ``np.bincount`` per chunk of
resamples, using scikit-learn's definitions with ``zero_division=0``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, Field
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

from synthclf.core.errors import InvalidInput
from synthclf.core.scoring import macro_f1_accuracy

#: Default number of bootstrap resamples.
N_BOOTSTRAP = 1000
#: Default confidence level of the intervals.
CONFIDENCE = 0.95
#: Resamples per vectorised chunk (bounds memory at ~chunk x n int64 values).
_CHUNK = 100


class Interval(BaseModel):
    """A confidence interval ``[low, high]`` of a score in [0, 1]."""

    low: float
    high: float


class ClassMetrics(BaseModel):
    """Per-label precision, recall, F1 (scikit-learn, zero_division=0), support and intervals."""

    precision: float
    recall: float
    f1: float
    support: int
    precision_ci: Interval | None = None
    recall_ci: Interval | None = None
    f1_ci: Interval | None = None


class Metrics(BaseModel):
    """Evaluation of predictions against gold labels."""

    macro_f1: float = Field(description="Unweighted mean of per-label F1 over all task labels, in [0, 1].")
    accuracy: float = Field(description="Share of correct predictions, in [0, 1].")
    support: int = Field(description="Number of evaluated texts.")
    per_class: dict[str, ClassMetrics] = Field(description="Per-label metrics.")
    labels: list[str] = Field(description="Label order of the confusion matrix.")
    confusion: list[list[int]] = Field(description="Rows gold, columns predicted, in `labels` order.")
    macro_f1_ci: Interval | None = Field(None, description="Bootstrap interval of macro_f1.")
    accuracy_ci: Interval | None = Field(None, description="Bootstrap interval of accuracy.")
    n_bootstrap: int = Field(0, description="Bootstrap resamples behind the intervals (0: none).")
    confidence: float = Field(CONFIDENCE, description="Confidence level of the intervals.")
    seed: int = Field(0, description="Seed of the bootstrap resampling.")


@dataclass(frozen=True)
class ResampledScores:
    """Scores of B resamples: ``macro_f1`` and ``accuracy`` [B]; per-class arrays [B, labels]."""

    macro_f1: np.ndarray
    accuracy: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    f1: np.ndarray


def evaluate_predictions(gold: Sequence[str], predicted: Sequence[str], labels: Sequence[str], *,
                         n_bootstrap: int = 0, seed: int = 0, confidence: float = CONFIDENCE) -> Metrics:
    """Macro-F1, accuracy, per-class scores and confusion matrix; see :func:`evaluate_with_resamples`."""
    return evaluate_with_resamples(gold, predicted, labels, n_bootstrap=n_bootstrap, seed=seed,
                                   confidence=confidence)[0]


def evaluate_with_resamples(gold: Sequence[str], predicted: Sequence[str], labels: Sequence[str], *,
                            n_bootstrap: int = 0, seed: int = 0,
                            confidence: float = CONFIDENCE) -> tuple[Metrics, ResampledScores | None]:
    """Macro-F1, accuracy, per-class scores and confusion matrix (scikit-learn).

    Macro-F1 averages over all task ``labels``, including labels absent from ``gold``
    or never predicted (their F1 is 0), as in the paper's Table 1.

    Args:
        gold: gold labels, length n.
        predicted: predicted labels, length n.
        labels: the task's label names.
        n_bootstrap: resamples for percentile-bootstrap intervals; 0: no intervals.
        seed: seed of the resampling (same seed and inputs -> same intervals).
        confidence: confidence level of the intervals, in (0, 1).

    Returns:
        (the metrics, the resampled scores — None without resamples). Resample b draws the
        rows :func:`bootstrap_indices` gives for (n, ``n_bootstrap``, ``seed``), so models
        scored on the same test split with the same seed have paired resamples.

    Raises:
        InvalidInput: empty input, mismatched lengths, negative ``n_bootstrap`` or
            ``confidence`` outside (0, 1).
    """
    if len(gold) == 0:
        raise InvalidInput("cannot evaluate on an empty dataset")
    if len(gold) != len(predicted):
        raise InvalidInput(f"{len(gold)} gold labels but {len(predicted)} predictions")
    labels = list(labels)
    macro_f1, accuracy = macro_f1_accuracy(gold, predicted, labels)
    precision, recall, f1, support = precision_recall_fscore_support(
        gold, predicted, labels=labels, zero_division=0
    )
    metrics = Metrics(
        macro_f1=macro_f1,
        accuracy=accuracy,
        support=len(gold),
        per_class={
            label: ClassMetrics(precision=float(p), recall=float(r), f1=float(f), support=int(s))
            for label, p, r, f, s in zip(labels, precision, recall, f1, support)
        },
        labels=labels,
        confusion=confusion_matrix(gold, predicted, labels=labels).tolist(),
        confidence=confidence,
        seed=seed,
    )
    scores = _add_intervals(metrics, gold, predicted, n_bootstrap, seed, confidence) if n_bootstrap else None
    return metrics, scores


def bootstrap_indices(n: int, n_bootstrap: int, seed: int) -> np.ndarray:
    """Row indices of ``n_bootstrap`` resamples with replacement: int64 [n_bootstrap, n]."""
    return np.random.default_rng(seed).integers(0, n, size=(n_bootstrap, n))


def resampled_scores(gold: Sequence[str], predicted: Sequence[str], labels: Sequence[str],
                     indices: np.ndarray) -> ResampledScores:
    """Scores of the resamples ``indices`` (each row a list of row numbers into gold/predicted).

    Per resample the confusion matrix over ``labels`` plus one "other" bucket (labels outside
    ``labels``) is counted, then precision = tp/(tp+fp), recall = tp/(tp+fn),
    F1 = 2tp/(2tp+fp+fn) with 0 where a denominator is 0 — scikit-learn's ``zero_division=0``
    definitions — and Macro-F1 is their mean over ``labels``. Accuracy compares the strings.

    Args:
        gold: gold labels, length n.
        predicted: predicted labels, length n.
        labels: label names (L).
        indices: int array [B, m] of row numbers in [0, n).

    Returns:
        The :class:`ResampledScores` (B rows each).
    """
    labels = list(labels)
    k = len(labels) + 1
    code = {label: i for i, label in enumerate(labels)}
    g = np.array([code.get(x, k - 1) for x in gold], dtype=np.int64)
    p = np.array([code.get(x, k - 1) for x in predicted], dtype=np.int64)
    correct = np.array([a == b for a, b in zip(gold, predicted)], dtype=np.float64)
    cells = g * k + p
    parts = []
    for start in range(0, len(indices), _CHUNK):
        chunk = indices[start:start + _CHUNK]
        flat = cells[chunk] + (np.arange(len(chunk)) * k * k)[:, None]
        parts.append(np.bincount(flat.ravel(), minlength=len(chunk) * k * k).reshape(len(chunk), k, k))
    counts = np.concatenate(parts).astype(np.float64)
    tp = np.diagonal(counts, axis1=1, axis2=2)[:, :-1]
    fp = counts.sum(axis=1)[:, :-1] - tp
    fn = counts.sum(axis=2)[:, :-1] - tp
    precision, recall, f1 = _ratio(tp, tp + fp), _ratio(tp, tp + fn), _ratio(2 * tp, 2 * tp + fp + fn)
    return ResampledScores(macro_f1=f1.mean(axis=1), accuracy=correct[indices].mean(axis=1),
                           precision=precision, recall=recall, f1=f1)


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, 0 where the denominator is 0."""
    out = np.zeros_like(numerator)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out


def percentile_interval(values: np.ndarray, confidence: float = CONFIDENCE) -> Interval:
    """Percentile interval of bootstrap values [B] at ``confidence``."""
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(values, [tail, 1.0 - tail])
    return Interval(low=float(low), high=float(high))


def _add_intervals(metrics: Metrics, gold: Sequence[str], predicted: Sequence[str], n_bootstrap: int,
                   seed: int, confidence: float) -> ResampledScores:
    """Fill the intervals of ``metrics`` from ``n_bootstrap`` resamples; returns their scores."""
    if n_bootstrap < 0:
        raise InvalidInput(f"n_bootstrap must be >= 0, got {n_bootstrap}")
    if not 0.0 < confidence < 1.0:
        raise InvalidInput(f"confidence must be in (0, 1), got {confidence}")
    scores = resampled_scores(gold, predicted, metrics.labels,
                              bootstrap_indices(len(gold), n_bootstrap, seed))
    metrics.macro_f1_ci = percentile_interval(scores.macro_f1, confidence)
    metrics.accuracy_ci = percentile_interval(scores.accuracy, confidence)
    metrics.n_bootstrap = n_bootstrap
    for j, label in enumerate(metrics.labels):
        cls = metrics.per_class[label]
        cls.precision_ci = percentile_interval(scores.precision[:, j], confidence)
        cls.recall_ci = percentile_interval(scores.recall[:, j], confidence)
        cls.f1_ci = percentile_interval(scores.f1[:, j], confidence)
    return scores
