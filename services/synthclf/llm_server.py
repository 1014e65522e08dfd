"""The local LLM: llama.cpp's OpenAI-compatible server with Gemma-3-270M on loopback.

Gemma-3-270M (base, not instruction-tuned, GGUF Q4_K_M) is the only LLM available offline
here (design.md); the generation service uses completion-style prompts for it.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from synthclf.core.errors import Unavailable
from synthclf.core.models import gemma_gguf_path

log = logging.getLogger("synthclf.llm")
#: Model name the server answers to (``--model_alias``).
LOCAL_MODEL = "gemma-3-270m"


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
    """

    def __init__(self, cache_dir: Path, host: str = "127.0.0.1", port: int = 0,
                 threads: int | None = None, n_ctx: int = 2048):
        self.model_path = gemma_gguf_path(cache_dir)
        self.host = host
        self.port = port or free_port(host)
        self.threads = threads or os.cpu_count() or 1
        self.n_ctx = n_ctx
        self.log_path = Path(cache_dir) / "llm-server.log"
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
                   "--model_alias", LOCAL_MODEL, "--n_ctx", str(self.n_ctx),
                   "--n_threads", str(self.threads), "--host", self.host, "--port", str(self.port)]
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
