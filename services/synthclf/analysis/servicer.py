"""Thin gRPC servicer of ``synthclf.v1.AnalysisService`` over :class:`AnalysisCore`."""

from __future__ import annotations

from synthclf.analysis.service import AnalysisCore
from synthclf.core.grpc_server import ref_to_proto, stream_job
from synthclf.v1 import analysis_pb2 as pb
from synthclf.v1 import analysis_pb2_grpc


class AnalysisServicer(analysis_pb2_grpc.AnalysisServiceServicer):
    """Decodes requests, calls the core, encodes responses."""

    def __init__(self, core: AnalysisCore):
        self.core = core

    def Evaluate(self, request, context):
        """Stream evaluation progress, then the evaluation reference with its metrics."""
        def job(progress):
            return self.core.evaluate(
                request.model, request.dataset_uri, inference_address=request.inference_address,
                batch_size=request.batch_size or 64, tags=dict(request.tags), progress=progress)

        def result(outcome):
            ref, metrics = outcome
            return pb.EvaluateResponse(evaluation=ref_to_proto(ref), metrics=pb.Metrics(
                macro_f1=metrics.macro_f1, accuracy=metrics.accuracy, support=metrics.support))

        return stream_job(job, context, on_progress=lambda e: pb.EvaluateResponse(progress=e),
                          on_result=result)

    def Report(self, request, context):
        """Render the report."""
        ref, markdown = self.core.report(request.title, list(request.evaluation_uris),
                                         list(request.input_uris))
        return pb.ReportResponse(report=ref_to_proto(ref), markdown=markdown)
