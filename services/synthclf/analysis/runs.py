"""Scored runs: an evaluation artifact read back as its condition, metrics and resamples.

Every analysis that compares models (Table 1, the learning curve, the verdict, task-level
subjectivity) reads evaluations through :func:`load_run`, so they share one reading of the
numbers. The bootstrap resamples are paired: evaluations of the same test split with the same
bootstrap seed use the same resampled rows (:func:`synthclf.analysis.metrics.bootstrap_indices`),
so a difference of two models' resampled scores is a paired bootstrap of the difference.
"""

from __future__ import annotations

import json

import numpy as np
from pydantic import BaseModel, Field

from synthclf.analysis.condition import Condition
from synthclf.analysis.files import RESAMPLES_FILE
from synthclf.analysis.inputs import read_evaluation
from synthclf.analysis.metrics import CONFIDENCE, ClassMetrics, Interval
from synthclf.core.config import Settings
from synthclf.core.errors import InvalidInput, validated
from synthclf.core.limits import shown


class ScoredRun(BaseModel):
    """One evaluated model."""

    condition: Condition
    macro_f1: float
    accuracy: float
    support: int
    evaluation_uri: str = ""
    model_uri: str = Field("", description="The evaluated onnx-model artifact.")
    dataset_uri: str = Field("", description="The test split.")
    macro_f1_ci: Interval | None = None
    accuracy_ci: Interval | None = None
    confidence: float = CONFIDENCE
    bootstrap_seed: int = 0
    macro_f1_resamples: list[float] | None = Field(None, description="Macro-F1 of each bootstrap resample [B].")
    accuracy_resamples: list[float] | None = Field(None, description="Accuracy of each bootstrap resample [B].")
    labels: list[str] = Field(default_factory=list)
    per_class: dict[str, ClassMetrics] = Field(default_factory=dict)
    confusion: list[list[int]] = Field(default_factory=list)
    wall_time_s: float | None = None

    def resamples(self, metric: str = "macro_f1") -> np.ndarray | None:
        """The resampled scores [B] of ``macro_f1`` or ``accuracy``, or None."""
        values = self.macro_f1_resamples if metric == "macro_f1" else self.accuracy_resamples
        return None if values is None else np.asarray(values, dtype=np.float64)

    def score(self, metric: str = "macro_f1") -> float:
        """The point score of ``macro_f1`` or ``accuracy``."""
        return self.macro_f1 if metric == "macro_f1" else self.accuracy


#: metrics.json fields a scored run keeps.
_FIELDS = {"condition", "macro_f1", "accuracy", "support", "model_uri", "macro_f1_ci", "accuracy_ci", "confidence",
           "seed", "labels", "per_class", "confusion", "wall_time_s"}


def load_run(uri: str, settings: Settings) -> ScoredRun:
    """Read an evaluation artifact (metrics.json, resamples.json; sha256-verified).

    Raises:
        NotFound: no such artifact. InvalidInput: not an evaluation, malformed, or without a
            condition (made before conditions were recorded: evaluate it again).
    """
    artifact, raw = read_evaluation(uri, settings)
    name = f"evaluation {shown(uri, 200)}"
    if not raw.get("condition"):
        raise InvalidInput(f"{name} records no condition (task, source, backbone, seed); "
                           "evaluate the model again with a condition")
    resamples = {}
    if (path := artifact.file(RESAMPLES_FILE, required=False)) is not None:
        try:
            resamples = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, RecursionError) as exc:
            raise InvalidInput(f"{name}: {RESAMPLES_FILE} is not JSON") from exc
        if not isinstance(resamples, dict):
            raise InvalidInput(f"{name}: {RESAMPLES_FILE} is not an object of resampled scores")
    raw = {k: v for k, v in raw.items() if k in _FIELDS}
    return validated(ScoredRun, name, {
        **raw, "condition": raw["condition"], "evaluation_uri": uri,
        "dataset_uri": artifact.manifest.parameters.get("dataset_uri", ""), "bootstrap_seed": raw.get("seed", 0),
        "macro_f1_resamples": resamples.get("macro_f1"), "accuracy_resamples": resamples.get("accuracy")})

