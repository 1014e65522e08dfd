"""Artifact store: one small port, two adapters (local filesystem, MinIO/S3).

Keys are '/'-separated paths relative to the store's root, e.g. ``dataset/<id>/data.jsonl``.
:func:`open_store` picks the adapter from a location string: a local folder (the embedded
default, ``./artifacts``) or ``s3://bucket[/prefix]`` (MinIO through the ``minio`` SDK).
Local writes are atomic (temp file + ``os.replace``); S3 PUTs are atomic per object.
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
from pathlib import Path
from typing import Protocol
from urllib.parse import urlparse

import urllib3
from minio import Minio
from minio.error import S3Error

from synthclf.core.config import Settings
from synthclf.core.errors import InvalidInput, NotFound, Unavailable


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

    def get_bytes(self, key: str) -> bytes:
        """Read ``key``. Raises NotFound if absent."""

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
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        os.close(fd)
        try:
            shutil.copyfile(path, tmp)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def delete(self, key: str) -> None:
        """Remove ``key`` (no error if absent)."""
        self._path(key).unlink(missing_ok=True)

    def get_file(self, key: str, path: Path) -> None:
        """Copy ``key`` to ``path``."""
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_bytes(self.get_bytes(key))

    def put_bytes(self, key: str, data: bytes) -> None:
        """Write atomically: temp file in the same folder, then ``os.replace``."""
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get_bytes(self, key: str) -> bytes:
        """Read ``key``; NotFound if absent."""
        path = self._path(key)
        if not path.is_file():
            raise NotFound(f"no artifact file at {self.uri(key)}")
        return path.read_bytes()

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
            if p.is_file() and not p.name.startswith(".tmp-")
        )

    def check(self) -> None:
        """Create the root if needed; Unavailable if it is not writable."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise Unavailable(f"artifact folder {self.root} is not usable: {exc}") from exc
        if not os.access(self.root, os.W_OK):
            raise Unavailable(f"artifact folder {self.root} is not writable")


class S3ArtifactStore:
    """Artifacts in a MinIO/S3 bucket through the ``minio`` SDK.

    Args:
        client: a configured :class:`minio.Minio`.
        bucket: bucket name (created by :meth:`check` if missing).
        prefix: key prefix inside the bucket, without leading/trailing '/'.
    """

    def __init__(self, client: Minio, bucket: str, prefix: str = ""):
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/")

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def _call(self, what: str, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except S3Error as exc:
            if exc.code in ("NoSuchKey", "NoSuchBucket"):
                raise NotFound(f"{what}: {exc.code}") from exc
            raise Unavailable(f"{what}: S3 error {exc.code}: {exc.message}") from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise Unavailable(
                f"{what}: S3 endpoint {self.client._base_url.host} unreachable: {exc}"
            ) from exc

    def uri(self, key: str) -> str:
        """``s3://bucket/prefix/key``."""
        return f"s3://{self.bucket}/{self._key(key)}"

    def put_file(self, key: str, path: Path) -> None:
        """Upload a file (single PUT or multipart; atomic for readers)."""
        self._call(f"put {self.uri(key)}", self.client.fput_object, self.bucket, self._key(key), str(path))

    def get_file(self, key: str, path: Path) -> None:
        """Download to ``path``; NotFound if absent."""
        self._call(f"get {self.uri(key)}", self.client.fget_object, self.bucket, self._key(key), str(path))

    def put_bytes(self, key: str, data: bytes) -> None:
        """Upload ``data`` in one PUT."""
        self._call(
            f"put {self.uri(key)}",
            self.client.put_object, self.bucket, self._key(key), io.BytesIO(data), len(data),
        )

    def delete(self, key: str) -> None:
        """Remove an object (no error if absent)."""
        self._call(f"delete {self.uri(key)}", self.client.remove_object, self.bucket, self._key(key))

    def get_bytes(self, key: str) -> bytes:
        """Read an object; NotFound if absent."""
        def read() -> bytes:
            """GET the object and release the connection."""
            response = self.client.get_object(self.bucket, self._key(key))
            try:
                return response.read()
            finally:
                response.close()
                response.release_conn()
        return self._call(f"get {self.uri(key)}", read)

    def exists(self, key: str) -> bool:
        """Whether the object exists (HEAD)."""
        try:
            self._call(f"stat {self.uri(key)}", self.client.stat_object, self.bucket, self._key(key))
        except NotFound:
            return False
        return True

    def list(self, prefix: str) -> list[str]:
        """Keys under ``prefix`` relative to the store prefix, sorted."""
        objects = self._call(
            f"list {self.uri(prefix)}",
            lambda: list(self.client.list_objects(self.bucket, self._key(prefix), recursive=True)),
        )
        cut = len(self.prefix) + 1 if self.prefix else 0
        return sorted(obj.object_name[cut:] for obj in objects)

    def check(self) -> None:
        """Create the bucket if missing; Unavailable if the endpoint cannot be reached."""
        if not self._call(f"bucket {self.bucket}", self.client.bucket_exists, self.bucket):
            self._call(f"make bucket {self.bucket}", self.client.make_bucket, self.bucket)


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
        client = Minio(
            settings.s3_endpoint,
            access_key=settings.s3_access_key,
            secret_key=settings.s3_secret_key,
            secure=settings.s3_secure,
            region=settings.s3_region,
            http_client=urllib3.PoolManager(
                timeout=urllib3.Timeout(connect=5, read=60),
                retries=urllib3.Retry(total=2, backoff_factor=0.2),
            ),
        )
        return S3ArtifactStore(client, parsed.netloc, parsed.path)
    if parsed.scheme == "file":
        return LocalArtifactStore(Path(parsed.path))
    if parsed.scheme == "":
        return LocalArtifactStore(Path(location))
    raise InvalidInput(f"unsupported artifact store '{location}': use a folder or s3://bucket")
