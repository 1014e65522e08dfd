"""Training service core: fine-tuning and ONNX export as idempotent artifact jobs.

Transport-neutral: :mod:`synthclf.training.servicer` only decodes, calls and encodes.
"""

from __future__ import annotations

import json
import logging
import time

import pandas as pd
from pydantic import BaseModel, Field

from synthclf.core.artifacts import ArtifactRef, fetch, find, job_id, publish, staging
from synthclf.core.catalog import get_task
from synthclf.core.config import Settings
from synthclf.core.datasets import read_jsonl, subsample, validate_dataset
from synthclf.core.errors import InvalidInput
from synthclf.core.progress import Progress, ProgressFn, ignore_progress
from synthclf.core.store import open_store
from synthclf.training.onnx_export import export_onnx
from synthclf.training.trainer import TrainConfig, train_classifier

log = logging.getLogger("synthclf.training")
SERVICE = "training"
DATA_FILE = "data.jsonl"
PARITY_FILE = "parity_texts.json"
#: Texts kept with a model for the ONNX parity check (design.md: parity on real texts).
PARITY_SAMPLES = 64


class TrainingData(BaseModel):
    """One training dataset and how many of its rows to draw (stratified)."""

    uri: str = Field(description="Dataset artifact URI.")
    count: int = Field(0, ge=0, description="Rows to draw; 0 uses all.")


class TrainingCore:
    """Trains classifiers on dataset artifacts and exports them to ONNX.

    Args:
        settings: store location and credentials.
    """

    def __init__(self, settings: Settings):
        self.settings = settings
        self.store = open_store(settings.artifact_store, settings)

    def check(self) -> None:
        """Readiness: the artifact store is reachable."""
        self.store.check()

    def _mixture(self, data: list[TrainingData], seed: int) -> pd.DataFrame:
        if not data:
            raise InvalidInput("no training data given: pass at least one dataset URI")
        parts = []
        for item in data:
            frame = read_jsonl(fetch(item.uri, self.settings).path / DATA_FILE)
            if item.count:
                if item.count > len(frame):
                    raise InvalidInput(
                        f"asked for {item.count} rows of {item.uri}, which has only {len(frame)}"
                    )
                frame = subsample(frame, item.count, seed=seed)
            parts.append(frame[["text", "label"]])
        return pd.concat(parts, ignore_index=True)

    def train(
        self, task: str, data: list[TrainingData], config: TrainConfig,
        progress: ProgressFn = ignore_progress,
    ) -> ArtifactRef:
        """Fine-tune a classifier on a mixture of datasets.

        Args:
            task: catalog task (defines the label set, in catalog order = logit order).
            data: datasets and row counts, concatenated.
            config: hyperparameters.
            progress: receives per-step and per-epoch events.

        Returns:
            The ``model`` artifact (Hugging Face folder, labels.json, curves.json); reused when
            one with the same parameters exists.

        Raises:
            NotFound: unknown task or dataset. InvalidInput: empty data, foreign labels, one
            label only, non-finite loss.
        """
        spec = get_task(task)
        params = {"task": task, "data": [d.model_dump() for d in data],
                  "config": config.model_dump(mode="json")}
        artifact_id = job_id(f"{task}-model", params)
        if existing := find(self.store, "model", artifact_id):
            log.info("training %s already done: reusing %s", artifact_id, existing.uri)
            return existing
        frame = self._mixture(data, config.seed)
        validate_dataset(frame, spec)
        start = time.perf_counter()
        with staging() as folder:
            result = train_classifier(
                frame["text"].tolist(), frame["label"].tolist(), spec.label_names, config,
                folder, progress,
            )
            sample = frame.sample(min(PARITY_SAMPLES, len(frame)), random_state=config.seed)
            (folder / PARITY_FILE).write_text(json.dumps(sample["text"].tolist()))
            stats = {
                "task": task, "rows": len(frame), "label_counts": frame["label"].value_counts().to_dict(),
                "validation": result.validation, "best_epoch": result.best_epoch,
                "device": result.device, "precision": result.precision,
                "train_samples_per_s": result.train_samples_per_s,
                "wall_time_s": round(time.perf_counter() - start, 3), "curves": result.curves,
            }
            ref = publish(self.store, folder, kind="model", artifact_id=artifact_id, service=SERVICE,
                          parameters=params, inputs=[d.uri for d in data], stats=stats)
        val_f1 = result.validation.get("macro_f1")
        log.info("trained %s on %d rows in %.1f s: validation Macro-F1 %s", artifact_id, len(frame),
                 stats["wall_time_s"], "n/a" if val_f1 is None else f"{val_f1:.3f}")
        return ref

    def export(
        self, model_uri: str, *, opset: int = 17, tolerance: float = 1e-4,
        progress: ProgressFn = ignore_progress,
    ) -> ArtifactRef:
        """Export a trained model to ONNX and check parity against PyTorch.

        Returns:
            The ``onnx-model`` artifact (model.onnx, tokenizer files, labels.json, parity.json).

        Raises:
            NotFound: no model at ``model_uri``.
            IntegrityError: parity check failed (max |Δlogit| > tolerance or argmax differs).
        """
        params = {"model_uri": model_uri, "opset": opset, "tolerance": tolerance}
        artifact_id = job_id("onnx", params)
        if existing := find(self.store, "onnx-model", artifact_id):
            return existing
        model = fetch(model_uri, self.settings)
        texts = json.loads((model.path / PARITY_FILE).read_text())
        progress(Progress(stage="export", total=2, unit="steps", message=f"exporting {model.ref.id} to ONNX opset {opset}"))
        with staging() as folder:
            result = export_onnx(model.path, folder, texts, opset=opset, tolerance=tolerance)
            progress(Progress(stage="export", done=2, total=2, unit="steps",
                              message=f"parity max |Δlogit| {result.max_abs_logit_diff:.2e}",
                              metrics={"max_abs_logit_diff": result.max_abs_logit_diff}))
            return publish(
                self.store, folder, kind="onnx-model", artifact_id=artifact_id, service=SERVICE,
                parameters=params, inputs=[model_uri],
                stats={"task": model.manifest.stats.get("task"), "opset": opset,
                       "max_abs_logit_diff": result.max_abs_logit_diff,
                       "argmax_agree": result.argmax_agree, "parity_samples": result.parity_samples},
            )
