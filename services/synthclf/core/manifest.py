"""The artifact manifest: what an artifact is, who made it, from what, and its files' hashes.

Every artifact is a folder holding its files and a ``manifest.json`` written last (atomic
publish: a folder without a manifest is not an artifact). Readers verify each file's sha256
and size against the manifest (design.md, "Shape").
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from synthclf import __version__
from synthclf.core.errors import IntegrityError

MANIFEST_NAME = "manifest.json"
_CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class FileEntry(BaseModel):
    """One file of an artifact."""

    path: str = Field(description="Path relative to the artifact folder, '/'-separated.")
    sha256: str = Field(description="Hex sha256 of the file's bytes.")
    size: int = Field(description="Size in bytes.")


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

    def file(self, path: str) -> FileEntry:
        """Entry for ``path``; raises IntegrityError if the manifest does not list it."""
        for entry in self.files:
            if entry.path == path:
                return entry
        raise IntegrityError(f"artifact {self.kind}/{self.id} has no file '{path}'")


def describe_folder(folder: Path) -> list[FileEntry]:
    """FileEntry for every regular file under ``folder`` except the manifest, sorted by path."""
    entries = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder).as_posix()
        if rel != MANIFEST_NAME:
            entries.append(FileEntry(path=rel, sha256=sha256_file(path), size=path.stat().st_size))
    return entries


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
