"""Transformer fusions of an exported encoder graph (ONNX Runtime's transformer optimizer).

``onnxruntime.transformers.optimizer.optimize_model`` rewrites the exported BERT-family graph
into ONNX Runtime's fused contrib operators: ``Attention`` (Q/K/V projections, scaled dot
product, softmax and mask in one kernel), ``SkipLayerNormalization`` (residual add + layer
norm), ``BiasGelu``/``FastGelu`` and ``EmbedLayerNormalization``. Fewer, larger kernels cost
less per run on CPU (the per-run overhead of :func:`synthclf.core.onnx_runtime.plan_runs`)
and quantize to ``QAttention``. Only the hardware-neutral level is used (``opt_level=1``:
constant folding and the Python fusions), so the written graph runs on every execution
provider. The fused graph must pass the same parity check against torch as the plain one
(:func:`synthclf.training.onnx_export.check_parity`).
"""

from __future__ import annotations

import logging
from pathlib import Path

logger = logging.getLogger("synthclf.training")

#: Fused operators counted in ``parity.json`` (``fused_operators``).
FUSED_OPERATORS = ("Attention", "SkipLayerNormalization", "EmbedLayerNormalization",
                   "BiasGelu", "Gelu", "FastGelu", "LayerNormalization")
#: Hugging Face ``model_type`` values whose graphs the optimizer's BERT rules fuse.
BERT_LIKE = ("bert", "roberta", "xlm-roberta", "camembert", "electra", "mpnet", "distilbert")


def fuse_transformer(onnx_path: Path, model_type: str, num_heads: int, hidden_size: int) -> dict[str, int]:
    """Rewrite ``onnx_path`` in place with ONNX Runtime's transformer fusions.

    Args:
        onnx_path: the exported fp32 graph (replaced by the fused one).
        model_type: the Hugging Face config's ``model_type``; other than :data:`BERT_LIKE`,
            nothing is done.
        num_heads: attention heads (``config.num_attention_heads``).
        hidden_size: hidden size (``config.hidden_size``).

    Returns:
        Count per fused operator type in the written graph (empty when nothing was done:
        unsupported model type, or the optimizer failed — the plain graph is then kept and
        a warning logged).
    """
    if model_type not in BERT_LIKE:
        logger.info("no transformer fusions for model type %s; the plain graph is kept", model_type)
        return {}
    from onnxruntime.transformers.optimizer import optimize_model

    onnx_path = Path(onnx_path)
    try:
        optimized = optimize_model(str(onnx_path), model_type="bert", num_heads=num_heads,
                                   hidden_size=hidden_size, opt_level=1, use_gpu=False)
    except Exception as exc:  # noqa: BLE001 - the optimizer raises many kinds; plain graph kept
        logger.warning("ONNX Runtime transformer optimizer failed (%s: %s); the plain graph is "
                       "kept", type(exc).__name__, exc)
        return {}
    counts = {op: len(optimized.get_nodes_by_op_type(op)) for op in FUSED_OPERATORS}
    counts = {op: n for op, n in counts.items() if n}
    optimized.save_model_to_file(str(onnx_path))
    logger.info("transformer fusions: %s", ", ".join(f"{n} {op}" for op, n in counts.items())
                or "none matched")
    return counts
