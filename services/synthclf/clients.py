"""Typed Python clients of the four services.

One style for all four (after tritonclient): keyword arguments in — named as the request's
proto fields; ``None`` leaves a field unset, so the service applies its documented default —
and typed results out (the frozen dataclasses of :mod:`synthclf.client_types`, or an
:class:`~synthclf.core.artifacts.ArtifactRef` for jobs that produce one artifact), never raw
protos. Each client wraps its stub, sets a deadline on every call, turns ``grpc.RpcError``
into the :mod:`synthclf.core.errors` hierarchy (after tritonclient's ``raise_error_grpc``),
and hands streamed progress to a callback (by default a :class:`ProgressReporter`: bars and
throttled log lines). Flows build clients inside their tasks. Importing this module needs
neither the S3 SDK nor Prefect (tests/unit/test_import_boundaries.py).
"""

from __future__ import annotations

import logging
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Self, TypeVar

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from synthclf.client_types import (
    Condition,
    DiversityResult,
    EvaluationResult,
    ImportResult,
    InstanceSubjectivityResult,
    ModelInfo,
    PredictResult,
    PublishTaskResult,
    ReportResult,
    SimilarityResult,
    TaskSubjectivityResult,
    TrainingData,
    UploadResult,
    VerdictResult,
)
from synthclf.core.artifacts import ArtifactRef
from synthclf.core.auth import open_channel
from synthclf.core.config import get_settings
from synthclf.core.errors import InvalidInput, NotFound, SynthclfError, Unavailable, error_from_status
from synthclf.core.grpc_server import MESSAGE_SIZE_OPTIONS, progress_from_proto, ref_from_proto
from synthclf.core.progress import ProgressFn
from synthclf.progress_display import ProgressReporter
from synthclf.v1 import (
    analysis_pb2,
    analysis_pb2_grpc,
    generation_pb2,
    generation_pb2_grpc,
    inference_pb2,
    inference_pb2_grpc,
    training_pb2,
    training_pb2_grpc,
)

log = logging.getLogger("synthclf.client")
M = TypeVar("M")
E = TypeVar("E")
#: Deadline of quick calls (seconds).
SHORT_DEADLINE_S = 120.0
#: Deadline of jobs: generation, training, export, evaluation (seconds).
JOB_DEADLINE_S = 6 * 3600.0


def _raise(exc: grpc.RpcError) -> SynthclfError:
    return error_from_status(exc.code(), exc.details() or "")


#: What a column of a user's file can hold (ImportRealDataRequest's ``<role>_column`` fields).
_COLUMN_ROLES = ("text", "label", "split", "agreement", "annotations")
#: Bytes per Upload message (the service accepts up to 4 MiB).
UPLOAD_CHUNK_BYTES = 1024 * 1024


@contextmanager
def _packed(path: Path) -> Iterator[tuple[Path, str]]:
    """A file as it is, or a folder packed into a temporary tar; yields (file, name to send)."""
    if not path.is_dir():
        yield path, path.name
        return
    with tempfile.TemporaryDirectory(prefix="synthclf-upload-") as tmp:
        archive = Path(tmp) / f"{path.name}.tar"
        with tarfile.open(archive, "w") as tar:
            tar.add(path, arcname=path.name)
        yield archive, archive.name


class _Client:
    """Channel, deadline and error mapping shared by the service clients."""

    service = ""

    def __init__(self, address: str | None = None, *, timeout_s: float = SHORT_DEADLINE_S):
        settings = get_settings()
        self.address = address or settings.service_address(self.service)
        self.timeout_s = timeout_s
        # TLS and the bearer token come from settings (synthclf.core.auth).
        self.channel = open_channel(self.address, settings, options=MESSAGE_SIZE_OPTIONS)

    def close(self) -> None:
        """Close the channel."""
        self.channel.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _unary(self, method: Callable[..., M], request: Any, timeout_s: float | None = None) -> M:
        try:
            return method(request, timeout=timeout_s or self.timeout_s)
        except grpc.RpcError as exc:
            raise _raise(exc) from None

    def _job(self, method: Callable[..., Iterable[Any]], request: Any, result_field: str, progress: ProgressFn | None,
             timeout_s: float = JOB_DEADLINE_S) -> Any:
        """Consume a server-streaming job; return its last response, which holds ``result_field``."""
        last: Any = None
        progress = progress or ProgressReporter()
        try:
            for response in method(request, timeout=timeout_s):
                last = response
                if response.HasField("progress"):
                    progress(progress_from_proto(response.progress))
        except grpc.RpcError as exc:
            raise _raise(exc) from None
        finally:
            if isinstance(progress, ProgressReporter):
                progress.close()
        if last is None or not last.HasField(result_field):
            raise Unavailable(f"{self.service} job at {self.address} ended without a result")
        return last


def _set(**fields: Any) -> dict[str, Any]:
    """The keyword arguments a caller gave (None: unset, the service's default applies)."""
    return {name: value for name, value in fields.items() if value is not None}


def wait_serving(address: str, service: str = "", timeout_s: float = 30.0) -> None:
    """Poll ``grpc.health.v1.Health/Check`` until SERVING.

    Args:
        address: host:port.
        service: fully-qualified service name, or "" for the whole server.
        timeout_s: give up after this many seconds.

    Raises:
        Unavailable: not SERVING in time (the last status or error is named).
    """
    deadline = time.monotonic() + timeout_s
    last = "no answer"
    with open_channel(address, get_settings()) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            try:
                status = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=2).status
                if status == health_pb2.HealthCheckResponse.SERVING:
                    return
                last = health_pb2.HealthCheckResponse.ServingStatus.Name(status)
            except grpc.RpcError as exc:
                last = f"{exc.code().name}: {exc.details()}"
            time.sleep(0.2)
    raise Unavailable(f"service at {address} not serving after {timeout_s:.0f} s ({last})")


class GenerationClient(_Client):
    """Client of ``synthclf.v1.GenerationService``."""

    service = "generation"

    #: Deadline of a generation job (seconds): day-long runs against paid APIs must fit.
    GENERATE_DEADLINE_S = 48 * 3600.0
    _MODES = {"zero_shot": generation_pb2.GENERATION_MODE_ZERO_SHOT,
              "few_shot": generation_pb2.GENERATION_MODE_FEW_SHOT}
    _STYLES = {"chat": generation_pb2.PROMPT_STYLE_CHAT, "completion": generation_pb2.PROMPT_STYLE_COMPLETION}
    _COPY_METRICS = {"rouge_l": generation_pb2.COPY_METRIC_ROUGE_L, "cosine": generation_pb2.COPY_METRIC_COSINE}

    @property
    def _stub(self) -> generation_pb2_grpc.GenerationServiceStub:
        return generation_pb2_grpc.GenerationServiceStub(self.channel)

    def import_real_data(self, task: str, *, upload_uri: str | None = None, test_upload_uri: str | None = None,
                         columns: Mapping[str, str] | None = None, test_fraction: float | None = None,
                         max_train_rows: int | None = None, max_test_rows: int | None = None,
                         seed: int | None = None) -> ImportResult:
        """Publish a task's real train/test splits: a catalog task's packaged data, or a user's
        uploaded file validated against the task.

        Args:
            task: catalog task name or task artifact URI (:meth:`publish_task`).
            upload_uri: the user's data (:meth:`upload`); None: the catalog task's own data.
            test_upload_uri: optional separate test rows (an ``upload`` artifact).
            columns: ``text``, ``label``, ``split``, ``agreement``, ``annotations`` → column
                names in the uploaded file (defaults ``text`` and ``label``).
            test_fraction: share of rows held out as the test split (default 0.2).
            max_train_rows, max_test_rows: stratified caps (0 or None: every row).
            seed: seed of the split and subsampling (default 0).

        Returns:
            The train and test dataset references; for user data also the task artifact and
            the warnings about the data.

        Raises:
            InvalidInput: the data are refused (file, row, column named; the uploads are removed).
            NotFound: unknown task. NotReady: a catalog task without real data on the server.
        """
        request = generation_pb2.ImportRealDataRequest(task=task, **_set(
            upload_uri=upload_uri, test_upload_uri=test_upload_uri, test_fraction=test_fraction,
            max_train_rows=max_train_rows, max_test_rows=max_test_rows, seed=seed))
        for role, name in (columns or {}).items():
            if role not in _COLUMN_ROLES:
                raise InvalidInput(f"unknown column role '{role}'; the roles are {', '.join(_COLUMN_ROLES)}")
            if name:
                setattr(request, f"{role}_column", name)
        return ImportResult.from_proto(self._unary(self._stub.ImportRealData, request, timeout_s=JOB_DEADLINE_S))

    def upload(self, path: str | Path, *, format: str = "",
               chunk_bytes: int = UPLOAD_CHUNK_BYTES) -> UploadResult:
        """Stream a local data file (or a ``save_to_disk`` folder, packed as tar) into the store.

        Args:
            path: a .csv/.tsv/.jsonl/.json/.parquet file, or a folder written by ``save_to_disk``.
            format: override the format the extension implies (csv, tsv, json, parquet, hf).
            chunk_bytes: bytes per message.

        Returns:
            The ``upload`` artifact, its size in bytes and sha256.

        Raises:
            InvalidInput: an unsupported format or an empty file. ResourceExhausted: over the
                service's SYNTHCLF_UPLOAD_MAX_BYTES. NotFound: no such local file.
        """
        path = Path(path)
        if not path.exists():
            raise NotFound(f"no such file or folder: {path}")
        with _packed(path) as (file, name):
            size = file.stat().st_size

            def messages() -> Iterator[generation_pb2.UploadRequest]:
                """The header, then the file in chunks."""
                yield generation_pb2.UploadRequest(header=generation_pb2.UploadHeader(
                    filename=name, size=size, format=format or ("hf" if path.is_dir() else "")))
                with open(file, "rb") as handle:
                    while chunk := handle.read(chunk_bytes):
                        yield generation_pb2.UploadRequest(chunk=chunk)

            return UploadResult.from_proto(self._unary(self._stub.Upload, messages(), timeout_s=JOB_DEADLINE_S))

    def publish_task(self, yaml: str, *, source: str | None = None) -> PublishTaskResult:
        """Validate a task file (YAML text) and publish it as a ``task`` artifact.

        Args:
            yaml: the task file's text, at most 256 KiB.
            source: the file's name, for messages (default "task file").

        Returns:
            The ``task`` reference, the fields synthclf drafted and the prompts as sent.

        Raises:
            InvalidInput: the file is not a valid task (field and line named).
        """
        request = generation_pb2.PublishTaskRequest(yaml=yaml, **_set(source=source))
        return PublishTaskResult.from_proto(self._unary(self._stub.PublishTask, request))

    def download(self, dataset_uri: str, out: str | Path) -> Path:
        """Write a dataset artifact's ``data.jsonl`` (verified by the service) to ``out``; returns ``out``.

        Raises:
            NotFound: no such dataset. IntegrityError: its files do not match the manifest
                (``out`` is removed).
        """
        out = Path(out)
        try:
            with open(out, "wb") as handle:
                for message in self._stub.Download(generation_pb2.DownloadRequest(dataset_uri=dataset_uri),
                                                   timeout=JOB_DEADLINE_S):
                    handle.write(message.chunk)
        except grpc.RpcError as exc:
            out.unlink(missing_ok=True)
            raise _raise(exc) from None
        return out

    def generate(self, task: str, *, mode: str, rows_per_label: int,
                 examples_uri: str | None = None, examples_per_request: int | None = None,
                 prompt_style: str | None = None, model: str | None = None,
                 temperature: float | None = None, max_words: int | None = None,
                 diversity_every: int | None = None, seed: int | None = None,
                 max_requests_per_label: int | None = None, concurrency: int | None = None,
                 max_retries: int | None = None, max_tokens_total: int | None = None,
                 max_cost_usd: float | None = None, price_prompt_per_mtok: float | None = None,
                 price_completion_per_mtok: float | None = None,
                 copy_metric: str | None = None, copy_threshold: float | None = None,
                 near_duplicate_threshold: float | None = None, disable_structured_output: bool | None = None,
                 min_words: int | None = None, max_consecutive_failures: int | None = None,
                 progress: ProgressFn | None = None, deadline_s: float = GENERATE_DEADLINE_S) -> ArtifactRef:
        """Run a generation job; returns the dataset reference.

        The job is idempotent and resumable: if this call fails (deadline, dropped connection,
        ``Unavailable`` after too many LLM failures), calling it again with the same arguments
        returns the published dataset or resumes from the service's response cache, re-sending
        no LLM request that had succeeded.

        Args:
            task: catalog task name or task artifact URI.
            mode: ``zero_shot`` or ``few_shot`` (then ``examples_uri`` names the real examples).
            prompt_style: ``chat`` or ``completion``; copy_metric: ``rouge_l`` or ``cosine``.
            rows_per_label: accepted rows wanted per label (> 0).
            examples_uri, …, max_consecutive_failures: the fields of ``GenerateRequest``
                (generation.proto documents each and its default); None leaves a field to its
                default, and ``temperature=0`` asks for greedy decoding.
            progress: receives a :class:`~synthclf.core.progress.Progress` per committed LLM
                request; ``metrics`` holds requested, accepted, rejected, rejected_<reason>,
                failed, tokens, prompt_tokens, completion_tokens, cost_usd, rows_per_min,
                tokens_per_s, acceptance_rate, cache_hits. Default: a progress bar.
            deadline_s: gRPC deadline of the whole stream, seconds (default 48 h).

        Returns:
            The dataset reference; its manifest holds the counts, tokens, cost and prompts.

        Raises:
            InvalidInput: an unknown ``mode``, ``prompt_style`` or ``copy_metric``, or a field the
                service refuses. NotFound, Unavailable, ResourceExhausted: mapped from the status.
        """
        request = generation_pb2.GenerateRequest(
            task=task, rows_per_label=rows_per_label, mode=_choice("mode", mode, self._MODES),
            prompt_style=_choice("prompt_style", prompt_style, self._STYLES),
            copy_metric=_choice("copy_metric", copy_metric, self._COPY_METRICS), **_set(
                examples_uri=examples_uri, examples_per_request=examples_per_request, model=model,
                temperature=temperature, max_words=max_words, diversity_every=diversity_every, seed=seed,
                max_requests_per_label=max_requests_per_label, concurrency=concurrency, max_retries=max_retries,
                max_tokens_total=max_tokens_total, max_cost_usd=max_cost_usd,
                price_prompt_per_mtok=price_prompt_per_mtok, price_completion_per_mtok=price_completion_per_mtok,
                copy_threshold=copy_threshold, near_duplicate_threshold=near_duplicate_threshold,
                disable_structured_output=disable_structured_output, min_words=min_words,
                max_consecutive_failures=max_consecutive_failures))
        last = self._job(self._stub.Generate, request, "dataset", progress, timeout_s=deadline_s)
        return ref_from_proto(last.dataset)


def _choice(field: str, value: str | None, numbers: Mapping[str, E]) -> E | None:
    """The enum value of ``value`` (None, unset, for None).

    Raises:
        InvalidInput: an unknown value (the choices are named).
    """
    if value is None:
        return None
    if value not in numbers:
        raise InvalidInput(f"{field} must be one of {', '.join(numbers)}, got {value!r}")
    return numbers[value]


class TrainingClient(_Client):
    """Client of ``synthclf.v1.TrainingService``."""

    service = "training"

    @property
    def _stub(self) -> training_pb2_grpc.TrainingServiceStub:
        return training_pb2_grpc.TrainingServiceStub(self.channel)

    def train(self, task: str, data: Sequence[TrainingData], *, backbone: str | None = None,
              epochs: int | None = None, batch_size: int | None = None, learning_rate: float | None = None,
              max_length: int | None = None, seed: int | None = None, validation_fraction: float | None = None,
              validation_uri: str | None = None, warmup_ratio: float | None = None,
              weight_decay: float | None = None, early_stopping_patience: int | None = None,
              progress: ProgressFn | None = None) -> ArtifactRef:
        """Run a training job; returns the model reference (the same one for the same arguments).

        Args:
            task: catalog task name or task artifact URI (the label set and logit order).
            data: the training datasets, each drawn as asked and concatenated.
            backbone, …, early_stopping_patience: the fields of ``TrainRequest`` (training.proto
                documents each and its default); None leaves a field to its default, and 0 is
                a value for the optional ones (``validation_fraction=0`` disables validation).
            progress: receives progress events (epoch, step, loss, eta_s, validation metrics).

        Raises:
            InvalidInput: bad data or hyperparameters (the message names them).
            NotFound: unknown task or dataset.
        """
        request = training_pb2.TrainRequest(task=task, data=[d.to_proto() for d in data], **_set(
            backbone=backbone, epochs=epochs, batch_size=batch_size, learning_rate=learning_rate,
            max_length=max_length, seed=seed, validation_fraction=validation_fraction,
            validation_uri=validation_uri, warmup_ratio=warmup_ratio, weight_decay=weight_decay,
            early_stopping_patience=early_stopping_patience))
        return ref_from_proto(self._job(self._stub.Train, request, "model", progress).model)

    def export_onnx(self, model_uri: str, *, opset: int | None = None, parity_tolerance: float | None = None,
                    quantize_int8: bool | None = None, progress: ProgressFn | None = None) -> ArtifactRef:
        """Export a model to ONNX (parity-checked); returns the onnx-model reference.

        Args:
            model_uri: model artifact from :meth:`train`.
            opset: ONNX opset version in [14, 20] (default 17).
            parity_tolerance: largest accepted max |Δlogit| ONNX vs PyTorch (default 1e-4).
            quantize_int8: also write ``model.int8.onnx`` with its measured accuracy and
                Macro-F1 change on the model's validation texts (manifest stats).
            progress: receives the export's progress events.

        Raises:
            IntegrityError: the parity check failed. NotFound: no model at ``model_uri``.
        """
        request = training_pb2.ExportOnnxRequest(model_uri=model_uri, **_set(
            opset=opset, parity_tolerance=parity_tolerance, quantize_int8=quantize_int8))
        return ref_from_proto(self._job(self._stub.ExportOnnx, request, "onnx_model", progress).onnx_model)


class InferenceClient(_Client):
    """Client of ``synthclf.v1.InferenceService``.

    Example:
        >>> with InferenceClient("127.0.0.1:50051") as client:
        ...     result = client.predict("sms", ["win a free phone now", "see you at lunch"])
        ...     [p.label for p in result.predictions]
        ['spam', 'ham']
    """

    service = "inference"

    @property
    def _stub(self) -> inference_pb2_grpc.InferenceServiceStub:
        return inference_pb2_grpc.InferenceServiceStub(self.channel)

    def predict(self, model_name: str, texts: Iterable[str], *, model_version: int = 0,
                timeout_s: float | None = None) -> PredictResult:
        """Classify texts; one prediction (label, probabilities) per text, same order.

        Args:
            model_name: model name.
            texts: texts to classify (server limits: 1024 texts, 20 000 characters each by
                default).
            model_version: model version; 0 = the newest live one.
            timeout_s: call deadline, seconds (default: the client's).

        Returns:
            ``predictions`` (``label``, ``probabilities`` in ``labels`` order), ``labels`` and
            the ``model_version`` that served them.

        Raises:
            InvalidInput: a limit was exceeded (the message names it). NotFound: model or
            version not loaded. ResourceExhausted: the model's queue is full (retry later).
            DeadlineExceeded: the deadline passed while queued.
        """
        request = inference_pb2.PredictRequest(model_name=model_name, texts=list(texts), model_version=model_version)
        return PredictResult.from_proto(self._unary(self._stub.Predict, request, timeout_s))

    def load_model(self, model_name: str, model_uri: str) -> ModelInfo:
        """Load an onnx-model artifact as a new version of ``model_name``; returns its metadata.

        Raises:
            NotFound: no artifact at ``model_uri``. IntegrityError: corrupt or mismatched artifact
            (versions already live keep serving). InvalidInput: not an onnx-model.
        """
        request = inference_pb2.LoadModelRequest(model_name=model_name, model_uri=model_uri)
        return ModelInfo.from_proto(self._unary(self._stub.LoadModel, request, JOB_DEADLINE_S).model)

    def unload_model(self, model_name: str, *, model_version: int = 0) -> list[ModelInfo]:
        """Unload one version (0: every version) of ``model_name``; returns what was unloaded.

        Raises:
            NotFound: nothing matches.
        """
        request = inference_pb2.UnloadModelRequest(model_name=model_name, model_version=model_version)
        return [ModelInfo.from_proto(m) for m in self._unary(self._stub.UnloadModel, request).unloaded]

    def list_models(self) -> list[ModelInfo]:
        """Every live model version, by name then version."""
        response = self._unary(self._stub.ListModels, inference_pb2.ListModelsRequest())
        return [ModelInfo.from_proto(m) for m in response.models]

    def model_metadata(self, model_name: str, *, model_version: int = 0) -> ModelInfo:
        """Labels, execution provider, max_length, artifact and load time of a version
        (0: newest).

        Raises:
            NotFound: not loaded.
        """
        request = inference_pb2.GetModelMetadataRequest(model_name=model_name, model_version=model_version)
        return ModelInfo.from_proto(self._unary(self._stub.GetModelMetadata, request).model)


class AnalysisClient(_Client):
    """Client of ``synthclf.v1.AnalysisService``."""

    service = "analysis"

    @property
    def _stub(self) -> analysis_pb2_grpc.AnalysisServiceStub:
        return analysis_pb2_grpc.AnalysisServiceStub(self.channel)

    def evaluate(self, *, dataset_uri: str, condition: Condition | None = None, model_name: str | None = None,
                 model_uri: str | None = None, in_process: bool | None = None,
                 inference_address: str | None = None, batch_size: int | None = None,
                 tags: Mapping[str, str] | None = None, n_bootstrap: int | None = None, seed: int | None = None,
                 confidence: float | None = None, progress: ProgressFn | None = None) -> EvaluationResult:
        """Evaluate a classifier on a labelled dataset: served (``model_name``) or in-process
        (``in_process=True`` with ``model_uri``).

        Args:
            dataset_uri: labelled dataset artifact, normally a real test split.
            condition: what the model was trained on (task and source required by the service).
            model_name, …, confidence: the fields of ``EvaluateRequest`` (analysis.proto
                documents each and its default); None leaves a field to its default, and
                ``n_bootstrap=0`` computes no intervals.
            progress: receives the evaluation's progress events.

        Returns:
            The evaluation reference and its metrics.

        Raises:
            InvalidInput: a missing model, condition or bad field (named). NotFound: an
                artifact or a served model that does not exist.
        """
        request = analysis_pb2.EvaluateRequest(dataset_uri=dataset_uri, tags=dict(tags or {}), **_set(
            condition=None if condition is None else condition.to_proto(), model_name=model_name,
            model_uri=model_uri, in_process=in_process, inference_address=inference_address,
            batch_size=batch_size, n_bootstrap=n_bootstrap, seed=seed, confidence=confidence))
        return EvaluationResult.from_proto(self._job(self._stub.Evaluate, request, "evaluation", progress))

    def diversity(self, dataset_uri: str, *, max_texts: int | None = None, seed: int | None = None,
                  progress: ProgressFn | None = None) -> DiversityResult:
        """Remote-clique and chamfer diversity of a dataset, overall and per label
        (``max_texts`` default 1000)."""
        request = analysis_pb2.DiversityRequest(dataset_uri=dataset_uri, **_set(max_texts=max_texts, seed=seed))
        return DiversityResult.from_proto(self._job(self._stub.Diversity, request, "diversity", progress))

    def similarity(self, synthetic_uri: str, real_uri: str, *, k: int | None = None, max_texts: int | None = None,
                   seed: int | None = None, progress: ProgressFn | None = None) -> SimilarityResult:
        """Mean top-k cosine similarity of a dataset to real data (``k`` default 5,
        ``max_texts`` default 1000)."""
        request = analysis_pb2.SimilarityRequest(synthetic_uri=synthetic_uri, real_uri=real_uri, **_set(
            k=k, max_texts=max_texts, seed=seed))
        return SimilarityResult.from_proto(self._job(self._stub.Similarity, request, "similarity", progress))

    def instance_subjectivity(self, *, evaluation_uri: str | None = None, model_name: str | None = None,
                              model_uri: str | None = None, in_process: bool | None = None,
                              dataset_uri: str | None = None, inference_address: str | None = None,
                              gammas: Sequence[float] | None = None, min_instances: int | None = None,
                              tags: Mapping[str, str] | None = None, condition: Condition | None = None,
                              progress: ProgressFn | None = None) -> InstanceSubjectivityResult:
        """Accuracy against annotator-agreement threshold, with its fit (the paper's Figure 2):
        from an existing ``evaluation_uri``, or by evaluating a model as :meth:`evaluate` does.

        Raises:
            InvalidInput: the dataset has no per-instance agreement, or a bad field (named).
        """
        request = analysis_pb2.InstanceSubjectivityRequest(
            gammas=list(gammas or []), tags=dict(tags or {}), **_set(
                evaluation_uri=evaluation_uri, model_name=model_name, model_uri=model_uri, in_process=in_process,
                dataset_uri=dataset_uri, inference_address=inference_address, min_instances=min_instances,
                condition=None if condition is None else condition.to_proto()))
        last = self._job(self._stub.InstanceSubjectivity, request, "instance_subjectivity", progress)
        return InstanceSubjectivityResult.from_proto(last)

    def task_subjectivity(self, evaluation_uris: Sequence[str]) -> TaskSubjectivityResult:
        """Real → synthetic gap against task subjectivity, Spearman ρ per source."""
        request = analysis_pb2.TaskSubjectivityRequest(evaluation_uris=list(evaluation_uris))
        return TaskSubjectivityResult.from_proto(self._unary(self._stub.TaskSubjectivity, request))

    def projection(self, dataset_uris: Sequence[str], *, max_texts: int | None = None, points: int | None = None,
                   seed: int | None = None, progress: ProgressFn | None = None) -> ArtifactRef:
        """Figure 1's PCA projection of one task's datasets → the projection reference."""
        request = analysis_pb2.ProjectionRequest(dataset_uris=list(dataset_uris), **_set(
            max_texts=max_texts, points=points, seed=seed))
        return ref_from_proto(self._job(self._stub.Projection, request, "projection", progress).projection)

    def verdict(self, evaluation_uris: Sequence[str], *, delta: float | None = None,
                label_cost_usd: float | None = None, synthetic_datasets: Mapping[str, str] | None = None,
                seed: int | None = None) -> VerdictResult:
        """One task's learning curve, real-label equivalents and verdict (``delta`` default
        0.02, and 0 is a value; ``label_cost_usd`` None: no cost comparison)."""
        request = analysis_pb2.VerdictRequest(
            evaluation_uris=list(evaluation_uris), synthetic_datasets=dict(synthetic_datasets or {}),
            **_set(delta=delta, label_cost_usd=label_cost_usd, seed=seed))
        return VerdictResult.from_proto(self._unary(self._stub.Verdict, request))

    def report(self, title: str, evaluation_uris: Sequence[str], input_uris: Sequence[str] | None = None, *,
               price_prompt_per_mtok: float | None = None, price_completion_per_mtok: float | None = None,
               progress: ProgressFn | None = None) -> ReportResult:
        """Render the report (Markdown, HTML, figures) from evaluations and the analysis artifacts
        given in ``input_uris`` (datasets and models behind the evaluations are found through
        lineage; nothing is computed). Prices: USD per 1M tokens for the cost column; with
        neither given, the cost the generation service recorded is shown."""
        request = analysis_pb2.ReportRequest(title=title, evaluation_uris=list(evaluation_uris),
                                             input_uris=list(input_uris or []), **_set(
                                                 price_prompt_per_mtok=price_prompt_per_mtok,
                                                 price_completion_per_mtok=price_completion_per_mtok))
        return ReportResult.from_proto(self._job(self._stub.Report, request, "report", progress))

def batched(items: list[M], size: int) -> Iterator[list[M]]:
    """Consecutive slices of ``items`` of at most ``size`` elements."""
    for start in range(0, len(items), size):
        yield items[start:start + size]
