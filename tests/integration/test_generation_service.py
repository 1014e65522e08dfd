"""The generation service against real servers on loopback.

* A scripted OpenAI-compatible server (``fault_server.py``; fault injection only): 429 with
  Retry-After, 500s, timeouts and junk are survived; failures after the retries are counted, not
  fatal; ``kill -9`` of a running job and a re-run repeat no successful request (counted at the
  server); budget caps stop within one request; structured output and its fallback; a user's
  catalog override of the prompts reaches the server; the gRPC stream's progress events.
* The real local LLM (llama.cpp, ``@pytest.mark.llm``): with Gemma-3-270M (the smallest model
  here, completion prompts) zero- and few-shot give labelled rows for every label; two fresh
  generations (fresh server, empty response cache, same seed) through the chat + ``json_object``
  path publish byte-identical datasets, and a remote-style server's manifest says it is not
  reproducible.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fault_server import Faults, FaultServer

from synthclf.core.artifacts import fetch, read_manifest
from synthclf.core.config import Settings, get_settings
from synthclf.core.errors import Unavailable
from synthclf.core.schema import read_jsonl
from synthclf.generation.prompts import PromptStyle
from synthclf.generation.service import GenerationCore
from synthclf.generation.spec import GenerationMode, GenerationSpec

CHILD = """
import sys
from synthclf.core.config import get_settings
from synthclf.generation.service import GenerationCore
from synthclf.generation.spec import GenerationSpec
GenerationCore(get_settings()).generate(GenerationSpec.model_validate_json(sys.argv[1]))
"""


@pytest.fixture(autouse=True)
def _store_of_the_test(tmp_path, monkeypatch):
    """The environment's store is the test's (``settings_for(tmp_path)``): reads without
    explicit settings (``fetch(uri)``) may only name artifacts of the configured store."""
    monkeypatch.setenv("SYNTHCLF_ARTIFACT_STORE", str(tmp_path / "artifacts"))


def settings_for(root: Path, server: FaultServer | None = None, timeout_s: float = 5.0) -> Settings:
    return Settings(artifact_store=str(root / "artifacts"), cache_dir=root / "cache", llm_timeout_s=timeout_s,
                    llm_base_url=server.base_url if server else None, llm_model="fault-model")  # fmt: skip


def spec_for(**fields) -> GenerationSpec:
    base = {"task": "sms_spam", "mode": GenerationMode.ZERO_SHOT, "rows_per_label": 3, "concurrency": 4,
            "prompt_style": PromptStyle.COMPLETION}  # fmt: skip
    return GenerationSpec(**{**base, **fields})


def stats_of(ref, settings: Settings | None = None) -> dict:
    return read_manifest(ref.uri, settings).stats


@pytest.mark.parametrize(
    ("kind", "reason"), [("rate_limit", None), ("server_error", None), ("timeout", None), ("junk", "too_short")]
)
def test_transient_faults_and_junk_are_survived(tmp_path, kind: str, reason: str | None) -> None:
    faults = Faults(kind=kind, every=3, times=1, retry_after_s=1.0, hang_s=2.0)
    with FaultServer(faults=faults) as server:
        core = GenerationCore(settings_for(tmp_path, server, timeout_s=0.5))
        stats = stats_of(core.generate(spec_for(max_retries=2)))
        faulted = [key for key, n in server.log.attempts.items() if n > 1]
    assert stats["accepted_per_label"] == {"ham": 3, "spam": 3} and stats["rejected"]["request_failed"] == 0
    assert server.log.faults[kind] >= 2
    if reason:  # junk is a successful answer: cached and rejected, never retried
        assert stats["rejected"][reason] == server.log.faults[kind] and not faulted
        return
    gaps = [server.log.times[key][1] - server.log.times[key][0] for key in faulted]
    assert len(faulted) == server.log.faults[kind]
    if kind == "rate_limit":  # Retry-After: 1 s, longer than the SDK's first backoff (≤ 0.5 s)
        assert min(gaps) >= 0.95
    elif kind == "server_error":  # exponential backoff 0.5 s minus up to 25 % jitter
        assert all(0.35 <= gap < 2.0 for gap in gaps)
    else:  # the 0.5 s timeout, then the backoff
        assert min(gaps) >= 0.5 + 0.35
    assert not server.repeated_successes()


def test_permanent_failures_are_counted_and_the_job_publishes(tmp_path) -> None:
    with FaultServer(faults=Faults(kind="server_error", every=4, times=99)) as server:
        core = GenerationCore(settings_for(tmp_path, server))
        stats = stats_of(core.generate(spec_for(max_retries=1)))
        with FaultServer(faults=Faults(kind="bad_body", every=4, times=99)) as junk_server:
            junk_settings = settings_for(tmp_path / "b", junk_server)  # another store
            junk = stats_of(GenerationCore(junk_settings).generate(spec_for()), junk_settings)
    assert stats["accepted_per_label"] == {"ham": 3, "spam": 3}
    assert stats["rejected"]["request_failed"] == stats["failures"]["server_error"] >= 1
    assert junk["failures"]["bad_response"] == junk["rejected"]["request_failed"] >= 1
    assert junk["accepted"] == 6


def test_kill_9_and_rerun_repeat_no_successful_request(tmp_path) -> None:
    job = spec_for(rows_per_label=10, concurrency=4)
    with FaultServer(delay_s=0.3) as server:
        settings = settings_for(tmp_path, server)
        env = {**os.environ, "SYNTHCLF_ARTIFACT_STORE": settings.artifact_store,
               "SYNTHCLF_CACHE_DIR": str(settings.cache_dir), "SYNTHCLF_LLM_BASE_URL": server.base_url,
               "SYNTHCLF_LLM_MODEL": "fault-model"}  # fmt: skip
        server.hold_after(8)
        child = subprocess.Popen([sys.executable, "-c", CHILD, job.model_dump_json()], env=env)
        try:
            assert server.holding.wait(90), "the job never reached the server"
            time.sleep(0.5)  # let the client cache the answers it has received
            os.kill(child.pid, signal.SIGKILL)
            assert child.wait(10) == -signal.SIGKILL
        finally:
            if child.poll() is None:
                child.kill()
        before = server.successes_total
        server.release()
        ref = GenerationCore(settings).generate(job)
    stats = stats_of(ref)
    assert server.repeated_successes() == {}
    assert before >= 8 and stats["cache_hits"] == before
    assert stats["accepted"] == 20 and stats["requested"] == server.successes_total


@pytest.mark.parametrize("cap", [{"max_tokens_total": 1020}, {"max_cost_usd": 1.02}])
def test_budget_cap_stops_within_one_request(tmp_path, cap: dict) -> None:
    with FaultServer(usage=(40, 10)) as server:  # 50 tokens per request; 1000 USD/1M tokens: 0.05 USD
        core = GenerationCore(settings_for(tmp_path, server))
        job = spec_for(rows_per_label=100, concurrency=8, price_prompt_per_mtok=1000.0,
                       price_completion_per_mtok=1000.0, **cap)  # fmt: skip
        ref = core.generate(job)
    stats = stats_of(ref)
    assert stats["stopped_reason"] == next(iter(cap))
    assert stats["tokens"] == 1000 and stats["cost_usd"] == pytest.approx(1.0)
    assert stats["requested"] == server.successes_total == 20
    assert len(read_jsonl(fetch(ref.uri).path / "data.jsonl")) == stats["accepted"] == 20


@pytest.mark.parametrize("supported", [True, False])
def test_structured_output_and_its_fallback(tmp_path, supported: bool) -> None:
    with FaultServer(reject_response_format=not supported) as server:
        core = GenerationCore(settings_for(tmp_path, server))
        ref = core.generate(spec_for(prompt_style=PromptStyle.CHAT))
        sent = [body for body in server.log.prompts if "messages" in body]
    stats = stats_of(ref)
    assert stats["accepted"] == 6 and stats["structured_output"] is supported
    assert ("response_format" in stats["structured_output_note"]) is not supported
    assert sent[0]["response_format"]["type"] == "json_object" and "schema" in sent[0]["response_format"]
    assert all("response_format" in body for body in sent) is supported
    rows = [json.loads(line) for line in (fetch(ref.uri).path / "data.jsonl").read_text().splitlines()]
    assert {"request_id", "request_index", "mode", "label", "model", "prompt_style"} <= set(rows[0])
    assert not rows[0]["text"].startswith("{")


def test_a_users_catalog_override_of_the_prompts_is_used(tmp_path, monkeypatch) -> None:
    with FaultServer() as server:
        core = GenerationCore(settings_for(tmp_path, server))
        default_ref = core.generate(spec_for(rows_per_label=1))
        override = tmp_path / "my_catalog.yaml"
        override.write_text(
            "tasks:\n  sms_spam:\n    context_prompt: You are Zorblax, texting from the moon.\n"
            "    generation_prompt: 'Write a lunar SMS that is {label_description}, under {max_words} words.'\n"
        )
        monkeypatch.setenv("SYNTHCLF_CATALOG", str(override))
        ref = core.generate(spec_for(rows_per_label=1))
        last = server.log.prompts[-1]["prompt"]
    assert ref.id != default_ref.id
    assert "Zorblax" in last and "Zorblax" not in json.dumps(server.log.prompts[0])
    prompts = read_manifest(ref.uri).parameters["prompts"]
    assert prompts["context_prompt"].startswith("You are Zorblax")
    assert prompts["per_label"]["spam"].startswith("Write a lunar SMS that is an unsolicited")
    assert "Zorblax" in stats_of(ref)["prompt_samples"]["first"]


def test_generate_rpc_streams_progress_then_the_dataset(tmp_path) -> None:
    from synthclf.clients import GenerationClient
    from synthclf.server import start_server

    events = []
    with FaultServer(faults=Faults(kind="junk", every=5)) as server:
        running = start_server(["generation"], settings_for(tmp_path, server), port=0)
        try:
            with GenerationClient(running.address) as client:
                ref = client.generate("sms_spam", mode="zero_shot", rows_per_label=4, prompt_style="completion",
                                      concurrency=3, max_retries=0, max_tokens_total=10**6, progress=events.append)
        finally:
            running.stop(grace_s=1)
    assert ref.kind == "dataset" and events
    last = events[-1].metrics
    for key in ("requested", "accepted", "rejected", "rejected_too_short", "tokens", "cost_usd", "rows_per_min"):
        assert key in last, key
    assert last["accepted"] == 8 and last["rejected_too_short"] >= 1
    stats = read_manifest(ref.uri).stats
    assert stats["accepted"] == 8 and stats["rejected"]["too_short"] == last["rejected_too_short"]
    assert read_manifest(ref.uri).parameters["concurrency"] == 3


def test_unreachable_server_fails_fast_and_publishes_nothing(tmp_path) -> None:
    core = GenerationCore(settings_for(tmp_path).model_copy(update={"llm_base_url": "http://127.0.0.1:9/v1"}))
    started = time.monotonic()
    with pytest.raises(Unavailable, match="unreachable"):
        core.generate(spec_for())
    assert time.monotonic() - started < 10 and not (tmp_path / "artifacts" / "dataset").exists()


@pytest.fixture(scope="module")
def local_llm():
    from synthclf.llm_server import LocalLLMServer

    with LocalLLMServer(get_settings().cache_dir, model="gemma-3-270m") as server:
        yield server


@pytest.mark.llm
def test_local_llm_zero_and_few_shot_give_rows_for_every_label(local_llm, tmp_path) -> None:
    settings = Settings(artifact_store=str(tmp_path / "artifacts"), cache_dir=tmp_path / "cache",
                        llm_base_url=local_llm.base_url, llm_model="gemma-3-270m", llm_timeout_s=120)  # fmt: skip
    core = GenerationCore(settings)
    train, _ = core.import_real_data("sms_spam", max_train_rows=200, max_test_rows=20)
    for mode, examples_uri in ((GenerationMode.ZERO_SHOT, ""), (GenerationMode.FEW_SHOT, train.uri)):
        job = GenerationSpec(task="sms_spam", mode=mode, rows_per_label=2, max_requests_per_label=12, concurrency=2)
        ref = core.generate(job, examples_uri)
        stats = stats_of(ref)
        rows = read_jsonl(fetch(ref.uri).path / "data.jsonl")
        assert set(rows["label"]) == {"ham", "spam"}, (mode, stats["rejected"])
        assert stats["prompt_style"] == "completion" and stats["prompt_tokens"] > 0 and stats["wall_time_s"] > 0


def _fresh_generation(root: Path, job: GenerationSpec) -> tuple[str, dict]:
    """One generation on a fresh local server with an empty response cache: (data sha256, stats)."""
    from synthclf.llm_server import LocalLLMServer

    # One thread: no spinning barrier, so a loaded CI machine slows it least (benchmarks/README.md).
    with LocalLLMServer(get_settings().cache_dir, model="gemma-3-270m", threads=1) as server:
        settings = Settings(artifact_store=str(root / "artifacts"), cache_dir=root / "cache",
                            llm_base_url=server.base_url, llm_model="gemma-3-270m", llm_timeout_s=300,
                            llm_deterministic=True, llm_server_id="local:gemma-3-270m")  # fmt: skip
        ref = GenerationCore(settings).generate(job)
    manifest = read_manifest(ref.uri, settings)
    (entry,) = [f for f in manifest.files if f.path == "data.jsonl"]
    return entry.sha256, manifest.stats


@pytest.mark.llm
def test_two_fresh_generations_with_one_seed_publish_identical_datasets(tmp_path) -> None:
    # The chat + json_object path of the default model, on the smallest model that serves it:
    # the grammar keeps even a base model's output JSON. Temperature 1: sampling really matters.
    job = GenerationSpec(task="sms_spam", mode=GenerationMode.ZERO_SHOT, rows_per_label=1, max_requests_per_label=2,
                         max_words=20, prompt_style=PromptStyle.CHAT, temperature=1.0, seed=7, diversity_every=2)
    first_sha, first = _fresh_generation(tmp_path / "first", job)
    again_sha, again = _fresh_generation(tmp_path / "again", job)
    assert first["structured_output"] and first["cache_hits"] == again["cache_hits"] == 0
    assert first["requested"] == again["requested"] > 0 and first["rejected"] == again["rejected"]
    assert first["accepted"] > 0 and first["completion_tokens"] == again["completion_tokens"]
    assert first_sha == again_sha
    assert first["reproducibility"]["reproducible"] is True
    other_seed_sha, _ = _fresh_generation(tmp_path / "other", job.model_copy(update={"seed": 8}))
    assert other_seed_sha != first_sha


def test_the_manifest_says_when_generation_is_not_reproducible(tmp_path) -> None:
    with FaultServer() as server:
        ref = GenerationCore(settings_for(tmp_path, server)).generate(spec_for(concurrency=1))
        assert stats_of(ref)["reproducibility"]["reproducible"] is False
        assert "not guaranteed" in stats_of(ref)["reproducibility"]["note"]
        deterministic = settings_for(tmp_path, server).model_copy(update={"llm_deterministic": True})
        ref = GenerationCore(deterministic).generate(spec_for(concurrency=4))
    assert stats_of(ref)["reproducibility"] == {
        "reproducible": False, "note": stats_of(ref)["reproducibility"]["note"]}
    assert "concurrency 1" in stats_of(ref)["reproducibility"]["note"]
