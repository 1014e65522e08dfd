"""Typed inputs and results of :mod:`synthclf.clients` (after tritonclient's ``InferResult``).

The clients take keyword arguments and return these frozen dataclasses, never raw protos or
dicts: a caller's code is checked by the type checker and does not change when a message
gains a field. Each result's ``from_proto`` decodes the service's response; attribute names
are the proto fields' names (``synthclf.v1``), and undefined statistics stay NaN as the
service sends them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Self

from synthclf.core.artifacts import ArtifactRef
from synthclf.core.grpc_server import ref_from_proto
from synthclf.v1 import analysis_pb2, generation_pb2, inference_pb2, training_pb2

__all__ = [
    "Condition", "DiversityResult", "DiversityScores", "EvaluationResult", "GapCorrelation", "ImportResult",
    "InstanceSubjectivityResult", "Interval", "Metrics", "ModelInfo", "Prediction", "PredictResult",
    "PublishTaskResult", "RealLabelEquivalent", "ReportResult", "SimilarityResult", "SweepPoint", "TaskGap",
    "TaskSubjectivityResult", "TrainingData", "UploadResult", "VerdictResult",
]


# -- inputs -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class TrainingData:
    """One training dataset of a ``train`` call and how many of its rows to draw.

    ``count``, ``fraction`` and ``count_per_label`` are mutually exclusive; 0 = not set, and
    with none set every row is used (training.proto, ``TrainingData``).
    """

    dataset_uri: str
    count: int = 0
    fraction: float = 0.0
    count_per_label: int = 0

    def to_proto(self) -> training_pb2.TrainingData:
        """Encode as ``synthclf.v1.TrainingData``."""
        return training_pb2.TrainingData(dataset_uri=self.dataset_uri, count=self.count, fraction=self.fraction,
                                         count_per_label=self.count_per_label)


@dataclass(frozen=True)
class Condition:
    """What a model was trained on, recorded with its evaluation (analysis.proto, ``Condition``)."""

    task: str
    source: str
    backbone: str = ""
    seed: int = 0
    real_per_label: int = 0

    def to_proto(self) -> analysis_pb2.Condition:
        """Encode as ``synthclf.v1.Condition``."""
        return analysis_pb2.Condition(task=self.task, source=self.source, backbone=self.backbone, seed=self.seed,
                                      real_per_label=self.real_per_label)


# -- generation -------------------------------------------------------------------------------

@dataclass(frozen=True)
class ImportResult:
    """A task's real data as published: train and test dataset artifacts.

    ``task`` is the task artifact the data were validated against (user data only; None for
    a catalog task's packaged data); ``warnings`` name class imbalance, truncated texts, …
    """

    train: ArtifactRef
    test: ArtifactRef
    task: ArtifactRef | None = None
    warnings: list[str] = field(default_factory=list)

    @classmethod
    def from_proto(cls, msg: generation_pb2.ImportRealDataResponse) -> Self:
        """Decode ``ImportRealDataResponse``."""
        return cls(train=ref_from_proto(msg.train), test=ref_from_proto(msg.test),
                   task=ref_from_proto(msg.task) if msg.HasField("task") else None, warnings=list(msg.warnings))


@dataclass(frozen=True)
class UploadResult:
    """An uploaded file: its ``upload`` artifact, size in bytes and sha256 (hex)."""

    upload: ArtifactRef
    size: int
    sha256: str

    @classmethod
    def from_proto(cls, msg: generation_pb2.UploadResponse) -> Self:
        """Decode ``UploadResponse``."""
        return cls(upload=ref_from_proto(msg.upload), size=msg.size, sha256=msg.sha256)


@dataclass(frozen=True)
class PublishTaskResult:
    """A published task: its artifact, the fields synthclf drafted and the prompts as sent
    (``context_prompt`` and ``label:<name>`` per label)."""

    task: ArtifactRef
    drafted: list[str]
    prompts: dict[str, str]

    @classmethod
    def from_proto(cls, msg: generation_pb2.PublishTaskResponse) -> Self:
        """Decode ``PublishTaskResponse``."""
        return cls(task=ref_from_proto(msg.task), drafted=list(msg.drafted), prompts=dict(msg.prompts))


# -- inference --------------------------------------------------------------------------------

@dataclass(frozen=True)
class ModelInfo:
    """One live model version: name, version (from 1), source artifact, label names in logit
    order, execution provider, truncation length in tokens and load time (Unix seconds, UTC)."""

    name: str
    version: int
    artifact: ArtifactRef
    labels: list[str]
    execution_provider: str
    max_length: int
    loaded_at: float

    @classmethod
    def from_proto(cls, msg: inference_pb2.ModelInfo) -> Self:
        """Decode ``ModelInfo``."""
        return cls(name=msg.name, version=msg.version, artifact=ref_from_proto(msg.artifact), labels=list(msg.labels),
                   execution_provider=msg.execution_provider, max_length=msg.max_length, loaded_at=msg.loaded_at)


@dataclass(frozen=True)
class Prediction:
    """The prediction for one text: the most probable label and the softmax probabilities in
    the order of :attr:`PredictResult.labels`."""

    label: str
    probabilities: list[float]


@dataclass(frozen=True)
class PredictResult:
    """One :class:`Prediction` per input text (same order), the label order and the model
    version that served them."""

    predictions: list[Prediction]
    labels: list[str]
    model_version: int

    @classmethod
    def from_proto(cls, msg: inference_pb2.PredictResponse) -> Self:
        """Decode ``PredictResponse``."""
        return cls(predictions=[Prediction(label=p.label, probabilities=list(p.probabilities))
                                for p in msg.predictions],
                   labels=list(msg.labels), model_version=msg.model_version)


# -- analysis ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Interval:
    """A bootstrap percentile confidence interval."""

    low: float
    high: float

    @classmethod
    def from_proto(cls, msg: analysis_pb2.Interval) -> Self:
        """Decode ``Interval``."""
        return cls(low=msg.low, high=msg.high)


@dataclass(frozen=True)
class Metrics:
    """Headline metrics of an evaluation: Macro-F1 and accuracy in [0, 1], texts evaluated,
    their bootstrap intervals (None with ``n_bootstrap`` 0) and the confidence level."""

    macro_f1: float
    accuracy: float
    support: int
    macro_f1_ci: Interval | None
    accuracy_ci: Interval | None
    n_bootstrap: int
    confidence: float

    @classmethod
    def from_proto(cls, msg: analysis_pb2.Metrics) -> Self:
        """Decode ``Metrics``."""
        return cls(macro_f1=msg.macro_f1, accuracy=msg.accuracy, support=msg.support,
                   macro_f1_ci=Interval.from_proto(msg.macro_f1_ci) if msg.HasField("macro_f1_ci") else None,
                   accuracy_ci=Interval.from_proto(msg.accuracy_ci) if msg.HasField("accuracy_ci") else None,
                   n_bootstrap=msg.n_bootstrap, confidence=msg.confidence)


@dataclass(frozen=True)
class EvaluationResult:
    """An evaluation artifact (metrics.json, predictions.jsonl) and its metrics."""

    evaluation: ArtifactRef
    metrics: Metrics

    @classmethod
    def from_proto(cls, msg: analysis_pb2.EvaluateResponse) -> Self:
        """Decode the last ``EvaluateResponse`` of the stream."""
        return cls(evaluation=ref_from_proto(msg.evaluation), metrics=Metrics.from_proto(msg.metrics))


@dataclass(frozen=True)
class DiversityScores:
    """Remote-clique score and chamfer distance (cosine distance, [0, 2]) of ``n`` texts."""

    remote_clique: float
    chamfer: float
    n: int

    @classmethod
    def from_proto(cls, msg: analysis_pb2.DiversityScores) -> Self:
        """Decode ``DiversityScores``."""
        return cls(remote_clique=msg.remote_clique, chamfer=msg.chamfer, n=msg.n)


@dataclass(frozen=True)
class DiversityResult:
    """A diversity artifact with its scores overall and per label."""

    diversity: ArtifactRef
    overall: DiversityScores
    per_label: dict[str, DiversityScores]

    @classmethod
    def from_proto(cls, msg: analysis_pb2.DiversityResponse) -> Self:
        """Decode the last ``DiversityResponse`` of the stream."""
        return cls(diversity=ref_from_proto(msg.diversity), overall=DiversityScores.from_proto(msg.overall),
                   per_label={k: DiversityScores.from_proto(v) for k, v in msg.per_label.items()})


@dataclass(frozen=True)
class SimilarityResult:
    """A similarity artifact: mean and standard deviation over synthetic texts of their mean
    top-k cosine similarity to real texts, the k used and the texts on each side."""

    similarity: ArtifactRef
    mean_top_k: float
    std_top_k: float
    k: int
    n_synthetic: int
    n_real: int

    @classmethod
    def from_proto(cls, msg: analysis_pb2.SimilarityResponse) -> Self:
        """Decode the last ``SimilarityResponse`` of the stream."""
        return cls(similarity=ref_from_proto(msg.similarity), mean_top_k=msg.mean_top_k, std_top_k=msg.std_top_k,
                   k=msg.k, n_synthetic=msg.n_synthetic, n_real=msg.n_real)


@dataclass(frozen=True)
class SweepPoint:
    """Accuracy on the ``n`` test instances with annotator agreement >= ``gamma``."""

    gamma: float
    accuracy: float
    n: int


@dataclass(frozen=True)
class InstanceSubjectivityResult:
    """An instance-subjectivity artifact: the sweep, its linear fit and Spearman's rho (NaN
    where undefined), and the evaluation it was computed from."""

    instance_subjectivity: ArtifactRef
    points: list[SweepPoint]
    slope: float
    intercept: float
    r_squared: float
    spearman_rho: float
    spearman_p: float
    evaluation: ArtifactRef

    @classmethod
    def from_proto(cls, msg: analysis_pb2.InstanceSubjectivityResponse) -> Self:
        """Decode the last ``InstanceSubjectivityResponse`` of the stream."""
        return cls(instance_subjectivity=ref_from_proto(msg.instance_subjectivity),
                   points=[SweepPoint(gamma=p.gamma, accuracy=p.accuracy, n=p.n) for p in msg.points],
                   slope=msg.slope, intercept=msg.intercept, r_squared=msg.r_squared,
                   spearman_rho=msg.spearman_rho, spearman_p=msg.spearman_p,
                   evaluation=ref_from_proto(msg.evaluation))


@dataclass(frozen=True)
class TaskGap:
    """One task's real → synthetic Macro-F1 gap and its subjectivity rating (1..5 stars)."""

    task: str
    source: str
    backbone: str
    subjectivity: int
    real_macro_f1: float
    macro_f1: float
    gap: float


@dataclass(frozen=True)
class GapCorrelation:
    """Spearman correlation of the gap with subjectivity for one data source."""

    source: str
    backbone: str
    n_tasks: int
    spearman_rho: float
    spearman_p: float


@dataclass(frozen=True)
class TaskSubjectivityResult:
    """A task-subjectivity artifact: gaps per task and source, correlations per source, caveat."""

    task_subjectivity: ArtifactRef
    gaps: list[TaskGap]
    correlations: list[GapCorrelation]
    caveat: str

    @classmethod
    def from_proto(cls, msg: analysis_pb2.TaskSubjectivityResponse) -> Self:
        """Decode ``TaskSubjectivityResponse``."""
        return cls(task_subjectivity=ref_from_proto(msg.task_subjectivity),
                   gaps=[TaskGap(task=g.task, source=g.source, backbone=g.backbone, subjectivity=g.subjectivity,
                                 real_macro_f1=g.real_macro_f1, macro_f1=g.macro_f1, gap=g.gap) for g in msg.gaps],
                   correlations=[GapCorrelation(source=c.source, backbone=c.backbone, n_tasks=c.n_tasks,
                                                spearman_rho=c.spearman_rho, spearman_p=c.spearman_p)
                                 for c in msg.correlations],
                   caveat=msg.caveat)


@dataclass(frozen=True)
class RealLabelEquivalent:
    """Where a synthetic or mixed model lands on the real-data learning curve: real labels
    per label with the same expected Macro-F1 (NaN outside the curve), as shown and its interval."""

    source: str
    real_per_label: int
    backbone: str
    macro_f1: float
    per_label: float
    text: str
    interval: Interval


@dataclass(frozen=True)
class VerdictResult:
    """A verdict artifact: the task, its decision (replace / stretch / dont), the reason and the
    real-label equivalent of every synthetic and mixed model."""

    verdict: ArtifactRef
    task: str
    decision: str
    reason: str
    equivalents: list[RealLabelEquivalent]

    @classmethod
    def from_proto(cls, msg: analysis_pb2.VerdictResponse) -> Self:
        """Decode ``VerdictResponse``."""
        return cls(verdict=ref_from_proto(msg.verdict), task=msg.task, decision=msg.decision, reason=msg.reason,
                   equivalents=[RealLabelEquivalent(
                       source=e.source, real_per_label=e.real_per_label, backbone=e.backbone, macro_f1=e.macro_f1,
                       per_label=e.per_label, text=e.text, interval=Interval.from_proto(e.interval))
                       for e in msg.equivalents])


@dataclass(frozen=True)
class ReportResult:
    """A report artifact, its Markdown text and its files (relative paths)."""

    report: ArtifactRef
    markdown: str
    files: list[str]

    @classmethod
    def from_proto(cls, msg: analysis_pb2.ReportResponse) -> Self:
        """Decode the last ``ReportResponse`` of the stream."""
        return cls(report=ref_from_proto(msg.report), markdown=msg.markdown, files=list(msg.files))
