"""Training mixtures: rows drawn from several datasets by count or share, stratified by label.

The paper's settings are mixtures such as "100 real + 1 000 few-shot" or "all zero-shot":
each input dataset is drawn from on its own (a stratified sample of ``count`` rows, or of
``fraction`` of its rows) and the draws are concatenated. What was drawn from each input is
recorded, because the manifest must say what the model was trained on.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from synthclf.core.errors import InvalidInput
from synthclf.core.sampling import subsample
from synthclf.core.schema import validate_dataset


class TrainingData(BaseModel):
    """One training dataset and how many of its rows to draw (stratified by label).

    ``count``, ``fraction`` and ``count_per_label`` are mutually exclusive; with none, all
    rows are used.
    """

    model_config = ConfigDict(extra="forbid")

    uri: str = Field(description="Dataset artifact URI.")
    count: int = Field(0, ge=0, description="Rows to draw; 0: not set.")
    fraction: float = Field(
        0.0, ge=0, le=1, description="Share of the dataset's rows to draw, in (0, 1]; 0: not set."
    )
    count_per_label: int = Field(
        0, ge=0, description="Rows to draw of every label (balanced, a learning-curve point); 0: not set."
    )

    @model_validator(mode="after")
    def _one_amount(self) -> TrainingData:
        given = [f"{name} ({value})" for name, value in
                 (("count", self.count), ("fraction", self.fraction), ("count_per_label", self.count_per_label))
                 if value]
        if len(given) > 1:
            raise ValueError(f"{self.uri}: give one of count, fraction, count_per_label, not {' and '.join(given)}")
        return self

    def key(self) -> dict:
        """The fields that identify the draw (``count_per_label`` only when set, so the ids of
        jobs that never used it are unchanged)."""
        return self.model_dump(exclude=set() if self.count_per_label else {"count_per_label"})

    def draw(self, frame: pd.DataFrame, seed: int) -> pd.DataFrame:
        """The rows to use from ``frame`` (stratified by count or fraction, or balanced per label).

        Raises:
            InvalidInput: a count above the dataset's rows, or a label with fewer rows than
                ``count_per_label``.
        """
        if self.count_per_label:
            return balanced_sample(frame, self.count_per_label, seed, what=self.uri)
        wanted = self.rows_wanted(len(frame))
        return subsample(frame, wanted, seed=seed) if wanted < len(frame) else frame

    def rows_wanted(self, available: int) -> int:
        """Rows to draw from a dataset of ``available`` rows.

        Raises:
            InvalidInput: ``count`` exceeds ``available``.
        """
        if self.count:
            if self.count > available:
                raise InvalidInput(
                    f"asked for {self.count} rows of {self.uri}, which has only {available}"
                )
            return self.count
        if self.fraction:
            return max(1, round(self.fraction * available))
        return available


def balanced_sample(frame: pd.DataFrame, per_label: int, seed: int, what: str = "dataset") -> pd.DataFrame:
    """``per_label`` rows of every label present, drawn without replacement (seeded).

    Args:
        frame: rows with a ``label`` column.
        per_label: rows wanted of each label (>= 1).
        seed: seed of the draw (same seed and rows -> same rows; a larger ``per_label``
            draws a superset's worth of fresh rows, not an extension).
        what: how to name the dataset in errors.

    Returns:
        The chosen rows in their original order.

    Raises:
        InvalidInput: a label with fewer than ``per_label`` rows.
    """
    counts = frame["label"].value_counts()
    short = {str(label): int(n) for label, n in counts.items() if n < per_label}
    if short:
        raise InvalidInput(f"{what}: asked for {per_label} rows per label, but "
                           + ", ".join(f"'{label}' has {n}" for label, n in sorted(short.items())))
    rng = np.random.default_rng(seed)
    labels = frame["label"].to_numpy()
    chosen = [rng.choice(np.flatnonzero(labels == label), size=per_label, replace=False)
              for label in sorted(counts.index)]
    return frame.iloc[np.sort(np.concatenate(chosen))]


def draw_mixture(
    inputs: list[tuple[TrainingData, pd.DataFrame, str]], label_names: list[str], seed: int
) -> tuple[pd.DataFrame, list[dict]]:
    """Check each input, draw it as asked and concatenate the draws.

    Each input is checked whole with :func:`synthclf.core.schema.validate_dataset` (texts,
    labels, and ``split`` and ``agreement`` where present) before the draw keeps only its
    ``text`` and ``label``; one input may hold a single label, the mixture's labels are
    checked by the caller.

    Args:
        inputs: (what to draw, the dataset's rows with ``text`` and ``label`` columns, its
            source as recorded by its producer, e.g. ``real``, ``zero_shot``, ``few_shot``).
        label_names: the task's labels; every input may use only these.
        seed: seed of the stratified draws (same seed and data → same rows).

    Returns:
        (the mixture with columns ``text``, ``label``, ``source``, ``input`` (index into
        ``inputs``); one stats dict per input: ``uri``, ``source``, ``rows_available``,
        ``count``, ``fraction``, ``rows_drawn``, ``label_counts``).

    Raises:
        InvalidInput: no inputs; an input that fails the validator (empty, empty or
            non-string texts, labels outside the task, bad split or agreement values); or a
            count above its rows.
    """
    if not inputs:
        raise InvalidInput("no training data given: pass at least one dataset URI")
    parts, stats = [], []
    for position, (item, frame, source) in enumerate(inputs):
        validate_dataset(frame, label_names, f"training dataset {item.uri}", require_two_labels=False)
        drawn = item.draw(frame, seed)[["text", "label"]].assign(source=source, input=position)
        parts.append(drawn)
        stats.append({
            "uri": item.uri, "source": source, "rows_available": len(frame),
            "count": item.count or None, "fraction": item.fraction or None,
            "count_per_label": item.count_per_label or None,
            "rows_drawn": len(drawn),
            "label_counts": {str(k): int(v) for k, v in drawn["label"].value_counts().sort_index().items()},
        })
    return pd.concat(parts, ignore_index=True), stats
