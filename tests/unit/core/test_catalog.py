"""Tests of synthclf.core.catalog: the packaged task catalog and its override mechanism."""

from __future__ import annotations

import string

import pytest
import yaml

from synthclf.core.catalog import (
    CATALOG_ENV_VAR,
    PROMPT_PLACEHOLDERS,
    TaskSpec,
    get_task,
    load_catalog,
)
from synthclf.core.errors import InvalidInput, NotFound

PAPER_TASKS = {
    "ag_news",
    "relation_classification",
    "imdb",
    "sms_spam",
    "financial_phrasebank",
    "reddit_emotions",
    "sarcasm_news",
    "humor_speech",
    "tweet_emotions",
    "tweet_irony",
}
OFFLINE_TASKS = {"sms_spam", "bbc_news", "rotten_tomatoes", "vader_movie", "trec", "sarcasm_tweets", "seinfeld_humor"}


def _minimal_task(**changes) -> dict:
    fields = {
        "title": "Toy",
        "in_paper": False,
        "domain": "toys",
        "description": "toy task",
        "text_type": "toy text",
        "max_words": 10,
        "labels": [{"name": "a", "description": "an a"}, {"name": "b", "description": "a b"}],
        "context_prompt": "Imagine you are a toy.",
        "generation_prompt": "Write {label_description} in {max_words} words.",
        "subjectivity": 3,
        "subjectivity_source": "made up for a test",
    }
    return {**fields, **changes}


def _write(path, tasks: dict) -> None:
    path.write_text(yaml.safe_dump({"tasks": tasks}), encoding="utf-8")


def test_catalog_has_the_ten_paper_tasks() -> None:
    catalog = load_catalog()
    assert {name for name, task in catalog.items() if task.in_paper} == PAPER_TASKS


@pytest.mark.parametrize("name", sorted(PAPER_TASKS | OFFLINE_TASKS))
def test_every_task_has_labels_prompts_and_a_sourced_rating(name: str) -> None:
    task = get_task(name)
    assert task.name == name
    assert len(task.label_names) >= 2 and all(label.description for label in task.labels)
    assert task.context_prompt.strip() and task.generation_prompt.strip()
    fields = {f for _, f, _, _ in string.Formatter().parse(task.generation_prompt) if f}
    assert fields <= PROMPT_PLACEHOLDERS and fields & {"label", "label_description"}
    assert 1 <= task.subjectivity <= 5 and task.subjectivity_source.strip()
    label = task.labels[0]
    filled = task.generation_prompt.format(
        label=label.name, label_description=label.description, style="", max_words=task.max_words
    )
    assert "{" not in filled


def test_paper_tasks_name_a_public_dataset_and_offline_tasks_a_source() -> None:
    catalog = load_catalog()
    assert all(catalog[name].public_dataset for name in PAPER_TASKS)
    assert {name for name, task in catalog.items() if task.offline_source} == OFFLINE_TASKS


def test_relation_labels_and_stand_ins_follow_the_paper() -> None:
    assert get_task("relation_classification").label_names == [
        "country",
        "league",
        "screenwriter",
        "tributary",
    ]
    assert "IMDB platform" in get_task("imdb").context_prompt
    assert get_task("bbc_news").stand_in_for == "ag_news"
    assert get_task("rotten_tomatoes").stand_in_for == "imdb"
    assert get_task("sms_spam").label_names == ["ham", "spam"]


def test_unknown_task_is_not_found_and_named() -> None:
    with pytest.raises(NotFound, match="unknown task 'no_such_task'") as info:
        get_task("no_such_task")
    assert "known tasks: ag_news" in info.value.message


def test_label_lookup() -> None:
    task = get_task("sms_spam")
    assert task.label("spam").name == "spam"
    with pytest.raises(InvalidInput, match="label 'eggs' is not in task 'sms_spam'; labels: ham, spam"):
        task.label("eggs")


def test_load_catalog_returns_a_fresh_dict() -> None:
    first = load_catalog()
    first.pop("imdb")
    assert "imdb" in load_catalog()


def test_env_override_merges_by_task_name(tmp_path, monkeypatch) -> None:
    override = tmp_path / "extra.yaml"
    _write(override, {"imdb": {"subjectivity": 5}, "toy": _minimal_task()})
    monkeypatch.setenv(CATALOG_ENV_VAR, str(override))
    catalog = load_catalog()
    assert catalog["imdb"].subjectivity == 5
    assert catalog["imdb"].label_names == ["negative", "positive"]
    assert catalog["toy"].label_names == ["a", "b"]
    monkeypatch.delenv(CATALOG_ENV_VAR)
    assert load_catalog()["imdb"].subjectivity != 5
    assert "toy" not in load_catalog()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"generation_prompt": "Write {label} in a {tone} tone."}, "unknown placeholders"),
        ({"generation_prompt": "Write something."}, "must use {label}"),
        ({"subjectivity": 6}, "subjectivity"),
        ({"labels": [{"name": "a", "description": "x"}]}, "labels"),
        (
            {"labels": [{"name": "a", "description": "x"}, {"name": "a", "description": "y"}]},
            "duplicate label names: a",
        ),
        ({"stand_in_for": "toy"}, "not a paper task"),
    ],
)
def test_invalid_tasks_are_rejected(tmp_path, changes: dict, message: str) -> None:
    path = tmp_path / "catalog.yaml"
    _write(path, {"toy": _minimal_task(**changes)})
    with pytest.raises(InvalidInput, match=message):
        load_catalog(path)


def test_explicit_path_reads_that_file_only(tmp_path) -> None:
    path = tmp_path / "catalog.yaml"
    _write(path, {"toy": _minimal_task()})
    catalog = load_catalog(path)
    assert list(catalog) == ["toy"] and isinstance(catalog["toy"], TaskSpec)
    with pytest.raises(NotFound, match="cannot be read"):
        load_catalog(tmp_path / "missing.yaml")


def test_high_subjectivity_stand_ins_rank_with_the_tasks_they_replace() -> None:
    catalog = load_catalog()
    for stand_in, original in (("sarcasm_tweets", "sarcasm_news"), ("seinfeld_humor", "humor_speech")):
        task = catalog[stand_in]
        assert task.stand_in_for == original and task.subjectivity == catalog[original].subjectivity
        assert "estimate" in task.subjectivity_source
        assert task.subjectivity > max(catalog[name].subjectivity for name in ("sms_spam", "bbc_news", "trec"))
