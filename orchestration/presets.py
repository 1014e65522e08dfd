"""Named experiment configurations and how a run's parameters resolve to one.

``paper-offline`` is the paper's Table 1 (Li et al. 2023) restricted to the tasks whose real
data ship in PyPI packages on this machine — SMS spam, BBC news (stand-in for AG News),
Rotten Tomatoes (for IMDB), VADER movie snippets (per-annotator ratings: instance-level
subjectivity) and TREC questions — each with real, zero-shot and few-shot training data and
the offline default backbone (all-MiniLM-L6-v2).

Its sizes are chosen so the whole study takes about 35 minutes on a quiet 2-vCPU machine with
the local Gemma-3-270M: 17 labels × 40 rows per label × 2 modes = 1 360 accepted synthetic
texts at 0.4–0.8 s (zero-shot) and 1.5–3.7 s (few-shot: longer prompts) per text, measured
(docs/orchestration.md) ≈ 25 min; fifteen MiniLM fine-tunes on 80–240 texts (up to 10
epochs with early stopping on validation Macro-F1 — 80 texts are 5 steps per epoch, and with
3 epochs the real SMS-spam and Rotten-Tomatoes models still predicted the majority class —
128 tokens: BBC texts are title + lead, ≈ 27 words; synthetic texts are capped by the
catalog's max_words, 25–60 words, i.e. 50–120 completion tokens) ≈ 5 min; evaluation on at
most 1 000 real test texts per task and the analyses on at most 500 texts per dataset ≈ 5 min.
Its learning curve (n ∈ {8, 16, 32} real rows per label × 3 seeds, each synthetic set mixed
into 8 real rows per label × 3 seeds) adds 15 small models per task, 75 in all; at ≈ 30 s each
(fine-tune on 16–300 rows, ONNX export with parity check, load, evaluation) that is ≈ 40 min
more — an estimate, not a measurement (docs/analysis.md).
"""

from __future__ import annotations

from typing import Any

from orchestration.config import (
    BASE_SOURCES, ExperimentConfig, GenerationOptions, LearningCurveOptions, TrainingOptions,
)
from synthclf.core.errors import InvalidInput, validated

#: The learning curve of ``synthclf run`` / ``make run`` (README): n ∈ {8, 16, 32, 64} real rows per
#: label × 3 seeds, and each synthetic set mixed into 8 real rows per label × 3 seeds — 18 small
#: fine-tunes on 16–228 rows beside the run's three Table-1 models.
RUN_CURVE = LearningCurveOptions(sizes=[8, 16, 32, 64], seeds=[0, 1, 2], stretch_sizes=[8])

#: Tasks with real labelled data in packages on an offline machine (catalog ``offline_source``).
OFFLINE_TASKS = ["sms_spam", "bbc_news", "rotten_tomatoes", "vader_movie", "trec"]

PRESETS: dict[str, ExperimentConfig] = {
    "paper-offline": ExperimentConfig(
        title="Real vs synthetic training data on the offline tasks (Li et al. 2023, Table 1)",
        tasks=OFFLINE_TASKS, sources=list(BASE_SOURCES), test_rows=1000, max_texts=500,
        generation=GenerationOptions(rows_per_label=40),
        training=TrainingOptions(epochs=10, max_length=128),
        curve=LearningCurveOptions(sizes=[8, 16, 32], seeds=[0, 1, 2], stretch_sizes=[8]),
    ),
    "smoke": ExperimentConfig(
        title="synthclf smoke test (tiny sizes)",
        tasks=["sms_spam"], sources=list(BASE_SOURCES), real_train_rows=24, test_rows=60, max_texts=100,
        generation=GenerationOptions(rows_per_label=4),
        training=TrainingOptions(epochs=1, batch_size=8, max_length=32),
        curve=LearningCurveOptions(sizes=[8, 16], seeds=[0, 1], stretch_sizes=[8]),
    ),
}


def _merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``overrides`` applied; nested dicts are merged key by key."""
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def resolve_config(config: ExperimentConfig | None = None, preset: str | None = None,
                   overrides: dict[str, Any] | None = None) -> ExperimentConfig:
    """The configuration of one experiment run.

    Args:
        config: a whole configuration; excludes ``preset``.
        preset: name in :data:`PRESETS`; None with no ``config``: ``paper-offline``.
        overrides: fields replacing those of the config or preset; nested options merge key
            by key (``{"generation": {"rows_per_label": 5}}`` keeps the other generation
            options).

    Returns:
        The validated configuration.

    Raises:
        InvalidInput: both ``config`` and ``preset``, an unknown preset, or overrides that do
            not validate (the message names the fields).
    """
    if config is not None and preset:
        raise InvalidInput("give either a config or a preset, not both")
    if config is None:
        name = preset or "paper-offline"
        if name not in PRESETS:
            raise InvalidInput(f"unknown preset '{name}'; presets: {', '.join(PRESETS)}")
        config = PRESETS[name]
    if not overrides:
        return config
    return validated(ExperimentConfig, "experiment config", _merge(config.model_dump(), overrides))
