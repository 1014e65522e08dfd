"""Typed Python clients of the four services.

Each client wraps its stub, sets a deadline on every call, turns ``grpc.RpcError`` into the
:mod:`synthclf.core.errors` hierarchy (after tritonclient's ``raise_error_grpc``), and hands
streamed progress to a callback (by default a :class:`ProgressReporter`: bars and
throttled log lines). Flows build clients inside their tasks.
"""

from __future__ import annotations

import logging
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from synthclf.core.artifacts import ArtifactRef
from synthclf.core.auth import open_channel
from synthclf.core.config import get_settings
from synthclf.core.errors import NotFound, SynthclfError, Unavailable, error_from_status
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
#: Deadline of quick calls (seconds).
SHORT_DEADLINE_S = 120.0
#: Deadline of jobs: generation, training, export, evaluation (seconds).
JOB_DEADLINE_S = 6 * 3600.0


def _raise(exc: grpc.RpcError) -> SynthclfError:
    return error_from_status(exc.code(), exc.details())


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

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _unary(self, method: Callable[..., M], request, timeout_s: float | None = None) -> M:
        try:
            return method(request, timeout=timeout_s or self.timeout_s)
        except grpc.RpcError as exc:
            raise _raise(exc) from None

    def _job(self, method, request, result_field: str, progress: ProgressFn | None,
             timeout_s: float = JOB_DEADLINE_S) -> tuple[ArtifactRef, object]:
        """Consume a server-streaming job; return (artifact ref, last response)."""
        last = None
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
        return ref_from_proto(getattr(last, result_field)), last

    def wait_ready(self, timeout_s: float = 30.0) -> None:
        """Block until grpc.health.v1 reports SERVING for this service.

        Raises:
            Unavailable: not serving within ``timeout_s``.
        """
        wait_serving(self.address, timeout_s=timeout_s)


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

    def import_real_data(self, task: str, *, test_fraction: float = 0.2, max_train_rows: int = 0,
                         max_test_rows: int = 0, seed: int = 0) -> tuple[ArtifactRef, ArtifactRef]:
        """Publish a task's real train/test splits; returns (train, test) references."""
        stub = generation_pb2_grpc.GenerationServiceStub(self.channel)
        response = self._unary(stub.ImportRealData, generation_pb2.ImportRealDataRequest(
            task=task, test_fraction=test_fraction, max_train_rows=max_train_rows,
            max_test_rows=max_test_rows, seed=seed), timeout_s=JOB_DEADLINE_S)
        return ref_from_proto(response.train), ref_from_proto(response.test)

    def import_user_data(self, task: str, upload_uri: str, *, test_upload_uri: str = "",
                         columns: dict[str, str] | None = None, test_fraction: float = 0.2,
                         max_train_rows: int = 0, max_test_rows: int = 0,
                         seed: int = 0) -> generation_pb2.ImportRealDataResponse:
        """Validate an uploaded file against a task and publish its train/test splits.

        Args:
            task: catalog task name or task artifact URI (:meth:`publish_task`).
            upload_uri: the data (:meth:`upload`); ``test_upload_uri`` optional test rows.
            columns: ``text``, ``label``, ``split``, ``agreement``, ``annotations`` → column
                names in the file (defaults ``text`` and ``label``).
            test_fraction, max_train_rows, max_test_rows, seed: the split and caps.

        Returns:
            The response: ``train``, ``test``, ``task`` references and ``warnings``.

        Raises:
            InvalidInput: the data are refused (file, row, column named; the uploads are removed).
        """
        columns = columns or {}
        stub = generation_pb2_grpc.GenerationServiceStub(self.channel)
        return self._unary(stub.ImportRealData, generation_pb2.ImportRealDataRequest(
            task=task, upload_uri=upload_uri, test_upload_uri=test_upload_uri, test_fraction=test_fraction,
            max_train_rows=max_train_rows, max_test_rows=max_test_rows, seed=seed,
            **{f"{key}_column": value for key, value in columns.items() if value}), timeout_s=JOB_DEADLINE_S)

    def upload(self, path: str | Path, *, format: str = "",
               chunk_bytes: int = UPLOAD_CHUNK_BYTES) -> generation_pb2.UploadResponse:
        """Stream a local data file (or a ``save_to_disk`` folder, packed as tar) into the store.

        Args:
            path: a .csv/.tsv/.jsonl/.json/.parquet file, or a folder written by ``save_to_disk``.
            format: override the format the extension implies (csv, tsv, json, parquet, hf).
            chunk_bytes: bytes per message.

        Returns:
            The response: the ``upload`` artifact, its size and sha256.

        Raises:
            InvalidInput: an unsupported format or an empty file. ResourceExhausted: over the
                service's SYNTHCLF_UPLOAD_MAX_BYTES. NotFound: no such local file.
        """
        path = Path(path)
        if not path.exists():
            raise NotFound(f"no such file or folder: {path}")
        stub = generation_pb2_grpc.GenerationServiceStub(self.channel)
        with _packed(path) as (file, name):
            size = file.stat().st_size

            def messages():
                """The header, then the file in chunks."""
                yield generation_pb2.UploadRequest(header=generation_pb2.UploadHeader(
                    filename=name, size=size, format=format or ("hf" if path.is_dir() else "")))
                with open(file, "rb") as handle:
                    while chunk := handle.read(chunk_bytes):
                        yield generation_pb2.UploadRequest(chunk=chunk)

            return self._unary(stub.Upload, messages(), timeout_s=JOB_DEADLINE_S)

    def publish_task(self, text: str, source: str = "task file") -> generation_pb2.PublishTaskResponse:
        """Validate a task file (YAML) and publish it as a ``task`` artifact.

        Returns:
            The response: the ``task`` reference, the ``drafted`` fields and the ``prompts``.

        Raises:
            InvalidInput: the file is not a valid task (field and line named).
        """
        stub = generation_pb2_grpc.GenerationServiceStub(self.channel)
        return self._unary(stub.PublishTask, generation_pb2.PublishTaskRequest(yaml=text, source=source))

    def download(self, uri: str, out: str | Path) -> Path:
        """Write a dataset artifact's ``data.jsonl`` (verified by the service) to ``out``."""
        stub = generation_pb2_grpc.GenerationServiceStub(self.channel)
        out = Path(out)
        try:
            with open(out, "wb") as handle:
                for message in stub.Download(generation_pb2.DownloadRequest(uri=uri), timeout=JOB_DEADLINE_S):
                    handle.write(message.chunk)
        except grpc.RpcError as exc:
            out.unlink(missing_ok=True)
            raise _raise(exc) from None
        return out

    #: Deadline of a generation job (seconds): day-long runs against paid APIs must fit.
    GENERATE_DEADLINE_S = 48 * 3600.0

    def generate(self, request: generation_pb2.GenerateRequest, progress: ProgressFn | None = None,
                 *, deadline_s: float = GENERATE_DEADLINE_S) -> ArtifactRef:
        """Run a generation job; returns the dataset reference.

        The job is idempotent and resumable: if this call fails (deadline, dropped connection,
        ``Unavailable`` after too many LLM failures), calling it again with the same request
        returns the published dataset or resumes from the service's response cache, re-sending
        no LLM request that had succeeded.

        Args:
            request: the job (``synthclf.v1.GenerateRequest``; zero fields take their defaults).
            progress: receives a :class:`~synthclf.core.progress.Progress` per committed LLM
                request; ``metrics`` holds requested, accepted, rejected, rejected_<reason>,
                failed, tokens, prompt_tokens, completion_tokens, cost_usd, rows_per_min,
                tokens_per_s, acceptance_rate, cache_hits. Default: a progress bar.
            deadline_s: gRPC deadline of the whole stream, seconds (default 48 h).

        Returns:
            The dataset reference; its manifest holds the counts, tokens, cost and prompts.

        Raises:
            InvalidInput, NotFound, Unavailable, ResourceExhausted: mapped from the status.
        """
        stub = generation_pb2_grpc.GenerationServiceStub(self.channel)
        return self._job(stub.Generate, request, "dataset", progress, timeout_s=deadline_s)[0]


class TrainingClient(_Client):
    """Client of ``synthclf.v1.TrainingService``."""

    service = "training"

    def train(self, request: training_pb2.TrainRequest, progress: ProgressFn | None = None) -> ArtifactRef:
        """Run a training job; returns the model reference.

        Args:
            request: task, datasets (count or fraction each), hyperparameters and
                optionally a held-out ``validation_uri`` (see training.proto for defaults).
            progress: receives progress events (epoch, step, loss, eta_s, validation metrics).

        Raises:
            InvalidInput: bad data or hyperparameters (the message names them).
            NotFound: unknown task or dataset.
        """
        stub = training_pb2_grpc.TrainingServiceStub(self.channel)
        return self._job(stub.Train, request, "model", progress)[0]

    def export_onnx(self, model_uri: str, *, opset: int = 17, parity_tolerance: float = 1e-4,
                    quantize_int8: bool = False,
                    progress: ProgressFn | None = None) -> ArtifactRef:
        """Export a model to ONNX (parity-checked); returns the onnx-model reference.

        Args:
            model_uri: model artifact from :meth:`train`.
            opset: ONNX opset version.
            parity_tolerance: largest accepted max |Δlogit| ONNX vs PyTorch.
            quantize_int8: also write ``model.int8.onnx`` with its measured accuracy and
                Macro-F1 change on the model's validation texts (manifest stats).
            progress: receives the export's progress events.

        Raises:
            IntegrityError: the parity check failed. NotFound: no model at ``model_uri``.
        """
        stub = training_pb2_grpc.TrainingServiceStub(self.channel)
        request = training_pb2.ExportOnnxRequest(model_uri=model_uri, opset=opset,
                                                 parity_tolerance=parity_tolerance,
                                                 quantize_int8=quantize_int8)
        return self._job(stub.ExportOnnx, request, "onnx_model", progress)[0]


class InferenceClient(_Client):
    """Client of ``synthclf.v1.InferenceService``.

    Example:
        >>> with InferenceClient("127.0.0.1:50051") as client:
        ...     response = client.predict("sms", ["win a free phone now", "see you at lunch"])
        ...     [p.label for p in response.predictions]
        ['spam', 'ham']
    """

    service = "inference"

    @property
    def _stub(self) -> inference_pb2_grpc.InferenceServiceStub:
        return inference_pb2_grpc.InferenceServiceStub(self.channel)

    def predict(self, model: str, texts: Iterable[str], version: int = 0, *,
                timeout_s: float | None = None) -> inference_pb2.PredictResponse:
        """Classify texts; one prediction (label, probabilities) per text, same order.

        Args:
            model: model name.
            texts: texts to classify (server limits: 1024 texts, 20 000 characters each by
                default).
            version: model version; 0 = the newest live one.
            timeout_s: call deadline, seconds (default: the client's).

        Returns:
            ``predictions`` (``label``, ``probabilities`` in ``labels`` order), ``labels`` and
            the ``model_version`` that served them.

        Raises:
            InvalidInput: a limit was exceeded (the message names it). NotFound: model or
            version not loaded. ResourceExhausted: the model's queue is full (retry later).
            DeadlineExceeded: the deadline passed while queued.
        """
        request = inference_pb2.PredictRequest(model=model, texts=list(texts), version=version)
        return self._unary(self._stub.Predict, request, timeout_s)

    def load_model(self, name: str, uri: str) -> inference_pb2.ModelInfo:
        """Load an onnx-model artifact as a new version of ``name``; returns its metadata.

        Raises:
            NotFound: no artifact at ``uri``. IntegrityError: corrupt or mismatched artifact
            (versions already live keep serving). InvalidInput: not an onnx-model.
        """
        request = inference_pb2.LoadModelRequest(name=name, uri=uri)
        return self._unary(self._stub.LoadModel, request, JOB_DEADLINE_S).model

    def unload_model(self, name: str, version: int = 0) -> list[inference_pb2.ModelInfo]:
        """Unload one version (0: every version) of ``name``; returns what was unloaded.

        Raises:
            NotFound: nothing matches.
        """
        request = inference_pb2.UnloadModelRequest(name=name, version=version)
        return list(self._unary(self._stub.UnloadModel, request).unloaded)

    def list_models(self) -> list[inference_pb2.ModelInfo]:
        """Every live model version, by name then version."""
        return list(self._unary(self._stub.ListModels, inference_pb2.ListModelsRequest()).models)

    def model_metadata(self, name: str, version: int = 0) -> inference_pb2.ModelInfo:
        """Labels, execution provider, max_length, artifact and load time of a version
        (0: newest).

        Raises:
            NotFound: not loaded.
        """
        request = inference_pb2.GetModelMetadataRequest(name=name, version=version)
        return self._unary(self._stub.GetModelMetadata, request).model


class AnalysisClient(_Client):
    """Client of ``synthclf.v1.AnalysisService``."""

    service = "analysis"

    def evaluate(self, request: analysis_pb2.EvaluateRequest,
                 progress: ProgressFn | None = None) -> tuple[ArtifactRef, analysis_pb2.Metrics]:
        """Evaluate a served model on a dataset; returns (evaluation ref, metrics)."""
        stub = analysis_pb2_grpc.AnalysisServiceStub(self.channel)
        ref, last = self._job(stub.Evaluate, request, "evaluation", progress)
        return ref, last.metrics

    def diversity(self, dataset_uri: str, *, max_texts: int = 0, seed: int = 0,
                  progress: ProgressFn | None = None) -> analysis_pb2.DiversityResponse:
        """Remote-clique and chamfer diversity of a dataset; returns the last response
        (``diversity`` reference, ``overall`` and ``per_label`` scores). ``max_texts`` 0: 1000."""
        stub = analysis_pb2_grpc.AnalysisServiceStub(self.channel)
        request = analysis_pb2.DiversityRequest(dataset_uri=dataset_uri, max_texts=max_texts, seed=seed)
        return self._job(stub.Diversity, request, "diversity", progress)[1]

    def similarity(self, synthetic_uri: str, real_uri: str, *, k: int = 0, max_texts: int = 0, seed: int = 0,
                   progress: ProgressFn | None = None) -> analysis_pb2.SimilarityResponse:
        """Mean top-k cosine similarity of a dataset to real data; returns the last response
        (``similarity`` reference, ``mean_top_k``…). ``k`` 0: 5; ``max_texts`` 0: 1000."""
        stub = analysis_pb2_grpc.AnalysisServiceStub(self.channel)
        request = analysis_pb2.SimilarityRequest(synthetic_uri=synthetic_uri, real_uri=real_uri, k=k,
                                                 max_texts=max_texts, seed=seed)
        return self._job(stub.Similarity, request, "similarity", progress)[1]

    def instance_subjectivity(self, request: analysis_pb2.InstanceSubjectivityRequest,
                              progress: ProgressFn | None = None) -> analysis_pb2.InstanceSubjectivityResponse:
        """Accuracy vs agreement threshold sweep with fit; returns the last response."""
        stub = analysis_pb2_grpc.AnalysisServiceStub(self.channel)
        return self._job(stub.InstanceSubjectivity, request, "subjectivity", progress)[1]

    def task_subjectivity(self, evaluation_uris: list[str]) -> analysis_pb2.TaskSubjectivityResponse:
        """Real → synthetic gap against task subjectivity, Spearman ρ per source."""
        stub = analysis_pb2_grpc.AnalysisServiceStub(self.channel)
        return self._unary(stub.TaskSubjectivity,
                           analysis_pb2.TaskSubjectivityRequest(evaluation_uris=evaluation_uris))

    def projection(self, dataset_uris: list[str], *, max_texts: int = 0, points: int = 0, seed: int = 0,
                   progress: ProgressFn | None = None) -> ArtifactRef:
        """Figure 1's PCA projection of one task's datasets → the projection reference."""
        stub = analysis_pb2_grpc.AnalysisServiceStub(self.channel)
        request = analysis_pb2.ProjectionRequest(dataset_uris=dataset_uris, max_texts=max_texts, points=points,
                                                 seed=seed)
        return self._job(stub.Projection, request, "projection", progress)[0]

    def verdict(self, evaluation_uris: list[str], *, delta: float = 0.0, label_cost_usd: float = 0.0,
                synthetic_datasets: dict[str, str] | None = None, seed: int = 0) -> analysis_pb2.VerdictResponse:
        """One task's learning curve, real-label equivalents and verdict (``delta`` 0: 0.02;
        ``label_cost_usd`` 0: no cost comparison)."""
        stub = analysis_pb2_grpc.AnalysisServiceStub(self.channel)
        return self._unary(stub.Verdict, analysis_pb2.VerdictRequest(
            evaluation_uris=evaluation_uris, delta=delta, label_cost_usd=label_cost_usd,
            synthetic_datasets=synthetic_datasets or {}, seed=seed))

    def report(self, title: str, evaluation_uris: list[str], input_uris: list[str] | None = None, *,
               usd_per_million_prompt_tokens: float = 0.0, usd_per_million_completion_tokens: float = 0.0,
               progress: ProgressFn | None = None) -> analysis_pb2.ReportResponse:
        """Render the report (Markdown, HTML, figures) from evaluations and the analysis artifacts
        given in ``input_uris`` (datasets and models behind the evaluations are found through
        lineage; nothing is computed). Returns the last response: ``report``, ``markdown``, ``files``."""
        stub = analysis_pb2_grpc.AnalysisServiceStub(self.channel)
        request = analysis_pb2.ReportRequest(
            title=title, evaluation_uris=evaluation_uris, input_uris=input_uris or [],
            usd_per_million_prompt_tokens=usd_per_million_prompt_tokens,
            usd_per_million_completion_tokens=usd_per_million_completion_tokens)
        return self._job(stub.Report, request, "report", progress)[1]


def batched(items: list[M], size: int) -> Iterator[list[M]]:
    """Consecutive slices of ``items`` of at most ``size`` elements."""
    for start in range(0, len(items), size):
        yield items[start:start + size]
