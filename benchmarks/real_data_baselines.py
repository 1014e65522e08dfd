"""Real-data baselines of the default backbone: SMS spam and BBC news, Macro-F1 on real test data.

For each task: the real data from its package, split 80/20 (stratified, seed 0); the
training split capped at ``--max-train-rows`` (stratified); :func:`train_classifier` with
the documented defaults (all-MiniLM-L6-v2, lr 2e-4, batch 16, 10% of the training rows held
out for validation, early stopping on validation Macro-F1); export to ONNX (parity-checked);
Macro-F1 and accuracy of the served ONNX model (:class:`OnnxClassifier`) on the full real
test split. Prints a table with sizes and wall times, and writes the curves PNGs when
``--out`` is given.

Usage: ``.venv/bin/python benchmarks/real_data_baselines.py [--tasks sms_spam bbc_news]``
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from synthclf.analysis.metrics import evaluate_predictions
from synthclf.core.catalog import get_task
from synthclf.core.corpora import load_real_dataset
from synthclf.core.onnx_runtime import OnnxClassifier
from synthclf.core.sampling import subsample
from synthclf.training.onnx_export import export_onnx
from synthclf.training.trainer import TrainConfig, train_classifier

#: Truncation per task: SMS messages are short (~25 tokens); BBC title + lead ~50–60 tokens.
MAX_LENGTH = {"sms_spam": 64, "bbc_news": 128}


def run_task(task: str, args, out: Path | None) -> dict:
    """Train, export and evaluate one task; returns its row of the table."""
    spec = get_task(task)
    frame = load_real_dataset(task, seed=args.seed)
    train = frame[frame["split"] == "train"]
    train = subsample(train, min(args.max_train_rows, len(train)), seed=args.seed)
    test = frame[frame["split"] == "test"]
    max_length = MAX_LENGTH.get(task, 128)
    config = TrainConfig(epochs=args.epochs, max_length=max_length, seed=args.seed)
    with tempfile.TemporaryDirectory() as folder:
        model_dir, onnx_dir = Path(folder) / "model", Path(folder) / "onnx"
        result = train_classifier(train["text"].tolist(), train["label"].tolist(),
                                  spec.label_names, config, model_dir)
        sample = test["text"].sample(min(64, len(test)), random_state=args.seed).tolist()
        export_onnx(model_dir, onnx_dir, sample, max_length=max_length)
        classifier = OnnxClassifier(onnx_dir, max_length=max_length)
        start = time.perf_counter()
        probabilities = classifier.predict_batch(test["text"].tolist())
        predict_s = time.perf_counter() - start
        predicted = [classifier.labels[i] for i in probabilities.argmax(-1)]
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
            shutil.copy(model_dir / "curves.png", out / f"{task}_curves.png")
            shutil.copy(model_dir / "curves.json", out / f"{task}_curves.json")
    metrics = evaluate_predictions(test["label"].tolist(), predicted, spec.label_names)
    return {"task": task, "labels": len(spec.label_names), "train_rows": result.train_rows,
            "val_rows": result.validation["size"], "test_rows": len(test),
            "max_length": max_length, "epochs_run": len(result.curves),
            "best_epoch": result.best_epoch, "val_macro_f1": result.validation["macro_f1"],
            "test_macro_f1": metrics.macro_f1, "test_accuracy": metrics.accuracy,
            "train_wall_s": result.wall_time_s, "samples_per_s": result.train_samples_per_s,
            "predict_s": predict_s, "device": result.device, "threads": result.threads}


def main(argv: list[str] | None = None) -> int:
    """Run the tasks and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", nargs="+", default=["sms_spam", "bbc_news"])
    parser.add_argument("--max-train-rows", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="folder for curves and results.json")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    print(f"load average {os.getloadavg()[0]:.2f}; CPU cores {len(os.sched_getaffinity(0))}")
    rows = [run_task(task, args, args.out) for task in args.tasks]
    header = (f"{'task':<10}{'labels':>7}{'train':>7}{'val':>5}{'test':>6}{'max_len':>8}"
              f"{'epochs':>7}{'val F1':>8}{'test Macro-F1':>14}{'test acc':>9}{'train s':>9}"
              f"{'samples/s':>10}")
    print(header)
    for r in rows:
        print(f"{r['task']:<10}{r['labels']:>7}{r['train_rows']:>7}{r['val_rows']:>5}"
              f"{r['test_rows']:>6}{r['max_length']:>8}{r['epochs_run']:>7}"
              f"{r['val_macro_f1']:>8.4f}{r['test_macro_f1']:>14.4f}{r['test_accuracy']:>9.4f}"
              f"{r['train_wall_s']:>9.1f}{r['samples_per_s']:>10.1f}")
    if args.out:
        (args.out / "results.json").write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
