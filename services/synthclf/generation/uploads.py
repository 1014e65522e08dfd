"""Uploads: a user's data file streamed into the artifact store as an ``upload`` artifact.

Services never read a path a caller names: the client streams the file's bytes
(``GenerationService.Upload``, client-streaming), the service writes them to a staging file
(bounded by ``SYNTHCLF_UPLOAD_MAX_BYTES``; each chunk by :data:`MAX_CHUNK_BYTES`) and
publishes ``data.<ext>`` with its sha256 like any artifact. The import
(:mod:`synthclf.generation.importer`) then reads the upload by URI, verified against its
manifest, and removes it when it refuses the data.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import PurePosixPath, PureWindowsPath

from pydantic import BaseModel

from synthclf.core.artifacts import ArtifactRef, find, job_id, publish, split_uri, staging
from synthclf.core.errors import InvalidInput, ResourceExhausted
from synthclf.core.manifest import MANIFEST_NAME
from synthclf.core.store import ArtifactStore

KIND = "upload"
#: Largest chunk of one UploadRequest message, bytes.
MAX_CHUNK_BYTES = 4 * 1024 * 1024
#: Formats by file extension; "hf" is a folder written by ``datasets``' ``save_to_disk``, packed as tar.
FORMATS = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".jsonl": "json", ".json": "json",
           ".ndjson": "json", ".parquet": "parquet", ".tar": "hf"}
#: File name of each format inside the upload artifact.
DATA_FILES = {"csv": "data.csv", "tsv": "data.tsv", "json": "data.jsonl", "parquet": "data.parquet",
              "hf": "data.tar"}


class UploadHeader(BaseModel):
    """What the client says about the file before its bytes (``synthclf.v1.UploadHeader``)."""

    filename: str
    size: int = 0
    format: str = ""


def file_format(filename: str, declared: str = "") -> str:
    """The format of a data file: ``declared`` if set, else by the file's extension.

    Raises:
        InvalidInput: an unsupported format or extension (the message lists the supported ones).
    """
    supported = sorted(set(FORMATS.values()))
    if declared:
        if declared not in DATA_FILES:
            raise InvalidInput(f"'{filename}': unsupported format '{declared}'; supported: {', '.join(supported)}")
        return declared
    suffix = PurePosixPath(filename.lower()).suffix
    if suffix not in FORMATS:
        raise InvalidInput(
            f"'{filename}': unsupported format '{suffix or '(no extension)'}'; supported: "
            f"{', '.join(sorted(FORMATS))} (.tar: a datasets save_to_disk folder, packed)")
    return FORMATS[suffix]


def _base_name(filename: str) -> str:
    """The file's own name, without any client folders (never used as a path)."""
    name = PureWindowsPath(PurePosixPath(filename).name).name.strip()
    return name[:200] or "upload"


def receive_upload(store: ArtifactStore, header: UploadHeader, chunks: Iterable[bytes],
                   max_bytes: int, service: str) -> tuple[ArtifactRef, int, str]:
    """Write streamed bytes into an ``upload`` artifact.

    Args:
        store: destination store.
        header: file name, announced size and optional format.
        chunks: the file's bytes in order (each at most :data:`MAX_CHUNK_BYTES`).
        max_bytes: the upload limit (``SYNTHCLF_UPLOAD_MAX_BYTES``).
        service: producing service.

    Returns:
        (the artifact, bytes received, sha256 hex). The same bytes, name and format give the
        same artifact.

    Raises:
        InvalidInput: unsupported format, an empty file, or a chunk over the chunk limit.
        ResourceExhausted: the announced or received size is over ``max_bytes``.
    """
    name = _base_name(header.filename)
    fmt = file_format(name, header.format)
    over = f"'{name}' is over the upload limit SYNTHCLF_UPLOAD_MAX_BYTES = {max_bytes} bytes"
    if header.size > max_bytes:
        raise ResourceExhausted(f"{over} ({header.size} bytes announced)")
    digest, size = hashlib.sha256(), 0
    with staging() as folder:
        path = folder / DATA_FILES[fmt]
        with open(path, "wb") as handle:
            for chunk in chunks:
                if len(chunk) > MAX_CHUNK_BYTES:
                    raise InvalidInput(f"upload chunk of {len(chunk)} bytes is over {MAX_CHUNK_BYTES}")
                size += len(chunk)
                if size > max_bytes:
                    raise ResourceExhausted(over)
                digest.update(chunk)
                handle.write(chunk)
        if size == 0:
            raise InvalidInput(f"'{name}' is an empty file")
        sha = digest.hexdigest()
        parameters = {"filename": name, "format": fmt, "sha256": sha}
        artifact_id = job_id(f"upload-{fmt}", parameters)
        ref = find(store, KIND, artifact_id) or publish(
            store, folder, kind=KIND, artifact_id=artifact_id, service=service,
            parameters=parameters, stats={"bytes": size, "filename": name, "format": fmt})
    return ref, size, sha


def remove_upload(store: ArtifactStore, uri: str) -> None:
    """Delete an upload artifact (manifest first, so it is never seen half-removed)."""
    _, kind, artifact_id = split_uri(uri)
    if kind != KIND:
        return
    prefix = f"{kind}/{artifact_id}"
    store.delete(f"{prefix}/{MANIFEST_NAME}")
    for key in store.list(f"{prefix}/"):
        store.delete(key)
