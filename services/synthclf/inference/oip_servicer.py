"""Thin servicer of the Open Inference Protocol (``inference.GRPCInferenceService``, KServe v2).

Served beside ``synthclf.v1.InferenceService`` on the same port and over the same
:class:`~synthclf.inference.service.InferenceCore`, so Triton and KServe clients call synthclf
models unchanged (tensor layout in :mod:`synthclf.inference.oip_codec`). Errors go through the
shared ``ErrorInterceptor``: an unknown model is NOT_FOUND, a malformed tensor
INVALID_ARGUMENT, a full queue RESOURCE_EXHAUSTED. ``RepositoryModelLoad`` / ``Unload`` stay
UNIMPLEMENTED: KServe's load request names no artifact; load with
``synthclf.v1.InferenceService/LoadModel`` (an artifact URI).
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING

from synthclf.core.errors import Unimplemented
from synthclf.core.grpc_server import time_remaining_s
from synthclf.inference.oip_codec import (
    decode_texts,
    encode_infer_response,
    model_metadata,
    parse_version,
    requested_outputs,
)
from synthclf.oip import grpc_predict_v2_pb2 as oip
from synthclf.oip import grpc_predict_v2_pb2_grpc

if TYPE_CHECKING:
    from synthclf.inference.service import InferenceCore

SERVER_NAME = "synthclf"


def server_version() -> str:
    """The installed synthclf distribution's version (package metadata)."""
    try:
        return version(SERVER_NAME)
    except PackageNotFoundError:
        return "0+unknown"


class OipServicer(grpc_predict_v2_pb2_grpc.GRPCInferenceServiceServicer):
    """Decodes OIP requests, calls the inference core, encodes responses.

    Args:
        core: the inference core shared with ``synthclf.v1.InferenceService``.
        ready: returns whether every hosted service's readiness check passed when last run
            (ServerReady; a cached value, e.g. :meth:`HealthReporter.ready`, so a probe runs
            no store round trip).
    """

    def __init__(self, core: InferenceCore, ready: Callable[[], bool]):
        self.core = core
        self.ready = ready

    def ServerLive(self, request, context):
        """Live whenever the server answers."""
        return oip.ServerLiveResponse(live=True)

    def ServerReady(self, request, context):
        """Ready when every hosted service's readiness check passed when last run (store
        reachable, start-up models loaded); answered from the cached result."""
        return oip.ServerReadyResponse(ready=self.ready())

    def ModelReady(self, request, context):
        """Whether the model (and version; "" = any) is loaded; false, not an error, when not."""
        wanted = parse_version(request.version)
        return oip.ModelReadyResponse(ready=any(
            m.name == request.name and wanted in (0, m.version) for m in self.core.list()))

    def ServerMetadata(self, request, context):
        """Name, version and (no) optional protocol extensions."""
        return oip.ServerMetadataResponse(name=SERVER_NAME, version=server_version(), extensions=[])

    def ModelMetadata(self, request, context):
        """Tensors of a model; NOT_FOUND names the loaded models."""
        model = self.core.get(request.name, parse_version(request.version))
        return model_metadata(model, [m.version for m in self.core.list() if m.name == model.name])

    def RepositoryModelLoad(self, request, context):
        """UNIMPLEMENTED: KServe's request names no artifact (README "Open Inference Protocol")."""
        raise Unimplemented("RepositoryModelLoad is not offered: it names no artifact; load with "
                            "synthclf.v1.InferenceService/LoadModel (an onnx-model URI)")

    def RepositoryModelUnload(self, request, context):
        """UNIMPLEMENTED, like RepositoryModelLoad."""
        raise Unimplemented("RepositoryModelUnload is not offered; unload with "
                            "synthclf.v1.InferenceService/UnloadModel")

    def ModelInfer(self, request, context):
        """Classify the BYTES ``text`` input through the dynamic batcher, within the deadline."""
        texts, outputs = decode_texts(request), requested_outputs(request)
        result = self.core.predict(request.model_name, texts,
                                   version=parse_version(request.model_version),
                                   timeout_s=time_remaining_s(context))
        return encode_infer_response(request, result, outputs)
