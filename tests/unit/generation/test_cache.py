"""The durable response cache: key canonicality, storage, survival across processes."""

from __future__ import annotations

import subprocess
import sys

from synthclf.generation.cache import ResponseCache, request_key
from synthclf.generation.llm import LLMOutput

BASE = {"base_url": "http://127.0.0.1:8000/v1", "model": "gpt-4o-mini", "endpoint": "chat.completions",
        "prompt": [{"role": "user", "content": "hi"}],
        "params": {"max_tokens": 80, "temperature": 0.9, "stop": None, "response_format": None},
        "seed": 3, "request_index": 3}  # fmt: skip


def test_key_is_stable_and_sensitive_to_every_field() -> None:
    key = request_key(**BASE)
    assert len(key) == 64 and key == request_key(**{**BASE, "base_url": BASE["base_url"] + "/"})
    assert key == request_key(**{**BASE, "params": dict(reversed(list(BASE["params"].items())))})
    variants = [
        {"base_url": "http://127.0.0.1:8001/v1"}, {"model": "gpt-4o"}, {"endpoint": "completions"},
        {"prompt": [{"role": "user", "content": "hi!"}]}, {"params": {**BASE["params"], "temperature": 1.0}},
        {"params": {**BASE["params"], "response_format": {"type": "json_schema"}}}, {"seed": 4},
        {"request_index": 4},
    ]  # fmt: skip
    keys = {request_key(**{**BASE, **change}) for change in variants}
    assert len(keys) == len(variants) and key not in keys


def test_put_get_and_flags(tmp_path) -> None:
    output = LLMOutput(text="héllo", prompt_tokens=7, completion_tokens=3, finish_reason="stop", usage_reported=True)
    with ResponseCache(tmp_path / "c") as cache:
        assert cache.get("missing") is None
        cache.put("k", output)
        assert cache.get("k") == output
        cache.set_flag("response_format_unsupported:x", "HTTP 400")
        assert cache.get_flag("response_format_unsupported:x") == "HTTP 400"
        assert cache.get_flag("other") is None


def test_an_entry_survives_a_killed_writer(tmp_path) -> None:
    code = (
        "import os, sys; from synthclf.generation.cache import ResponseCache;"
        "from synthclf.generation.llm import LLMOutput;"
        f"c = ResponseCache({str(tmp_path)!r}); c.put('k', LLMOutput(text='kept', prompt_tokens=1));"
        "os.kill(os.getpid(), 9)"
    )
    result = subprocess.run([sys.executable, "-c", code], check=False)
    assert result.returncode == -9
    with ResponseCache(tmp_path) as cache:
        assert cache.get("k") == LLMOutput(text="kept", prompt_tokens=1)
