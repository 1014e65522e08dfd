"""Classification metrics on real test data (Li et al. 2023, Table 1: Macro-F1 and accuracy)."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, Field
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

from synthclf.core.errors import InvalidInput


class ClassMetrics(BaseModel):
    """Per-label precision, recall, F1 (scikit-learn, zero_division=0) and support."""

    precision: float
    recall: float
    f1: float
    support: int


class Metrics(BaseModel):
    """Evaluation of predictions against gold labels."""

    macro_f1: float = Field(description="Unweighted mean of per-label F1 over all task labels, in [0, 1].")
    accuracy: float = Field(description="Share of correct predictions, in [0, 1].")
    support: int = Field(description="Number of evaluated texts.")
    per_class: dict[str, ClassMetrics] = Field(description="Per-label metrics.")
    labels: list[str] = Field(description="Label order of the confusion matrix.")
    confusion: list[list[int]] = Field(description="Rows gold, columns predicted, in `labels` order.")


def evaluate_predictions(gold: Sequence[str], predicted: Sequence[str], labels: Sequence[str]) -> Metrics:
    """Macro-F1, accuracy, per-class scores and confusion matrix (scikit-learn).

    Macro-F1 averages over all task ``labels``, including labels absent from ``gold``
    or never predicted (their F1 is 0), as in the paper's Table 1.

    Args:
        gold: gold labels, length n.
        predicted: predicted labels, length n.
        labels: the task's label names.

    Raises:
        InvalidInput: empty input or mismatched lengths.
    """
    if len(gold) == 0:
        raise InvalidInput("cannot evaluate on an empty dataset")
    if len(gold) != len(predicted):
        raise InvalidInput(f"{len(gold)} gold labels but {len(predicted)} predictions")
    labels = list(labels)
    precision, recall, f1, support = precision_recall_fscore_support(
        gold, predicted, labels=labels, zero_division=0
    )
    return Metrics(
        macro_f1=float(f1_score(gold, predicted, labels=labels, average="macro", zero_division=0)),
        accuracy=float(accuracy_score(gold, predicted)),
        support=len(gold),
        per_class={
            label: ClassMetrics(precision=float(p), recall=float(r), f1=float(f), support=int(s))
            for label, p, r, f, s in zip(labels, precision, recall, f1, support)
        },
        labels=labels,
        confusion=confusion_matrix(gold, predicted, labels=labels).tolist(),
    )
