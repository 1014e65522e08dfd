"""Cross-run caching of flow steps, keyed by the content of their input artifacts.

Prefect's ``INPUTS`` policy would hash an artifact URI as a string, so a dataset re-created
under the same URI with other rows would still hit the cache. :class:`ArtifactInputs` hashes
instead, for every artifact URI found anywhere in a task's inputs, the store location and the
sha256 of the artifact's ``manifest.json`` — which lists the sha256 of every file and the
creation time — plus the task's source code and the artifact store the services write to.
There is no ``RUN_ID`` in the key, so a later run (an interrupted study resumed) reuses every
finished step whose inputs are unchanged (Prefect docs, "Caching": persisted results and a
policy without RUN_ID).

A cached result is only worth reusing while the artifacts it names exist: when one was
deleted from the store, the policy switches to a key derived from the dead references, so the
step runs again (the services re-create the artifact at the same deterministic URI) instead
of handing a dangling URI downstream.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from typing import Any

from prefect.cache_policies import TASK_SOURCE, CachePolicy
from prefect.context import TaskRunContext
from prefect.utilities.hashing import hash_objects
from pydantic import BaseModel

from synthclf.core.artifacts import read_manifest_bytes, split_uri
from synthclf.core.config import get_settings
from synthclf.core.errors import InvalidInput, NotFound, SynthclfError

log = logging.getLogger("synthclf.orchestration")
_SCHEMES = ("file://", "s3://")


def is_artifact_uri(value: Any) -> bool:
    """True for a string shaped like an artifact URI (``file://…/<kind>/<id>`` or ``s3://…``)."""
    if not isinstance(value, str) or not value.startswith(_SCHEMES):
        return False
    try:
        split_uri(value)
    except InvalidInput:
        return False
    return True


def manifest_digest(uri: str) -> str | None:
    """sha256 (hex) of an artifact's ``manifest.json`` bytes, or None when it does not exist.

    Raises:
        Unavailable: the store cannot be reached (the caller decides not to cache).
    """
    try:
        return hashlib.sha256(read_manifest_bytes(uri)).hexdigest()
    except NotFound:
        return None


def artifact_uris(value: Any) -> list[str]:
    """Every artifact URI inside ``value`` (strings, lists, tuples, dicts, pydantic models)."""
    if is_artifact_uri(value):
        return [value]
    if isinstance(value, BaseModel):
        value = value.model_dump()
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (list, tuple)):
        return [uri for item in value for uri in artifact_uris(item)]
    return []


def content_view(value: Any) -> Any:
    """``value`` with each artifact URI replaced by its store location and manifest sha256.

    The location stays in the view so a cached result never points into another store.
    """
    if is_artifact_uri(value):
        location = split_uri(value)[0]
        digest = manifest_digest(value)
        return {"store": location, "manifest_sha256": digest} if digest else {"missing": value}
    if isinstance(value, BaseModel):
        return content_view(value.model_dump(mode="json"))
    if isinstance(value, dict):
        return {key: content_view(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [content_view(item) for item in value]
    return value


@dataclass
class ArtifactInputs(CachePolicy):
    """Cache key: task source + inputs with artifact URIs replaced by their manifests' sha256.

    Args:
        exclude: input names left out of the key (``endpoints``: where the services listen
            does not change what they produce).
    """

    exclude: list[str] = field(default_factory=lambda: ["endpoints"])

    def compute_key(self, task_ctx: TaskRunContext, inputs: dict[str, Any],
                    flow_parameters: dict[str, Any], **kwargs: Any) -> str | None:
        """The key, or None (no caching for this run) when an input's store is unreachable."""
        try:
            view = {name: content_view(value) for name, value in sorted(inputs.items())
                    if name not in self.exclude}
        except SynthclfError as exc:
            log.warning("not caching %s: cannot read an input artifact's manifest (%s)",
                        task_ctx.task.name, exc.message)
            return None
        source = TASK_SOURCE.compute_key(task_ctx, inputs, flow_parameters)
        key = hash_objects(source, view, get_settings().artifact_store, raise_on_failure=True)
        assert key is not None  # raise_on_failure=True: hash_objects raises rather than return None
        dead = _dead_references(task_ctx, key)
        if dead:
            log.warning("cached result of %s names deleted artifacts (%s): running it again",
                        task_ctx.task.name, ", ".join(dead))
            return hash_objects(key, sorted(dead), raise_on_failure=True)
        return key


def _dead_references(task_ctx: TaskRunContext, key: str) -> list[str]:
    """Artifact URIs in the result cached under ``key`` whose manifest is gone."""
    store = task_ctx.result_store
    if store is None or not store.exists(key):
        return []
    try:
        result = store.read(key).result
        return [uri for uri in artifact_uris(result) if manifest_digest(uri) is None]
    except SynthclfError:
        return []


#: The policy of every step that produces or reads artifacts.
ARTIFACT_INPUTS = ArtifactInputs()
