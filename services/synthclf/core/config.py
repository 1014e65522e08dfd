"""Settings read from ``SYNTHCLF_*`` environment variables (pydantic-settings).

Read them with :func:`get_settings` inside ``main()``/request handling, never at import time
(so a test or a server can set the environment first). Every field's environment variable is
``SYNTHCLF_<FIELD NAME>``; the README's "Configuration" table is generated from the same
descriptions.
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
#: Shortest bearer token accepted when ``production`` is set, bytes (256 bits as hex is 64).
MIN_PRODUCTION_TOKEN_BYTES = 32


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
    # The artifact store as a trust boundary (docs/architecture.md).
    max_manifest_bytes: int = Field(
        1 << 20, ge=1024, description="Largest manifest.json read, bytes (DATA_LOSS beyond), "
        "checked before parsing."
    )
    max_manifest_depth: int = Field(
        32, ge=4, description="Deepest nesting of arrays/objects in a manifest.json (DATA_LOSS "
        "beyond), checked before parsing."
    )
    staging_max_age_hours: float = Field(
        24.0, gt=0, description="Server start-up removes synthclf-stage-* folders in the temp "
        "dir left by a dead process, and any older than this many hours."
    )
    malloc_arena_max: int = Field(
        2, ge=0, description="glibc malloc arenas of a synthclf server and the processes it "
        "starts (MALLOC_ARENA_MAX; bounds RSS growth over model load/unload cycles); 0: "
        "glibc's default (8 per core)."
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
    llm_server_id: str | None = Field(
        None,
        description="Identity of the LLM server in generation job ids and the response cache. Unset: "
        "its base URL. `synthclf run` sets `local:<model alias>` for the local server it starts on a "
        "free port, so a re-run reuses finished jobs and cached responses.",
    )
    llm_threads: int = Field(
        0, ge=0,
        description="llama.cpp threads of the local LLM server; 0: one per core. On a machine shared "
        "with other busy processes 1 can be several times faster (no spinning thread barrier; "
        "benchmarks/README.md).",
    )
    llm_deterministic: bool = Field(
        False,
        description="The LLM server samples deterministically for a request's seed and serves one "
        "request at a time (llama.cpp, one slot); `synthclf run` sets it for the local server. "
        "Recorded in each dataset manifest: generation is reproducible only then.",
    )
    llm_api_key: str = Field("sk-no-key", description="API key for the LLM server.")
    llm_timeout_s: float = Field(120.0, description="Per-request LLM timeout, seconds.")
    llm_prices: Path | None = Field(
        None, description="YAML price table (USD per 1M tokens) whose entries replace the packaged "
        "generation/prices.yaml; used for cost accounting and money budgets.")
    catalog: Path | None = Field(
        None, description="YAML file overriding or adding tasks (labels, prompts, subjectivity) of "
        "core/catalog.yaml.")
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
    inference_serve_int8: bool = Field(
        True, description="Serve an export's dynamic-int8 copy (model.int8.onnx) on CPU when "
        "its measured Macro-F1 change is within inference_int8_max_macro_f1_drop; false: "
        "always the fp32 model.onnx."
    )
    inference_int8_max_macro_f1_drop: float = Field(
        0.5, ge=0, le=100, description="Largest Macro-F1 drop, in points (0.5 = half a "
        "percentage point), that the int8 copy may show on the model's validation set "
        "(quantization.json) and still be served; unmeasured copies are never served."
    )
    inference_prefer_gpu: bool = Field(
        True, description="Use ONNX Runtime's CUDAExecutionProvider when it really "
        "initialises; false: always CPUExecutionProvider."
    )
    inference_models: str = Field(
        "", description="Models an inference server loads at start-up: "
        "name=artifact-uri[,name=artifact-uri…]. Its readiness (grpc.health.v1) is NOT_SERVING "
        "until all are loaded, so replicas started with the same value serve the same models."
    )
    inference_grpc_threads: int = Field(
        128, ge=1, description="gRPC handler threads of a server hosting inference (each "
        "waiting Predict call holds one; at least the expected concurrent callers)."
    )
    # Request limits (docs/security.md "Limits"): enforced before work starts; beyond one, the
    # call fails with INVALID_ARGUMENT or RESOURCE_EXHAUSTED naming the limit and its setting.
    max_request_uris: int = Field(
        64, ge=1, description="Most artifact URIs in one request (Train's datasets, the "
        "evaluations of TaskSubjectivity and Report, Report's inputs)."
    )
    max_train_rows: int = Field(
        500_000, ge=1, description="Most rows one Train call draws over all its datasets."
    )
    max_dataset_rows: int = Field(
        1_000_000, ge=1, description="Most rows of one dataset artifact a job reads."
    )
    max_bootstrap: int = Field(
        10_000, ge=0, description="Most bootstrap resamples (Evaluate's n_bootstrap)."
    )
    max_gammas: int = Field(
        1_000, ge=1, description="Most agreement thresholds γ in one InstanceSubjectivity call."
    )
    max_analysis_texts: int = Field(
        10_000, ge=2, description="Most texts sampled per dataset by Diversity, Similarity and "
        "Report (max_texts; the distances are O(n²) in memory)."
    )
    max_labels: int = Field(
        1_000, ge=2, description="Most distinct labels of a dataset or a model's labels.json."
    )
    max_label_chars: int = Field(
        100, ge=1, description="Most characters of one label name."
    )
    max_rows_per_label: int = Field(
        100_000, ge=1, description="Most rows per label one Generate call may ask for."
    )
    max_model_name_chars: int = Field(
        128, ge=1, description="Most characters of a served model's name (characters "
        "A-Z a-z 0-9 . _ -)."
    )
    max_tokenized_chars: int = Field(
        4_096, ge=16, description="Characters of a text passed to a tokenizer (inference, "
        "in-process evaluation, training, embeddings); the rest is cut before tokenizing "
        "(texts are truncated to max_length tokens anyway)."
    )
    inference_max_loaded_models: int = Field(
        64, ge=1, description="Most model versions loaded at once (RESOURCE_EXHAUSTED beyond; "
        "unload one first). Flows keep every model they evaluate loaded: the main job's "
        "learning curve alone loads 18; memory is bounded by inference_max_loaded_bytes."
    )
    inference_max_loaded_bytes: int = Field(
        8 * 1024**3, ge=1, description="Most bytes of ONNX graphs loaded at once, bytes "
        "(RESOURCE_EXHAUSTED beyond)."
    )
    inference_allowed_addresses: list[str] = Field(
        default_factory=list, description="Inference service host:port values an Evaluate or "
        "InstanceSubjectivity request may name besides SYNTHCLF_INFERENCE_ADDRESS (JSON list); "
        "any other is INVALID_ARGUMENT, so callers never choose where the server connects."
    )
    log_level: str = Field("INFO", description="Python logging level.")
    production: bool = Field(
        False, description="Refuse development defaults (MinIO credentials, no auth token, a "
        "token under 32 bytes) when true."
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
    # A user's own data (README "Your own task"): upload and import limits.
    upload_max_bytes: int = Field(
        2 * 1024**3, ge=1, description="Largest data file (or packed save_to_disk folder) the "
        "generation service accepts in one Upload, bytes; beyond it RESOURCE_EXHAUSTED."
    )
    import_max_empty_share: float = Field(
        0.05, ge=0, le=1, description="Import: share of rows with an empty text that are dropped "
        "and counted; above it the file is refused (INVALID_ARGUMENT)."
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
            synthclf.core.errors.InvalidInput: default MinIO credentials, no auth token, or a
                token shorter than :data:`MIN_PRODUCTION_TOKEN_BYTES`, in production.
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
        if self.production:
            from synthclf.core.auth import read_token

            token = read_token(self) or ""  # None is refused above: production needs a token
            if len(token.encode("utf-8")) < MIN_PRODUCTION_TOKEN_BYTES:
                raise InvalidInput(
                    f"SYNTHCLF_PRODUCTION is set but the bearer token has fewer than "
                    f"{MIN_PRODUCTION_TOKEN_BYTES} bytes; use a random one (e.g. `openssl rand "
                    "-hex 32`)"
                )


def get_settings() -> Settings:
    """Read settings from the environment now (no caching: tests change the environment)."""
    return Settings()
