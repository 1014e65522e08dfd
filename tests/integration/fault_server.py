"""A scripted OpenAI-compatible server on loopback, for fault injection (not an LLM).

It answers ``POST /v1/completions``, ``POST /v1/chat/completions`` and ``GET /v1/models`` with
made-up texts that depend only on the request's prompt and seed, after a fixed delay, and can
inject faults on chosen requests: HTTP 429 with ``Retry-After``, HTTP 500, a hang longer than
the client's timeout, junk output, a malformed body, or a 400 for ``response_format``.

It counts per request **key** (the prompt or messages plus the seed): attempts, and
*successful* requests — 200 answers with a completion, written while the client was still
connected (a client killed with ``kill -9`` closes its sockets, so an answer computed after
that is not a success). :meth:`FaultServer.hold_after` makes it stop answering once a number
of successes is reached, so a test can kill a client while requests are in flight but not
between an answer and its caching (that window is inherent to at-most-once delivery over HTTP).

Used by ``tests/integration/test_generation_service.py`` and ``benchmarks/generation.py``.
"""

from __future__ import annotations

import hashlib
import json
import random
import select
import socket
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

WORDS = ("meet call home late free prize win text reply now tonight dinner work train bus cash offer claim "
         "mobile ringtone weekly draw urgent account bank love miss soon later morning week friday shop").split()


@dataclass
class Faults:
    """Which requests get which fault: those whose seed is a multiple of ``every``, on their
    first ``times`` attempts. ``kind``: ``rate_limit`` (429 + Retry-After), ``server_error``
    (500), ``timeout`` (hang ``hang_s``), ``junk`` (200 with a non-text answer), ``bad_body``
    (200 with a body that is not JSON), or ``none``."""

    kind: str = "none"
    every: int = 3
    times: int = 1
    retry_after_s: float = 1.0
    hang_s: float = 3.0


@dataclass
class Log:
    """What the server saw, per request key (prompt/messages + seed)."""

    attempts: Counter = field(default_factory=Counter)
    successes: Counter = field(default_factory=Counter)
    times: dict = field(default_factory=lambda: defaultdict(list))
    faults: Counter = field(default_factory=Counter)
    prompts: list = field(default_factory=list)


def request_key(body: dict) -> str:
    """The server's key of a request: sha256 of its prompt or messages and seed."""
    what = body.get("prompt") if "prompt" in body else body.get("messages")
    return hashlib.sha256(json.dumps([what, body.get("seed")], sort_keys=True).encode()).hexdigest()


def made_up_text(body: dict, words: int = 10) -> str:
    """A text that depends only on the request's prompt and seed."""
    rng = random.Random(request_key(body))
    return " ".join(rng.choice(WORDS) for _ in range(words)) + f" {rng.randrange(10**6)}"


def _peer_closed(sock: socket.socket) -> bool:
    readable, _, _ = select.select([sock], [], [], 0)
    if not readable:
        return False
    try:
        return sock.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are separate writes: avoid the 40 ms delayed-ACK stall
    server: _Server

    def log_message(self, *_: object) -> None:
        """Keep test output quiet."""

    def _send(self, status: int, payload: object, headers: dict[str, str] | None = None) -> bool:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        if _peer_closed(self.connection):
            return False
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", "Content-Length": str(len(data)),
                            **(headers or {})}.items():  # fmt: skip
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)
        return True

    def do_GET(self) -> None:  # noqa: N802 (http.server naming)
        """``/v1/models``: the one model."""
        self._send(200, {"object": "list", "data": [{"id": self.server.model, "object": "model"}]})

    def do_POST(self) -> None:  # noqa: N802
        """A completion or chat completion, or the fault scheduled for this request."""
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        owner, key, chat = self.server.owner, request_key(body), self.path.endswith("/chat/completions")
        with owner.lock:
            attempt = owner.log.attempts[key]
            owner.log.attempts[key] += 1
            owner.log.times[key].append(time.monotonic())
            owner.log.prompts.append(body)
        owner.wait_while_held()
        faults = owner.faults
        seed = int(body.get("seed") or 0)
        faulty = faults.kind != "none" and seed % faults.every == 0 and attempt < faults.times
        if chat and body.get("response_format") and owner.reject_response_format:
            self._send(400, {"error": {"message": "response_format is not supported", "type": "invalid_request_error"}})
            return
        if faulty:
            with owner.lock:
                owner.log.faults[faults.kind] += 1
            if faults.kind == "rate_limit":
                self._send(429, {"error": {"message": "slow down"}}, {"Retry-After": str(faults.retry_after_s)})
                return
            if faults.kind == "server_error":
                self._send(500, {"error": {"message": "boom"}})
                return
            if faults.kind == "timeout":
                time.sleep(faults.hang_s)
                self._send(500, {"error": {"message": "too late"}})
                return
            if faults.kind == "bad_body":
                self._send(200, b"<html>502 Bad Gateway</html>")
                return
        time.sleep(owner.delay_s)
        structured = chat and bool(body.get("response_format"))
        if faulty and faults.kind == "junk":
            text = "{not json" if structured else "@#!"
        else:
            text = json.dumps({"text": made_up_text(body)}) if structured else made_up_text(body)
        prompt_tokens = len(json.dumps(body.get("prompt") or body.get("messages")).split())
        prompt_tokens, completion_tokens = owner.usage or (prompt_tokens, len(text.split()))
        usage = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                 "total_tokens": prompt_tokens + completion_tokens}
        choice = ({"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"} if chat
                  else {"index": 0, "text": f" {text}", "finish_reason": "stop", "logprobs": None})  # fmt: skip
        reply = {"id": f"fault-{key[:8]}", "object": "chat.completion" if chat else "text_completion",
                 "created": int(time.time()), "model": self.server.model, "choices": [choice], "usage": usage}  # fmt: skip
        if self._send(200, reply):
            with owner.lock:
                owner.log.successes[key] += 1
                owner.successes_total += 1


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256
    owner: FaultServer
    model: str


class FaultServer:
    """The server in a background thread.

    Args:
        delay_s: seconds before every normal answer.
        faults: which requests get which fault.
        model: model id it reports.
        reject_response_format: answer 400 to chat requests carrying ``response_format``.
        usage: fixed (prompt_tokens, completion_tokens) reported per answer; None counts words.
    """

    def __init__(self, delay_s: float = 0.0, faults: Faults | None = None, model: str = "fault-model",
                 reject_response_format: bool = False, usage: tuple[int, int] | None = None):
        self.delay_s = delay_s
        self.usage = usage
        self.faults = faults or Faults()
        self.reject_response_format = reject_response_format
        self.log = Log()
        self.lock = threading.Lock()
        self.successes_total = 0
        self._hold_after: int | None = None
        self._released = threading.Event()
        self._released.set()
        self.holding = threading.Event()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.owner, self._server.model = self, model
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>/v1``."""
        return f"http://127.0.0.1:{self._server.server_port}/v1"

    def hold_after(self, successes: int) -> None:
        """Stop answering new requests once ``successes`` have succeeded (until :meth:`release`)."""
        self._hold_after = successes
        self._released.clear()

    def wait_while_held(self) -> None:
        """Block a handler while the server holds (called before answering)."""
        with self.lock:
            held = self._hold_after is not None and self.successes_total >= self._hold_after
        if held:
            self.holding.set()
            self._released.wait()

    def release(self) -> None:
        """Answer again."""
        self._hold_after = None
        self._released.set()

    def repeated_successes(self) -> dict[str, int]:
        """Keys answered successfully more than once (should be empty after a resumed job)."""
        return {key: n for key, n in self.log.successes.items() if n > 1}

    def __enter__(self) -> FaultServer:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.release()
        self._server.shutdown()
        self._server.server_close()
