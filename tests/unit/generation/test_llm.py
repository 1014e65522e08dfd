"""LLMClient against tiny loopback HTTP servers: error kinds, usage, response_format."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from synthclf.core.errors import InvalidInput, ResourceExhausted, Unavailable
from synthclf.generation.llm import LLMClient, LLMRateLimited, LLMRequestRejected, LLMUnavailable

Reply = Callable[[dict], tuple[int, dict]]


@contextmanager
def http_server(reply: Reply, seen: list[dict] | None = None) -> Iterator[str]:
    """A loopback server answering every POST with ``reply(body)``; yields its base URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server naming)
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            if seen is not None:
                seen.append(body)
            status, payload = reply(body)
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/v1"
    finally:
        server.shutdown()
        server.server_close()


def test_llm_client_unreachable_raises_unavailable_quickly() -> None:
    client = LLMClient("http://127.0.0.1:9/v1", "gemma-3-270m", timeout_s=2.0, max_retries=0)
    started = time.monotonic()
    with pytest.raises(LLMUnavailable, match="LLM server .* is unreachable") as caught:
        client.complete("Hello", max_tokens=4, temperature=0.0)
    assert caught.value.kind == "unreachable"
    assert "127.0.0.1:9" not in caught.value.message  # the URL is logged, never answered
    with pytest.raises(Unavailable, match="unreachable"):
        client.chat([{"role": "user", "content": "hi"}], max_tokens=4, temperature=0.0)
    with pytest.raises(Unavailable):
        client.ping()
    client.close()
    assert time.monotonic() - started < 6.0


@pytest.mark.parametrize(
    ("status", "error", "kind"),
    [(429, LLMRateLimited, "rate_limited"), (500, LLMUnavailable, "server_error"),
     (404, LLMUnavailable, "refused"), (401, LLMUnavailable, "refused"), (400, LLMRequestRejected, "rejected"),
     (422, LLMRequestRejected, "rejected")],
)  # fmt: skip
def test_llm_client_maps_http_status(status: int, error: type, kind: str) -> None:
    with http_server(lambda body: (status, {"error": {"message": f"status {status}"}})) as url:
        with LLMClient(url, "m", timeout_s=2.0, max_retries=0) as client, pytest.raises(error, match=str(status)) as caught:
            client.complete("Hello", max_tokens=4, temperature=0.0)
    assert caught.value.kind == kind
    family = {LLMRateLimited: ResourceExhausted, LLMRequestRejected: InvalidInput, LLMUnavailable: Unavailable}
    assert isinstance(caught.value, family[error])


def test_timeout_is_its_own_kind() -> None:
    def slow(body: dict) -> tuple[int, dict]:
        time.sleep(1.0)
        return 200, {}

    with http_server(slow) as url, LLMClient(url, "m", timeout_s=0.2, max_retries=0) as client:
        with pytest.raises(LLMUnavailable, match="timed out") as caught:
            client.complete("Hello", max_tokens=4, temperature=0.0)
    assert caught.value.kind == "timeout"


def test_usage_and_response_format_are_passed_through() -> None:
    seen: list[dict] = []

    def answer(body: dict) -> tuple[int, dict]:
        message = {"role": "assistant", "content": '{"text": "hi", "label": "ham"}'}
        reply = {"id": "x", "object": "chat.completion", "created": 0, "model": "m",
                 "choices": [{"index": 0, "message": message, "finish_reason": "stop"}]}  # fmt: skip
        if len(seen) == 1:
            reply["usage"] = {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}
        return 200, reply

    fmt = {"type": "json_schema", "json_schema": {"name": "t", "schema": {"type": "object"}}}
    with http_server(answer, seen) as url, LLMClient(url, "m", max_retries=0) as client:
        first = client.chat([{"role": "user", "content": "hi"}], max_tokens=4, temperature=0.0, response_format=fmt)
        second = client.chat([{"role": "user", "content": "hi"}], max_tokens=4, temperature=0.0, seed=3)
    assert (first.prompt_tokens, first.completion_tokens, first.usage_reported) == (7, 3, True)
    assert (second.prompt_tokens, second.usage_reported) == (0, False)
    assert seen[0]["response_format"] == fmt and "response_format" not in seen[1] and seen[1]["seed"] == 3
