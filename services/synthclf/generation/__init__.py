"""Generation service: synthetic labelled texts from an LLM, zero-shot or few-shot (Li et al. 2023, §3.1).

Modules: ``spec`` (job parameters and counts), ``prompts`` (the paper's prompts, chat and
completion renderings), ``llm`` (OpenAI-compatible client, retries, error kinds), ``runner``
(concurrency, response cache, structured-output fallback), ``cache`` (durable response cache),
``parsing`` (line and JSON output parsing), ``dedup`` (exact, MinHash near-duplicate and copy
checks), ``accounting`` (tokens, cost, budget, ``prices.yaml``), ``generator`` (the plan/commit
loop), ``service`` (idempotent jobs and dataset artifacts), ``servicer`` (gRPC).
"""
