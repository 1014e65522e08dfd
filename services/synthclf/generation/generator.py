"""Synthetic labelled texts from an LLM, zero-shot or few-shot (Li et al., EMNLP 2023, §3.1).

One LLM request yields at most one text. Requests are planned one at a time, sent by a
:class:`~synthclf.generation.runner.RequestRunner` with up to ``concurrency`` in flight, and
**committed in request order**: each output is parsed (JSON for structured chat output, a list
item otherwise), checked for length, for copying one of its few-shot examples, and for exact
and near duplicates of the texts already accepted; every rejection is counted by reason, never
raised (the distilabel way). A failed request (after the SDK's retries) is counted as
``request_failed`` and the job goes on, unless ``max_consecutive_failures`` fail in a row.

Determinism: requests are planned only right after a commit (or at the start), up to
``concurrency`` in flight, so request ``i`` is planned from the results of the requests
committed before it — which ones depends on the concurrency and the answers, never on their
timing. Its label (the first label in catalog order still short of rows once the requests in
flight are counted, so no surplus is ever requested), few-shot examples
(``random.Random(f"{seed}:{i}")``), listed earlier outputs and sampling seed
(:func:`request_seed` of seed, label and ``i``) follow from those. So, for the same server
answers and concurrency, a job sends the same requests and keeps the same rows however the
answers are timed, and a re-run after ``kill -9`` replays exactly the requests already
answered, which the durable cache then serves without contacting the server.

Reproducibility: a server that samples deterministically for a seed (llama.cpp) gives the same
answers to the same requests sent in the same order. With ``concurrency = 1`` the order is the
request order, so two fresh runs (empty response cache, fresh server, same seed, model file and
llama.cpp build) publish byte-identical datasets (tests/integration/test_generation_service.py).
With more requests in flight the arrival order at a single-slot server depends on thread
timing, and llama.cpp reuses the previous prompt's KV cache, so answers may differ slightly.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections import Counter, deque
from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, replace
from typing import Any

from synthclf.core.errors import InvalidInput, Unavailable
from synthclf.core.progress import Progress, ProgressFn, ignore_progress
from synthclf.generation.accounting import Ledger, Price
from synthclf.generation.cache import ResponseCache
from synthclf.generation.dedup import CopyDetector, Deduplicator
from synthclf.generation.llm import TextGenerator
from synthclf.generation.parsing import (
    as_json_turn,
    json_instruction,
    normalise,
    parse_output,
    parse_structured,
    response_format,
    screen_reply,
)  # fmt: skip
from synthclf.generation.prompts import HISTORY_LIMIT, PromptStyle, PromptTemplate, TaskLike
from synthclf.generation.runner import LLMRequest, Outcome, RequestRunner
from synthclf.generation.spec import (
    REJECT_REASONS,
    CopyMetric,
    GenerationCounts,
    GenerationMode,
    GenerationResult,
    GenerationSpec,
)  # fmt: skip

__all__ = [
    "CopyMetric", "GenerationCounts", "GenerationMode", "GenerationResult", "GenerationSpec",
    "REJECT_REASONS", "generate_rows", "normalise", "parse_output", "request_seed",
]  # fmt: skip


def request_seed(seed: int, label: str, index: int) -> int:
    """The sampling seed of request ``index`` for ``label`` of a job seeded with ``seed``.

    The first 4 bytes of ``sha256(f"{seed}:{label}:{index}")`` as an unsigned integer, masked
    to 31 bits (llama.cpp and OpenAI accept non-negative 32-bit seeds): fixed by the job's
    seed and the request's place, and unrelated between neighbouring requests and labels
    (``seed + index`` would give job ``s`` request ``i + 1`` the seed of job ``s + 1``
    request ``i``).

    Returns:
        An integer in [0, 2^31).
    """
    digest = hashlib.sha256(f"{seed}:{label}:{index}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


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


def _listed_outputs(history: list[str], rng: random.Random) -> list[str]:
    """Earlier outputs to list in a completion prompt: a fresh random sample of random size.

    A fixed list (say the last five outputs) gives a base model a fixed prompt; when that
    prompt makes it copy a listed item, every later request is a duplicate and the label
    stalls (seen with Gemma-3-270M on SMS spam: 62 rows, then 300 duplicates in a row).
    Drawing 0…5 items anew per request leaves no fixed point; 0 items is the header-only list.
    """
    size = rng.randint(0, min(HISTORY_LIMIT, len(history)))
    return rng.sample(history, size)


def _strip_preamble(text: str) -> str:
    """Drop a chat model's lead-in line ("Here is a spam SMS:") before the text itself."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    if len(lines) > 1 and lines[0].rstrip().endswith(":"):
        lines = lines[1:]
    return "\n".join(lines)


@dataclass(frozen=True)
class _Planned:
    """A request with what judging its output needs: its label and few-shot examples."""

    label: str
    shots: tuple[str, ...]
    request: LLMRequest


class _Job:
    """State of one run: the plan, the commits and the counts (used from one thread)."""

    def __init__(self, task: TaskLike, spec: GenerationSpec, pools: dict[str, list[str]], price: Price | None):
        self.spec = spec
        self.max_words = spec.resolved_max_words
        self.style = spec.style_for_model()
        self.labels = [label.name for label in task.labels]
        self.templates = {label: PromptTemplate.for_label(task, label, max_words=self.max_words) for label in self.labels}
        self.pools = pools
        self.ledger = Ledger(price, spec.max_tokens_total, spec.max_cost_usd)
        self.dedup = Deduplicator(spec.near_duplicate_threshold)
        self.copies = CopyDetector(spec.copy_metric, spec.copy_threshold)
        self.history: dict[str, list[str]] = {label: [] for label in self.labels}
        self.issued: Counter[str] = Counter()
        self.in_flight: Counter[str] = Counter()
        self.accepted: Counter[str] = Counter()
        self.rejected: Counter[str] = Counter()
        self.failures: Counter[str] = Counter()
        self.rows: list[dict[str, Any]] = []
        self.samples: dict[str, Any] = {}
        self.committed = self.cache_hits = self.failed_in_row = 0
        self.budget_stop: str | None = None
        self.started = time.monotonic()

    def _wants(self, label: str) -> bool:
        full = self.accepted[label] + self.in_flight[label] >= self.spec.rows_per_label
        return not full and self.issued[label] < self.spec.request_budget

    def plan(self, index: int, structured: bool) -> _Planned | None:
        """The next request, or None when no label may send one now (full, out of budget, capped)."""
        label = next((name for name in self.labels if self._wants(name)), None)
        if label is None or self.budget_stop:
            return None
        stop = self.ledger.stop_reason(sum(self.in_flight.values()))
        if stop is not None:
            if stop != "wait":
                self.budget_stop = stop
            return None
        spec, template, attempt = self.spec, self.templates[label], self.issued[label]
        rng = random.Random(f"{spec.seed}:{index}")
        pool = self.pools.get(label, [])
        shots = rng.sample(pool, min(spec.examples_per_request, len(pool))) if pool else []
        diversify = spec.diversity_every > 0 and (attempt + 1) % spec.diversity_every == 0
        history = self.history[label]
        common = LLMRequest(index=index, style=self.style, max_tokens=spec.max_tokens_per_request,
                            temperature=spec.temperature, seed=request_seed(spec.seed, label, index))
        if self.style is PromptStyle.COMPLETION:
            prompt = template.render_completion(shots, diversify, _listed_outputs(history, rng))
            request = replace(common, prompt=prompt, stop=("\n",))
        else:
            messages = template.render_chat(shots, diversify, history)
            json_layout = self._structured_layout(messages, label) if structured else None
            request = replace(common, messages=messages, structured_messages=json_layout)
        self.issued[label] += 1
        self.in_flight[label] += 1
        if diversify:
            self.samples.setdefault("diversity_index", index)
        return _Planned(label, tuple(shots), request)

    def _structured_layout(self, messages: list[dict[str, str]], label: str) -> list[dict[str, str]]:
        laid_out = [
            {**m, "content": as_json_turn(m["content"], label)} if m["role"] == "assistant" else dict(m)
            for m in messages
        ]
        laid_out[-1]["content"] = f"{laid_out[-1]['content']}\n{json_instruction(self.labels)}"
        return laid_out

    def commit(self, planned: _Planned, outcome: Outcome) -> None:
        """Count one finished request and judge its output.

        Raises:
            Unavailable: ``max_consecutive_failures`` requests in a row have failed.
        """
        label = planned.label
        self.committed += 1
        self.in_flight[label] -= 1
        self.cache_hits += outcome.cached
        index = outcome.request.index
        if index == 0 or index == self.samples.get("diversity_index"):
            self.samples["first" if index == 0 else "diversity"] = outcome.sent
        if outcome.output is None:
            self.rejected["request_failed"] += 1
            self.failures[outcome.failure or "unavailable"] += 1
            self.failed_in_row += 1
            if self.failed_in_row >= self.spec.max_consecutive_failures:
                raise Unavailable(
                    f"{self.failed_in_row} LLM requests in a row failed (last: {outcome.error}); "
                    "nothing was published; re-run the job to resume (successful responses are cached)"
                )
            return
        self.failed_in_row = 0
        self.ledger.add(outcome.output, outcome.prompt_chars)
        text, reason = self._judge(label, planned.shots, outcome)
        if text is None:
            self.rejected[reason or "empty"] += 1
            return
        self.dedup.add(text)
        self.history[label].append(text)
        self.accepted[label] += 1
        self.rows.append({
            "text": text, "label": label, "split": "train", "mode": self.spec.mode.value,
            "model": self.spec.model, "request_index": index, "request_id": outcome.key[:16],
            "prompt_style": self.style.value,
        })  # fmt: skip

    def _judge(self, label: str, shots: Sequence[str], outcome: Outcome) -> tuple[str | None, str | None]:
        raw = outcome.output.text if outcome.output else ""
        if outcome.structured:
            parsed, reason = parse_structured(raw, label)
            if parsed is None:
                return None, reason
            raw = parsed
        elif self.style is PromptStyle.CHAT:
            raw = _strip_preamble(raw)
        if self.style is PromptStyle.CHAT and (reason := screen_reply(" ".join(raw.split()))):
            return None, reason
        text, reason = parse_output(raw, min_words=self.spec.min_words, max_words=self.max_words)
        if text is None:
            return None, reason
        if shots and self.copies.is_copy(text, shots):
            return None, "copy_of_example"
        return (None, duplicate) if (duplicate := self.dedup.check(text)) else (text, None)

    def counts(self) -> GenerationCounts:
        """The counts so far."""
        wall = time.monotonic() - self.started
        short = any(self.accepted[label] < self.spec.rows_per_label for label in self.labels)
        ledger = self.ledger
        return GenerationCounts(
            requested=self.committed, accepted=len(self.rows),
            rejected={reason: self.rejected.get(reason, 0) for reason in REJECT_REASONS},
            failures=dict(self.failures),
            accepted_per_label={label: self.accepted[label] for label in self.labels},
            requested_per_label={label: self.issued[label] - self.in_flight[label] for label in self.labels},
            prompt_tokens=ledger.prompt_tokens, completion_tokens=ledger.completion_tokens,
            usage_estimated=ledger.usage_estimated, cost_usd=round(ledger.cost_usd, 6),
            cache_hits=self.cache_hits, wall_time_s=round(wall, 3),
            rows_per_min=round(60.0 * len(self.rows) / wall, 3) if wall > 0 else 0.0,
            tokens_per_s=round(ledger.tokens / wall, 3) if wall > 0 else 0.0,
            stopped_reason=self.budget_stop or ("request_budget" if short else "completed"),
        )  # fmt: skip

    def progress_event(self, label: str) -> Progress:
        """A progress event after a commit (stage ``generate``, unit ``requests``)."""
        counts = self.counts()
        budget = self.spec.request_budget
        remaining = sum(
            0 if self.accepted[name] >= self.spec.rows_per_label else budget - self.issued[name] + self.in_flight[name]
            for name in self.labels
        )
        metrics = {
            "requested": float(counts.requested), "accepted": float(counts.accepted),
            "rejected": float(sum(self.rejected.values())), "failed": float(self.rejected["request_failed"]),
            "tokens": float(counts.tokens), "prompt_tokens": float(counts.prompt_tokens),
            "completion_tokens": float(counts.completion_tokens), "cost_usd": counts.cost_usd,
            "rows_per_min": counts.rows_per_min, "tokens_per_s": counts.tokens_per_s,
            "acceptance_rate": round(counts.acceptance_rate, 4), "cache_hits": float(counts.cache_hits),
            **{f"rejected_{reason}": float(n) for reason, n in self.rejected.items()},
        }  # fmt: skip
        return Progress(
            stage="generate", done=counts.requested, total=counts.requested + remaining, unit="requests",
            message=f"label {label}: {self.accepted[label]} accepted; {counts.accepted} in all", metrics=metrics,
        )  # fmt: skip


def generate_rows(
    task: TaskLike,
    spec: GenerationSpec,
    llm: TextGenerator,
    examples: Mapping[str, Sequence[str]] | None = None,
    progress: ProgressFn = ignore_progress,
    *,
    cache: ResponseCache | None = None,
    price: Price | None = None,
    server_id: str | None = None,
) -> GenerationResult:
    """Generate up to ``rows_per_label`` synthetic texts for every label of a task.

    Per request: render the label's prompt in the spec's style (chat: system + user messages,
    as JSON-schema structured output while the server accepts it; completion: a list to
    continue, ``stop=["\\n"]``), with ``max_tokens = 2 × max_words`` and the seed of :func:`request_seed`;
    few-shot draws ``examples_per_request`` real texts of the label; the n-th, 2n-th … request
    of a label carries the diversity prompt when ``diversity_every = n > 0``. A label stops at
    ``rows_per_label`` accepted texts or after ``request_budget`` requests; the job stops
    early, keeping its rows, when a token or money cap would be passed (see
    :mod:`synthclf.generation.accounting`). A progress event (stage ``generate``, unit
    ``requests``) follows every committed request; its ``total`` is the most requests still
    possible.

    Args:
        task: catalog task (:class:`~synthclf.generation.prompts.TaskLike`).
        spec: what to generate; ``spec.task`` must name ``task``.
        llm: :class:`~synthclf.generation.llm.LLMClient` or any object with ``complete``/``chat``;
            its ``base_url`` attribute (if any) is part of the cache key unless ``server_id`` is given.
        examples: few-shot only: real texts per label name.
        progress: callback for progress events.
        cache: durable response cache (None: every request goes to the server).
        price: the model's price, for cost and the money cap (None: unknown, cost 0).
        server_id: the server's identity in the cache key (and so in each row's ``request_id``)
            instead of ``llm.base_url``: a local server started on a free port gets a stable
            one, so a re-run on another port is served from the cache and fresh runs agree.

    Returns:
        The accepted rows in commit (request) order, the counts, and the prompts as sent.

    Raises:
        InvalidInput: ``spec.task`` is not ``task.name``, ``spec.model`` is empty, a template is
            invalid, few-shot without real examples for every label, or a money cap without a price.
        Unavailable: ``max_consecutive_failures`` requests failed in a row, or the server refused
            the job's key or model (HTTP 401/403/404).
    """
    if spec.task != task.name:
        raise InvalidInput(f"spec is for task {spec.task!r} but task {task.name!r} was given")
    if not spec.model:
        raise InvalidInput("spec.model is empty: resolve the default model before generating")
    spec = spec.for_task(task)
    job = _Job(task, spec, _check_examples(task, spec, examples), price)
    wants_json = job.style is PromptStyle.CHAT and spec.structured_output
    runner = RequestRunner(
        llm, model=spec.model, base_url=server_id or getattr(llm, "base_url", "") or "", concurrency=spec.concurrency,
        cache=cache, response_format=response_format(job.labels) if wants_json else None,
    )  # fmt: skip
    pending: deque[tuple[_Planned, Future[Outcome]]] = deque()
    index = 0
    try:
        while True:
            while len(pending) < spec.concurrency and (planned := job.plan(index, runner.structured)):
                pending.append((planned, runner.submit(planned.request)))
                index += 1
            if not pending:
                break
            planned, future = pending.popleft()
            job.commit(planned, future.result())
            progress(job.progress_event(planned.label))
    finally:
        runner.close(cancel=bool(pending))
    return GenerationResult(
        rows=job.rows, counts=job.counts(), prompt_style=job.style,
        structured_output=runner.structured, structured_output_note=runner.structured_note,
        prompt_samples={k: v for k, v in job.samples.items() if k != "diversity_index"},
    )  # fmt: skip
