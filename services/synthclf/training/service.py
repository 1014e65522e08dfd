"""Training service core: fine-tuning and ONNX export as idempotent artifact jobs.

Transport-neutral: :mod:`synthclf.training.servicer` only decodes, calls and encodes.
"""

from __future__ import annotations

import json
import logging
import math
import time

import pandas as pd

from synthclf.core.artifacts import ArtifactRef, find, job_id, publish, single_flight, staging
from synthclf.core.config import Settings
from synthclf.core.errors import InvalidInput
from synthclf.core.inputs import fetch_kind, read_dataset
from synthclf.core.limits import check_at_most, shown, truncate
from synthclf.core.onnx_runtime import MAX_LENGTH_LIMIT
from synthclf.core.progress import Progress, ProgressFn, ignore_progress
from synthclf.core.schema import validate_dataset
from synthclf.core.store import open_store
from synthclf.core.task_artifacts import load_task
from synthclf.training.backbone import check_backbone
from synthclf.training.mixture import TrainingData, draw_mixture
from synthclf.training.onnx_export import export_onnx
from synthclf.training.trainer import (
    DEFAULT_BACKBONE_NAME,
    NO_VALIDATION,
    SPLIT_OF_TRAINING_DATA,
    VALIDATION_FILE,
    TrainConfig,
    train_classifier,
)

log = logging.getLogger("synthclf.training")
SERVICE = "training"
DATA_FILE = "data.jsonl"
PARITY_FILE = "parity_texts.json"
#: Texts kept with a model for the ONNX parity check: real texts where any were given (a real
#: held-out set or real mixture inputs), so parity is checked on the kind of text the model
#: will serve, not only on synthetic text (:meth:`TrainingCore._write_parity_texts`).
PARITY_SAMPLES = 64
#: ``source`` of real datasets in their manifest stats (as the generation service writes it).
REAL = "real"
#: Default ONNX opset and parity tolerance (max |Δlogit|), as documented in training.proto.
DEFAULT_OPSET = 17
DEFAULT_TOLERANCE = 1e-4
#: Opsets ExportOnnx accepts: 14 (scaled dot-product attention) to 20, the TorchScript exporter's
#: maximum (``torch.onnx._constants.ONNX_TORCHSCRIPT_EXPORTER_MAX_OPSET``); opset 1 failed with
#: "Unsupported: ONNX export of Slice with dynamic inputs" (found by tests/integration/test_fuzz.py).
MIN_OPSET, MAX_OPSET = 14, 20

__all__ = ["TrainingCore", "TrainingData"]

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

    def _read_dataset(self, uri: str) -> tuple[pd.DataFrame, str]:
        """A dataset artifact's rows (all columns, unchecked against the task) and its
        ``source`` (``real``, ``zero_shot``…, ``unknown``).

        The rows are checked whole by :func:`synthclf.core.schema.validate_dataset` before
        a mixture keeps only text and label (in :func:`draw_mixture`, or
        :meth:`_validation_set`).
        """
        artifact, frame = read_dataset(uri, self.settings)
        return frame, str(artifact.manifest.stats.get("source", "unknown"))

    def _read_inputs(self, data: list[TrainingData]) -> list[tuple[TrainingData, pd.DataFrame, str]]:
        """Read the mixture's datasets, stopping as soon as the rows drawn pass the limit.

        Raises:
            InvalidInput: more rows than ``max_train_rows`` would be drawn (the limit is
                checked after each dataset, so a request naming one URI 10 000 times fails
                before the machine fills up).
        """
        inputs: list[tuple[TrainingData, pd.DataFrame, str]] = []
        rows = 0
        for item in data:
            frame, source = self._read_dataset(item.uri)
            rows += item.rows_wanted(len(frame))
            check_at_most(rows, self.settings, "max_train_rows",
                          f"rows would be drawn by the first {len(inputs) + 1} training dataset(s)")
            inputs.append((item, frame, source))
        return inputs

    def _validation_set(self, uri: str, spec) -> tuple[pd.DataFrame, str]:
        """Read a held-out validation dataset and check it with the one validator (two labels
        at least: Macro-F1 needs them)."""
        frame, source = self._read_dataset(uri)
        what = f"validation dataset {shown(uri, 200)}"
        validate_dataset(frame, spec.label_names, what)
        if source != REAL:
            log.warning("%s is %s data, not real: validation numbers will not be real-data "
                        "numbers", what, source)
        return frame, source

    @single_flight("model")
    def train(
        self, task: str, data: list[TrainingData], config: TrainConfig,
        progress: ProgressFn = ignore_progress, *, validation_uri: str | None = None,
    ) -> ArtifactRef:
        """Fine-tune a classifier on a mixture of datasets.

        Args:
            task: catalog task (defines the label set, in catalog order = logit order).
            data: datasets with the rows to draw from each (count, fraction or all),
                concatenated.
            config: hyperparameters.
            progress: receives per-step and per-epoch events (with ``eta_s``).
            validation_uri: held-out (real) dataset to validate on; None: a
                ``config.validation_fraction`` split of the training mixture.

        Returns:
            The ``model`` artifact (Hugging Face folder, labels.json, curves.json,
            curves.png, validation.jsonl, parity_texts.json); reused when one with the same
            parameters exists. Its manifest stats record per input the rows drawn and their
            label counts, and ``validation_source`` (``held_out:<uri>``,
            ``split_of_training_data`` or ``none``).

        Raises:
            NotFound: unknown task or dataset. InvalidInput: no data, an empty dataset, a
            count above a dataset's rows, empty texts, labels outside the task, one label
            only, or a non-finite loss.
        """
        spec = load_task(task, self.settings)
        check_at_most(len(data), self.settings, "max_request_uris", "training datasets")
        check_backbone(config.backbone)
        if validation_uri:
            validation_source = f"held_out:{validation_uri}"
        else:
            validation_source = (SPLIT_OF_TRAINING_DATA if config.validation_fraction > 0
                                 else NO_VALIDATION)
        params = {"task": task, "data": [d.key() for d in data],
                  "config": config.model_dump(mode="json"), "validation_uri": validation_uri or None,
                  "validation_source": validation_source}
        artifact_id = job_id(f"{spec.name}-model", params)
        if existing := find(self.store, "model", artifact_id):
            log.info("training %s already done: reusing %s", artifact_id, existing.uri)
            return existing
        inputs = self._read_inputs(data)
        frame, input_stats = draw_mixture(inputs, spec.label_names, config.seed)
        validate_dataset(frame, spec, "training mixture")
        validation, val_frame, val_source = None, None, None
        if validation_uri:
            val_frame, val_source = self._validation_set(validation_uri, spec)
            validation = (truncate(val_frame["text"], self.settings.max_tokenized_chars),
                          val_frame["label"].tolist())
        log.info("training %s on %d rows (%s); validation: %s", task, len(frame),
                 " + ".join(f"{s['rows_drawn']} {s['source']}" for s in input_stats),
                 validation_source)
        start = time.perf_counter()
        with staging() as folder:
            result = train_classifier(
                truncate(frame["text"], self.settings.max_tokenized_chars), frame["label"].tolist(),
                spec.label_names, config,
                folder, progress, validation=validation, validation_name=validation_uri or "",
            )
            parity_source = self._write_parity_texts(folder, frame, val_frame, val_source,
                                                     config.seed)
            stats = {
                "task": task, "rows": len(frame), "train_rows": result.train_rows,
                "label_counts": {str(k): int(v) for k, v in
                                 frame["label"].value_counts().sort_index().items()},
                "inputs": input_stats, "validation_source": validation_source,
                "validation_data_source": val_source or "training data",
                "validation": result.validation, "best_epoch": result.best_epoch,
                "backbone": config.backbone or DEFAULT_BACKBONE_NAME,
                "device": result.device, "precision": result.precision, "threads": result.threads,
                "train_samples_per_s": round(result.train_samples_per_s, 3),
                "wall_time_s": round(time.perf_counter() - start, 3), "curves": result.curves,
                "parity_text_source": parity_source,
            }
            ref = publish(self.store, folder, kind="model", artifact_id=artifact_id, service=SERVICE,
                          parameters=params,
                          inputs=[d.uri for d in data] + ([validation_uri] if validation_uri else []),
                          stats=stats)
        val_f1 = result.validation.get("macro_f1")
        log.info("trained %s on %d rows in %.1f s: validation Macro-F1 %s (%s)", artifact_id,
                 len(frame), stats["wall_time_s"], "n/a" if val_f1 is None else f"{val_f1:.3f}",
                 validation_source)
        return ref

    @staticmethod
    def _write_parity_texts(folder, frame: pd.DataFrame, val_frame: pd.DataFrame | None,
                            val_source: str | None, seed: int) -> str:
        """Keep up to :data:`PARITY_SAMPLES` real texts for the export's parity check.

        Real texts come from a real held-out validation set and the real inputs of the
        mixture; only when none is real are synthetic training texts used.

        Returns:
            Where the texts came from: ``real`` or ``training data (no real data given)``.
        """
        pools = [frame.loc[frame["source"] == REAL, "text"]]
        if val_frame is not None and val_source == REAL:
            pools.append(val_frame["text"])
        real = pd.concat(pools, ignore_index=True).drop_duplicates()
        pool, source = (real, REAL) if len(real) else (frame["text"], "training data (no real data given)")
        sample = pool.sample(min(PARITY_SAMPLES, len(pool)), random_state=seed)
        (folder / PARITY_FILE).write_text(json.dumps(sample.tolist()))
        return source

    @single_flight("onnx-model")
    def export(
        self, model_uri: str, *, opset: int = DEFAULT_OPSET, tolerance: float = DEFAULT_TOLERANCE,
        quantize_int8: bool = False, progress: ProgressFn = ignore_progress,
    ) -> ArtifactRef:
        """Export a trained model to ONNX and check parity against PyTorch.

        Args:
            model_uri: ``model`` artifact from :meth:`train`.
            opset: ONNX opset version.
            tolerance: largest accepted max |Δlogit| between ONNX and PyTorch.
            quantize_int8: also write ``model.int8.onnx`` and record its accuracy and
                Macro-F1 change on the model's validation texts.
            progress: receives ``export`` events.

        Returns:
            The ``onnx-model`` artifact (model.onnx (fp32), tokenizer files, labels.json,
            parity.json; with ``quantize_int8`` also model.int8.onnx and quantization.json,
            and ``int8_accuracy_delta``, ``int8_macro_f1_delta`` and sizes in its stats).

        Raises:
            NotFound: no model at ``model_uri``.
            InvalidInput: ``opset`` outside [:data:`MIN_OPSET`, :data:`MAX_OPSET`], or a
                tolerance that is not a positive finite number.
            IntegrityError: parity check failed (max |Δlogit| > tolerance or argmax differs).
        """
        if not MIN_OPSET <= opset <= MAX_OPSET:
            raise InvalidInput(f"opset must lie in [{MIN_OPSET}, {MAX_OPSET}] (the ONNX opsets the "
                               f"exporter supports for these encoders), got {opset}")
        if not (math.isfinite(tolerance) and tolerance > 0):
            raise InvalidInput(f"parity_tolerance must be a positive number, got {tolerance}")
        params = {"model_uri": model_uri, "opset": opset, "tolerance": tolerance,
                  "quantize_int8": quantize_int8}
        artifact_id = job_id("onnx", params)
        if existing := find(self.store, "onnx-model", artifact_id):
            return existing
        model = fetch_kind(model_uri, self.settings, "model", "model_uri")
        texts, max_length = self._parity_inputs(model)
        evaluation = self._validation_texts(model.file(VALIDATION_FILE, required=False)) if quantize_int8 else None
        steps = 3 if quantize_int8 else 2
        progress(Progress(stage="export", total=steps, unit="steps",
                          message=f"exporting {model.ref.id} to ONNX opset {opset}"))
        with staging() as folder:
            result = export_onnx(model.path, folder, texts, opset=opset, tolerance=tolerance,
                                 max_length=max_length, quantize=quantize_int8,
                                 evaluation=evaluation)
            stats = {"task": model.manifest.stats.get("task"), "opset": opset,
                     "max_abs_logit_diff": result.max_abs_logit_diff,
                     "argmax_agree": result.argmax_agree, "parity_samples": result.parity_samples,
                     "parity_text_source": model.manifest.stats.get("parity_text_source"),
                     "max_length": max_length, "fp32_bytes": (folder / "model.onnx").stat().st_size}
            metrics = {"max_abs_logit_diff": result.max_abs_logit_diff}
            message = f"parity max |Δlogit| {result.max_abs_logit_diff:.2e}"
            if result.int8 is not None:
                stats.update(result.int8.stats())
                stats["int8_measured_on"] = (model.manifest.stats.get("validation_source")
                                             if result.int8.eval_size else "nothing (no validation set)")
                metrics.update({k: v for k, v in result.int8.stats().items()
                                if k.endswith("_delta") and v is not None})
                if result.int8.accuracy_delta is not None:
                    message += (f"; int8 accuracy {result.int8.accuracy_delta:+.4f}, "
                                f"Macro-F1 {result.int8.macro_f1_delta:+.4f} on "
                                f"{result.int8.eval_size} validation texts")
            progress(Progress(stage="export", done=steps, total=steps, unit="steps",
                              message=message, metrics=metrics))
            return publish(
                self.store, folder, kind="onnx-model", artifact_id=artifact_id, service=SERVICE,
                parameters=params, inputs=[model_uri], stats=stats,
            )

    @staticmethod
    def _parity_inputs(model) -> tuple[list[str], int]:
        """The parity texts and max_length of a fetched model artifact.

        Raises:
            InvalidInput: the artifact lacks parity_texts.json, or it or max_length is malformed.
        """
        name = f"model {shown(model.ref.uri, 200)}"
        if PARITY_FILE not in {entry.path for entry in model.manifest.files}:
            raise InvalidInput(f"{name} has no {PARITY_FILE}; train it with TrainingService.Train")
        try:
            texts = json.loads(model.file(PARITY_FILE).read_text(encoding="utf-8"))
        except (ValueError, RecursionError) as exc:
            raise InvalidInput(f"{name}: {PARITY_FILE} is not JSON") from exc
        config = model.manifest.parameters.get("config")
        max_length = config.get("max_length", 128) if isinstance(config, dict) else 128
        if not (isinstance(texts, list) and texts and all(isinstance(t, str) for t in texts)):
            raise InvalidInput(f"{name}: {PARITY_FILE} is not a non-empty list of texts")
        if not (isinstance(max_length, int) and 4 <= max_length <= MAX_LENGTH_LIMIT):
            raise InvalidInput(f"{name}: max_length must be an integer in [4, {MAX_LENGTH_LIMIT}]")
        return texts, max_length

    @staticmethod
    def _validation_texts(path) -> tuple[list[str], list[str]] | None:
        """The model's validation (texts, labels), or None if it has none."""
        if path is None or not path.read_text(encoding="utf-8").strip():
            return None
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
        return [r["text"] for r in rows], [r["label"] for r in rows]
