"""Top-k cosine similarity: hand-worked case and brute force."""

from __future__ import annotations

import math

import numpy as np
import pytest

from synthclf.analysis.similarity import dataset_similarity, top_k_similarities
from synthclf.core.errors import InvalidInput


def _angles(*degrees: float) -> np.ndarray:
    radians = np.radians(degrees)
    return np.stack([np.cos(radians), np.sin(radians)], axis=1)


def test_top5_hand_worked():
    synthetic = _angles(0)
    real = _angles(0, 60, 90, 180, 45, 30)  # cosines 1, .5, 0, -1, .7071, .8660
    expected = (1 + 0.5 + 0 + math.sqrt(2) / 2 + math.sqrt(3) / 2) / 5
    assert top_k_similarities(synthetic, real, 5)[0] == pytest.approx(expected)
    assert top_k_similarities(synthetic, real, 1)[0] == pytest.approx(1.0)


def test_k_is_capped_at_the_real_texts():
    assert top_k_similarities(_angles(0), _angles(0, 90), 5)[0] == pytest.approx(0.5)


def test_against_brute_force():
    rng = np.random.default_rng(1)
    s, r = rng.normal(size=(30, 6)), rng.normal(size=(50, 6))
    sims = (s / np.linalg.norm(s, axis=1, keepdims=True)) @ (r / np.linalg.norm(r, axis=1, keepdims=True)).T
    np.testing.assert_allclose(top_k_similarities(s, r, 5), np.sort(sims, axis=1)[:, -5:].mean(axis=1))


def test_dataset_similarity_overall_and_per_label():
    synthetic = _angles(0, 90)
    real = _angles(0, 10, 90, 100)
    result = dataset_similarity(synthetic, ["a", "b"], real, ["a", "a", "b", "b"], k=1)
    assert result.mean_top_k == pytest.approx(1.0) and result.k == 1
    assert result.per_label == pytest.approx({"a": 1.0, "b": 1.0})
    assert result.n_synthetic == 2 and result.n_real == 4


@pytest.mark.parametrize("synthetic,real,k", [(_angles(0), np.zeros((0, 2)), 5), (_angles(0), _angles(0), 0),
                                              (_angles(0), np.ones((2, 3)), 1)])
def test_invalid_inputs(synthetic, real, k):
    with pytest.raises(InvalidInput):
        top_k_similarities(synthetic, real, k)
