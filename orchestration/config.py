"""Typed parameters of the flows: service endpoints, step options, data sources, experiments.

Everything a flow takes is a pydantic model here, so Prefect derives the deployments'
parameter schemas (and its UI forms) from the same definitions the Python callers use.
A zero or empty option means "the service's default" (documented in the protos), so the
defaults live in one place.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from synthclf.core.config import Settings, get_settings

#: Services a flow talks to.
SERVICES = ("generation", "training", "inference", "analysis")
#: Base data sources of the paper's Table 1.
BASE_SOURCES = ("real", "zero_shot", "few_shot")
#: Synthetic (LLM-generated) sources, i.e. the generation modes.
SYNTHETIC_SOURCES = ("zero_shot", "few_shot")

_PART = re.compile(r"^(?P<source>[a-z_]+)(?::(?P<amount>\d+(?:\.\d+)?))?$")


class Endpoints(BaseModel):
    """host:port of each service (all the same address for the all-in-one server)."""

    generation: str = Field(description="Generation service host:port.")
    training: str = Field(description="Training service host:port.")
    inference: str = Field(description="Inference service host:port.")
    analysis: str = Field(description="Analysis service host:port.")

    @classmethod
    def all_in_one(cls, address: str) -> "Endpoints":
        """Every service at one address."""
        return cls(**{service: address for service in SERVICES})

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> "Endpoints":
        """From ``SYNTHCLF_ADDRESS`` / ``SYNTHCLF_<SERVICE>_ADDRESS`` (what a Prefect worker has)."""
        settings = settings or get_settings()
        return cls(**{service: settings.service_address(service) for service in SERVICES})


class GenerationOptions(BaseModel):
    """How synthetic sets are generated (``synthclf.v1.GenerateRequest``)."""

    model_config = ConfigDict(extra="forbid")

    rows_per_label: int = Field(50, gt=0, description="Accepted synthetic rows per label, per mode.")
    examples_per_request: int = Field(3, gt=0, description="Few-shot: real examples per LLM request.")
    temperature: float = Field(0.9, ge=0, le=2.0, description="LLM sampling temperature (0: greedy decoding).")
    max_words: int = Field(0, ge=0, description="Word limit per text; 0 = the task's max_words (catalog).")
    diversity_every: int = Field(0, ge=0, description="Diversity prompt every n requests of a label; 0 never.")
    model: str = Field("", description="LLM model name; '' = the service's SYNTHCLF_LLM_MODEL.")


class TrainingOptions(BaseModel):
    """How classifiers are fine-tuned (``synthclf.v1.TrainRequest``)."""

    model_config = ConfigDict(extra="forbid")

    epochs: int = Field(3, gt=0, description="Maximum epochs (early stopping on validation Macro-F1).")
    batch_size: int = Field(16, gt=0, description="Texts per optimizer step.")
    learning_rate: float = Field(0.0, ge=0, description="Peak AdamW learning rate; 0 = the service's default.")
    max_length: int = Field(128, gt=0, description="Tokens per text; longer texts are truncated.")
    quantize_int8: bool = Field(False, description="Also export a dynamic int8 ONNX copy with its measured accuracy change.")


class ConcurrencyLimits(BaseModel):
    """Slots of the Prefect global concurrency limits that keep jobs from starving the machine."""

    model_config = ConfigDict(extra="forbid")

    generation: int = Field(1, ge=1, description="Generation jobs at once (limit 'synthclf-generation').")
    training: int = Field(1, ge=1, description="Training and ONNX-export jobs at once (limit 'synthclf-training').")
    analysis: int = Field(2, ge=1, description="Evaluation, analysis and report jobs at once "
                          "(limit 'synthclf-analysis'; each evaluation also holds a Predict stream).")
    heavy: int = Field(1, ge=1, description="Generation and training jobs at once in total (limit "
                       "'synthclf-heavy'). 1 where the LLM server and training share a few CPUs: on 2 "
                       "vCPUs a fine-tune beside llama.cpp ran 10-50x slower than alone; raise it when "
                       "the LLM runs elsewhere (a GPU server, an API).")


class SourcePart(BaseModel):
    """One base source of a training mixture and how much of it to draw."""

    source: Literal["real", "zero_shot", "few_shot"]
    count: int = Field(0, ge=0, description="Rows to draw (stratified); 0 with fraction 0 = all rows.")
    fraction: float = Field(0.0, ge=0, le=1, description="Share of the rows to draw, in (0, 1].")


def parse_source(spec: str) -> list[SourcePart]:
    """Parse a data-source name into its mixture parts.

    ``real``, ``zero_shot`` and ``few_shot`` are the paper's sources; ``a+b`` mixes sources,
    each optionally with ``:N`` (a row count) or ``:0.F`` (a fraction), e.g.
    ``real:100+few_shot`` (100 real rows plus the whole few-shot set) or
    ``real:0.1+zero_shot:0.5``.

    Args:
        spec: the source name.

    Returns:
        The parts, in the order given.

    Raises:
        ValueError: unknown source, repeated source, or an amount that is neither a count
            nor a fraction in (0, 1].
    """
    parts = []
    for raw in spec.split("+"):
        match = _PART.match(raw.strip())
        if not match or match["source"] not in BASE_SOURCES:
            raise ValueError(f"data source '{spec}': '{raw}' is not one of {', '.join(BASE_SOURCES)} "
                             "(optionally with :count or :fraction)")
        amount = match["amount"]
        if amount is None:
            parts.append(SourcePart(source=match["source"]))
        elif "." in amount:
            if not 0.0 < float(amount) <= 1.0:
                raise ValueError(f"data source '{spec}': fraction {amount} is not in (0, 1]")
            parts.append(SourcePart(source=match["source"], fraction=float(amount)))
        else:
            if int(amount) == 0:
                raise ValueError(f"data source '{spec}': a count must be positive")
            parts.append(SourcePart(source=match["source"], count=int(amount)))
    names = [p.source for p in parts]
    if len(set(names)) != len(names):
        raise ValueError(f"data source '{spec}' names a source twice")
    return parts


class UserData(BaseModel):
    """A user's own data for one task: an uploaded file and its column mapping (README, "Your own task")."""

    model_config = ConfigDict(extra="forbid")

    upload_uri: str = Field(description="`upload` artifact with the data (`synthclf datasets upload FILE`).")
    test_upload_uri: str = Field("", description="Optional `upload` with the test rows; then all of "
                                 "upload_uri is training data.")
    text_column: str = Field("text", min_length=1, description="Column with the texts.")
    label_column: str = Field("label", min_length=1, description="Column with the labels.")
    split_column: str = Field("", description="Column with train/test per row; '' = a stratified split.")
    agreement_column: str = Field("", description="Column with annotator agreement in [0, 1].")
    annotations_column: str = Field("", description="Column with a list of per-annotator labels.")

    def columns(self) -> dict[str, str]:
        """The column mapping as GenerationClient.import_real_data takes it."""
        return {"text": self.text_column, "label": self.label_column, "split": self.split_column,
                "agreement": self.agreement_column, "annotations": self.annotations_column}


#: Smallest learning-curve size (real rows per label).
CURVE_START = 8


class LearningCurveOptions(BaseModel):
    """The real-data learning curve, the mixed models and the verdict (docs/analysis.md)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(True, description="Train the learning curve and mixed models and decide the verdict.")
    sizes: list[int] = Field(default_factory=list, description="Real rows per label of the curve's points; [] = "
                             "8, 16, 32, … (doubling) up to max_per_label or the fewest rows of a label in the "
                             "task's real training split.")
    max_per_label: int = Field(0, ge=0, description="Largest curve size; 0 = what the training split holds.")
    seeds: list[int] = Field([0, 1, 2], min_length=1, description="Training seeds (and row draws) of every curve "
                             "point and mixed model; the paper-style interval needs >= 3.")
    stretch_sizes: list[int] | None = Field(None, description="k real rows per label that each synthetic set is "
                                            "mixed into; None = the curve's two smallest sizes, [] = none.")
    min_steps: int = Field(24, ge=0, description="Optimizer steps a curve point trains for at least (its epochs "
                           "are raised to reach them): with a fixed epoch count, 8 rows per label would get one "
                           "step per epoch and the curve's start would measure under-training, not data.")
    delta: float = Field(0.02, ge=0, lt=1, description="Margin δ in Macro-F1 of the verdict's rules.")
    label_cost_usd: float | None = Field(None, ge=0, description="Price of one human label (US$): adds the "
                                         "cost per equivalent real label; None = no cost comparison.")

    @field_validator("sizes", "stretch_sizes")
    @classmethod
    def _positive_sizes(cls, sizes: list[int] | None) -> list[int] | None:
        if sizes is not None and (any(n < 1 for n in sizes) or len(set(sizes)) != len(sizes)):
            raise ValueError(f"sizes must be distinct positive rows per label, got {sizes}")
        return sorted(sizes) if sizes is not None else None

    def curve_sizes(self, label_counts: dict[str, int]) -> list[int]:
        """The curve's sizes for a training split with ``label_counts`` rows per label.

        Sizes a label cannot fill are dropped (never drawn with replacement).
        """
        available = min(label_counts.values()) if label_counts else 0
        cap = min(available, self.max_per_label) if self.max_per_label else available
        if self.sizes:
            return [n for n in self.sizes if n <= cap]
        sizes, n = [], CURVE_START
        while n <= cap:
            sizes.append(n)
            n *= 2
        return sizes

    def mix_sizes(self, curve: list[int]) -> list[int]:
        """k values of the mixed models (only sizes on the curve: each is compared with its point)."""
        wanted = curve[:2] if self.stretch_sizes is None else self.stretch_sizes
        return [k for k in wanted if k in curve]


class ExperimentConfig(BaseModel):
    """The experiment matrix — tasks × data sources × backbones × seeds — and its sizes."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field("", description="Report title; '' = one naming the tasks.")
    tasks: list[str] = Field(["sms_spam"], min_length=1, description="Catalog tasks with real data here, "
                             "or task artifact URIs (`synthclf tasks publish`) with their data in user_data.")
    sources: list[str] = Field(
        list(BASE_SOURCES), min_length=1,
        description="Training data per model: real, zero_shot, few_shot, or mixtures such as "
        "'real+zero_shot', 'real:100+few_shot:0.5' (see parse_source).")
    backbones: list[str] = Field([""], min_length=1, description="Encoders to fine-tune; '' = the "
                                 "service's default (all-MiniLM-L6-v2, offline).")
    seeds: list[int] = Field([0], min_length=1, description="Training seeds (weight init, batch order); "
                             "the data (splits, synthetic sets) are shared across them.")
    data_seed: int = Field(0, description="Seed of the real train/test split and of generation.")
    real_train_rows: int = Field(0, ge=0, description="Real training rows (stratified); 0 = as many as "
                                 "a synthetic set (rows_per_label × labels), a like-for-like comparison.")
    test_rows: int = Field(0, ge=0, description="Real test rows (stratified); 0 = the whole test split.")
    generation: GenerationOptions = Field(default_factory=GenerationOptions)
    training: TrainingOptions = Field(default_factory=TrainingOptions)
    analyses: bool = Field(True, description="Run diversity, similarity and subjectivity analyses (flow "
                           "'analyze') before the report.")
    max_texts: int = Field(0, ge=0, description="Texts per dataset in the analyses; 0 = the service's 1000.")
    user_data: dict[str, UserData] = Field(
        default_factory=dict, description="Per task (as named in `tasks`: a catalog name or a task "
        "URI), the user's uploaded data to import instead of the catalog's packaged data.")
    curve: LearningCurveOptions = Field(default_factory=LearningCurveOptions,
                                        description="Learning curve, mixed models and verdict.")
    concurrency: ConcurrencyLimits | None = Field(
        None, description="Set the Prefect concurrency limits to these slots; None keeps the server's "
        "(creating missing ones with ConcurrencyLimits' defaults).")

    @field_validator("sources")
    @classmethod
    def _valid_sources(cls, sources: list[str]) -> list[str]:
        for spec in sources:
            parse_source(spec)
        if len(set(sources)) != len(sources):
            raise ValueError(f"sources repeat: {sources}")
        return sources

    def train_rows_for(self, labels: int) -> int:
        """Real training rows to import for a task of ``labels`` labels: ``real_train_rows``, or
        one synthetic set's size (``rows_per_label × labels``) when that is 0."""
        return self.real_train_rows or self.generation.rows_per_label * labels

    def synthetic_modes(self) -> list[str]:
        """Generation modes some source needs, in :data:`SYNTHETIC_SOURCES` order."""
        used = {part.source for spec in self.sources for part in parse_source(spec)}
        return [mode for mode in SYNTHETIC_SOURCES if mode in used]
