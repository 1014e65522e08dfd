"""Macro-F1 and accuracy: the one definition every service scores a classifier with.

Li et al. (EMNLP 2023, §3) report Macro-F1 and accuracy. Macro-F1 here is the unweighted mean
of the per-class F1 over **all** of the task's labels (scikit-learn's
``f1_score(..., labels=all_labels, average="macro", zero_division=0)``): a label the model
never predicts and the data never holds counts as F1 0, so a model that collapses onto one
class is not rewarded for a small validation set that lacks the others. Training's
validation, the int8 quantization check and the analysis service's test metrics all call
:func:`macro_f1_accuracy`, so a validation score and a test score are comparable.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.metrics import accuracy_score, f1_score


def macro_f1_accuracy(gold: Sequence | np.ndarray, predicted: Sequence | np.ndarray,
                      labels: Sequence) -> tuple[float, float]:
    """Macro-F1 over every label in ``labels`` and accuracy, both in [0, 1].

    Args:
        gold: true labels, length n (names or integer ids — the same kind as ``labels``).
        predicted: predicted labels, length n.
        labels: every label of the task (names or ids), in any order.

    Returns:
        ``(macro_f1, accuracy)``.

    Raises:
        ValueError: ``gold`` and ``predicted`` differ in length or are empty (scikit-learn).
    """
    macro_f1 = f1_score(gold, predicted, labels=list(labels), average="macro", zero_division=0)
    return float(macro_f1), float(accuracy_score(gold, predicted))
