"""Generation service core: real-data import and synthetic generation as idempotent jobs.

Transport-neutral: the gRPC servicer (:mod:`synthclf.generation.servicer`) only decodes
requests, calls :class:`GenerationCore` and encodes responses.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from pathlib import Path
from typing import Any

from synthclf.core.artifacts import ArtifactRef, find, job_id, publish, single_flight, staging
from synthclf.core.catalog import TaskSpec, get_task
from synthclf.core.config import Settings
from synthclf.core.datasets import load_real_dataset, subsample, to_jsonl
from synthclf.core.errors import InvalidInput
from synthclf.core.inputs import read_dataset
from synthclf.core.limits import check_at_most
from synthclf.core.progress import ProgressFn, ignore_progress
from synthclf.core.store import open_store
from synthclf.generation.accounting import PriceTable, resolve_price
from synthclf.generation.cache import CACHE_FOLDER, ResponseCache
from synthclf.generation.generator import GenerationSpec, generate_rows
from synthclf.generation.llm import LLMClient, LLMUnavailable
from synthclf.generation.prompts import DIVERSITY_PROMPT, IMITATION_INSTRUCTION, PromptTemplate

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
        task = get_task(spec.task)
        check_at_most(spec.rows_per_label, self.settings, "max_rows_per_label", "rows per label (rows_per_label)")
        spec = spec.for_task(task).model_copy(update={"model": spec.model or self.settings.llm_model})
        price = resolve_price(spec.model, PriceTable.load(), spec.price_prompt_per_mtok,
                              spec.price_completion_per_mtok)
        params = {**spec.model_dump(mode="json"), "examples_uri": examples_uri,
                  "llm_base_url": self.settings.llm_base_url, "prompts": task_prompts(task, spec.max_words)}
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
            result = generate_rows(task, spec, llm, examples, progress, cache=cache, price=price)
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
                       "prompt_samples": result.prompt_samples},
            )

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
    ``prompt_style``); :func:`synthclf.core.datasets.read_jsonl` reads the schema columns back.
    """
    with open(path, "w", encoding="utf-8") as handle:
        for row in rows:
            record = {"text": row["text"], "label": row["label"], "split": row.get("split", "train"),
                      "agreement": None, "annotations": None,
                      **{k: v for k, v in row.items() if k not in ("text", "label", "split")}}
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
