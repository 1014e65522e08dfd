"""Thin gRPC servicer of ``synthclf.v1.InferenceService`` over :class:`ModelRepository`."""

from __future__ import annotations

from synthclf.core.grpc_server import ref_to_proto
from synthclf.inference.repository import LoadedModel, ModelRepository
from synthclf.v1 import inference_pb2 as pb
from synthclf.v1 import inference_pb2_grpc


def model_info(model: LoadedModel) -> pb.ModelInfo:
    """Encode a live model as ``ModelInfo``."""
    return pb.ModelInfo(name=model.name, artifact=ref_to_proto(model.artifact), labels=model.labels,
                        execution_provider=model.classifier.execution_provider)


class InferenceServicer(inference_pb2_grpc.InferenceServiceServicer):
    """Decodes requests, calls the repository, encodes responses."""

    def __init__(self, repository: ModelRepository):
        self.repository = repository

    def LoadModel(self, request, context):
        """Load an ONNX artifact under a name."""
        return pb.LoadModelResponse(model=model_info(self.repository.load(request.name, request.uri)))

    def Predict(self, request, context):
        """Classify a batch of texts."""
        result = self.repository.predict(request.model, list(request.texts))
        return pb.PredictResponse(
            labels=result.labels,
            predictions=[pb.Prediction(label=label, probabilities=row.tolist())
                         for label, row in zip(result.predicted, result.probabilities)],
        )

    def ListModels(self, request, context):
        """List loaded models."""
        return pb.ListModelsResponse(models=[model_info(m) for m in self.repository.list()])
