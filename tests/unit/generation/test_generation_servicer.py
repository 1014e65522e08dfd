"""Decoding GenerateRequest: zero values take the spec's defaults, optional fields their presence."""

from __future__ import annotations

import pytest

from synthclf.core.errors import InvalidInput
from synthclf.generation.prompts import PromptStyle
from synthclf.generation.servicer import spec_from_proto
from synthclf.generation.spec import CopyMetric, GenerationMode, GenerationSpec
from synthclf.v1 import generation_pb2 as pb


def test_zero_values_mean_defaults() -> None:
    spec = spec_from_proto(pb.GenerateRequest(task="sms_spam", mode=pb.GENERATION_MODE_ZERO_SHOT, rows_per_label=5))
    assert spec == GenerationSpec(task="sms_spam", mode=GenerationMode.ZERO_SHOT, rows_per_label=5)


#: Every GenerateRequest field but examples_uri (handed to the core beside the spec, not part of
#: it): the value set, the spec attribute it decodes to, and the decoded value.
EVERY_FIELD = {
    "task": ("sms_spam", "task", "sms_spam"),
    "mode": (pb.GENERATION_MODE_FEW_SHOT, "mode", GenerationMode.FEW_SHOT),
    "rows_per_label": (5, "rows_per_label", 5),
    "examples_per_request": (4, "examples_per_request", 4),
    "prompt_style": (pb.PROMPT_STYLE_CHAT, "prompt_style", PromptStyle.CHAT),
    "model": ("qwen-test", "model", "qwen-test"),
    "temperature": (0.7, "temperature", 0.7),
    "max_words": (40, "max_words", 40),
    "diversity_every": (3, "diversity_every", 3),
    "seed": (11, "seed", 11),
    "max_requests_per_label": (9, "max_requests_per_label", 9),
    "concurrency": (16, "concurrency", 16),
    "max_retries": (0, "max_retries", 0),
    "max_tokens_total": (5000, "max_tokens_total", 5000),
    "max_cost_usd": (1.5, "max_cost_usd", 1.5),
    "price_prompt_per_mtok": (0.0, "price_prompt_per_mtok", 0.0),
    "price_completion_per_mtok": (2.0, "price_completion_per_mtok", 2.0),
    "copy_metric": (pb.COPY_METRIC_COSINE, "copy_metric", CopyMetric.COSINE),
    "copy_threshold": (0.8, "copy_threshold", 0.8),
    "near_duplicate_threshold": (1.0, "near_duplicate_threshold", 1.0),
    "disable_structured_output": (True, "structured_output", False),
    "min_words": (3, "min_words", 3),
    "max_consecutive_failures": (5, "max_consecutive_failures", 5),
}


def test_every_field_is_decoded() -> None:
    assert set(EVERY_FIELD) | {"examples_uri"} == {f.name for f in pb.GenerateRequest.DESCRIPTOR.fields}
    request = pb.GenerateRequest(**{name: value for name, (value, _, _) in EVERY_FIELD.items()})
    spec = spec_from_proto(request)
    for name, (_, attribute, expected) in EVERY_FIELD.items():
        wanted = pytest.approx(expected) if isinstance(expected, float) else expected
        assert getattr(spec, attribute) == wanted, name
    assert (spec.concurrency, spec.max_retries, spec.max_tokens_total, spec.max_cost_usd) == (16, 0, 5000, 1.5)
    assert (spec.price_prompt_per_mtok, spec.price_completion_per_mtok) == (0.0, 2.0)
    assert spec.copy_metric is CopyMetric.COSINE and spec.copy_threshold == 0.8 and spec.temperature == 0.7
    assert spec.near_duplicate_threshold == 1.0 and spec.structured_output is False
    assert (spec.min_words, spec.max_consecutive_failures) == (3, 5)
    assert spec_from_proto(pb.GenerateRequest(task="t", mode=1, rows_per_label=1)).max_retries == 4


def test_out_of_range_is_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="copy_threshold"):
        spec_from_proto(pb.GenerateRequest(task="t", mode=1, rows_per_label=1, copy_threshold=1.5))


def test_temperature_zero_is_greedy_decoding_and_unset_is_the_default() -> None:
    zero = spec_from_proto(pb.GenerateRequest(task="t", mode=1, rows_per_label=1, temperature=0.0))
    assert zero.temperature == 0.0
    assert spec_from_proto(pb.GenerateRequest(task="t", mode=1, rows_per_label=1)).temperature == 0.9
