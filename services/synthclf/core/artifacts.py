"""Publishing and fetching artifacts: folders with a manifest, referenced by URI.

An artifact lives at ``<store>/<kind>/<id>/`` and is referenced by its URI (``file:///…`` or
``s3://bucket/…``). :func:`publish` creates an artifact at most once, its manifest last, so a
reader never sees a half-written artifact; :func:`fetch` verifies every file's sha256 and
size before handing back a local folder (docs/architecture.md, "Artifacts").

The store is a trust boundary (docs/architecture.md, "The artifact store as a trust
boundary"): every URI a caller or a manifest names goes through :func:`resolve`, which accepts
only the configured store's own URIs; only the files a manifest lists are ever opened, each
verified; manifests are bounded in size and depth and validated (:mod:`synthclf.core.manifest`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, overload
from urllib.parse import unquote, urlparse

from pydantic import BaseModel

from synthclf.core.atomic import atomic_file, atomic_folder
from synthclf.core.config import Settings, get_settings
from synthclf.core.errors import IntegrityError, InvalidInput, NotFound
from synthclf.core.jobs import job_lock, single_flight, staging, sweep_staging
from synthclf.core.manifest import (
    MANIFEST_NAME,
    NAME_PATTERN,
    FileEntry,
    Manifest,
    Producer,
    describe_folder,
    parse_manifest,
    verify_bytes,
    verify_file,
)
from synthclf.core.store import ArtifactStore, LocalArtifactStore, open_store

__all__ = [
    "KINDS", "REQUIRED_FILES", "ArtifactRef", "LocalArtifact", "allowed_form", "atomic_folder", "fetch", "find",
    "job_id", "job_lock", "publish", "read_artifact_file", "read_manifest", "read_manifest_bytes",
    "resolve", "single_flight", "split_uri", "staging", "sweep_staging",
]
log = logging.getLogger("synthclf.artifacts")
#: Every artifact kind a synthclf service publishes (listed in ``synthclf.v1.ArtifactRef.kind``).
KINDS: tuple[str, ...] = (
    "dataset", "upload", "task", "model", "onnx-model", "evaluation", "diversity", "similarity",
    "instance-subjectivity", "task-subjectivity", "projection", "verdict", "report",
)
#: Files every reader of a kind needs; a manifest of that kind without them is refused.
REQUIRED_FILES: dict[str, tuple[str, ...]] = {
    "dataset": ("data.jsonl",),
    "model": ("config.json", "labels.json"),
    "onnx-model": ("model.onnx", "labels.json"),
    "evaluation": ("metrics.json",),
    "task": ("task.yaml",),
}
#: Longest artifact URI accepted, characters.
MAX_URI_CHARS = 2048
#: Name prefix of in-flight downloads in the S3 cache (never removed as unlisted files).
_FETCH_PREFIX = ".fetch-"

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

    @overload
    def file(self, name: str, *, required: Literal[True] = ...) -> Path: ...

    @overload
    def file(self, name: str, *, required: bool) -> Path | None: ...

    def file(self, name: str, *, required: bool = True) -> Path | None:
        """Local path of the artifact file ``name`` (verified by :func:`fetch`).

        Args:
            name: path relative to the artifact folder, as the manifest lists it.
            required: when False, None for a file the manifest does not list.

        Raises:
            IntegrityError: ``required`` and the manifest does not list ``name``.
        """
        if not required and all(entry.path != name for entry in self.manifest.files):
            return None
        self.manifest.file(name)
        return self.path / name


def job_id(prefix: str, parameters: dict[str, Any]) -> str:
    """Deterministic artifact id of a job: ``<prefix>-<sha256 of canonical JSON>[:16]``.

    Computed from the whole parameter dump (sorted keys), not field by field, so a new field
    can never be silently left out of the key (a new parameter changes the id of every job that
    sets it, so an old artifact is never returned for a new request).
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

    Files are uploaded first, the manifest (with sha256 and size of each) last, through
    :meth:`ArtifactStore.publish_folder`: a published artifact is never overwritten, so when a
    concurrent identical job (another process or replica) published first, its artifact is
    kept and referenced.

    Args:
        store: destination store.
        folder: local folder with the artifact's files (not modified).
        kind: artifact kind, one of :data:`KINDS`.
        artifact_id: id within the kind, usually :func:`job_id` of the job's parameters.
        service: producing service name.
        parameters: job parameters recorded in the manifest.
        inputs: URIs of input artifacts (lineage).
        stats: summary numbers.

    Returns:
        The artifact's reference.

    Raises:
        InvalidInput: ``folder`` holds no file.
        ValueError: ``kind`` is not one of :data:`KINDS` (a bug in the caller).
    """
    if kind not in KINDS:
        raise ValueError(f"unknown artifact kind {kind!r}; the kinds are {', '.join(KINDS)}")
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
    created = store.publish_folder(f"{kind}/{artifact_id}", folder, [entry.path for entry in files],
                                   manifest.model_dump_json(indent=2).encode())
    if not created:
        log.info("%s/%s was published meanwhile by an identical job: keeping that one", kind, artifact_id)
    return _ref(store, kind, artifact_id)


def split_uri(uri: str) -> tuple[str, str, str]:
    """Split an artifact URI into (store location, kind, id), by its shape only.

    Not a trust decision: URIs from callers or manifests go through :func:`resolve`.

    Raises:
        InvalidInput: the URI has no ``<kind>/<id>`` tail.
    """
    parts = uri.rstrip("/").rsplit("/", 2)
    if len(parts) != 3 or not all(parts) or parts[0].endswith(":/"):
        raise InvalidInput(f"not an artifact URI: '{uri}' (expected <store>/<kind>/<id>)")
    return parts[0], parts[1], parts[2]


def _store_form(settings: Settings) -> tuple[str, Any]:
    """(scheme, bucket, prefix segments) of an S3 store, or ("file", root) of a local one."""
    parsed = urlparse(settings.artifact_store)
    if parsed.scheme == "s3":
        return "s3", (parsed.netloc, [seg for seg in parsed.path.split("/") if seg])
    local = parsed.path if parsed.scheme == "file" else settings.artifact_store
    return "file", Path(local).expanduser().resolve()


def allowed_form(settings: Settings) -> str:
    """The artifact URI form this server accepts, e.g. ``s3://synthclf/artifacts/<kind>/<id>``."""
    scheme, where = _store_form(settings)
    if scheme == "s3":
        bucket, prefix = where
        return f"s3://{'/'.join([bucket, *prefix])}/<kind>/<id>"
    return f"{where.as_uri()}/<kind>/<id>"


def _kinds(kind: str | Collection[str] | None) -> tuple[str, ...]:
    return () if kind is None else (kind,) if isinstance(kind, str) else tuple(kind)


def resolve(uri: str, settings: Settings, *, kind: str | Collection[str] | None = None) -> ArtifactRef:
    """Resolve an artifact URI against the configured store; the one gate for every URI.

    Accepted: ``s3://<bucket>/<prefix>/<kind>/<id>[/]`` of the configured bucket and prefix
    on an S3 store; on a local store ``file://<root>/<kind>/<id>[/]`` or a plain path to the
    same folder, where ``<root>`` is the store folder with symlinks resolved (an alias of it
    is accepted) and neither ``<kind>`` nor ``<id>`` may be a symlink. ``<kind>`` and ``<id>``
    are single segments of letters, digits, ``.``, ``_`` and ``-``; ``.``/``..`` segments,
    queries, fragments and other schemes, buckets or prefixes are refused.

    Args:
        uri: the URI as a caller or a manifest gave it.
        settings: ``artifact_store``.
        kind: the kind(s) the caller expects; None: any.

    Returns:
        The reference with the canonical URI (as :func:`publish` returns it).

    Raises:
        InvalidInput: any other URI; the message gives the allowed form, never a server path
            outside the store's own URI form.
    """
    form = allowed_form(settings)
    if not isinstance(uri, str) or not uri:
        raise InvalidInput(f"an artifact URI is required; artifact URIs must be {form}")
    shown = repr(uri if len(uri) <= 160 else uri[:160] + "…")

    def refuse(why: str) -> InvalidInput:
        """The InvalidInput naming the URI, ``why`` it is refused and the accepted form."""
        return InvalidInput(f"artifact URI {shown} {why}; artifact URIs must be {form}")

    if len(uri) > MAX_URI_CHARS or "\x00" in uri or "\\" in uri:
        raise refuse(f"is not a valid URI (at most {MAX_URI_CHARS} characters, no NUL or backslash)")
    try:
        parsed = urlparse(uri)
    except ValueError as exc:
        raise refuse("is not a valid URI") from exc
    if parsed.query or parsed.fragment or parsed.params:
        raise refuse("has a query or fragment")
    scheme, where = _store_form(settings)
    if scheme == "s3":
        bucket, prefix = where
        if parsed.scheme != "s3":
            raise refuse("is not in this server's artifact store")
        if parsed.netloc != bucket:
            raise refuse("names another bucket")
        segments = parsed.path.removeprefix("/").removesuffix("/").split("/")
        if segments[: len(prefix)] != prefix or len(segments) != len(prefix) + 2:
            raise refuse("is not <kind>/<id> under the store's prefix")
        artifact_kind, artifact_id = segments[-2:]
    else:
        root = where
        if parsed.scheme == "file":
            if parsed.netloc not in ("", "localhost"):
                raise refuse("names a remote host")
            path = unquote(parsed.path)
        elif parsed.scheme == "" and not uri.startswith("//"):
            path = uri
        else:
            raise refuse("is not in this server's artifact store")
        if "\x00" in path or ".." in path.split("/"):
            raise refuse("is not normalised ('..' segments)")
        folder = Path(os.path.abspath(path))
        artifact_kind, artifact_id = folder.parent.name, folder.name
        if Path(os.path.realpath(folder.parent.parent)) != root:
            raise refuse("is outside the artifact store")
        if Path(os.path.realpath(folder)) != root / artifact_kind / artifact_id:
            raise refuse("leaves the artifact store through a symbolic link")
    if not (NAME_PATTERN.fullmatch(artifact_kind) and NAME_PATTERN.fullmatch(artifact_id)):
        raise refuse("has a kind or id that is not one segment of letters, digits, '.', '_' or '-'")
    wanted = _kinds(kind)
    if wanted and artifact_kind not in wanted:
        expected = " or ".join(f"{'an' if k[0] in 'aeiou' else 'a'} {k}" for k in wanted)
        raise InvalidInput(f"{shown} is a '{artifact_kind}' artifact, not {expected}")
    if scheme == "s3":
        canonical = f"s3://{'/'.join([where[0], *where[1], artifact_kind, artifact_id])}"
    else:
        canonical = (where / artifact_kind / artifact_id).as_uri()
    return ArtifactRef(uri=canonical, kind=artifact_kind, id=artifact_id)


def _manifest_bytes(store: ArtifactStore, ref: ArtifactRef, settings: Settings) -> bytes:
    try:
        data = store.get_bytes(f"{ref.kind}/{ref.id}/{MANIFEST_NAME}", read_limit=settings.max_manifest_bytes + 1)
    except NotFound as exc:
        raise NotFound(f"no artifact at {ref.uri} (manifest.json missing)") from exc
    if len(data) > settings.max_manifest_bytes:
        raise IntegrityError(f"{ref.uri}: manifest.json is larger than {settings.max_manifest_bytes} "
                             "bytes (limit SYNTHCLF_MAX_MANIFEST_BYTES)")
    return data


def _manifest(store: ArtifactStore, ref: ArtifactRef, settings: Settings) -> Manifest:
    manifest = parse_manifest(_manifest_bytes(store, ref, settings), what=ref.uri,
                              max_bytes=settings.max_manifest_bytes, max_depth=settings.max_manifest_depth)
    if (manifest.kind, manifest.id) != (ref.kind, ref.id):
        raise IntegrityError(f"{ref.uri}: its manifest describes {manifest.kind}/{manifest.id}, "
                             f"not {ref.kind}/{ref.id}")
    return manifest


def read_manifest_bytes(uri: str, settings: Settings | None = None, *,
                        kind: str | Collection[str] | None = None) -> bytes:
    """The bytes of an artifact's ``manifest.json`` as stored (e.g. to hash them).

    Raises:
        InvalidInput: ``uri`` is not of the configured store (see :func:`resolve`), or not of
            ``kind``.
        NotFound: no manifest at ``uri`` (never published, or publish interrupted).
        IntegrityError: larger than ``settings.max_manifest_bytes``.
    """
    settings = settings or get_settings()
    ref = resolve(uri, settings, kind=kind)
    return _manifest_bytes(open_store(settings.artifact_store, settings), ref, settings)


def read_manifest(uri: str, settings: Settings | None = None, *,
                  kind: str | Collection[str] | None = None) -> Manifest:
    """Read and validate an artifact's manifest without fetching its files.

    Raises:
        InvalidInput: ``uri`` is not of the configured store, or not of ``kind``.
        NotFound: no manifest at ``uri`` (never published, or publish interrupted).
        IntegrityError: the manifest is too large, too deep, malformed, or names another
            artifact.
    """
    settings = settings or get_settings()
    ref = resolve(uri, settings, kind=kind)
    return _manifest(open_store(settings.artifact_store, settings), ref, settings)


def fetch(uri: str, settings: Settings | None = None, *,
          kind: str | Collection[str] | None = None) -> LocalArtifact:
    """Fetch an artifact to a local folder and verify every file against its manifest.

    Local-store artifacts are verified in place (a listed file that is a symlink, or an
    unlisted file in the folder, is refused); S3 artifacts are downloaded into
    ``settings.cache_dir/<kind>/<id>/`` (files already there and matching are reused, each
    download is verified before it replaces the cached copy, and files the manifest does not
    list are removed), so the folder holds exactly the manifest's files.

    Args:
        uri: artifact URI (see :func:`resolve`).
        settings: store, S3 credentials, cache folder, manifest limits; read from the
            environment if None.
        kind: the kind(s) the caller expects; None: any.

    Returns:
        The verified artifact (its ``ref.uri`` canonical).

    Raises:
        InvalidInput: ``uri`` is not of the configured store, or not of ``kind``.
        NotFound: no artifact at ``uri``.
        IntegrityError: the manifest is invalid or lacks a file its kind needs
            (:data:`REQUIRED_FILES`), or a file is missing, a symlink, unlisted, or its
            sha256/size differ from the manifest.
    """
    settings = settings or get_settings()
    ref = resolve(uri, settings, kind=kind)
    store = open_store(settings.artifact_store, settings)
    manifest = _manifest(store, ref, settings)
    listed = {entry.path for entry in manifest.files}
    if missing := [name for name in REQUIRED_FILES.get(ref.kind, ()) if name not in listed]:
        raise IntegrityError(f"{ref.uri}: a {ref.kind} artifact needs {', '.join(missing)}, which its "
                             "manifest does not list")
    if isinstance(store, LocalArtifactStore):
        folder = store.local_path(f"{ref.kind}/{ref.id}")
        _verify_in_place(ref, manifest, folder)
    else:
        folder = Path(settings.cache_dir).resolve() / ref.kind / ref.id
        _download(store, ref, manifest, folder)
    return LocalArtifact(ref, manifest, folder)


def read_artifact_file(uri: str, name: str, settings: Settings | None = None, *,
                       kind: str | Collection[str] | None = None, required: bool = True) -> bytes | None:
    """One file of an artifact, verified against its manifest, without fetching the others.

    Args:
        uri: artifact URI (see :func:`resolve`).
        name: the file's path as the manifest lists it.
        settings: store and manifest limits; from the environment if None.
        kind: the kind(s) the caller expects; None: any.
        required: when False, None for a file the manifest does not list.

    Raises:
        InvalidInput: ``uri`` is not of the configured store, or not of ``kind``.
        NotFound: no artifact at ``uri``, or the listed file is gone.
        IntegrityError: invalid manifest; ``required`` and ``name`` unlisted; the file is a
            symlink or its sha256/size differ.
    """
    settings = settings or get_settings()
    ref = resolve(uri, settings, kind=kind)
    store = open_store(settings.artifact_store, settings)
    manifest = _manifest(store, ref, settings)
    if not required and all(entry.path != name for entry in manifest.files):
        return None
    entry = manifest.file(name)
    if isinstance(store, LocalArtifactStore):
        path = _checked_local_file(ref, entry, store.local_path(f"{ref.kind}/{ref.id}"))
        data = path.read_bytes()
    else:
        data = store.get_bytes(f"{ref.kind}/{ref.id}/{entry.path}", read_limit=entry.size + 1)
    verify_bytes(entry, data)
    return data


def _checked_local_file(ref: ArtifactRef, entry: FileEntry, folder: Path) -> Path:
    """Path of a listed file in a local-store artifact folder: regular, not a symlink, inside."""
    path = folder / entry.path
    if Path(os.path.realpath(path)) != path or path.is_symlink():
        raise IntegrityError(f"{ref.uri}: '{entry.path}' is a symbolic link; artifact files must be "
                             "regular files inside the artifact folder")
    if not path.is_file():
        raise IntegrityError(f"{ref.uri}: file '{entry.path}' listed in manifest is missing")
    return path


def _unlisted(folder: Path, listed: set[str]) -> list[Path]:
    """Files and symlinks under ``folder`` (symlinks not followed) that are not ``listed``."""
    found = []
    for parent, dirs, names in os.walk(folder):
        for name in names + [d for d in dirs if os.path.islink(os.path.join(parent, d))]:
            path = Path(parent, name)
            rel = path.relative_to(folder).as_posix()
            if rel not in listed and rel != MANIFEST_NAME and not name.startswith((".tmp-", _FETCH_PREFIX)):
                found.append(path)
    return found


def _verify_in_place(ref: ArtifactRef, manifest: Manifest, folder: Path) -> None:
    """Check a local-store artifact folder: every listed file regular, inside, matching."""
    for entry in manifest.files:
        verify_file(entry, _checked_local_file(ref, entry, folder))
    if extra := _unlisted(folder, {entry.path for entry in manifest.files}):
        names = ", ".join(repr(p.relative_to(folder).as_posix()) for p in extra[:3])
        raise IntegrityError(f"{ref.uri}: holds files its manifest does not list ({names})")


def _download(store: ArtifactStore, ref: ArtifactRef, manifest: Manifest, folder: Path) -> None:
    """Bring ``folder`` (the cache copy of an S3 artifact) to exactly the manifest's files.

    Writes and unlinks only inside ``folder``: entry paths are validated relative paths, a
    symlink on the way is refused, and each download lands in a temp file beside its target
    and replaces it only once verified.
    """
    for entry in manifest.files:
        target = folder / entry.path
        if Path(os.path.realpath(target.parent)) != target.parent:  # checked before any mkdir
            raise IntegrityError(f"{ref.uri}: the cache folder of '{entry.path}' is a symbolic link")
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_symlink():
            target.unlink()
        elif target.is_file():
            try:
                verify_file(entry, target)
                continue
            except IntegrityError:
                pass
        with atomic_file(target, prefix=_FETCH_PREFIX) as temp:
            store.get_file(f"{ref.kind}/{ref.id}/{entry.path}", temp)
            verify_file(entry, temp)
    folder.mkdir(parents=True, exist_ok=True)
    for path in _unlisted(folder, {entry.path for entry in manifest.files}):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
