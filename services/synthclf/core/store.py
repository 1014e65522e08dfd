"""Artifact store: one small port, two adapters (local filesystem, MinIO/S3).

Keys are '/'-separated paths relative to the store's root, e.g. ``dataset/<id>/data.jsonl``.
:func:`open_store` picks the adapter from a location string: a local folder (the embedded
default, ``./artifacts``) or ``s3://bucket[/prefix]`` (MinIO through the ``minio`` SDK).
Local writes are atomic (temp file + ``os.replace``); S3 PUTs are atomic per object.
:meth:`~ArtifactStore.publish_folder` creates an artifact at most once and never overwrites a
published one: locally by renaming a complete temp folder into place, on S3 by a conditional
PUT (``If-None-Match: *``) of the manifest (docs/architecture.md).
"""

from __future__ import annotations

import errno
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
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=TEMP_PREFIX)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

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

    def get_bytes(self, key: str, read_limit: int | None = None) -> bytes:
        """Read an object (at most ``read_limit`` bytes); NotFound if absent."""
        def read() -> bytes:
            """GET the object and release the connection."""
            response = self.client.get_object(self.bucket, self._key(key))
            try:
                return response.read(read_limit)
            finally:
                response.close()
                response.release_conn()
        return self._call(f"get {self.uri(key)}", read)

    def publish_folder(self, prefix: str, folder: Path, paths: list[str], manifest: bytes) -> bool:
        """Upload the files, then PUT the manifest only if none exists (``If-None-Match: *``,
        honoured by MinIO and AWS S3 since 2024). Residual race: two replicas publishing the
        same id at the same moment both upload files, and the loser's may replace the
        winner's; readers then refuse the mismatch (DATA_LOSS) rather than use it."""
        manifest_key = f"{prefix}/{MANIFEST_NAME}"
        if self.exists(manifest_key):
            return False
        for rel in paths:
            self.put_file(f"{prefix}/{rel}", Path(folder) / rel)
        try:
            # minio's public put_object sends unknown headers as user metadata; the internal
            # _put_object sends them as they are (a single PUT: the manifest is small).
            self._call(f"put {self.uri(manifest_key)}", self.client._put_object, self.bucket,
                       self._key(manifest_key), manifest,
                       headers={"If-None-Match": "*", "Content-Type": "application/json"})
        except Unavailable as exc:
            if isinstance(exc.__cause__, S3Error) and exc.__cause__.code == "PreconditionFailed":
                return False
            raise
        return True

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
