"""Export a fine-tuned classifier to ONNX and prove the export computes the same logits.

The TorchScript exporter (``dynamo=False``) is used: on torch 2.13 / transformers 5.23 it
exports BERT-family encoders with dynamic batch and sequence axes and matches torch to
~1e-7 (the parity test, tests/unit/training/test_onnx_export.py), without the dynamo
exporter's onnxscript dependency at export time.
The exported graph is rewritten with ONNX Runtime's transformer fusions (attention, skip
layer norm, GELU: :mod:`synthclf.training.fusion`) unless ``fuse=False``. Every export is
checked: torch (eval mode) and ONNX Runtime (CPU provider, through
:class:`~synthclf.core.onnx_runtime.OnnxClassifier`, the same tokenization and padding the
services use) run the same sample texts, and the export is refused unless the logits agree
within a tolerance and the predicted labels are identical. On request a dynamic-int8 copy is
written beside ``model.onnx`` with its measured accuracy change
(:mod:`synthclf.training.quantize`); ``model.onnx`` stays fp32.
"""

from __future__ import annotations

import json
import logging
import shutil
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from synthclf.core.artifacts import atomic_folder
from synthclf.core.errors import IntegrityError, InvalidInput
from synthclf.core.onnx_runtime import CPU, OnnxClassifier
from synthclf.training.fusion import fuse_transformer
from synthclf.training.quantize import INT8_FILE, QuantizationResult, measure_int8, quantize_int8

logger = logging.getLogger("synthclf.training")

#: Texts per batch in the parity check (each batch padded to its own longest text).
PARITY_BATCH_SIZE = 16
#: Tracing input: batch of 2 with different lengths, so the traced graph sees padding.
_DUMMY_TEXTS = ("a short text", "a somewhat longer text, traced for the ONNX export")


@dataclass
class ExportResult:
    """Outcome of :func:`export_onnx`.

    Attributes:
        onnx_path: the written ``model.onnx``.
        opset: ONNX opset version used.
        max_abs_logit_diff: largest |torch logit - onnxruntime logit| over the samples.
        argmax_agree: whether torch and onnxruntime predict the same label for every sample.
        parity_samples: number of sample texts compared.
        tolerance: the accepted ``max_abs_logit_diff``.
        int8: the int8 copy and its measured change, when quantization was asked for.
        fused_operators: count per fused ONNX Runtime operator in ``model.onnx`` (empty: the
            graph is not fused).
    """

    onnx_path: Path
    opset: int
    max_abs_logit_diff: float
    argmax_agree: bool
    parity_samples: int
    tolerance: float
    int8: QuantizationResult | None = None
    fused_operators: dict[str, int] = field(default_factory=dict)


class _LogitsOnly(torch.nn.Module):
    """Wraps a sequence classifier so positional inputs map to named ones and only logits
    come out (the ONNX graph then has exactly the inputs the tokenizer produces)."""

    def __init__(self, model: torch.nn.Module, input_names: list[str]):
        super().__init__()
        self.model = model
        self.input_names = input_names

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        """Logits only, so the exported graph has a single output."""
        return self.model(**dict(zip(self.input_names, inputs))).logits


def _input_names(tokenizer) -> list[str]:
    """ONNX input names: ids and mask, plus ``token_type_ids`` if the tokenizer emits them."""
    produced = tokenizer(["a"], return_tensors="np")
    return [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in produced]


def check_parity(
    model: torch.nn.Module,
    onnx_path: Path,
    texts: list[str],
    tolerance: float,
    max_length: int,
) -> tuple[float, bool]:
    """Compare the logits of a torch model and an exported graph on the same texts.

    The graph is loaded as the services load it (:class:`OnnxClassifier`, CPU provider,
    with the tokenizer and ``labels.json`` beside it); texts are tokenized by its
    :meth:`~OnnxClassifier.encode` and padded by its :meth:`~OnnxClassifier.feed`, in batches
    of :data:`PARITY_BATCH_SIZE`, and torch gets the very same arrays.

    Args:
        model: the torch sequence classifier (put in eval mode here).
        onnx_path: the exported graph, in a folder with the tokenizer files and labels.json.
        texts: sample texts (at least one).
        tolerance: only logged here; the caller decides.
        max_length: truncation length in tokens.

    Returns:
        (max |Δlogit| over all texts and labels, whether every argmax agrees).
    """
    model.eval()
    onnx_path = Path(onnx_path)
    classifier = OnnxClassifier(onnx_path.parent, providers=[CPU], max_length=max_length,
                                graph=onnx_path.name)
    rows = classifier.encode(list(texts))
    max_diff, agree = 0.0, True
    device = next(model.parameters()).device
    with torch.inference_mode():
        for start in range(0, len(rows), PARITY_BATCH_SIZE):
            chunk = rows[start:start + PARITY_BATCH_SIZE]
            feed = classifier.feed(chunk)
            expected = model(**{k: torch.from_numpy(v).to(device) for k, v in feed.items()})
            expected = expected.logits.float().cpu().numpy()
            actual = classifier.logits(chunk)
            max_diff = max(max_diff, float(np.abs(expected - actual).max()))
            agree = agree and bool((expected.argmax(-1) == actual.argmax(-1)).all())
    logger.info(
        "ONNX parity of %s on %d texts: max |Δlogit| %.2e (tolerance %.0e), argmax %s",
        onnx_path.name,
        len(texts),
        max_diff,
        tolerance,
        "identical" if agree else "DIFFERS",
    )
    return max_diff, agree


def _labels(model_dir: Path, model) -> list[str]:
    """Labels in logit order: ``labels.json`` if present, else the config's ``id2label``."""
    path = model_dir / "labels.json"
    if path.is_file():
        return list(json.loads(path.read_text()))
    return [model.config.id2label[i] for i in range(model.config.num_labels)]


def export_onnx(
    model_dir: Path,
    output_dir: Path,
    sample_texts: list[str],
    *,
    opset: int = 17,
    tolerance: float = 1e-4,
    max_length: int = 128,
    quantize: bool = False,
    evaluation: tuple[list[str], list[str]] | None = None,
    fuse: bool = True,
) -> ExportResult:
    """Export the classifier in ``model_dir`` to ``output_dir/model.onnx`` and verify it.

    ``output_dir`` receives ``model.onnx`` (inputs ``input_ids``, ``attention_mask`` and
    ``token_type_ids`` when the tokenizer produces them, each int64 [batch, sequence];
    output ``logits`` float32 [batch, labels]), the tokenizer files, ``labels.json`` and
    ``parity.json``; with ``quantize`` also ``model.int8.onnx`` and ``quantization.json``.
    With ``fuse`` the graph is rewritten with ONNX Runtime's transformer fusions; when the
    fused graph fails the parity check but the plain one passes, the plain one is written
    (a warning says so). Files are written to a temp sibling folder and moved into place only
    after the parity check passes.

    Args:
        model_dir: a ``save_pretrained`` folder (as written by ``train_classifier``).
        output_dir: destination folder (replaced if it exists).
        sample_texts: texts for the parity check (at least one).
        opset: ONNX opset version (17: the opset the parity test exports with).
        tolerance: largest accepted |Δlogit| between torch and onnxruntime.
        max_length: truncation length in tokens for the parity check and the int8 measurement.
        quantize: also write the dynamic-int8 ``model.int8.onnx``.
        evaluation: (texts, gold labels) on which to measure fp32 vs int8 accuracy and
            Macro-F1 (the model's validation set); None or empty: only sizes are recorded.
        fuse: apply the transformer fusions (:func:`~synthclf.training.fusion.fuse_transformer`).

    Returns:
        The :class:`ExportResult`.

    Raises:
        InvalidInput: no sample texts, or a negative tolerance.
        IntegrityError: the parity check failed (the measured difference is named); no
            output is left behind.
    """
    if not sample_texts or any(not isinstance(t, str) for t in sample_texts):
        raise InvalidInput("export_onnx needs at least one sample text (strings) for parity")
    if tolerance < 0:
        raise InvalidInput(f"tolerance must be >= 0, got {tolerance}")
    model_dir, output_dir = Path(model_dir), Path(output_dir)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    # Eager attention traces to the MatMul/Softmax pattern ONNX Runtime's Attention fusion
    # recognises (the SDPA path traces to a masked form it does not fuse); same math.
    model = AutoModelForSequenceClassification.from_pretrained(
        model_dir, attn_implementation="eager").eval()
    labels = _labels(model_dir, model)
    names = _input_names(tokenizer)
    dummy = tokenizer(list(_DUMMY_TEXTS), padding=True, truncation=True, max_length=max_length,
                      return_tensors="np")
    axes = {n: {0: "batch", 1: "sequence"} for n in names}
    axes["logits"] = {0: "batch"}

    with atomic_folder(output_dir) as staging:
        onnx_file = staging / "model.onnx"
        with torch.no_grad(), warnings.catch_warnings():
            # Tracing warns about Python branches frozen as constants and about aten::index
            # with negative indices (transformers' mask building indexes with aranges); the
            # parity check below is what proves the graph right.
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            warnings.filterwarnings("ignore", "Exporting aten::index operator")
            torch.onnx.export(
                _LogitsOnly(model, names),
                tuple(torch.from_numpy(dummy[n].astype(np.int64)) for n in names),
                str(onnx_file),
                dynamo=False,
                opset_version=opset,
                input_names=names,
                output_names=["logits"],
                dynamic_axes=axes,
            )
        # The tokenizer and labels go in first: the parity check loads the folder as the
        # services do.
        tokenizer.save_pretrained(staging)
        (staging / "labels.json").write_text(json.dumps(labels, indent=2))
        fused, max_diff, agree = _fuse_and_check(model, onnx_file, list(sample_texts), tolerance,
                                                 max_length, fuse)
        parity = {
            "max_abs_logit_diff": max_diff,
            "argmax_agree": agree,
            "parity_samples": len(sample_texts),
            "tolerance": tolerance,
            "opset": opset,
            "max_length": max_length,
            "fused_operators": fused,
            "torch": torch.__version__,
            "onnxruntime": ort.__version__,
        }
        (staging / "parity.json").write_text(json.dumps(parity, indent=2))
        int8 = None
        if quantize:
            quantize_int8(onnx_file, staging / INT8_FILE)
            texts, gold = evaluation or ([], [])
            int8 = measure_int8(onnx_file, staging / INT8_FILE, list(texts), list(gold), labels,
                                max_length)
            int8.int8_path = output_dir / INT8_FILE
            (staging / "quantization.json").write_text(json.dumps(int8.stats(), indent=2))
    logger.info("exported %s to %s (opset %d)", model_dir, output_dir / "model.onnx", opset)
    return ExportResult(output_dir / "model.onnx", opset, max_diff, agree, len(sample_texts),
                        tolerance, int8, fused)


def _fuse_and_check(model, onnx_file: Path, texts: list[str], tolerance: float, max_length: int,
                    fuse: bool) -> tuple[dict[str, int], float, bool]:
    """Fuse ``onnx_file`` (when asked) and check parity; fall back to the plain graph when
    only the fused one fails.

    Returns:
        (fused operator counts, empty for the plain graph; max |Δlogit|; argmax agreement).

    Raises:
        IntegrityError: the written graph (fused, and then plain) fails the parity check.
    """
    plain = onnx_file.with_name(".plain.onnx")
    fused: dict[str, int] = {}
    if fuse:
        shutil.copyfile(onnx_file, plain)
        fused = fuse_transformer(onnx_file, model.config.model_type,
                                 model.config.num_attention_heads, model.config.hidden_size)
    max_diff, agree = check_parity(model, onnx_file, texts, tolerance, max_length)
    failures = []
    if plain.exists() and (max_diff > tolerance or not agree):
        failures.append(f"fused graph max |Δlogit| {max_diff:.3e}, argmax "
                        f"{'agrees' if agree else 'differs'}")
        logger.warning("the fused graph fails the parity check (%s); trying the plain graph",
                       failures[-1])
        shutil.move(plain, onnx_file)
        fused = {}
        max_diff, agree = check_parity(model, onnx_file, texts, tolerance, max_length)
    plain.unlink(missing_ok=True)
    if max_diff > tolerance or not agree:
        failures.append(f"max |Δlogit| {max_diff:.3e}, argmax {'agrees' if agree else 'differs'}")
        raise IntegrityError(
            f"ONNX export does not match torch: {'; plain graph '.join(failures)} "
            f"(tolerance {tolerance:.0e}) on {len(texts)} sample texts"
        )
    return fused, max_diff, agree
