"""Reading a user's data files with Hugging Face ``datasets`` (never a hand-written parser).

CSV/TSV go through ``load_dataset("csv")`` (pandas in 10 000-row chunks, every column read
as a string, only empty fields missing), JSON lines / JSON through ``load_dataset("json")``,
Parquet through ``load_dataset("parquet")``, and a packed ``save_to_disk`` folder through
``load_from_disk`` (a ``DatasetDict`` with train/test splits keeps them). ``load_dataset``
writes an Arrow file into a scratch cache and memory-maps it, so a file of any size is read in
bounded memory (benchmarks/README.md, "Import").
"""

from __future__ import annotations

import logging
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from synthclf.core.errors import InvalidInput

if TYPE_CHECKING:
    import datasets

log = logging.getLogger("synthclf.generation.import")
#: Formats read as text, checked for UTF-8 line by line first (so an error names the line).
TEXT_FORMATS = ("csv", "tsv", "json")


@dataclass
class Source:
    """One table to import: a file, or one split of a saved DatasetDict.

    Attributes:
        name: what messages call it, e.g. ``tickets.csv`` or ``data.tar (split test)``.
        dataset: the rows (a memory-mapped ``datasets.Dataset``).
        split: ``train``/``test`` when the source fixes the split of all its rows, else None.
        header_lines: lines before the first row (1 for CSV/TSV), so messages can give the line.
    """

    name: str
    dataset: datasets.Dataset
    split: str | None = None
    header_lines: int = 0

    def where(self, row: int) -> str:
        """``file 'x.csv', row 5 (line 6)`` for a 1-based row number."""
        line = f" (line {row + self.header_lines})" if self.header_lines else ""
        return f"file '{self.name}', row {row}{line}"


def _root_cause(exc: BaseException) -> BaseException:
    while (parent := exc.__cause__ or exc.__context__) is not None:
        exc = parent
    return exc


def check_utf8(path: Path, name: str) -> None:
    """Raise InvalidInput naming the first line holding bytes that are not UTF-8.

    Raises:
        InvalidInput: ``file 'x.csv', line 7: undecodable bytes b'\\xe9t' at column 12 (not UTF-8)``.
    """
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise InvalidInput(
                    f"file '{name}', line {number}: undecodable bytes {raw[exc.start:exc.end + 2]!r} at "
                    f"character {exc.start + 1} (the file must be UTF-8; re-save it as UTF-8)") from None


def _header(path: Path, sep: str, name: str) -> list[str]:
    """The column names of a CSV/TSV file (its first record)."""
    import pandas as pd

    try:
        return [str(c) for c in pd.read_csv(path, sep=sep, nrows=0, dtype=str).columns]
    except (ValueError, pd.errors.ParserError) as exc:
        raise InvalidInput(f"file '{name}' cannot be read as {'TSV' if sep == chr(9) else 'CSV'}: {exc}") from None


def _load(builder: str, path: Path, cache: Path, name: str, **kwargs):
    import datasets

    try:
        return datasets.load_dataset(builder, data_files=str(path), split="train", cache_dir=str(cache), **kwargs)
    except Exception as exc:  # noqa: BLE001 - any reader failure is the file's fault here
        cause = _root_cause(exc)
        raise InvalidInput(f"file '{name}' cannot be read as {builder.upper()}: "
                           f"{type(cause).__name__}: {cause}") from None


def _unpack(path: Path, into: Path, name: str) -> Path:
    """Extract a packed save_to_disk folder (tar; 'data' filter: no links out, no absolute paths)."""
    try:
        with tarfile.open(path) as archive:
            total = sum(member.size for member in archive.getmembers())
            if total > 4 * path.stat().st_size + (1 << 20):
                raise InvalidInput(f"file '{name}': the archive expands to {total} bytes")
            archive.extractall(into, filter="data")
    except (tarfile.TarError, OSError) as exc:
        raise InvalidInput(f"file '{name}' is not a tar archive of a save_to_disk folder: {exc}") from None
    entries = [p for p in into.iterdir()]
    return entries[0] if len(entries) == 1 and entries[0].is_dir() else into


def open_sources(path: Path, fmt: str, name: str, scratch: Path) -> list[Source]:
    """Open a data file as one or more sources.

    Args:
        path: the verified local copy of the upload.
        fmt: ``csv``, ``tsv``, ``json``, ``parquet`` or ``hf``.
        name: the user's file name, for messages.
        scratch: a folder for the Arrow cache (and an unpacked folder), removed by the caller.

    Returns:
        The sources; two (train, test) for a saved DatasetDict with both splits.

    Raises:
        InvalidInput: undecodable bytes, unreadable content, an empty file, a DatasetDict
            with splits other than train/test.
    """
    import datasets

    datasets.disable_progress_bars()
    if path.stat().st_size == 0:
        raise InvalidInput(f"file '{name}' is empty")
    if fmt in TEXT_FORMATS:
        check_utf8(path, name)
    cache = scratch / "hf-cache"
    if fmt in ("csv", "tsv"):
        sep = "\t" if fmt == "tsv" else ","
        columns = _header(path, sep, name)
        features = datasets.Features({column: datasets.Value("string") for column in columns})
        table = _load("csv", path, cache, name, sep=sep, features=features, keep_default_na=False,
                      na_values=[""])
        return [Source(name, table, header_lines=1)]
    if fmt in ("json", "parquet"):
        return [Source(name, _load(fmt, path, cache, name))]
    folder = _unpack(path, scratch / "unpacked", name)
    try:
        loaded = datasets.load_from_disk(str(folder))
    except Exception as exc:  # noqa: BLE001 - a folder that is not a saved dataset
        raise InvalidInput(f"file '{name}' is not a folder written by save_to_disk: {_root_cause(exc)}") from None
    if isinstance(loaded, datasets.Dataset):
        return [Source(name, loaded)]
    extra = sorted(set(loaded) - {"train", "test"})
    if extra or not loaded:
        raise InvalidInput(f"file '{name}': a DatasetDict needs splits train and/or test, found: "
                           f"{', '.join(sorted(loaded)) or 'none'}")
    if set(loaded) == {"train", "test"}:
        return [Source(f"{name} (split {s})", loaded[s], split=s) for s in ("train", "test")]
    only = next(iter(loaded))
    return [Source(f"{name} (split {only})", loaded[only])]
