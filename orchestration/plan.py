"""The experiment's plan: which models to train (cells) and which analyses to run.

Pure functions over the configuration and artifact URIs, so the plan is testable without
Prefect or services; :mod:`orchestration.flows` submits it.

Cells (docs/analysis.md):

* Table 1 — per task × source × backbone × seed, on the experiment's real splits and synthetic sets;
* the learning curve — per task × backbone × size n × curve seed: n real rows per label (a
  balanced draw) from the task's whole real training split, for at least ``curve.min_steps``
  optimizer steps;
* mixed models — per task × synthetic source × backbone × k × curve seed: the same k real rows
  per label as the curve point at k (same seed, same draw) plus the whole synthetic set.

Every cell is evaluated on the task's one real test split. Analyses: diversity, similarity
to real data and Figure 1's projection per task; the agreement sweep of the first seed's
Table-1 models; task-level subjectivity over the Table-1 models; the verdict per task over all
of its evaluations.
"""

from __future__ import annotations

import math

from pydantic import BaseModel, Field

from orchestration.config import ExperimentConfig, TrainingOptions, parse_source
from synthclf.analysis.condition import Condition


class Draw(BaseModel):
    """One training dataset of a cell and how much of it to draw."""

    uri: str = Field(description="Dataset URI, or 'synthetic:<mode>' until the synthetic set exists.")
    count: int = 0
    fraction: float = 0.0
    count_per_label: int = 0


class Cell(BaseModel):
    """One model to train and evaluate."""

    condition: Condition
    data: list[Draw]
    training: TrainingOptions | None = Field(None, description="Hyperparameters; None = the experiment's.")


#: Share of a training mixture held out for validation by the training service (TrainRequest default).
VALIDATION_FRACTION = 0.1


def curve_training(options: TrainingOptions, rows: int, min_steps: int) -> TrainingOptions:
    """``options`` with enough epochs for ``min_steps`` optimizer steps on ``rows`` rows."""
    steps_per_epoch = max(1, math.ceil(rows * (1 - VALIDATION_FRACTION) / options.batch_size))
    epochs = max(options.epochs, math.ceil(min_steps / steps_per_epoch))
    return options if epochs == options.epochs else options.model_copy(update={"epochs": epochs})


def synthetic_ref(mode: str) -> str:
    """The placeholder of a synthetic set in a plan (replaced by its future when submitted)."""
    return f"synthetic:{mode}"


def table1_cells(config: ExperimentConfig, task: str, real_train: str) -> list[Cell]:
    """Table 1's models of one task (sources × backbones × seeds)."""
    cells = []
    for source in config.sources:
        parts = parse_source(source)
        data = [Draw(uri=real_train if p.source == "real" else synthetic_ref(p.source), count=p.count,
                     fraction=p.fraction) for p in parts]
        for backbone in config.backbones:
            for seed in config.seeds:
                cells.append(Cell(condition=Condition(task=task, source=source, backbone=backbone, seed=seed),
                                  data=data))
    return cells


def curve_cells(config: ExperimentConfig, task: str, full_train: str, sizes: list[int],
                n_labels: int = 2) -> list[Cell]:
    """The learning curve and mixed models of one task.

    Args:
        config: the experiment (its ``curve`` options, backbones and synthetic modes).
        task: the task.
        full_train: the task's whole real training split.
        sizes: the curve's sizes (:meth:`LearningCurveOptions.curve_sizes`).
        n_labels: the task's labels (curve point n trains on n × labels rows, for at least
            ``curve.min_steps`` optimizer steps).
    """
    options = config.curve
    if not options.enabled or not sizes:
        return []
    cells = []
    for backbone in config.backbones:
        for n in sizes:
            for seed in options.seeds:
                cells.append(Cell(condition=Condition(task=task, source="real", backbone=backbone, seed=seed,
                                                      real_per_label=n),
                                  data=[Draw(uri=full_train, count_per_label=n)],
                                  training=curve_training(config.training, n * n_labels, options.min_steps)))
        for mode in config.synthetic_modes():
            for k in options.mix_sizes(sizes):
                for seed in options.seeds:
                    cells.append(Cell(condition=Condition(task=task, source=mode, backbone=backbone, seed=seed,
                                                          real_per_label=k),
                                      data=[Draw(uri=full_train, count_per_label=k), Draw(uri=synthetic_ref(mode))]))
    return cells


class TaskAnalyses(BaseModel):
    """What to analyse for one task."""

    task: str
    real_train: str
    real_test: str
    synthetic: dict[str, str] = Field(default_factory=dict, description="mode → dataset URI")
    evaluations: list[str] = Field(default_factory=list, description="Every evaluation of the task (verdict).")
    table1_evaluations: list[str] = Field(default_factory=list, description="Table-1 evaluations "
                                          "(task-level subjectivity).")
    sweep_evaluations: list[str] = Field(default_factory=list, description="Table-1 evaluations of the first "
                                         "seed (agreement sweep, where the test split has agreement).")


def task_analyses(task: str, real_train: str, real_test: str, synthetic: dict[str, str],
                  evaluated: list[tuple[Condition, str]], first_seed: int) -> TaskAnalyses:
    """The analyses of one task from its evaluated cells ((condition, evaluation URI) pairs)."""
    mine = [(c, uri) for c, uri in evaluated if c.task == task]
    return TaskAnalyses(
        task=task, real_train=real_train, real_test=real_test, synthetic=synthetic,
        evaluations=[uri for _, uri in mine],
        table1_evaluations=[uri for c, uri in mine if c.is_table1],
        sweep_evaluations=[uri for c, uri in mine if c.is_table1 and c.seed == first_seed])
