"""The experiment's plan: learning-curve sizes, Table-1 / curve / mixed cells, analyses per task."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from orchestration.config import ExperimentConfig, LearningCurveOptions
from orchestration.plan import curve_cells, synthetic_ref, table1_cells, task_analyses


def test_default_sizes_double_from_8_up_to_the_scarcest_label():
    options = LearningCurveOptions()
    assert options.curve_sizes({"ham": 3800, "spam": 70}) == [8, 16, 32, 64]
    assert options.curve_sizes({"ham": 7}) == []
    assert LearningCurveOptions(max_per_label=20).curve_sizes({"a": 500}) == [8, 16]
    assert LearningCurveOptions(sizes=[32, 8, 500]).curve_sizes({"a": 100}) == [8, 32]  # sorted, unfillable dropped


def test_mix_sizes_default_to_the_two_smallest_curve_sizes():
    assert LearningCurveOptions().mix_sizes([8, 16, 32]) == [8, 16]
    assert LearningCurveOptions(stretch_sizes=[16, 24]).mix_sizes([8, 16, 32]) == [16]
    assert LearningCurveOptions(stretch_sizes=[]).mix_sizes([8, 16]) == []


@pytest.mark.parametrize("kwargs", [{"sizes": [0, 8]}, {"sizes": [8, 8]}, {"delta": 1.0}, {"label_cost_usd": -1},
                                    {"seeds": []}])
def test_bad_curve_options_are_refused(kwargs):
    with pytest.raises(ValidationError):
        LearningCurveOptions(**kwargs)


def test_cells_of_two_seeds_two_sources_and_the_curve():
    config = ExperimentConfig(tasks=["sms_spam"], sources=["real", "few_shot"], seeds=[0, 1],
                              curve=LearningCurveOptions(seeds=[0, 1, 2], stretch_sizes=[8]))
    table = table1_cells(config, "sms_spam", "file:///s/dataset/train")
    assert [(c.condition.source, c.condition.seed) for c in table] == [("real", 0), ("real", 1), ("few_shot", 0),
                                                                      ("few_shot", 1)]
    assert table[2].data[0].uri == synthetic_ref("few_shot")
    curve = curve_cells(config, "sms_spam", "file:///s/dataset/full", [8, 16])
    points = [c for c in curve if c.condition.is_curve_point]
    mixed = [c for c in curve if c.condition.is_mixed]
    assert len(points) == 2 * 3 and len(mixed) == 1 * 3
    assert points[0].data[0].count_per_label == 8 and points[0].data[0].uri == "file:///s/dataset/full"
    # 16 rows (8 per label × 2) minus validation = 1 step of 16 per epoch: 24 epochs for 24 steps.
    assert points[0].training.epochs == 24 and points[-1].training.epochs == 12
    assert mixed[0].training is None and table[0].training is None
    # The mixed model draws the same 8 real rows per label as the curve point of its seed.
    assert mixed[0].data[0] == points[0].data[0] and mixed[0].data[1].uri == synthetic_ref("few_shot")
    assert curve_cells(config.model_copy(update={"curve": LearningCurveOptions(enabled=False)}),
                       "sms_spam", "x", [8]) == []


def test_analyses_per_task_split_the_evaluations_by_role():
    config = ExperimentConfig(tasks=["sms_spam"], sources=["real", "few_shot"], seeds=[0, 1])
    cells = table1_cells(config, "sms_spam", "t") + curve_cells(config, "sms_spam", "f", [8])
    evaluated = [(c.condition, f"file:///e/evaluation/{i}") for i, c in enumerate(cells)]
    plan = task_analyses("sms_spam", "t", "test", {"few_shot": "s"}, evaluated, first_seed=0)
    assert len(plan.evaluations) == len(cells)
    assert len(plan.table1_evaluations) == 4 and len(plan.sweep_evaluations) == 2


def test_curve_training_keeps_the_epochs_when_they_already_give_enough_steps():
    from orchestration.config import TrainingOptions
    from orchestration.plan import curve_training

    options = TrainingOptions(epochs=3, batch_size=16)
    assert curve_training(options, 1000, 24) is options
    assert curve_training(options, 128, 24).epochs == 3  # 8 steps per epoch
    assert curve_training(options, 64, 24).epochs == 6
