"""Tests of synthclf.training.curves: curves.json and curves.png (the paper's Fig. B.1)."""

from __future__ import annotations

import json

from matplotlib.image import imread

from synthclf.training.curves import write_curves

CURVES = [
    {"epoch": 1, "train_loss": 0.61, "val_loss": 0.42, "val_macro_f1": 0.71, "val_accuracy": 0.80},
    {"epoch": 2, "train_loss": 0.30, "val_loss": 0.25, "val_macro_f1": 0.90, "val_accuracy": 0.93},
    {"epoch": 3, "train_loss": 0.12, "val_loss": 0.28, "val_macro_f1": 0.88, "val_accuracy": 0.92},
]


def test_writes_json_and_a_png_plot(tmp_path):
    json_path, png_path = write_curves(tmp_path, CURVES, 2, title="MiniLM, 100 texts",
                                       validation_source="split_of_training_data")
    saved = json.loads(json_path.read_text())
    assert saved == {"best_epoch": 2, "validation_source": "split_of_training_data",
                     "curves": CURVES}
    image = imread(png_path)
    assert image.shape[:2] == (400, 1000)
    assert image[..., :3].std() > 0.05  # something is drawn, not a blank canvas


def test_curves_without_validation_still_plot(tmp_path):
    rows = [{**row, "val_loss": None, "val_macro_f1": None, "val_accuracy": None} for row in CURVES]
    _, png_path = write_curves(tmp_path, rows, 3, validation_source="none")
    assert imread(png_path).shape[:2] == (400, 1000)
    assert json.loads((tmp_path / "curves.json").read_text())["curves"][0]["val_loss"] is None
