"""Turning one LLM output into one candidate text: line parsing and structured (JSON) output.

Completion-style requests (base models) are parsed as one list item: whitespace collapsed,
list markers and surrounding quotes stripped (:func:`parse_output`). Chat-style requests ask,
where the server supports it, for structured output (OpenAI ``response_format`` with a JSON
schema): ``{"text": "...", "label": "..."}``; the label the model names is checked against the
label requested, which is the only way a ``wrong_label`` reject can be detected
(:func:`parse_structured`). Every failure is a reason string, never an exception (the
distilabel way: unparsable outputs are kept and counted).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

_LIST_MARKER = re.compile(r"^\s*(?:[-*•–—]+|\(?\d{1,3}[.):]|[a-zA-Z][.)])\s+")
_QUOTES = "\"'“”‘’«»`"
_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$", re.IGNORECASE)

SCHEMA_NAME = "synthetic_text"
"""Name of the JSON schema sent in ``response_format``."""


def parse_output(text: str, *, min_words: int = 2, max_words: int) -> tuple[str | None, str | None]:
    """Clean one LLM output and check its length.

    Cleaning: whitespace collapsed to single spaces, then leading list markers (``-``, ``*``,
    ``•``, ``1.``, ``2)``, ``a.``) and surrounding quotes removed, repeatedly.

    Args:
        text: raw model output.
        min_words: fewest words accepted (whitespace-separated tokens).
        max_words: most words accepted.

    Returns:
        ``(clean_text, None)`` when kept, ``(None, reason)`` otherwise with reason ``empty``,
        ``too_short`` or ``too_long``.
    """
    clean = " ".join(text.split())
    previous = None
    while clean != previous:
        previous = clean
        clean = _LIST_MARKER.sub("", clean, count=1).strip()
        if len(clean) >= 2 and clean[0] in _QUOTES and clean[-1] in _QUOTES:
            clean = clean[1:-1].strip()
    if not clean:
        return None, "empty"
    words = len(clean.split())
    if words < min_words:
        return None, "too_short"
    if words > max_words:
        return None, "too_long"
    return clean, None


def normalise(text: str) -> str:
    """Key for duplicate detection: case-folded words without punctuation, single-spaced."""
    return " ".join(re.sub(r"[^\w\s]", " ", text.casefold()).split())


def response_format(labels: Sequence[str]) -> dict[str, Any]:
    """The OpenAI ``response_format`` asking for ``{"text": str, "label": one of labels}``.

    Strict mode (every property required, no others) as OpenAI's structured outputs demand;
    llama.cpp and vLLM turn the same schema into a grammar.

    Args:
        labels: the task's label names, in catalog order.

    Returns:
        ``{"type": "json_schema", "json_schema": {"name", "strict", "schema"}}``.
    """
    schema = {
        "type": "object",
        "properties": {
            "text": {"type": "string", "description": "the generated text"},
            "label": {"type": "string", "enum": list(labels), "description": "the label the text has"},
        },
        "required": ["text", "label"],
        "additionalProperties": False,
    }
    return {"type": "json_schema", "json_schema": {"name": SCHEMA_NAME, "strict": True, "schema": schema}}


def json_instruction(labels: Sequence[str]) -> str:
    """The sentence appended to a chat request when structured output is on."""
    return (
        'Answer with a JSON object {"text": <the text>, "label": <the label of your text, one of '
        + ", ".join(labels)
        + ">} and nothing else."
    )


def as_json_turn(text: str, label: str) -> str:
    """A previous output replayed as an assistant turn in the structured layout."""
    return json.dumps({"text": text, "label": label}, ensure_ascii=False)


def parse_structured(raw: str, label: str) -> tuple[str | None, str | None]:
    """Read the text out of a structured (JSON) output and check its label.

    Code fences (```json … ```) around the object are tolerated; a missing ``label`` is
    tolerated too (servers that accept ``response_format`` but only enforce JSON).

    Args:
        raw: the model output sent under :func:`response_format`.
        label: the label requested.

    Returns:
        ``(text, None)``, ``(None, "empty")`` for a blank output, ``(None, "parse_error")`` when it
        is not a JSON object with a string ``text``, or ``(None, "wrong_label")`` when the
        object names another label.
    """
    body = _FENCE.sub("", raw.strip())
    if not body:
        return None, "empty"
    try:
        value = json.loads(body)
    except json.JSONDecodeError:
        return None, "parse_error"
    if not isinstance(value, dict) or not isinstance(value.get("text"), str):
        return None, "parse_error"
    named = value.get("label")
    if named is not None and str(named).strip().casefold() != label.casefold():
        return None, "wrong_label"
    return value["text"], None
