"""Diversity of a dataset: remote-clique score and chamfer distance (Li et al. 2023, Figure 1).

Following Li et al. (Sec. 5, after Cox et al. 2021), on sentence embeddings of the texts:

* **remote-clique score**: the mean distance of a text to the other texts, averaged over
  texts — i.e. the mean over all pairs of distinct texts;
* **chamfer distance**: the distance of a text to its nearest other text, averaged over texts.

Both use the cosine distance ``1 - cos(u, v)`` (in [0, 2]; 0 for identical directions), via
:func:`scipy.spatial.distance.pdist`. Higher is more diverse. Both are O(n²), so datasets are
subsampled (label-stratified, seeded) to at most ``max_texts`` texts and the n used is recorded.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field, field_validator
from scipy.spatial.distance import pdist, squareform
from sklearn.decomposition import PCA

from synthclf.core.errors import InvalidInput
from synthclf.core.sampling import subsample

#: Default cap on the texts entering the O(n²) distances.
MAX_TEXTS = 1000


class DiversityScores(BaseModel):
    """Diversity of one set of texts (NaN scores when fewer than 2 texts)."""

    remote_clique: float = Field(description="Mean cosine distance over pairs of distinct texts.")
    chamfer: float = Field(description="Mean cosine distance of a text to its nearest other text.")
    n: int = Field(description="Texts the scores were computed on.")

    @field_validator("remote_clique", "chamfer", mode="before")
    @classmethod
    def _null_is_nan(cls, value):
        """JSON has no NaN: ``model_dump_json`` writes it as null, so null reads back as NaN."""
        return math.nan if value is None else value


class DiversityResult(BaseModel):
    """Diversity of a dataset, overall and per label, with how it was measured."""

    dataset_uri: str = ""
    task: str = ""
    source: str = ""
    overall: DiversityScores
    per_label: dict[str, DiversityScores]
    n_total: int = Field(description="Rows in the dataset.")
    max_texts: int = Field(description="Cap on the sample size.")
    seed: int = Field(description="Seed of the sample.")
    distance: str = "cosine (1 - cos) of L2-normalised all-MiniLM-L6-v2 embeddings"


def _distances(embeddings: np.ndarray) -> np.ndarray:
    """Condensed pairwise cosine distances of embeddings [n, d] (n(n-1)/2 values)."""
    embeddings = np.asarray(embeddings, dtype=np.float64)
    if embeddings.ndim != 2:
        raise InvalidInput(f"embeddings must be a 2-D array [n, d], got shape {embeddings.shape}")
    return np.clip(pdist(embeddings, metric="cosine"), 0.0, 2.0)


def remote_clique(embeddings: np.ndarray) -> float:
    """Remote-clique score: mean cosine distance over all pairs of distinct texts.

    Equal to the mean over texts of their mean distance to the other texts.

    Args:
        embeddings: float array [n, d] (any norm; cosine ignores it).

    Returns:
        The score in [0, 2]; NaN when n < 2.

    Raises:
        InvalidInput: ``embeddings`` is not 2-D.
    """
    distances = _distances(embeddings)
    return float(distances.mean()) if len(distances) else math.nan


def chamfer_distance(embeddings: np.ndarray) -> float:
    """Chamfer distance: mean over texts of the cosine distance to the nearest other text.

    Args:
        embeddings: float array [n, d].

    Returns:
        The distance in [0, 2]; NaN when n < 2.

    Raises:
        InvalidInput: ``embeddings`` is not 2-D.
    """
    distances = _distances(embeddings)
    if not len(distances):
        return math.nan
    square = squareform(distances)
    np.fill_diagonal(square, np.inf)
    return float(square.min(axis=1).mean())


def diversity_scores(embeddings: np.ndarray) -> DiversityScores:
    """Both scores of one set of embeddings [n, d]."""
    return DiversityScores(remote_clique=remote_clique(embeddings), chamfer=chamfer_distance(embeddings),
                           n=len(embeddings))


def sample_rows(frame: pd.DataFrame, max_texts: int = MAX_TEXTS, seed: int = 0) -> np.ndarray:
    """Row numbers of a label-stratified, seeded sample of at most ``max_texts`` rows.

    Args:
        frame: a dataset (index 0..n-1, ``label`` column).
        max_texts: cap (>= 1).
        seed: random seed.

    Returns:
        Sorted int64 row numbers.

    Raises:
        InvalidInput: ``max_texts`` < 1.
    """
    frame = frame.reset_index(drop=True)
    return subsample(frame, max_texts, seed=seed).index.to_numpy(dtype=np.int64)


def dataset_diversity(embeddings: np.ndarray, labels: Sequence[str], *, n_total: int,
                      max_texts: int = MAX_TEXTS, seed: int = 0) -> DiversityResult:
    """Diversity of a sample, overall and per label.

    Args:
        embeddings: float [m, d] embeddings of the sampled texts.
        labels: their labels (m).
        n_total: rows in the whole dataset (recorded).
        max_texts: the cap the sample was drawn with (recorded).
        seed: the sample's seed (recorded).

    Raises:
        InvalidInput: ``labels`` and ``embeddings`` differ in length.
    """
    labels = np.asarray(list(labels))  # type: ignore[assignment]  # an array from here on (boolean masks)
    if len(labels) != len(embeddings):
        raise InvalidInput(f"{len(embeddings)} embeddings but {len(labels)} labels")
    return DiversityResult(
        overall=diversity_scores(embeddings),
        per_label={str(label): diversity_scores(embeddings[labels == label]) for label in sorted(set(labels))},
        n_total=n_total, max_texts=max_texts, seed=seed,
    )


def pca_projection(groups: dict[str, np.ndarray], seed: int = 0) -> dict[str, np.ndarray]:
    """Project several sets of embeddings onto the first two principal components of their union.

    The projection behind Figure 1's real-vs-synthetic scatter (the paper shows t-SNE; PCA is
    linear, deterministic and fast, and keeps global distances comparable between sources).

    Args:
        groups: per source, float embeddings [n_source, d].
        seed: PCA solver seed.

    Returns:
        Per source, float [n_source, 2] coordinates (same keys; empty groups give [0, 2]).
    """
    non_empty = {k: v for k, v in groups.items() if len(v)}
    if sum(len(v) for v in non_empty.values()) < 2:
        return {k: np.zeros((len(v), 2)) for k, v in groups.items()}
    stacked = np.concatenate(list(non_empty.values())).astype(np.float64)
    coordinates = PCA(n_components=2, random_state=seed).fit_transform(stacked)
    out, start = {}, 0
    for key, value in groups.items():
        out[key] = coordinates[start:start + len(value)] if len(value) else np.zeros((0, 2))
        start += len(value)
    return out
