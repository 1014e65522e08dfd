"""generate_rows against scripted LLM stand-ins: plan, judging, concurrency, resume, budget."""

from __future__ import annotations

import json
import time
import zlib

import pytest
from generation_fakes import ScriptedLLM, SeededLLM, Task

from synthclf.core.errors import InvalidInput, Unavailable
from synthclf.core.progress import Progress
from synthclf.generation.accounting import Price
from synthclf.generation.cache import ResponseCache
from synthclf.generation.generator import REJECT_REASONS, GenerationSpec, generate_rows, request_seed
from synthclf.generation.llm import LLMOutput, LLMRateLimited, LLMRequestRejected, LLMUnavailable
from synthclf.generation.prompts import DIVERSITY_PROMPT, IMITATION_INSTRUCTION, PromptStyle


def spec(**overrides: object) -> GenerationSpec:
    fields = {"task": "sms_spam", "mode": "zero_shot", "rows_per_label": 2, "model": "gemma-3-270m-q4_k_m.gguf",
              "concurrency": 1}  # fmt: skip
    return GenerationSpec.validated(**{**fields, **overrides})


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
    assert c.rejected["too_short"] == 1 and c.rejected["duplicate"] == 1
    assert sum(c.rejected.values()) == 2 and c.stopped_reason == "completed"
    assert c.accepted_per_label == {"ham": 2, "spam": 2} and c.requested_per_label == {"ham": 4, "spam": 2}
    assert all(call["kind"] == "complete" and call["stop"] == ["\n"] for call in llm.calls)
    labels = ["ham"] * 4 + ["spam"] * 2
    assert [call["seed"] for call in llm.calls] == [request_seed(0, label, i) for i, label in enumerate(labels)]
    assert llm.calls[0]["max_tokens"] == 120
    assert result.prompt_samples["first"] == llm.calls[0]["payload"]
    assert [e.done for e in events] == [1, 2, 3, 4, 5, 6]
    assert events[-1].total == 6 and events[-1].metrics["accepted"] == 4
    assert events[-1].metrics["rejected"] == 2 and events[-1].metrics["tokens"] == 90
    assert events[-1].metrics["rejected_duplicate"] == 1 and "rows_per_min" in events[-1].metrics


def test_request_budget_caps_each_label() -> None:
    llm = ScriptedLLM(["no"] * 6)
    events: list[Progress] = []
    result = generate_rows(Task(), spec(max_requests_per_label=3), llm, progress=events.append)
    assert result.rows == []
    assert result.counts.requested == 6 and result.counts.rejected["too_short"] == 6
    assert result.counts.stopped_reason == "request_budget"
    assert [e.total for e in events] == [6] * 6


def test_default_budget_is_four_times_rows() -> None:
    assert spec(rows_per_label=5).request_budget == 20
    result = generate_rows(Task(), spec(rows_per_label=1), ScriptedLLM(["x"] * 8))
    assert result.counts.requested == 8


def test_few_shot_rejects_copies_and_rewrites_of_examples() -> None:
    examples = {"ham": ["are you coming home tonight"], "spam": ["Free entry to win a car, text WIN to 80086 now"]}
    answers = ["Are you coming home tonight?", "home soon, need milk?",
               "FREE entry to win a new car: text WIN to 80086 today", "txt WIN to 8007"]  # fmt: skip
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
        generate_rows(Task(), spec(mode="few_shot", prompt_style="chat", structured_output=False, seed=7),
                      llm, examples=pool)  # fmt: skip
        runs.append([call["payload"][-1]["content"] for call in llm.calls])
    assert runs[0] == runs[1]
    assert IMITATION_INSTRUCTION in runs[0][0]
    assert runs[0][0].count("ham example") == 3


def test_few_shot_without_examples_is_invalid() -> None:
    with pytest.raises(InvalidInput, match="spam"):
        generate_rows(Task(), spec(mode="few_shot"), ScriptedLLM([]), examples={"ham": ["hello there"]})


def test_chat_style_and_diversity_every_n() -> None:
    llm = ScriptedLLM([f"message number {i} is {'x' * i}" for i in range(8)])
    result = generate_rows(Task(), spec(rows_per_label=4, prompt_style="chat", diversity_every=2,
                                        structured_output=False), llm)  # fmt: skip
    assert result.prompt_style is PromptStyle.CHAT and result.counts.accepted == 8
    diversified = [DIVERSITY_PROMPT in call["payload"][-1]["content"] for call in llm.calls]
    assert diversified == [False, True, False, True] * 2
    assert [m["content"] for m in llm.calls[1]["payload"] if m["role"] == "assistant"] == ["message number 0 is"]
    assert all(call["kind"] == "chat" and call["payload"][0]["role"] == "system" for call in llm.calls)
    assert "response_format" not in llm.calls[0] and not result.structured_output
    assert result.prompt_samples["diversity"] == llm.calls[1]["payload"]


def test_plain_chat_output_loses_its_preamble() -> None:
    llm = ScriptedLLM(["Here is a message:\n\nCall me when you land", "Sure:\nWIN cash now, reply YES"])
    result = generate_rows(Task(), spec(rows_per_label=1, prompt_style="chat", structured_output=False), llm)
    assert [r["text"] for r in result.rows] == ["Call me when you land", "WIN cash now, reply YES"]


def test_refusals_and_preambles_are_rejected_and_counted() -> None:
    answers = [json.dumps({"text": "I'm sorry, but I can't help with creating that.", "label": "ham"}),
               json.dumps({"text": "Sure, here's a ham message: see you at 6", "label": "ham"}),
               json.dumps({"text": "I'm sorry I'm late, see you at 6", "label": "ham"}),
               "As an AI language model, I cannot write spam.",
               json.dumps({"text": "WIN a free cruise, reply YES", "label": "spam"})]  # fmt: skip
    result = generate_rows(Task(), spec(rows_per_label=1, prompt_style="chat"), ScriptedLLM(answers))
    assert [r["text"] for r in result.rows] == ["I'm sorry I'm late, see you at 6", "WIN a free cruise, reply YES"]
    rejected = result.counts.rejected
    assert (rejected["refusal"], rejected["preamble"], rejected["parse_error"]) == (1, 1, 1)
    assert list(rejected) == list(REJECT_REASONS)


def test_structured_chat_output_is_parsed_and_wrong_labels_rejected() -> None:
    answers = [json.dumps({"text": "see you at the station at 6", "label": "ham"}),
               json.dumps({"text": "you won a prize call now", "label": "ham"}),
               "not json at all",
               json.dumps({"text": "WIN a free cruise, reply YES", "label": "spam"})]  # fmt: skip
    llm = ScriptedLLM(answers)
    result = generate_rows(Task(), spec(rows_per_label=1, prompt_style="chat"), llm)
    assert result.structured_output
    assert [r["text"] for r in result.rows] == ["see you at the station at 6", "WIN a free cruise, reply YES"]
    assert result.counts.rejected["wrong_label"] == 1 and result.counts.rejected["parse_error"] == 1
    assert llm.calls[0]["response_format"]["type"] == "json_object"  # llama-cpp-python 0.3.36 rejects json_schema
    schema = llm.calls[0]["response_format"]["schema"]
    assert schema["properties"]["label"]["enum"] == ["ham", "spam"]
    assert '"label"' in llm.calls[0]["payload"][-1]["content"]


def test_structured_output_falls_back_to_plain_when_the_server_rejects_it(tmp_path) -> None:
    class NoSchemaLLM(ScriptedLLM):
        def chat(self, messages, **kwargs):
            if kwargs.get("response_format"):
                self.calls.append({"kind": "rejected", "payload": messages, **kwargs})
                raise LLMRequestRejected("response_format is not supported", 400)
            return super().chat(messages, **kwargs)

    llm = NoSchemaLLM(["call me when you land", "WIN cash now reply YES"])
    with ResponseCache(tmp_path) as cache:
        result = generate_rows(Task(), spec(rows_per_label=1, prompt_style="chat"), llm, cache=cache)
        assert not result.structured_output and "response_format" in result.structured_output_note
        assert [c["kind"] for c in llm.calls] == ["rejected", "chat", "chat"]
        assert '"label"' not in llm.calls[1]["payload"][-1]["content"]
        assert result.counts.accepted == 2 and result.counts.rejected["request_failed"] == 0
        again = generate_rows(Task(), spec(rows_per_label=1, prompt_style="chat"), NoSchemaLLM([]), cache=cache)
    assert again.rows == result.rows and again.counts.cache_hits == 2


def test_near_duplicates_are_rejected_and_threshold_one_disables_them() -> None:
    answers = ["please call me back when you get home from work today",
               "please call me back when you get home from work tonight",
               "totally different words in this message here",
               "free prize waiting claim now by texting WIN"]  # fmt: skip
    result = generate_rows(Task(), spec(rows_per_label=1), ScriptedLLM(list(answers)))
    assert result.counts.rejected["near_duplicate"] == 1
    assert [r["text"] for r in result.rows] == [answers[0], answers[2]]
    loose = generate_rows(Task(), spec(rows_per_label=1, near_duplicate_threshold=1.0), ScriptedLLM(list(answers)))
    assert [r["text"] for r in loose.rows] == answers[:2]


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
    with pytest.raises(InvalidInput, match="concurrency"):
        spec(concurrency=0)
    with pytest.raises(InvalidInput, match="imdb"):
        generate_rows(Task(), spec(task="imdb"), ScriptedLLM([]))
    with pytest.raises(InvalidInput, match="model is empty"):
        generate_rows(Task(), spec(model=""), ScriptedLLM([]))
    with pytest.raises(InvalidInput, match="no price"):
        generate_rows(Task(), spec(max_cost_usd=1.0), ScriptedLLM([]))


@pytest.mark.parametrize("error", [LLMUnavailable("x timed out", "timeout"), LLMRateLimited("429"),
                                   LLMRequestRejected("too long", 400), Unavailable("down")])  # fmt: skip
def test_failed_requests_are_counted_and_the_job_goes_on(error: Exception) -> None:
    llm = ScriptedLLM(["fine text here", error, "another fine text", "last fine text"])
    result = generate_rows(Task(), spec(rows_per_label=1), llm)
    assert result.counts.accepted == 2 and result.counts.rejected["request_failed"] == 1
    assert result.counts.failures == {getattr(error, "kind", "unavailable"): 1}


def test_too_many_failures_in_a_row_abort_and_refusal_is_fatal() -> None:
    down = LLMUnavailable("LLM server at x unreachable", "unreachable")
    with pytest.raises(Unavailable, match="3 LLM requests in a row failed"):
        generate_rows(Task(), spec(max_consecutive_failures=3), ScriptedLLM(["fine text here", down, down, down]))
    with pytest.raises(Unavailable, match="401"):
        generate_rows(Task(), spec(), ScriptedLLM([LLMUnavailable("HTTP 401 bad key", "refused", 401)]))


@pytest.mark.parametrize("style", ["completion", "chat"])
def test_output_is_deterministic_under_random_timing(style: str) -> None:
    def run(concurrency: int) -> list[tuple]:
        llm = SeededLLM(delay_s=0.01, json_output=True)
        job = spec(rows_per_label=12, concurrency=concurrency, prompt_style=style, diversity_every=3)
        result = generate_rows(Task(), job, llm)
        sent = sorted((c["seed"], json.dumps(c["payload"])) for c in llm.calls)
        return [(r["request_index"], r["label"], r["text"]) for r in result.rows], sent

    serial, parallel = run(1), run(6)
    assert len(serial[0]) == 24
    assert run(1) == serial and run(6) == parallel  # same concurrency: same requests and rows


def test_concurrency_overlaps_requests() -> None:
    class SlowLLM(SeededLLM):
        def complete(self, prompt: str, **kwargs: object) -> LLMOutput:
            time.sleep(0.05)
            return super().complete(prompt, **kwargs)

    started = time.monotonic()
    result = generate_rows(Task(), spec(rows_per_label=8, concurrency=8), SlowLLM())
    assert result.counts.accepted == 16 and time.monotonic() - started < 16 * 0.05 / 2


def test_a_rerun_replays_from_the_cache_without_calling_the_llm(tmp_path) -> None:
    with ResponseCache(tmp_path) as cache:
        first = generate_rows(Task(), spec(rows_per_label=5, concurrency=3), SeededLLM(), cache=cache)
        idle = SeededLLM()
        again = generate_rows(Task(), spec(rows_per_label=5, concurrency=3), idle, cache=cache)
    assert idle.calls == [] and again.rows == first.rows
    assert again.counts.cache_hits == again.counts.requested == first.counts.requested
    assert (again.counts.prompt_tokens, again.counts.completion_tokens) == (first.counts.prompt_tokens,
                                                                          first.counts.completion_tokens)
    assert len({r["request_id"] for r in first.rows}) == len(first.rows)


def test_failed_requests_are_never_cached(tmp_path) -> None:
    failing = SeededLLM(fail_seeds={request_seed(0, "ham", 2)}, error=LLMUnavailable("boom", "server_error", 500))
    with ResponseCache(tmp_path) as cache:
        first = generate_rows(Task(), spec(rows_per_label=3, concurrency=3), failing, cache=cache)
        assert first.counts.rejected["request_failed"] == 1 and first.counts.failures == {"server_error": 1}
        healthy = SeededLLM()
        again = generate_rows(Task(), spec(rows_per_label=3, concurrency=3), healthy, cache=cache)
    # the failed request is sent again; 0 and 1 come from the cache
    assert healthy.calls[0]["seed"] == request_seed(0, "ham", 2)
    assert again.counts.cache_hits >= 2 and again.counts.rejected["request_failed"] == 0
    assert len(healthy.calls) == again.counts.requested - again.counts.cache_hits


@pytest.mark.parametrize("concurrency", [1, 4])
def test_token_budget_stops_within_one_request(concurrency: int) -> None:
    llm = SeededLLM(usage=(10, 5))
    result = generate_rows(Task(), spec(rows_per_label=50, concurrency=concurrency, max_tokens_total=100), llm)
    c = result.counts
    assert c.stopped_reason == "max_tokens_total"
    assert 100 - 15 < c.tokens <= 100 and len(llm.calls) == c.requested == 6
    assert len(result.rows) == 6


def test_money_budget_uses_the_price() -> None:
    price = Price(prompt_per_mtok=1_000.0, completion_per_mtok=2_000.0)  # 0.01 + 0.01 USD per request
    result = generate_rows(Task(), spec(rows_per_label=50, concurrency=4, max_cost_usd=0.05), SeededLLM(), price=price)
    assert result.counts.stopped_reason == "max_cost_usd"
    assert result.counts.cost_usd == pytest.approx(0.04) and result.counts.requested == 2


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
        return LLMOutput(text=f" message number {self.fresh} {'here ' * (self.fresh % 7)}and {self.fresh * 7919}",
                         prompt_tokens=10, completion_tokens=5)  # fmt: skip


def test_zero_shot_completion_lists_vary_so_a_label_cannot_stall() -> None:
    # With a fixed list (the last outputs) a copying prompt repeats forever; a fresh random
    # sample of earlier outputs per request changes the prompt and lets the label finish.
    result = generate_rows(Task(), spec(rows_per_label=12, max_requests_per_label=200), CopyingLLM())
    assert result.counts.accepted_per_label == {"ham": 12, "spam": 12}
    assert result.counts.rejected["duplicate"] > 0
