"""``synthclf tasks init``: a task file drafted from data, refused until its labels are described."""

from __future__ import annotations

import pandas as pd
import pytest

from synthclf.cli_data import draft_task
from synthclf.core.errors import InvalidInput
from synthclf.core.task_spec import parse_task_yaml

TEXTS = ["The delivery arrived two days late and the box was damaged",
         "Great service, the refund was processed within an hour, thank you",
         "I cannot log in to my account since the last update of the app",
         "Please send me a copy of the invoice for my last order"]


def test_integer_labels_get_names_and_values_and_the_file_round_trips(tmp_path):
    frame = pd.DataFrame({"body": TEXTS * 5, "y": [0, 1, 0, 2] * 5})
    frame.to_parquet(tmp_path / "tickets.parquet")
    drafted = draft_task(tmp_path / "tickets.parquet", text_column="body", label_column="y")
    assert drafted.startswith("# Task drafted by `synthclf tasks init` from tickets.parquet: 20 labelled rows, 3 labels")
    with pytest.raises(InvalidInput, match="still the placeholder"):
        parse_task_yaml(drafted)
    filled = drafted
    for value in ("0", "1", "2"):
        filled = filled.replace(f"'REVIEW: what {value} means", f"'label {value} is a kind of ticket").replace(
            f"REVIEW: what {value} means", f"label {value} is a kind of ticket")
    spec = parse_task_yaml(filled)
    assert spec.name == "tickets" and spec.language == "en"
    assert spec.label_names == ["label_0", "label_1", "label_2"]
    assert [spec.label_for_value(v) for v in ("0", "1", "2")] == spec.label_names
    assert spec.max_words == 14  # the 90th percentile of the words per text (11, 12, 14, 11)


def test_missing_columns_are_named(tmp_path):
    pd.DataFrame({"text": TEXTS, "label": ["a", "b", "a", "b"]}).to_csv(tmp_path / "d.csv", index=False)
    with pytest.raises(InvalidInput, match="no column 'category'; columns found: text, label"):
        draft_task(tmp_path / "d.csv", label_column="category")
