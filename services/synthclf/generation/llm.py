"""A small client for OpenAI-compatible LLM servers (OpenAI, llama.cpp's ``llama_cpp.server``, vLLM).

It wraps the ``openai`` SDK and turns its exceptions into synthclf's error hierarchy, so the
generation core and servicer never see SDK types. Retries of transient failures are the SDK's
own (``openai/_base_client.py``, 3.52.0): connection errors, timeouts and HTTP 408/409/429/5xx
are retried up to ``max_retries`` times after ``min(0.5 s · 2^n, 8 s)`` reduced by a random
0-25 % (jitter), or after the server's ``Retry-After``/``retry-after-ms`` when it is at most
120 s (a longer one is not retried). Each error raised after the retries carries a ``kind``
so the generator can count failures by cause and tell per-request failures (counted, job goes
on) from configuration errors (``refused``: 401/403/404, the job stops).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import openai
from openai import OpenAI

from synthclf.core.errors import InvalidInput, ResourceExhausted, Unavailable

_log = logging.getLogger("synthclf.generation")


class LLMUnavailable(Unavailable):
    """The server could not answer: ``kind`` is ``unreachable``, ``timeout``, ``server_error``
    (5xx, 408, 409), ``bad_response`` (a 200 whose body is not a completion) or ``refused``
    (401/403/404: key, permission or model wrong; not transient).

    Attributes:
        kind: the cause, as above.
        status_code: HTTP status, or None when no response came.
    """

    def __init__(self, message: str, kind: str, status_code: int | None = None):
        super().__init__(message)
        self.kind = kind
        self.status_code = status_code


class LLMRateLimited(ResourceExhausted):
    """HTTP 429 after all retries (``kind`` = ``rate_limited``)."""

    kind = "rate_limited"
    status_code = 429


class LLMRequestRejected(InvalidInput):
    """HTTP 400/413/422: this request cannot succeed as sent (``kind`` = ``rejected``).

    Attributes:
        status_code: the HTTP status.
    """

    kind = "rejected"

    def __init__(self, message: str, status_code: int):
        super().__init__(message)
        self.status_code = status_code


@dataclass(frozen=True)
class LLMOutput:
    """One LLM answer.

    Attributes:
        text: the generated text (first choice), unstripped; ``""`` when the server sent none.
        prompt_tokens: tokens in the prompt, as the server counts them (0 when not reported).
        completion_tokens: tokens generated (0 when not reported).
        finish_reason: ``stop``, ``length`` (hit ``max_tokens``) or ``None`` when not reported.
        usage_reported: False when the response had no ``usage`` field (token counts are 0).
    """

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str | None = None
    usage_reported: bool = True


class TextGenerator(Protocol):
    """What the generator needs of an LLM: :class:`LLMClient` or a scripted stand-in in tests."""

    def complete(
        self, prompt: str, *, max_tokens: int, temperature: float, stop: Sequence[str] | None, seed: int | None
    ) -> LLMOutput:
        """Continue ``prompt`` (``/v1/completions``)."""
        ...

    def chat(
        self,
        messages: list[dict[str, str]],
        *,
        max_tokens: int,
        temperature: float,
        stop: Sequence[str] | None,
        seed: int | None,
        response_format: dict[str, Any] | None = None,
    ) -> LLMOutput:
        """Answer ``messages`` (``/v1/chat/completions``), optionally as structured output."""
        ...


class LLMClient:
    """Client of one model on an OpenAI-compatible server.

    Args:
        base_url: API root including ``/v1``, e.g. ``http://127.0.0.1:8011/v1``.
        model: model id to request, e.g. ``gpt-3.5-turbo`` or the GGUF path llama.cpp reports.
        api_key: bearer token; local servers accept any non-empty value.
        timeout_s: per-attempt HTTP timeout in seconds.
        max_retries: SDK retries of transient failures (0 disables).

    Raises on calls:
        LLMUnavailable: server unreachable, timed out, or answered 401/403/404/408/409/5xx.
        LLMRateLimited: the server rate-limited the request (HTTP 429) after retries.
        LLMRequestRejected: the server refused the request as malformed (HTTP 400/413/422).
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str = "not-needed",
        timeout_s: float = 60.0,
        max_retries: int = 2,
    ):
        self.base_url = base_url
        self.model = model
        self._client = OpenAI(
            base_url=base_url, api_key=api_key or "not-needed", timeout=timeout_s, max_retries=max_retries
        )

    @contextmanager
    def _translated_errors(self) -> Iterator[None]:
        """SDK errors as synthclf errors. Messages say "the LLM server" and never carry its URL
        (a client must not learn it); the log records it."""
        try:
            yield
        except (openai.OpenAIError, ValueError, AttributeError, TypeError, IndexError, KeyError) as exc:
            _log.warning("LLM server at %s, model %r: %s: %s", self.base_url, self.model,
                         type(exc).__name__, exc)
            raise self._translated(exc) from exc

    def _translated(self, exc: Exception) -> Unavailable | InvalidInput | ResourceExhausted:
        """The synthclf error of an SDK error (subclasses before their bases)."""
        if isinstance(exc, openai.APITimeoutError):
            return LLMUnavailable("the LLM server (SYNTHCLF_LLM_BASE_URL) timed out", "timeout")
        if isinstance(exc, openai.APIConnectionError):
            return LLMUnavailable("the LLM server (SYNTHCLF_LLM_BASE_URL) is unreachable", "unreachable")
        if isinstance(exc, openai.RateLimitError):
            return LLMRateLimited(f"the LLM server rate-limited the request: {exc.message}")
        if isinstance(exc, openai.APIStatusError):
            message = f"the LLM server answered HTTP {exc.status_code} for model {self.model!r}: {exc.message}"
            if exc.status_code in (400, 413, 422):
                return LLMRequestRejected(message, exc.status_code)
            kind = "refused" if exc.status_code in (401, 403, 404) else "server_error"
            return LLMUnavailable(message, kind, exc.status_code)
        return LLMUnavailable(f"the LLM server sent a malformed response ({type(exc).__name__})",
                              "bad_response")

    def _output(self, response: Any, chat: bool) -> LLMOutput:
        with self._translated_errors():
            choice = response.choices[0] if response.choices else None
            text = (choice.message.content if chat else choice.text) if choice else ""
            return LLMOutput(
                text=text or "", finish_reason=choice.finish_reason if choice else None, **self._usage(response)
            )

    @staticmethod
    def _usage(response: Any) -> dict[str, Any]:
        usage = getattr(response, "usage", None)
        if usage is None:
            return {"usage_reported": False}
        return {"prompt_tokens": int(usage.prompt_tokens or 0), "completion_tokens": int(usage.completion_tokens or 0)}

    def complete(
        self,
        prompt: str,
        *,
        max_tokens: int,
        temperature: float,
        stop: Sequence[str] | None = None,
        seed: int | None = None,
    ) -> LLMOutput:
        """Continue a prompt through ``/v1/completions`` (base models).

        Args:
            prompt: the text to continue.
            max_tokens: most tokens to generate.
            temperature: sampling temperature (0 = greedy).
            stop: strings that end generation (not included in the output).
            seed: sampling seed, for servers that honour it (OpenAI best-effort, llama.cpp yes).

        Returns:
            The continuation with token counts.

        Raises:
            LLMUnavailable, LLMRateLimited, LLMRequestRejected: see the class docstring.
        """
        with self._translated_errors():
            response = self._client.completions.create(
                model=self.model,
                prompt=prompt,
                max_tokens=max_tokens,
                temperature=temperature,
                stop=list(stop) if stop else None,
                seed=seed,
            )
        return self._output(response, chat=False)

    def chat(
        self,
        messages: list[dict[str, str]],
        *,
        max_tokens: int,
        temperature: float,
        stop: Sequence[str] | None = None,
        seed: int | None = None,
        response_format: dict[str, Any] | None = None,
    ) -> LLMOutput:
        """Answer a conversation through ``/v1/chat/completions`` (instruction-tuned models).

        Args:
            messages: ``[{"role": "system"|"user"|"assistant", "content": str}, ...]``.
            max_tokens: most tokens to generate.
            temperature: sampling temperature (0 = greedy).
            stop: strings that end generation.
            seed: sampling seed, for servers that honour it.
            response_format: e.g. ``{"type": "json_schema", "json_schema": {...}}`` (OpenAI
                structured outputs); None sends no ``response_format``.

        Returns:
            The assistant message content with token counts.

        Raises:
            LLMUnavailable, LLMRateLimited, LLMRequestRejected: see the class docstring.
        """
        with self._translated_errors():
            # Plain role/content dicts and an optional response_format: the SDK's overloads want
            # its TypedDicts and a literal stream flag.
            response = self._client.chat.completions.create(  # type: ignore[call-overload]
                model=self.model,
                messages=messages,
                max_tokens=max_tokens,
                temperature=temperature,
                stop=list(stop) if stop else None,
                seed=seed,
                **({"response_format": response_format} if response_format else {}),
            )
        return self._output(response, chat=True)

    def ping(self, max_retries: int | None = None) -> list[str]:
        """Check the server answers by listing its models (``GET /v1/models``).

        Args:
            max_retries: retries for this call; None uses the client's setting.

        Returns:
            The model ids the server offers.

        Raises:
            LLMUnavailable: the server is unreachable or answered with an error status.
            LLMRateLimited: the server rate-limited the request.
        """
        client = self._client if max_retries is None else self._client.with_options(max_retries=max_retries)
        with self._translated_errors():
            return [model.id for model in client.models.list()]

    def close(self) -> None:
        """Close the underlying HTTP connection pool."""
        self._client.close()

    def __enter__(self) -> LLMClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
