"""One Macro-F1 for validation, int8 checks and test metrics (core/scoring.py)."""

import pytest

from synthclf.core.scoring import macro_f1_accuracy


def test_macro_f1_averages_over_every_task_label_not_only_those_present():
    # Perfect on labels 0 and 1; label 2 is absent from this (small) set: F1 0 counts.
    macro_f1, accuracy = macro_f1_accuracy([0, 0, 1], [0, 0, 1], labels=[0, 1, 2])
    assert macro_f1 == pytest.approx(2 / 3)
    assert accuracy == 1.0


def test_names_and_a_never_predicted_label():
    macro_f1, accuracy = macro_f1_accuracy(["ham", "spam"], ["ham", "ham"], labels=["spam", "ham"])
    assert macro_f1 == pytest.approx((2 / 3 + 0) / 2)
    assert accuracy == 0.5


def test_mismatched_lengths_raise():
    with pytest.raises(ValueError):
        macro_f1_accuracy([0, 1], [0], labels=[0, 1])
