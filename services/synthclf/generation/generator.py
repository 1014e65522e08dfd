"""Synthetic labelled texts from an LLM, zero-shot or few-shot (Li et al., EMNLP 2023, §3.1).

One LLM request yields at most one text. Each output is cleaned and checked
(:func:`parse_output`), then rejected if it copies one of the request's few-shot examples or
repeats a text already accepted; every rejection is counted by reason, never raised (the
distilabel way). Labels are generated one after another until ``rows_per_label`` texts are
accepted or the label's request budget is spent. Example draws use ``random.Random(seed)`` and
request ``i`` samples with seed ``seed + i``, so a rerun against the same server repeats itself.
"""

from __future__ import annotations

import random
import re
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from synthclf.core.errors import InvalidInput
from synthclf.core.progress import Progress, ProgressFn, ignore_progress
from synthclf.generation.llm import LLMOutput, TextGenerator
from synthclf.generation.prompts import HISTORY_LIMIT, PromptStyle, PromptTemplate, TaskLike, default_style

REJECT_REASONS = ("empty", "too_short", "too_long", "copy_of_example", "duplicate")
"""Why an output was not kept, in the order the checks run."""


class GenerationMode(str, Enum):
    """The paper's two generation settings."""

    ZERO_SHOT = "zero_shot"
    """Context prompt + data-generation prompt (+ diversity prompt every n requests)."""
    FEW_SHOT = "few_shot"
    """The same plus k real examples per request, to imitate without copying."""


class GenerationSpec(BaseModel):
    """What to generate; the parameters of a generation job."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_enum_values=False)

    task: str = Field(description="Catalog task name, e.g. 'sms_spam'.")
    mode: GenerationMode = Field(description="zero_shot or few_shot.")
    rows_per_label: int = Field(gt=0, description="Accepted texts wanted per label.")
    examples_per_request: int = Field(default=3, gt=0, description="Few-shot: real examples (k) per request.")
    prompt_style: PromptStyle | None = Field(
        default=None, description="chat or completion; None picks by model name (default_style)."
    )
    model: str = Field(
        default="", description="LLM model id as the server knows it; '' = the service's default, set before generating."
    )
    temperature: float = Field(default=0.9, ge=0.0, le=2.0, description="Sampling temperature.")
    max_words: int = Field(default=60, gt=0, description="Word limit per text, in the prompt and the filter.")
    min_words: int = Field(default=2, gt=0, description="Shorter outputs are rejected as too_short.")
    diversity_every: int = Field(
        default=0, ge=0, description="Send the diversity prompt on every n-th request of a label; 0 never."
    )
    seed: int = Field(default=0, description="Seed of example draws; request i samples with seed + i.")
    max_requests_per_label: int | None = Field(
        default=None, gt=0, description="Request budget per label; None means 4 × rows_per_label."
    )

    @classmethod
    def validated(cls, **fields: Any) -> GenerationSpec:
        """Build a spec, turning pydantic's validation errors into :class:`InvalidInput`.

        Raises:
            InvalidInput: a field is missing or out of range; the message names it.
        """
        try:
            return cls(**fields)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise InvalidInput(f"invalid generation spec: {problems}") from exc

    @property
    def request_budget(self) -> int:
        """Most LLM requests per label (``max_requests_per_label`` or 4 × ``rows_per_label``)."""
        return self.max_requests_per_label or 4 * self.rows_per_label

    def style_for_model(self) -> PromptStyle:
        """The rendering to use: ``prompt_style`` or :func:`default_style` of ``model``."""
        return self.prompt_style or default_style(self.model)


class GenerationCounts(BaseModel):
    """Bookkeeping of one generation run.

    Attributes:
        requested: LLM requests sent.
        accepted: texts kept.
        rejected: rejected outputs by reason (:data:`REJECT_REASONS`; absent reasons are 0).
        accepted_per_label: texts kept per label.
        prompt_tokens: prompt tokens over all requests, as the server counts them.
        completion_tokens: generated tokens over all requests.
        wall_time_s: seconds spent in the run.
    """

    requested: int = 0
    accepted: int = 0
    rejected: dict[str, int] = Field(default_factory=dict)
    accepted_per_label: dict[str, int] = Field(default_factory=dict)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    wall_time_s: float = 0.0

    @property
    def acceptance_rate(self) -> float:
        """Accepted / requested, 0 when nothing was requested."""
        return self.accepted / self.requested if self.requested else 0.0


class GenerationResult(BaseModel):
    """Rows and counts of one run.

    Attributes:
        rows: one dict per accepted text with keys ``text``, ``label``, ``split`` (always
            ``train``), ``mode``, ``model``, ``request_index`` and ``prompt_style``; ready for
            ``pandas.DataFrame(rows)``.
        counts: see :class:`GenerationCounts`.
        prompt_style: the rendering used.
    """

    rows: list[dict[str, Any]]
    counts: GenerationCounts
    prompt_style: PromptStyle


_LIST_MARKER = re.compile(r"^\s*(?:[-*•–—]+|\(?\d{1,3}[.):]|[a-zA-Z][.)])\s+")
_QUOTES = "\"'“”‘’«»`"


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


def _check_examples(
    task: TaskLike, spec: GenerationSpec, examples: Mapping[str, Sequence[str]] | None
) -> dict[str, list[str]]:
    if spec.mode is not GenerationMode.FEW_SHOT:
        return {}
    labels = [label.name for label in task.labels]
    pools = {label: [t for t in (examples or {}).get(label, []) if t and t.strip()] for label in labels}
    missing = [label for label, pool in pools.items() if not pool]
    if missing:
        raise InvalidInput(f"few-shot generation for task {task.name!r} needs real examples of labels {missing}")
    return pools


def generate_rows(
    task: TaskLike,
    spec: GenerationSpec,
    llm: TextGenerator,
    examples: Mapping[str, Sequence[str]] | None = None,
    progress: ProgressFn = ignore_progress,
) -> GenerationResult:
    """Generate up to ``rows_per_label`` synthetic texts for every label of a task.

    Per request: render the label's prompt in the spec's style (chat: system + user messages;
    completion: a list to continue, ``stop=["\\n"]``), with ``max_tokens = 2 × max_words``;
    few-shot draws ``examples_per_request`` real texts of the label; the n-th, 2n-th … request
    of a label carries the diversity prompt when ``diversity_every = n > 0``. A label stops at
    ``rows_per_label`` accepted texts or after ``request_budget`` requests. A progress event
    (stage ``generate``, unit ``requests``) follows every request; its ``total`` is the most
    requests still possible and shrinks when a label finishes early.

    Args:
        task: catalog task (:class:`~synthclf.generation.prompts.TaskLike`).
        spec: what to generate; ``spec.task`` must name ``task``.
        llm: :class:`~synthclf.generation.llm.LLMClient` or any object with ``complete``/``chat``.
        examples: few-shot only: real texts per label name.
        progress: callback for progress events.

    Returns:
        The accepted rows in generation order and the counts.

    Raises:
        InvalidInput: ``spec.task`` is not ``task.name``, ``spec.model`` is empty, a template is
            invalid, or few-shot without real examples for every label.
        Unavailable: the LLM server cannot be reached (propagated, never swallowed).
        ResourceExhausted: the LLM server rate-limits past its retries.
    """
    if spec.task != task.name:
        raise InvalidInput(f"spec is for task {spec.task!r} but task {task.name!r} was given")
    if not spec.model:
        raise InvalidInput("spec.model is empty: resolve the default model before generating")
    pools = _check_examples(task, spec, examples)
    style = spec.style_for_model()
    labels = [label.name for label in task.labels]
    templates = {label: PromptTemplate.for_label(task, label, max_words=spec.max_words) for label in labels}
    rng = random.Random(spec.seed)
    counts = GenerationCounts(accepted_per_label={label: 0 for label in labels})
    rejected: Counter[str] = Counter()
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    budget = spec.request_budget
    started = time.monotonic()

    for position, label in enumerate(labels):
        template, pool, history = templates[label], pools.get(label, []), []
        for attempt in range(budget):
            if counts.accepted_per_label[label] >= spec.rows_per_label:
                break
            shots = rng.sample(pool, min(spec.examples_per_request, len(pool))) if pool else []
            diversify = spec.diversity_every > 0 and (attempt + 1) % spec.diversity_every == 0
            request_index = counts.requested
            listed = history if style is PromptStyle.CHAT else _listed_outputs(history, rng)
            output = _request(llm, template, style, spec, shots, diversify, listed, request_index)
            counts.requested += 1
            counts.prompt_tokens += output.prompt_tokens
            counts.completion_tokens += output.completion_tokens
            text, reason = _judge(output.text, spec, shots, seen)
            if text is None:
                rejected[reason or "empty"] += 1
            else:
                seen.add(normalise(text))
                history.append(text)
                counts.accepted += 1
                counts.accepted_per_label[label] += 1
                rows.append(
                    {
                        "text": text,
                        "label": label,
                        "split": "train",
                        "mode": spec.mode.value,
                        "model": spec.model,
                        "request_index": request_index,
                        "prompt_style": style.value,
                    }
                )
            finished = counts.accepted_per_label[label] >= spec.rows_per_label or attempt + 1 >= budget
            remaining = (0 if finished else budget - attempt - 1) + budget * (len(labels) - position - 1)
            progress(_progress_event(counts, rejected, label, remaining))
    counts.rejected = {reason: rejected.get(reason, 0) for reason in REJECT_REASONS}
    counts.wall_time_s = time.monotonic() - started
    return GenerationResult(rows=rows, counts=counts, prompt_style=style)


def _listed_outputs(history: list[str], rng: random.Random) -> list[str]:
    """Earlier outputs to list in a completion prompt: a fresh random sample of random size.

    A fixed list (say the last five outputs) gives a base model a fixed prompt; when that
    prompt makes it copy a listed item, every later request is a duplicate and the label
    stalls (seen with Gemma-3-270M on SMS spam: 62 rows, then 300 duplicates in a row).
    Drawing 0…5 items anew per request leaves no fixed point; 0 items is the header-only list.
    """
    size = rng.randint(0, min(HISTORY_LIMIT, len(history)))
    return rng.sample(history, size)


def _judge(raw: str, spec: GenerationSpec, shots: list[str], seen: set[str]) -> tuple[str | None, str | None]:
    text, reason = parse_output(raw, min_words=spec.min_words, max_words=spec.max_words)
    if text is None:
        return None, reason
    key = normalise(text)
    if key in {normalise(shot) for shot in shots}:
        return None, "copy_of_example"
    if key in seen:
        return None, "duplicate"
    return text, None


def _request(
    llm: TextGenerator,
    template: PromptTemplate,
    style: PromptStyle,
    spec: GenerationSpec,
    shots: list[str],
    diversify: bool,
    history: list[str],
    request_index: int,
) -> LLMOutput:
    max_tokens = 2 * spec.max_words
    seed = spec.seed + request_index
    if style is PromptStyle.COMPLETION:
        prompt = template.render_completion(shots, diversify, history)
        return llm.complete(prompt, max_tokens=max_tokens, temperature=spec.temperature, stop=["\n"], seed=seed)
    messages = template.render_chat(shots, diversify, history)
    return llm.chat(messages, max_tokens=max_tokens, temperature=spec.temperature, stop=None, seed=seed)


def _progress_event(counts: GenerationCounts, rejected: Counter[str], label: str, remaining: int) -> Progress:
    tokens = counts.prompt_tokens + counts.completion_tokens
    metrics = {
        "accepted": float(counts.accepted),
        "rejected": float(sum(rejected.values())),
        "tokens": float(tokens),
        **{f"rejected_{reason}": float(n) for reason, n in rejected.items()},
    }
    return Progress(
        stage="generate",
        done=counts.requested,
        total=counts.requested + remaining,
        unit="requests",
        message=f"label {label}: {counts.accepted_per_label[label]} accepted; {counts.accepted} in all",
        metrics=metrics,
    )
