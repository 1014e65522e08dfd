"""The MinIO/S3 adapter of the artifact store (:mod:`synthclf.core.store`), through the ``minio`` SDK.

Kept in its own module so that only processes that open an ``s3://`` store import the S3 SDK:
the clients (:mod:`synthclf.clients`) and the CLI's client-side commands do not need it.
"""

from __future__ import annotations

import io
from pathlib import Path

import urllib3
from minio import Minio
from minio.error import S3Error

from synthclf.core.config import Settings
from synthclf.core.errors import NotFound, Unavailable
from synthclf.core.manifest import MANIFEST_NAME


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

    @classmethod
    def connect(cls, settings: Settings, bucket: str, prefix: str = "") -> S3ArtifactStore:
        """A store on ``settings.s3_endpoint`` with its credentials (5 s connect, 60 s read
        timeouts, 2 retries with backoff)."""
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
        return cls(client, bucket, prefix)
