"""A small client for OpenAI-compatible LLM servers (OpenAI, llama.cpp's ``llama_cpp.server``, vLLM).

It wraps the ``openai`` SDK and turns its exceptions into synthclf's error hierarchy, so the
generation core and servicer never see SDK types. Retries of transient failures (connection
errors, 408/409/429/5xx) are the SDK's own, with exponential backoff, bounded by
``max_retries``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import openai
from openai import OpenAI

from synthclf.core.errors import ResourceExhausted, Unavailable


@dataclass(frozen=True)
class LLMOutput:
    """One LLM answer.

    Attributes:
        text: the generated text (first choice), unstripped; ``""`` when the server sent none.
        prompt_tokens: tokens in the prompt, as the server counts them (0 when not reported).
        completion_tokens: tokens generated (0 when not reported).
        finish_reason: ``stop``, ``length`` (hit ``max_tokens``) or ``None`` when not reported.
    """

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str | None = None


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
    ) -> LLMOutput:
        """Answer ``messages`` (``/v1/chat/completions``)."""
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
        Unavailable: server unreachable, timed out, or answered with an error status.
        ResourceExhausted: the server rate-limited the request (HTTP 429) after retries.
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
        try:
            yield
        except openai.APIConnectionError as exc:
            raise Unavailable(f"LLM server at {self.base_url} unreachable: {exc}") from exc
        except openai.RateLimitError as exc:
            raise ResourceExhausted(f"LLM server at {self.base_url} rate-limited the request: {exc.message}") from exc
        except openai.APIStatusError as exc:
            raise Unavailable(
                f"LLM server at {self.base_url} answered HTTP {exc.status_code} for model {self.model!r}: {exc.message}"
            ) from exc

    @staticmethod
    def _usage(response: Any) -> tuple[int, int]:
        usage = getattr(response, "usage", None)
        if usage is None:
            return 0, 0
        return int(usage.prompt_tokens or 0), int(usage.completion_tokens or 0)

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
            Unavailable: see the class docstring.
            ResourceExhausted: see the class docstring.
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
        choice = response.choices[0] if response.choices else None
        prompt_tokens, completion_tokens = self._usage(response)
        return LLMOutput(
            text=(choice.text or "") if choice else "",
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            finish_reason=choice.finish_reason if choice else None,
        )

    def chat(
        self,
        messages: list[dict[str, str]],
        *,
        max_tokens: int,
        temperature: float,
        stop: Sequence[str] | None = None,
        seed: int | None = None,
    ) -> LLMOutput:
        """Answer a conversation through ``/v1/chat/completions`` (instruction-tuned models).

        Args:
            messages: ``[{"role": "system"|"user"|"assistant", "content": str}, ...]``.
            max_tokens: most tokens to generate.
            temperature: sampling temperature (0 = greedy).
            stop: strings that end generation.
            seed: sampling seed, for servers that honour it.

        Returns:
            The assistant message content with token counts.

        Raises:
            Unavailable: see the class docstring.
            ResourceExhausted: see the class docstring.
        """
        with self._translated_errors():
            response = self._client.chat.completions.create(
                model=self.model,
                messages=messages,  # type: ignore[arg-type]
                max_tokens=max_tokens,
                temperature=temperature,
                stop=list(stop) if stop else None,
                seed=seed,
            )
        choice = response.choices[0] if response.choices else None
        prompt_tokens, completion_tokens = self._usage(response)
        return LLMOutput(
            text=(choice.message.content or "") if choice else "",
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            finish_reason=choice.finish_reason if choice else None,
        )

    def ping(self) -> list[str]:
        """Check the server answers by listing its models (``GET /v1/models``).

        Returns:
            The model ids the server offers.

        Raises:
            Unavailable: the server is unreachable or answered with an error status.
            ResourceExhausted: the server rate-limited the request.
        """
        with self._translated_errors():
            return [model.id for model in self._client.models.list()]

    def close(self) -> None:
        """Close the underlying HTTP connection pool."""
        self._client.close()

    def __enter__(self) -> LLMClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
