"""Dynamic int8 quantization of an exported classifier, and what it costs on labelled data.

``onnxruntime.quantization.quantize_dynamic`` stores the weights of MatMul/Gemm nodes as
int8 and quantizes activations on the fly; on this CPU it is ≈1.2× faster than fp32 with
~3e-3 logit change (benchmarks/README.md). Whether that change moves predictions depends on the model
and data, so it is measured, never assumed: fp32 and int8 graphs classify the same labelled
texts (the model's validation set) and the accuracy and Macro-F1 deltas are recorded.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from onnx import TensorProto
from onnxruntime.quantization import QuantType, quantize_dynamic

from synthclf.core.onnx_runtime import CPU, INT8_GRAPH, OnnxClassifier
from synthclf.core.scoring import macro_f1_accuracy

logger = logging.getLogger("synthclf.training")

INT8_FILE = INT8_GRAPH


@dataclass
class QuantizationResult:
    """fp32 vs int8 on the same labelled texts (deltas are int8 minus fp32).

    Attributes:
        int8_path: the written ``model.int8.onnx``.
        fp32_bytes: size of ``model.onnx`` in bytes.
        int8_bytes: size of ``model.int8.onnx`` in bytes.
        eval_size: labelled texts compared (0: none were available; scores are then None).
        fp32_accuracy, int8_accuracy: accuracy of each graph, in [0, 1].
        fp32_macro_f1, int8_macro_f1: Macro-F1 over all labels of each graph, in [0, 1].
        accuracy_delta: int8_accuracy - fp32_accuracy.
        macro_f1_delta: int8_macro_f1 - fp32_macro_f1.
        max_abs_logit_diff: largest |fp32 logit - int8 logit| over the texts.
        argmax_agreement: share of texts on which both graphs predict the same label.
    """

    int8_path: Path
    fp32_bytes: int
    int8_bytes: int
    eval_size: int = 0
    fp32_accuracy: float | None = None
    int8_accuracy: float | None = None
    fp32_macro_f1: float | None = None
    int8_macro_f1: float | None = None
    accuracy_delta: float | None = None
    macro_f1_delta: float | None = None
    max_abs_logit_diff: float | None = None
    argmax_agreement: float | None = None

    def stats(self) -> dict[str, float | int | None]:
        """The numbers for a manifest, keys prefixed ``int8_`` where not already."""
        out = {k: v for k, v in asdict(self).items() if k != "int8_path"}
        return {k if k.startswith(("int8_", "fp32_")) else f"int8_{k}": v for k, v in out.items()}


def quantize_int8(fp32_path: Path, int8_path: Path) -> None:
    """Write a dynamic-int8 copy of ``fp32_path`` (int8 weights, per-tensor) to ``int8_path``.

    The graph may hold ONNX Runtime's fused contrib operators (``Attention`` becomes
    ``QAttention``); ONNX shape inference knows no types for their outputs, so float is
    declared the default tensor type.
    """
    quantize_dynamic(str(fp32_path), str(int8_path), weight_type=QuantType.QInt8,
                     extra_options={"DefaultTensorType": TensorProto.FLOAT})


def measure_int8(
    fp32_path: Path,
    int8_path: Path,
    texts: list[str],
    labels: list[str],
    label_names: list[str],
    max_length: int,
) -> QuantizationResult:
    """Classify labelled texts with both graphs (CPU provider) and compare.

    Both graphs are run as the services run them (:class:`OnnxClassifier`: the folder's
    tokenizer, texts cut into runs by length).

    Args:
        fp32_path: ``model.onnx``, in a folder with the tokenizer files and labels.json.
        int8_path: ``model.int8.onnx``, beside it.
        texts: n labelled texts (may be empty: only sizes are recorded).
        labels: n gold label names.
        label_names: all label names in logit order (Macro-F1 averages over all of them).
        max_length: truncation length in tokens.

    Returns:
        The :class:`QuantizationResult`.
    """
    result = QuantizationResult(int8_path, Path(fp32_path).stat().st_size,
                                Path(int8_path).stat().st_size)
    if not texts:
        logger.warning("no labelled texts to measure int8 quantization on; only sizes recorded")
        return result
    index = {name: i for i, name in enumerate(label_names)}
    gold = np.array([index[x] for x in labels])
    fp32, int8 = (OnnxClassifier(Path(path).parent, providers=[CPU], max_length=max_length,
                                 graph=Path(path).name).predict_logits(texts)
                  for path in (fp32_path, int8_path))
    every = list(range(len(label_names)))
    scores = {}
    for name, logits in (("fp32", fp32), ("int8", int8)):
        predicted = logits.argmax(-1)
        scores[f"{name}_macro_f1"], scores[f"{name}_accuracy"] = macro_f1_accuracy(
            gold, predicted, every)
    result.eval_size = len(texts)
    for key, value in scores.items():
        setattr(result, key, value)
    result.accuracy_delta = scores["int8_accuracy"] - scores["fp32_accuracy"]
    result.macro_f1_delta = scores["int8_macro_f1"] - scores["fp32_macro_f1"]
    result.max_abs_logit_diff = float(np.abs(fp32 - int8).max())
    result.argmax_agreement = float((fp32.argmax(-1) == int8.argmax(-1)).mean())
    logger.info(
        "int8 quantization on %d validation texts: accuracy %.4f → %.4f (%+.4f), Macro-F1 "
        "%.4f → %.4f (%+.4f); %.1f → %.1f MB", len(texts), scores["fp32_accuracy"],
        scores["int8_accuracy"], result.accuracy_delta, scores["fp32_macro_f1"],
        scores["int8_macro_f1"], result.macro_f1_delta, result.fp32_bytes / 1e6,
        result.int8_bytes / 1e6,
    )
    return result
