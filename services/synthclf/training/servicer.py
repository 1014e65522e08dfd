"""Thin gRPC servicer of ``synthclf.v1.TrainingService`` over :class:`TrainingCore`."""

from __future__ import annotations

from synthclf.core.grpc_server import ref_to_proto, stream_job
from synthclf.training.service import TrainingCore, TrainingData
from synthclf.training.trainer import TrainConfig
from synthclf.v1 import training_pb2 as pb
from synthclf.v1 import training_pb2_grpc


def config_from_proto(request: pb.TrainRequest) -> TrainConfig:
    """Decode hyperparameters; zero values mean "use the documented default"."""
    fields = {
        "backbone": request.backbone or None, "epochs": request.epochs,
        "batch_size": request.batch_size, "learning_rate": request.learning_rate,
        "max_length": request.max_length, "seed": request.seed,
        "validation_fraction": request.validation_fraction,
    }
    return TrainConfig.model_validate({k: v for k, v in fields.items() if v})


class TrainingServicer(training_pb2_grpc.TrainingServiceServicer):
    """Decodes requests, calls the core, encodes responses; errors map in the interceptor."""

    def __init__(self, core: TrainingCore):
        self.core = core

    def Train(self, request, context):
        """Stream training progress, then the model reference."""
        config = config_from_proto(request)
        data = [TrainingData(uri=d.uri, count=d.count) for d in request.data]
        return stream_job(
            lambda progress: self.core.train(request.task, data, config, progress), context,
            on_progress=lambda event: pb.TrainResponse(progress=event),
            on_result=lambda ref: pb.TrainResponse(model=ref_to_proto(ref)),
        )

    def ExportOnnx(self, request, context):
        """Stream export progress, then the ONNX model reference."""
        def job(progress):
            return self.core.export(request.model_uri, opset=request.opset or 17,
                                    tolerance=request.parity_tolerance or 1e-4, progress=progress)

        return stream_job(
            job, context,
            on_progress=lambda event: pb.ExportOnnxResponse(progress=event),
            on_result=lambda ref: pb.ExportOnnxResponse(onnx_model=ref_to_proto(ref)),
        )
