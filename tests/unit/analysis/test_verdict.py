"""Verdict rules at their boundaries, on runs with known scores."""

from __future__ import annotations

import pytest
from fake_runs import run, study

from synthclf.analysis.metrics import ClassMetrics, Interval
from synthclf.analysis.verdict import (
    Difference,
    ReplaceCheck,
    StretchCheck,
    decide,
    rule_text,
    task_verdict,
)
from synthclf.core.errors import InvalidInput

CURVE = {8: 0.50, 16: 0.60, 32: 0.70, 64: 0.80}


def _replace(low: float, delta: float = 0.02) -> ReplaceCheck:
    difference = Difference(value=low + 0.01, interval=Interval(low=low, high=low + 0.02))
    return ReplaceCheck(source="few_shot", backbone="", macro_f1=0.8, reference="full real", reference_macro_f1=0.81,
                        difference=difference, passes=difference.bound() >= -delta)


def _stretch(low: float, delta: float = 0.02) -> StretchCheck:
    gain = Difference(value=low + 0.01, interval=Interval(low=low, high=low + 0.02))
    return StretchCheck(source="few_shot", backbone="", real_per_label=8, mixed_macro_f1=0.7, real_macro_f1=0.6,
                        gain=gain, passes=gain.bound() > delta)


def test_replace_boundary_is_inclusive_at_minus_delta():
    assert decide([_replace(-0.02)], [], 0.02)[0] == "replace"
    assert decide([_replace(-0.0201)], [], 0.02)[0] == "dont"


def test_stretch_boundary_is_strict_at_delta_and_replace_wins():
    assert decide([], [_stretch(0.0201)], 0.02)[0] == "stretch"
    assert decide([], [_stretch(0.02)], 0.02)[0] == "dont"
    assert decide([_replace(-0.01)], [_stretch(0.3)], 0.02)[0] == "replace"


def test_nothing_to_compare_is_dont_with_the_reason():
    decision, reason = decide([], [], 0.02)
    assert decision == "dont" and "no comparison" in reason


def test_rule_text_names_delta_and_level():
    text = rule_text(0.05, 0.9)
    assert "δ = 0.05" in text and "90% interval" in text and "stretch" in text


def test_synthetic_close_to_full_real_replaces():
    runs = study(CURVE, {"few_shot": 0.895}, full_real=0.90)
    verdict = task_verdict(runs, n_labels=2)
    assert verdict.decision == "replace", verdict.reason
    check = verdict.replace[0]
    assert check.difference.value == pytest.approx(-0.005)
    assert check.difference.interval.low >= -0.02
    assert [p.per_label for p in verdict.curve] == [8, 16, 32, 64]
    assert verdict.equivalents[0].text.startswith("≥ 64")


def test_mixing_that_helps_small_data_stretches_with_equivalents():
    runs = study(CURVE, {"few_shot": 0.65}, full_real=0.90, mixed={("few_shot", 8): 0.70, ("few_shot", 16): 0.61})
    verdict = task_verdict(runs, n_labels=2, synthetic_costs={"few_shot": (200, 0.02)}, label_cost_usd=0.5)
    assert verdict.decision == "stretch", verdict.reason
    gains = {s.real_per_label: s for s in verdict.stretch}
    assert gains[8].gain.value == pytest.approx(0.20) and gains[8].passes
    assert gains[16].gain.value == pytest.approx(0.01) and not gains[16].passes
    alone = next(e for e in verdict.equivalents if e.real_per_label == 0)
    assert alone.equivalent.per_label == pytest.approx((16 * 32) ** 0.5)
    # LLM cost / (equivalent × labels), and what the same real labels would cost.
    assert alone.usd_per_equivalent_label == pytest.approx(0.02 / (alone.equivalent.per_label * 2))
    assert alone.human_cost_usd == pytest.approx(0.5 * alone.equivalent.per_label * 2)
    assert "8 real rows per label" in verdict.reason


def test_neither_is_dont():
    runs = study(CURVE, {"zero_shot": 0.55}, full_real=0.90, mixed={("zero_shot", 8): 0.505})
    verdict = task_verdict(runs, n_labels=2)
    assert verdict.decision == "dont" and verdict.decision_text == "don't"
    assert "neither clears δ = 0.02" in verdict.reason


def test_a_full_real_model_below_its_curve_is_replaced_by_the_best_curve_point_and_warned():
    # make run's defect: the size-matched real model (stratified, 8 spam of 60) collapsed to the
    # majority class, Macro-F1 0.467 below the 32/label point: synthetic data beating it is no "replace".
    runs = study({8: 0.538, 16: 0.60, 32: 0.70}, {"zero_shot": 0.50}, full_real=0.467)
    collapsed = ClassMetrics(precision=0.0, recall=0.0, f1=0.0, support=128)
    runs = [r.model_copy(update={"per_class": {"ham": ClassMetrics(precision=0.88, recall=1.0, f1=0.93, support=904),
                                               "spam": collapsed}})
            if r.condition.is_full_real else r for r in runs]
    verdict = task_verdict(runs, n_labels=2)
    check = verdict.replace[0]
    assert check.reference == "real × 32/label" and check.reference_macro_f1 == pytest.approx(0.70)
    assert check.difference.value == pytest.approx(-0.20) and not check.passes
    assert verdict.decision == "dont" and "real × 32/label" in verdict.reason
    assert any("never predicts 'spam'" in w for w in verdict.warnings)
    assert any("below the real × 32/label learning-curve point" in w for w in verdict.warnings)


def test_a_full_real_model_above_its_curve_is_the_reference_without_warnings():
    verdict = task_verdict(study(CURVE, {"few_shot": 0.895}, full_real=0.90), n_labels=2)
    assert verdict.replace[0].reference == "full real" and verdict.warnings == []


def test_without_resamples_point_estimates_decide_and_say_so():
    runs = study(CURVE, {"few_shot": 0.885}, full_real=0.90, resamples=False)
    verdict = task_verdict(runs, n_labels=2)
    assert verdict.decision == "replace" and "point estimates" in verdict.reason
    assert verdict.equivalents[0].equivalent.low is None


def test_several_backbones_are_decided_each_against_their_own_baseline():
    runs = (study(CURVE, {"few_shot": 0.70}, full_real=0.90, backbone="")
            + study(CURVE, {"few_shot": 0.895}, full_real=0.90, backbone="roberta-base"))
    verdict = task_verdict(runs, n_labels=2)
    assert {(r.backbone, r.passes) for r in verdict.replace} == {("", False), ("roberta-base", True)}
    assert verdict.decision == "replace"
    assert len(verdict.curve) == 8


def test_bad_inputs_are_invalid():
    with pytest.raises(InvalidInput, match="one task"):
        task_verdict([run("real", 0.9), run("real", 0.9, task="trec")], n_labels=2)
    with pytest.raises(InvalidInput, match="delta"):
        task_verdict([run("real", 0.9)], n_labels=2, delta=1.5)
    unpaired = run("few_shot", 0.8).model_copy(update={"dataset_uri": "file:///d/other"})
    with pytest.raises(InvalidInput, match="not paired"):
        task_verdict([run("real", 0.9), unpaired], n_labels=2)
