"""Tests of synthclf.core.limits and synthclf.core.cancellation: limit messages, names, labels, cancellation."""

from __future__ import annotations

import pytest

from synthclf.core.cancellation import Job, active_jobs, cancel_all
from synthclf.core.config import Settings
from synthclf.core.errors import Cancelled, InvalidInput, ResourceExhausted
from synthclf.core.limits import (
    check_at_most,
    check_labels,
    check_model_name,
    setting_name,
    shown,
    truncate,
)
from synthclf.core.progress import Progress


def test_a_limit_message_names_the_amount_the_limit_and_the_setting():
    expected = r"^17 versions; the limit is 16 \(set by SYNTHCLF_INFERENCE_MAX_LOADED_MODELS\)$"
    with pytest.raises(ResourceExhausted, match=expected):
        check_at_most(17, Settings(inference_max_loaded_models=16), "inference_max_loaded_models", "versions", ResourceExhausted)
    check_at_most(16, Settings(inference_max_loaded_models=16), "inference_max_loaded_models", "versions")
    assert setting_name("max_labels") == "SYNTHCLF_MAX_LABELS"


@pytest.mark.parametrize("name", ["sms", "sms-v2.onnx", "A_b.9"])
def test_plain_model_names_pass(name):
    check_model_name(name, Settings())


@pytest.mark.parametrize(("name", "problem"), [
    ("", "empty"), ("x" * 129, "SYNTHCLF_MAX_MODEL_NAME_CHARS"), ("a b", "outside"), ("a\x00", "outside"),
    ("\u202eabc", "outside"), ("ünïcode", "outside"), ("a/b", "outside"),
])
def test_other_model_names_are_refused(name, problem):
    with pytest.raises(InvalidInput, match=problem):
        check_model_name(name, Settings())


def test_labels_are_checked_for_count_type_length_and_duplicates():
    settings = Settings(max_labels=3, max_label_chars=5)
    assert check_labels(["a", "b"], settings, "labels.json") == ["a", "b"]
    for labels, problem in ((["a", "b", "c", "d"], "SYNTHCLF_MAX_LABELS"), (["a", "toolong"], "SYNTHCLF_MAX_LABEL_CHARS"),
                            (["a", "a"], "more than once"), (["a", 1], "not a non-empty string"),
                            (["a", ""], "not a non-empty string"), (["a"], "at least 2")):
        with pytest.raises(InvalidInput, match=problem):
            check_labels(labels, settings, "labels.json")


def test_shown_cuts_and_escapes_a_callers_value():
    assert shown("abc") == "abc"
    long = shown("x" * 10_000)
    assert len(long) < 100 and "10000 characters" in long
    assert "\x00" not in shown("a\x00b")


def test_truncate_cuts_each_text():
    assert truncate(["abcdef", "ab"], 3) == ["abc", "ab"]


def test_a_cancelled_job_stops_at_its_next_progress_event():
    seen = []
    with Job("TrainingService/Train") as job:
        report = job.progress(seen.append)
        report(Progress("train", 1))
        assert active_jobs() == 1
        assert cancel_all("the server is shutting down") == 1
        with pytest.raises(Cancelled, match="TrainingService/Train stopped: the server is shutting down"):
            report(Progress("train", 2))
    assert [e.done for e in seen] == [1] and active_jobs() == 0


def test_an_ended_job_ignores_a_late_cancel(caplog):
    with Job("AnalysisService/Diversity") as job:
        pass
    with caplog.at_level("INFO"):
        job.cancel("the caller cancelled the call or its deadline passed")
    assert not job.cancelled and "cancelling" not in caplog.text
