"""Generation service core: real-data import and synthetic generation as idempotent jobs.

Transport-neutral: the gRPC servicer (:mod:`synthclf.generation.servicer`) only decodes
requests, calls :class:`GenerationCore` and encodes responses.
"""

from __future__ import annotations

import logging

import pandas as pd

from synthclf.core.artifacts import ArtifactRef, fetch, find, job_id, publish, staging
from synthclf.core.catalog import get_task
from synthclf.core.config import Settings
from synthclf.core.datasets import load_real_dataset, read_jsonl, subsample, to_jsonl
from synthclf.core.errors import InvalidInput
from synthclf.core.progress import ProgressFn, ignore_progress
from synthclf.core.store import open_store
from synthclf.generation.generator import GenerationSpec, generate_rows
from synthclf.generation.llm import LLMClient

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

    def generate(self, spec: GenerationSpec, examples_uri: str = "",
                 progress: ProgressFn = ignore_progress) -> ArtifactRef:
        """Generate a synthetic dataset with the LLM (Li et al. 2023, §3: zero-/few-shot).

        Args:
            spec: what to generate.
            examples_uri: dataset artifact with real examples (required for few-shot).
            progress: receives a :class:`~synthclf.core.progress.Progress` per LLM request.

        Returns:
            The dataset reference; an artifact with the same parameters is reused.

        Raises:
            NotFound: unknown task or examples artifact. InvalidInput: bad spec.
            Unavailable: the LLM server cannot be reached.
        """
        task = get_task(spec.task)
        if "max_words" not in spec.model_fields_set:
            spec = spec.model_copy(update={"max_words": task.max_words})
        model = spec.model or self.settings.llm_model
        params = {**spec.model_dump(mode="json"), "model": model, "examples_uri": examples_uri,
                  "llm_base_url": self.settings.llm_base_url}
        artifact_id = job_id(f"{task.name}-{spec.mode.value}", params)
        existing = find(self.store, "dataset", artifact_id)
        if existing:
            log.info("generation %s already done: reusing %s", artifact_id, existing.uri)
            return existing
        examples, inputs = None, []
        if examples_uri:
            source = fetch(examples_uri, self.settings)
            frame = read_jsonl(source.path / DATA_FILE)
            examples = {label: group["text"].tolist() for label, group in frame.groupby("label")}
            inputs.append(examples_uri)
        llm = LLMClient(base_url=self._llm_url(), model=model, api_key=self.settings.llm_api_key,
                        timeout_s=self.settings.llm_timeout_s)
        result = generate_rows(task, spec.model_copy(update={"model": model}), llm, examples, progress)
        with staging() as folder:
            to_jsonl(pd.DataFrame(result.rows), folder / DATA_FILE)
            return publish(
                self.store, folder, kind="dataset", artifact_id=artifact_id, service=SERVICE,
                parameters=params, inputs=inputs,
                stats={"rows": len(result.rows), "source": spec.mode.value, "task": task.name,
                       "prompt_style": result.prompt_style.value,
                       "acceptance_rate": round(result.counts.acceptance_rate, 4),
                       **result.counts.model_dump()},
            )

    def _llm_url(self) -> str:
        if not self.settings.llm_base_url:
            raise InvalidInput("SYNTHCLF_LLM_BASE_URL is not set: point it at an OpenAI-compatible "
                               "server, or start the local one with `synthclf llm serve`")
        return self.settings.llm_base_url
