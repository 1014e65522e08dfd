"""Publishing and fetching artifacts: folders with a manifest, referenced by URI.

An artifact lives at ``<store>/<kind>/<id>/`` and is referenced by its URI (``file:///…`` or
``s3://bucket/…``). :func:`publish` uploads the files first and ``manifest.json`` last, so a
reader never sees a half-written artifact; :func:`fetch` verifies every file's sha256 and
size before handing back a local folder (design.md, "Shape").
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from synthclf.core.config import Settings, get_settings
from synthclf.core.errors import IntegrityError, InvalidInput, NotFound
from synthclf.core.manifest import MANIFEST_NAME, Manifest, Producer, describe_folder, verify_file
from synthclf.core.store import ArtifactStore, LocalArtifactStore, open_store


class ArtifactRef(BaseModel):
    """Reference to a published artifact (mirrors ``synthclf.v1.ArtifactRef``)."""

    uri: str
    kind: str
    id: str


@dataclass(frozen=True)
class LocalArtifact:
    """A fetched, verified artifact: its manifest and a local folder holding its files."""

    ref: ArtifactRef
    manifest: Manifest
    path: Path


def job_id(prefix: str, parameters: dict[str, Any]) -> str:
    """Deterministic artifact id of a job: ``<prefix>-<sha256 of canonical JSON>[:16]``.

    Computed from the whole parameter dump (sorted keys), not field by field, so a new field
    can never be silently left out of the key (style.md §3).
    """
    canonical = json.dumps(parameters, sort_keys=True, separators=(",", ":"), default=str)
    return f"{prefix}-{hashlib.sha256(canonical.encode()).hexdigest()[:16]}"


def _ref(store: ArtifactStore, kind: str, artifact_id: str) -> ArtifactRef:
    return ArtifactRef(uri=store.uri(f"{kind}/{artifact_id}"), kind=kind, id=artifact_id)


def find(store: ArtifactStore, kind: str, artifact_id: str) -> ArtifactRef | None:
    """The artifact's reference if it has been published (manifest present), else None."""
    if store.exists(f"{kind}/{artifact_id}/{MANIFEST_NAME}"):
        return _ref(store, kind, artifact_id)
    return None


@contextmanager
def staging() -> Iterator[Path]:
    """A temporary folder to assemble an artifact in; removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="synthclf-stage-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def atomic_folder(output_dir: Path) -> Iterator[Path]:
    """Write a folder all at once: yield a sibling temp folder that replaces ``output_dir``.

    On normal exit the temp folder is renamed onto ``output_dir`` (an existing one is
    replaced); on any exception, including KeyboardInterrupt, it is deleted, so a killed job
    never leaves a half-written folder.

    Args:
        output_dir: the folder to produce; its parent is created if needed.

    Yields:
        The temp folder to write into (mode 0755 once published).
    """
    output_dir = Path(output_dir)
    output_dir.parent.mkdir(parents=True, exist_ok=True)
    temp = Path(tempfile.mkdtemp(prefix=f".{output_dir.name}.", dir=output_dir.parent))
    try:
        yield temp
        temp.chmod(0o755)
        if output_dir.exists():
            shutil.rmtree(output_dir)
        temp.rename(output_dir)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise


def publish(
    store: ArtifactStore,
    folder: Path,
    *,
    kind: str,
    artifact_id: str,
    service: str,
    parameters: dict[str, Any] | None = None,
    inputs: list[str] | None = None,
    stats: dict[str, Any] | None = None,
) -> ArtifactRef:
    """Publish the files of ``folder`` as artifact ``kind/artifact_id``.

    Files are uploaded first, the manifest (with sha256 and size of each) last.

    Args:
        store: destination store.
        folder: local folder with the artifact's files (not modified).
        kind: artifact kind (``dataset``, ``model``, ``onnx-model``, ``evaluation``, ``report``).
        artifact_id: id within the kind, usually :func:`job_id` of the job's parameters.
        service: producing service name.
        parameters: job parameters recorded in the manifest.
        inputs: URIs of input artifacts (lineage).
        stats: summary numbers.

    Returns:
        The artifact's reference.

    Raises:
        InvalidInput: ``folder`` holds no file.
    """
    files = describe_folder(folder)
    if not files:
        raise InvalidInput(f"refusing to publish empty artifact {kind}/{artifact_id}")
    manifest = Manifest(
        kind=kind,
        id=artifact_id,
        producer=Producer(service=service),
        parameters=parameters or {},
        inputs=inputs or [],
        files=files,
        stats=stats or {},
    )
    for entry in files:
        store.put_file(f"{kind}/{artifact_id}/{entry.path}", folder / entry.path)
    store.put_bytes(f"{kind}/{artifact_id}/{MANIFEST_NAME}", manifest.model_dump_json(indent=2).encode())
    return _ref(store, kind, artifact_id)


def split_uri(uri: str) -> tuple[str, str, str]:
    """Split an artifact URI into (store location, kind, id).

    Raises:
        InvalidInput: the URI has no ``<kind>/<id>`` tail.
    """
    parts = uri.rstrip("/").rsplit("/", 2)
    if len(parts) != 3 or not all(parts) or parts[0].endswith(":/"):
        raise InvalidInput(f"not an artifact URI: '{uri}' (expected <store>/<kind>/<id>)")
    return parts[0], parts[1], parts[2]


def read_manifest_bytes(uri: str, settings: Settings | None = None) -> bytes:
    """The bytes of an artifact's ``manifest.json`` as stored (e.g. to hash them).

    Raises:
        NotFound: no manifest at ``uri`` (never published, or publish interrupted).
    """
    location, kind, artifact_id = split_uri(uri)
    store = open_store(location, settings or get_settings())
    try:
        return store.get_bytes(f"{kind}/{artifact_id}/{MANIFEST_NAME}")
    except NotFound as exc:
        raise NotFound(f"no artifact at {uri} (manifest.json missing)") from exc


def read_manifest(uri: str, settings: Settings | None = None) -> Manifest:
    """Read an artifact's manifest without fetching its files.

    Raises:
        NotFound: no manifest at ``uri`` (never published, or publish interrupted).
    """
    return Manifest.model_validate_json(read_manifest_bytes(uri, settings))


def fetch(uri: str, settings: Settings | None = None) -> LocalArtifact:
    """Fetch an artifact to a local folder and verify every file against its manifest.

    Local-store artifacts are verified in place; S3 artifacts are downloaded into
    ``settings.cache_dir/<kind>/<id>/`` (files already there and matching are reused).

    Args:
        uri: artifact URI.
        settings: for S3 credentials and the cache folder; read from the environment if None.

    Returns:
        The verified artifact.

    Raises:
        NotFound: no artifact at ``uri``.
        IntegrityError: a file is missing, or its sha256/size differ from the manifest.
    """
    settings = settings or get_settings()
    location, kind, artifact_id = split_uri(uri)
    store = open_store(location, settings)
    manifest = read_manifest(uri, settings)
    ref = ArtifactRef(uri=uri, kind=kind, id=artifact_id)
    if isinstance(store, LocalArtifactStore):
        folder = store.local_path(f"{kind}/{artifact_id}")
        for entry in manifest.files:
            if not (folder / entry.path).is_file():
                raise IntegrityError(f"{uri}: file '{entry.path}' listed in manifest is missing")
            verify_file(entry, folder / entry.path)
        return LocalArtifact(ref, manifest, folder)
    folder = Path(settings.cache_dir) / kind / artifact_id
    for entry in manifest.files:
        target = folder / entry.path
        if target.is_file():
            try:
                verify_file(entry, target)
                continue
            except IntegrityError:
                target.unlink()
        target.parent.mkdir(parents=True, exist_ok=True)
        store.get_file(f"{kind}/{artifact_id}/{entry.path}", target)
        verify_file(entry, target)
    return LocalArtifact(ref, manifest, folder)
