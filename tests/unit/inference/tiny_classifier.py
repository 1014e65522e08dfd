"""A tiny BERT classifier exported to ONNX in seconds, for the inference unit tests.

Two layers, hidden size 32, all-MiniLM-L6-v2's tokenizer, seeded random weights: the tests
need real ONNX Runtime runs and distinct outputs per text, not accuracy.
"""

from __future__ import annotations

import json
from pathlib import Path

LABELS = ["ham", "spam"]
#: Truncation length the tiny model is exported with (read back from parity.json).
MAX_LENGTH = 48
TEXTS = [
    "Congratulations, you won a cruise! Text CRUISE to 80080 before Friday to claim it",
    "k",
    "on my way, ten minutes",
    "Your loan is pre-approved: reply LOAN for cash today, no credit checks",
    "mum says dinner is at seven, can you bring the salad and some bread?",
    "yo",
]


def export_tiny(root: Path, seed: int) -> Path:
    """Export a seeded tiny 2-label BERT classifier; returns the onnx folder."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from synthclf.core.models import minilm_path
    from synthclf.training.onnx_export import export_onnx

    torch.manual_seed(seed)
    tokenizer = AutoTokenizer.from_pretrained(minilm_path())
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=64, num_labels=len(LABELS),
                        max_position_embeddings=128)
    model = BertForSequenceClassification(config)
    with torch.no_grad():
        model.classifier.weight.mul_(20)  # spread the probabilities away from 0.5
    source = root / f"torch-{seed}"
    model.save_pretrained(source)
    tokenizer.save_pretrained(source)
    (source / "labels.json").write_text(json.dumps(LABELS))
    export_onnx(source, root / f"onnx-{seed}", TEXTS, max_length=MAX_LENGTH)
    return root / f"onnx-{seed}"
