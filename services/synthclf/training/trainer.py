"""Fine-tune a Hugging Face encoder for text classification with ``transformers.Trainer``.

The Trainer runs tuned for short texts on a CPU or one GPU (the configuration
``benchmarks/training.py`` measures as the bare tuned Trainer): batches of texts of similar token length
(``train_sampling_strategy="group_by_length"``, the Trainer's ``LengthGroupedSampler``), each
padded only to its own longest text (``DataCollatorWithPadding``), fused AdamW
(``optim="adamw_torch_fused"``) with linear warm-up and decay and no weight decay on biases
and LayerNorm weights, gradient-norm clipping at 1.0, a seeded sampler. On CUDA the forward
pass runs under bf16 autocast (``bf16=True``, fp32 master weights); on CPU in fp32 on all
cores available to the process. synthclf used to run its own loop here; measured against
this configuration on a quiet 2-core CPU it was not faster (0.92×, benchmarks/README.md), so
the Trainer replaced it. What synthclf adds — divergence checks, per-epoch curves, progress
events, cancellation — goes through the Trainer's extension points
(:mod:`synthclf.training.callbacks`).

Validation follows Li et al. (EMNLP 2023): Macro-F1 and accuracy, computed after every epoch
on a held-out set (the caller's, else a stratified split of the training data) by
:func:`synthclf.core.scoring.macro_f1_accuracy` over all of the task's labels — the function
the analysis service scores test sets with. The checkpoint with the best validation Macro-F1
is kept (``load_best_model_at_end``; ties keep the earlier epoch) and training stops early when
it stops improving (``EarlyStoppingCallback``). Checkpoints live in a scratch folder that is
deleted before the model is published; only the kept model is saved. The per-epoch curves
(the paper's Fig. B.1) are saved as JSON and PNG beside the model.
"""

from __future__ import annotations

import json
import logging
import math
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field
from sklearn.model_selection import train_test_split
from transformers import (
    AutoModelForSequenceClassification,
    AutoTokenizer,
    DataCollatorWithPadding,
    EarlyStoppingCallback,
    PreTrainedModel,
    PrinterCallback,
    TrainerCallback,
    TrainingArguments,
    set_seed,
)

from synthclf.core.artifacts import atomic_folder
from synthclf.core.errors import InvalidInput
from synthclf.core.progress import ProgressFn, ignore_progress
from synthclf.core.schema import validate_rows
from synthclf.core.scoring import macro_f1_accuracy
from synthclf.training.callbacks import CheckedTrainer, EpochReporter, LossMeter
from synthclf.training.curves import write_curves

logger = logging.getLogger("synthclf.training")

#: Gradient-norm clip (transformers.Trainer's default ``max_grad_norm``).
MAX_GRAD_NORM = 1.0
#: Validation texts and labels saved with the model (JSON lines ``{"text", "label"}``), so an
#: export can measure what int8 quantization costs on the same data.
VALIDATION_FILE = "validation.jsonl"
#: How the offline default backbone is named in curves and manifests.
DEFAULT_BACKBONE_NAME = "all-MiniLM-L6-v2"
#: ``validation_source`` values besides ``held_out[:<name>]``.
SPLIT_OF_TRAINING_DATA = "split_of_training_data"
NO_VALIDATION = "none"


class TrainConfig(BaseModel):
    """Hyper-parameters of one fine-tuning run (defaults: BERT fine-tuning practice)."""

    model_config = ConfigDict(extra="forbid")

    backbone: str | None = Field(
        None,
        description="Hugging Face model id or local folder of the encoder, loaded with "
        "AutoModelForSequenceClassification (e.g. bert-base-uncased, roberta-base, the paper's); "
        "None: the offline all-MiniLM-L6-v2 (synthclf.core.models.minilm_path()).",
    )
    epochs: int = Field(3, ge=1, description="Maximum number of passes over the training data.")
    batch_size: int = Field(16, ge=1, description="Texts per optimizer step.")
    learning_rate: float = Field(
        2e-4, gt=0,
        description="Peak AdamW learning rate. 2e-4 suits the default all-MiniLM-L6-v2 (22.7M "
        "parameters): on 200 real SMS spam rows, 3 epochs, test Macro-F1 was 0.47 / 0.85 / 0.96 / "
        "0.95 at 5e-5 / 1e-4 / 2e-4 / 4e-4. Use 2e-5–5e-5 for bert-base / roberta-base (the paper's).",
    )
    max_length: int = Field(128, ge=4, description="Truncate texts to this many tokens.")
    warmup_ratio: float = Field(
        0.1, ge=0, le=1, description="Share of steps with linear warm-up, then linear decay to 0."
    )
    weight_decay: float = Field(
        0.01, ge=0, description="AdamW weight decay (not applied to biases and LayerNorm)."
    )
    seed: int = Field(0, ge=0, le=2**32 - 1,
                      description="Seed of weight init, dropout, split and batch order.")
    validation_fraction: float = Field(
        0.1,
        ge=0,
        lt=1,
        description="Share of the training data held out (stratified) for validation when no "
        "validation set is given; 0: no validation, the last epoch is kept.",
    )
    early_stopping_patience: int = Field(
        2,
        ge=0,
        description="Stop after this many epochs without a validation Macro-F1 improvement; "
        "0 disables early stopping.",
    )
    threads: int | None = Field(
        None, ge=1, description="CPU threads for torch; None: all cores available to the process."
    )


@dataclass
class TrainResult:
    """Outcome of :func:`train_classifier`.

    Attributes:
        model_dir: folder with the best checkpoint (``save_pretrained`` model + tokenizer,
            ``labels.json``, ``curves.json``, ``curves.png``, ``validation.jsonl``).
        labels: label names in logit order.
        curves: one dict per epoch run: ``epoch``, ``train_loss``, ``val_loss``,
            ``val_macro_f1``, ``val_accuracy`` (validation values None without validation).
        best_epoch: 1-based epoch of the kept checkpoint.
        validation: ``macro_f1``, ``accuracy`` (None without validation) and ``size`` of the
            validation set at the best epoch.
        validation_source: ``held_out[:<name>]`` (the caller's set),
            ``split_of_training_data`` or ``none``.
        train_rows: texts actually trained on (after the validation split).
        device: ``cpu`` or ``cuda``.
        precision: ``fp32`` or ``bf16`` (CUDA autocast).
        train_samples_per_s: training texts processed per second of optimisation
            (validation excluded).
        wall_time_s: seconds for the whole call, loading and saving included.
        threads: torch CPU threads used (on CUDA: torch's setting, untouched).
    """

    model_dir: Path
    labels: list[str]
    curves: list[dict[str, float | int | None]]
    best_epoch: int
    validation: dict[str, float | int | None]
    validation_source: str
    train_rows: int
    device: str
    precision: str
    train_samples_per_s: float
    wall_time_s: float
    threads: int = 0


def _select_device(threads: int | None) -> tuple[str, str, int]:
    """Pick CUDA + bf16 autocast when a GPU is visible, else CPU fp32 with ``threads``.

    Returns:
        (device type ``cuda`` or ``cpu``, precision ``bf16`` or ``fp32``, torch CPU threads).
    """
    if torch.cuda.is_available():
        precision = "bf16" if torch.cuda.is_bf16_supported() else "fp32"
        name = torch.cuda.get_device_name(0)
        logger.info("CUDA device %s: training on GPU with %s autocast", name, precision)
        return "cuda", precision, torch.get_num_threads()
    n = threads or len(os.sched_getaffinity(0))
    torch.set_num_threads(n)
    logger.info("no CUDA device: training on CPU with %d threads (fp32)", n)
    return "cpu", "fp32", n


@dataclass
class _Examples:
    """Labelled texts, tokenized once (unpadded) for the Trainer.

    Attributes:
        texts: the n texts.
        targets: label index per text (logit order), int64, shape [n].
        features: per text the tokenizer's ``input_ids``, ``attention_mask`` (and
            ``token_type_ids`` where the model has them), truncated to ``max_length``, plus
            ``labels``: the items of the Trainer's dataset, padded per batch by the collator.
    """

    texts: list[str]
    targets: np.ndarray
    features: list[dict]

    @classmethod
    def encode(cls, tokenizer, texts: list[str], targets: np.ndarray, max_length: int) -> _Examples:
        """Tokenize ``texts`` (truncated to ``max_length`` tokens, not padded)."""
        encoded = tokenizer(list(texts), truncation=True, max_length=max_length)
        keys = list(encoded.keys())
        features = [{**{k: encoded[k][i] for k in keys}, "labels": int(t)} for i, t in enumerate(targets)]
        return cls(list(texts), targets, features)

    def subset(self, rows: np.ndarray) -> _Examples:
        """The rows ``rows`` (indices into these examples), in that order."""
        return _Examples([self.texts[i] for i in rows], self.targets[rows], [self.features[i] for i in rows])


def holdout_split(targets: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split row indices into (train, validation), stratified by target when possible.

    Args:
        targets: label index per row, shape [n].
        fraction: share of rows for validation, in (0, 1); at least one row is held out.
        seed: split seed.

    Returns:
        (training rows, validation rows), each sorted ascending.

    Falls back to a random split (with a warning) when a label is too rare to stratify.
    """
    rows = np.arange(len(targets))
    n_val = max(1, round(len(rows) * fraction))
    try:
        train, val = train_test_split(rows, test_size=n_val, stratify=targets, random_state=seed)
    except ValueError as exc:
        logger.warning("stratified validation split impossible (%s); using a random split", exc)
        train, val = train_test_split(rows, test_size=n_val, random_state=seed)
    return np.sort(train), np.sort(val)


def train_classifier(
    texts: list[str],
    labels: list[str],
    label_names: list[str],
    config: TrainConfig,
    output_dir: Path,
    progress: ProgressFn = ignore_progress,
    validation: tuple[list[str], list[str]] | None = None,
    validation_name: str = "",
) -> TrainResult:
    """Fine-tune an encoder on labelled texts and save the best checkpoint to ``output_dir``.

    Args:
        texts: training texts.
        labels: one label name per text.
        label_names: all label names; their order is the logit order of the model.
        config: hyper-parameters.
        output_dir: destination folder; written atomically (a temp sibling folder is moved
            into place at the end, replacing an existing folder), so a killed job leaves no
            half-written model. Receives the ``save_pretrained`` model and tokenizer,
            ``labels.json``, ``curves.json``, ``curves.png`` and ``validation.jsonl`` (the
            validation texts and labels; empty without validation) — no Trainer checkpoints.
        progress: receives ``train`` events (unit ``steps``) every 10 steps and per epoch,
            with ``eta_s`` (seconds left if every epoch runs). An exception it raises (e.g.
            :class:`~synthclf.core.errors.Cancelled`) stops training and is re-raised.
        validation: (texts, labels) to validate on; None: hold out a stratified
            ``config.validation_fraction`` of the training data.
        validation_name: what ``validation`` is (e.g. its artifact URI), recorded as
            ``held_out:<name>`` in :attr:`TrainResult.validation_source` and ``curves.json``.

    Returns:
        The :class:`TrainResult`.

    Raises:
        InvalidInput: empty dataset, length mismatch, blank texts, unknown labels, fewer than
            two distinct labels, duplicate label names, or a non-finite loss (diverged).
    """
    started = time.perf_counter()
    if len(set(label_names)) != len(label_names) or len(label_names) < 2:
        raise InvalidInput(f"label_names must be at least 2 distinct names, got {label_names}")
    validate_rows(texts, labels, label_names, "training data")
    if validation is not None:
        validate_rows(list(validation[0]), list(validation[1]), label_names, "validation data",
                      require_two_labels=False)
        source = f"held_out:{validation_name}" if validation_name else "held_out"
    else:
        source = SPLIT_OF_TRAINING_DATA if config.validation_fraction > 0 else NO_VALIDATION

    previous_threads = torch.get_num_threads()
    device, precision, threads = _select_device(config.threads)
    try:
        with atomic_folder(output_dir) as staging:
            set_seed(config.seed)  # the new head's initialisation; the Trainer seeds again
            backbone = config.backbone or str(_default_backbone())
            label2id = {name: i for i, name in enumerate(label_names)}
            tokenizer = AutoTokenizer.from_pretrained(backbone, local_files_only=True)
            model = AutoModelForSequenceClassification.from_pretrained(
                backbone,
                local_files_only=True,  # never a download (training/backbone.py)
                num_labels=len(label_names),
                id2label=dict(enumerate(label_names)),
                label2id=label2id,
                ignore_mismatched_sizes=True,  # a checkpoint with another head gets a new one
            )
            train, val = _prepare(tokenizer, texts, labels, validation, label2id, config)
            logger.info("fine-tuning %s on %d texts, validating on %d (%s)", backbone,
                        len(train.texts), 0 if val is None else len(val.texts), source)
            tokenizer.save_pretrained(staging)
            (staging / "labels.json").write_text(json.dumps(list(label_names), indent=2))
            _write_validation(staging / VALIDATION_FILE, val, label_names)
            with tempfile.TemporaryDirectory(prefix=".checkpoints-", dir=staging) as scratch:
                reporter, kept = _fit(model, tokenizer, train, val, config, precision, Path(scratch),
                                      progress)
            kept.save_pretrained(staging)  # the kept epoch (load_best_model_at_end), else the last
            name = Path(config.backbone).name if config.backbone else DEFAULT_BACKBONE_NAME
            write_curves(staging, reporter.curves, reporter.best_epoch, validation_source=source,
                         title=f"{name}, {len(train.texts)} training texts")
    finally:
        torch.set_num_threads(previous_threads)

    curves, best_epoch, seconds = reporter.curves, reporter.best_epoch, reporter.seconds
    best = curves[best_epoch - 1]
    speed = len(curves) * len(train.targets) / seconds if seconds > 0 else 0.0
    logger.info(
        "trained %d epochs at %.1f samples/s; kept epoch %d (validation Macro-F1 %s)",
        len(curves), speed, best_epoch, best["val_macro_f1"],
    )
    return TrainResult(
        model_dir=output_dir,
        labels=list(label_names),
        curves=curves,
        best_epoch=best_epoch,
        validation={
            "macro_f1": best["val_macro_f1"],
            "accuracy": best["val_accuracy"],
            "size": 0 if val is None else len(val.targets),
        },
        validation_source=source,
        train_rows=len(train.targets),
        device=device,
        precision=precision,
        train_samples_per_s=speed,
        wall_time_s=time.perf_counter() - started,
        threads=threads,
    )


def _default_backbone() -> Path:
    """The offline backbone (imported lazily so a missing package fails only when needed)."""
    from synthclf.core.models import minilm_path

    return minilm_path()


def _write_validation(path: Path, val: _Examples | None, label_names: list[str]) -> None:
    """Write the validation texts and labels as JSON lines (an empty file without validation)."""
    rows = [] if val is None else zip(val.texts, val.targets.tolist(), strict=True)
    with open(path, "w", encoding="utf-8") as handle:
        for text, target in rows:
            handle.write(json.dumps({"text": text, "label": label_names[target]},
                                    ensure_ascii=False) + "\n")


def _prepare(
    tokenizer, texts, labels, validation, label2id, config
) -> tuple[_Examples, _Examples | None]:
    """Tokenize the training data and the validation data (given, split off, or none)."""
    targets = np.array([label2id[x] for x in labels], dtype=np.int64)
    everything = _Examples.encode(tokenizer, texts, targets, config.max_length)
    if validation is not None:
        val_targets = np.array([label2id[x] for x in validation[1]], dtype=np.int64)
        return everything, _Examples.encode(tokenizer, list(validation[0]), val_targets, config.max_length)
    if config.validation_fraction == 0:
        return everything, None
    train_rows, val_rows = holdout_split(targets, config.validation_fraction, config.seed)
    return everything.subset(train_rows), everything.subset(val_rows)


def _training_arguments(config: TrainConfig, precision: str, validated: bool, scratch: Path,
                        steps: int) -> TrainingArguments:
    """The Trainer's settings for ``config`` (``steps``: optimizer steps if every epoch runs).

    Per-epoch evaluation and ``load_best_model_at_end`` on Macro-F1 with ``save_strategy="best"``
    (a checkpoint only when validation Macro-F1 improves, model weights only, one kept) into
    ``scratch``; no logging integrations, no progress bars (synthclf's own events replace
    them), pinned memory only on CUDA.
    """
    per_epoch = "epoch" if validated else "no"
    return TrainingArguments(
        output_dir=str(scratch),
        num_train_epochs=config.epochs,
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=2 * config.batch_size,
        learning_rate=config.learning_rate,
        weight_decay=config.weight_decay,
        warmup_steps=round(config.warmup_ratio * steps),  # exact steps: a float < 1 means a ratio
        lr_scheduler_type="linear",
        max_grad_norm=MAX_GRAD_NORM,
        optim="adamw_torch_fused",
        train_sampling_strategy="group_by_length",
        bf16=precision == "bf16",
        use_cpu=not torch.cuda.is_available(),
        seed=config.seed,
        eval_strategy=per_epoch,
        save_strategy="best" if validated else "no",
        save_total_limit=1,
        save_only_model=True,
        load_best_model_at_end=validated,
        metric_for_best_model="macro_f1" if validated else None,
        greater_is_better=True,
        logging_strategy="no",
        logging_nan_inf_filter=False,  # CheckedTrainer raises on a non-finite loss instead
        report_to="none",
        disable_tqdm=True,
        dataloader_pin_memory=torch.cuda.is_available(),
    )


def _fit(model, tokenizer, train: _Examples, val: _Examples | None, config: TrainConfig,
         precision: str, scratch: Path, progress: ProgressFn) -> tuple[EpochReporter, PreTrainedModel]:
    """Run ``transformers.Trainer`` on ``model``, checkpointing into ``scratch``.

    Returns:
        (the reporter, with the per-epoch curves, the kept epoch and the optimisation seconds;
        the model with the kept epoch's weights).
    """
    n_labels = model.config.num_labels

    def compute_metrics(prediction) -> dict[str, float]:
        """Validation Macro-F1 over every label, and accuracy (the Trainer's metric hook)."""
        predicted = np.argmax(prediction.predictions, axis=-1)
        macro_f1, accuracy = macro_f1_accuracy(prediction.label_ids, predicted, range(n_labels))
        return {"macro_f1": macro_f1, "accuracy": accuracy}

    validated = val is not None
    steps = math.ceil(len(train.features) / config.batch_size) * config.epochs
    meter = LossMeter()
    reporter = EpochReporter(meter, progress, config.epochs, validated)
    callbacks: list[TrainerCallback] = [reporter]
    if validated and config.early_stopping_patience > 0:
        callbacks.insert(0, EarlyStoppingCallback(early_stopping_patience=config.early_stopping_patience))
    trainer = CheckedTrainer(
        model=model,
        args=_training_arguments(config, precision, validated, scratch, steps),
        train_dataset=train.features,
        eval_dataset=val.features if val is not None else None,
        processing_class=tokenizer,
        data_collator=DataCollatorWithPadding(tokenizer),
        compute_metrics=compute_metrics if validated else None,
        callbacks=callbacks,
        meter=meter,
        learning_rate=config.learning_rate,
    )
    trainer.remove_callback(PrinterCallback)  # it prints every log dict to stdout
    trainer.train()
    kept = trainer.model
    if not isinstance(kept, PreTrainedModel):  # Trainer keeps the model it was given (a from_pretrained one)
        raise TypeError(f"the Trainer holds a {type(kept).__name__}, not a transformers PreTrainedModel")
    return reporter, kept
