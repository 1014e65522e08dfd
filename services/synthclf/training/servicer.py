"""Thin gRPC servicer of ``synthclf.v1.TrainingService`` over :class:`TrainingCore`."""

from __future__ import annotations

from synthclf.core.errors import validated
from synthclf.core.grpc_server import ref_to_proto, stream_job
from synthclf.training.service import DEFAULT_OPSET, DEFAULT_TOLERANCE, TrainingCore, TrainingData
from synthclf.training.trainer import TrainConfig
from synthclf.v1 import training_pb2 as pb
from synthclf.v1 import training_pb2_grpc

#: Fields whose presence is tracked (proto3 ``optional``): 0 is a value, unset the default.
_OPTIONAL = ("validation_fraction", "warmup_ratio", "weight_decay", "early_stopping_patience")


def _float32(value: float) -> float:
    """A proto ``float`` as the decimal the client wrote (0.1f reads back as 0.100000001)."""
    return float(f"{value:.7g}")


def config_from_proto(request: pb.TrainRequest) -> TrainConfig:
    """Decode hyperparameters: a zero plain field or an unset optional one means the default.

    Raises:
        InvalidInput: a value out of range (the field is named).
    """
    fields = {
        "backbone": request.backbone or None, "epochs": request.epochs,
        "batch_size": request.batch_size, "learning_rate": _float32(request.learning_rate),
        "max_length": request.max_length, "seed": request.seed,
    }
    fields = {k: v for k, v in fields.items() if v}
    for name in _OPTIONAL:
        if request.HasField(name):
            value = getattr(request, name)
            fields[name] = _float32(value) if isinstance(value, float) else value
    return validated(TrainConfig, "training hyperparameters", fields)


def data_from_proto(request: pb.TrainRequest) -> list[TrainingData]:
    """Decode the training datasets (count, fraction or count per label each).

    Raises:
        InvalidInput: more than one amount given, or one out of range.
    """
    return [validated(TrainingData, "training data", {"uri": d.dataset_uri, "count": d.count,
                                                       "fraction": _float32(d.fraction),
                                                       "count_per_label": d.count_per_label})
            for d in request.data]


class TrainingServicer(training_pb2_grpc.TrainingServiceServicer):
    """Decodes requests, calls the core, encodes responses; errors map in the interceptor."""

    def __init__(self, core: TrainingCore):
        self.core = core

    def Train(self, request, context):
        """Stream training progress, then the model reference."""
        config, data = config_from_proto(request), data_from_proto(request)
        return stream_job(
            lambda progress: self.core.train(request.task, data, config, progress,
                                             validation_uri=request.validation_uri or None),
            context,
            on_progress=lambda event: pb.TrainResponse(progress=event),
            on_result=lambda ref: pb.TrainResponse(model=ref_to_proto(ref)),
        )

    def ExportOnnx(self, request, context):
        """Stream export progress, then the ONNX model reference."""
        def job(progress):
            """The core call, reporting to ``progress``."""
            return self.core.export(
                request.model_uri, opset=request.opset or DEFAULT_OPSET,
                tolerance=_float32(request.parity_tolerance) or DEFAULT_TOLERANCE,
                quantize_int8=request.quantize_int8, progress=progress,
            )

        return stream_job(
            job, context,
            on_progress=lambda event: pb.ExportOnnxResponse(progress=event),
            on_result=lambda ref: pb.ExportOnnxResponse(onnx_model=ref_to_proto(ref)),
        )
