"""Similarity of synthetic texts to real texts (Li et al. 2023, Figure B.2).

For each synthetic text, the cosine similarities of its sentence embedding to every real
text's are computed (:func:`sklearn.metrics.pairwise.cosine_similarity`); the k largest
(k = 5 in the paper) are averaged; the dataset's score is the mean of those values over the
synthetic texts. A value near the score of held-out *real* texts means the synthetic texts sit
where real ones do; a lower value means they occupy their own region of embedding space.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel, Field
from sklearn.metrics.pairwise import cosine_similarity

from synthclf.core.errors import InvalidInput

#: The paper's k.
TOP_K = 5
#: Synthetic rows per similarity block (bounds memory at block x n_real floats).
_BLOCK = 1024


class SimilarityResult(BaseModel):
    """Top-k cosine similarity of one dataset to a real reference dataset."""

    synthetic_uri: str = ""
    real_uri: str = ""
    task: str = ""
    source: str = Field("", description="Data source of the compared (synthetic) dataset.")
    mean_top_k: float = Field(description="Mean over synthetic texts of their mean top-k similarity.")
    std_top_k: float = Field(description="Standard deviation of the per-text values.")
    per_label: dict[str, float] = Field(
        default_factory=dict,
        description="Per label: mean top-k similarity of that label's synthetic texts to the real "
        "texts of the same label (NaN when either side has none).",
    )
    k: int = Field(description="k used: min(requested k, real texts).")
    n_synthetic: int
    n_real: int
    max_texts: int = 0
    seed: int = 0


def top_k_similarities(synthetic: np.ndarray, real: np.ndarray, k: int = TOP_K) -> np.ndarray:
    """Per synthetic text, the mean of its ``k`` largest cosine similarities to the real texts.

    Args:
        synthetic: float embeddings [n_s, d].
        real: float embeddings [n_r, d].
        k: neighbours averaged (>= 1); capped at n_r.

    Returns:
        float64 [n_s], each in [-1, 1].

    Raises:
        InvalidInput: ``k`` < 1, no real texts, or different widths d.
    """
    if k < 1:
        raise InvalidInput(f"k must be >= 1, got {k}")
    if len(real) == 0:
        raise InvalidInput("no real texts to compare with")
    if synthetic.shape[1:] != real.shape[1:]:
        raise InvalidInput(f"embedding widths differ: {synthetic.shape} vs {real.shape}")
    k = min(k, len(real))
    out = np.empty(len(synthetic), dtype=np.float64)
    for start in range(0, len(synthetic), _BLOCK):
        sims = cosine_similarity(synthetic[start:start + _BLOCK], real)
        top = np.partition(sims, sims.shape[1] - k, axis=1)[:, -k:]
        out[start:start + _BLOCK] = top.mean(axis=1)
    return out


def dataset_similarity(synthetic: np.ndarray, synthetic_labels: Sequence[str], real: np.ndarray,
                       real_labels: Sequence[str], k: int = TOP_K) -> SimilarityResult:
    """Mean top-k cosine similarity of a synthetic sample to a real sample, overall and per label.

    Args:
        synthetic: float embeddings [n_s, d] of the synthetic texts.
        synthetic_labels: their labels (n_s).
        real: float embeddings [n_r, d] of the real texts.
        real_labels: their labels (n_r).
        k: neighbours averaged.

    Raises:
        InvalidInput: see :func:`top_k_similarities`; no synthetic texts; label/embedding
            length mismatch.
    """
    if len(synthetic) == 0:
        raise InvalidInput("no synthetic texts to compare")
    # The labels as arrays from here on (boolean masks below).
    synthetic_labels, real_labels = np.asarray(list(synthetic_labels)), np.asarray(list(real_labels))  # type: ignore[assignment]
    if len(synthetic_labels) != len(synthetic) or len(real_labels) != len(real):
        raise InvalidInput("each embedding needs exactly one label")
    values = top_k_similarities(synthetic, real, k)
    per_label = {}
    for label in sorted(set(synthetic_labels) | set(real_labels)):
        s, r = synthetic[synthetic_labels == label], real[real_labels == label]
        per_label[str(label)] = float(top_k_similarities(s, r, k).mean()) if len(s) and len(r) else float("nan")
    return SimilarityResult(mean_top_k=float(values.mean()), std_top_k=float(values.std()),
                            per_label=per_label, k=min(k, len(real)), n_synthetic=len(synthetic),
                            n_real=len(real))
