"""Raw llama.cpp throughput of a packaged GGUF: prompt and generation tokens/s (llama-bench style).

For each ``--threads`` × ``--n-batch``: load the model in-process with llama-cpp-python
(the build the server uses), evaluate a ``--prompt-tokens``-token prompt from a fresh KV cache
(prompt processing, ``pp``), then decode ``--gen-tokens`` tokens one at a time (greedy; ``tg``).
Each is repeated ``--repeats`` times; the best run is reported, with the 1-minute load average
before and after (the development machine is shared). The prompt is real text: a few-shot SMS
spam request as the generation service renders it.

Usage::

    .venv/bin/python benchmarks/llm_tokens.py [--model qwen2.5-coder-1.5b-instruct] \\
        [--threads 1 2] [--n-batch 64 512] [--prompt-tokens 256] [--gen-tokens 32] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path


def _prompt_text() -> str:
    from synthclf.core.catalog import get_task
    from synthclf.core.corpora import load_real_dataset
    from synthclf.generation.prompts import PromptTemplate

    task = get_task("sms_spam")
    real = load_real_dataset("sms_spam")
    examples = real[real["label"] == "spam"]["text"].head(12).tolist()
    template = PromptTemplate.for_label(task, "spam", max_words=task.max_words)
    return "\n".join(m["content"] for m in template.render_chat(examples, False, []))


def measure(model_path: Path, threads: int, n_batch: int, prompt_tokens: int, gen_tokens: int,
            repeats: int) -> dict:
    """Best-of-``repeats`` prompt and generation tokens/s for one configuration.

    Returns:
        ``threads``, ``n_batch``, ``pp_tok_s``, ``tg_tok_s``, ``load_before``, ``load_after``.

    Raises:
        ValueError: the rendered prompt has fewer than ``prompt_tokens`` tokens.
    """
    from llama_cpp import Llama

    load_before = os.getloadavg()[0]
    llm = Llama(str(model_path), n_ctx=prompt_tokens + gen_tokens + 8, n_threads=threads,
                n_threads_batch=threads, n_batch=n_batch, n_ubatch=n_batch, verbose=False, seed=0)
    tokens = llm.tokenize(_prompt_text().encode())
    if len(tokens) < prompt_tokens:
        raise ValueError(f"the prompt has {len(tokens)} tokens, fewer than {prompt_tokens}")
    tokens = tokens[:prompt_tokens]
    pp, tg = [], []
    for _ in range(repeats):
        llm.reset()
        llm._ctx.kv_cache_clear()
        started = time.perf_counter()
        llm.eval(tokens)
        pp.append(prompt_tokens / (time.perf_counter() - started))
        started = time.perf_counter()
        for _ in range(gen_tokens):
            llm.eval([llm.sample(temp=0.0)])
        tg.append(gen_tokens / (time.perf_counter() - started))
    llm.close()
    return {"threads": threads, "n_batch": n_batch, "pp_tok_s": round(max(pp), 2), "tg_tok_s": round(max(tg), 2),
            "load_before": round(load_before, 2), "load_after": round(os.getloadavg()[0], 2)}


def main(argv: list[str] | None = None) -> int:
    """Run the grid and print a Markdown table."""
    from synthclf.core.config import get_settings
    from synthclf.llm_server import DEFAULT_LOCAL_MODEL, local_model

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=DEFAULT_LOCAL_MODEL, help="packaged model alias")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--n-batch", type=int, nargs="+", default=[64, 512])
    parser.add_argument("--prompt-tokens", type=int, default=256)
    parser.add_argument("--gen-tokens", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    path = local_model(args.model).locate(get_settings().cache_dir)
    results = []
    print("| model | threads | n_batch | prompt tok/s (pp) | generation tok/s (tg) | load before → after |")
    for threads in args.threads:
        for n_batch in args.n_batch:
            r = measure(path, threads, n_batch, args.prompt_tokens, args.gen_tokens, args.repeats)
            results.append({"model": args.model, **r})
            print(f"| {args.model} | {threads} | {n_batch} | {r['pp_tok_s']} | {r['tg_tok_s']} | "
                  f"{r['load_before']} → {r['load_after']} |", flush=True)
            if args.json:
                args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
