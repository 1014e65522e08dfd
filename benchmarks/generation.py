"""Benchmark of the generation client: concurrency scaling, and end-to-end speed with the local LLM.

Client scaling (default): a loopback OpenAI-compatible server (``tests/integration/fault_server.py``)
answers every request after a fixed 200 ms; the generator runs zero-shot completion jobs with a
fresh response cache at concurrency 1, 8 and 32 (``10·N`` rows per label, two labels, so each run
should take about 4 s) and reports accepted rows/s. Target: speed-up at N ≥ 0.8·N over N = 1;
the exit status is 1 when a target is missed.

``--local-llm``: the same generator against llama.cpp + Gemma-3-270M (``LocalLLMServer``), zero-shot
SMS spam, reporting rows/min and tokens/s (prompt + completion tokens from the API's usage).

Usage::

    .venv/bin/python benchmarks/generation.py [--levels 1 8 32] [--delay 0.2] [--json out.json]
    .venv/bin/python benchmarks/generation.py --local-llm [--rows 10]
"""

from __future__ import annotations

import argparse
import json
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


def local_llm(rows_per_label: int, modes: list[str], store: Path | None, cache_dir: Path | None,
              budget_factor: int) -> list[dict]:
    """End-to-end jobs through ``GenerationCore`` with llama.cpp + Gemma-3-270M (completion style).

    Few-shot examples come from the real SMS spam train split (``import_real_data``).

    Args:
        rows_per_label: rows wanted per label.
        modes: ``zero_shot`` and/or ``few_shot``.
        store: artifact store folder (None: a temporary one).
        cache_dir: cache folder for the response cache (None: a temporary one, so every request
            reaches the server; give one to make a long run resumable).
        budget_factor: requests allowed per label, as a multiple of ``rows_per_label``.

    Returns:
        Per mode: the dataset URI and its manifest ``stats``.
    """
    from synthclf.core.artifacts import read_manifest
    from synthclf.core.config import get_settings
    from synthclf.generation.service import GenerationCore
    from synthclf.llm_server import LOCAL_MODEL, LocalLLMServer

    results = []
    with LocalLLMServer(get_settings().cache_dir) as server, tempfile.TemporaryDirectory() as tmp:
        settings = get_settings().model_copy(update={
            "artifact_store": str(store or Path(tmp) / "artifacts"), "cache_dir": cache_dir or Path(tmp) / "cache",
            "llm_base_url": server.base_url, "llm_model": LOCAL_MODEL, "llm_timeout_s": 300.0})
        core = GenerationCore(settings)
        train, _ = core.import_real_data("sms_spam")
        for mode in modes:
            spec = GenerationSpec(task="sms_spam", mode=mode, rows_per_label=rows_per_label, concurrency=2,
                                  max_requests_per_label=budget_factor * rows_per_label)
            ref = core.generate(spec, train.uri if mode == "few_shot" else "")
            results.append({"mode": mode, "uri": ref.uri, **read_manifest(ref.uri, settings).stats})
    return results


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print a table; exit 1 when a scaling target is missed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--levels", type=int, nargs="+", default=[1, 8, 32], help="concurrency levels (first = base)")
    parser.add_argument("--delay", type=float, default=0.2, help="server response delay, seconds")
    parser.add_argument("--local-llm", action="store_true", help="measure the local Gemma server instead")
    parser.add_argument("--rows", type=int, default=10, help="--local-llm: rows per label")
    parser.add_argument("--modes", nargs="+", default=["zero_shot"], choices=["zero_shot", "few_shot"],
                        help="--local-llm: generation modes")
    parser.add_argument("--store", type=Path, help="--local-llm: artifact store folder (default: temporary)")
    parser.add_argument("--cache-dir", type=Path, help="--local-llm: response cache parent (default: temporary)")
    parser.add_argument("--budget-factor", type=int, default=4, help="--local-llm: requests per label / rows")
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    if args.local_llm:
        results = local_llm(args.rows, args.modes, args.store, args.cache_dir, args.budget_factor)
        for r in results:
            print(f"{r['mode']}: {r['accepted']} rows {r['accepted_per_label']} from {r['requested']} requests in "
                  f"{r['wall_time_s']} s: {r['rows_per_min']} rows/min, {r['tokens_per_s']} tokens/s "
                  f"(prompt {r['prompt_tokens']}, completion {r['completion_tokens']}); stopped: "
                  f"{r['stopped_reason']}; rejected {({k: v for k, v in r['rejected'].items() if v})}; {r['uri']}")
        if args.json:
            args.json.write_text(json.dumps(results, indent=2))
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
