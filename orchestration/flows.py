"""Prefect flows: the experiment of Li et al. (2023) and its steps, as sequences of service calls.

Flows only sequence: every call to a service is a task of :mod:`orchestration.tasks` that
passes artifact URIs. Independent steps are submitted to the flow's task runner
(``.submit()``, threads) and run side by side — the datasets of different tasks, the models of
different sources — while Prefect concurrency limits keep at most one generation and one
training job running by default (:mod:`orchestration.limits`). Every step is cached across
runs by the content of its inputs (:mod:`orchestration.caching`), so a re-run resumes an
interrupted study.

Flows (deployments in prefect.yaml): ``generate_dataset``, ``train_classifier`` (train +
ONNX export with parity check), ``evaluate`` (load into the inference service + Macro-F1 /
accuracy on a real test split), ``analyze`` (diversity, similarity to real data, instance-
and task-level subjectivity) and ``experiment`` (tasks × data sources × backbones × seeds,
then the report).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field
from prefect import flow, get_run_logger
from prefect.futures import PrefectFuture

from orchestration import tasks as steps
from orchestration.config import (
    Endpoints, ExperimentConfig, GenerationOptions, TrainingOptions, parse_source,
)
from orchestration.limits import prepare_limits
from orchestration.presets import resolve_config
from orchestration.results import ExperimentResult, RunOutcome, publish_run_artifacts, table1_markdown
from orchestration.tasks import Evaluation
from synthclf.core.artifacts import split_uri
from synthclf.core.config import get_settings
from synthclf.core.task_artifacts import load_task
from synthclf.core.errors import InvalidInput, SynthclfError


class TrainedModel(BaseModel):
    """A fine-tuned model and its parity-checked ONNX export."""

    model_uri: str
    onnx_uri: str


class TaskData(BaseModel):
    """The datasets of one task: its real splits and synthetic sets by generation mode."""

    task: str
    real_train: str
    real_test: str
    synthetic: dict[str, str] = Field(default_factory=dict, description="mode → dataset URI")


def _settle(future: PrefectFuture) -> tuple[Any, str]:
    """Wait for a task; (its result, "") or (None, why it did not complete)."""
    future.wait()
    state = future.state
    if state.is_completed():
        return future.result(), ""
    return None, f"{state.name}: {state.message or 'no message'}"


@flow(name="generate_dataset")
def generate_dataset(task: str, mode: str = "zero_shot", options: GenerationOptions | None = None,
                     seed: int = 0, examples_uri: str = "", endpoints: Endpoints | None = None) -> str:
    """Generate a zero-shot or few-shot synthetic dataset for a catalog task.

    Args:
        task: catalog task name.
        mode: ``zero_shot`` or ``few_shot``.
        options: sizes and sampling; default :class:`GenerationOptions`.
        seed: seed of example draws and sampling.
        examples_uri: few-shot: real dataset to draw examples from; '' imports the task's
            whole real training split (seed ``seed``).
        endpoints: service addresses; default from ``SYNTHCLF_*ADDRESS``.

    Returns:
        The dataset URI.
    """
    endpoints = endpoints or Endpoints.from_settings()
    prepare_limits()
    if mode == "few_shot" and not examples_uri:
        examples_uri = steps.import_real_data(endpoints, task, seed=seed).train
    return steps.generate_dataset(endpoints, task, mode, options or GenerationOptions(), seed, examples_uri)


def _submit_training(endpoints: Endpoints, task: str, datasets: list, counts: list[int],
                     fractions: list[float], options: TrainingOptions, backbone: str,
                     seed: int) -> tuple[PrefectFuture, PrefectFuture]:
    """Submit train → export; returns their futures (model, onnx-model)."""
    model = steps.train_classifier.submit(endpoints, task, datasets, counts, fractions, options, backbone, seed)
    onnx = steps.export_onnx.submit(endpoints, model, options.quantize_int8)
    return model, onnx


@flow(name="train_classifier")
def train_classifier(task: str, datasets: list[str], counts: list[int] | None = None,
                     fractions: list[float] | None = None, options: TrainingOptions | None = None,
                     backbone: str = "", seed: int = 0, endpoints: Endpoints | None = None) -> TrainedModel:
    """Fine-tune a classifier on one dataset or a mixture, and export it to ONNX (parity-checked).

    Args:
        task: catalog task (its labels, in order, are the model's outputs).
        datasets: dataset URIs, concatenated.
        counts: rows to draw from each dataset (stratified); default: all rows.
        fractions: share to draw from each where its count is 0; default: all rows.
        options: hyperparameters; default :class:`TrainingOptions`.
        backbone: Hugging Face encoder; '' = the service's default (all-MiniLM-L6-v2).
        seed: training seed.
        endpoints: service addresses; default from ``SYNTHCLF_*ADDRESS``.

    Returns:
        The model and onnx-model URIs.

    Raises:
        InvalidInput: counts or fractions not one per dataset.
    """
    counts = counts or [0] * len(datasets)
    fractions = fractions or [0.0] * len(datasets)
    if not len(datasets) == len(counts) == len(fractions):
        raise InvalidInput(f"{len(datasets)} datasets but {len(counts)} counts and {len(fractions)} fractions")
    endpoints = endpoints or Endpoints.from_settings()
    prepare_limits()
    model, onnx = _submit_training(endpoints, task, datasets, counts, fractions, options or TrainingOptions(),
                                   backbone, seed)
    return TrainedModel(model_uri=model.result(), onnx_uri=onnx.result())


def _submit_evaluation(endpoints: Endpoints, name: str, onnx, test_uri: str,
                       tags: dict[str, str]) -> PrefectFuture:
    """Submit load → evaluate; returns the evaluation's future."""
    served = steps.load_model.submit(endpoints, name, onnx)
    return steps.evaluate_model.submit(endpoints, served, onnx, test_uri, tags)


@flow(name="evaluate")
def evaluate(onnx_uri: str, test_uri: str, model_name: str = "", tags: dict[str, str] | None = None,
             endpoints: Endpoints | None = None) -> Evaluation:
    """Load an ONNX model into the inference service and evaluate it on a real test split.

    Args:
        onnx_uri: onnx-model artifact.
        test_uri: labelled dataset, normally a task's real test split.
        model_name: name to serve it under; '' = the artifact's id.
        tags: recorded in the evaluation (``task`` and ``source`` group the report).
        endpoints: service addresses; default from ``SYNTHCLF_*ADDRESS``.

    Returns:
        The evaluation artifact and its Macro-F1, accuracy and support.
    """
    endpoints = endpoints or Endpoints.from_settings()
    prepare_limits()
    name = model_name or split_uri(onnx_uri)[2]
    return _submit_evaluation(endpoints, name, onnx_uri, test_uri, tags or {}).result()


@flow(name="analyze")
def analyze(data: list[TaskData], evaluation_uris: list[str] | None = None, max_texts: int = 0,
            seed: int = 0, endpoints: Endpoints | None = None) -> list[str]:
    """The paper's analyses of an experiment's data and models, all side by side.

    Diversity (remote-clique, chamfer) of every training set; similarity (mean top-5 cosine)
    of every synthetic set and of the real test split to the real training split; the
    agreement sweep (instance-level subjectivity) of every evaluation whose test split has
    per-annotator labels; task-level subjectivity over all evaluations.

    Args:
        data: per task, its real splits and synthetic sets.
        evaluation_uris: evaluations tagged ``task`` and ``source``.
        max_texts: texts per dataset (stratified sample); 0 = the service's 1000.
        seed: sample seed.
        endpoints: service addresses; default from ``SYNTHCLF_*ADDRESS``.

    Returns:
        The analysis artifact URIs (for the report's inputs).
    """
    endpoints = endpoints or Endpoints.from_settings()
    prepare_limits()
    evaluation_uris = evaluation_uris or []
    futures = []
    for item in data:
        for uri in [item.real_train, *item.synthetic.values()]:
            futures.append(steps.measure_diversity.submit(endpoints, uri, max_texts, seed))
        for uri in [*item.synthetic.values(), item.real_test]:
            futures.append(steps.measure_similarity.submit(endpoints, uri, item.real_train, max_texts, seed))
    sweeps = [steps.instance_subjectivity.submit(endpoints, uri) for uri in evaluation_uris]
    uris = [future.result() for future in futures]
    uris += [uri for uri in (future.result() for future in sweeps) if uri]
    if evaluation_uris:
        uris.append(steps.task_subjectivity(endpoints, evaluation_uris))
    return uris


def _label(source: str, backbone: str, seed: int, config: ExperimentConfig) -> str:
    """The evaluation's ``source`` tag: one report column per source (× backbone × seed)."""
    label = source
    if len(config.backbones) > 1:
        label += f" [{backbone or 'default'}]"
    if len(config.seeds) > 1:
        label += f" seed {seed}"
    return label


def _model_name(task: str, label: str) -> str:
    """A serving name from the task and column label (letters, digits, '-', '_', '.')."""
    name = f"{task}-{label}"
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in name).strip("-")


@flow(name="experiment")
def experiment(config: ExperimentConfig | None = None, preset: str | None = None,
               overrides: dict[str, Any] | None = None, endpoints: Endpoints | None = None) -> ExperimentResult:
    """Real vs synthetic training data: tasks × data sources × backbones × seeds, then Table 1.

    Per task: import the real splits; generate the zero-shot and few-shot sets the sources
    need (few-shot examples come from the real training split); per source, backbone and
    seed train, export to ONNX, load into the inference service and evaluate on the real
    test split; then analyse (flow ``analyze``) and write the report. A cell that fails is
    reported as missing; the flow then fails after publishing what did finish.

    Args:
        config: the whole configuration; excludes ``preset``.
        preset: a named configuration (orchestration.presets.PRESETS); default ``paper-offline``.
        overrides: fields replacing the config's or preset's (nested options merge).
        endpoints: service addresses; default from ``SYNTHCLF_*ADDRESS``.

    Returns:
        Outcomes per cell, Table 1 and the report's URI and Markdown.

    Raises:
        InvalidInput: a bad configuration. SynthclfError: some cells failed (after the report).
    """
    logger = get_run_logger()
    config = resolve_config(config, preset, overrides)
    endpoints = endpoints or Endpoints.from_settings()
    prepare_limits(config.concurrency)
    names = {task: load_task(task, get_settings()).name for task in config.tasks}  # a task URI → its name
    title = config.title or f"synthclf experiment: {', '.join(names.values())}"
    real = _import_real(endpoints, config)
    synthetic = {(task, mode): steps.generate_dataset.submit(
        endpoints, task, mode, config.generation, config.data_seed,
        real[task].train if mode == "few_shot" else "")
        for task in config.tasks for mode in config.synthetic_modes()}
    cells = []
    for task in config.tasks:
        for source in config.sources:
            parts = parse_source(source)
            datasets = [real[task].train if p.source == "real" else synthetic[(task, p.source)] for p in parts]
            for backbone in config.backbones:
                for seed in config.seeds:
                    label = _label(source, backbone, seed, config)
                    model, onnx = _submit_training(endpoints, task, datasets, [p.count for p in parts],
                                                   [p.fraction for p in parts], config.training, backbone, seed)
                    tags = {"task": names[task], "source": label, "backbone": backbone or "default", "seed": str(seed)}
                    evaluation = _submit_evaluation(endpoints, _model_name(names[task], label), onnx, real[task].test,
                                                    tags)
                    cells.append((RunOutcome(task=names[task], source=source, backbone=backbone, seed=seed, label=label),
                                  model, onnx, evaluation))
    outcomes = []
    for outcome, *futures in cells:
        settled = [_settle(f) for f in futures]
        (model_uri, _), (onnx_uri, _), (evaluation, _) = settled
        error = next((why for _, why in settled if why), "")  # the first step that failed
        outcomes.append(outcome.model_copy(update={"model_uri": model_uri or "", "onnx_uri": onnx_uri or "",
                                                   "evaluation": evaluation, "error": error}))
        if evaluation is not None:
            logger.info("%s / %s: Macro-F1 %.3f, accuracy %.3f (n=%d)", outcome.task, outcome.label,
                        evaluation.macro_f1, evaluation.accuracy, evaluation.support)
        else:
            logger.error("%s / %s failed: %s", outcome.task, outcome.label, error)
    result = _report(endpoints, config, title, real, synthetic, outcomes)
    failed = [o for o in outcomes if o.evaluation is None]
    if failed:
        raise SynthclfError(f"{len(failed)} of {len(outcomes)} models were not evaluated (first: "
                            f"{failed[0].task} / {failed[0].label}: {failed[0].error}); the report "
                            f"{result.report_uri or '(none)'} shows the others")
    return result


def _import_real(endpoints: Endpoints, config: ExperimentConfig) -> dict[str, steps.RealSplits]:
    """Real train/test splits of every task (side by side); the training split is capped at
    ``real_train_rows``, or at the size of one synthetic set when that is 0."""
    futures = {}
    for task in config.tasks:
        train_rows = config.train_rows_for(len(load_task(task, get_settings()).labels))
        if task in config.user_data:  # the user's own uploaded data (README, "Your own task")
            futures[task] = steps.import_user_data.submit(endpoints, task, config.user_data[task], train_rows,
                                                          config.test_rows, config.data_seed)
            continue
        futures[task] = steps.import_real_data.submit(endpoints, task, train_rows, config.test_rows, config.data_seed)
    return {task: future.result() for task, future in futures.items()}


def _report(endpoints: Endpoints, config: ExperimentConfig, title: str, real: dict[str, steps.RealSplits],
            synthetic: dict[tuple[str, str], PrefectFuture], outcomes: list[RunOutcome]) -> ExperimentResult:
    """Analyses, report and Prefect artifacts of the evaluated cells."""
    logger = get_run_logger()
    generated: dict[str, dict[str, str]] = {task: {} for task in config.tasks}
    for (task, mode), future in synthetic.items():
        uri, error = _settle(future)
        if uri:
            generated[task][mode] = uri
        else:
            logger.error("generation of %s / %s failed: %s", task, mode, error)
    evaluations = [o.evaluation.uri for o in outcomes if o.evaluation is not None]
    table = table1_markdown(outcomes)
    result = ExperimentResult(config=config, outcomes=outcomes, table=table)
    if not evaluations:
        publish_run_artifacts(title, table, "")
        return result
    analyses: list[str] = []
    if config.analyses:
        data = [TaskData(task=t, real_train=real[t].train, real_test=real[t].test, synthetic=generated[t])
                for t in config.tasks]
        state = analyze(data, evaluations, config.max_texts, config.data_seed, endpoints, return_state=True)
        if state.is_completed():
            analyses = state.result()
        else:
            logger.error("analyses failed (%s); the report computes what it can", state.message)
    report = steps.write_report(endpoints, title, evaluations, analyses, config.max_texts, config.data_seed)
    publish_run_artifacts(title, table, report.uri)
    return result.model_copy(update={"report_uri": report.uri, "report_markdown": report.markdown,
                                     "analysis_uris": analyses})
