"""Import a user's labelled data: validate it against a task and write train/test splits.

Two passes over the rows (read with :mod:`synthclf.generation.data_files`, memory-mapped):
the first keeps only small per-row arrays (a 64-bit text hash, the label index, the split and
the agreement: ~16 bytes a row) and checks the data; the second writes the kept rows as
``data.jsonl`` in the dataset schema (:mod:`synthclf.core.schema`). Memory is bounded by
the row count, not the text sizes (benchmarks/README.md, "Import").

Refused (InvalidInput naming file, row and column): missing columns (the columns found are
listed); more empty texts than ``SYNTHCLF_IMPORT_MAX_EMPTY_SHARE`` (fewer are dropped and
counted); a label value the task lacks, or a task label without rows; a label with fewer
than 2 rows; the same text with conflicting labels; split values other than train/test;
agreement outside [0, 1]; annotations that are not lists. Dropped and counted: exact duplicate
rows, and test rows whose text is also in train (leakage). Warned about: heavy class imbalance,
texts the backbone will truncate, a test split too small for a tight Macro-F1.

Agreement from an annotations column is the share of the majority label, aᵢ = maxₗ
|{annotators choosing l}| / |annotators| (Li et al. 2023, §6;
:func:`synthclf.core.schema.instance_agreement`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field
from sklearn.model_selection import train_test_split

from synthclf.core.errors import InvalidInput
from synthclf.core.sampling import subsample
from synthclf.core.schema import JsonlWriter, dataset_record, instance_agreement
from synthclf.core.task_spec import TaskSpec
from synthclf.generation.data_files import Source

log = logging.getLogger("synthclf.generation.import")
BATCH_ROWS = 10_000
#: Distinct label values not in the task after which the import stops looking (a wrong column).
MAX_UNKNOWN_VALUES = 50
#: max/min label count in train at or above which imbalance is warned about.
IMBALANCE_RATIO = 10.0
#: Test rows below which the Macro-F1 confidence interval is warned about.
SMALL_TEST_ROWS = 200
#: Backbone sequence length the truncation warning checks (TrainingOptions.max_length's default).
MAX_TOKENS = 128
_UNSET, _TRAIN, _TEST, _DROP = -1, 0, 1, 2


class ColumnMapping(BaseModel):
    """Which columns of the user's file hold what (``ImportRealDataRequest``)."""

    text: str = Field("text", min_length=1, description="column with the texts")
    label: str = Field("label", min_length=1, description="column with the labels")
    split: str = Field("", description="column with train/test per row; '' = stratified split")
    agreement: str = Field("", description="column with annotator agreement in [0, 1]")
    annotations: str = Field("", description="column with a list of per-annotator labels")

    def used(self) -> list[str]:
        """The columns named, in order."""
        return [c for c in (self.text, self.label, self.split, self.agreement, self.annotations) if c]


class ImportOptions(BaseModel):
    """How to split and cap the imported rows."""

    test_fraction: float = Field(0.2, gt=0, lt=1, description="test share of a stratified split")
    max_train_rows: int = Field(0, ge=0, description="stratified cap on train rows; 0 keeps all")
    max_test_rows: int = Field(0, ge=0, description="stratified cap on test rows; 0 keeps all")
    seed: int = Field(0, description="seed of the split and the caps")
    max_empty_share: float = Field(0.05, ge=0, le=1, description="SYNTHCLF_IMPORT_MAX_EMPTY_SHARE")


class ImportSummary(BaseModel):
    """What an import kept, dropped and warned about (written into the manifests' stats)."""

    rows_read: int
    label_mapping: dict[str, str] = Field(description="data value → task label name")
    label_counts: dict[str, dict[str, int]] = Field(description="split → label → rows")
    dropped: dict[str, int] = Field(description="empty_text, duplicate, leakage, capped")
    warnings: list[str]


def normalise(text: Any) -> str:
    """Whitespace-normalised text ('' for None/NaN), as the catalog loaders clean texts."""
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return ""
    return " ".join(str(text).split())


def _hash(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little")


def _batches(source: Source, columns: list[str]) -> Iterator[dict[str, list]]:
    table = source.dataset.select_columns(columns)
    for batch in table.iter(batch_size=BATCH_ROWS):
        yield batch


def _annotations(value: Any, where: str, column: str) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            value = None
    if not isinstance(value, (list, tuple)):
        raise InvalidInput(f"{where}, column '{column}': annotations must be a list of labels, got {value!r:.60}")
    return [str(v) for v in value]


class _Scan:
    """Per-row arrays of all sources after the first pass."""

    def __init__(self, task: TaskSpec, columns: ColumnMapping):
        self.task, self.columns = task, columns
        self.hashes: list[np.ndarray] = []
        self.labels: list[np.ndarray] = []
        self.splits: list[np.ndarray] = []
        self.agreement: list[np.ndarray] = []
        self.mapping: dict[str, str | None] = {}
        self.unknown: dict[str, str] = {}
        self.empty, self.first_empty = 0, ""
        self.where: list[tuple[Source, int]] = []  # (source, row offset) per source, in order

    def label_index(self, raw: Any, where: str) -> int:
        """The task's index of a raw label value (mapped through the labels' ``values``).

        Args:
            raw: the cell of the label column.
            where: ``file 'x', row N`` for messages.

        Returns:
            The label's index in :attr:`TaskSpec.label_names`, or -1 for a value the task
            lacks (remembered, with where it first occurred, for :meth:`refuse_unknown`).

        Raises:
            InvalidInput: the label is empty; or more than :data:`MAX_UNKNOWN_VALUES`
                distinct values are unknown (a wrong column, refused at once).
        """
        if raw is None or (isinstance(raw, float) and math.isnan(raw)) or str(raw).strip() == "":
            raise InvalidInput(f"{where}, column '{self.columns.label}': the label is empty")
        key = str(raw).strip()
        if key not in self.mapping:
            self.mapping[key] = self.task.label_for_value(key)
            if self.mapping[key] is None:
                self.unknown.setdefault(key, where)
                if len(self.unknown) > MAX_UNKNOWN_VALUES:
                    self.refuse_unknown()
        name = self.mapping[key]
        return -1 if name is None else self.task.label_names.index(name)

    def refuse_unknown(self) -> None:
        """Refuse the label values the task lacks, naming up to 10 and where each first occurs."""
        shown = "; ".join(f"'{v}' (first at {w})" for v, w in list(self.unknown.items())[:10])
        more = f" and {len(self.unknown) - 10} more" if len(self.unknown) > 10 else ""
        raise InvalidInput(
            f"column '{self.columns.label}' has values the task '{self.task.name}' lacks: {shown}{more}; "
            f"the task's labels: {', '.join(self.task.label_names)} (add the value to a label's "
            "'values' in the task file, or check the --label-column)")

    def add(self, source: Source) -> None:
        """First pass over one source."""
        missing = [c for c in self.columns.used() if c not in source.dataset.column_names]
        if missing:
            raise InvalidInput(f"file '{source.name}' has no column {', '.join(repr(c) for c in missing)}; "
                               f"columns found: {', '.join(source.dataset.column_names) or 'none'}")
        c = self.columns
        n = source.dataset.num_rows
        hashes, labels = np.zeros(n, np.uint64), np.full(n, -1, np.int16)
        splits = np.full(n, _UNSET if source.split is None else (_TRAIN if source.split == "train" else _TEST), np.int8)
        agreement = np.full(n, np.nan, np.float64)
        row = 0
        for batch in _batches(source, c.used()):
            for i, text in enumerate(batch[c.text]):
                number = row + i + 1
                clean = normalise(text)
                if not clean:
                    self.empty += 1
                    self.first_empty = self.first_empty or f"{source.where(number)}, column '{c.text}'"
                    splits[row + i] = _DROP
                    continue
                where = source.where(number)
                hashes[row + i] = _hash(clean)
                labels[row + i] = self.label_index(batch[c.label][i], where)
                if c.split:
                    splits[row + i] = self._split(batch[c.split][i], where)
                if c.agreement:
                    agreement[row + i] = self._agreement(batch[c.agreement][i], where)
                elif c.annotations:
                    votes = _annotations(batch[c.annotations][i], where, c.annotations)
                    if votes:
                        agreement[row + i] = instance_agreement(votes)
            row += len(batch[c.text])
        self.where.append((source, sum(len(h) for h in self.hashes)))
        self.hashes.append(hashes)
        self.labels.append(labels)
        self.splits.append(splits)
        self.agreement.append(agreement)

    def _split(self, value: Any, where: str) -> int:
        text = normalise(value).lower()
        if text not in ("train", "test"):
            raise InvalidInput(f"{where}, column '{self.columns.split}': split must be train or test, got {value!r}")
        return _TRAIN if text == "train" else _TEST

    def _agreement(self, value: Any, where: str) -> float:
        if value is None or str(value).strip() == "":
            return float("nan")
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = float("nan")
        if not 0.0 <= number <= 1.0:
            raise InvalidInput(f"{where}, column '{self.columns.agreement}': agreement must be a number in "
                               f"[0, 1], got {value!r}")
        return number

    def locate(self, index: int) -> str:
        """``file 'x', row N`` of a global row index."""
        source, start = next((s, o) for s, o in reversed(self.where) if o <= index)
        return source.where(index - start + 1)


def _refuse_conflicts(scan: _Scan, hashes: np.ndarray, labels: np.ndarray, keep: np.ndarray) -> None:
    """The same text with two labels is an error: the data contradict themselves."""
    index = np.flatnonzero(keep)
    order = index[np.argsort(hashes[index], kind="stable")]
    same = hashes[order][1:] == hashes[order][:-1]
    conflict = same & (labels[order][1:] != labels[order][:-1])
    if conflict.any():
        first = np.flatnonzero(conflict)[0]
        a, b = order[first], order[first + 1]
        texts = len(np.unique(hashes[order][1:][conflict]))
        names = scan.task.label_names
        raise InvalidInput(
            f"the same text has conflicting labels in column '{scan.columns.label}': {scan.locate(a)} "
            f"('{names[labels[a]]}') and {scan.locate(b)} ('{names[labels[b]]}'); {texts} text(s) in all. "
            "Keep one label per text (or a majority label and an annotations column)")


def _drop_duplicates(hashes: np.ndarray, splits: np.ndarray) -> int:
    """Keep the first row of each text within each split (in place); returns rows dropped."""
    dropped = 0
    for split in (_UNSET, _TRAIN, _TEST):
        rows = np.flatnonzero(splits == split)
        _, first = np.unique(hashes[rows], return_index=True)
        later = np.setdiff1d(rows, rows[first], assume_unique=True)
        splits[later] = _DROP
        dropped += len(later)
    return dropped


def _check_label_counts(scan: _Scan, labels: np.ndarray, splits: np.ndarray) -> None:
    names = scan.task.label_names
    kept = labels[splits != _DROP]
    counts = np.bincount(kept, minlength=len(names))
    absent = [names[i] for i in np.flatnonzero(counts == 0)]
    if absent:
        raise InvalidInput(f"task '{scan.task.name}' has label(s) with no rows in column "
                           f"'{scan.columns.label}': {', '.join(absent)} (values found: "
                           f"{', '.join(sorted(scan.mapping)[:20])}); remove the label from the task or add data")
    few = [f"'{names[i]}' ({counts[i]} row at {scan.locate(np.flatnonzero((labels == i) & (splits != _DROP))[0])})"
           for i in np.flatnonzero(counts < 2)]
    if few:
        raise InvalidInput(f"every label needs at least 2 rows in column '{scan.columns.label}': {', '.join(few)}")


def _split(scan: _Scan, labels: np.ndarray, splits: np.ndarray, options: ImportOptions) -> None:
    """Stratified train/test split of the rows without a given split (in place)."""
    rows = np.flatnonzero(splits == _UNSET)
    if not len(rows):
        return
    try:
        train, test = train_test_split(rows, test_size=options.test_fraction, random_state=options.seed,
                                       stratify=labels[rows])
    except ValueError as exc:
        raise InvalidInput(f"cannot split {len(rows)} rows of {len(scan.task.labels)} labels stratified with "
                           f"test_fraction={options.test_fraction}: {exc}") from None
    splits[train], splits[test] = _TRAIN, _TEST


def _cap(labels: np.ndarray, splits: np.ndarray, split: int, cap: int, seed: int) -> int:
    rows = np.flatnonzero(splits == split)
    if not cap or cap >= len(rows):
        return 0
    chosen = subsample(pd.DataFrame({"label": labels[rows]}, index=rows), cap, seed=seed).index.to_numpy()
    splits[np.setdiff1d(rows, chosen)] = _DROP
    return len(rows) - len(chosen)


def _warnings(scan: _Scan, counts: dict[str, dict[str, int]], dropped: dict[str, int], rows: int) -> list[str]:
    notes = []
    train = {k: v for k, v in counts["train"].items() if v}
    if train and max(train.values()) >= IMBALANCE_RATIO * min(train.values()):
        big, small = max(train, key=lambda k: train[k]), min(train, key=lambda k: train[k])
        notes.append(f"heavy class imbalance in train: '{big}' {train[big]} rows vs '{small}' {train[small]} "
                     "(Macro-F1 weighs every label equally; consider more rows of the small label)")
    n_test = sum(counts["test"].values())
    if n_test < SMALL_TEST_ROWS:
        width = 1.96 * math.sqrt(0.25 / max(n_test, 1))
        notes.append(f"test split has only {n_test} rows: a 95% confidence interval of accuracy is about "
                     f"±{width:.2f} (normal approximation at 0.5), Macro-F1's wider; differences smaller than "
                     "that are noise")
    missing = [label for label, n in counts["test"].items() if not n]
    if missing:
        notes.append(f"test split has no rows of {', '.join(missing)}: their F1 is undefined")
    if scan.empty:
        notes.append(f"{scan.empty} of {rows} rows have an empty text in column '{scan.columns.text}' and were "
                     f"dropped (first at {scan.first_empty})")
    if dropped["leakage"]:
        notes.append(f"{dropped['leakage']} test rows repeat a training text (leakage) and were dropped from test")
    return notes


def _truncation_warning(texts: list[str]) -> str | None:
    """Share of sampled training texts longer than the backbone's :data:`MAX_TOKENS` tokens."""
    if not texts:
        return None
    try:
        from transformers import AutoTokenizer

        from synthclf.core.models import minilm_path

        tokenizer = AutoTokenizer.from_pretrained(minilm_path())
    except Exception as exc:  # noqa: BLE001 - the warning is optional; say why it is missing
        log.warning("truncation check skipped: tokenizer of the default backbone unavailable: %s", exc)
        return None
    lengths = [len(ids) for ids in tokenizer(texts, truncation=False)["input_ids"]]
    share = sum(n > MAX_TOKENS for n in lengths) / len(lengths)
    if share < 0.05:
        return None
    return (f"{share:.0%} of {len(texts)} sampled training texts are longer than {MAX_TOKENS} tokens of the "
            f"default backbone and will be truncated (median {int(np.median(lengths))} tokens); raise the "
            "training max_length or shorten the texts")


def _write(scan: _Scan, splits: np.ndarray, labels: np.ndarray, agreement: np.ndarray,
           paths: dict[int, Path], sample: set[int]) -> list[str]:
    """Second pass: write the kept rows; returns the texts of the sampled rows."""
    c, names, task = scan.columns, scan.task.label_names, scan.task
    sampled = []
    handles = {split: JsonlWriter(path) for split, path in paths.items()}
    try:
        for source, start in scan.where:
            row = start
            for batch in _batches(source, c.used()):
                for i, text in enumerate(batch[c.text]):
                    g = row + i
                    split = splits[g]
                    if split not in handles:
                        continue
                    clean = normalise(text)
                    votes = _annotations(batch[c.annotations][i], "", c.annotations) if c.annotations else None
                    handles[split].write(dataset_record(
                        clean, names[labels[g]], "train" if split == _TRAIN else "test",
                        None if math.isnan(agreement[g]) else float(agreement[g]),
                        [task.label_for_value(v) or v for v in votes] if votes else None))
                    if g in sample:
                        sampled.append(clean)
                row += len(batch[c.text])
    finally:
        for handle in handles.values():
            handle.close()
    return sampled


def import_rows(task: TaskSpec, sources: list[Source], columns: ColumnMapping, options: ImportOptions,
                train_path: Path, test_path: Path) -> ImportSummary:
    """Validate the sources against ``task`` and write the train and test splits.

    Args:
        task: the task whose labels the data must use.
        sources: the user's tables (:func:`~synthclf.generation.data_files.open_sources`).
        columns: the column mapping.
        options: split, caps, seed and the empty-text limit.
        train_path: where to write the training rows (``data.jsonl`` schema).
        test_path: where to write the test rows.

    Returns:
        The summary: rows read, label mapping, label counts per split, drops and warnings.

    Raises:
        InvalidInput: the data are refused (see the module docstring); nothing is written then
            that the caller should publish.
    """
    if columns.agreement and columns.annotations:
        raise InvalidInput("give an agreement column or an annotations column, not both")
    scan = _Scan(task, columns)
    for source in sources:
        scan.add(source)
    hashes, labels = np.concatenate(scan.hashes), np.concatenate(scan.labels)
    splits, agreement = np.concatenate(scan.splits), np.concatenate(scan.agreement)
    rows = len(hashes)
    names = ", ".join(s.name for s in sources)
    if rows == 0:
        raise InvalidInput(f"file '{names}' has no rows")
    if scan.empty / rows > options.max_empty_share:
        raise InvalidInput(f"{scan.empty} of {rows} rows have an empty text in column '{columns.text}' (first at "
                           f"{scan.first_empty}): more than SYNTHCLF_IMPORT_MAX_EMPTY_SHARE = {options.max_empty_share}")
    if scan.unknown:
        scan.refuse_unknown()
    _refuse_conflicts(scan, hashes, labels, splits != _DROP)
    dropped = {"empty_text": scan.empty, "duplicate": _drop_duplicates(hashes, splits), "leakage": 0, "capped": 0}
    _check_label_counts(scan, labels, splits)
    _split(scan, labels, splits, options)
    test_rows = np.flatnonzero(splits == _TEST)
    leaked = test_rows[np.isin(hashes[test_rows], hashes[splits == _TRAIN])]
    splits[leaked] = _DROP
    dropped["leakage"] = len(leaked)
    dropped["capped"] = (_cap(labels, splits, _TRAIN, options.max_train_rows, options.seed)
                         + _cap(labels, splits, _TEST, options.max_test_rows, options.seed))
    counts = {name: {label: int(((labels == i) & (splits == code)).sum()) for i, label in enumerate(task.label_names)}
              for name, code in (("train", _TRAIN), ("test", _TEST))}
    untrained = [label for label, n in counts["train"].items() if not n]
    if untrained or not sum(counts["test"].values()):
        problem = ("labels without training rows: " + ", ".join(untrained)) if untrained else "the test split is empty"
        raise InvalidInput(f"after the split, {problem} ({names}); give more rows or another split")
    train_rows = np.flatnonzero(splits == _TRAIN)
    rng = np.random.default_rng(options.seed)
    sample = set(rng.choice(train_rows, size=min(1000, len(train_rows)), replace=False).tolist())
    texts = _write(scan, splits, labels, agreement, {_TRAIN: train_path, _TEST: test_path}, sample)
    notes = _warnings(scan, counts, dropped, rows)
    if truncation := _truncation_warning(texts):
        notes.append(truncation)
    mapping = {raw: name for raw, name in scan.mapping.items() if name}
    log.info("import of %s: %d rows read, %d train, %d test, dropped %s", names, rows,
             sum(counts["train"].values()), sum(counts["test"].values()), dropped)
    return ImportSummary(rows_read=rows, label_mapping=mapping, label_counts=counts, dropped=dropped, warnings=notes)
