"""The parameters and bookkeeping of a generation job: :class:`GenerationSpec` and its counts.

A spec is the whole, canonical description of a job: its ``model_dump`` is hashed into the
dataset artifact's id (``artifacts.job_id``), so every field that can change the output lives
here. Counts and results are plain pydantic models so the service can write them into the
manifest as they are.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from synthclf.core.errors import InvalidInput, validated
from synthclf.generation.prompts import PromptStyle, default_style

REJECT_REASONS = (
    "request_failed", "empty", "parse_error", "wrong_label", "refusal", "preamble", "too_short",
    "too_long", "copy_of_example", "duplicate", "near_duplicate",
)
"""Why a request yielded no row, in the order the checks run (``request_failed``: the call
itself failed after its retries; ``refusal``/``preamble``: a chat model answered the request
instead of writing the text, see :func:`~synthclf.generation.parsing.screen_reply`; the others
judge the output's form, length and novelty)."""

DEFAULT_MAX_WORDS = 60
"""Word limit of a task that names none."""

STOP_REASONS = ("completed", "request_budget", "max_tokens_total", "max_cost_usd")
"""Why a job ended: every label full; a label spent ``max_requests_per_label``; a budget cap."""


class GenerationMode(str, Enum):
    """The paper's two generation settings."""

    ZERO_SHOT = "zero_shot"
    """Context prompt + data-generation prompt (+ diversity prompt every n requests)."""
    FEW_SHOT = "few_shot"
    """The same plus k real examples per request, to imitate without copying."""


class CopyMetric(str, Enum):
    """How similar an output may be to one of its few-shot examples before it is a copy."""

    ROUGE_L = "rouge_l"
    """ROUGE-L F-measure (longest common subsequence of words; ``rouge-score``)."""
    COSINE = "cosine"
    """Cosine similarity of bag-of-words count vectors (lexical, no model needed)."""


class GenerationSpec(BaseModel):
    """What to generate; the parameters of a generation job."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_enum_values=False)

    task: str = Field(description="Catalog task name, e.g. 'sms_spam'.")
    mode: GenerationMode = Field(description="zero_shot or few_shot.")
    rows_per_label: int = Field(gt=0, description="Accepted texts wanted per label.")
    examples_per_request: int = Field(default=3, gt=0, le=100, description="Few-shot: real examples (k) per request.")
    prompt_style: PromptStyle | None = Field(
        default=None, description="chat or completion; None picks by model name (default_style)."
    )
    model: str = Field(
        default="", description="LLM model id as the server knows it; '' = the service's default, set before generating."
    )
    temperature: float = Field(default=0.9, ge=0.0, le=2.0, description="Sampling temperature.")
    max_words: int | None = Field(
        default=None, gt=0,
        description="Word limit per text, in the prompt and the filter; None = the task's max_words "
        f"(catalog), or {DEFAULT_MAX_WORDS} for a task without one.",
    )
    min_words: int = Field(default=2, gt=0, description="Shorter outputs are rejected as too_short.")
    diversity_every: int = Field(
        default=0, ge=0, description="Send the diversity prompt on every n-th request of a label; 0 never."
    )
    seed: int = Field(
        default=0, description="Seed of example draws and of each request's sampling seed (derived from "
        "seed, label and request index)."
    )
    max_requests_per_label: int | None = Field(
        default=None, gt=0, description="Request budget per label; None means 4 × rows_per_label."
    )
    concurrency: int = Field(
        default=1, ge=1, le=256,
        description="LLM requests in flight at once. 1 sends them in request order, which a single-slot "
        "server (the local llama.cpp) needs for a reproducible run; raise it for remote APIs.",
    )
    max_retries: int = Field(
        default=4, ge=0, le=20,
        description="Retries of a request on 408/409/429/5xx, timeouts and connection errors (openai SDK: "
        "exponential backoff 0.5 s·2^n, at most 8 s, minus 0-25 % jitter; Retry-After up to 120 s honoured).",
    )
    max_consecutive_failures: int = Field(
        default=20, ge=1, description="Abort (Unavailable, nothing published) after this many failed requests in a row."
    )
    max_tokens_total: int = Field(
        default=0, ge=0, description="Budget: prompt + completion tokens of the job; 0 = no cap."
    )
    max_cost_usd: float = Field(default=0.0, ge=0.0, description="Budget: cost of the job in USD; 0 = no cap.")
    price_prompt_per_mtok: float | None = Field(
        default=None, ge=0.0, description="USD per 1M prompt tokens; None = the price table's entry for the model."
    )
    price_completion_per_mtok: float | None = Field(
        default=None, ge=0.0, description="USD per 1M completion tokens; None = the price table's entry."
    )
    copy_metric: CopyMetric = Field(default=CopyMetric.ROUGE_L, description="Similarity used by the copy check.")
    copy_threshold: float = Field(
        default=0.7, gt=0.0, le=1.0, description="Few-shot: similarity to an example at or above which it is a copy."
    )
    near_duplicate_threshold: float = Field(
        default=0.7, gt=0.0, le=1.0,
        description="Jaccard similarity of word 3-gram sets (MinHash LSH) at or above which an output is a "
        "near-duplicate of an accepted one; 1.0 disables the near-duplicate check.",
    )
    structured_output: bool = Field(
        default=True, description="Chat style: ask for JSON {text, label} with response_format json_object + schema."
    )

    @model_validator(mode="after")
    def _words_in_order(self) -> GenerationSpec:
        if self.max_words is not None and self.min_words > self.max_words:
            raise ValueError(f"min_words ({self.min_words}) exceeds max_words ({self.max_words}): "
                             "every output would be rejected")
        return self

    @classmethod
    def validated(cls, **fields: Any) -> GenerationSpec:
        """Build a spec, turning pydantic's validation errors into :class:`InvalidInput`.

        Raises:
            InvalidInput: a field is missing or out of range; the message names it.
        """
        return validated(cls, "generation spec", fields)

    @property
    def request_budget(self) -> int:
        """Most LLM requests per label (``max_requests_per_label`` or 4 × ``rows_per_label``)."""
        return self.max_requests_per_label or 4 * self.rows_per_label

    @property
    def max_tokens_per_request(self) -> int:
        """Completion tokens allowed per request: 2 × ``max_words``."""
        return 2 * (self.max_words or DEFAULT_MAX_WORDS)

    @property
    def resolved_max_words(self) -> int:
        """``max_words`` of a spec resolved by :meth:`for_task` (never None there).

        Raises:
            ValueError: the spec was not resolved first (a bug in the caller).
        """
        if self.max_words is None:
            raise ValueError("max_words is unset: resolve the spec with GenerationSpec.for_task first")
        return self.max_words

    def for_task(self, task: object) -> GenerationSpec:
        """This spec with ``max_words`` resolved from the task (``task.max_words``) when unset.

        Raises:
            InvalidInput: ``min_words`` exceeds the task's word limit.
        """
        if self.max_words is not None:
            return self
        max_words = getattr(task, "max_words", None) or DEFAULT_MAX_WORDS
        if self.min_words > max_words:
            raise InvalidInput(f"min_words ({self.min_words}) exceeds the task's max_words "
                               f"({max_words}): every output would be rejected")
        return self.model_copy(update={"max_words": max_words})

    def style_for_model(self) -> PromptStyle:
        """The rendering to use: ``prompt_style`` or :func:`default_style` of ``model``."""
        return self.prompt_style or default_style(self.model)


class GenerationCounts(BaseModel):
    """Bookkeeping of one generation run (written into the dataset manifest's ``stats``).

    Attributes:
        requested: LLM requests made (committed), including failed ones and cache hits.
        accepted: texts kept.
        rejected: requests without a row, by reason (:data:`REJECT_REASONS`; absent reasons are 0).
        failures: failed requests by kind (``timeout``, ``unreachable``, ``server_error``,
            ``rate_limited``, ``rejected``), after retries.
        accepted_per_label: texts kept per label.
        requested_per_label: requests per label.
        prompt_tokens: prompt tokens over all successful requests (the API's ``usage`` field;
            estimated as characters / 4 where a server reports none, see ``usage_estimated``).
        completion_tokens: generated tokens over all successful requests.
        usage_estimated: responses without a ``usage`` field whose tokens were estimated.
        cost_usd: prompt and completion tokens priced by the job's price (0 when unknown).
        cache_hits: requests answered from the durable response cache (not re-sent).
        wall_time_s: seconds spent in the run.
        rows_per_min: accepted rows per minute of wall time.
        tokens_per_s: prompt + completion tokens per second of wall time.
        stopped_reason: one of :data:`STOP_REASONS`.
    """

    requested: int = 0
    accepted: int = 0
    rejected: dict[str, int] = Field(default_factory=dict)
    failures: dict[str, int] = Field(default_factory=dict)
    accepted_per_label: dict[str, int] = Field(default_factory=dict)
    requested_per_label: dict[str, int] = Field(default_factory=dict)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    usage_estimated: int = 0
    cost_usd: float = 0.0
    cache_hits: int = 0
    wall_time_s: float = 0.0
    rows_per_min: float = 0.0
    tokens_per_s: float = 0.0
    stopped_reason: str = "completed"

    @property
    def acceptance_rate(self) -> float:
        """Accepted / requested, 0 when nothing was requested."""
        return self.accepted / self.requested if self.requested else 0.0

    @property
    def tokens(self) -> int:
        """Prompt + completion tokens."""
        return self.prompt_tokens + self.completion_tokens


class GenerationResult(BaseModel):
    """Rows, counts and prompts of one run.

    Attributes:
        rows: one dict per accepted text with keys ``text``, ``label``, ``split`` (always
            ``train``), ``mode``, ``model``, ``request_index``, ``request_id`` (the response
            cache key's first 16 hex digits) and ``prompt_style``; ready for
            ``pandas.DataFrame(rows)``.
        counts: see :class:`GenerationCounts`.
        prompt_style: the rendering used.
        structured_output: whether chat outputs were requested as JSON (False after a fallback).
        structured_output_note: why structured output was not used, '' when it was or when the
            style is completion.
        prompt_samples: the first rendered request per kind (``first``, ``diversity``), as sent.
    """

    rows: list[dict[str, Any]]
    counts: GenerationCounts
    prompt_style: PromptStyle
    structured_output: bool = False
    structured_output_note: str = ""
    prompt_samples: dict[str, Any] = Field(default_factory=dict)
