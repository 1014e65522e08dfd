"""Output parsing: list items, structured JSON, the response_format schema."""

from __future__ import annotations

import json

import pytest

from synthclf.generation.parsing import (
    json_instruction,
    normalise,
    parse_output,
    parse_structured,
    response_format,
    screen_reply,
)  # fmt: skip


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (" Call me when you get home ", ("Call me when you get home", None)),
        ('- "Call me when you get home"', ("Call me when you get home", None)),
        ("2) “Running late, sorry”\n", ("Running late, sorry", None)),
        ("* • 'ok see you'", ("ok see you", None)),
        ("Hi\nthere  you", ("Hi there you", None)),
        ("", (None, "empty")),
        ('  - ""  ', (None, "empty")),
        ("ok", (None, "too_short")),
        (" ".join(["word"] * 11), (None, "too_long")),
    ],
)
def test_parse_output(raw: str, expected: tuple) -> None:
    assert parse_output(raw, min_words=2, max_words=10) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('{"text": "see you at 6", "label": "ham"}', ("see you at 6", None)),
        ('```json\n{"text": "see you at 6", "label": "HAM"}\n```', ("see you at 6", None)),
        ('{"text": "see you at 6"}', ("see you at 6", None)),
        ('{"text": "WIN now", "label": "spam"}', (None, "wrong_label")),
        ('{"label": "ham"}', (None, "parse_error")),
        ('["see you"]', (None, "parse_error")),
        ("see you at 6", (None, "parse_error")),
        ('{"text": "see', (None, "parse_error")),
        ("   ", (None, "empty")),
    ],
)
def test_parse_structured(raw: str, expected: tuple) -> None:
    assert parse_structured(raw, "ham") == expected


def test_response_format_is_a_json_object_with_a_schema_over_the_labels() -> None:
    fmt = response_format(["ham", "spam"])
    assert fmt["type"] == "json_object" and "json_schema" not in fmt  # llama-cpp-python 0.3.36: HTTP 500
    schema = fmt["schema"]
    assert schema["required"] == ["text", "label"] and schema["additionalProperties"] is False
    assert schema["properties"]["label"]["enum"] == ["ham", "spam"]
    json.dumps(fmt)
    assert "ham, spam" in json_instruction(["ham", "spam"])


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("I'm sorry, but I can't help with that request.", "refusal"),
        ("Sorry, I cannot create spam messages as they are harmful.", "refusal"),
        ("As an AI language model, I do not write reviews.", "refusal"),
        ("I am unable to generate content like that.", "refusal"),
        ("Sure, here's a spam SMS: WIN a free cruise now!", "preamble"),
        ("Here is a positive movie review: a joy from start to end", "preamble"),
        ("Certainly! Here is one: call me later", "preamble"),
        ("Sure! I'd be happy to write one for you.", "preamble"),
        ("I'm sorry I'm late, the bus broke down", None),
        ("Sorry mate, running late again", None),
        ("Sure, see you at 6 then", None),
        ("Of course, I'll be there by noon", None),
        ("Here is the plan for tomorrow, call me", None),
        ("I can't make it tonight, maybe Friday?", None),
    ],
)
def test_screen_reply_tells_refusals_and_preambles_from_texts(text: str, reason: str | None) -> None:
    assert screen_reply(text) == reason


def test_normalise_ignores_case_punctuation_and_spacing() -> None:
    assert normalise("Call me, LATER!!  please") == normalise("call me later please") == "call me later please"
