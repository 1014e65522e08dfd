"""Sending LLM requests: a bounded thread pool, the response cache and structured-output fallback.

:class:`RequestRunner` executes :class:`LLMRequest` objects, at most ``concurrency`` at a time,
and turns every call into an :class:`Outcome`, never an exception, unless the failure means
the whole job is misconfigured (HTTP 401/403/404: wrong key, permission or model), which is
raised. Per request:

1. the request is rendered for the wire (chat with ``response_format`` and the JSON layout while
   structured output is on; otherwise plain) and its :func:`~synthclf.generation.cache.request_key`
   computed;
2. a cached response for that key is returned without contacting the server;
3. otherwise the LLM is called (the openai SDK retries transient failures, see
   :mod:`synthclf.generation.llm`) and a successful response is cached before it is returned;
4. a failure after the retries becomes ``Outcome(failure=kind)``; nothing is cached;
5. if the server rejects ``response_format`` (HTTP 400/413/422) the same request is sent plain; when
   that succeeds, structured output is switched off for the rest of the job and remembered in
   the cache for this server and model, and the reason is kept in :attr:`RequestRunner.structured_note`.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from synthclf.core.errors import ResourceExhausted, Unavailable
from synthclf.generation.cache import ResponseCache, request_key
from synthclf.generation.llm import LLMOutput, LLMRequestRejected, TextGenerator
from synthclf.generation.prompts import PromptStyle

Messages = list[dict[str, str]]


@dataclass(frozen=True)
class LLMRequest:
    """One planned LLM request.

    Attributes:
        index: position in the job (0-based); part of the cache key.
        style: completion (``prompt``) or chat (``messages``).
        prompt: completion style: the text to continue.
        messages: chat style: the plain layout.
        structured_messages: chat style: the layout for structured output (JSON instruction,
            earlier outputs as JSON turns); None to never ask for structured output.
        max_tokens: completion tokens allowed.
        temperature: sampling temperature.
        stop: stop strings, or None.
        seed: sampling seed.
    """

    index: int
    style: PromptStyle
    prompt: str | None = None
    messages: Messages | None = None
    structured_messages: Messages | None = None
    max_tokens: int = 64
    temperature: float = 1.0
    stop: tuple[str, ...] | None = None
    seed: int | None = None


@dataclass(frozen=True)
class Outcome:
    """What became of one request.

    Attributes:
        request: the request.
        output: the response, or None when the call failed.
        failure: why it failed (``timeout``, ``unreachable``, ``server_error``, ``rate_limited``,
            ``rejected``, ``unavailable``), None on success.
        error: the failure's message, '' on success.
        cached: answered from the response cache.
        structured: sent with ``response_format`` (the output should be JSON).
        key: the cache key (sha256 hex).
        sent: the prompt text or the messages as sent.
    """

    request: LLMRequest
    output: LLMOutput | None
    failure: str | None = None
    error: str = ""
    cached: bool = False
    structured: bool = False
    key: str = ""
    sent: str | Messages = ""

    @property
    def prompt_chars(self) -> int:
        """Characters of the prompt as sent (for usage estimates)."""
        if isinstance(self.sent, str):
            return len(self.sent)
        return sum(len(message["content"]) for message in self.sent)


class RequestRunner:
    """Executes requests concurrently, with caching and structured-output fallback.

    Args:
        llm: the model client (``complete``/``chat``).
        model: model id (cache key).
        base_url: server base URL (cache key); '' for test stand-ins.
        concurrency: requests in flight at most (threads).
        cache: durable response cache, or None for none.
        response_format: the structured-output ``response_format`` for chat requests, or None.
    """

    def __init__(
        self,
        llm: TextGenerator,
        *,
        model: str,
        base_url: str = "",
        concurrency: int = 4,
        cache: ResponseCache | None = None,
        response_format: dict[str, Any] | None = None,
    ):
        self.llm = llm
        self.model = model
        self.base_url = base_url
        self.cache = cache
        self.response_format = response_format
        self.structured_note = ""
        self._flag = f"response_format_unsupported:{base_url.rstrip('/')}:{model}"
        if response_format is not None and cache is not None and cache.get_flag(self._flag):
            self.structured_note = f"server rejected response_format earlier: {cache.get_flag(self._flag)}"
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="llm")

    @property
    def structured(self) -> bool:
        """Whether chat requests are still sent with ``response_format``."""
        return self.response_format is not None and not self.structured_note

    def submit(self, request: LLMRequest) -> Future[Outcome]:
        """Queue a request; the future yields its :class:`Outcome` or raises a job-fatal error."""
        return self._pool.submit(self.run, request)

    def run(self, request: LLMRequest) -> Outcome:
        """Execute one request now, in the calling thread.

        Raises:
            LLMUnavailable: kind ``refused`` (401/403/404): the job cannot succeed.
        """
        try:
            if request.style is PromptStyle.CHAT and request.structured_messages is not None and self.structured:
                try:
                    return self._call(request, structured=True)
                except LLMRequestRejected as exc:
                    outcome = self._call(request, structured=False)
                    self._disable_structured(exc.message)
                    return outcome
            return self._call(request, structured=False)
        except (LLMRequestRejected, ResourceExhausted, Unavailable) as exc:
            kind = getattr(exc, "kind", "unavailable")
            if kind == "refused":
                raise
            return Outcome(request=request, output=None, failure=kind, error=exc.message)

    def _disable_structured(self, reason: str) -> None:
        with self._lock:
            if not self.structured_note:
                self.structured_note = f"server rejected response_format: {reason}"
                if self.cache is not None:
                    self.cache.set_flag(self._flag, reason)

    def _call(self, request: LLMRequest, *, structured: bool) -> Outcome:
        params: dict[str, Any] = {
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "stop": list(request.stop) if request.stop else None,
        }
        sent: str | list[dict[str, str]]
        if request.style is PromptStyle.COMPLETION:
            endpoint, sent = "completions", request.prompt or ""
        else:
            endpoint = "chat.completions"
            sent = list((request.structured_messages if structured else request.messages) or [])
            params["response_format"] = self.response_format if structured else None
        key = request_key(
            base_url=self.base_url, model=self.model, endpoint=endpoint, prompt=sent,
            params=params, seed=request.seed, request_index=request.index,
        )  # fmt: skip
        found = self.cache.get(key) if self.cache is not None else None
        if found is not None:
            return Outcome(request, found, cached=True, structured=structured, key=key, sent=sent)
        common = {"max_tokens": request.max_tokens, "temperature": request.temperature,
                  "stop": params["stop"], "seed": request.seed}  # fmt: skip
        if isinstance(sent, str):
            output = self.llm.complete(sent, **common)
        elif structured:
            output = self.llm.chat(sent, response_format=self.response_format, **common)
        else:
            output = self.llm.chat(sent, **common)
        if self.cache is not None:
            self.cache.put(key, output)
        return Outcome(request, output, structured=structured, key=key, sent=sent)

    def close(self, cancel: bool = False) -> None:
        """Stop the threads; with ``cancel``, queued requests that have not started are dropped."""
        self._pool.shutdown(wait=True, cancel_futures=cancel)
