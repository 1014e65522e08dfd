"""Artifacts a request names, read as the kind the RPC expects and within the limits.

Every RPC that takes an artifact URI reads it through :func:`fetch_kind` (a dataset URI where
an evaluation is expected is INVALID_ARGUMENT, not a KeyError deep inside), and every dataset
through :func:`read_dataset`: rows and labels within the limits (:mod:`synthclf.core.limits`),
texts and labels strings, messages naming the URI the caller gave, never a server path.
URIs are confined to the configured store by the one resolver in
:mod:`synthclf.core.artifacts` (docs/security.md).
"""

from __future__ import annotations

import logging

import pandas as pd

from synthclf.core.artifacts import LocalArtifact, fetch
from synthclf.core.config import Settings
from synthclf.core.errors import InvalidInput
from synthclf.core.limits import check_at_most, check_labels, shown
from synthclf.core.schema import read_jsonl

log = logging.getLogger("synthclf.inputs")
#: The rows of a dataset artifact.
DATA_FILE = "data.jsonl"


def fetch_kind(uri: str, settings: Settings, kind: str, what: str = "") -> LocalArtifact:
    """Fetch (sha256-verified) an artifact that must be of ``kind``.

    The one resolver (:func:`synthclf.core.artifacts.fetch`) checks the kind from the URI and
    the manifest before any file is downloaded; this adds the request field to the message.

    Args:
        uri: the artifact URI from the request.
        settings: store settings.
        kind: the kind the RPC expects (``dataset``, ``model``, ``onnx-model``, ``evaluation``).
        what: the request field, for the message (e.g. "dataset_uri").

    Raises:
        InvalidInput: empty URI, or an artifact of another kind. NotFound: no artifact at
            ``uri``. IntegrityError: its files do not match the manifest.
    """
    field = f"{what} " if what else ""
    if not uri:
        raise InvalidInput(f"{field}is empty: give the URI of a {kind} artifact")
    try:
        return fetch(uri, settings, kind=kind)
    except InvalidInput as exc:
        raise InvalidInput(f"{field}{exc.message}" if field else exc.message) from exc


def read_dataset(uri: str, settings: Settings, what: str = "") -> tuple[LocalArtifact, pd.DataFrame]:
    """A dataset artifact and its rows, checked against the limits.

    Args:
        uri: dataset artifact URI.
        settings: store settings and ``max_dataset_rows``, ``max_labels``, ``max_label_chars``.
        what: the request field, for messages.

    Returns:
        (the fetched artifact, its rows in the dataset schema of :mod:`synthclf.core.schema`).

    Raises:
        InvalidInput: not a dataset, no ``data.jsonl``, malformed lines, texts or labels that
            are not strings, more rows than ``max_dataset_rows``, or labels beyond the label
            limits. NotFound, IntegrityError: as :func:`fetch_kind`.
    """
    artifact = fetch_kind(uri, settings, "dataset", what)
    name = f"dataset {shown(uri, 200)}"
    rows = artifact.manifest.stats.get("rows")
    if isinstance(rows, int) and not isinstance(rows, bool):
        check_at_most(rows, settings, "max_dataset_rows", f"rows in {name}")
    frame = read_jsonl(artifact.file(DATA_FILE), name=name)
    check_at_most(len(frame), settings, "max_dataset_rows", f"rows in {name}")
    check_labels(sorted(frame["label"].unique()), settings, f"{name}'s label set", min_labels=0)
    return artifact, frame
