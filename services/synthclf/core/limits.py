"""Request limits: checks that bound what one call may cost, before any work starts.

Every size a caller controls is bounded by a setting (``SYNTHCLF_MAX_*``,
``SYNTHCLF_INFERENCE_MAX_*``; defaults in :class:`synthclf.core.config.Settings`, listed in
docs/security.md "Limits"), the way Triton bounds a request before it is queued. A refusal is
INVALID_ARGUMENT (the request itself is too big) or RESOURCE_EXHAUSTED (the server is full:
models loaded), and its message names the limit and the setting that raises it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from synthclf.core.config import Settings
from synthclf.core.errors import InvalidInput, SynthclfError

#: Characters allowed in a served model's name.
MODEL_NAME_CHARS = "A-Z a-z 0-9 . _ -"
_MODEL_NAME = re.compile(r"[A-Za-z0-9._-]+")
#: Characters of a caller's string quoted back in an error message.
SHOWN_CHARS = 64


def setting_name(field: str) -> str:
    """The environment variable of a settings field (``max_labels`` → ``SYNTHCLF_MAX_LABELS``)."""
    return f"SYNTHCLF_{field.upper()}"


def shown(value: Any, limit: int = SHOWN_CHARS) -> str:
    """A caller's value as quoted in a message: ``repr``-escaped and cut to ``limit`` chars."""
    text = repr(value) if not isinstance(value, str) else repr(value)[1:-1]
    return text if len(text) <= limit else f"{text[:limit]}… ({len(str(value))} characters)"


def check_at_most(count: int, settings: Settings, field: str, what: str,
                  error: type[SynthclfError] = InvalidInput) -> None:
    """Refuse ``count`` above the limit ``settings.<field>``.

    Args:
        count: the requested amount.
        settings: where the limit is read.
        field: the settings field holding the limit, e.g. ``max_bootstrap``.
        what: the amount in the caller's terms, e.g. "bootstrap resamples (n_bootstrap)".
        error: InvalidInput (the request is too big) or ResourceExhausted (the server is full).

    Raises:
        InvalidInput | ResourceExhausted: ``<count> <what>; the limit is <limit> (<SETTING>)``.
    """
    limit = getattr(settings, field)
    if count > limit:
        raise error(f"{count} {what}; the limit is {limit} (set by {setting_name(field)})")


def check_model_name(name: str, settings: Settings) -> None:
    """Refuse an empty or over-long model name or one with characters outside
    :data:`MODEL_NAME_CHARS` (no NUL bytes, control or bidirectional-override characters).

    Raises:
        InvalidInput: naming the problem and, for the length, SYNTHCLF_MAX_MODEL_NAME_CHARS.
    """
    if not name:
        raise InvalidInput("the model name is empty")
    check_at_most(len(name), settings, "max_model_name_chars", "characters in the model name")
    if not _MODEL_NAME.fullmatch(name):
        raise InvalidInput(f"model name '{shown(name)}' has characters outside {MODEL_NAME_CHARS}")


def check_labels(labels: Sequence[Any], settings: Settings, what: str, min_labels: int = 2) -> list[str]:
    """Check a label list (a model's labels.json, a dataset's label set).

    Args:
        labels: the labels, in their order.
        settings: ``max_labels`` and ``max_label_chars``.
        what: whose labels, in the caller's terms (e.g. "onnx-model …: labels.json").
        min_labels: fewest labels accepted (2 for a classifier).

    Returns:
        The labels as a list of strings.

    Raises:
        InvalidInput: fewer than ``min_labels`` labels, more than ``max_labels``, a label that is not a
            non-empty string, longer than ``max_label_chars``, or a duplicate.
    """
    labels = list(labels)
    check_at_most(len(labels), settings, "max_labels", f"labels in {what}")
    if len(labels) < min_labels:
        raise InvalidInput(f"{what} has {len(labels)} label(s); a classifier needs at least "
                           f"{min_labels}")
    seen: set[str] = set()
    for index, label in enumerate(labels):
        if not isinstance(label, str) or not label:
            raise InvalidInput(f"{what}: label {index} is {shown(label)}, not a non-empty string")
        check_at_most(len(label), settings, "max_label_chars", f"characters in label {index} of {what}")
        if label in seen:
            raise InvalidInput(f"{what}: label '{shown(label)}' appears more than once")
        seen.add(label)
    return labels


def check_count(value: int, low: int, settings: Settings, field: str, what: str) -> None:
    """Refuse ``value`` below ``low`` or above the limit ``settings.<field>`` (InvalidInput)."""
    if value < low:
        raise InvalidInput(f"{what} must be at least {low}, got {value}")
    check_at_most(value, settings, field, what)


#: Largest seed accepted: NumPy, scikit-learn and pandas take seeds in [0, 2**32 - 1].
MAX_SEED = 2**32 - 1


def check_seed(seed: int, what: str = "seed") -> None:
    """Refuse a seed outside [0, :data:`MAX_SEED`] (InvalidInput naming ``what``)."""
    if not 0 <= seed <= MAX_SEED:
        raise InvalidInput(f"{what} must lie in [0, {MAX_SEED}], got {seed}")


def truncate(texts: Iterable[str], max_chars: int) -> list[str]:
    """Texts cut to ``max_chars`` characters each, so a tokenizer never reads more.

    Tokenizers truncate to ``max_length`` tokens only after tokenizing the whole text (500
    texts of 20 000 characters took ≈1.8 GB and tens of seconds, issue 11); a token covers
    at least one character, so cutting at ``max_chars`` ≥ ``max_length`` changes nothing for
    texts that fit ``max_length`` tokens in ``max_chars`` characters.
    """
    return [text[:max_chars] for text in texts]
