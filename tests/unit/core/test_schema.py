"""The one dataset validator, the one JSON-lines writer and the one atomic-write helper."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from synthclf.core.atomic import atomic_file
from synthclf.core.errors import InvalidInput
from synthclf.core.schema import (
    JsonlWriter,
    dataset_record,
    read_jsonl,
    validate_dataset,
    validate_rows,
)

LABELS = ["sport", "food"]


@pytest.mark.parametrize(("texts", "labels", "message"), [
    ([], [], "training data is empty"),
    (["a", "b"], ["sport"], "training data: 2 texts but 1 labels"),
    (["fine", " ", "ok", ""], ["sport", "food", "sport", "food"], "2 empty text.* first at row 1 .row index 1"),
    (["fine", None], ["sport", "food"], "1 empty text"),
    (["fine", 5], ["sport", "food"], "1 row.s. have a text that is not a string; row 1 has a JSON int"),
    (["a", "b"], ["sport", "weather"], "labels outside the task: weather; the task's labels: sport, food"),
    (["a", "b"], ["sport", "sport"], "single label 'sport' .fewer than 2 distinct labels"),
])
def test_validate_rows_names_the_first_problem(texts, labels, message):
    with pytest.raises(InvalidInput, match=message):
        validate_rows(texts, labels, LABELS, "training data")


def test_one_label_is_allowed_where_asked_and_splits_and_agreement_are_checked():
    validate_rows(["a", "b"], ["sport", "sport"], LABELS, "one input", require_two_labels=False)
    frame = pd.DataFrame({"text": ["a", "b"], "label": LABELS, "split": ["train", "dev"]})
    with pytest.raises(InvalidInput, match="input u: split values must be train or test, got: dev"):
        validate_dataset(frame, LABELS, "input u")
    frame = pd.DataFrame({"text": ["a", "b"], "label": LABELS, "agreement": [0.5, -0.1]})
    with pytest.raises(InvalidInput, match=r"input u: agreement values must lie in \[0, 1\]"):
        validate_dataset(frame, LABELS, "input u", require_two_labels=False)


def test_unknown_labels_are_bounded_in_the_message():
    frame = pd.DataFrame({"text": [f"t{i}" for i in range(30)], "label": [f"x{i:02d}" + "y" * 100 for i in range(30)]})
    with pytest.raises(InvalidInput, match="and 20 more") as caught:
        validate_dataset(frame, LABELS)
    assert len(caught.value.message) < 1000


def test_jsonl_writer_writes_json_null_for_nan_and_plain_numbers(tmp_path):
    path = tmp_path / "deep" / "data.jsonl"
    with JsonlWriter(path) as out:
        out.write(dataset_record("naïve ✓", "sport", agreement=float("nan"), annotations=np.array(["sport", "food"])))
        out.write(dataset_record("b", "food", "test", np.float64(2 / 3), None, request_index=np.int64(7)))
    lines = path.read_text(encoding="utf-8").splitlines()
    assert "naïve ✓" in lines[0] and "NaN" not in lines[0]
    first, second = (json.loads(line) for line in lines)
    assert first == {"text": "naïve ✓", "label": "sport", "split": "train", "agreement": None,
                     "annotations": ["sport", "food"]}
    assert second["agreement"] == 2 / 3 and second["request_index"] == 7  # every digit kept
    back = read_jsonl(path)
    assert math.isnan(back["agreement"][0]) and back["agreement"][1] == 2 / 3 and back["annotations"][1] is None


def test_atomic_file_replaces_whole_or_leaves_the_old_file(tmp_path):
    target = tmp_path / "sub" / "file.bin"
    with atomic_file(target) as temp:
        temp.write_bytes(b"first")
    assert target.read_bytes() == b"first"
    with pytest.raises(RuntimeError), atomic_file(target, prefix=".tmp-") as temp:
        temp.write_bytes(b"half")
        raise RuntimeError("killed mid-write")
    assert target.read_bytes() == b"first"
    assert sorted(p.name for p in target.parent.iterdir()) == ["file.bin"]  # no temp file left
    with atomic_file(target, mode=0o644) as temp:
        temp.write_bytes(b"second")
    assert target.read_bytes() == b"second" and target.stat().st_mode & 0o777 == 0o644
