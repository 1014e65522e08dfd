"""The artifact manifest: what an artifact is, who made it, from what, and its files' hashes.

Every artifact is a folder holding its files and a ``manifest.json`` written last (atomic
publish: a folder without a manifest is not an artifact). Readers verify each file's sha256
and size against the manifest (docs/architecture.md, "Artifacts").

A manifest is untrusted input (anyone who can write to the bucket can craft one), so
:func:`parse_manifest` bounds its size and nesting depth before parsing, and the models
validate every field: a file entry's ``path`` must be a relative, normalised POSIX path inside
the artifact folder (no ``..``, no leading ``/``, no backslash or NUL), the way MinIO rejects
such object names before it touches a disk (docs/architecture.md, "The artifact store as a
trust boundary").
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, Field, StrictInt, ValidationError, field_validator, model_validator

from synthclf import __version__
from synthclf.core.errors import IntegrityError

MANIFEST_NAME = "manifest.json"
_CHUNK = 1 << 20
#: Artifact kinds and ids: one path segment of letters, digits, '.', '_' and '-' (not '.'/'..').
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")
#: Longest file path in a manifest, characters.
MAX_PATH_CHARS = 1024
_SHA256 = re.compile(r"[0-9a-f]{64}")
_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"')
_NOT_BRACKETS = re.compile(rb"[^\[\]{}]")


def check_entry_path(path: str) -> str:
    """Check that ``path`` names a file inside an artifact folder; return it unchanged.

    Raises:
        ValueError: empty, longer than :data:`MAX_PATH_CHARS`, absolute, with a backslash, NUL
            or control character, an empty, ``.`` or ``..`` segment, or naming the manifest.
    """
    if not path or len(path) > MAX_PATH_CHARS:
        raise ValueError(f"must be 1-{MAX_PATH_CHARS} characters")
    if path.startswith("/") or "\\" in path or any(ord(c) < 32 or ord(c) == 127 for c in path):
        raise ValueError("must be a relative '/'-separated path without backslash or control characters")
    if any(part in ("", ".", "..") for part in path.split("/")):
        raise ValueError("must be normalised: no empty, '.' or '..' segments")
    if path == MANIFEST_NAME:
        raise ValueError(f"must not name {MANIFEST_NAME} itself")
    return path


def json_depth(data: bytes) -> int:
    """Deepest nesting of JSON arrays/objects in ``data`` (brackets inside strings ignored).

    Counts without parsing (numpy over the bracket characters), so a hostile document of a
    million opening brackets costs milliseconds and never reaches a recursive parser.
    """
    brackets = np.frombuffer(_NOT_BRACKETS.sub(b"", _STRINGS.sub(b"", data)), dtype=np.uint8)
    if not brackets.size:
        return 0
    steps = np.where((brackets == ord("[")) | (brackets == ord("{")), 1, -1)
    return int(np.cumsum(steps).max())


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class FileEntry(BaseModel):
    """One file of an artifact."""

    path: str = Field(description="Path relative to the artifact folder, '/'-separated, "
                      "normalised (no '..', no leading '/').")
    sha256: str = Field(description="Hex sha256 of the file's bytes (64 lowercase hex digits).")
    size: StrictInt = Field(ge=0, description="Size in bytes.")

    @field_validator("path")
    @classmethod
    def _path_inside_folder(cls, value: str) -> str:
        return check_entry_path(value)

    @field_validator("sha256")
    @classmethod
    def _hex_digest(cls, value: str) -> str:
        if not _SHA256.fullmatch(value):
            raise ValueError("must be 64 lowercase hex digits")
        return value


class Producer(BaseModel):
    """Who wrote the artifact."""

    service: str = Field(description="Service name, e.g. 'training'.")
    version: str = Field(__version__, description="synthclf version of the producer.")


class Manifest(BaseModel):
    """``manifest.json`` of one artifact.

    Attributes:
        kind: artifact kind: ``dataset``, ``model``, ``onnx-model``, ``evaluation``, ``report``.
        id: artifact id, unique within its kind (a hash of the job's parameters).
        created_at: UTC creation time, ISO 8601.
        producer: service and version that wrote it.
        parameters: the job's parameters (canonical JSON of its request).
        inputs: URIs of the artifacts it was made from (lineage).
        files: every file with sha256 and size.
        stats: summary numbers (row counts, metrics, timings in seconds).
    """

    kind: str
    id: str
    created_at: str = Field(default_factory=lambda: datetime.now(timezone.utc).isoformat())
    producer: Producer
    parameters: dict[str, Any] = Field(default_factory=dict)
    inputs: list[str] = Field(default_factory=list)
    files: list[FileEntry] = Field(default_factory=list)
    stats: dict[str, Any] = Field(default_factory=dict)

    @field_validator("kind", "id")
    @classmethod
    def _one_segment(cls, value: str) -> str:
        if not NAME_PATTERN.fullmatch(value):
            raise ValueError("must be one path segment of letters, digits, '.', '_' or '-' (at most 200)")
        return value

    @model_validator(mode="after")
    def _unique_paths(self) -> Manifest:
        paths = [entry.path for entry in self.files]
        if len(set(paths)) != len(paths):
            raise ValueError("files lists a path more than once")
        prefixes = {"/".join(p.split("/")[:i]) for p in paths for i in range(1, p.count("/") + 1)}
        if clash := sorted(prefixes & set(paths)):
            raise ValueError(f"'{clash[0]}' is listed both as a file and as a folder")
        return self

    def file(self, path: str) -> FileEntry:
        """Entry for ``path``; raises IntegrityError if the manifest does not list it."""
        for entry in self.files:
            if entry.path == path:
                return entry
        raise IntegrityError(f"artifact {self.kind}/{self.id} has no file '{path}'")


def parse_manifest(data: bytes, *, what: str, max_bytes: int, max_depth: int) -> Manifest:
    """Parse and validate ``manifest.json`` bytes within size and depth bounds.

    Args:
        data: the stored bytes.
        what: the artifact, for messages (its URI).
        max_bytes: largest accepted size (``Settings.max_manifest_bytes``).
        max_depth: deepest accepted nesting of arrays/objects (``Settings.max_manifest_depth``).

    Returns:
        The validated manifest.

    Raises:
        IntegrityError: too large, too deeply nested, not JSON, or not a valid manifest (the
            message names the offending field, e.g. ``files.0.path``).
    """
    if len(data) > max_bytes:
        raise IntegrityError(f"{what}: manifest.json is larger than {max_bytes} bytes "
                             "(limit SYNTHCLF_MAX_MANIFEST_BYTES)")
    if (depth := json_depth(data)) > max_depth:
        raise IntegrityError(f"{what}: manifest.json nests {depth} levels deep, more than {max_depth} "
                             "(limit SYNTHCLF_MAX_MANIFEST_DEPTH)")
    try:
        return Manifest.model_validate_json(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'document'}: {e['msg']}"
                             for e in exc.errors(include_url=False)[:5])
        raise IntegrityError(f"{what}: manifest.json is not a valid manifest: {problems}") from exc


def describe_folder(folder: Path) -> list[FileEntry]:
    """FileEntry for every regular file under ``folder`` except the manifest, sorted by path."""
    entries = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder).as_posix()
        if rel != MANIFEST_NAME:
            entries.append(FileEntry(path=rel, sha256=sha256_file(path), size=path.stat().st_size))
    return entries


def verify_bytes(entry: FileEntry, data: bytes) -> None:
    """Check an artifact file's bytes (read whole) against its manifest entry.

    Raises:
        IntegrityError: size or sha256 differ.
    """
    if len(data) != entry.size:
        raise IntegrityError(f"{entry.path}: size {len(data)} bytes, manifest says {entry.size}")
    if hashlib.sha256(data).hexdigest() != entry.sha256:
        raise IntegrityError(f"{entry.path}: sha256 does not match manifest {entry.sha256[:12]}…")


def verify_file(entry: FileEntry, path: Path) -> None:
    """Check a local copy of an artifact file against its manifest entry.

    Raises:
        IntegrityError: size or sha256 differ (tampered or truncated file).
    """
    size = path.stat().st_size
    if size != entry.size:
        raise IntegrityError(f"{entry.path}: size {size} bytes, manifest says {entry.size}")
    actual = sha256_file(path)
    if actual != entry.sha256:
        raise IntegrityError(
            f"{entry.path}: sha256 {actual[:12]}… does not match manifest {entry.sha256[:12]}…"
        )
