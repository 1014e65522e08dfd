"""Tests of synthclf.core.corpora, .schema and .sampling on the real corpora shipped in the data packages."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from synthclf.core.catalog import get_task, load_catalog
from synthclf.core.corpora import data_available, load_real_dataset
from synthclf.core.errors import InvalidInput, NotFound, NotReady
from synthclf.core.sampling import stratified_split, subsample
from synthclf.core.schema import COLUMNS, check_split_and_agreement, read_jsonl, to_jsonl, validate_dataset

# Rows after cleaning (whitespace, empty texts, duplicate (text, label) rows), with slack.
EXPECTED_ROWS = {
    "sms_spam": (5100, 5200),  # 5,574 raw lines, ~400 duplicates
    "bbc_news": (2050, 2225),  # 2,225 articles, ~120 duplicates
    "rotten_tomatoes": (12600, 12808),  # 12,808 fresh/rotten rows
    "vader_movie": (10500, 10568),  # 10,605 snippets less 37 with mean rating 0
    "trec": (5300, 5452),  # nested TREC training sets, 5,452 distinct lines at most
    "sarcasm_tweets": (1380, 1400),  # iSarcasmEval Task A test: 1,400 tweets, a few duplicates
    "seinfeld_humor": (4000, 4000),  # 2,000 lines per label drawn from 46,497
}


@pytest.fixture(scope="module")
def real() -> dict[str, pd.DataFrame]:
    return {name: load_real_dataset(name) for name in EXPECTED_ROWS}


def _shares(df: pd.DataFrame) -> pd.Series:
    return df["label"].value_counts(normalize=True)


def test_availability_matches_the_catalog() -> None:
    available = {name for name, task in load_catalog().items() if data_available(task)}
    assert available == set(EXPECTED_ROWS)


def test_sms_spam_file_has_5574_lines() -> None:
    source = get_task("sms_spam").offline_source
    root = Path(importlib.util.find_spec(source.package).submodule_search_locations[0])
    assert len((root / source.path).read_text(encoding="utf-8").splitlines()) == 5574


@pytest.mark.parametrize("name", sorted(EXPECTED_ROWS))
def test_offline_loader_returns_a_valid_dataset(real, name: str) -> None:
    df, task = real[name], get_task(name)
    validate_dataset(df, task)
    low, high = EXPECTED_ROWS[name]
    assert list(df.columns) == COLUMNS and low <= len(df) <= high
    assert set(df["label"]) == set(task.label_names)
    assert not df.duplicated(["text", "label"]).any()
    assert (df["text"] == df["text"].str.split().str.join(" ")).all()
    assert df["text"].str.len().gt(0).all()
    assert abs((df["split"] == "test").mean() - 0.2) < 0.01


@pytest.mark.parametrize("name", ["sms_spam", "bbc_news", "rotten_tomatoes", "trec", "sarcasm_tweets", "seinfeld_humor"])
def test_corpora_without_raters_have_no_agreement(real, name: str) -> None:
    assert real[name]["agreement"].isna().all()
    assert real[name]["annotations"].isna().all()


def test_sarcasm_tweets_keep_the_authors_labels(real) -> None:
    df = real["sarcasm_tweets"]
    assert (df["label"] == "sarcastic").sum() == pytest.approx(200, abs=5)  # 200 of 1,400 in the file
    assert not df["text"].str.contains("\n").any()  # quoted multi-line tweets are joined


def test_seinfeld_humor_is_balanced_and_labels_laugh_lines(real) -> None:
    df = real["seinfeld_humor"]
    assert (df["label"].value_counts() == 2000).all()
    assert (df["text"].str.split().str.len() >= 3).all()
    assert df.groupby("text")["label"].nunique().max() == 1
    pd.testing.assert_frame_equal(df, load_real_dataset("seinfeld_humor"))


def test_seinfeld_lines_follow_the_merged_format(tmp_path) -> None:
    from synthclf.core.corpora import _seinfeld_lines

    screenplay = tmp_path / "Seinfeld.S01E01.Test.merged"
    screenplay.write_text(
        "# JERRY\n1.0\nWhat is the deal\nwith airline food?\n3.0\n3.1\n**LOL**\n"
        "3.5\nI mean, seriously.\n4.0\n# GEORGE\n4.2\nYou're not funny.\n5.0\n4.9\n**LOL**\n",
        encoding="utf-8",
    )
    assert _seinfeld_lines(screenplay) == [
        ("What is the deal with airline food?", True), ("I mean, seriously.", False), ("You're not funny.", True),
    ]


def test_vader_agreement_comes_from_the_raters(real) -> None:
    df = real["vader_movie"]
    assert df["agreement"].between(0.5, 1.0).all()
    assert (df["agreement"] > 0.5).mean() > 0.99 and df["agreement"].median() == 1.0
    for votes, agreement in zip(df["annotations"], df["agreement"], strict=True):
        assert len(votes) >= 1 and set(votes) <= {"negative", "positive"}
        assert max(map(votes.count, set(votes))) / len(votes) == pytest.approx(agreement)


def test_split_is_deterministic_for_a_seed(real) -> None:
    df = real["trec"]
    first, again = stratified_split(df, 0.2, seed=7), stratified_split(df, 0.2, seed=7)
    pd.testing.assert_frame_equal(first, again)
    assert not first["split"].equals(stratified_split(df, 0.2, seed=8)["split"])
    sms = [load_real_dataset("sms_spam", seed=3) for _ in range(2)]
    pd.testing.assert_frame_equal(*sms)


@pytest.mark.parametrize("name", ["sms_spam", "trec"])
def test_split_is_stratified(real, name: str) -> None:
    df = stratified_split(real[name], 0.25, seed=1)
    overall = _shares(df)
    for split in ("train", "test"):
        part = _shares(df[df["split"] == split]).reindex(overall.index, fill_value=0)
        assert np.abs(part - overall).max() < 0.02


def test_split_rejects_bad_fractions_and_unsplittable_labels(real) -> None:
    with pytest.raises(InvalidInput, match="test_fraction"):
        stratified_split(real["trec"], 1.0)
    tiny = pd.DataFrame({"text": ["a", "b", "c"], "label": ["x", "x", "y"]})
    with pytest.raises(InvalidInput, match="cannot split 3 rows"):
        stratified_split(tiny, 0.5)


def test_subsample_keeps_proportions_and_every_label(real) -> None:
    df = real["trec"]
    sample = subsample(df, 500, seed=0)
    assert len(sample) == 500 and sample.index.isin(df.index).all()
    assert np.abs(_shares(sample) - _shares(df)).max() < 0.01
    assert set(subsample(df, 6, seed=0)["label"]) == set(df["label"])
    assert set(subsample(real["sms_spam"], 2, seed=0)["label"]) == {"ham", "spam"}
    pd.testing.assert_frame_equal(subsample(df, 50, seed=4), subsample(df, 50, seed=4))
    assert len(subsample(df, 3, seed=0)) == 3
    assert len(subsample(df, 40, seed=0, stratify=False)) == 40
    assert len(subsample(df, len(df) + 10)) == len(df)
    with pytest.raises(InvalidInput, match="at least 1"):
        subsample(df, 0)


def test_unknown_and_unavailable_tasks() -> None:
    with pytest.raises(NotFound, match="unknown task 'nope'"):
        load_real_dataset("nope")
    with pytest.raises(NotReady, match="task 'imdb' has no real data on this machine; offline tasks: "):
        load_real_dataset("imdb")


def _frame(texts: list[str], labels: list[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {"text": texts, "label": labels, "split": "train", "agreement": np.nan, "annotations": None}
    )


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (_frame([], []), "dataset for task 'sms_spam' is empty"),
        (pd.DataFrame({"text": ["hi"]}), "missing columns: label"),
        (_frame(["hi", " ", "", "yo"], ["ham", "spam", "ham", "spam"]), "2 empty text.*row index 1"),
        (
            _frame(["hi", "yo"], ["ham", "eggs"]),
            "labels not in task 'sms_spam': eggs; the task's labels: ham, spam",
        ),
        (_frame(["hi", "yo"], ["ham", "ham"]), "single label 'ham'"),
        (_frame(["hi", "yo"], ["ham", "spam"]).assign(split=["train", "dev"]), "split values.*dev"),
        (_frame(["hi", "yo"], ["ham", "spam"]).assign(agreement=[0.5, 1.5]), "agreement"),
    ],
)
def test_validate_dataset_errors(frame: pd.DataFrame, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        validate_dataset(frame, get_task("sms_spam"))


def test_validate_accepts_text_and_label_only() -> None:
    validate_dataset(pd.DataFrame({"text": ["hi", "win"], "label": ["ham", "spam"]}), get_task("sms_spam"))


def test_jsonl_round_trip(real, tmp_path) -> None:
    frame = pd.concat([real["vader_movie"].head(20), real["sms_spam"].head(20)], ignore_index=True)
    frame.loc[0, "text"] = 'Quotes " and ünïcode ✓ and a\ttab'
    path = tmp_path / "nested" / "data.jsonl"
    to_jsonl(frame, path)
    back = read_jsonl(path)
    pd.testing.assert_frame_equal(back, frame, check_dtype=False, rtol=1e-14)
    assert back["agreement"].iloc[25:].isna().all() and back["annotations"].iloc[25] is None
    assert back["annotations"].iloc[0] == frame["annotations"].iloc[0]
    to_jsonl(frame.iloc[:0], tmp_path / "empty.jsonl")
    empty = read_jsonl(tmp_path / "empty.jsonl")
    assert list(empty.columns) == COLUMNS and len(empty) == 0


def test_to_jsonl_fills_missing_schema_columns(tmp_path) -> None:
    to_jsonl(pd.DataFrame({"text": ["free prize"], "label": ["spam"]}), tmp_path / "s.jsonl")
    back = read_jsonl(tmp_path / "s.jsonl")
    assert list(back.columns) == COLUMNS
    assert back.loc[0, "split"] == "train" and np.isnan(back.loc[0, "agreement"])
    assert back.loc[0, "annotations"] is None


@pytest.mark.parametrize(("content", "problem"), [
    ('{"text": "a", "label": "x"}\n{broken\n', "line 2 is not JSON"),
    ('[1, 2]\n', "missing columns: text, label"),
    ('{"text": null, "label": "x"}\n', "row 0 has null"),
    ('{"text": NaN, "label": "x"}\n', "not a string"),
    ('{"text": 5, "label": "x"}\n', "row 0 has a JSON int"),
    ('{"text": {"a": 1}, "label": "x"}\n', "row 0 has a JSON dict"),
    ('{"text": "a", "label": ["x"]}\n', "label that is not a string"),
    ('{"body": "a", "label": "x"}\n', "missing columns: text"),
    ("[" * 100_000 + "\n", "is not a dataset: line 1 is nested too deeply"),
])
def test_read_jsonl_refuses_malformed_and_wrong_typed_rows(tmp_path, content, problem):
    path = tmp_path / "data.jsonl"
    path.write_text(content)
    with pytest.raises(InvalidInput, match=problem) as caught:
        read_jsonl(path, name="dataset file:///store/dataset/x")
    assert str(tmp_path) not in caught.value.message and "dataset file:///store/dataset/x" in caught.value.message


def test_split_and_agreement_are_checked_on_their_own():
    frame = pd.DataFrame({"text": ["a", "b"], "label": ["x", "y"], "split": ["train", "dev"]})
    with pytest.raises(InvalidInput, match="input 1: split values must be train or test, got: dev"):
        check_split_and_agreement(frame, "input 1")
    frame = pd.DataFrame({"text": ["a", "b"], "label": ["x", "y"], "agreement": [0.5, 1.5]})
    with pytest.raises(InvalidInput, match=r"agreement values must lie in \[0, 1\]; 1 do not, first at row 1"):
        check_split_and_agreement(frame)
    check_split_and_agreement(frame[["text", "label"]])
