"""Benchmark: importing a large user CSV through the generation service in bounded memory.

Generates a CSV of ``--rows`` labelled texts (3 labels, 6–30 words each from a fixed
vocabulary, seeded; about 100 bytes a row, some duplicates and empty texts as in real files),
starts the generation service on loopback in a fresh subprocess per size, streams the file in
(``Upload``) and imports it (``ImportRealData``: validation, stratified split, both splits
written; after a 90-row warm-up import that loads the libraries), and reports per size: file
size, upload and import wall time, rows/s of the import,
and the peak RSS of the process (``ru_maxrss``) — client, service and HF ``datasets`` reader
together — and its peak anonymous RSS (``RssAnon``, sampled every 50 ms: the heap, without the
pages of the memory-mapped Arrow file, which the kernel can drop). Memory is bounded when the
peak grows far slower than the file: per row the import
keeps ~17 bytes of arrays, and the reader memory-maps an Arrow copy on disk.

Target: the peak RSS at the largest size is at most ``--max-rss-ratio`` (default 2.0) times
the peak at a tenth of it, and below ``--max-rss-mb`` (default 1500 MB); exit 1 otherwise.

Usage: ``.venv/bin/python benchmarks/import_data.py [--rows 1000000] [--json out.json]``
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

WORDS = ("the service was down again today and nobody answered my call about the invoice payment "
         "refund account password login error screen slow crash update billing charge twice card "
         "thanks great help quick fixed works now happy support team friendly").split()
LABELS = ("billing", "outage", "praise")


def write_csv(path: Path, rows: int, seed: int = 0) -> None:
    """``rows`` CSV rows ``text,category`` (0.5 % repeat the row before, 0.1 % have an empty text)."""
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("text,category\n")
        line = ""
        for i in range(rows):
            if not (line and rng.random() < 0.005):
                label = LABELS[i % 3]
                text = "" if rng.random() < 0.001 else f"{label} {i} " + " ".join(rng.choices(WORDS, k=rng.randint(6, 30)))
                line = f"{text},{label}\n"
            handle.write(line)


CHILD = r"""
import json, resource, sys, time
from pathlib import Path
from synthclf.clients import GenerationClient
from synthclf.core.config import Settings
from synthclf.server import start_server

import threading

peak_anon = [0]


def sample_anon():  # peak anonymous RSS (heap, not the memory-mapped Arrow file's pages)
    while True:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("RssAnon:"):
                    peak_anon[0] = max(peak_anon[0], int(line.split()[1]))
        time.sleep(0.05)


threading.Thread(target=sample_anon, daemon=True).start()
path, root = Path(sys.argv[1]), Path(sys.argv[2])
settings = Settings(artifact_store=str(root / "artifacts"), cache_dir=root / "cache")
running = start_server(["generation"], settings, port=0)
task = "name: tickets\nlabels:\n" + "".join(
    f"  - {{name: {n}, description: a ticket about {n}}}\n" for n in ("billing", "outage", "praise"))
warm = root / "warm-up.csv"
warm.write_text("text,category\n" + "".join(f"ticket {i} about {n},{n}\n" for i in range(30)
                                            for n in ("billing", "outage", "praise")))
try:
    with GenerationClient(running.address) as client:
        # warm-up: the first import loads datasets, pyarrow and the backbone's tokenizer
        client.import_real_data(client.publish_task(task).task.uri, upload_uri=client.upload(warm).upload.uri,
                                columns={"label": "category"})
        start = time.perf_counter()
        upload = client.upload(path).upload.uri
        uploaded = time.perf_counter()
        task_uri = client.publish_task(task).task.uri
        response = client.import_real_data(task_uri, upload_uri=upload, columns={"label": "category"})
        done = time.perf_counter()
finally:
    running.stop(grace_s=1)
print(json.dumps({"upload_s": uploaded - start, "import_s": done - uploaded,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "peak_anon_mb": peak_anon[0] / 1024,
                  "warnings": list(response.warnings)}))
"""


def measure(rows: int, scratch: Path) -> dict:
    """Generate, upload and import ``rows`` rows in a fresh process; its numbers."""
    path = scratch / f"tickets-{rows}.csv"
    write_csv(path, rows)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(["services", ".", os.environ.get("PYTHONPATH", "")])}
    load = os.getloadavg()[0]
    out = subprocess.run([sys.executable, "-c", CHILD, str(path), str(scratch / f"store-{rows}")],
                         capture_output=True, text=True, env=env, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result.update(rows=rows, file_mb=path.stat().st_size / 1e6, rows_per_s=rows / result["import_s"],
                  load_before=load, load_after=os.getloadavg()[0])
    path.unlink()
    return result


def main() -> int:
    """Write the files, import each, print rows/s and peak RSS; exit status 0."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the largest file")
    parser.add_argument("--max-rss-ratio", type=float, default=2.0)
    parser.add_argument("--max-rss-mb", type=float, default=1500.0)
    parser.add_argument("--json", help="write the numbers here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="synthclf-import-bench-") as tmp:
        results = [measure(n, Path(tmp)) for n in (args.rows // 10, args.rows)]
    for r in results:
        print(f"{r['rows']:>9} rows  {r['file_mb']:7.1f} MB  upload {r['upload_s']:6.1f} s  import "
              f"{r['import_s']:6.1f} s  {r['rows_per_s']:8.0f} rows/s  peak RSS {r['peak_rss_mb']:6.0f} MB "
              f"(anonymous {r['peak_anon_mb']:4.0f} MB)  "
              f"(load {r['load_before']:.1f} → {r['load_after']:.1f})")
    small, large = results
    ratio = large["peak_rss_mb"] / small["peak_rss_mb"]
    print(f"peak RSS ×{ratio:.2f} (anonymous ×{large['peak_anon_mb'] / small['peak_anon_mb']:.2f}) for ×10 rows "
          f"({large['file_mb'] / small['file_mb']:.1f}× the bytes)")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0 if ratio <= args.max_rss_ratio and large["peak_rss_mb"] <= args.max_rss_mb else 1


if __name__ == "__main__":
    sys.exit(main())
