"""Decoding GenerateRequest: zero values take the spec's defaults, optional fields their presence."""

from __future__ import annotations

import pytest

from synthclf.core.errors import InvalidInput
from synthclf.generation.servicer import spec_from_proto
from synthclf.generation.spec import CopyMetric, GenerationMode, GenerationSpec
from synthclf.v1 import generation_pb2 as pb


def test_zero_values_mean_defaults() -> None:
    spec = spec_from_proto(pb.GenerateRequest(task="sms_spam", mode=pb.GENERATION_MODE_ZERO_SHOT, rows_per_label=5))
    assert spec == GenerationSpec(task="sms_spam", mode=GenerationMode.ZERO_SHOT, rows_per_label=5)


def test_every_field_is_decoded() -> None:
    request = pb.GenerateRequest(
        task="sms_spam", mode=pb.GENERATION_MODE_FEW_SHOT, rows_per_label=5, concurrency=16, max_retries=0,
        max_tokens_total=5000, max_cost_usd=1.5, price_prompt_per_mtok=0.0, price_completion_per_mtok=2.0,
        copy_metric=pb.COPY_METRIC_COSINE, copy_threshold=0.8, near_duplicate_threshold=1.0, temperature=0.7,
        disable_structured_output=True, min_words=3, max_consecutive_failures=5, prompt_style=pb.PROMPT_STYLE_CHAT,
    )  # fmt: skip
    spec = spec_from_proto(request)
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
