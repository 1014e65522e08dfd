"""Named experiment configurations and how a run's parameters resolve to one.

``paper-offline`` is the paper's Table 1 (Li et al. 2023) restricted to the tasks whose real
data ship in PyPI packages on this machine — SMS spam, BBC news (stand-in for AG News),
Rotten Tomatoes (for IMDB), VADER movie snippets (per-annotator ratings: instance-level
subjectivity), TREC questions, iSarcasmEval tweets (for sarcasm) and Seinfeld laugh lines (for
humor speech) — seven tasks from low to high subjectivity, each with real, zero-shot and
few-shot training data and the offline default backbone (all-MiniLM-L6-v2).

Sizes: at least 50 synthetic rows per label and mode (the paper-offline study's requirement).
Measured with the default local LLM (Qwen2.5-Coder-1.5B-Instruct Q4_K_M, llama.cpp
``-DGGML_NATIVE=OFF``, 2 threads, chat prompts with JSON output; the 2026-12-02 run, machine
otherwise quiet): a zero-shot request takes 2.5 s and a few-shot request 5.9 s (85-290 prompt
tokens), and about half of the few-shot outputs are rejected — copies of an example, a label
the model itself gives differently (``wrong_label``: sarcasm, TREC's HUM/DESC), texts over the
word limit — so few-shot yields ≈ 5 rows/min and zero-shot ≈ 32 rows/min. 21 labels × 50 rows
× 2 modes is then ≈ 4.5 h of generation on 2 vCPUs, beyond a 2.5 h budget; a run at
``--rows-per-label 8 --test-rows 300`` took 72 min up to its report, which needs
``SYNTHCLF_MAX_REQUEST_URIS`` above its 122 URIs (default 64). Point
``SYNTHCLF_LLM_BASE_URL`` at a faster server for the full sizes.
Its learning curve (n ∈ {8, 16, 32} real rows per label × 3 seeds, each synthetic set mixed
into 8 real rows per label × 3 seeds) adds 15 small models per task; at ≈ 30 s each (fine-tune
on 16–300 rows, ONNX export with parity check, load, evaluation) that is ≈ 8 min per task —
an estimate, not a measurement (docs/analysis.md).
"""

from __future__ import annotations

from typing import Any

from orchestration.config import (
    BASE_SOURCES,
    ExperimentConfig,
    GenerationOptions,
    LearningCurveOptions,
    TrainingOptions,
)
from synthclf.core.errors import InvalidInput, validated

#: The learning curve of ``synthclf run`` / ``make run`` (README): n ∈ {8, 16, 32} real rows per
#: label × 3 seeds, and each synthetic set mixed into 8 real rows per label × 3 seeds — 15 small
#: fine-tunes on 16–76 rows beside the run's three Table-1 models.
RUN_CURVE = LearningCurveOptions(sizes=[8, 16, 32], seeds=[0, 1, 2], stretch_sizes=[8])

#: Tasks with real labelled data in packages on an offline machine (catalog ``offline_source``).
OFFLINE_TASKS = ["sms_spam", "bbc_news", "rotten_tomatoes", "vader_movie", "trec", "sarcasm_tweets", "seinfeld_humor"]

PRESETS: dict[str, ExperimentConfig] = {
    "paper-offline": ExperimentConfig(
        title="Real vs synthetic training data on the offline tasks (Li et al. 2023, Table 1)",
        tasks=OFFLINE_TASKS, sources=list(BASE_SOURCES), test_rows=1000, max_texts=500,
        generation=GenerationOptions(rows_per_label=50),
        training=TrainingOptions(epochs=10, max_length=128),
        curve=LearningCurveOptions(sizes=[8, 16, 32], seeds=[0, 1, 2], stretch_sizes=[8]),
    ),
    "smoke": ExperimentConfig(
        title="synthclf smoke test (tiny sizes)",
        tasks=["sms_spam"], sources=list(BASE_SOURCES), real_train_rows=24, test_rows=60, max_texts=100,
        generation=GenerationOptions(rows_per_label=4, max_words=20),
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
