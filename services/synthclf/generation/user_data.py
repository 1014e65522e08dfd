"""Publishing a user's uploaded data as train/test ``dataset`` artifacts, or nothing at all.

Reads the ``upload`` artifacts by URI (verified against their manifests; never a path a caller
names), validates and splits them (:mod:`synthclf.generation.importer`), and publishes both
splits with lineage to the uploads and the task. A refused import publishes nothing and
removes the uploads it refused, so a bad file does not linger in the store.
"""

from __future__ import annotations

import logging

from pydantic import BaseModel

from synthclf.core.artifacts import ArtifactRef, find, job_id, publish, read_manifest, staging
from synthclf.core.config import Settings
from synthclf.core.errors import InvalidInput
from synthclf.core.inputs import fetch_kind
from synthclf.core.limits import check_at_most
from synthclf.core.store import ArtifactStore
from synthclf.core.task_spec import TaskSpec
from synthclf.generation.data_files import Source, open_sources
from synthclf.generation.importer import ColumnMapping, ImportOptions, ImportSummary, import_rows
from synthclf.generation.uploads import DATA_FILES, remove_upload
from synthclf.generation.uploads import KIND as UPLOAD_KIND

log = logging.getLogger("synthclf.generation.import")
DATA_FILE = "data.jsonl"


class UserImport(BaseModel):
    """The result of an import: both splits, the task they were checked against, warnings."""

    train: ArtifactRef
    test: ArtifactRef
    task_uri: str
    warnings: list[str]


def _upload(uri: str, settings: Settings):
    artifact = fetch_kind(uri, settings, UPLOAD_KIND, "upload_uri")
    fmt = artifact.manifest.parameters.get("format")
    if fmt not in DATA_FILES:
        raise InvalidInput(f"upload {uri} names no known format ({fmt!r})")
    return artifact, artifact.file(DATA_FILES[fmt]), fmt, str(artifact.manifest.parameters.get("filename", "upload"))


def import_upload(store: ArtifactStore, settings: Settings, task: TaskSpec, task_uri: str, upload_uri: str,
                  test_upload_uri: str, columns: ColumnMapping, options: ImportOptions,
                  service: str) -> UserImport:
    """Validate the uploads against ``task`` and publish the train and test datasets.

    Args:
        store: the service's store (where the datasets go, and the refused uploads are removed).
        settings: for fetching the uploads.
        task: the task spec; ``task_uri`` its artifact (lineage).
        upload_uri: the data; ``test_upload_uri`` optional separate test rows.
        columns: the column mapping. options: split, caps, seed, empty-text limit.
        service: producing service.

    Returns:
        The published splits (reused when the same import was done before) and warnings.

    Raises:
        InvalidInput: refused data (naming file, row, column); the uploads are removed.
    """
    if not upload_uri:
        raise InvalidInput("an import of your own data needs upload_uri (Upload the file first)")
    uploads = [u for u in (upload_uri, test_upload_uri) if u]
    params = {"task_uri": task_uri, "uploads": uploads, "columns": columns.model_dump(),
              "options": options.model_dump()}
    ids = {split: job_id(f"{task.name}-import-{split}", params) for split in ("train", "test")}
    existing_train = find(store, "dataset", ids["train"])
    existing_test = find(store, "dataset", ids["test"])
    if existing_train is not None and existing_test is not None:
        warnings = read_manifest(existing_train.uri, settings).stats.get("warnings", [])
        return UserImport(train=existing_train, test=existing_test, task_uri=task_uri, warnings=warnings)
    try:
        with staging() as scratch:
            sources: list[Source] = []
            for uri in uploads:
                _, path, fmt, name = _upload(uri, settings)
                opened = open_sources(path, fmt, name, scratch / f"read-{len(sources)}")
                if test_upload_uri:
                    for source in opened:
                        source.split = "test" if uri == test_upload_uri else "train"
                sources += opened
            rows = sum(source.dataset.num_rows for source in sources)
            check_at_most(rows, settings, "max_dataset_rows", f"rows in {', '.join(s.name for s in sources)}")
            (scratch / "train").mkdir()
            (scratch / "test").mkdir()
            summary = import_rows(task, sources, columns, options, scratch / "train" / DATA_FILE,
                                  scratch / "test" / DATA_FILE)
            refs = {split: _publish(store, scratch / split, ids[split], split, task, params, uploads, task_uri,
                                    summary, service) for split in ("train", "test")}
    except InvalidInput:
        for uri in uploads:
            remove_upload(store, uri)
        log.warning("refused import of %s: removed the upload(s)", ", ".join(uploads))
        raise
    for note in summary.warnings:
        log.warning("import of %s: %s", task.name, note)
    return UserImport(train=refs["train"], test=refs["test"], task_uri=task_uri, warnings=summary.warnings)


def _publish(store: ArtifactStore, folder, artifact_id: str, split: str, task: TaskSpec, params: dict,
             uploads: list[str], task_uri: str, summary: ImportSummary, service: str) -> ArtifactRef:
    counts = summary.label_counts[split]
    return publish(
        store, folder, kind="dataset", artifact_id=artifact_id, service=service,
        parameters={**params, "split": split, "source": "real", "label_mapping": summary.label_mapping},
        inputs=[*uploads, task_uri],
        stats={"rows": sum(counts.values()), "source": "real", "split": split, "task": task.name,
               "task_uri": task_uri, "label_counts": {k: v for k, v in counts.items() if v},
               "rows_read": summary.rows_read, "dropped": summary.dropped,
               "label_mapping": summary.label_mapping, "warnings": summary.warnings})
