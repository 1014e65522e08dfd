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
from synthclf.analysis.files import METRICS_FILE, RESAMPLES_FILE
from synthclf.analysis.metrics import ClassMetrics, Interval
from synthclf.core.artifacts import fetch
from synthclf.core.config import Settings
from synthclf.core.errors import InvalidInput


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
    confidence: float = 0.95
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


def load_run(uri: str, settings: Settings) -> ScoredRun:
    """Read an evaluation artifact (metrics.json, resamples.json; sha256-verified).

    Raises:
        NotFound: no such artifact. InvalidInput: an evaluation without a condition (made
            before conditions were recorded: evaluate it again).
    """
    artifact = fetch(uri, settings)
    raw = json.loads((artifact.path / METRICS_FILE).read_text())
    if not raw.get("condition"):
        raise InvalidInput(f"evaluation {uri} records no condition (task, source, backbone, seed); "
                           "evaluate the model again with a condition")
    resamples = {}
    if (artifact.path / RESAMPLES_FILE).is_file():
        resamples = json.loads((artifact.path / RESAMPLES_FILE).read_text())
    return ScoredRun(
        condition=Condition.model_validate(raw["condition"]), macro_f1=raw["macro_f1"], accuracy=raw["accuracy"],
        support=raw["support"], evaluation_uri=uri, model_uri=raw.get("model_uri", ""),
        dataset_uri=artifact.manifest.parameters.get("dataset_uri", ""), macro_f1_ci=raw.get("macro_f1_ci"),
        accuracy_ci=raw.get("accuracy_ci"), confidence=raw.get("confidence", 0.95),
        bootstrap_seed=raw.get("seed", 0), macro_f1_resamples=resamples.get("macro_f1"),
        accuracy_resamples=resamples.get("accuracy"), labels=raw.get("labels", []),
        per_class=raw.get("per_class", {}), confusion=raw.get("confusion", []), wall_time_s=raw.get("wall_time_s"))
