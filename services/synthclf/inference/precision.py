"""Which graph of an onnx-model artifact to serve: the fp32 ``model.onnx`` or its int8 copy.

An export made with ``quantize_int8`` holds ``model.int8.onnx`` (onnxruntime dynamic int8)
beside the fp32 graph, and ``quantization.json`` with the Macro-F1 of both on the model's
validation set (:mod:`synthclf.training.quantize`). The int8 copy is served on CPU when that
measured change is no worse than ``inference_int8_max_macro_f1_drop`` points (int8 kernels
use the CPU's VNNI/AMX instructions; benchmarks/README.md has the speed-up); otherwise — no
copy, no measurement, a larger drop, a CUDA session, or ``inference_serve_int8`` off — the
fp32 graph is. The fp32 graph always stays in the artifact.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

from synthclf.core.artifacts import LocalArtifact
from synthclf.core.config import Settings
from synthclf.core.onnx_runtime import CUDA, FP32_GRAPH, INT8_GRAPH

#: The export's record of fp32 vs int8 on the validation set.
QUANTIZATION_FILE = "quantization.json"


@dataclass(frozen=True)
class GraphChoice:
    """The graph to serve and why.

    Attributes:
        graph: :data:`FP32_GRAPH` or :data:`INT8_GRAPH`.
        reason: one sentence for the log, in the field's words.
        macro_f1_delta: int8 minus fp32 Macro-F1 in [−1, 1] as measured, None if not.
    """

    graph: str
    reason: str
    macro_f1_delta: float | None = None


def _measured_delta(artifact: LocalArtifact) -> tuple[float | None, int]:
    """(int8 − fp32 Macro-F1, validation texts) from ``quantization.json``; (None, 0) when
    the file is absent, unreadable or holds no finite measurement."""
    path = artifact.file(QUANTIZATION_FILE, required=False)
    if path is None:
        return None, 0
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError, RecursionError):
        return None, 0
    if not isinstance(record, dict):
        return None, 0
    delta, size = record.get("int8_macro_f1_delta"), record.get("int8_eval_size")
    if (not isinstance(delta, (int, float)) or isinstance(delta, bool) or not math.isfinite(delta)
            or not isinstance(size, int) or size < 1):
        return None, 0
    return float(delta), size


def choose_graph(artifact: LocalArtifact, settings: Settings, provider: str) -> GraphChoice:
    """Decide between ``model.onnx`` and ``model.int8.onnx`` for one artifact.

    Args:
        artifact: the fetched (sha256-verified) onnx-model artifact.
        settings: ``inference_serve_int8`` and ``inference_int8_max_macro_f1_drop`` (points).
        provider: the execution provider the session will run on.

    Returns:
        The :class:`GraphChoice`.
    """
    bound = settings.inference_int8_max_macro_f1_drop
    if artifact.file(INT8_GRAPH, required=False) is None:
        return GraphChoice(FP32_GRAPH, "the export has no int8 copy (ExportOnnx quantize_int8)")
    delta, size = _measured_delta(artifact)
    if not settings.inference_serve_int8:
        return GraphChoice(FP32_GRAPH, "int8 serving is off (SYNTHCLF_INFERENCE_SERVE_INT8)", delta)
    if provider == CUDA:
        return GraphChoice(FP32_GRAPH, "dynamic int8 kernels are CPU kernels; CUDA runs fp32", delta)
    if delta is None:
        return GraphChoice(FP32_GRAPH, "the int8 copy's Macro-F1 change was not measured (no "
                           "validation set at export), so it is not served")
    change = f"int8 Macro-F1 change {100 * delta:+.2f} pt on {size} validation texts"
    if -100 * delta > bound:
        return GraphChoice(FP32_GRAPH, f"{change} exceeds the {bound:.2f} pt bound "
                           "(SYNTHCLF_INFERENCE_INT8_MAX_MACRO_F1_DROP)", delta)
    return GraphChoice(INT8_GRAPH, f"{change} is within the {bound:.2f} pt bound "
                       "(SYNTHCLF_INFERENCE_INT8_MAX_MACRO_F1_DROP)", delta)
