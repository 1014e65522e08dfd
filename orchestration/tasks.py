"""Prefect tasks: one per service RPC, taking and returning artifact references.

Each task builds its client inside (clients hold channels, which cannot be hashed for
caching), makes one call and returns URIs — never payloads (docs/orchestration.md). Every task that
reads or produces artifacts is cached across runs by :data:`~orchestration.caching.ARTIFACT_INPUTS`
with persisted results, retried only on transient failures (UNAVAILABLE / DEADLINE_EXCEEDED,
which the clients raise as :class:`~synthclf.core.errors.Unavailable`) with exponential
backoff and jitter, and — for the heavy kinds — runs its RPC while holding a slot of the
kind's Prefect concurrency limit (:mod:`orchestration.limits`). Progress of long jobs is
logged (throttled) under the ``synthclf.progress`` logger.
"""

from __future__ import annotations

from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.tasks import exponential_backoff
from pydantic import BaseModel, Field

from orchestration.caching import ARTIFACT_INPUTS
from orchestration.config import Endpoints, GenerationOptions, TrainingOptions, UserData
from orchestration.limits import slot
from synthclf import client_types
from synthclf.analysis.condition import Condition
from synthclf.analysis.subjectivity import NO_AGREEMENT
from synthclf.clients import AnalysisClient, GenerationClient, InferenceClient, TrainingClient
from synthclf.core.errors import InvalidInput, Unavailable
from synthclf.progress_display import ProgressReporter


class RealSplits(BaseModel):
    """A task's real data as two dataset artifacts."""

    train: str
    test: str


class Evaluation(BaseModel):
    """An evaluation artifact and its headline metrics on the real test split."""

    uri: str
    macro_f1: float
    accuracy: float
    support: int
    macro_f1_ci: tuple[float, float] | None = Field(None, description="Bootstrap interval (low, high).")
    accuracy_ci: tuple[float, float] | None = None


class VerdictSummary(BaseModel):
    """A task's verdict artifact and its headline: decision, reason, real-label equivalents."""

    uri: str
    task: str
    decision: str
    reason: str
    equivalents: dict[str, str] = Field(default_factory=dict, description="model → '≈ 22 (15–31)'.")


class Report(BaseModel):
    """A report artifact (report.md, report.html, figures) and its Markdown."""

    uri: str
    markdown: str


def is_transient(task_obj, task_run, state) -> bool:
    """Prefect ``retry_condition_fn``: retry only on Unavailable (UNAVAILABLE, DEADLINE_EXCEEDED)."""
    return isinstance(state.result(raise_on_failure=False), Unavailable)


#: Retries of every task: 5 more tries after 5, 10, 20, 40 and 80 s (± 50 % jitter: at least
#: ~78 s in all), transient errors only. The window outlasts a crashed service container's
#: restart (measured 58 s on a loaded 2-vCPU machine in the compose test, docs/deploy.md);
#: 3 tries after 10/20/40 s ran out before it.
RETRIES: dict[str, Any] = {"retries": 5, "retry_delay_seconds": exponential_backoff(backoff_factor=5),
                           "retry_jitter_factor": 0.5, "retry_condition_fn": is_transient}
#: Cached across runs: results persisted (Prefect's result storage, by default
#: $PREFECT_HOME/storage, set by PREFECT_RESULTS_LOCAL_STORAGE_PATH), keyed by input content.
CACHED: dict[str, Any] = {**RETRIES, "cache_policy": ARTIFACT_INPUTS, "persist_result": True}
_MODES = ("zero_shot", "few_shot")


def _progress() -> ProgressReporter:
    """Throttled progress log lines; no bars (tasks run side by side in threads)."""
    return ProgressReporter(bars=False)


@task(**CACHED)
def import_real_data(endpoints: Endpoints, task_name: str, train_rows: int = 0, test_rows: int = 0,
                     seed: int = 0) -> RealSplits:
    """Publish a task's real train and test splits (stratified caps; 0 keeps all rows)."""
    with GenerationClient(endpoints.generation) as client:
        splits = client.import_real_data(task_name, max_train_rows=train_rows, max_test_rows=test_rows, seed=seed)
    return RealSplits(train=splits.train.uri, test=splits.test.uri)


@task(**CACHED)
def import_user_data(endpoints: Endpoints, task_ref: str, data: UserData, train_rows: int = 0,
                     test_rows: int = 0, seed: int = 0) -> RealSplits:
    """Validate a user's uploaded data against the task and publish its train/test splits."""
    logger = get_run_logger()
    with GenerationClient(endpoints.generation) as client:
        response = client.import_real_data(task_ref, upload_uri=data.upload_uri,
                                           test_upload_uri=data.test_upload_uri, columns=data.columns(),
                                           max_train_rows=train_rows, max_test_rows=test_rows, seed=seed)
    for warning in response.warnings:
        logger.warning("your data: %s", warning)
    return RealSplits(train=response.train.uri, test=response.test.uri)


@task(**CACHED)
def generate_dataset(endpoints: Endpoints, task_name: str, mode: str, options: GenerationOptions,
                     seed: int = 0, examples_uri: str = "") -> str:
    """Generate a zero-shot or few-shot synthetic set → dataset URI.

    Raises:
        InvalidInput: unknown mode, or few-shot without ``examples_uri``.
    """
    if mode not in _MODES:
        raise InvalidInput(f"generation mode must be one of {', '.join(_MODES)}, got '{mode}'")
    if mode == "few_shot" and not examples_uri:
        raise InvalidInput("few-shot generation needs examples_uri (a real dataset to draw examples from)")
    with slot("generation"), GenerationClient(endpoints.generation) as client:
        return client.generate(
            task_name, mode=mode, rows_per_label=options.rows_per_label,
            examples_uri=examples_uri if mode == "few_shot" else "",
            examples_per_request=options.examples_per_request, temperature=options.temperature,
            max_words=options.max_words, diversity_every=options.diversity_every, model=options.model,
            seed=seed, progress=_progress()).uri


@task(**CACHED)
def train_classifier(endpoints: Endpoints, task_name: str, dataset_uris: list[str], counts: list[int],
                     fractions: list[float], options: TrainingOptions, backbone: str = "",
                     seed: int = 0, per_label: list[int] | None = None) -> str:
    """Fine-tune an encoder on a mixture of datasets → model URI.

    Args:
        dataset_uris: the datasets, concatenated.
        counts: rows to draw from each (0: see ``fractions``).
        fractions: share of each to draw (0 with count 0: every row).
        per_label: rows of every label to draw from each (a balanced draw; 0: see counts);
            None: all 0.
    """
    per_label = per_label or [0] * len(dataset_uris)
    data = [client_types.TrainingData(dataset_uri=uri, count=count, fraction=fraction, count_per_label=n)
            for uri, count, fraction, n in zip(dataset_uris, counts, fractions, per_label, strict=True)]
    with slot("training"), TrainingClient(endpoints.training) as client:
        return client.train(task_name, data, backbone=backbone, epochs=options.epochs,
                            batch_size=options.batch_size, learning_rate=options.learning_rate,
                            max_length=options.max_length, seed=seed, progress=_progress()).uri


@task(**CACHED)
def export_onnx(endpoints: Endpoints, model_uri: str, quantize_int8: bool = False) -> str:
    """Export to ONNX with the parity check → onnx-model URI."""
    with slot("training"), TrainingClient(endpoints.training) as client:
        return client.export_onnx(model_uri, quantize_int8=quantize_int8, progress=_progress()).uri


@task(**RETRIES, cache_policy=NO_CACHE)
def load_model(endpoints: Endpoints, name: str, onnx_uri: str) -> str:
    """Load an onnx-model into the inference service → the name it serves under.

    Not cached: it changes the state of a running service, which a restart loses.
    """
    with InferenceClient(endpoints.inference) as client:
        return client.load_model(name, onnx_uri).name


@task(**CACHED)
def evaluate_model(endpoints: Endpoints, model_name: str, onnx_uri: str, test_uri: str,
                   condition: Condition) -> Evaluation:
    """Macro-F1 and accuracy (bootstrap intervals) of a served model on a real test split.

    ``onnx_uri`` is the artifact served as ``model_name``: it makes the cache key follow the
    model's content rather than its serving name. ``condition`` (what the model was trained
    on) is recorded in the evaluation: Table 1, the curve and the verdict group by it. The
    analysis service calls the inference service its own settings name (docs/security.md:
    never an address from the request).
    """
    with slot("analysis"), AnalysisClient(endpoints.analysis) as client:
        result = client.evaluate(model_name=model_name, dataset_uri=test_uri,
                                 condition=client_types.Condition(**condition.model_dump()), progress=_progress())
    metrics = result.metrics
    return Evaluation(uri=result.evaluation.uri, macro_f1=metrics.macro_f1, accuracy=metrics.accuracy,
                      support=metrics.support,
                      macro_f1_ci=None if metrics.macro_f1_ci is None else (metrics.macro_f1_ci.low,
                                                                            metrics.macro_f1_ci.high),
                      accuracy_ci=None if metrics.accuracy_ci is None else (metrics.accuracy_ci.low,
                                                                            metrics.accuracy_ci.high))


@task(**CACHED)
def measure_diversity(endpoints: Endpoints, dataset_uri: str, max_texts: int = 0, seed: int = 0) -> str:
    """Remote-clique and chamfer diversity of a dataset → diversity URI."""
    with slot("analysis"), AnalysisClient(endpoints.analysis) as client:
        return client.diversity(dataset_uri, max_texts=max_texts, seed=seed, progress=_progress()).diversity.uri


@task(**CACHED)
def measure_similarity(endpoints: Endpoints, dataset_uri: str, real_uri: str, max_texts: int = 0,
                       seed: int = 0) -> str:
    """Mean top-5 cosine similarity of a dataset to real data → similarity URI."""
    with slot("analysis"), AnalysisClient(endpoints.analysis) as client:
        return client.similarity(dataset_uri, real_uri, max_texts=max_texts, seed=seed,
                                 progress=_progress()).similarity.uri


@task(**CACHED)
def instance_subjectivity(endpoints: Endpoints, evaluation_uri: str) -> str:
    """Accuracy against annotator agreement γ (the paper's Figure 2) → instance-subjectivity URI.

    Returns "" when the evaluation's test split has no per-annotator labels (most corpora),
    which is known only from the data: the service then answers InvalidInput starting with
    :data:`~synthclf.analysis.subjectivity.NO_AGREEMENT`.

    Raises:
        InvalidInput: any other refusal (a malformed evaluation, one without predictions…):
            a bug or bad input, not a corpus without raters, so the run fails and says why.
    """
    with slot("analysis"), AnalysisClient(endpoints.analysis) as client:
        try:
            return client.instance_subjectivity(evaluation_uri=evaluation_uri,
                                                progress=_progress()).instance_subjectivity.uri
        except InvalidInput as exc:
            if not exc.message.startswith(NO_AGREEMENT):
                raise
            get_run_logger().info("no agreement sweep for %s: %s", evaluation_uri, exc.message)
            return ""


@task(**CACHED)
def measure_projection(endpoints: Endpoints, dataset_uris: list[str], max_texts: int = 0, seed: int = 0) -> str:
    """Figure 1's PCA projection of one task's training sets → projection URI."""
    with slot("analysis"), AnalysisClient(endpoints.analysis) as client:
        return client.projection(dataset_uris, max_texts=max_texts, seed=seed, progress=_progress()).uri


@task(**CACHED)
def decide_verdict(endpoints: Endpoints, evaluation_uris: list[str], delta: float,
                   label_cost_usd: float | None = None, synthetic_datasets: dict[str, str] | None = None,
                   seed: int = 0) -> VerdictSummary:
    """One task's learning curve, real-label equivalents and verdict → its summary."""
    with slot("analysis"), AnalysisClient(endpoints.analysis) as client:
        response = client.verdict(evaluation_uris, delta=delta, label_cost_usd=label_cost_usd or None,
                                  synthetic_datasets=synthetic_datasets, seed=seed)
    names = {0: "{source}", 1: "{k} real/label + {source}"}
    return VerdictSummary(uri=response.verdict.uri, task=response.task, decision=response.decision,
                          reason=response.reason, equivalents={
                              names[bool(e.real_per_label)].format(source=e.source, k=e.real_per_label)
                              + (f" [{e.backbone}]" if e.backbone else ""): e.text for e in response.equivalents})


@task(**CACHED)
def task_subjectivity(endpoints: Endpoints, evaluation_uris: list[str]) -> str:
    """Real → synthetic Macro-F1 gap against task subjectivity → task-subjectivity URI."""
    with AnalysisClient(endpoints.analysis) as client:
        return client.task_subjectivity(evaluation_uris).task_subjectivity.uri


@task(**CACHED)
def write_report(endpoints: Endpoints, title: str, evaluation_uris: list[str], input_uris: list[str]) -> Report:
    """Render the report from the evaluations and analysis artifacts → report URI and Markdown."""
    with slot("analysis"), AnalysisClient(endpoints.analysis) as client:
        response = client.report(title, evaluation_uris, input_uris, progress=_progress())
    return Report(uri=response.report.uri, markdown=response.markdown)
