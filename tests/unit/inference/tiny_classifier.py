"""A tiny BERT classifier exported to ONNX in seconds, for the inference unit tests.

Built by tests/classifiers.py (two layers, hidden size 32, all-MiniLM-L6-v2's tokenizer,
seeded random weights): the tests need real ONNX Runtime runs and distinct outputs per text,
not accuracy.
"""

from __future__ import annotations

from pathlib import Path

from classifiers import export, tiny_bert

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
    """Export a seeded tiny 2-label BERT classifier (:func:`classifiers.tiny_bert`); returns the onnx folder."""
    source = tiny_bert(root / f"torch-{seed}", LABELS, seed=seed, scale=20)  # spread the probabilities
    return export(source, root / f"onnx-{seed}", TEXTS, MAX_LENGTH)
