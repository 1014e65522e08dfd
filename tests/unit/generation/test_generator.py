"""generate_rows against a scripted LLM stand-in; parse_output; LLMClient error mapping."""

from __future__ import annotations

import json
import threading
import time
import zlib
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from synthclf.core.errors import InvalidInput, ResourceExhausted, Unavailable
from synthclf.core.progress import Progress
from synthclf.generation.generator import GenerationSpec, generate_rows, parse_output
from synthclf.generation.llm import LLMClient, LLMOutput
from synthclf.generation.prompts import DIVERSITY_PROMPT, IMITATION_INSTRUCTION, PromptStyle
from generation_fakes import Task



class ScriptedLLM:
    """Answers from a script, in order; records every call."""

    def __init__(self, answers: Sequence[str | Exception]):
        self.answers = list(answers)
        self.calls: list[dict] = []

    def _next(self, kind: str, payload: object, **kwargs: object) -> LLMOutput:
        self.calls.append({"kind": kind, "payload": payload, **kwargs})
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return LLMOutput(text=answer, prompt_tokens=10, completion_tokens=5)

    def complete(self, prompt: str, **kwargs: object) -> LLMOutput:
        return self._next("complete", prompt, **kwargs)

    def chat(self, messages: list[dict[str, str]], **kwargs: object) -> LLMOutput:
        return self._next("chat", messages, **kwargs)


def spec(**overrides: object) -> GenerationSpec:
    fields = {"task": "sms_spam", "mode": "zero_shot", "rows_per_label": 2, "model": "gemma-3-270m-q4_k_m.gguf"}
    return GenerationSpec.validated(**{**fields, **overrides})


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (" Call me when you get home ", ("Call me when you get home", None)),
        ('- "Call me when you get home"', ("Call me when you get home", None)),
        ("2) “Running late, sorry”\n", ("Running late, sorry", None)),
        ("* • 'ok see you'", ("ok see you", None)),
        ("Hi\nthere  you", ("Hi there you", None)),
        ("", (None, "empty")),
        ('  - ""  ', (None, "empty")),
        ("ok", (None, "too_short")),
        (" ".join(["word"] * 11), (None, "too_long")),
    ],
)
def test_parse_output(raw: str, expected: tuple) -> None:
    assert parse_output(raw, min_words=2, max_words=10) == expected


def test_zero_shot_completion_counts_rows_and_stops_at_rows_per_label() -> None:
    llm = ScriptedLLM(["see you at 6 tonight", "ok", "see you at 6 tonight!", "running late sorry",
                       "WIN a free cruise now", "claim your prize today"])  # fmt: skip
    events: list[Progress] = []
    result = generate_rows(Task(), spec(), llm, progress=events.append)

    assert [(r["label"], r["text"]) for r in result.rows] == [
        ("ham", "see you at 6 tonight"), ("ham", "running late sorry"),
        ("spam", "WIN a free cruise now"), ("spam", "claim your prize today"),
    ]  # fmt: skip
    assert [r["request_index"] for r in result.rows] == [0, 3, 4, 5]
    assert {r["split"] for r in result.rows} == {"train"}
    assert {r["prompt_style"] for r in result.rows} == {"completion"}
    c = result.counts
    assert (c.requested, c.accepted, c.prompt_tokens, c.completion_tokens) == (6, 4, 60, 30)
    assert c.rejected == {"empty": 0, "too_short": 1, "too_long": 0, "copy_of_example": 0, "duplicate": 1}
    assert c.accepted_per_label == {"ham": 2, "spam": 2}
    assert all(call["kind"] == "complete" and call["stop"] == ["\n"] for call in llm.calls)
    assert [call["seed"] for call in llm.calls] == [0, 1, 2, 3, 4, 5]
    assert llm.calls[0]["max_tokens"] == 120
    assert llm.calls[1]["payload"].endswith("- see you at 6 tonight\n-")
    assert [e.done for e in events] == [1, 2, 3, 4, 5, 6]
    assert events[-1].total == 6 and events[-1].metrics["accepted"] == 4
    assert events[-1].metrics["rejected"] == 2 and events[-1].metrics["tokens"] == 90


def test_request_budget_caps_each_label() -> None:
    llm = ScriptedLLM(["no"] * 6)
    events: list[Progress] = []
    result = generate_rows(Task(), spec(max_requests_per_label=3), llm, progress=events.append)
    assert result.rows == []
    assert result.counts.requested == 6 and result.counts.rejected["too_short"] == 6
    assert [e.total for e in events] == [6] * 6


def test_default_budget_is_four_times_rows() -> None:
    assert spec(rows_per_label=5).request_budget == 20
    result = generate_rows(Task(), spec(rows_per_label=1), ScriptedLLM(["x"] * 8))
    assert result.counts.requested == 8


def test_few_shot_rejects_copies_and_uses_seeded_draws() -> None:
    examples = {"ham": ["are you coming home tonight"], "spam": ["Free entry to win a car"]}
    answers = ["Are you coming home tonight?", "home soon, need milk?", "FREE ENTRY to win a car!!", "txt WIN to 8007"]
    llm = ScriptedLLM(answers)
    result = generate_rows(Task(), spec(mode="few_shot", rows_per_label=1), llm, examples=examples)
    assert [r["text"] for r in result.rows] == ["home soon, need milk?", "txt WIN to 8007"]
    assert result.counts.rejected["copy_of_example"] == 2
    assert {r["mode"] for r in result.rows} == {"few_shot"}
    assert "- are you coming home tonight\n-" in llm.calls[0]["payload"]


def test_few_shot_draws_are_reproducible() -> None:
    pool = {"ham": [f"ham example {i}" for i in range(20)], "spam": [f"spam example {i}" for i in range(20)]}
    runs = []
    for _ in range(2):
        llm = ScriptedLLM([f"fresh text {i}" for i in range(4)])
        generate_rows(Task(), spec(mode="few_shot", prompt_style="chat", seed=7), llm, examples=pool)
        runs.append([call["payload"][-1]["content"] for call in llm.calls])
    assert runs[0] == runs[1]
    assert IMITATION_INSTRUCTION in runs[0][0]
    assert runs[0][0].count("ham example") == 3


def test_few_shot_without_examples_is_invalid() -> None:
    with pytest.raises(InvalidInput, match="spam"):
        generate_rows(Task(), spec(mode="few_shot"), ScriptedLLM([]), examples={"ham": ["hello there"]})


def test_chat_style_and_diversity_every_n() -> None:
    llm = ScriptedLLM([f"message number {i}" for i in range(8)])
    result = generate_rows(Task(), spec(rows_per_label=4, prompt_style="chat", diversity_every=2), llm)
    assert result.prompt_style is PromptStyle.CHAT and result.counts.accepted == 8
    diversified = [DIVERSITY_PROMPT in call["payload"][-1]["content"] for call in llm.calls]
    assert diversified == [False, True, False, True] * 2
    assert [m["content"] for m in llm.calls[1]["payload"] if m["role"] == "assistant"] == ["message number 0"]
    assert all(call["kind"] == "chat" and call["payload"][0]["role"] == "system" for call in llm.calls)


def test_duplicates_across_labels_are_rejected() -> None:
    llm = ScriptedLLM(["call me later please", "Call me later, please.", "totally new words here"])
    result = generate_rows(Task(), spec(rows_per_label=1), llm)
    assert result.counts.rejected["duplicate"] == 1
    assert [r["label"] for r in result.rows] == ["ham", "spam"]


def test_spec_validation_and_task_mismatch() -> None:
    with pytest.raises(InvalidInput, match="rows_per_label"):
        spec(rows_per_label=0)
    with pytest.raises(InvalidInput, match="mode"):
        spec(mode="two_shot")
    with pytest.raises(InvalidInput, match="imdb"):
        generate_rows(Task(), spec(task="imdb"), ScriptedLLM([]))
    with pytest.raises(InvalidInput, match="model is empty"):
        generate_rows(Task(), spec(model=""), ScriptedLLM([]))


def test_unavailable_llm_propagates() -> None:
    llm = ScriptedLLM(["fine text here", Unavailable("LLM server at x unreachable")])
    with pytest.raises(Unavailable):
        generate_rows(Task(), spec(), llm)


def test_llm_client_unreachable_raises_unavailable_quickly() -> None:
    client = LLMClient("http://127.0.0.1:9/v1", "gemma-3-270m", timeout_s=2.0, max_retries=0)
    started = time.monotonic()
    with pytest.raises(Unavailable, match="127.0.0.1:9/v1 unreachable"):
        client.complete("Hello", max_tokens=4, temperature=0.0)
    with pytest.raises(Unavailable, match="unreachable"):
        client.chat([{"role": "user", "content": "hi"}], max_tokens=4, temperature=0.0)
    with pytest.raises(Unavailable):
        client.ping()
    client.close()
    assert time.monotonic() - started < 6.0


@pytest.mark.parametrize(("status", "error"), [(429, ResourceExhausted), (500, Unavailable), (404, Unavailable)])
def test_llm_client_maps_http_status(status: int, error: type) -> None:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server naming)
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            body = json.dumps({"error": {"message": f"status {status}"}}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        client = LLMClient(f"http://127.0.0.1:{server.server_port}/v1", "m", timeout_s=2.0, max_retries=0)
        with pytest.raises(error, match=str(status)):
            client.complete("Hello", max_tokens=4, temperature=0.0)
        client.close()
    finally:
        server.shutdown()
        server.server_close()


class CopyingLLM:
    """A base model's failure mode, made deterministic: the output depends on the prompt alone,
    and two prompts in three make it copy a listed item (a duplicate) instead of writing anew."""

    def __init__(self) -> None:
        self.fresh = 0

    def complete(self, prompt: str, **kwargs: object) -> LLMOutput:
        items = [line[2:] for line in prompt.splitlines() if line.startswith("- ")]
        if items and zlib.crc32(prompt.encode()) % 3:
            return LLMOutput(text=f" {items[0]}", prompt_tokens=10, completion_tokens=5)
        self.fresh += 1
        return LLMOutput(text=f" message number {self.fresh} here", prompt_tokens=10, completion_tokens=5)


def test_zero_shot_completion_lists_vary_so_a_label_cannot_stall() -> None:
    # With a fixed list (the last outputs) a copying prompt repeats forever; a fresh random
    # sample of earlier outputs per request changes the prompt and lets the label finish.
    result = generate_rows(Task(), spec(rows_per_label=12, max_requests_per_label=200), CopyingLLM())
    assert result.counts.accepted_per_label == {"ham": 12, "spam": 12}
    assert result.counts.rejected["duplicate"] > 0
