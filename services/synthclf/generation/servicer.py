"""Thin gRPC servicer of ``synthclf.v1.GenerationService`` over :class:`GenerationCore`."""

from __future__ import annotations

from synthclf.core.grpc_server import ref_to_proto, stream_job
from synthclf.generation.generator import GenerationMode, GenerationSpec
from synthclf.generation.prompts import PromptStyle
from synthclf.generation.service import GenerationCore
from synthclf.v1 import generation_pb2 as pb
from synthclf.v1 import generation_pb2_grpc

_MODES = {pb.GENERATION_MODE_ZERO_SHOT: GenerationMode.ZERO_SHOT,
          pb.GENERATION_MODE_FEW_SHOT: GenerationMode.FEW_SHOT}
_STYLES = {pb.PROMPT_STYLE_CHAT: PromptStyle.CHAT, pb.PROMPT_STYLE_COMPLETION: PromptStyle.COMPLETION}


def spec_from_proto(request: pb.GenerateRequest) -> GenerationSpec:
    """Decode a GenerateRequest; zero values mean "use the documented default"."""
    fields = {
        "task": request.task,
        "mode": _MODES.get(request.mode),
        "rows_per_label": request.rows_per_label,
        "prompt_style": _STYLES.get(request.prompt_style),
        "model": request.model or None,
        "examples_per_request": request.examples_per_request or None,
        "temperature": request.temperature or None,
        "max_words": request.max_words or None,
        "diversity_every": request.diversity_every or None,
        "seed": request.seed or None,
        "max_requests_per_label": request.max_requests_per_label or None,
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
        """Publish the task's real train/test splits."""
        train, test = self.core.import_real_data(
            request.task, test_fraction=request.test_fraction or 0.2,
            max_train_rows=request.max_train_rows, max_test_rows=request.max_test_rows,
            seed=request.seed,
        )
        return pb.ImportRealDataResponse(train=ref_to_proto(train), test=ref_to_proto(test))
