"""Benchmark of the generation client: concurrency scaling, and end-to-end speed with the local LLM.

Client scaling (default): a loopback OpenAI-compatible server (``tests/integration/fault_server.py``)
answers every request after a fixed 200 ms; the generator runs zero-shot completion jobs with a
fresh response cache at concurrency 1, 8 and 32 (``10·N`` rows per label, two labels, so each run
should take about 4 s) and reports accepted rows/s. Target: speed-up at N ≥ 0.8·N over N = 1;
the exit status is 1 when a target is missed.

``--local-llm``: the same generator through ``GenerationCore`` against llama.cpp and a packaged
model (``LocalLLMServer``; default Qwen2.5-Coder-1.5B-Instruct, chat prompts), for each
``--threads`` × ``--n-batch``, reporting rows/min, the prompt and generation tokens/s that the
server logs, and the load average (the machine is shared).

Usage::

    .venv/bin/python benchmarks/generation.py [--levels 1 8 32] [--delay 0.2] [--json out.json]
    .venv/bin/python benchmarks/generation.py --local-llm [--rows 10] [--modes zero_shot few_shot] \\
        [--threads 1 2] [--n-batch 128 512] [--model gemma-3-270m]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "integration"))

from fault_server import FaultServer  # noqa: E402

from synthclf.core.catalog import get_task  # noqa: E402
from synthclf.generation.cache import ResponseCache  # noqa: E402
from synthclf.generation.generator import generate_rows  # noqa: E402
from synthclf.generation.llm import LLMClient  # noqa: E402
from synthclf.generation.prompts import PromptStyle  # noqa: E402
from synthclf.generation.spec import GenerationSpec  # noqa: E402
from synthclf.llm_server import DEFAULT_LOCAL_MODEL  # noqa: E402

TARGET = 0.8
"""Required speed-up at concurrency N, as a fraction of N."""


def run_once(base_url: str, model: str, rows_per_label: int, concurrency: int, cache_dir: Path,
             style: PromptStyle = PromptStyle.COMPLETION) -> dict:
    """One zero-shot SMS spam job; returns its counts plus accepted rows/s.

    Args:
        base_url: OpenAI-compatible base URL.
        model: model id.
        rows_per_label: rows wanted per label.
        concurrency: requests in flight.
        cache_dir: a fresh folder for the response cache (so every request reaches the server).
        style: prompt rendering.

    Returns:
        ``GenerationCounts`` as a dict, with ``rows_per_s`` (accepted rows / wall seconds).
    """
    spec = GenerationSpec(task="sms_spam", mode="zero_shot", rows_per_label=rows_per_label, model=model,
                          concurrency=concurrency, prompt_style=style, max_requests_per_label=4 * rows_per_label)
    with LLMClient(base_url, model, timeout_s=120, max_retries=2) as llm, ResponseCache(cache_dir) as cache:
        started = time.monotonic()
        result = generate_rows(get_task("sms_spam"), spec, llm, cache=cache)
        wall = time.monotonic() - started
    counts = result.counts.model_dump()
    return {**counts, "concurrency": concurrency, "wall_s": round(wall, 3),
            "rows_per_s": round(result.counts.accepted / wall, 2)}


def scaling(levels: list[int], delay_s: float) -> tuple[list[dict], bool]:
    """Accepted rows/s at each concurrency against a fixed-delay loopback server.

    Returns:
        (one result per level with ``speedup`` and ``target``, whether every target was met).
    """
    results, ok = [], True
    with FaultServer(delay_s=delay_s) as server, tempfile.TemporaryDirectory() as tmp:
        for level in levels:
            result = run_once(server.base_url, "fault-model", 10 * level, level, Path(tmp) / f"c{level}")
            results.append(result)
    base = results[0]["rows_per_s"] / levels[0]
    for result in results:
        n = result["concurrency"]
        result["speedup"] = round(result["rows_per_s"] / base, 2)
        result["target"] = round(TARGET * n, 2) if n > 1 else 1.0
        ok &= result["speedup"] >= result["target"]
    return results, ok


_PERF = re.compile(r"llama_perf_context_print:\s+(prompt eval|eval) time =\s+([\d.]+) ms /\s+(\d+) (?:tokens|runs)")


def server_speed(log_text: str) -> dict[str, float]:
    """Prompt and generation tokens/s summed over a llama.cpp server log's per-request timings.

    llama.cpp prints ``prompt eval time = T ms / N tokens`` and ``eval time = T ms / N runs``
    after each request (``llama_perf_context_print``); entries under 1 ms are skipped (a fully
    reused prompt, and the first request's prompt, whose time llama.cpp books as load time).

    Returns:
        ``prompt_tok_s``, ``gen_tok_s``, ``prompt_tokens``, ``gen_tokens``.
    """
    totals = {"prompt eval": [0.0, 0], "eval": [0.0, 0]}
    for kind, ms, count in _PERF.findall(log_text):
        if float(ms) >= 1.0:
            totals[kind][0] += float(ms)
            totals[kind][1] += int(count)
    speed = {f"{name}_tok_s": round(1000 * n / ms, 2) if ms else 0.0
             for name, (ms, n) in (("prompt", totals["prompt eval"]), ("gen", totals["eval"]))}
    return {**speed, "prompt_tokens": totals["prompt eval"][1], "gen_tokens": totals["eval"][1]}


def local_llm(rows_per_label: int, modes: list[str], store: Path | None, cache_dir: Path | None,
              budget_factor: int, model: str = DEFAULT_LOCAL_MODEL, threads: int = 2, n_batch: int = 512,
              task: str = "sms_spam") -> list[dict]:
    """End-to-end jobs through ``GenerationCore`` with llama.cpp and a packaged local model.

    Few-shot examples come from the task's real train split (``import_real_data``). The prompt
    style is the model's own (chat for Qwen2.5-Coder-1.5B-Instruct, completion for Gemma).

    Args:
        rows_per_label: rows wanted per label.
        modes: ``zero_shot`` and/or ``few_shot``.
        store: artifact store folder (None: a temporary one).
        cache_dir: cache folder for the response cache (None: a temporary one, so every request
            reaches the server; give one to make a long run resumable).
        budget_factor: requests allowed per label, as a multiple of ``rows_per_label``.
        model: alias of a packaged local model (``synthclf.llm_server.LOCAL_MODELS``).
        threads: llama.cpp threads (generation and prompt batches).
        n_batch: llama.cpp prompt batch size.
        task: catalog task with offline data.

    Returns:
        Per mode: the dataset URI, its manifest ``stats``, the server-side prompt and
        generation tokens/s (:func:`server_speed`) and the 1-minute load average before and after.
    """
    from synthclf.core.artifacts import read_manifest
    from synthclf.core.config import get_settings
    from synthclf.generation.service import GenerationCore
    from synthclf.llm_server import LocalLLMServer

    results = []
    with LocalLLMServer(get_settings().cache_dir, model=model, threads=threads, n_batch=n_batch) as server, \
            tempfile.TemporaryDirectory() as tmp:
        settings = get_settings().model_copy(update={
            "artifact_store": str(store or Path(tmp) / "artifacts"), "cache_dir": cache_dir or Path(tmp) / "cache",
            "llm_base_url": server.base_url, "llm_model": server.model.alias, "llm_timeout_s": 600.0,
            "llm_prompt_style": server.model.prompt_style, "llm_deterministic": True})
        core = GenerationCore(settings)
        train, _ = core.import_real_data(task)
        for mode in modes:
            spec = GenerationSpec(task=task, mode=mode, rows_per_label=rows_per_label,
                                  max_requests_per_label=budget_factor * rows_per_label)
            log_start = server.log_path.stat().st_size
            load_before = os.getloadavg()[0]
            ref = core.generate(spec, train.uri if mode == "few_shot" else "")
            with open(server.log_path, "rb") as handle:
                handle.seek(log_start)
                speed = server_speed(handle.read().decode(errors="replace"))
            results.append({"mode": mode, "model": model, "threads": threads, "n_batch": n_batch, "uri": ref.uri,
                            "load_before": round(load_before, 2), "load_after": round(os.getloadavg()[0], 2),
                            **speed, **read_manifest(ref.uri, settings).stats})
    return results


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print a table; exit 1 when a scaling target is missed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--levels", type=int, nargs="+", default=[1, 8, 32], help="concurrency levels (first = base)")
    parser.add_argument("--delay", type=float, default=0.2, help="server response delay, seconds")
    parser.add_argument("--local-llm", action="store_true", help="measure a local llama.cpp model instead")
    parser.add_argument("--model", default=DEFAULT_LOCAL_MODEL, help="--local-llm: packaged model alias")
    parser.add_argument("--task", default="sms_spam", help="--local-llm: catalog task")
    parser.add_argument("--threads", type=int, nargs="+", default=[2], help="--local-llm: llama.cpp threads to try")
    parser.add_argument("--n-batch", type=int, nargs="+", default=[512], help="--local-llm: prompt batch sizes to try")
    parser.add_argument("--rows", type=int, default=10, help="--local-llm: rows per label")
    parser.add_argument("--modes", nargs="+", default=["zero_shot"], choices=["zero_shot", "few_shot"],
                        help="--local-llm: generation modes")
    parser.add_argument("--store", type=Path, help="--local-llm: artifact store folder (default: temporary)")
    parser.add_argument("--cache-dir", type=Path, help="--local-llm: response cache parent (default: temporary)")
    parser.add_argument("--budget-factor", type=int, default=4, help="--local-llm: requests per label / rows")
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    if args.local_llm:
        results = []
        for threads in args.threads:
            for n_batch in args.n_batch:
                results += local_llm(args.rows, args.modes, args.store, args.cache_dir, args.budget_factor,
                                     model=args.model, threads=threads, n_batch=n_batch, task=args.task)
                if args.json:
                    args.json.write_text(json.dumps(results, indent=2))
        print("| model | threads | n_batch | mode | prompt tok/s | gen tok/s | rows | requests | rows/min | "
              "rejected | load before → after |")
        for r in results:
            rejected = ", ".join(f"{k} {v}" for k, v in r["rejected"].items() if v) or "none"
            print(f"| {r['model']} | {r['threads']} | {r['n_batch']} | {r['mode']} | {r['prompt_tok_s']} | "
                  f"{r['gen_tok_s']} | {r['accepted']} | {r['requested']} | {r['rows_per_min']} | {rejected} | "
                  f"{r['load_before']} → {r['load_after']} |")
        return 0
    results, ok = scaling(args.levels, args.delay)
    print(f"client scaling against a loopback server answering after {args.delay * 1000:.0f} ms")
    print(f"{'concurrency':>11} {'rows':>6} {'wall s':>8} {'rows/s':>8} {'speed-up':>9} {'target':>7}")
    for r in results:
        print(f"{r['concurrency']:>11} {r['accepted']:>6} {r['wall_s']:>8.2f} {r['rows_per_s']:>8.2f} "
              f"{r['speedup']:>9.2f} {r['target']:>7.2f}")
    print("target met" if ok else f"target missed: speed-up at N must be >= {TARGET}·N")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
