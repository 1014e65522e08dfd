"""Prefect flows: the experiment of Li et al. (2023) as a sequence of service calls.

Flows only sequence; each ``@task`` makes one RPC through a typed client built inside the task
and passes artifact URIs, never payloads (style.md §4). Retries apply only to transient
failures (UNAVAILABLE / DEADLINE_EXCEEDED, which the clients raise as ``Unavailable``).
"""

from __future__ import annotations

from pydantic import BaseModel, Field
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact

from synthclf.clients import AnalysisClient, GenerationClient, InferenceClient, TrainingClient
from synthclf.core.catalog import get_task
from synthclf.core.errors import Unavailable
from synthclf.v1 import analysis_pb2, generation_pb2, training_pb2


class Endpoints(BaseModel):
    """host:port of each service (all the same address for the all-in-one server)."""

    generation: str
    training: str
    inference: str
    analysis: str

    @classmethod
    def all_in_one(cls, address: str) -> "Endpoints":
        """Every service at one address."""
        return cls(generation=address, training=address, inference=address, analysis=address)


class ExperimentConfig(BaseModel):
    """Sizes and hyperparameters of one experiment on one task."""

    task: str = Field("sms_spam", description="Catalog task with real data on this machine.")
    rows_per_label: int = Field(100, gt=0, description="Synthetic rows per label, per mode.")
    real_train_rows: int = Field(
        0, ge=0, description="Real training rows (stratified); 0 = as many as each synthetic set "
        "(rows_per_label × labels), for a like-for-like comparison.")
    test_rows: int = Field(0, ge=0, description="Real test rows (stratified); 0 = the whole test split.")
    examples_per_request: int = Field(3, gt=0, description="Few-shot: real examples per request.")
    epochs: int = Field(3, gt=0, description="Training epochs.")
    batch_size: int = Field(16, gt=0, description="Training batch size.")
    max_length: int = Field(64, gt=0, description="Maximum tokens per text when training.")
    seed: int = Field(0, description="Seed of splits, example draws, sampling and training.")
    temperature: float = Field(0.9, gt=0, description="LLM sampling temperature.")


class ExperimentResult(BaseModel):
    """Where the report is, and the Table-1 numbers per data source."""

    report_uri: str
    markdown: str
    metrics: dict[str, dict[str, float]]


def is_transient(task_obj, task_run, state) -> bool:
    """Prefect ``retry_condition_fn``: retry only on Unavailable (UNAVAILABLE, DEADLINE_EXCEEDED)."""
    return isinstance(state.result(raise_on_failure=False), Unavailable)


_RETRY = {"retries": 2, "retry_delay_seconds": [2, 10], "retry_jitter_factor": 0.5,
          "retry_condition_fn": is_transient}


@task(**_RETRY)
def import_real_data(endpoints: Endpoints, task_name: str, train_rows: int, test_rows: int,
                     seed: int) -> tuple[str, str]:
    """Real train and test splits of the task → (train URI, test URI)."""
    with GenerationClient(endpoints.generation) as client:
        train, test = client.import_real_data(task_name, max_train_rows=train_rows,
                                              max_test_rows=test_rows, seed=seed)
    return train.uri, test.uri


@task(**_RETRY)
def generate_dataset(endpoints: Endpoints, task_name: str, mode: str, config: ExperimentConfig,
                     examples_uri: str = "") -> str:
    """Zero-shot or few-shot synthetic dataset → dataset URI."""
    modes = {"zero_shot": generation_pb2.GENERATION_MODE_ZERO_SHOT,
             "few_shot": generation_pb2.GENERATION_MODE_FEW_SHOT}
    request = generation_pb2.GenerateRequest(
        task=task_name, mode=modes[mode], rows_per_label=config.rows_per_label,
        examples_uri=examples_uri, examples_per_request=config.examples_per_request,
        temperature=config.temperature, seed=config.seed)
    with GenerationClient(endpoints.generation) as client:
        return client.generate(request).uri


@task(**_RETRY)
def train_classifier(endpoints: Endpoints, task_name: str, dataset_uri: str,
                     config: ExperimentConfig) -> str:
    """Fine-tune the default backbone on one dataset → model URI."""
    request = training_pb2.TrainRequest(
        task=task_name, data=[training_pb2.TrainingData(uri=dataset_uri)], epochs=config.epochs,
        batch_size=config.batch_size, max_length=config.max_length, seed=config.seed)
    with TrainingClient(endpoints.training) as client:
        return client.train(request).uri


@task(**_RETRY)
def export_onnx(endpoints: Endpoints, model_uri: str) -> str:
    """Export to ONNX with a parity check → onnx-model URI."""
    with TrainingClient(endpoints.training) as client:
        return client.export_onnx(model_uri).uri


@task(**_RETRY)
def load_model(endpoints: Endpoints, name: str, onnx_uri: str) -> str:
    """Load the ONNX model into the inference service → model name."""
    with InferenceClient(endpoints.inference) as client:
        return client.load_model(name, onnx_uri).name


@task(**_RETRY)
def evaluate_model(endpoints: Endpoints, model_name: str, test_uri: str,
                   tags: dict[str, str]) -> tuple[str, dict[str, float]]:
    """Macro-F1 and accuracy on the real test split → (evaluation URI, metrics)."""
    request = analysis_pb2.EvaluateRequest(model=model_name, dataset_uri=test_uri,
                                           inference_address=endpoints.inference, tags=tags)
    with AnalysisClient(endpoints.analysis) as client:
        ref, metrics = client.evaluate(request)
    return ref.uri, {"macro_f1": metrics.macro_f1, "accuracy": metrics.accuracy,
                     "support": float(metrics.support)}


@task(**_RETRY)
def write_report(endpoints: Endpoints, title: str, evaluation_uris: list[str],
                 input_uris: list[str]) -> tuple[str, str]:
    """Render the Table-1 report → (report URI, Markdown)."""
    with AnalysisClient(endpoints.analysis) as client:
        response = client.report(title, evaluation_uris, input_uris)
    return response.report.uri, response.markdown


@flow(name="experiment", log_prints=True)
def experiment(config: ExperimentConfig, endpoints: Endpoints) -> ExperimentResult:
    """Real vs zero-shot vs few-shot training data on one task (Li et al. 2023, Table 1).

    generate zero-shot and few-shot sets → train on real, zero-shot, few-shot → export ONNX →
    load in the inference service → evaluate on the real test split → Markdown report.
    """
    logger = get_run_logger()
    name = config.task
    train_rows = config.real_train_rows or config.rows_per_label * len(get_task(name).labels)
    train_uri, test_uri = import_real_data(endpoints, name, train_rows, config.test_rows, config.seed)
    datasets = {
        "real": train_uri,
        "zero_shot": generate_dataset(endpoints, name, "zero_shot", config),
        "few_shot": generate_dataset(endpoints, name, "few_shot", config, examples_uri=train_uri),
    }
    evaluations, metrics, inputs = [], {}, []
    for source, dataset_uri in datasets.items():
        model_uri = train_classifier(endpoints, name, dataset_uri, config)
        onnx_uri = export_onnx(endpoints, model_uri)
        model_name = load_model(endpoints, f"{name}-{source}", onnx_uri)
        eval_uri, values = evaluate_model(endpoints, model_name, test_uri, {"task": name, "source": source})
        logger.info("%s / %s: Macro-F1 %.3f, accuracy %.3f", name, source, values["macro_f1"], values["accuracy"])
        evaluations.append(eval_uri)
        metrics[source] = values
        inputs += [dataset_uri, model_uri]
    report_uri, markdown = write_report(endpoints, f"synthclf experiment: {name}", evaluations,
                                        [test_uri, *inputs])
    create_markdown_artifact(markdown=markdown, key=f"experiment-{name.replace('_', '-')}",
                             description=f"Table 1 for {name}; full report with figures: "
                                         f"{report_uri}/report.html")
    return ExperimentResult(report_uri=report_uri, markdown=markdown, metrics=metrics)
