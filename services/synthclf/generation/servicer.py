"""Thin gRPC servicer of ``synthclf.v1.GenerationService`` over :class:`GenerationCore`."""

from __future__ import annotations

from synthclf.core.artifacts import ArtifactRef, split_uri
from synthclf.core.errors import InvalidInput, validated
from synthclf.core.grpc_server import ref_to_proto, stream_job
from synthclf.generation.importer import ColumnMapping, ImportOptions
from synthclf.generation.prompts import PromptStyle
from synthclf.generation.service import GenerationCore
from synthclf.generation.spec import CopyMetric, GenerationMode, GenerationSpec
from synthclf.generation.uploads import UploadHeader
from synthclf.v1 import generation_pb2 as pb
from synthclf.v1 import generation_pb2_grpc

_MODES = {pb.GENERATION_MODE_ZERO_SHOT: GenerationMode.ZERO_SHOT,
          pb.GENERATION_MODE_FEW_SHOT: GenerationMode.FEW_SHOT}
_STYLES = {pb.PROMPT_STYLE_CHAT: PromptStyle.CHAT, pb.PROMPT_STYLE_COMPLETION: PromptStyle.COMPLETION}
_COPY_METRICS = {pb.COPY_METRIC_ROUGE_L: CopyMetric.ROUGE_L, pb.COPY_METRIC_COSINE: CopyMetric.COSINE}


def ref_from_uri(uri: str) -> ArtifactRef:
    """The reference of an artifact URI (kind and id from its path)."""
    _, kind, artifact_id = split_uri(uri)
    return ArtifactRef(uri=uri, kind=kind, id=artifact_id)


def _optional(request: pb.GenerateRequest, name: str):
    return getattr(request, name) if request.HasField(name) else None


def spec_from_proto(request: pb.GenerateRequest) -> GenerationSpec:
    """Decode a GenerateRequest; zero plain fields and unset optional ones mean "use the documented default"
    (an optional field such as ``temperature`` set to 0 is the value 0: greedy decoding).

    Raises:
        InvalidInput: a field is out of range (see :class:`GenerationSpec`).
    """
    fields = {
        "task": request.task,
        "mode": _MODES.get(request.mode),
        "rows_per_label": request.rows_per_label,
        "prompt_style": _STYLES.get(request.prompt_style),
        "model": request.model or None,
        "examples_per_request": request.examples_per_request or None,
        "temperature": None if not request.HasField("temperature") else round(request.temperature, 6),
        "max_words": request.max_words or None,
        "diversity_every": request.diversity_every or None,
        "seed": request.seed or None,
        "max_requests_per_label": request.max_requests_per_label or None,
        "concurrency": request.concurrency or None,
        "max_retries": _optional(request, "max_retries"),
        "max_tokens_total": request.max_tokens_total or None,
        "max_cost_usd": request.max_cost_usd or None,
        "price_prompt_per_mtok": _optional(request, "price_prompt_per_mtok"),
        "price_completion_per_mtok": _optional(request, "price_completion_per_mtok"),
        "copy_metric": _COPY_METRICS.get(request.copy_metric),
        "copy_threshold": round(request.copy_threshold, 6) or None,
        "near_duplicate_threshold": round(request.near_duplicate_threshold, 6) or None,
        "structured_output": False if request.disable_structured_output else None,
        "min_words": request.min_words or None,
        "max_consecutive_failures": request.max_consecutive_failures or None,
    }
    return GenerationSpec.validated(**{k: v for k, v in fields.items() if v is not None})


class GenerationServicer(generation_pb2_grpc.GenerationServiceServicer):
    """Decodes requests, calls the core, encodes responses; errors map in the interceptor."""

    def __init__(self, core: GenerationCore):
        self.core = core

    def Generate(self, request, context):
        """Stream progress per LLM request, then the dataset reference."""
        spec = spec_from_proto(request)
        return stream_job(
            lambda progress: self.core.generate(spec, request.examples_uri, progress), context,
            on_progress=lambda event: pb.GenerateResponse(progress=event),
            on_result=lambda ref: pb.GenerateResponse(dataset=ref_to_proto(ref)),
        )

    def ImportRealData(self, request, context):
        """Publish real train/test splits: the user's upload validated against the task, or a catalog task's data."""
        if request.upload_uri:
            result = self.core.import_user_data(
                request.task, request.upload_uri, test_upload_uri=request.test_upload_uri,
                columns=validated(ColumnMapping, "column mapping", {k: v for k, v in {
                    "text": request.text_column, "label": request.label_column, "split": request.split_column,
                    "agreement": request.agreement_column, "annotations": request.annotations_column}.items() if v}),
                options=validated(ImportOptions, "import options", {
                    "test_fraction": request.test_fraction or 0.2, "max_train_rows": request.max_train_rows,
                    "max_test_rows": request.max_test_rows, "seed": request.seed}))
            return pb.ImportRealDataResponse(
                train=ref_to_proto(result.train), test=ref_to_proto(result.test),
                task=ref_to_proto(ref_from_uri(result.task_uri)), warnings=result.warnings)
        train, test = self.core.import_real_data(
            request.task, test_fraction=request.test_fraction or 0.2,
            max_train_rows=request.max_train_rows, max_test_rows=request.max_test_rows,
            seed=request.seed,
        )
        return pb.ImportRealDataResponse(train=ref_to_proto(train), test=ref_to_proto(test))

    def Upload(self, request_iterator, context):
        """Receive an UploadHeader, then the file's chunks; publish the upload artifact."""
        first = next(request_iterator, None)
        if first is None or not first.HasField("header"):
            raise InvalidInput("an Upload stream starts with an UploadHeader (file name, size)")
        header = UploadHeader(filename=first.header.filename, size=first.header.size, format=first.header.format)
        chunks = (message.chunk for message in request_iterator)
        ref, size, sha = self.core.upload(header, chunks)
        return pb.UploadResponse(upload=ref_to_proto(ref), size=size, sha256=sha)

    def PublishTask(self, request, context):
        """Validate a task file and publish it; returns the artifact, drafted fields and prompts."""
        ref, spec, prompts = self.core.publish_task(request.yaml, request.source or "task file")
        shown = {"context_prompt": prompts["context_prompt"],
                 **{f"label:{name}": text for name, text in prompts["per_label"].items()}}
        return pb.PublishTaskResponse(task=ref_to_proto(ref), drafted=list(spec.drafted), prompts=shown)

    def Download(self, request, context):
        """Stream a dataset artifact's data.jsonl in chunks."""
        for chunk in self.core.download(request.dataset_uri):
            yield pb.DownloadResponse(chunk=chunk)
