"""Presets and how a run's parameters resolve to an experiment configuration."""

from __future__ import annotations

import pytest

from orchestration.config import ExperimentConfig
from orchestration.presets import OFFLINE_TASKS, PRESETS, resolve_config
from synthclf.core.catalog import get_task
from synthclf.core.corpora import data_available
from synthclf.core.errors import InvalidInput


def test_paper_offline_covers_every_task_with_offline_data():
    config = resolve_config()
    assert config == PRESETS["paper-offline"]
    assert config.tasks == OFFLINE_TASKS and config.sources == ["real", "zero_shot", "few_shot"]
    assert len(config.tasks) == 7 and {"sarcasm_tweets", "seinfeld_humor"} <= set(config.tasks)
    assert all(data_available(get_task(name)) for name in config.tasks)
    assert config.backbones == [""]  # the offline default encoder


def test_overrides_merge_nested_options_key_by_key():
    config = resolve_config(preset="paper-offline",
                            overrides={"tasks": ["trec"], "generation": {"rows_per_label": 3}})
    assert config.tasks == ["trec"]
    assert config.generation.rows_per_label == 3
    assert config.generation.temperature == PRESETS["paper-offline"].generation.temperature
    assert config.training == PRESETS["paper-offline"].training


def test_a_whole_config_is_used_as_given():
    config = ExperimentConfig(tasks=["sms_spam"], seeds=[1, 2])
    assert resolve_config(config) is config
    assert resolve_config(config, overrides={"seeds": [3]}).seeds == [3]


@pytest.mark.parametrize("kwargs, message", [
    ({"config": ExperimentConfig(), "preset": "smoke"}, "either a config or a preset"),
    ({"preset": "nope"}, "unknown preset 'nope'"),
    ({"overrides": {"generation": {"rows_per_label": 0}}}, "generation.rows_per_label"),
    ({"overrides": {"epochs": 3}}, "epochs: Extra inputs are not permitted"),
])
def test_bad_parameters_are_invalid_input(kwargs, message):
    with pytest.raises(InvalidInput, match=message):
        resolve_config(**kwargs)
