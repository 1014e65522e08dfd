"""Artifact store: one small port, two adapters (local filesystem, MinIO/S3).

Keys are '/'-separated paths relative to the store's root, e.g. ``dataset/<id>/data.jsonl``.
:func:`open_store` picks the adapter from a location string: a local folder (the embedded
default, ``./artifacts``) or ``s3://bucket[/prefix]`` (MinIO through the ``minio`` SDK, in :mod:`synthclf.core.s3_store`,
imported only when such a store is opened).
Local writes are atomic (temp file + ``os.replace``); S3 PUTs are atomic per object.
:meth:`~ArtifactStore.publish_folder` creates an artifact at most once and never overwrites a
published one: locally by renaming a complete temp folder into place, on S3 by a conditional
PUT (``If-None-Match: *``) of the manifest (docs/architecture.md).
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from pathlib import Path
from typing import Protocol
from urllib.parse import urlparse

from synthclf.core.atomic import atomic_file
from synthclf.core.config import Settings
from synthclf.core.errors import InvalidInput, NotFound, Unavailable
from synthclf.core.manifest import MANIFEST_NAME

#: Name prefix of in-flight temp files and folders in a local store (skipped by ``list``).
TEMP_PREFIX = ".tmp-"


class ArtifactStore(Protocol):
    """What the services need from an object store."""

    def uri(self, key: str) -> str:
        """Fully-qualified URI of ``key`` (``file:///…`` or ``s3://bucket/…``)."""

    def put_file(self, key: str, path: Path) -> None:
        """Upload a local file to ``key`` (replacing it atomically)."""

    def get_file(self, key: str, path: Path) -> None:
        """Download ``key`` to a local path. Raises NotFound if absent."""

    def put_bytes(self, key: str, data: bytes) -> None:
        """Write ``data`` to ``key`` atomically."""

    def get_bytes(self, key: str, read_limit: int | None = None) -> bytes:
        """Read ``key`` (at most ``read_limit`` bytes when given). Raises NotFound if absent."""

    def publish_folder(self, prefix: str, folder: Path, paths: list[str], manifest: bytes) -> bool:
        """Create the artifact ``prefix`` from ``folder``'s ``paths``, its manifest last.

        Returns False, writing nothing more, when a manifest already exists there (a
        concurrent identical job published first); never overwrites a published manifest.
        """

    def exists(self, key: str) -> bool:
        """Whether ``key`` exists."""

    def delete(self, key: str) -> None:
        """Remove ``key``; no error if it is absent (used to drop a refused upload)."""

    def list(self, prefix: str) -> list[str]:
        """Keys under ``prefix`` (recursive), sorted."""

    def check(self) -> None:
        """Raise Unavailable if the store cannot be reached (used by health checks)."""


class LocalArtifactStore:
    """Artifacts in a local folder (embedded default).

    Args:
        root: folder holding the artifacts; created if missing.
    """

    def __init__(self, root: Path | str):
        self.root = Path(root).expanduser().resolve()

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root not in path.parents and path != self.root:
            raise InvalidInput(f"artifact key '{key}' escapes the store root")
        return path

    def local_path(self, key: str) -> Path:
        """The local path of ``key`` (no copy needed for this backend)."""
        return self._path(key)

    def uri(self, key: str) -> str:
        """``file://`` URI of ``key``."""
        return self._path(key).as_uri()

    def put_file(self, key: str, path: Path) -> None:
        """Copy ``path`` into the store through a temp file and ``os.replace`` (streamed: a
        file of any size costs no memory)."""
        with atomic_file(self._path(key), prefix=TEMP_PREFIX) as temp:
            shutil.copyfile(path, temp)

    def delete(self, key: str) -> None:
        """Remove ``key`` (no error if absent)."""
        self._path(key).unlink(missing_ok=True)

    def get_file(self, key: str, path: Path) -> None:
        """Copy ``key`` to ``path``."""
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_bytes(self.get_bytes(key))

    def put_bytes(self, key: str, data: bytes) -> None:
        """Write atomically: temp file in the same folder, then ``os.replace``."""
        with atomic_file(self._path(key), prefix=TEMP_PREFIX) as temp:
            temp.write_bytes(data)

    def get_bytes(self, key: str, read_limit: int | None = None) -> bytes:
        """Read ``key`` (at most ``read_limit`` bytes); NotFound if absent."""
        path = self._path(key)
        if not path.is_file():
            raise NotFound(f"no artifact file at {self.uri(key)}")
        with open(path, "rb") as handle:
            return handle.read(-1 if read_limit is None else read_limit)

    def publish_folder(self, prefix: str, folder: Path, paths: list[str], manifest: bytes) -> bool:
        """Copy the files and manifest into a temp folder beside the artifact, then rename it
        into place: the artifact appears whole or not at all, and ``rename`` refuses to
        replace a non-empty folder, so of two concurrent publishers exactly one wins."""
        target = self._path(prefix)
        if (target / MANIFEST_NAME).is_file():
            return False
        target.parent.mkdir(parents=True, exist_ok=True)
        temp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f"{TEMP_PREFIX}{target.name}-"))
        try:
            for rel in paths:
                (temp / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(Path(folder) / rel, temp / rel)
            (temp / MANIFEST_NAME).write_bytes(manifest)
            temp.chmod(0o755)
            for _ in range(2):
                try:
                    os.rename(temp, target)
                    return True
                except OSError as exc:
                    if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                        raise
                if (target / MANIFEST_NAME).is_file():
                    return False
                # Files without a manifest: an interrupted publish of a version without atomic
                # folders. Not an artifact; move it aside and try once more.
                aside = Path(tempfile.mkdtemp(dir=target.parent, prefix=f"{TEMP_PREFIX}{target.name}-old-"))
                os.rename(target, aside / "old")
                shutil.rmtree(aside, ignore_errors=True)
            return False
        finally:
            shutil.rmtree(temp, ignore_errors=True)

    def exists(self, key: str) -> bool:
        """Whether ``key`` is a file."""
        return self._path(key).is_file()

    def list(self, prefix: str) -> list[str]:
        """Keys under ``prefix``, skipping in-flight temp files."""
        base = self._path(prefix) if prefix else self.root
        if not base.is_dir():
            return []
        return sorted(
            p.relative_to(self.root).as_posix()
            for p in base.rglob("*")
            if p.is_file() and not any(part.startswith(TEMP_PREFIX) for part in p.relative_to(self.root).parts)
        )

    def check(self) -> None:
        """Create the root if needed; Unavailable if it is not writable."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise Unavailable(f"artifact folder {self.root} is not usable: {exc}") from exc
        if not os.access(self.root, os.W_OK):
            raise Unavailable(f"artifact folder {self.root} is not writable")


def open_store(location: str, settings: Settings) -> ArtifactStore:
    """Store for a location: a local folder, ``file://`` URI, or ``s3://bucket[/prefix]``.

    Args:
        location: where artifacts live (``SYNTHCLF_ARTIFACT_STORE``).
        settings: S3 endpoint and credentials.

    Raises:
        InvalidInput: unsupported scheme.
    """
    parsed = urlparse(location)
    if parsed.scheme == "s3":
        from synthclf.core.s3_store import S3ArtifactStore  # the S3 SDK only where a store uses it

        return S3ArtifactStore.connect(settings, parsed.netloc, parsed.path)
    if parsed.scheme == "file":
        return LocalArtifactStore(Path(parsed.path))
    if parsed.scheme == "":
        return LocalArtifactStore(Path(location))
    raise InvalidInput(f"unsupported artifact store '{location}': use a folder or s3://bucket")
