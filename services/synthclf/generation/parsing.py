"""Turning one LLM output into one candidate text: line parsing and structured (JSON) output.

Completion-style requests (base models) are parsed as one list item: whitespace collapsed,
list markers and surrounding quotes stripped (:func:`parse_output`). Chat-style requests ask,
where the server supports it, for structured output (``response_format`` of type
``json_object`` with a JSON schema): ``{"text": "...", "label": "..."}``; the label the model
names is checked against the label requested, which is the only way a ``wrong_label`` reject
can be detected (:func:`parse_structured`). Chat outputs are also screened for refusals and
preambles (:func:`screen_reply`). Every failure is a reason string, never an exception (the
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
    """The ``response_format`` asking for ``{"text": str, "label": one of labels}``.

    llama-cpp-python's server (0.3.36) turns ``{"type": "json_object", "schema": …}`` into a
    grammar that constrains sampling to the schema, but answers HTTP 500 to OpenAI's
    ``{"type": "json_schema", …}``; vLLM treats ``json_object`` as JSON mode (schema ignored,
    the prompt's instruction names the keys). A server that rejects it with HTTP 400/413/422
    gets plain chat requests instead (see :mod:`synthclf.generation.runner`).

    Args:
        labels: the task's label names, in catalog order.

    Returns:
        ``{"type": "json_object", "schema": {...}}``: an object with required string ``text``
        and ``label`` (an enum of ``labels``) and no other keys.
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
    return {"type": "json_object", "schema": schema}


_REFUSAL = re.compile(
    r"^\W*(?:as\s+an\s+ai\b|as\s+a\s+(?:large\s+)?language\s+model\b"
    r"|[^.!?\n]{0,40}?\bi\s*(?:cannot|can'?t|can\s+not|won'?t|will\s+not|am\s+unable|'?m\s+unable"
    r"|am\s+not\s+able|must\s+decline)\s+(?:to\s+)?(?:help|assist|create|generate|write|provide|produce|fulfil+|comply))",
    re.IGNORECASE,
)
_PREAMBLE = re.compile(
    r"^\W*(?:(?:sure|certainly|of\s+course|absolutely|okay|ok)\b[\s,!.]*)?"
    r"here(?:'s|\s+is|\s+are)\s+(?:a|an|the|some|one|my|your|another)\b[^.:\n]{0,80}:"
    r"|^\W*(?:sure|certainly|of\s+course|absolutely)\s*[,!.]+\s*(?:here\b|i'?d\s+be\s+happy|i\s+would\s+be\s+happy|i\s+can\s+help)",
    re.IGNORECASE,
)
SCREEN_REASONS = ("refusal", "preamble")
"""Reject reasons of :func:`screen_reply`, in the order it checks them."""


def screen_reply(text: str) -> str | None:
    """Tell an assistant's refusal or lead-in from a generated text.

    Instruction-tuned models sometimes answer the request instead of writing the text: a
    refusal ("I'm sorry, but I can't help with that", "As an AI language model…") or a
    preamble ("Sure, here's a spam SMS: …", "Here is a positive review: …"). Either would
    become a training text that no real data set holds, so it is rejected and counted. Texts
    that merely start with "Sure" or "Sorry" ("Sure, see you at 6", "Sorry I'm late") pass.

    Args:
        text: one generated text (after JSON parsing or list-item cleaning).

    Returns:
        ``"refusal"``, ``"preamble"`` or None when the text is neither.
    """
    if _REFUSAL.search(text):
        return "refusal"
    if _PREAMBLE.search(text):
        return "preamble"
    return None


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
