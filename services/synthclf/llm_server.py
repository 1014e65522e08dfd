"""The local LLM: llama.cpp's OpenAI-compatible server with a packaged GGUF on loopback.

Two models ship as PyPI packages (README "The local LLM"):

* **Qwen2.5-Coder-1.5B-Instruct** Q4_K_M (default): instruction-tuned, so the generation
  service sends it the paper's chat prompts with JSON structured output;
* **Gemma-3-270M** Q4_K_M: a base model, sent completion-style list prompts; selectable with
  ``SYNTHCLF_LLM_LOCAL_MODEL=gemma-3-270m``.

The server runs with a single slot (llama-cpp-python's server answers one request at a time)
and honours each request's ``seed``, so a generation job with concurrency 1 is reproducible
for a seed, model file and llama.cpp build.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from synthclf.core.errors import InvalidInput, Unavailable
from synthclf.core.models import gemma_gguf_path, qwen_coder_gguf_path

log = logging.getLogger("synthclf.llm")


@dataclass(frozen=True)
class LocalModel:
    """A GGUF that ships in packages and the way to prompt it.

    Attributes:
        alias: the model name the server answers to (``--model_alias``) and jobs record.
        title: human-readable name, quantisation included.
        prompt_style: ``chat`` (instruction-tuned) or ``completion`` (base model).
        licence: the licence as published upstream (model card).
        locate: ``cache_dir -> GGUF path``, assembling the file on first use.
    """

    alias: str
    title: str
    prompt_style: str
    licence: str
    locate: Callable[[Path], Path]


LOCAL_MODELS: dict[str, LocalModel] = {
    "qwen2.5-coder-1.5b-instruct": LocalModel(
        "qwen2.5-coder-1.5b-instruct", "Qwen2.5-Coder-1.5B-Instruct Q4_K_M", "chat",
        "Apache-2.0 (as published upstream on its model card)", qwen_coder_gguf_path),
    "gemma-3-270m": LocalModel(
        "gemma-3-270m", "Gemma-3-270M (base) Q4_K_M", "completion",
        "Gemma Terms of Use (as published upstream)", gemma_gguf_path),
}
"""The packaged local models by alias."""
DEFAULT_LOCAL_MODEL = "qwen2.5-coder-1.5b-instruct"
"""The local model served unless ``SYNTHCLF_LLM_LOCAL_MODEL`` names another."""
#: Model name the default local server answers to (kept for callers of the old constant).
LOCAL_MODEL = DEFAULT_LOCAL_MODEL


def local_model(name: str = DEFAULT_LOCAL_MODEL) -> LocalModel:
    """The packaged model called ``name``.

    Raises:
        InvalidInput: no packaged model has that alias (the message lists them).
    """
    if name not in LOCAL_MODELS:
        raise InvalidInput(f"unknown local LLM {name!r} (SYNTHCLF_LLM_LOCAL_MODEL); packaged: {', '.join(LOCAL_MODELS)}")
    return LOCAL_MODELS[name]


def free_port(host: str = "127.0.0.1") -> int:
    """An unused TCP port on ``host``."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class LocalLLMServer:
    """Starts ``python -m llama_cpp.server`` and waits until ``/v1/models`` answers.

    Args:
        cache_dir: where the GGUF is assembled.
        host: bind address (loopback by default).
        port: 0 picks a free port.
        threads: llama.cpp threads; default all cores.
        n_ctx: context length in tokens (2048: prompts here are short).
        model: alias of a :data:`LOCAL_MODELS` entry.
        n_batch: prompt tokens evaluated per llama.cpp batch (``--n_batch``).

    Raises:
        InvalidInput: unknown ``model``. NotReady: its packages are not installed.
    """

    def __init__(self, cache_dir: Path, host: str = "127.0.0.1", port: int = 0,
                 threads: int | None = None, n_ctx: int = 2048, model: str = DEFAULT_LOCAL_MODEL,
                 n_batch: int = 512):
        self.model = local_model(model)
        self.model_path = self.model.locate(cache_dir)
        self.n_batch = n_batch
        self.host = host
        self.port = port or free_port(host)
        self.threads = threads or os.cpu_count() or 1
        self.n_ctx = n_ctx
        # One log per server: several servers may share a cache folder (tests, benchmarks).
        self.log_path = Path(cache_dir) / f"llm-server-{self.port}.log"
        self.process: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        """OpenAI-compatible base URL, e.g. ``http://127.0.0.1:8000/v1``."""
        return f"http://{self.host}:{self.port}/v1"

    def start(self, timeout_s: float = 120.0) -> "LocalLLMServer":
        """Start the server and block until it answers.

        Raises:
            Unavailable: it exited or did not answer within ``timeout_s``.
        """
        command = [sys.executable, "-m", "llama_cpp.server", "--model", str(self.model_path),
                   "--model_alias", self.model.alias, "--n_ctx", str(self.n_ctx),
                   "--n_threads", str(self.threads), "--n_threads_batch", str(self.threads),
                   "--n_batch", str(self.n_batch), "--host", self.host, "--port", str(self.port)]
        log.info("starting local LLM %s on %s (log: %s)", self.model_path.name, self.base_url, self.log_path)
        with open(self.log_path, "wb") as log_file:
            self.process = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                err = self.log_path.read_text(errors="replace")[-2000:]
                raise Unavailable(f"llama.cpp server exited with {self.process.returncode}: {err}")
            try:
                if httpx.get(f"{self.base_url}/models", timeout=2).status_code == 200:
                    log.info("local LLM ready at %s", self.base_url)
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        self.stop()
        raise Unavailable(f"llama.cpp server did not answer on {self.base_url} within {timeout_s:.0f} s")

    def stop(self) -> None:
        """Terminate the server (SIGTERM, then SIGKILL after 10 s)."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def __enter__(self) -> "LocalLLMServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
