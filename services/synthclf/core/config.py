"""Settings read from ``SYNTHCLF_*`` environment variables (pydantic-settings).

Read them with :func:`get_settings` inside ``main()``/request handling, never at import time
(style.md §2). Every field's environment variable is ``SYNTHCLF_<FIELD NAME>``; the README's
"Configuration" table is generated from the same descriptions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

#: Default gRPC address of every service; ``synthclf serve all`` binds it.
DEFAULT_ADDRESS = "127.0.0.1:50051"
#: MinIO's well-known development credentials, refused when ``production`` is set.
DEV_CREDENTIALS = {"minioadmin", "minio", "changeme", ""}


class Settings(BaseSettings):
    """All synthclf settings; each field maps to ``SYNTHCLF_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="SYNTHCLF_", extra="ignore")

    artifact_store: str = Field(
        "./artifacts",
        description="Where artifacts live: a local folder (embedded default, like MLflow's "
        "./mlruns) or s3://bucket[/prefix] for MinIO/S3.",
    )
    s3_endpoint: str = Field("127.0.0.1:9000", description="MinIO/S3 host:port.")
    s3_access_key: str = Field("minioadmin", description="MinIO/S3 access key.")
    s3_secret_key: str = Field("minioadmin", description="MinIO/S3 secret key.")
    s3_secure: bool = Field(False, description="Use HTTPS for MinIO/S3.")
    s3_region: str = Field("us-east-1", description="S3 region name.")
    cache_dir: Path = Field(
        Path.home() / ".cache" / "synthclf",
        description="Local cache of fetched artifacts (verified by sha256).",
    )
    llm_base_url: str | None = Field(
        None,
        description="OpenAI-compatible base URL (e.g. http://127.0.0.1:8000/v1). Unset: "
        "`synthclf run` starts the local llama.cpp server itself.",
    )
    llm_model: str = Field(
        "qwen2.5-coder-1.5b-instruct",
        description="Model name sent to the LLM server (with the local server: the local model's alias).",
    )
    llm_local_model: str = Field(
        "qwen2.5-coder-1.5b-instruct",
        description="Packaged GGUF that `synthclf llm serve|path` and `synthclf run` serve: "
        "qwen2.5-coder-1.5b-instruct (instruction-tuned, chat prompts) or gemma-3-270m (base, "
        "completion prompts).",
    )
    llm_prompt_style: Literal["chat", "completion"] | None = Field(
        None,
        description="Prompt rendering for the LLM: chat (instruction-tuned) or completion (base "
        "models). Unset: from the model's name (a local model's own kind).",
    )
    llm_deterministic: bool = Field(
        False,
        description="The LLM server samples deterministically for a request's seed and serves one "
        "request at a time (llama.cpp, one slot); `synthclf run` sets it for the local server. "
        "Recorded in each dataset manifest: generation is reproducible only then.",
    )
    llm_api_key: str = Field("sk-no-key", description="API key for the LLM server.")
    llm_timeout_s: float = Field(120.0, description="Per-request LLM timeout, seconds.")
    address: str = Field(DEFAULT_ADDRESS, description="Default host:port of every service.")
    generation_address: str | None = Field(None, description="Generation service host:port.")
    training_address: str | None = Field(None, description="Training service host:port.")
    inference_address: str | None = Field(None, description="Inference service host:port.")
    analysis_address: str | None = Field(None, description="Analysis service host:port.")
    # Inference service: dynamic batching, limits, execution provider (README "Inference").
    inference_max_batch_size: int = Field(
        32, ge=1, description="Most texts in one ONNX Runtime run of the dynamic batcher."
    )
    inference_max_queue_delay_ms: float = Field(
        2.0, ge=0, description="Longest wait, milliseconds, for more requests to fill a batch "
        "while the model is busy; an idle model runs a request at once (adaptive)."
    )
    inference_max_queue_size: int = Field(
        1024, ge=1, description="Texts that may wait per model version; beyond it Predict "
        "fails with RESOURCE_EXHAUSTED (backpressure)."
    )
    inference_max_texts_per_request: int = Field(
        1024, ge=1, description="Most texts in one Predict request (INVALID_ARGUMENT beyond); "
        "at most inference_max_queue_size."
    )
    inference_max_chars_per_text: int = Field(
        20_000, ge=1, description="Most characters in one text (INVALID_ARGUMENT beyond)."
    )
    inference_model_instances: int = Field(
        0, ge=0, description="Batches of one model version that run at once (Triton's "
        "instance_group count), sharing one ONNX Runtime session; 0: 2 on CPU (1 with a "
        "single core), 1 on CUDA."
    )
    inference_intra_op_threads: int = Field(
        0, ge=0, description="ONNX Runtime threads per run (intra-op); 0: its default, one per "
        "core (an idle model then runs a lone request on every core)."
    )
    inference_prefer_gpu: bool = Field(
        True, description="Use ONNX Runtime's CUDAExecutionProvider when it really "
        "initialises; false: always CPUExecutionProvider."
    )
    inference_grpc_threads: int = Field(
        128, ge=1, description="gRPC handler threads of a server hosting inference (each "
        "waiting Predict call holds one; at least the expected concurrent callers)."
    )
    log_level: str = Field("INFO", description="Python logging level.")
    production: bool = Field(
        False, description="Refuse development defaults (MinIO credentials, no auth token) when "
        "true."
    )
    # Serving security and metrics (README "Authentication, TLS and metrics").
    auth_token: SecretStr | None = Field(
        None,
        description="Bearer token every RPC must carry (metadata `authorization: Bearer "
        "<token>`; grpc.health.v1 and reflection are exempt); clients send it. Unset: no "
        "authentication (refused when production is true).",
    )
    auth_token_file: Path | None = Field(
        None,
        description="File holding the bearer token (a Docker/Kubernetes secret), read at start; "
        "used when auth_token is unset.",
    )
    tls_cert_file: Path | None = Field(
        None,
        description="PEM server certificate chain; with tls_key_file the server serves TLS only, "
        "and clients use TLS.",
    )
    tls_key_file: Path | None = Field(None, description="PEM private key of tls_cert_file.")
    tls_ca_file: Path | None = Field(
        None,
        description="PEM root certificate(s) clients trust (e.g. a private CA or a self-signed "
        "server certificate). Set: clients use TLS. Unset with tls_cert_file set: the system roots.",
    )
    metrics_port: int | None = Field(
        None,
        description="HTTP port of the Prometheus /metrics endpoint (inference requests, latency, "
        "batch sizes, queue depth), bound on the gRPC host. Unset: off; 0: a free port.",
    )

    def service_address(self, service: str) -> str:
        """Address of one service: its own setting if set, else ``address``.

        Args:
            service: one of ``generation``, ``training``, ``inference``, ``analysis``.
        """
        return getattr(self, f"{service}_address") or self.address

    def check_production(self) -> None:
        """Raise InvalidInput if ``production`` is set with development defaults.

        Raises:
            synthclf.core.errors.InvalidInput: default MinIO credentials, or no auth token, in
                production.
        """
        from synthclf.core.errors import InvalidInput

        uses_s3 = self.artifact_store.startswith("s3://")
        weak = {self.s3_access_key, self.s3_secret_key} & DEV_CREDENTIALS
        if self.production and uses_s3 and weak:
            raise InvalidInput(
                "SYNTHCLF_PRODUCTION is set but SYNTHCLF_S3_ACCESS_KEY/SECRET_KEY are "
                "development defaults; set real credentials"
            )
        if self.production and self.auth_token is None and self.auth_token_file is None:
            raise InvalidInput(
                "SYNTHCLF_PRODUCTION is set but no bearer token is configured; set "
                "SYNTHCLF_AUTH_TOKEN or SYNTHCLF_AUTH_TOKEN_FILE (a secret file)"
            )


def get_settings() -> Settings:
    """Read settings from the environment now (no caching: tests change the environment)."""
    return Settings()
