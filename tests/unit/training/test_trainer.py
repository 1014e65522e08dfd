"""Tests of synthclf.training.trainer on a tiny, obviously separable two-label dataset."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from sklearn.metrics import f1_score
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from synthclf.core.errors import InvalidInput
from synthclf.training.batching import holdout_split, length_grouped_batches
from synthclf.training.trainer import TrainConfig, train_classifier

SPORT = [
    "the team won the football match", "a late goal won the final", "the striker scored twice",
    "fans cheered the winning team", "the coach praised his players", "she won the tennis cup",
    "the runner broke the world record", "the basketball team trained hard",
    "the referee stopped the game", "the league title was decided on sunday",
    "the goalkeeper saved a penalty", "the cyclist won the mountain stage",
    "the boxer won by knockout", "the swimmer took gold in the relay",
    "the match ended in a draw", "the club signed a new defender",
    "the players celebrated the victory", "the rugby team lost the semi final",
    "he hit a home run in the ninth inning", "the olympic sprinter won the race",
]
FOOD = [
    "mix the flour with butter and sugar", "bake the bread in a hot oven",
    "chop the onions and fry them", "add salt to the boiling pasta",
    "the soup needs more pepper", "stir the tomato sauce slowly",
    "slice the cucumbers for the salad", "roast the chicken with garlic",
    "whisk the eggs and the milk", "simmer the beans for an hour",
    "grate cheese over the lasagne", "knead the dough until smooth",
    "season the steak with salt", "melt the chocolate over hot water",
    "peel and boil the potatoes", "marinate the fish in lemon juice",
    "toast the bread and spread butter", "fold the cream into the batter",
    "sprinkle herbs on the roasted vegetables", "steam the rice for twenty minutes",
]
HELD_OUT = [
    ("the home side scored a goal in extra time", "sport"),
    ("the tennis player lost in the quarter final", "sport"),
    ("the team won the championship trophy", "sport"),
    ("the runner finished the marathon first", "sport"),
    ("fry the garlic in olive oil", "food"),
    ("bake the cake for forty minutes", "food"),
    ("add sugar and stir the sauce", "food"),
    ("chop the carrots and boil them", "food"),
]
LABELS = ["sport", "food"]
TEXTS = SPORT + FOOD
TARGETS = ["sport"] * len(SPORT) + ["food"] * len(FOOD)
CONFIG = TrainConfig(
    epochs=2, batch_size=8, learning_rate=1e-4, max_length=32, validation_fraction=0.2, seed=7
)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Train once for the module; returns (result, progress events)."""
    events = []
    out = tmp_path_factory.mktemp("train") / "model"
    result = train_classifier(TEXTS, TARGETS, LABELS, CONFIG, out, progress=events.append)
    return result, events


def test_writes_checkpoint_labels_curves_and_validation_set(trained):
    result, _ = trained
    files = {p.name for p in result.model_dir.iterdir()}
    assert {"config.json", "model.safetensors", "labels.json", "curves.json", "curves.png",
            "validation.jsonl"} <= files
    assert "tokenizer.json" in files or "vocab.txt" in files
    assert json.loads((result.model_dir / "labels.json").read_text()) == LABELS
    saved = json.loads((result.model_dir / "curves.json").read_text())
    assert saved["best_epoch"] == result.best_epoch
    assert saved["curves"] == result.curves
    assert saved["validation_source"] == result.validation_source == "split_of_training_data"
    assert (result.model_dir / "curves.png").read_bytes().startswith(b"\x89PNG")
    assert [c["epoch"] for c in result.curves] == [1, 2]
    assert result.validation["size"] == 8 and result.train_rows == 32
    rows = [json.loads(x) for x in (result.model_dir / "validation.jsonl").read_text().splitlines()]
    assert len(rows) == 8 and all(r["text"] in TEXTS and r["label"] in LABELS for r in rows)
    assert result.device == "cpu" and result.precision == "fp32"
    assert result.train_samples_per_s > 0 and result.wall_time_s > 0
    assert not [p for p in result.model_dir.parent.iterdir() if p.name.startswith(".")]


def test_macro_f1_above_chance_on_held_out(trained):
    result, _ = trained
    tokenizer = AutoTokenizer.from_pretrained(result.model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(result.model_dir).eval()
    texts, gold = zip(*HELD_OUT)
    with torch.inference_mode():
        logits = model(**tokenizer(list(texts), padding=True, return_tensors="pt")).logits
    predicted = [result.labels[i] for i in logits.argmax(-1).tolist()]
    assert model.config.id2label == dict(enumerate(LABELS))
    assert f1_score(gold, predicted, average="macro") >= 0.75


def test_progress_events_report_steps_and_validation(trained):
    result, events = trained
    assert events and all(e.stage == "train" and e.unit == "steps" for e in events)
    assert events[-1].done == events[-1].total == 2 * 4
    epoch_ends = [e for e in events if "val_macro_f1" in e.metrics]
    assert len(epoch_ends) == 2
    assert epoch_ends[-1].metrics["val_macro_f1"] == result.curves[-1]["val_macro_f1"]
    assert all({"loss", "epoch", "step", "eta_s"} <= set(e.metrics) for e in events)
    assert epoch_ends[-1].metrics["eta_s"] == 0.0 and epoch_ends[0].metrics["eta_s"] > 0


def test_same_seed_gives_same_metrics(trained, tmp_path):
    result, _ = trained
    again = train_classifier(TEXTS, TARGETS, LABELS, CONFIG, tmp_path / "again")
    for first, second in zip(result.curves, again.curves, strict=True):
        for key in ("train_loss", "val_loss", "val_macro_f1", "val_accuracy"):
            assert first[key] == pytest.approx(second[key], abs=1e-6)


def test_explicit_validation_set_and_replacing_output(tmp_path):
    out = tmp_path / "model"
    out.mkdir()
    (out / "stale.txt").write_text("from an earlier run")
    texts, gold = zip(*HELD_OUT)
    config = CONFIG.model_copy(update={"epochs": 1})
    result = train_classifier(
        TEXTS, TARGETS, LABELS, config, out, validation=(list(texts), list(gold)),
        validation_name="file:///real-test",
    )
    assert result.validation["size"] == len(HELD_OUT) and result.train_rows == len(TEXTS)
    assert result.validation_source == "held_out:file:///real-test"
    saved = [json.loads(x) for x in (out / "validation.jsonl").read_text().splitlines()]
    assert [(r["text"], r["label"]) for r in saved] == HELD_OUT
    assert result.best_epoch == 1
    assert not (out / "stale.txt").exists()


def test_non_finite_loss_is_reported_and_leaves_nothing(tmp_path):
    config = CONFIG.model_copy(update={"learning_rate": 1e30, "epochs": 1, "warmup_ratio": 0})
    with pytest.raises(InvalidInput, match="non-finite loss at epoch 1, step"):
        train_classifier(TEXTS, TARGETS, LABELS, config, tmp_path / "model")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("texts", "labels", "message"),
    [
        ([], [], "empty"),
        (["a", "b"], ["sport"], "2 texts but 1 labels"),
        (["fine", " ", "ok", ""], ["sport", "food", "sport", "food"], "2 empty .* index 1"),
        (["a", "b"], ["sport", "weather"], "weather"),
        (["a", "b"], ["sport", "sport"], "fewer than 2 distinct labels"),
    ],
)
def test_bad_inputs_are_rejected(tmp_path, texts, labels, message):
    with pytest.raises(InvalidInput, match=message):
        train_classifier(texts, labels, LABELS, CONFIG, tmp_path / "model")
    assert list(tmp_path.iterdir()) == []


def test_bad_validation_set_is_rejected(tmp_path):
    with pytest.raises(InvalidInput, match="validation data"):
        train_classifier(TEXTS, TARGETS, LABELS, CONFIG, tmp_path / "m", validation=(["x"], []))


def test_length_grouped_batches_cover_rows_once_with_similar_lengths():
    lengths = np.array([5, 30, 6, 29, 7, 31, 4, 28])
    batches = length_grouped_batches(lengths, 2, np.random.default_rng(0))
    assert sorted(np.concatenate(batches).tolist()) == list(range(8))
    assert all(np.ptp(lengths[b]) <= 2 for b in batches)


def test_split_falls_back_when_a_label_is_too_rare(caplog):
    targets = np.array([0] * 9 + [1])
    train, val = holdout_split(targets, 0.2, seed=0)
    assert sorted(np.concatenate([train, val]).tolist()) == list(range(10))
    assert len(val) == 2
    assert "using a random split" in caplog.text


def test_split_is_stratified_when_possible():
    targets = np.array([0] * 10 + [1] * 10)
    _, val = holdout_split(targets, 0.2, seed=0)
    assert sorted(targets[val].tolist()) == [0, 0, 1, 1]
