"""A durable cache of successful LLM responses: what makes a killed generation job resumable.

Every successful response is stored before the generator looks at it, keyed by the sha256 of
the canonical JSON of everything that determines it: the server's base URL, the model, the
endpoint, the rendered prompt (completion) or messages (chat), the sampling parameters
(``max_tokens``, ``temperature``, ``stop``, ``response_format``), the seed and the request's
index in the job. Re-running a job after ``kill -9`` replays the same requests in the same
order (the generator's plan depends only on earlier responses), so every request that had
succeeded is answered from here and never re-sent. Failed calls are never stored.

Storage: ``diskcache`` (SQLite in WAL mode; a committed entry survives the process being
killed), no eviction, values stored as JSON text. Default location:
``$SYNTHCLF_CACHE_DIR/llm-responses``. Safe to share between threads and processes.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import diskcache

from synthclf.generation.llm import LLMOutput

CACHE_FOLDER = "llm-responses"
"""Folder under ``settings.cache_dir`` holding the response cache."""
KEY_VERSION = 1
"""Bumped whenever the key's fields change, so old entries are never misread."""


def request_key(
    *,
    base_url: str,
    model: str,
    endpoint: str,
    prompt: str | list[dict[str, str]],
    params: dict[str, Any],
    seed: int | None,
    request_index: int,
) -> str:
    """The cache key of one LLM request: sha256 (64 hex digits) of its canonical JSON.

    Args:
        base_url: API root, e.g. ``http://127.0.0.1:8000/v1`` (trailing ``/`` ignored).
        model: model id sent to the server.
        endpoint: ``completions`` or ``chat.completions``.
        prompt: the rendered prompt (completion) or the list of chat messages.
        params: sampling parameters as sent: ``max_tokens``, ``temperature``, ``stop``,
            ``response_format`` (None values included, so adding one changes the key).
        seed: sampling seed sent with the request.
        request_index: position of the request in its job (0-based).

    Returns:
        The hex digest.
    """
    canonical = json.dumps(
        {
            "v": KEY_VERSION,
            "base_url": base_url.rstrip("/"),
            "model": model,
            "endpoint": endpoint,
            "prompt": prompt,
            "params": params,
            "seed": seed,
            "request_index": request_index,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class ResponseCache:
    """Successful LLM responses on disk, by :func:`request_key`.

    Args:
        directory: the cache folder (created if missing).
    """

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._cache = diskcache.Cache(str(self.directory), eviction_policy="none", size_limit=2**62)

    def get(self, key: str) -> LLMOutput | None:
        """The stored response for ``key``, or None."""
        raw = self._cache.get(key)
        return LLMOutput(**json.loads(raw)) if raw is not None else None

    def put(self, key: str, output: LLMOutput) -> None:
        """Store a successful response (committed to disk when this returns)."""
        record = {
            "text": output.text,
            "prompt_tokens": output.prompt_tokens,
            "completion_tokens": output.completion_tokens,
            "finish_reason": output.finish_reason,
            "usage_reported": output.usage_reported,
        }
        self._cache.set(key, json.dumps(record, ensure_ascii=False))

    def get_flag(self, name: str) -> Any:
        """A remembered fact about a server (e.g. that it rejects ``response_format``), or None."""
        return self._cache.get(f"flag:{name}")

    def set_flag(self, name: str, value: Any) -> None:
        """Remember a fact about a server across jobs (JSON-serialisable ``value``)."""
        self._cache.set(f"flag:{name}", value)

    def __len__(self) -> int:
        return len(self._cache)

    def close(self) -> None:
        """Close the database connections."""
        self._cache.close()

    def __enter__(self) -> ResponseCache:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
