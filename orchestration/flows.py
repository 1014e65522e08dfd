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
accuracy on a real test split), ``analyze`` (the analysis plan: diversity, similarity to real
data, projection, instance- and task-level subjectivity, the verdict) and ``experiment``
(tasks × data sources × backbones × seeds, the learning curve and mixed models, then the
analyses and the report).
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger
from prefect.futures import PrefectFuture
from pydantic import BaseModel

from orchestration import tasks as steps
from orchestration.config import CURVE_START, Endpoints, ExperimentConfig, GenerationOptions, TrainingOptions
from orchestration.limits import prepare_limits
from orchestration.plan import TaskAnalyses, curve_cells, table1_cells, task_analyses
from orchestration.presets import resolve_config
from orchestration.results import (
    AnalysisOutputs,
    ExperimentResult,
    RunOutcome,
    publish_run_artifacts,
    table1_markdown,
)
from orchestration.tasks import Evaluation
from synthclf.analysis.condition import Condition
from synthclf.analysis.verdict import DELTA
from synthclf.core.artifacts import read_manifest, split_uri
from synthclf.core.config import get_settings
from synthclf.core.errors import InvalidInput, SynthclfError
from synthclf.core.task_artifacts import load_task


class TrainedModel(BaseModel):
    """A fine-tuned model and its parity-checked ONNX export."""

    model_uri: str
    onnx_uri: str


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
                     seed: int, per_label: list[int] | None = None) -> tuple[PrefectFuture, PrefectFuture]:
    """Submit train → export; returns their futures (model, onnx-model)."""
    model = steps.train_classifier.submit(endpoints, task, datasets, counts, fractions, options, backbone, seed,
                                          per_label)
    # Prefect resolves a PrefectFuture argument to its result; its stubs type the argument as the result.
    onnx = steps.export_onnx.submit(endpoints, model, options.quantize_int8)  # type: ignore[call-overload]
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
                       condition: Condition) -> PrefectFuture:
    """Submit load → evaluate; returns the evaluation's future."""
    served = steps.load_model.submit(endpoints, name, onnx)
    return steps.evaluate_model.submit(endpoints, served, onnx, test_uri, condition)  # type: ignore[call-overload]  # futures, as above


@flow(name="evaluate")
def evaluate(onnx_uri: str, test_uri: str, condition: Condition, model_name: str = "",
             endpoints: Endpoints | None = None) -> Evaluation:
    """Load an ONNX model into the inference service and evaluate it on a real test split.

    Args:
        onnx_uri: onnx-model artifact.
        test_uri: labelled dataset, normally a task's real test split.
        condition: what the model was trained on (task, source, backbone, seed, real rows
            per label): recorded in the evaluation, the key of Table 1 and the verdict.
        model_name: name to serve it under; '' = the artifact's id.
        endpoints: service addresses; default from ``SYNTHCLF_*ADDRESS``.

    Returns:
        The evaluation artifact and its Macro-F1, accuracy and support.
    """
    endpoints = endpoints or Endpoints.from_settings()
    prepare_limits()
    name = model_name or split_uri(onnx_uri)[2]
    return _submit_evaluation(endpoints, name, onnx_uri, test_uri, condition).result()


@flow(name="analyze")
def analyze(data: list[TaskAnalyses], max_texts: int = 0, seed: int = 0, delta: float = DELTA,
            label_cost_usd: float | None = None, endpoints: Endpoints | None = None) -> AnalysisOutputs:
    """The analysis plan of an experiment: every analysis a Prefect task of its own, cached, side by side.

    Per task: diversity (remote-clique, chamfer) of every training set; similarity (mean top-5
    cosine) of every synthetic set and of the real test split to the real training split;
    Figure 1's projection; the agreement sweep of its first seed's Table-1 models (where the
    test split has per-annotator labels); the verdict (learning curve, real-label
    equivalents, stretch gains) over all its evaluations. Across tasks: task-level
    subjectivity over the Table-1 models. The report only renders these artifacts.

    Args:
        data: per task, its datasets and evaluations (orchestration.plan.task_analyses).
        max_texts: texts per dataset (stratified sample); 0 = the service's 1000.
        seed: sample seed.
        delta: margin δ of the verdict (Macro-F1).
        label_cost_usd: price of one human label (US$); None: no cost comparison.
        endpoints: service addresses; default from ``SYNTHCLF_*ADDRESS``.

    Returns:
        The analysis artifact URIs (the report's inputs) and the verdicts.
    """
    endpoints = endpoints or Endpoints.from_settings()
    prepare_limits()
    futures, verdicts = [], []
    for item in data:
        training = [item.real_train, *item.synthetic.values()]
        futures += [steps.measure_diversity.submit(endpoints, uri, max_texts, seed) for uri in training]
        futures += [steps.measure_similarity.submit(endpoints, uri, item.real_train, max_texts, seed)
                    for uri in [*item.synthetic.values(), item.real_test]]
        futures.append(steps.measure_projection.submit(endpoints, training, max_texts, seed))
        futures += [steps.instance_subjectivity.submit(endpoints, uri) for uri in item.sweep_evaluations]
        if item.evaluations:
            verdicts.append(steps.decide_verdict.submit(endpoints, item.evaluations, delta, label_cost_usd,
                                                        item.synthetic, seed))
    table1 = [uri for item in data for uri in item.table1_evaluations]
    if table1:
        futures.append(steps.task_subjectivity.submit(endpoints, table1))
    uris = [uri for uri in (future.result() for future in futures) if uri]
    decided = [future.result() for future in verdicts]
    return AnalysisOutputs(uris=uris + [v.uri for v in decided], verdicts=decided)


@flow(name="experiment")
def experiment(config: ExperimentConfig | None = None, preset: str | None = None,
               overrides: dict[str, Any] | None = None, endpoints: Endpoints | None = None) -> ExperimentResult:
    """Real vs synthetic training data, and the answer: tasks × sources × backbones × seeds, the
    learning curve, mixed models, the verdict per task, then the report.

    Per task: import the real splits (and the whole training split for the learning curve);
    generate the zero-shot and few-shot sets the sources need (few-shot examples come from the
    real training split); train, export to ONNX, load and evaluate every cell of the plan
    (orchestration.plan: Table 1, curve points, mixed models) on the one real test split; then
    run the analysis plan (flow ``analyze``) and write the report. A cell that fails is
    reported as missing; the flow then fails after publishing what did finish.

    Args:
        config: the whole configuration; excludes ``preset``.
        preset: a named configuration (orchestration.presets.PRESETS); default ``paper-offline``.
        overrides: fields replacing the config's or preset's (nested options merge).
        endpoints: service addresses; default from ``SYNTHCLF_*ADDRESS``.

    Returns:
        Outcomes per cell, Table 1, the verdicts and the report's URI and Markdown.

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
    plan = []
    for task in config.tasks:
        name = names[task]
        plan += table1_cells(config, name, real[task].train)
        if config.curve.enabled:
            full = _import_whole_train(endpoints, config, task)
            label_counts = read_manifest(full.train, kind="dataset").stats.get("label_counts", {})
            sizes = config.curve.curve_sizes(label_counts)
            if not sizes:
                logger.warning("%s: no learning curve — a label has fewer than %d real training rows", name,
                               CURVE_START)
            plan += curve_cells(config, name, full.train, sizes, len(load_task(task, get_settings()).labels))
    logger.info("plan: %d models (%d Table 1, %d learning curve, %d mixed)", len(plan),
                sum(c.condition.is_table1 for c in plan), sum(c.condition.is_curve_point for c in plan),
                sum(c.condition.is_mixed for c in plan))
    ids = {name: task for task, name in names.items()}  # conditions carry the task's name
    cells = []
    for cell in plan:
        condition = cell.condition
        task = ids[condition.task]
        datasets = [synthetic[(task, d.uri.split(":", 1)[1])] if d.uri.startswith("synthetic:") else d.uri
                    for d in cell.data]
        model, onnx = _submit_training(endpoints, task, datasets, [d.count for d in cell.data],
                                       [d.fraction for d in cell.data], cell.training or config.training,
                                       condition.backbone, condition.seed, [d.count_per_label for d in cell.data])
        evaluation = _submit_evaluation(endpoints, condition.serving_name(), onnx, real[task].test, condition)
        cells.append((RunOutcome.of(condition, config), model, onnx, evaluation))
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
    result = _report(endpoints, config, title, real, synthetic, outcomes, names)
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


def _import_whole_train(endpoints: Endpoints, config: ExperimentConfig, task: str) -> steps.RealSplits:
    """A task's whole real training split (the learning curve draws from it) with the same test
    split as Table 1's (the same seed and test cap)."""
    if task in config.user_data:
        return steps.import_user_data(endpoints, task, config.user_data[task], 0, config.test_rows, config.data_seed)
    return steps.import_real_data(endpoints, task, 0, config.test_rows, config.data_seed)


def _report(endpoints: Endpoints, config: ExperimentConfig, title: str, real: dict[str, steps.RealSplits],
            synthetic: dict[tuple[str, str], PrefectFuture], outcomes: list[RunOutcome],
            names: dict[str, str]) -> ExperimentResult:
    """The analysis plan, the report and the Prefect artifacts of the evaluated cells
    (``names``: each task of the config → the name its conditions carry)."""
    logger = get_run_logger()
    generated: dict[str, dict[str, str]] = {task: {} for task in config.tasks}
    for (task, mode), future in synthetic.items():
        uri, error = _settle(future)
        if uri:
            generated[task][mode] = uri
        else:
            logger.error("generation of %s / %s failed: %s", task, mode, error)
    evaluated = [(o.condition(), o.evaluation.uri) for o in outcomes if o.evaluation is not None]
    table = table1_markdown(outcomes)
    result = ExperimentResult(config=config, outcomes=outcomes, table=table)
    if not evaluated:
        publish_run_artifacts(title, table, [], "")
        return result
    outputs = AnalysisOutputs()
    if config.analyses:
        data = [task_analyses(names[t], real[t].train, real[t].test, generated[t], evaluated, config.seeds[0])
                for t in config.tasks]
        state = analyze(data, config.max_texts, config.data_seed, config.curve.delta, config.curve.label_cost_usd,
                        endpoints, return_state=True)
        if state.is_completed():
            outputs = state.result()
        else:
            logger.error("analyses failed (%s); the report shows the evaluations only", state.message)
    for verdict in outputs.verdicts:
        logger.info("verdict for %s: %s — %s", verdict.task, verdict.decision, verdict.reason)
    report = steps.write_report(endpoints, title, [uri for _, uri in evaluated], outputs.uris)
    publish_run_artifacts(title, table, outputs.verdicts, report.uri)
    return result.model_copy(update={"report_uri": report.uri, "report_markdown": report.markdown,
                                     "analysis_uris": outputs.uris, "verdicts": outputs.verdicts})
