"""Real-label equivalent on learning curves with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from synthclf.analysis.equivalent import fit_curve, invert_curve, real_label_equivalent
from synthclf.core.errors import InvalidInput

SIZES = [8, 16, 32, 64]
CURVE = [0.50, 0.60, 0.70, 0.80]


def test_inside_the_curve_interpolates_in_log_n():
    # Halfway between 16 (0.60) and 32 (0.70) in log n is sqrt(16 * 32) = 22.6.
    result = real_label_equivalent(SIZES, CURVE, 0.65)
    assert result.position == "inside"
    assert result.per_label == pytest.approx(math.sqrt(16 * 32))
    assert result.text == "23"
    assert real_label_equivalent(SIZES, CURVE, 0.60).per_label == pytest.approx(16)
    assert real_label_equivalent(SIZES, CURVE, 0.50).per_label == pytest.approx(8)


def test_below_and_above_the_curve_are_never_extrapolated():
    below = real_label_equivalent(SIZES, CURVE, 0.40)
    above = real_label_equivalent(SIZES, CURVE, 0.95)
    assert (below.position, below.per_label, below.text) == ("below", None, "< 8")
    assert (above.position, above.per_label, above.text) == ("above", None, "≥ 64")
    assert real_label_equivalent(SIZES, CURVE, 0.80).per_label == pytest.approx(64)


def test_non_monotone_noise_is_pooled_by_the_isotonic_fit():
    noisy = [0.50, 0.72, 0.68, 0.80]  # 32 scores below 16: noise
    fitted = fit_curve(SIZES, noisy)
    assert fitted == pytest.approx([0.50, 0.70, 0.70, 0.80])
    # 0.70 is first reached at 16 on the fit; 0.75 lies halfway (in log n) between 32 and 64.
    assert invert_curve(SIZES, fitted, 0.70) == pytest.approx(16)
    assert invert_curve(SIZES, fitted, 0.75) == pytest.approx(math.sqrt(32 * 64))
    assert invert_curve(SIZES, fitted, 0.60) == pytest.approx(math.exp((math.log(8) + math.log(16)) / 2))


def test_interval_from_replicates_covers_the_point_and_censors_outside():
    rng = np.random.default_rng(0)
    curve_reps = np.array(CURVE)[:, None] + rng.normal(0, 0.01, (4, 500))
    inside = real_label_equivalent(SIZES, CURVE, 0.65, curve_replicates=curve_reps,
                                   target_replicates=0.65 + rng.normal(0, 0.01, 500))
    assert inside.low < inside.per_label < inside.high
    assert 16 < inside.low and inside.high < 32
    assert inside.text == f"23 ({inside.low:.0f}–{inside.high:.0f})"
    edge = real_label_equivalent(SIZES, CURVE, 0.50, curve_replicates=curve_reps,
                                 target_replicates=0.50 + rng.normal(0, 0.02, 500))
    assert edge.low is None and edge.low_outside == "below" and edge.text.startswith("8 (< 8–")
    top = real_label_equivalent(SIZES, CURVE, 0.80, curve_replicates=curve_reps,
                                target_replicates=0.80 + rng.normal(0, 0.02, 500))
    assert top.high is None and top.high_outside == "above" and top.text.endswith("–≥ 64)")


@pytest.mark.parametrize("sizes, scores", [([8, 8, 16], [0.1, 0.2, 0.3]), ([16, 8], [0.1, 0.2]), ([8, 16], [0.1])])
def test_bad_curves_are_invalid_input(sizes, scores):
    with pytest.raises(InvalidInput):
        fit_curve(sizes, scores)


def test_replicate_shapes_must_match():
    with pytest.raises(InvalidInput, match="do not match"):
        real_label_equivalent(SIZES, CURVE, 0.6, curve_replicates=np.zeros((3, 10)), target_replicates=np.zeros(10))
