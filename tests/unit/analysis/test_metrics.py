"""Macro-F1, accuracy and bootstrap intervals: hand-worked cases and agreement with scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support

from synthclf.analysis.metrics import (
    bootstrap_indices,
    evaluate_predictions,
    percentile_interval,
    resampled_scores,
)
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
    assert m.macro_f1_ci is None and m.n_bootstrap == 0


def test_absent_label_counts_as_zero_f1():
    m = evaluate_predictions(["a", "a"], ["a", "a"], ["a", "b"])
    assert m.macro_f1 == pytest.approx(0.5)
    assert m.macro_f1 == pytest.approx(f1_score(["a", "a"], ["a", "a"], labels=["a", "b"],
                                                average="macro", zero_division=0))


@pytest.mark.parametrize("gold,pred", [([], []), (["a"], ["a", "b"])])
def test_bad_input(gold, pred):
    with pytest.raises(InvalidInput):
        evaluate_predictions(gold, pred, ["a", "b"])


def _random_case(n=120, seed=3):
    rng = np.random.default_rng(seed)
    labels = ["neg", "neu", "pos"]
    gold = rng.choice(labels, size=n).tolist()
    pred = [g if rng.random() < 0.7 else rng.choice(labels + ["other"]) for g in gold]
    return gold, pred, labels


def test_resampled_scores_match_scikit_learn_per_resample():
    gold, pred, labels = _random_case()
    indices = bootstrap_indices(len(gold), 5, seed=1)
    scores = resampled_scores(gold, pred, labels, indices)
    for b, rows in enumerate(indices):
        g, p = [gold[i] for i in rows], [pred[i] for i in rows]
        precision, recall, f1, _ = precision_recall_fscore_support(g, p, labels=labels, zero_division=0)
        assert scores.macro_f1[b] == pytest.approx(f1_score(g, p, labels=labels, average="macro", zero_division=0))
        assert scores.accuracy[b] == pytest.approx(accuracy_score(g, p))
        np.testing.assert_allclose(scores.precision[b], precision)
        np.testing.assert_allclose(scores.recall[b], recall)
        np.testing.assert_allclose(scores.f1[b], f1)


def test_identity_resample_gives_the_point_estimate():
    gold, pred, labels = _random_case()
    m = evaluate_predictions(gold, pred, labels)
    scores = resampled_scores(gold, pred, labels, np.arange(len(gold))[None, :])
    assert scores.macro_f1[0] == pytest.approx(m.macro_f1)
    assert scores.accuracy[0] == pytest.approx(m.accuracy)


def test_bootstrap_interval_contains_estimate_and_is_deterministic():
    gold, pred, labels = _random_case()
    a = evaluate_predictions(gold, pred, labels, n_bootstrap=500, seed=7)
    b = evaluate_predictions(gold, pred, labels, n_bootstrap=500, seed=7)
    c = evaluate_predictions(gold, pred, labels, n_bootstrap=500, seed=8)
    assert a.macro_f1_ci.low < a.macro_f1 < a.macro_f1_ci.high
    assert a.accuracy_ci.low < a.accuracy < a.accuracy_ci.high
    for cls in a.per_class.values():
        assert cls.f1_ci.low <= cls.f1 <= cls.f1_ci.high
    assert a.macro_f1_ci == b.macro_f1_ci and a.per_class == b.per_class
    assert a.macro_f1_ci != c.macro_f1_ci
    assert a.n_bootstrap == 500


def test_interval_narrows_with_more_test_data():
    small = evaluate_predictions(*_random_case(n=60), n_bootstrap=400)
    large = evaluate_predictions(*_random_case(n=2000), n_bootstrap=400)
    assert (large.accuracy_ci.high - large.accuracy_ci.low) < (small.accuracy_ci.high - small.accuracy_ci.low)


def test_percentile_interval_of_known_values():
    interval = percentile_interval(np.arange(101, dtype=float), 0.9)
    assert (interval.low, interval.high) == pytest.approx((5.0, 95.0))


@pytest.mark.parametrize("kwargs", [{"n_bootstrap": -1}, {"n_bootstrap": 10, "confidence": 1.5}])
def test_bad_bootstrap_parameters(kwargs):
    with pytest.raises(InvalidInput):
        evaluate_predictions(["a", "b"], ["a", "b"], ["a", "b"], **kwargs)
