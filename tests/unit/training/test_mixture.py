"""Tests of synthclf.training.mixture: count / fraction draws, stratified, clear errors."""

from __future__ import annotations

import pandas as pd
import pytest
from pydantic import ValidationError

from synthclf.core.errors import InvalidInput
from synthclf.training.mixture import TrainingData, draw_mixture

LABELS = ["ham", "spam"]


def dataset(n_ham: int, n_spam: int, prefix: str) -> pd.DataFrame:
    texts = [f"{prefix} ham {i}" for i in range(n_ham)] + [f"{prefix} spam {i}" for i in range(n_spam)]
    return pd.DataFrame({"text": texts, "label": ["ham"] * n_ham + ["spam"] * n_spam})


def test_count_and_fraction_draw_the_requested_rows_stratified():
    real, synthetic = dataset(80, 20, "real"), dataset(300, 300, "syn")
    frame, stats = draw_mixture([
        (TrainingData(uri="file:///real", count=50), real, "real"),
        (TrainingData(uri="file:///syn", fraction=0.25), synthetic, "few_shot"),
    ], LABELS, seed=0)
    assert len(frame) == 50 + 150
    assert stats[0] == {"uri": "file:///real", "source": "real", "rows_available": 100, "count": 50,
                        "fraction": None, "count_per_label": None, "rows_drawn": 50,
                        "label_counts": {"ham": 40, "spam": 10}}
    assert stats[1]["rows_drawn"] == 150 and stats[1]["label_counts"] == {"ham": 75, "spam": 75}
    assert frame.groupby("source").size().to_dict() == {"few_shot": 150, "real": 50}
    assert frame["text"].is_unique


def test_no_amount_uses_every_row_and_draws_are_seeded():
    real = dataset(10, 10, "real")
    frame, stats = draw_mixture([(TrainingData(uri="u"), real, "real")], LABELS, seed=0)
    assert len(frame) == 20 and stats[0]["count"] is None and stats[0]["fraction"] is None
    item = TrainingData(uri="u", count=7)
    first = draw_mixture([(item, real, "real")], LABELS, seed=3)[0]
    again = draw_mixture([(item, real, "real")], LABELS, seed=3)[0]
    assert first.equals(again)


def test_count_and_fraction_together_are_refused():
    with pytest.raises(ValidationError, match=r"not count \(5\) and fraction \(0.5\)"):
        TrainingData(uri="u", count=5, fraction=0.5)
    with pytest.raises(ValidationError, match="count_per_label"):
        TrainingData(uri="u", count=5, count_per_label=2)


def test_count_per_label_draws_a_balanced_seeded_sample_shared_by_mixtures():
    real, synthetic = dataset(80, 12, "real"), dataset(30, 30, "syn")
    alone, stats = draw_mixture([(TrainingData(uri="r", count_per_label=8), real, "real")], LABELS, seed=4)
    assert alone.groupby("label").size().to_dict() == {"ham": 8, "spam": 8}
    assert stats[0]["count_per_label"] == 8 and stats[0]["count"] is None
    mixed, _ = draw_mixture([(TrainingData(uri="r", count_per_label=8), real, "real"),
                             (TrainingData(uri="s"), synthetic, "few_shot")], LABELS, seed=4)
    assert set(mixed[mixed["source"] == "real"]["text"]) == set(alone["text"])  # the curve point's rows
    other, _ = draw_mixture([(TrainingData(uri="r", count_per_label=8), real, "real")], LABELS, seed=5)
    assert set(other["text"]) != set(alone["text"])
    with pytest.raises(InvalidInput, match="asked for 16 rows per label, but 'spam' has 12"):
        draw_mixture([(TrainingData(uri="r", count_per_label=16), real, "real")], LABELS, seed=0)


def test_count_per_label_changes_the_training_key_only_when_set():
    assert "count_per_label" not in TrainingData(uri="u", count=5).key()
    assert TrainingData(uri="u", count_per_label=8).key()["count_per_label"] == 8


@pytest.mark.parametrize(
    ("frame", "item", "message"),
    [
        (dataset(3, 3, "x"), TrainingData(uri="u", count=7), "asked for 7 rows of u, which has only 6"),
        (dataset(0, 0, "x"), TrainingData(uri="u"), "training dataset u is empty"),
        (pd.DataFrame({"text": ["fine", " "], "label": ["ham", "spam"]}), TrainingData(uri="u"),
         "1 empty text.*first at row 1"),
        (pd.DataFrame({"text": ["a", "b"], "label": ["ham", "eggs"]}), TrainingData(uri="u"),
         "labels outside the task: eggs"),
    ],
)
def test_bad_inputs_name_the_dataset(frame, item, message):
    with pytest.raises(InvalidInput, match=message):
        draw_mixture([(item, frame, "real")], LABELS, seed=0)


def test_no_inputs_is_refused():
    with pytest.raises(InvalidInput, match="no training data"):
        draw_mixture([], LABELS, seed=0)
