"""Agreement, the agreement sweep with its fit (checked against SciPy), on hand cases and real VADER data."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from synthclf.analysis.subjectivity import (
    agreement_sweep,
    default_gammas,
    fit_trend,
    task_subjectivity,
)
from synthclf.core.errors import InvalidInput
from synthclf.core.schema import instance_agreement


@pytest.mark.parametrize("annotations,expected", [
    (["pos", "pos", "neg"], 2 / 3), (["a", "b", "c", "a"], 0.5), (["x"] * 5, 1.0), (["a", "b"], 0.5),
])
def test_instance_agreement(annotations, expected):
    assert instance_agreement(annotations) == pytest.approx(expected)


def test_agreement_without_annotations_is_nan():
    assert math.isnan(instance_agreement([]))


def test_default_gammas_span_lowest_possible_agreement_to_one():
    assert default_gammas(2, 6) == [0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
    assert default_gammas(4)[0] == 0.25 and len(default_gammas(4)) == 11


def test_sweep_hand_worked():
    correct = [True, False, True, True, False]
    agreement = [1.0, 0.5, 2 / 3, 1.0, float("nan")]  # the NaN row is left out
    sweep = agreement_sweep(correct, agreement, [0.5, 2 / 3, 1.0], min_instances=1)
    assert [p.gamma for p in sweep.points] == pytest.approx([0.5, 2 / 3, 1.0])
    assert [p.accuracy for p in sweep.points] == pytest.approx([3 / 4, 1.0, 1.0])
    assert [p.n for p in sweep.points] == [4, 3, 2]
    assert sweep.n_instances == 4


def test_sweep_drops_thin_thresholds():
    sweep = agreement_sweep([True] * 5 + [False] * 5, [0.6] * 9 + [1.0], [0.5, 0.9], min_instances=3)
    assert [p.gamma for p in sweep.points] == [0.5] and [p.n for p in sweep.dropped] == [1]


def test_fit_matches_scipy():
    x = [0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
    y = [0.62, 0.66, 0.65, 0.74, 0.79, 0.83]
    fit = fit_trend(x, y)
    line = stats.linregress(x, y)
    rho, p = stats.spearmanr(x, y)
    assert fit.slope == pytest.approx(line.slope) and fit.intercept == pytest.approx(line.intercept)
    assert fit.r_squared == pytest.approx(line.rvalue ** 2)
    assert fit.spearman_rho == pytest.approx(rho) and fit.spearman_p == pytest.approx(p)


def test_fit_undefined_cases_are_none():
    assert fit_trend([0.5], [0.7]).slope is None
    flat = fit_trend([0.5, 0.7, 0.9], [0.8, 0.8, 0.8])
    assert flat.slope == pytest.approx(0.0) and flat.r_squared is None and flat.spearman_rho is None
    two = fit_trend([0.5, 1.0], [0.6, 0.9])
    assert two.r_squared == pytest.approx(1.0) and two.spearman_rho is None


@pytest.mark.parametrize("args", [([True], [0.5, 1.0], [0.5]), ([True], [0.5], []), ([True], [0.5], [1.5]),
                                  ([True], [float("nan")], [0.5])])
def test_sweep_invalid(args):
    with pytest.raises(InvalidInput):
        agreement_sweep(*args)


def test_sweep_on_real_vader_data_gives_finite_fit():
    """A real classifier (TF-IDF + logistic regression) on the real VADER movie snippets."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    from synthclf.core.corpora import load_real_dataset

    frame = load_real_dataset("vader_movie")
    train, test = frame[frame["split"] == "train"], frame[frame["split"] == "test"]
    vectorizer = TfidfVectorizer(min_df=2).fit(train["text"])
    model = LogisticRegression(max_iter=1000).fit(vectorizer.transform(train["text"]), train["label"])
    correct = model.predict(vectorizer.transform(test["text"])) == test["label"].to_numpy()
    sweep = agreement_sweep(correct, test["agreement"].to_numpy(), default_gammas(2))
    assert len(sweep.points) >= 5
    assert np.isfinite(sweep.fit.r_squared) and np.isfinite(sweep.fit.spearman_rho)
    assert np.isfinite(sweep.fit.spearman_p)
    assert sweep.fit.slope > 0  # the paper's finding: higher agreement, higher accuracy


def test_task_subjectivity_gaps_and_spearman():
    ratings = {"t1": 1, "t2": 2, "t3": 3, "t4": 4, "t5": 5}
    scores = [(t, "", "real", 0.9) for t in ratings] + [(t, "", "zero_shot", 0.9 - 0.05 * r)
                                                         for t, r in ratings.items()]
    result = task_subjectivity(scores, ratings)
    assert [g.gap for g in result.gaps] == pytest.approx([0.05, 0.10, 0.15, 0.20, 0.25])
    (corr,) = result.correlations
    assert corr.spearman_rho == pytest.approx(1.0) and corr.n_tasks == 5
    assert result.caveat == ""


def test_task_subjectivity_with_few_tasks_has_a_caveat():
    result = task_subjectivity([("a", "", "real", 0.9), ("a", "", "few_shot", 0.8), ("b", "", "real", 0.9),
                                ("b", "", "few_shot", 0.7), ("c", "", "few_shot", 0.5)], {"a": 1, "b": 3})
    assert result.correlations[0].spearman_rho is None
    assert "only 2 task(s)" in result.caveat and "no subjectivity rating for: c" in result.caveat


def test_task_subjectivity_compares_each_backbone_with_its_own_real_baseline():
    scores = [("a", "", "real", 0.9), ("a", "", "few_shot", 0.8), ("a", "roberta", "real", 0.95),
              ("a", "roberta", "few_shot", 0.9)]
    result = task_subjectivity(scores, {"a": 2})
    assert {(g.backbone, round(g.gap, 3)) for g in result.gaps} == {("", 0.1), ("roberta", 0.05)}
    assert {c.backbone for c in result.correlations} == {"", "roberta"}
