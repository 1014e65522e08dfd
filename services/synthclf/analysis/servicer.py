"""Thin gRPC servicer of ``synthclf.v1.AnalysisService`` over :class:`AnalysisCore`.

Each RPC decodes the request (proto3 zeros and unset ``optional`` fields become the documented
defaults; an ``optional`` field set to 0, such as ``n_bootstrap``, is the value 0), calls the core
and encodes the result; long jobs stream progress through :func:`stream_job`. Undefined
statistics (None in the core) travel as NaN.
"""

from __future__ import annotations

import math

from synthclf.analysis.condition import Condition
from synthclf.analysis.diversity import MAX_TEXTS, DiversityScores
from synthclf.analysis.metrics import CONFIDENCE, N_BOOTSTRAP, Interval
from synthclf.analysis.projection import PROJECTION_POINTS
from synthclf.analysis.reporting import make_report
from synthclf.analysis.service import AnalysisCore
from synthclf.analysis.similarity import TOP_K
from synthclf.analysis.subjectivity import MIN_INSTANCES
from synthclf.analysis.verdict import DELTA
from synthclf.core.artifacts import ArtifactRef, split_uri
from synthclf.core.errors import validated
from synthclf.core.grpc_server import ref_to_proto, stream_job
from synthclf.v1 import analysis_pb2 as pb
from synthclf.v1 import analysis_pb2_grpc


def _num(value: float | None) -> float:
    return math.nan if value is None else float(value)


def _interval(interval: Interval | None) -> pb.Interval | None:
    return None if interval is None else pb.Interval(low=interval.low, high=interval.high)


def _evaluation_ref(uri: str) -> ArtifactRef:
    _, kind, artifact_id = split_uri(uri)
    return ArtifactRef(uri=uri, kind=kind, id=artifact_id)


def condition_from_proto(message: pb.Condition) -> Condition | None:
    """Decode a condition; None when it is unset (the core then says it is missing, after its
    checks of the rest of the request).

    Raises:
        InvalidInput: a condition without task or source, or with fields out of range.
    """
    if not message.task and not message.source:
        return None
    return validated(Condition, "condition", {"task": message.task, "source": message.source,
                                              "backbone": message.backbone, "seed": message.seed,
                                              "real_per_label": message.real_per_label})


def _scores(scores: DiversityScores) -> pb.DiversityScores:
    return pb.DiversityScores(remote_clique=scores.remote_clique, chamfer=scores.chamfer, n=scores.n)


class AnalysisServicer(analysis_pb2_grpc.AnalysisServiceServicer):
    """Decodes requests, calls the core, encodes responses."""

    def __init__(self, core: AnalysisCore):
        self.core = core

    def Evaluate(self, request, context):
        """Stream evaluation progress, then the evaluation reference with its metrics."""
        def job(progress):
            """The core call, reporting to ``progress``."""
            return self.core.evaluate(
                request.model_name, request.dataset_uri, inference_address=request.inference_address,
                batch_size=request.batch_size or 64, tags=dict(request.tags), model_uri=request.model_uri,
                in_process=request.in_process,
                n_bootstrap=request.n_bootstrap if request.HasField("n_bootstrap") else N_BOOTSTRAP,
                seed=request.seed, confidence=request.confidence or CONFIDENCE,
                condition=condition_from_proto(request.condition), progress=progress)

        def result(outcome):
            """Encode the job's outcome as the last response."""
            ref, m = outcome
            return pb.EvaluateResponse(evaluation=ref_to_proto(ref), metrics=pb.Metrics(
                macro_f1=m.macro_f1, accuracy=m.accuracy, support=m.support, macro_f1_ci=_interval(m.macro_f1_ci),
                accuracy_ci=_interval(m.accuracy_ci), n_bootstrap=m.n_bootstrap, confidence=m.confidence))

        return stream_job(job, context, on_progress=lambda e: pb.EvaluateResponse(progress=e), on_result=result)

    def Diversity(self, request, context):
        """Stream embedding progress, then the diversity reference and scores."""
        def job(progress):
            """The core call, reporting to ``progress``."""
            return self.core.diversity(request.dataset_uri, max_texts=request.max_texts or MAX_TEXTS,
                                       seed=request.seed, progress=progress)

        def result(outcome):
            """Encode the job's outcome as the last response."""
            ref, r = outcome
            return pb.DiversityResponse(diversity=ref_to_proto(ref), overall=_scores(r.overall),
                                        per_label={k: _scores(v) for k, v in r.per_label.items()})

        return stream_job(job, context, on_progress=lambda e: pb.DiversityResponse(progress=e), on_result=result)

    def Similarity(self, request, context):
        """Stream embedding progress, then the similarity reference and score."""
        def job(progress):
            """The core call, reporting to ``progress``."""
            return self.core.similarity(request.synthetic_uri, request.real_uri, k=request.k or TOP_K,
                                        max_texts=request.max_texts or MAX_TEXTS, seed=request.seed,
                                        progress=progress)

        def result(outcome):
            """Encode the job's outcome as the last response."""
            ref, r = outcome
            return pb.SimilarityResponse(similarity=ref_to_proto(ref), mean_top_k=r.mean_top_k, std_top_k=r.std_top_k,
                                         k=r.k, n_synthetic=r.n_synthetic, n_real=r.n_real)

        return stream_job(job, context, on_progress=lambda e: pb.SimilarityResponse(progress=e), on_result=result)

    def InstanceSubjectivity(self, request, context):
        """Stream prediction progress, then the sweep, its fit and the artifact reference."""
        def job(progress):
            """The core call, reporting to ``progress``."""
            return self.core.instance_subjectivity(
                evaluation_uri=request.evaluation_uri, model=request.model_name, model_uri=request.model_uri,
                in_process=request.in_process, dataset_uri=request.dataset_uri,
                inference_address=request.inference_address, gammas=list(request.gammas),
                min_instances=request.min_instances or MIN_INSTANCES, tags=dict(request.tags),
                condition=condition_from_proto(request.condition), progress=progress)

        def result(outcome):
            """Encode the job's outcome as the last response."""
            ref, sweep = outcome
            fit = sweep.fit
            return pb.InstanceSubjectivityResponse(
                instance_subjectivity=ref_to_proto(ref),
                points=[pb.SweepPoint(gamma=p.gamma, accuracy=p.accuracy, n=p.n) for p in sweep.points],
                slope=_num(fit.slope), intercept=_num(fit.intercept), r_squared=_num(fit.r_squared),
                spearman_rho=_num(fit.spearman_rho), spearman_p=_num(fit.spearman_p),
                evaluation=ref_to_proto(_evaluation_ref(sweep.evaluation_uri)))

        return stream_job(job, context, on_progress=lambda e: pb.InstanceSubjectivityResponse(progress=e),
                          on_result=result)

    def TaskSubjectivity(self, request, context):
        """Gap vs subjectivity across tasks."""
        ref, r = self.core.task_subjectivity(list(request.evaluation_uris))
        return pb.TaskSubjectivityResponse(
            task_subjectivity=ref_to_proto(ref),
            gaps=[pb.TaskGap(task=g.task, source=g.source, backbone=g.backbone, subjectivity=g.subjectivity,
                             real_macro_f1=g.real_macro_f1, macro_f1=g.macro_f1, gap=g.gap) for g in r.gaps],
            correlations=[pb.GapCorrelation(source=c.source, backbone=c.backbone, n_tasks=c.n_tasks,
                                            spearman_rho=_num(c.spearman_rho), spearman_p=_num(c.spearman_p))
                          for c in r.correlations],
            caveat=r.caveat)

    def Projection(self, request, context):
        """Stream embedding progress, then the projection reference."""
        def job(progress):
            """The core call, reporting to ``progress``."""
            return self.core.projection(list(request.dataset_uris), max_texts=request.max_texts or MAX_TEXTS,
                                        points=request.points or PROJECTION_POINTS, seed=request.seed,
                                        progress=progress)

        return stream_job(job, context, on_progress=lambda e: pb.ProjectionResponse(progress=e),
                          on_result=lambda outcome: pb.ProjectionResponse(projection=ref_to_proto(outcome[0])))

    def Verdict(self, request, context):
        """The task's learning curve, equivalents and verdict."""
        ref, v = self.core.verdict(list(request.evaluation_uris), delta=request.delta if request.HasField("delta") else DELTA,
                                   label_cost_usd=request.label_cost_usd or None,
                                   synthetic_datasets=dict(request.synthetic_datasets), seed=request.seed)
        return pb.VerdictResponse(verdict=ref_to_proto(ref), task=v.task, decision=v.decision, reason=v.reason,
                                  equivalents=[pb.RealLabelEquivalent(
                                      source=e.source, real_per_label=e.real_per_label, backbone=e.backbone,
                                      macro_f1=e.macro_f1, per_label=_num(e.equivalent.per_label), text=e.text,
                                      interval=pb.Interval(low=_num(e.equivalent.low), high=_num(e.equivalent.high)))
                                      for e in v.equivalents])

    def Report(self, request, context):
        """Stream report progress, then the report reference, its Markdown and file list."""
        def job(progress):
            """The core call, reporting to ``progress``."""
            return make_report(
                self.core.store, self.core.settings, request.title, list(request.evaluation_uris),
                list(request.input_uris), usd_per_million_prompt_tokens=request.price_prompt_per_mtok,
                usd_per_million_completion_tokens=request.price_completion_per_mtok, progress=progress)

        def result(outcome):
            """Encode the job's outcome as the last response."""
            ref, markdown, files = outcome
            return pb.ReportResponse(report=ref_to_proto(ref), markdown=markdown, files=files)

        return stream_job(job, context, on_progress=lambda e: pb.ReportResponse(progress=e), on_result=result)
