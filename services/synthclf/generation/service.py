"""Generation service core: real-data import and synthetic generation as idempotent jobs.

Transport-neutral: the gRPC servicer (:mod:`synthclf.generation.servicer`) only decodes
requests, calls :class:`GenerationCore` and encodes responses.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

from synthclf.core.artifacts import ArtifactRef, find, job_id, publish, single_flight, staging
from synthclf.core.catalog import TaskSpec, get_task
from synthclf.core.config import Settings
from synthclf.core.corpora import load_real_dataset
from synthclf.core.errors import InvalidInput
from synthclf.core.inputs import fetch_kind, read_dataset
from synthclf.core.limits import check_at_most, check_seed
from synthclf.core.progress import ProgressFn, ignore_progress
from synthclf.core.sampling import subsample
from synthclf.core.schema import dataset_record, to_jsonl, write_jsonl
from synthclf.core.store import open_store
from synthclf.core.task_artifacts import is_task_uri, load_task, publish_task
from synthclf.core.task_spec import parse_task_yaml
from synthclf.generation.accounting import PriceTable, resolve_price
from synthclf.generation.cache import CACHE_FOLDER, ResponseCache
from synthclf.generation.generator import GenerationSpec, generate_rows
from synthclf.generation.importer import ColumnMapping, ImportOptions
from synthclf.generation.llm import LLMClient, LLMUnavailable
from synthclf.generation.prompts import DIVERSITY_PROMPT, IMITATION_INSTRUCTION, PromptStyle, PromptTemplate
from synthclf.generation.uploads import UploadHeader, receive_upload
from synthclf.generation.user_data import UserImport, import_upload

log = logging.getLogger("synthclf.generation")
SERVICE = "generation"
DATA_FILE = "data.jsonl"


class GenerationCore:
    """Imports real datasets and generates synthetic ones into the artifact store.

    Args:
        settings: store location, S3 credentials, LLM endpoint.
    """

    def __init__(self, settings: Settings):
        self.settings = settings
        self.store = open_store(settings.artifact_store, settings)

    def check(self) -> None:
        """Readiness: the artifact store is reachable (raises Unavailable otherwise)."""
        self.store.check()

    @single_flight("dataset")
    def import_real_data(
        self, task: str, *, test_fraction: float = 0.2, max_train_rows: int = 0,
        max_test_rows: int = 0, seed: int = 0,
    ) -> tuple[ArtifactRef, ArtifactRef]:
        """Publish a task's real data as a stratified train split and test split.

        Args:
            task: catalog task name with offline data on this machine.
            test_fraction: share held out for test, in (0, 1).
            max_train_rows: stratified cap on training rows; 0 keeps all.
            max_test_rows: stratified cap on test rows; 0 keeps all.
            seed: seed of split and subsampling.

        Returns:
            (train, test) dataset references; existing artifacts are reused (idempotent).

        Raises:
            NotFound: unknown task. NotReady: no real data for it on this machine.
            InvalidInput: ``test_fraction`` outside (0, 1).
        """
        if not 0.0 < test_fraction < 1.0:
            raise InvalidInput(f"test_fraction must be in (0, 1), got {test_fraction}")
        check_seed(seed)
        spec = get_task(task)
        params = {"task": task, "test_fraction": round(test_fraction, 6), "seed": seed,
                  "max_train_rows": max_train_rows, "max_test_rows": max_test_rows}
        refs = []
        frame = None
        for split, cap in (("train", max_train_rows), ("test", max_test_rows)):
            artifact_id = job_id(f"{task}-real-{split}", params)
            existing = find(self.store, "dataset", artifact_id)
            if existing:
                refs.append(existing)
                continue
            if frame is None:
                frame = load_real_dataset(task, test_fraction=test_fraction, seed=seed)
            part = frame[frame["split"] == split]
            if cap:
                part = subsample(part, cap, seed=seed)
            with staging() as folder:
                to_jsonl(part, folder / DATA_FILE)
                refs.append(publish(
                    self.store, folder, kind="dataset", artifact_id=artifact_id, service=SERVICE,
                    parameters={**params, "split": split, "source": "real"},
                    stats={"rows": len(part), "source": "real", "split": split, "task": spec.name,
                           "label_counts": part["label"].value_counts().to_dict()},
                ))
            log.info("imported real %s split of %s: %d rows", split, task, len(part))
        return refs[0], refs[1]

    def publish_task(self, text: str, source: str = "task file") -> tuple[ArtifactRef, TaskSpec, dict[str, Any]]:
        """Validate a task file and publish it as a ``task`` artifact (idempotent).

        Args:
            text: the task file's YAML.
            source: its name, for messages.

        Returns:
            (the task artifact, the spec with drafted prompts, its prompts: ``task_prompts``).

        Raises:
            InvalidInput: the file is not a valid task (each problem with its field and line).
        """
        spec = parse_task_yaml(text, source)
        prompts = task_prompts(spec, spec.max_words)
        ref = publish_task(self.store, spec, SERVICE, prompts)
        log.info("published task %s (%d labels; drafted: %s) as %s", spec.name, len(spec.labels),
                 ", ".join(spec.drafted) or "nothing", ref.uri)
        return ref, spec, prompts

    def task_artifact(self, task: str) -> tuple[str, TaskSpec]:
        """A task's artifact URI (a catalog task is published first: a pre-published spec) and spec.

        Raises:
            NotFound: unknown catalog task or no artifact at the URI. InvalidInput: not a task artifact.
        """
        spec = load_task(task, self.settings)
        if is_task_uri(task):
            return task, spec
        return publish_task(self.store, spec, SERVICE, task_prompts(spec, spec.max_words)).uri, spec

    def upload(self, header: UploadHeader, chunks: Iterable[bytes]) -> tuple[ArtifactRef, int, str]:
        """Store a streamed data file as an ``upload`` artifact (see :func:`receive_upload`)."""
        ref, size, sha = receive_upload(self.store, header, chunks, self.settings.upload_max_bytes, SERVICE)
        log.info("received upload %s (%d bytes, sha256 %s…) as %s", header.filename, size, sha[:12], ref.uri)
        return ref, size, sha

    def import_user_data(self, task: str, upload_uri: str, *, test_upload_uri: str = "",
                         columns: ColumnMapping | None = None,
                         options: ImportOptions | None = None) -> UserImport:
        """Validate an uploaded file against a task and publish train/test dataset artifacts.

        Args:
            task: catalog task name or task artifact URI.
            upload_uri: the ``upload`` artifact with the data.
            test_upload_uri: optional ``upload`` with the test rows (then all of ``upload_uri`` is train).
            columns: the column mapping; default ``text``/``label``.
            options: split, caps, seed; the empty-text limit comes from the settings.

        Returns:
            The datasets (lineage: the uploads and the task), the task URI and warnings.

        Raises:
            InvalidInput: the data are refused (file, row and column named); nothing is
                published and the uploads are removed. NotFound: unknown task or upload.
        """
        task_uri, spec = self.task_artifact(task)
        check_seed((options or ImportOptions()).seed)
        options = (options or ImportOptions()).model_copy(
            update={"max_empty_share": self.settings.import_max_empty_share})
        return import_upload(self.store, self.settings, spec, task_uri, upload_uri, test_upload_uri,
                             columns or ColumnMapping(), options, SERVICE)

    def download(self, uri: str, chunk_bytes: int = 1024 * 1024) -> Iterator[bytes]:
        """The bytes of a dataset artifact's ``data.jsonl``, verified against its manifest, in chunks.

        Raises:
            NotFound: no artifact at ``uri``. InvalidInput: not a dataset. IntegrityError: tampered file.
        """
        artifact = fetch_kind(uri, self.settings, "dataset", "uri")
        with open(artifact.file(DATA_FILE), "rb") as handle:
            while chunk := handle.read(chunk_bytes):
                yield chunk

    @single_flight("dataset")
    def generate(self, spec: GenerationSpec, examples_uri: str = "",
                 progress: ProgressFn = ignore_progress) -> ArtifactRef:
        """Generate a synthetic dataset with the LLM (Li et al. 2023, §3: zero-/few-shot).

        The job is idempotent (an artifact with the same parameters, prompts included, is
        reused) and resumable (every successful LLM response is cached under
        ``settings.cache_dir/llm-responses``; a re-run after a crash re-sends none of them).

        Args:
            spec: what to generate.
            examples_uri: dataset artifact with real examples (required for few-shot).
            progress: receives a :class:`~synthclf.core.progress.Progress` per LLM request.

        Returns:
            The dataset reference: ``data.jsonl`` (text, label, split and per-row provenance:
            request_index, request_id, mode, model, prompt_style) and a manifest whose
            ``parameters`` hold the spec, model, server and prompt templates and whose ``stats``
            hold counts by reject reason, tokens, cost, wall time, rows/min and stop reason.

        Raises:
            NotFound: unknown task or examples artifact. InvalidInput: bad spec, or a money cap
            for a model without a price.
            Unavailable: the LLM server cannot be reached, refuses the key or model, or too many
            requests failed in a row (nothing is published; re-run to resume).
        """
        task = load_task(spec.task, self.settings)
        check_at_most(spec.rows_per_label, self.settings, "max_rows_per_label", "rows per label (rows_per_label)")
        spec = spec.for_task(task).model_copy(update={
            "model": spec.model or self.settings.llm_model,
            "prompt_style": spec.prompt_style or (PromptStyle(self.settings.llm_prompt_style)
                                                  if self.settings.llm_prompt_style else None)})
        price = resolve_price(spec.model, PriceTable.load(), spec.price_prompt_per_mtok,
                              spec.price_completion_per_mtok)
        params = {**spec.model_dump(mode="json"), "examples_uri": examples_uri,
                  "llm_server": self._server_id(), "prompts": task_prompts(task, spec.resolved_max_words)}
        artifact_id = job_id(f"{task.name}-{spec.mode.value}", params)
        existing = find(self.store, "dataset", artifact_id)
        if existing:
            log.info("generation %s already done: reusing %s", artifact_id, existing.uri)
            return existing
        examples, inputs = None, []
        if examples_uri:
            _, frame = read_dataset(examples_uri, self.settings, "examples_uri")
            examples = {label: group["text"].tolist() for label, group in frame.groupby("label")}
            inputs.append(examples_uri)
        with LLMClient(base_url=self._llm_url(), model=spec.model, api_key=self.settings.llm_api_key,
                       timeout_s=self.settings.llm_timeout_s, max_retries=spec.max_retries) as llm, \
                ResponseCache(self.settings.cache_dir / CACHE_FOLDER) as cache:
            _preflight(llm)
            # a task URI names the task by its artifact; the generator checks the spec against task.name
            result = generate_rows(task, spec.model_copy(update={"task": task.name}), llm, examples, progress,
                                   cache=cache, price=price, server_id=self._server_id())
        counts = result.counts
        log.info("generated %s: %d rows from %d requests (%d cached), rejected %s, %d tokens, $%.4f, %.1f s, %s",
                 artifact_id, counts.accepted, counts.requested, counts.cache_hits,
                 {k: v for k, v in counts.rejected.items() if v}, counts.tokens, counts.cost_usd,
                 counts.wall_time_s, counts.stopped_reason)
        with staging() as folder:
            write_rows(result.rows, folder / DATA_FILE)
            return publish(
                self.store, folder, kind="dataset", artifact_id=artifact_id, service=SERVICE,
                parameters=params, inputs=inputs,
                stats={"rows": len(result.rows), "source": spec.mode.value, "task": task.name,
                       "model": spec.model, "prompt_style": result.prompt_style.value,
                       "acceptance_rate": round(counts.acceptance_rate, 4), **counts.model_dump(),
                       "tokens": counts.tokens,
                       "price": asdict(price) if price else None,
                       "structured_output": result.structured_output,
                       "structured_output_note": result.structured_output_note,
                       "llm_base_url": self.settings.llm_base_url,
                       "reproducibility": reproducibility(spec, self.settings.llm_deterministic),
                       "prompt_samples": result.prompt_samples},
            )

    def _server_id(self) -> str | None:
        """The LLM server's identity in job ids and the response cache: ``llm_server_id`` or the URL."""
        return self.settings.llm_server_id or self.settings.llm_base_url

    def _llm_url(self) -> str:
        if not self.settings.llm_base_url:
            raise InvalidInput("SYNTHCLF_LLM_BASE_URL is not set: point it at an OpenAI-compatible "
                               "server, or start the local one with `synthclf llm serve`")
        return self.settings.llm_base_url


def _preflight(llm: LLMClient) -> None:
    """Fail fast when the server is unreachable or refuses the key (``GET /v1/models``).

    A 404 (servers without ``/v1/models``) or a 5xx is left to the requests' own retries.

    Raises:
        LLMUnavailable: unreachable, timed out, or HTTP 401/403.
    """
    try:
        llm.ping(max_retries=1)
    except LLMUnavailable as exc:
        if exc.kind in ("unreachable", "timeout") or exc.status_code in (401, 403):
            raise


def reproducibility(spec: GenerationSpec, deterministic_server: bool) -> dict[str, Any]:
    """Whether a job's dataset can be regenerated bit for bit, for its manifest.

    A job is reproducible when the server samples deterministically for each request's seed
    and serves one request at a time (``SYNTHCLF_LLM_DETERMINISTIC``; set for the local
    llama.cpp server) and the job sends its requests in request order (``concurrency`` 1):
    then the same seed, model file and llama.cpp build give the same dataset from a fresh
    server and an empty response cache. Remote APIs (OpenAI's ``seed`` is best-effort) and
    batched servers (vLLM) give no such guarantee.

    Returns:
        ``{"reproducible": bool, "note": str}``.
    """
    if not deterministic_server:
        note = ("not guaranteed: the LLM server is not known to sample deterministically per seed with one "
                "slot (remote APIs treat seeds as best-effort; batched servers mix requests)")
        return {"reproducible": False, "note": note}
    if spec.concurrency != 1:
        return {"reproducible": False, "note": f"not guaranteed: {spec.concurrency} requests in flight reach the "
                "single-slot server in an order set by thread timing; use concurrency 1"}
    return {"reproducible": True, "note": "same seed, model file, llama.cpp build and thread count, fresh server "
            "and empty response cache give the same dataset (per-request seeds, request order, one slot)"}


def task_prompts(task: TaskSpec, max_words: int) -> dict[str, Any]:
    """The prompts of a job, for its manifest and its id (a changed prompt is a new job).

    Args:
        task: the catalog task (after any ``SYNTHCLF_CATALOG`` override).
        max_words: the job's word limit, filled into the templates.

    Returns:
        ``context_prompt``, ``generation_prompt`` (the template), ``per_label`` (the filled
        data-generation prompt of each label), ``diversity_prompt``, ``imitation_instruction``.
    """
    return {
        "context_prompt": task.context_prompt,
        "generation_prompt": task.generation_prompt,
        "per_label": {label.name: PromptTemplate.for_label(task, label.name, max_words=max_words).generation_prompt
                      for label in task.labels},
        "diversity_prompt": DIVERSITY_PROMPT,
        "imitation_instruction": IMITATION_INSTRUCTION,
    }


def write_rows(rows: list[dict[str, Any]], path: Path) -> None:
    """Write generated rows as JSON lines in the dataset schema, keeping their provenance.

    Each line: ``text``, ``label``, ``split``, ``agreement`` (null), ``annotations`` (null) and
    the row's provenance keys (``request_index``, ``request_id``, ``mode``, ``model``,
    ``prompt_style``); written by :class:`synthclf.core.schema.JsonlWriter`, and
    :func:`synthclf.core.schema.read_jsonl` reads the schema columns back.
    """
    write_jsonl((dataset_record(row["text"], row["label"], row.get("split", "train"),
                                **{k: v for k, v in row.items() if k not in ("text", "label", "split")})
                 for row in rows), path)
