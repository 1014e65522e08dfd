"""Flow logic that needs no server: retry condition, column labels and serving names."""

from __future__ import annotations

from prefect.states import Completed, Failed

from orchestration.config import ExperimentConfig
from orchestration.results import RunOutcome
from orchestration.tasks import RETRIES, is_transient
from synthclf.analysis.condition import Condition
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
    cell = Condition(task="sms_spam", source="few_shot")
    assert RunOutcome.of(cell, ExperimentConfig()).label == "few_shot"
    varied = ExperimentConfig(backbones=["", "roberta-base"], seeds=[0, 1])
    mixed = Condition(task="sms_spam", source="real:100+few_shot", backbone="roberta-base", seed=1)
    assert RunOutcome.of(mixed, varied).label == "real:100+few_shot [roberta-base] seed 1"
    curve = Condition(task="sms_spam", source="real", seed=2, real_per_label=16)
    assert RunOutcome.of(curve, ExperimentConfig()).label == "real × 16/label seed 2"
    assert RunOutcome.of(curve, ExperimentConfig()).condition() == curve


def test_serving_names_are_unique_per_cell_and_safe():
    mixed = Condition(task="sms_spam", source="real:100+few_shot", backbone="org/roberta-base", seed=1)
    assert mixed.serving_name() == "sms_spam-real-100-few_shot-org-roberta-base-s1"
    assert Condition(task="t", source="few_shot", real_per_label=8).serving_name() == "t-few_shot-default-s0-r8"
