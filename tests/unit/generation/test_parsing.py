"""Output parsing: list items, structured JSON, the response_format schema."""

from __future__ import annotations

import json

import pytest

from synthclf.generation.parsing import json_instruction, normalise, parse_output, parse_structured, response_format


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


def test_response_format_is_a_strict_json_schema_over_the_labels() -> None:
    fmt = response_format(["ham", "spam"])
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["strict"] is True
    schema = fmt["json_schema"]["schema"]
    assert schema["required"] == ["text", "label"] and schema["additionalProperties"] is False
    assert schema["properties"]["label"]["enum"] == ["ham", "spam"]
    json.dumps(fmt)
    assert "ham, spam" in json_instruction(["ham", "spam"])


def test_normalise_ignores_case_punctuation_and_spacing() -> None:
    assert normalise("Call me, LATER!!  please") == normalise("call me later please") == "call me later please"
