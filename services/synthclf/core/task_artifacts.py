"""Task specs as ``task`` artifacts: every service reads the same spec from the store by URI.

A request that takes a task accepts a catalog name (``sms_spam``) or a task artifact URI
(``s3://…/task/<id>``). A task artifact holds ``task.yaml`` (the validated spec, drafted
prompts filled in, readable by :func:`~synthclf.core.task_spec.parse_task_yaml`) and
``prompts.json`` (the context prompt and the data-generation prompt of every label, as sent).
Its id is a hash of the spec, so publishing the same spec twice gives the same artifact. The
catalog's built-in tasks are published the same way on first use (:func:`task_uri`).
"""

from __future__ import annotations

import json
from typing import Any

from synthclf.core.artifacts import ArtifactRef, fetch, find, job_id, publish, staging
from synthclf.core.catalog import get_task
from synthclf.core.config import Settings
from synthclf.core.store import ArtifactStore
from synthclf.core.task_spec import TaskSpec, parse_task_yaml

KIND = "task"
TASK_FILE = "task.yaml"
PROMPTS_FILE = "prompts.json"


def is_task_uri(task: str) -> bool:
    """Whether ``task`` names an artifact (a URI or store path) rather than a catalog task."""
    return "/" in task


def publish_task(store: ArtifactStore, spec: TaskSpec, service: str, prompts: dict[str, Any]) -> ArtifactRef:
    """Publish ``spec`` as a ``task`` artifact (reused when the same spec was published).

    Args:
        store: destination store.
        spec: the validated task.
        service: producing service.
        prompts: the prompt wording to write into ``prompts.json`` (the generation service's
            ``task_prompts``: context prompt, template, the filled prompt of every label).

    Returns:
        The artifact's reference; its manifest's stats name the task, its labels and the
        drafted fields.
    """
    document = spec.model_dump(mode="json")
    artifact_id = job_id(f"{spec.name}-task", document)
    if existing := find(store, KIND, artifact_id):
        return existing
    with staging() as folder:
        (folder / TASK_FILE).write_text(spec.to_yaml(), encoding="utf-8")
        (folder / PROMPTS_FILE).write_text(json.dumps({**prompts, "drafted": list(spec.drafted)}, indent=2, ensure_ascii=False),
                                           encoding="utf-8")
        return publish(store, folder, kind=KIND, artifact_id=artifact_id, service=service,
                       parameters={"task": document},
                       stats={"task": spec.name, "labels": spec.label_names, "drafted": list(spec.drafted)})


def load_task(task: str, settings: Settings) -> TaskSpec:
    """The spec of a catalog task name or a task artifact URI.

    Args:
        task: ``sms_spam`` or ``<store>/task/<id>``.
        settings: store location and credentials.

    Raises:
        NotFound: unknown catalog task, or no artifact at the URI.
        InvalidInput: the URI names an artifact of another kind.
        IntegrityError: the artifact's files do not match its manifest.
    """
    if not is_task_uri(task):
        return get_task(task)
    artifact = fetch(task, settings, kind=KIND)
    return parse_task_yaml(artifact.file(TASK_FILE).read_text(encoding="utf-8"), source=task)


