"""The answer for one task: replace, stretch or don't — with the learning curve behind it.

The practitioner's question the paper (Li et al. 2023, §6) leaves open per task: can the
synthetic data *replace* the real labels, *stretch* a few real labels, or neither? Rules, with
margin δ (default 0.02 Macro-F1) and the intervals of :mod:`synthclf.analysis.table1` at the
evaluations' confidence level (Evaluate's ``confidence``, default 95%; seeds and test set
resampled, paired test resamples):

* **replace** — some synthetic source alone (no real rows) is within δ of the real reference:
  the lower bound of the interval of (synthetic − real reference) is ≥ −δ. The real reference
  is the full-real model, or the learning-curve point that scores highest where one beats it
  (a subset of the real labels is a bar the full set reaches with a better recipe: a full-real
  model below its own curve has failed to train — e.g. collapsed to the majority class — and
  the verdict says so in :attr:`TaskVerdict.warnings` rather than let it be beaten);
* **stretch** — otherwise, mixing a synthetic source into k real rows per label beats k real
  rows alone by more than δ for some curve size k: the lower bound of the interval of the
  gain (mixed − real at k) is > δ;
* **don't** — neither.

Without resamples (an interval cannot be formed) the point estimates take the bounds' place,
and the reason says so. The same rule text is printed in the report (:data:`RULE`) and in
docs/analysis.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from pydantic import BaseModel, Field

from synthclf.analysis.condition import source_rank
from synthclf.analysis.equivalent import Equivalent, fit_curve, real_label_equivalent
from synthclf.analysis.metrics import CONFIDENCE, Interval, percentile_interval
from synthclf.analysis.runs import ScoredRun
from synthclf.analysis.table1 import SeedAggregate, aggregate, check_paired, replicates
from synthclf.core.errors import InvalidInput

#: Default margin δ in Macro-F1.
DELTA = 0.02
#: Decisions, strongest first.
DECISIONS = ("replace", "stretch", "dont")
#: The rule as printed in reports ({delta} and {level} filled in).
RULE = ("replace if some synthetic source alone is within δ = {delta:g} Macro-F1 of the real reference — the "
        "full-real model, or the best learning-curve point where one scores higher (the lower bound of the "
        "{level} interval of synthetic − real reference is ≥ −δ); otherwise stretch if "
        "mixing a synthetic source into k real rows per label beats k real rows alone by more than δ for "
        "some curve size k (the lower bound of the {level} interval of the gain is > δ); otherwise don't. "
        "Intervals resample the training seeds and the test set.")


class CurvePoint(BaseModel):
    """One size of the real-data learning curve (one backbone)."""

    backbone: str
    per_label: int
    macro_f1: float = Field(description="Mean Macro-F1 over seeds.")
    macro_f1_sd: float | None = None
    macro_f1_ci: Interval | None = None
    fitted: float = Field(description="Isotonic fit at this size.")
    seeds: int


class Difference(BaseModel):
    """A difference of mean Macro-F1 between two recipes, with its interval."""

    value: float
    interval: Interval | None = None

    def bound(self, lower: bool = True) -> float:
        """The interval's lower (or upper) bound; the value itself without an interval."""
        if self.interval is None:
            return self.value
        return self.interval.low if lower else self.interval.high

    def text(self) -> str:
        """The difference as shown: ``+0.012 [-0.004, +0.030]`` (the value alone without an interval)."""
        shown = f"{self.value:+.3f}"
        return shown if self.interval is None else shown + f" [{self.interval.low:+.3f}, {self.interval.high:+.3f}]"


class ReplaceCheck(BaseModel):
    """A synthetic source alone against the real reference (the full-real model or a curve point)."""

    source: str
    backbone: str
    macro_f1: float
    reference: str = Field(description="The real reference model: 'full real' or a curve point, 'real × 32/label'.")
    reference_macro_f1: float
    difference: Difference = Field(description="synthetic − real reference.")
    passes: bool


class StretchCheck(BaseModel):
    """k real rows per label + a synthetic source against k real rows alone."""

    source: str
    backbone: str
    real_per_label: int
    mixed_macro_f1: float
    real_macro_f1: float
    gain: Difference = Field(description="mixed − real alone.")
    passes: bool


class EquivalentRow(BaseModel):
    """A synthetic or mixed model placed on the learning curve, with its cost."""

    source: str
    backbone: str
    real_per_label: int = Field(0, description="Real rows per label mixed in (0: synthetic alone).")
    label: str
    macro_f1: float
    macro_f1_ci: Interval | None = None
    equivalent: Equivalent
    text: str = Field(description="The equivalent as shown, e.g. '22 (15–31)'.")
    synthetic_rows: int | None = Field(None, description="Rows of the synthetic set.")
    llm_cost_usd: float | None = Field(None, description="Recorded LLM cost of the synthetic set (US$).")
    usd_per_equivalent_label: float | None = Field(None, description="LLM cost / (equivalent × labels).")
    human_cost_usd: float | None = Field(None, description="label_cost × equivalent × labels (US$).")


class TaskVerdict(BaseModel):
    """One task's verdict with everything behind it."""

    task: str
    decision: str = Field(description="'replace', 'stretch' or 'dont'.")
    reason: str
    rule: str
    delta: float
    confidence: float = CONFIDENCE
    n_labels: int
    curve: list[CurvePoint] = Field(default_factory=list)
    equivalents: list[EquivalentRow] = Field(default_factory=list)
    replace: list[ReplaceCheck] = Field(default_factory=list)
    stretch: list[StretchCheck] = Field(default_factory=list)
    table1: list[SeedAggregate] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list, description=(
        "Defects of the evidence found on the way, e.g. a full-real model below its own learning curve."))
    subjectivity: int | None = Field(None, description="The task's subjectivity rating, 1..5 stars (catalog).")
    agreement: float | None = Field(None, description="Mean instance agreement of the test split, where known.")
    label_cost_usd: float | None = None
    evaluation_uris: list[str] = Field(default_factory=list)

    @property
    def decision_text(self) -> str:
        """The decision as shown ("don't" with its apostrophe)."""
        return "don't" if self.decision == "dont" else self.decision


def rule_text(delta: float, confidence: float = CONFIDENCE) -> str:
    """:data:`RULE` with δ and the interval level filled in."""
    return RULE.format(delta=delta, level=f"{confidence:.0%}")


def paired_difference(a: Sequence[ScoredRun], b: Sequence[ScoredRun], a_mean: float, b_mean: float,
                      rng: np.random.Generator, confidence: float) -> Difference:
    """Mean Macro-F1 of recipe ``a`` − recipe ``b`` with the interval of the paired two-level
    bootstrap (seeds and the shared test resamples, :func:`synthclf.analysis.table1.replicates`);
    no interval when a run lacks resamples."""
    ra, rb = replicates(a, rng), replicates(b, rng)
    interval = None if ra is None or rb is None else percentile_interval(ra - rb, confidence)
    return Difference(value=a_mean - b_mean, interval=interval)


def decide(replace: Sequence[ReplaceCheck], stretch: Sequence[StretchCheck], delta: float,
           with_intervals: bool = True) -> tuple[str, str]:
    """The decision and its one-sentence reason from the checks (see the module's rules)."""
    note = "" if with_intervals else " (point estimates: the evaluations carry no resamples)"
    passing = [r for r in replace if r.passes]
    if passing:
        best = max(passing, key=lambda r: r.difference.value)
        return "replace", (f"{best.source} data alone reaches Macro-F1 {best.macro_f1:.3f} against "
                           f"{best.reference_macro_f1:.3f} for the real reference ({best.reference}): difference "
                           f"{best.difference.text()}, not worse than −δ = −{delta:g}{note}.")
    gains = [s for s in stretch if s.passes]
    if gains:
        best_mix = max(gains, key=lambda s: s.gain.value)
        return "stretch", (f"adding {best_mix.source} data to {best_mix.real_per_label} real rows per label raises "
                           f"Macro-F1 from {best_mix.real_macro_f1:.3f} to {best_mix.mixed_macro_f1:.3f}: gain "
                           f"{best_mix.gain.text()}, more than δ = {delta:g}{note}.")
    if not replace and not stretch:
        return "dont", ("no comparison could be made: no synthetic source alone was evaluated beside a "
                        "full-real model (replace), and no mixed model beside its curve point (stretch).")
    parts = []
    if replace:
        best = max(replace, key=lambda r: r.difference.value)
        parts.append(f"the best synthetic source alone ({best.source}) is {best.difference.text()} "
                     f"from the real reference ({best.reference})")
    if stretch:
        best_mix = max(stretch, key=lambda s: s.gain.value)
        parts.append(f"the best mix ({best_mix.source} into {best_mix.real_per_label} real/label) gains "
                     f"{best_mix.gain.text()}")
    return "dont", "; ".join(parts) + f" — neither clears δ = {delta:g}{note}."


def task_verdict(runs: Sequence[ScoredRun], *, n_labels: int, delta: float = DELTA,
                 label_cost_usd: float | None = None, synthetic_costs: Mapping[str, tuple[int, float | None]] | None = None,
                 subjectivity: int | None = None, agreement: float | None = None, seed: int = 0) -> TaskVerdict:
    """The verdict of one task from its scored runs.

    Args:
        runs: the task's evaluations (Table-1 models, curve points, mixed models), paired.
        n_labels: labels of the task (for costs per label).
        delta: margin δ in Macro-F1, in [0, 1).
        label_cost_usd: price of one human label (US$), or None.
        synthetic_costs: per synthetic source, (rows, recorded LLM cost in US$ or None).
        subjectivity: the task's rating (catalog), as evidence.
        agreement: mean instance agreement of the test split, as evidence.
        seed: seed of the seed resampling.

    Returns:
        The :class:`TaskVerdict`.

    Raises:
        InvalidInput: no runs, runs of several tasks, unpaired runs, δ outside [0, 1).
    """
    if not runs:
        raise InvalidInput("a verdict needs the evaluations of one task")
    tasks = sorted({r.condition.task for r in runs})
    if len(tasks) > 1:
        raise InvalidInput(f"a verdict is for one task, got evaluations of {', '.join(tasks)}")
    if not 0.0 <= delta < 1.0:
        raise InvalidInput(f"delta must be in [0, 1), got {delta}")
    check_paired(runs)
    confidence = runs[0].confidence
    rng = np.random.default_rng(seed)
    cells = aggregate(runs, seed)
    members: dict[tuple, list[ScoredRun]] = {}
    for run in runs:
        members.setdefault(run.condition.group(), []).append(run)
    with_intervals = all(r.macro_f1_resamples is not None for r in runs)
    verdict = TaskVerdict(task=tasks[0], decision="dont", reason="", rule=rule_text(delta, confidence), delta=delta,
                          confidence=confidence, n_labels=n_labels, table1=[c for c in cells if c.condition.is_table1],
                          subjectivity=subjectivity, agreement=agreement, label_cost_usd=label_cost_usd,
                          evaluation_uris=[r.evaluation_uri for r in runs])
    costs = dict(synthetic_costs or {})
    for backbone in sorted({c.condition.backbone for c in cells}):
        mine = [c for c in cells if c.condition.backbone == backbone]
        curve = sorted((c for c in mine if c.condition.is_curve_point), key=lambda c: c.condition.real_per_label)
        full = next((c for c in mine if c.condition.is_full_real), None)
        synthetic = [c for c in mine if c.condition.is_table1 and not c.condition.uses_real]
        placed = [c for c in mine if c.condition.is_mixed or (c.condition.is_table1 and not c.condition.is_full_real)]
        mixed = [c for c in mine if c.condition.is_mixed]
        if curve:
            sizes = [c.condition.real_per_label for c in curve]
            fitted = fit_curve(sizes, [c.macro_f1 for c in curve])
            verdict.curve += [CurvePoint(backbone=backbone, per_label=c.condition.real_per_label, macro_f1=c.macro_f1,
                                         macro_f1_sd=c.macro_f1_sd, macro_f1_ci=c.macro_f1_ci, fitted=float(f),
                                         seeds=len(c.seeds)) for c, f in zip(curve, fitted)]
            curve_reps = [replicates(members[c.condition.group()], rng) for c in curve]
            for cell in sorted(placed, key=lambda c: (c.condition.real_per_label, source_rank(c.condition.source))):
                target_reps = replicates(members[cell.condition.group()], rng)
                curve_present = [r for r in curve_reps if r is not None]
                usable = target_reps is not None and len(curve_present) == len(curve_reps)
                equivalent = real_label_equivalent(
                    sizes, [c.macro_f1 for c in curve], cell.macro_f1,
                    curve_replicates=np.vstack(curve_present) if usable else None,
                    target_replicates=target_reps if usable else None, confidence=confidence)
                verdict.equivalents.append(_equivalent_row(cell, equivalent, costs, n_labels, label_cost_usd))
        reference = None
        if full is not None:
            reference = max([full, *curve], key=lambda c: c.macro_f1)
            verdict.warnings += _baseline_warnings(full, reference, members[full.condition.group()], delta, backbone)
        for cell in synthetic:
            if reference is None:
                continue
            difference = paired_difference(members[cell.condition.group()], members[reference.condition.group()],
                                           cell.macro_f1, reference.macro_f1, rng, confidence)
            verdict.replace.append(ReplaceCheck(
                source=cell.condition.source, backbone=backbone, macro_f1=cell.macro_f1,
                reference="full real" if reference is full else reference.label,
                reference_macro_f1=reference.macro_f1, difference=difference, passes=difference.bound() >= -delta))
        by_size = {c.condition.real_per_label: c for c in curve}
        for cell in mixed:
            alone = by_size.get(cell.condition.real_per_label)
            if alone is None:
                continue
            gain = paired_difference(members[cell.condition.group()], members[alone.condition.group()],
                                     cell.macro_f1, alone.macro_f1, rng, confidence)
            verdict.stretch.append(StretchCheck(
                source=cell.condition.source, backbone=backbone, real_per_label=cell.condition.real_per_label,
                mixed_macro_f1=cell.macro_f1, real_macro_f1=alone.macro_f1, gain=gain, passes=gain.bound() > delta))
    decision, reason = decide(verdict.replace, verdict.stretch, delta, with_intervals)
    return verdict.model_copy(update={"decision": decision, "reason": reason})


def _baseline_warnings(full: SeedAggregate, reference: SeedAggregate, runs: Sequence[ScoredRun], delta: float,
                       backbone: str) -> list[str]:
    """What is wrong with a full-real model: labels no seed predicts, a score below its own curve."""
    where = f" [{backbone}]" if backbone else ""
    warnings = []
    never = [label for label in runs[0].per_class
             if all((m := r.per_class.get(label)) is not None and m.support > 0 and m.recall == 0.0 for r in runs)]
    if never:
        warnings.append(f"the full-real model{where} never predicts {', '.join(repr(n) for n in never)} on the test "
                        "split (collapsed to the other labels: too few rows of those labels, or too few epochs)")
    if reference is not full and reference.macro_f1 - full.macro_f1 > delta:
        warnings.append(f"the full-real model{where} (Macro-F1 {full.macro_f1:.3f}) scores below the {reference.label} "
                        f"learning-curve point ({reference.macro_f1:.3f}): synthetic data is compared with that point "
                        "instead; train the full-real model longer or on balanced labels for a fair ceiling")
    return warnings


def _equivalent_row(cell: SeedAggregate, equivalent: Equivalent, costs: Mapping[str, tuple[int, float | None]],
                    n_labels: int, label_cost_usd: float | None) -> EquivalentRow:
    rows, llm_cost = costs.get(cell.condition.source, (None, None))
    per_label = equivalent.per_label
    alone = cell.condition.is_table1
    per_equivalent = (llm_cost / (per_label * n_labels) if alone and llm_cost is not None and per_label
                      else None)
    human = label_cost_usd * per_label * n_labels if alone and label_cost_usd and per_label else None
    return EquivalentRow(source=cell.condition.source, backbone=cell.condition.backbone,
                         real_per_label=cell.condition.real_per_label, label=cell.label, macro_f1=cell.macro_f1,
                         macro_f1_ci=cell.macro_f1_ci, equivalent=equivalent, text=equivalent.text,
                         synthetic_rows=rows, llm_cost_usd=llm_cost if alone else None,
                         usd_per_equivalent_label=per_equivalent, human_cost_usd=human)

