"""Flow parameters: data-source mixtures and the experiment matrix."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from orchestration.config import Endpoints, ExperimentConfig, SourcePart, parse_source


def test_plain_sources_draw_every_row():
    assert parse_source("few_shot") == [SourcePart(source="few_shot")]


def test_mixture_with_count_and_fraction():
    assert parse_source("real:100+few_shot:0.5") == [SourcePart(source="real", count=100),
                                                     SourcePart(source="few_shot", fraction=0.5)]


@pytest.mark.parametrize("spec, problem", [
    ("gpt", "is not one of real, zero_shot, few_shot"),
    ("real:1.5", "fraction 1.5 is not in (0, 1]"),
    ("real:0", "count must be positive"),
    ("real+real:10", "names a source twice"),
    ("real:-3", "is not one of"),
])
def test_bad_sources_are_named(spec, problem):
    with pytest.raises(ValueError, match=problem.replace("(", r"\(").replace(")", r"\)")):
        parse_source(spec)


def test_config_validates_sources_and_lists_the_modes_to_generate():
    config = ExperimentConfig(sources=["real", "real:0.5+few_shot"])
    assert config.synthetic_modes() == ["few_shot"]
    assert ExperimentConfig(sources=["real"]).synthetic_modes() == []
    with pytest.raises(ValidationError, match="not one of"):
        ExperimentConfig(sources=["real", "human"])
    with pytest.raises(ValidationError, match="repeat"):
        ExperimentConfig(sources=["real", "real"])


def test_endpoints_from_settings_use_per_service_addresses(monkeypatch):
    from synthclf.core.config import get_settings

    monkeypatch.setenv("SYNTHCLF_ADDRESS", "svc:1")
    monkeypatch.setenv("SYNTHCLF_TRAINING_ADDRESS", "trainer:2")
    endpoints = Endpoints.from_settings(get_settings())
    assert endpoints.training == "trainer:2"
    assert {endpoints.generation, endpoints.inference, endpoints.analysis} == {"svc:1"}
    assert Endpoints.all_in_one("h:3").model_dump() == dict.fromkeys(("generation", "training", "inference",
                                                                     "analysis"), "h:3")
