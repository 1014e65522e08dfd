"""Run an exported classifier (``model.onnx`` + tokenizer + ``labels.json``) with onnxruntime.

The folder layout is the one :func:`synthclf.training.onnx_export.export_onnx` writes.
Texts are sorted by token length and cut into sub-batches so short texts are not padded to
the longest one (design.md: on CPU, padding to the longest text of a batch wastes more than
batching saves); results come back in input order.
"""

from __future__ import annotations

import functools
import json
import logging
from pathlib import Path

import numpy as np
import onnxruntime as ort
from onnx import TensorProto, helper
from transformers import AutoTokenizer

from synthclf.core.errors import IntegrityError, InvalidInput

logger = logging.getLogger("synthclf.inference")

CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"
#: Largest sub-batch sent to onnxruntime in one run.
MAX_SUB_BATCH = 32
#: ONNX IR version of the CUDA probe graph (IR 8 = opset 17's release, readable by any ORT).
PROBE_IR_VERSION = 8


@functools.cache
def _cuda_works() -> tuple[bool, str]:
    """Whether a session really initialises on CUDA, with the reason (probed once).

    onnxruntime-gpu lists CUDAExecutionProvider even where no GPU or CUDA library exists and
    then silently falls back to CPU, so a tiny Identity graph is opened and the provider the
    session actually got is read back.
    """
    if CUDA not in ort.get_available_providers():
        return False, f"onnxruntime {ort.__version__} has no CUDAExecutionProvider"
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "probe", [x], [y])
    # IR 8 pairs with opset 17; onnx 1.23 would stamp IR 14, which onnxruntime 1.31 refuses.
    probe = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=PROBE_IR_VERSION
    )
    options = ort.SessionOptions()
    options.log_severity_level = 4
    try:
        session = ort.InferenceSession(
            probe.SerializeToString(), options, providers=[CUDA, CPU]
        )
    except Exception as exc:  # onnxruntime raises plain RuntimeError/Fail subclasses
        return False, f"CUDAExecutionProvider failed to initialise ({exc})"
    if session.get_providers()[0] != CUDA:
        return False, (
            "CUDAExecutionProvider is listed but did not initialise (no CUDA device, or its "
            "CUDA/cuDNN libraries are missing; onnxruntime logs which)"
        )
    return True, "CUDAExecutionProvider initialised on a CUDA device"


def select_providers(prefer_gpu: bool = True) -> list[str]:
    """onnxruntime execution providers to use: CUDA when it really works, else CPU.

    Args:
        prefer_gpu: try CUDAExecutionProvider first; False forces CPU.

    Returns:
        ``["CUDAExecutionProvider", "CPUExecutionProvider"]`` or ``["CPUExecutionProvider"]``.
    """
    if not prefer_gpu:
        logger.info("using CPUExecutionProvider: GPU not requested")
        return [CPU]
    works, reason = _cuda_works()
    if works:
        logger.info("using CUDAExecutionProvider: %s", reason)
        return [CUDA, CPU]
    logger.info("using CPUExecutionProvider: %s", reason)
    return [CPU]


def _softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax in float32, shifted by the row max for stability."""
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted, dtype=np.float32)
    return exp / exp.sum(axis=-1, keepdims=True)


class OnnxClassifier:
    """A text classifier loaded from an exported folder.

    Attributes:
        folder: the model folder.
        labels: label names in logit order (from ``labels.json``).
        execution_provider: the provider the session actually runs on
            (``session.get_providers()[0]``).
        max_length: truncation length in tokens.
        max_batch_size: largest sub-batch per onnxruntime run.
    """

    def __init__(
        self,
        folder: Path,
        providers: list[str] | None = None,
        max_length: int = 128,
        max_batch_size: int = MAX_SUB_BATCH,
    ):
        """Load ``model.onnx``, the tokenizer and ``labels.json`` from ``folder``.

        Args:
            folder: folder written by ``export_onnx``.
            providers: onnxruntime providers; None: :func:`select_providers`.
            max_length: truncation length in tokens.
            max_batch_size: largest sub-batch per run (≥ 1).

        Raises:
            IntegrityError: ``model.onnx`` or ``labels.json`` is missing or unreadable, or
                the number of labels differs from the width of the ``logits`` output.
        """
        self.folder = Path(folder)
        self.max_length = max_length
        self.max_batch_size = max(1, max_batch_size)
        onnx_path, labels_path = self.folder / "model.onnx", self.folder / "labels.json"
        for path in (onnx_path, labels_path):
            if not path.is_file():
                raise IntegrityError(f"model folder {self.folder} lacks {path.name}")
        try:
            self.labels: list[str] = list(json.loads(labels_path.read_text()))
        except (ValueError, TypeError) as exc:
            raise IntegrityError(f"{labels_path} is not a JSON list of labels: {exc}") from exc
        self.tokenizer = AutoTokenizer.from_pretrained(self.folder)
        try:
            self.session = ort.InferenceSession(
                str(onnx_path), providers=providers or select_providers()
            )
        except Exception as exc:  # onnxruntime's InvalidProtobuf/Fail are not exported types
            raise IntegrityError(f"cannot load {onnx_path}: {exc}") from exc
        self.execution_provider: str = self.session.get_providers()[0]
        self._input_names = [i.name for i in self.session.get_inputs()]
        missing = set(self._input_names) - set(self.tokenizer(["a"]).keys())
        if missing:
            raise IntegrityError(f"{onnx_path} expects inputs {sorted(missing)} that the "
                                 "folder's tokenizer does not produce")
        width = self.session.get_outputs()[0].shape[-1]
        if isinstance(width, int):
            self._check_width(width)
        logger.info(
            "loaded %s: %d labels on %s", onnx_path, len(self.labels), self.execution_provider
        )

    def _check_width(self, width: int) -> None:
        if width != len(self.labels):
            raise IntegrityError(
                f"{self.folder}: labels.json has {len(self.labels)} labels but the model "
                f"outputs {width} logits"
            )

    def predict_batch(self, texts: list[str]) -> np.ndarray:
        """Class probabilities for each text.

        Args:
            texts: texts to classify (at least one; each a string).

        Returns:
            float32 array [len(texts), len(labels)] of softmax probabilities, rows in input
            order, columns in ``labels`` order.

        Raises:
            InvalidInput: ``texts`` is empty or holds a non-string.
        """
        if not texts:
            raise InvalidInput("predict_batch needs at least one text")
        bad = [i for i, t in enumerate(texts) if not isinstance(t, str)]
        if bad:
            raise InvalidInput(f"{len(bad)} inputs are not strings (first at index {bad[0]})")
        enc = self.tokenizer(list(texts), truncation=True, max_length=self.max_length)
        lengths = np.array([len(ids) for ids in enc["input_ids"]])
        order = np.argsort(lengths, kind="stable")
        out = np.empty((len(texts), len(self.labels)), dtype=np.float32)
        for start in range(0, len(order), self.max_batch_size):
            rows = order[start : start + self.max_batch_size]
            logits = self.session.run(["logits"], self._feed(enc, rows, lengths))[0]
            self._check_width(logits.shape[-1])
            out[rows] = _softmax(logits.astype(np.float32))
        return out

    def _feed(self, enc, rows: np.ndarray, lengths: np.ndarray) -> dict[str, np.ndarray]:
        """int64 [len(rows), longest] inputs for the rows, padded to their own longest."""
        width = int(lengths[rows].max())
        pad_ids = {"input_ids": self.tokenizer.pad_token_id or 0}
        left = self.tokenizer.padding_side == "left"
        feed = {}
        for name in self._input_names:
            array = np.full((len(rows), width), pad_ids.get(name, 0), dtype=np.int64)
            for r, i in enumerate(rows):
                seq = enc[name][i]
                if left:
                    array[r, width - len(seq) :] = seq
                else:
                    array[r, : len(seq)] = seq
            feed[name] = array
        return feed
