"""Tests of synthclf.training.trainer on a tiny, obviously separable two-label dataset."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from sklearn.metrics import f1_score
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from synthclf.core.cancellation import Job
from synthclf.core.errors import Cancelled, InvalidInput
from synthclf.core.scoring import macro_f1_accuracy
from synthclf.training.trainer import TrainConfig, holdout_split, train_classifier

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
    # Only the kept model: no Trainer checkpoints, states or arguments left beside it.
    assert not [name for name in files if name.startswith((".", "checkpoint"))]
    assert not files & {"trainer_state.json", "training_args.bin", "optimizer.pt", "scheduler.pt"}


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


def _validation_scores(model_dir) -> tuple[float, float, float]:
    """(mean cross-entropy, Macro-F1, accuracy) of the saved model on its saved validation set."""
    rows = [json.loads(x) for x in (model_dir / "validation.jsonl").read_text().splitlines()]
    labels = json.loads((model_dir / "labels.json").read_text())
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(model_dir).eval()
    gold = torch.tensor([labels.index(r["label"]) for r in rows])
    with torch.inference_mode():
        logits = model(**tokenizer([r["text"] for r in rows], padding=True, return_tensors="pt")).logits
    loss = torch.nn.functional.cross_entropy(logits, gold).item()
    return (loss, *macro_f1_accuracy(gold.numpy(), logits.argmax(-1).numpy(), range(len(labels))))


def test_saved_model_is_the_kept_epoch_with_its_validation_scores(trained):
    result, _ = trained
    loss, macro_f1, accuracy = _validation_scores(result.model_dir)
    kept = result.curves[result.best_epoch - 1]
    assert loss == pytest.approx(kept["val_loss"], abs=1e-4)
    assert (macro_f1, accuracy) == pytest.approx((kept["val_macro_f1"], kept["val_accuracy"]))
    assert result.validation["macro_f1"] == kept["val_macro_f1"]


def test_early_stopping_keeps_the_best_epoch_not_the_last(tmp_path, caplog):
    # Validation labels opposite to the training data's: the better the model learns the
    # training data, the worse its validation Macro-F1, so an early epoch is best.
    texts, gold = zip(*HELD_OUT)
    flipped = [LABELS[1 - LABELS.index(g)] for g in gold]
    config = CONFIG.model_copy(update={"epochs": 6, "early_stopping_patience": 1,
                                       "learning_rate": 3e-4, "warmup_ratio": 0})
    caplog.set_level("INFO", logger="synthclf.training")
    result = train_classifier(TEXTS, TARGETS, LABELS, config, tmp_path / "model",
                              validation=(list(texts), flipped))
    scores = [row["val_macro_f1"] for row in result.curves]
    assert len(result.curves) == result.best_epoch + 1 < config.epochs  # patience 1: one epoch more
    assert result.best_epoch == scores.index(max(scores)) + 1  # the first epoch with the best score
    assert scores[-1] <= scores[result.best_epoch - 1]
    assert f"early stopping after epoch {len(result.curves)}" in caplog.text
    loss, macro_f1, _ = _validation_scores(result.model_dir)
    assert loss == pytest.approx(result.curves[result.best_epoch - 1]["val_loss"], abs=1e-4)
    assert loss != pytest.approx(result.curves[-1]["val_loss"], abs=1e-4)
    saved = json.loads((result.model_dir / "curves.json").read_text())
    assert saved["best_epoch"] == result.best_epoch and len(saved["curves"]) == len(result.curves)


def test_no_validation_keeps_the_last_epoch(tmp_path):
    config = CONFIG.model_copy(update={"validation_fraction": 0.0, "epochs": 2})
    result = train_classifier(TEXTS, TARGETS, LABELS, config, tmp_path / "model")
    assert result.validation_source == "none" and result.best_epoch == 2
    assert result.validation == {"macro_f1": None, "accuracy": None, "size": 0}
    assert [row["val_macro_f1"] for row in result.curves] == [None, None]
    assert (result.model_dir / "validation.jsonl").read_text() == ""
    assert all(row["train_loss"] > 0 for row in result.curves)


def test_cancelled_job_stops_within_a_progress_interval_and_leaves_nothing(tmp_path):
    job, attempts = Job("TrainingService/Train"), []

    def cancel_after_first(event):
        """The servicer's event sink; the caller cancels once the first event arrives."""
        job.cancel("the caller cancelled the call")

    checked = job.progress(cancel_after_first)

    def report(event):
        attempts.append(event)
        checked(event)

    config = CONFIG.model_copy(update={"batch_size": 4, "epochs": 3})  # 8 steps an epoch
    with pytest.raises(Cancelled, match="TrainingService/Train stopped: the caller cancelled"):
        train_classifier(TEXTS, TARGETS, LABELS, config, tmp_path / "model", progress=report)
    assert [e.done for e in attempts] == [8, 10]  # epoch 1's end, then the next 10-step event
    assert list(tmp_path.iterdir()) == []


def test_cpu_thread_setting_is_used_and_restored(tmp_path):
    before, during = torch.get_num_threads(), []
    config = CONFIG.model_copy(update={"epochs": 1, "threads": 1})
    result = train_classifier(TEXTS, TARGETS, LABELS, config, tmp_path / "model",
                              progress=lambda _: during.append(torch.get_num_threads()))
    assert result.threads == 1 and during == [1] and torch.get_num_threads() == before
