#!/usr/bin/env bash
# Benchmark of llama.cpp build flags for the local LLM (benchmarks/README.md "llama.cpp builds").
#
# Builds upstream's llama-bench from the llama.cpp that llama-cpp-python 0.3.36 vendors (its
# sdist, from PyPI), once per instruction-set configuration, then runs each build on the same
# GGUF in one run: prompt processing (pp, tokens/s from a fresh KV cache) and token generation
# (tg, tokens/s), per thread count × n_batch, r repetitions (mean ± sd, llama-bench's own
# statistics), and prints each build's speed as a ratio to the shipped build (-DGGML_NATIVE=OFF,
# which compiles AVX2/FMA/F16C and no AVX-512).
#
#   bash benchmarks/llama_builds.sh [MODEL.gguf]   (default: the packaged Qwen2.5-Coder-1.5B GGUF)
#
# Settings (environment): WORK (build folder; default /tmp/synthclf-llama-builds), BUILDS
# (default "avx2 avxvnni avx512 native"), THREADS (default 1,2), N_BATCH (default 64,512),
# PROMPT (pp tokens; default 192, a few-shot chat prompt), GEN (tg tokens; default 32, one JSON
# row), REPS (default 2). Builds take 4-12 min each on 2 vCPUs; run on a quiet machine.
set -euo pipefail
cd "$(dirname "$0")/.."
python=.venv/bin/python
model="${1:-$(.venv/bin/synthclf llm path 2>/dev/null || true)}"
[[ -f "$model" ]] || { echo "no GGUF at '$model' (run make setup, or pass a path)" >&2; exit 2; }
work="${WORK:-/tmp/synthclf-llama-builds}"
builds=(${BUILDS:-avx2 avxvnni avx512 native})
declare -A flags=(
    [avx2]="-DGGML_NATIVE=OFF"
    [avxvnni]="-DGGML_NATIVE=OFF -DGGML_AVX_VNNI=ON"
    [avx512]="-DGGML_NATIVE=OFF -DGGML_AVX512=ON -DGGML_AVX512_VBMI=ON -DGGML_AVX512_VNNI=ON -DGGML_AVX512_BF16=ON"
    [native]="-DGGML_NATIVE=ON"
)
mkdir -p "$work"
if [[ ! -d "$work/src" ]]; then
    .venv/bin/pip download --quiet --no-deps --no-binary :all: llama-cpp-python==0.3.36 -d "$work"
    tar -xzf "$work"/llama_cpp_python-0.3.36.tar.gz -C "$work"
    ln -s "$work/llama_cpp_python-0.3.36/vendor/llama.cpp" "$work/src"
fi
for build in "${builds[@]}"; do
    [[ -x "$work/build-$build/bin/llama-bench" ]] && continue
    echo "==> building llama-bench ($build: ${flags[$build]})"
    start=$SECONDS
    cmake -S "$work/src" -B "$work/build-$build" -DCMAKE_BUILD_TYPE=Release -DLLAMA_CURL=OFF \
        -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF \
        -DBUILD_SHARED_LIBS=OFF ${flags[$build]} > "$work/cmake-$build.log"
    cmake --build "$work/build-$build" --target llama-bench -j "$(nproc)" > "$work/build-$build.log"
    echo "    built in $((SECONDS - start)) s"
done
echo "==> load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for build in "${builds[@]}"; do
    "$work/build-$build/bin/llama-bench" -m "$model" -t "${THREADS:-1,2}" -b "${N_BATCH:-64,512}" \
        -p "${PROMPT:-192}" -n "${GEN:-32}" -r "${REPS:-2}" -o jsonl 2> "$work/bench-$build.err" \
        | sed "s/^/{\"build\": \"$build\", \"row\": /; s/\$/}/" \
        || echo "{\"build\": \"$build\", \"failed\": $?}"
done > "$work/results.jsonl"
echo "==> load after: $(cut -d' ' -f1-3 /proc/loadavg)"
$python - "$work/results.jsonl" <<'EOF'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
failed = [r["build"] for r in rows if "failed" in r]
table = {}
for r in rows:
    if "row" not in r:
        continue
    x = r["row"]
    test = f"pp{x['n_prompt']}" if x["n_prompt"] else f"tg{x['n_gen']}"
    table[(r["build"], x["n_threads"], x["n_batch"], test)] = (x["avg_ts"], x["stddev_ts"])
print("| build | threads | n_batch | test | tokens/s | × avx2 |")
print("|---|---:|---:|---|---:|---:|")
for (build, threads, batch, test), (mean, sd) in sorted(table.items(), key=lambda kv: kv[0][1:] + (kv[0][0],)):
    base = table.get(("avx2", threads, batch, test), (None,))[0]
    ratio = f"{mean / base:.2f}" if base else "—"
    print(f"| {build} | {threads} | {batch} | {test} | {mean:.1f} ± {sd:.1f} | {ratio} |")
if failed:
    print("failed (crashed or refused):", ", ".join(failed))
EOF
