"""Flow logic that needs no server: retry condition, column labels and serving names."""

from __future__ import annotations

from prefect.states import Completed, Failed

from orchestration.config import ExperimentConfig
from orchestration.flows import _label, _model_name
from orchestration.tasks import RETRIES, is_transient
from synthclf.core.errors import DeadlineExceeded, InvalidInput, Unavailable


def test_only_unavailable_and_deadline_exceeded_are_retried():
    assert is_transient(None, None, Failed(data=Unavailable("llm down")))
    assert is_transient(None, None, Failed(data=DeadlineExceeded("deadline")))
    assert not is_transient(None, None, Failed(data=InvalidInput("bad label")))
    assert not is_transient(None, None, Failed(data=ValueError("bug")))
    assert not is_transient(None, None, Completed(data=1))


def test_retries_back_off_exponentially_with_jitter():
    assert RETRIES["retries"] == 5
    assert RETRIES["retry_delay_seconds"](5) == [5, 10, 20, 40, 80]
    assert RETRIES["retry_jitter_factor"] > 0


def test_labels_name_backbone_and_seed_only_when_they_vary():
    assert _label("few_shot", "", 0, ExperimentConfig()) == "few_shot"
    varied = ExperimentConfig(backbones=["", "roberta-base"], seeds=[0, 1])
    assert _label("few_shot", "roberta-base", 1, varied) == "few_shot [roberta-base] seed 1"
    assert _model_name("sms_spam", "real:100+few_shot [roberta-base] seed 1") == \
        "sms_spam-real-100-few_shot--roberta-base--seed-1"
