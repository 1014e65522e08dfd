"""Macro-F1 and accuracy: hand-worked cases and agreement with scikit-learn."""

from __future__ import annotations

import pytest
from sklearn.metrics import f1_score

from synthclf.analysis.metrics import evaluate_predictions
from synthclf.analysis.report import EvaluationRow, findings, render_table1
from synthclf.core.errors import InvalidInput


def test_hand_worked_binary_case():
    gold = ["spam", "spam", "ham", "ham", "ham"]
    pred = ["spam", "ham", "ham", "ham", "spam"]
    m = evaluate_predictions(gold, pred, ["ham", "spam"])
    # ham: P=2/3 R=2/3 F1=2/3; spam: P=1/2 R=1/2 F1=1/2; macro = 7/12
    assert m.macro_f1 == pytest.approx(7 / 12)
    assert m.accuracy == pytest.approx(3 / 5)
    assert m.confusion == [[2, 1], [1, 1]]
    assert m.per_class["spam"].support == 2


def test_absent_label_counts_as_zero_f1():
    m = evaluate_predictions(["a", "a"], ["a", "a"], ["a", "b"])
    assert m.macro_f1 == pytest.approx(0.5)
    assert m.macro_f1 == pytest.approx(f1_score(["a", "a"], ["a", "a"], labels=["a", "b"],
                                                average="macro", zero_division=0))


@pytest.mark.parametrize("gold,pred", [([], []), (["a"], ["a", "b"])])
def test_bad_input(gold, pred):
    with pytest.raises(InvalidInput):
        evaluate_predictions(gold, pred, ["a", "b"])


def _row(source, f1):
    return EvaluationRow(task="sms_spam", source=source, macro_f1=f1, accuracy=f1, support=10,
                         evaluation_uri=f"file:///x/evaluation/{source}")


def test_table1_orders_known_sources_and_findings_follow_numbers():
    rows = [_row("few_shot", 0.8), _row("real", 0.9), _row("zero_shot", 0.95)]
    table = render_table1(rows)
    header = table.splitlines()[0]
    assert header.index("real") < header.index("zero_shot") < header.index("few_shot")
    assert "| sms_spam | 0.900 / 0.900 | 0.950 / 0.950 | 0.800 / 0.800 |" in table
    text = " ".join(findings(rows))
    assert "few_shot data gives Macro-F1 0.800, 0.100 below" in text
    assert "zero_shot data gives Macro-F1 0.950, 0.050 above" in text
