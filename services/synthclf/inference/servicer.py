"""Thin gRPC servicer of ``synthclf.v1.InferenceService`` over :class:`InferenceCore`."""

from __future__ import annotations

from synthclf.core.grpc_server import ref_to_proto, time_remaining_s
from synthclf.inference.service import InferenceCore, LoadedModel
from synthclf.v1 import inference_pb2 as pb
from synthclf.v1 import inference_pb2_grpc


def model_info(model: LoadedModel) -> pb.ModelInfo:
    """Encode a live model version as ``ModelInfo``."""
    return pb.ModelInfo(name=model.name, artifact=ref_to_proto(model.artifact), labels=model.labels,
                        execution_provider=model.execution_provider, version=model.version,
                        max_length=model.max_length, loaded_at=model.loaded_at)


class InferenceServicer(inference_pb2_grpc.InferenceServiceServicer):
    """Decodes requests, calls the core, encodes responses (errors: ErrorInterceptor)."""

    def __init__(self, core: InferenceCore):
        self.core = core

    def Predict(self, request, context):
        """Classify a batch of texts; the call's deadline bounds the time queued."""
        result = self.core.predict(request.model_name, list(request.texts), request.model_version,
                                   timeout_s=time_remaining_s(context))
        return pb.PredictResponse(
            labels=result.labels, model_version=result.model.version,
            predictions=[pb.Prediction(label=label, probabilities=row)
                         for label, row in zip(result.predicted, result.probabilities.tolist())],
        )

    def ListModels(self, request, context):
        """Every live model version."""
        return pb.ListModelsResponse(models=[model_info(m) for m in self.core.list()])

    def LoadModel(self, request, context):
        """Load an onnx-model artifact as a new version of a name."""
        return pb.LoadModelResponse(model=model_info(self.core.load(request.model_name, request.model_uri)))

    def UnloadModel(self, request, context):
        """Unload one version, or every version, of a name."""
        unloaded = self.core.unload(request.model_name, request.model_version)
        return pb.UnloadModelResponse(unloaded=[model_info(m) for m in unloaded])

    def GetModelMetadata(self, request, context):
        """Metadata of one live version (0: newest)."""
        return pb.GetModelMetadataResponse(model=model_info(self.core.get(request.model_name, request.model_version)))
