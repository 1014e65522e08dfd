"""Remote-clique score and chamfer distance: hand-worked cases and brute force with scikit-learn."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics.pairwise import cosine_distances

from synthclf.analysis.diversity import (
    chamfer_distance,
    dataset_diversity,
    pca_projection,
    remote_clique,
    sample_rows,
)
from synthclf.core.errors import InvalidInput


def _angles(*degrees: float) -> np.ndarray:
    radians = np.radians(degrees)
    return np.stack([np.cos(radians), np.sin(radians)], axis=1)


def test_three_directions_hand_worked():
    # 0°, 90°, 180°: cosine distances 1 (0-90), 2 (0-180), 1 (90-180).
    points = _angles(0, 90, 180)
    assert remote_clique(points) == pytest.approx(4 / 3)
    assert chamfer_distance(points) == pytest.approx(1.0)


def test_three_points_on_a_half_circle_hand_worked():
    # 0°, 60°, 120°: distances 0.5, 1.5, 0.5 -> mean 5/6; each nearest neighbour at 0.5.
    points = _angles(0, 60, 120) * np.array([[1.0], [3.0], [0.5]])  # norms do not matter
    assert remote_clique(points) == pytest.approx(5 / 6)
    assert chamfer_distance(points) == pytest.approx(0.5)


def test_duplicates_have_zero_chamfer_distance():
    points = _angles(10, 10, 200, 200)
    assert chamfer_distance(points) == pytest.approx(0.0, abs=1e-12)
    assert remote_clique(points) > 0


def test_against_brute_force_cosine_distances():
    x = np.random.default_rng(0).normal(size=(40, 8))
    d = cosine_distances(x)
    n = len(x)
    assert remote_clique(x) == pytest.approx(d[~np.eye(n, dtype=bool)].mean())
    np.fill_diagonal(d, np.inf)
    assert chamfer_distance(x) == pytest.approx(d.min(axis=1).mean())


def test_fewer_than_two_texts_is_nan_and_bad_shape_is_invalid():
    assert math.isnan(remote_clique(np.ones((1, 3)))) and math.isnan(chamfer_distance(np.ones((1, 3))))
    with pytest.raises(InvalidInput):
        remote_clique(np.ones(3))


def test_dataset_diversity_per_label():
    points = np.concatenate([_angles(0, 90, 180), _angles(0, 60, 120)])
    result = dataset_diversity(points, ["a"] * 3 + ["b"] * 3, n_total=10, max_texts=6, seed=1)
    assert result.per_label["a"].remote_clique == pytest.approx(4 / 3)
    assert result.per_label["b"].chamfer == pytest.approx(0.5)
    assert result.overall.n == 6 and result.n_total == 10
    with pytest.raises(InvalidInput):
        dataset_diversity(points, ["a"], n_total=6)


def test_sample_rows_is_seeded_stratified_and_capped():
    frame = pd.DataFrame({"text": [f"t{i}" for i in range(100)], "label": ["a"] * 80 + ["b"] * 20})
    rows = sample_rows(frame, 10, seed=3)
    assert len(rows) == 10 and 2 <= (frame.loc[rows, "label"] == "b").sum() <= 3  # ~ 20 %
    assert (rows == sample_rows(frame, 10, seed=3)).all()
    assert len(sample_rows(frame, 1000)) == 100


def test_pca_projection_keeps_groups_and_sizes():
    rng = np.random.default_rng(0)
    groups = {"real": rng.normal(size=(20, 5)), "zero_shot": rng.normal(3, 1, size=(10, 5)), "few": np.zeros((0, 5))}
    out = pca_projection(groups)
    assert [v.shape for v in out.values()] == [(20, 2), (10, 2), (0, 2)]
    assert abs(out["real"][:, 0].mean() - out["zero_shot"][:, 0].mean()) > 2  # separated along PC1


def test_scores_of_a_single_text_label_survive_a_json_round_trip():
    """A label with one text has NaN scores; JSON stores them as null and they read back as NaN."""
    from synthclf.analysis.diversity import DiversityResult, DiversityScores

    lone = DiversityScores(remote_clique=math.nan, chamfer=math.nan, n=1)
    result = DiversityResult(overall=DiversityScores(remote_clique=0.5, chamfer=0.2, n=3),
                             per_label={"spam": lone}, n_total=3, max_texts=10, seed=0)
    restored = DiversityResult.model_validate_json(result.model_dump_json())
    assert math.isnan(restored.per_label["spam"].remote_clique)
    assert math.isnan(restored.per_label["spam"].chamfer)
    assert restored.overall.remote_clique == 0.5
