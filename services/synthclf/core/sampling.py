"""Seeded, label-stratified samples and train/test splits of datasets in the dataset schema."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from synthclf.core.errors import InvalidInput


def stratified_split(df: pd.DataFrame, test_fraction: float = 0.2, seed: int = 0) -> pd.DataFrame:
    """Assign ``split`` = train/test, stratified by label and deterministic in ``seed``.

    Args:
        df: a dataset with a ``label`` column (n rows); every label needs at least 2 rows.
        test_fraction: share of rows put in the test split, in (0, 1).
        seed: random seed (same seed and rows -> same split).

    Returns:
        A copy of ``df`` (same rows, order and index) with ``split`` set.

    Raises:
        InvalidInput: ``test_fraction`` out of range, or the labels cannot be stratified.
    """
    if not 0 < test_fraction < 1:
        raise InvalidInput(f"test_fraction must be in (0, 1), got {test_fraction}")
    try:
        _, test_positions = train_test_split(
            np.arange(len(df)), test_size=test_fraction, random_state=seed,
            stratify=df["label"].to_numpy(),
        )
    except ValueError as exc:
        raise InvalidInput(
            f"cannot split {len(df)} rows stratified by label with test_fraction="
            f"{test_fraction}: {exc}"
        ) from exc
    out = df.copy()
    out["split"] = np.where(np.isin(np.arange(len(df)), test_positions), "test", "train")
    return out


def _allocate(sizes: np.ndarray, n: int) -> np.ndarray:
    """Split ``n`` draws over groups of ``sizes`` in proportion (largest remainder).

    Every group gets at least one draw when ``n >= len(sizes)``; requires ``n < sizes.sum()``.
    """
    base = np.ones_like(sizes) if n >= len(sizes) else np.zeros_like(sizes)
    capacity = sizes - base
    quota = (n - base.sum()) * capacity / capacity.sum()
    counts = np.floor(quota).astype(int)
    largest_remainders = np.argsort(counts - quota, kind="stable")
    counts[largest_remainders[: n - base.sum() - counts.sum()]] += 1
    return base + counts


def subsample(df: pd.DataFrame, n: int, seed: int = 0, stratify: bool = True) -> pd.DataFrame:
    """Take ``n`` rows, keeping label proportions when ``stratify`` is set.

    Args:
        df: a dataset with a ``label`` column.
        n: number of rows wanted (>= 1); ``n >= len(df)`` returns all rows.
        seed: random seed (same seed and rows -> same sample).
        stratify: allocate ``n`` over labels in proportion to their counts (largest
            remainder), with at least one row per label when ``n`` >= the number of labels.

    Returns:
        The chosen rows, in their original order and with their original index.

    Raises:
        InvalidInput: ``n`` < 1.
    """
    if n < 1:
        raise InvalidInput(f"subsample size must be at least 1, got {n}")
    if n >= len(df):
        return df.copy()
    rng = np.random.default_rng(seed)
    if not stratify:
        return df.iloc[np.sort(rng.choice(len(df), size=n, replace=False))].copy()
    labels = df["label"].to_numpy()
    groups = [np.flatnonzero(labels == label) for label in pd.unique(labels)]
    counts = _allocate(np.array([len(g) for g in groups]), n)
    chosen = [rng.choice(g, size=c, replace=False) for g, c in zip(groups, counts, strict=True)]
    return df.iloc[np.sort(np.concatenate(chosen))].copy()
