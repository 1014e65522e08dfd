"""The Report job: gather an experiment's artifacts through their lineage, run the missing
analyses, draw the figures and publish report.md + report.html + summary.json + figures/.

Lineage followed from each evaluation: ``evaluation → onnx-model → model → training
datasets``, and the evaluation's test dataset. Extra ``input_uris`` are used by their kind
(dataset, model, or a finished analysis artifact). Missing analyses are computed through the
core (each published as its own artifact and reused next time):

* diversity of each training dataset (real training split and each synthetic set);
* similarity of each synthetic set, and of the real test split as a reference, to the real
  training split of its task;
* Figure 1's projection of the same embedding samples;
* the agreement sweep of each evaluation whose test set carries per-instance agreement;
* task-level subjectivity over all evaluations.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from synthclf.analysis.diversity import MAX_TEXTS, DiversityResult, pca_projection
from synthclf.analysis.inputs import read_evaluation
from synthclf.analysis.document import render_markdown
from synthclf.analysis.html import render_html
from synthclf.analysis.metrics import Metrics
from synthclf.analysis.report import build_document
from synthclf.analysis.report_data import DatasetRow, EvaluationRow, ModelRow, ReportData
from synthclf.analysis.service import RESULT_FILES, SERVICE, AnalysisCore
from synthclf.analysis.similarity import SimilarityResult
from synthclf.analysis.subjectivity import SweepResult, TaskSubjectivityResult
from synthclf.core.artifacts import (
    ArtifactRef, fetch, find, job_id, publish, read_artifact_file, read_manifest, single_flight, staging,
)
from synthclf.core.errors import InvalidInput, NotFound, SynthclfError, validated
from synthclf.core.inputs import read_dataset
from synthclf.core.limits import shown
from synthclf.core.progress import Progress, ProgressFn, ignore_progress

log = logging.getLogger("synthclf.analysis")
REPORT_FILE = "report.md"
HTML_FILE = "report.html"
SUMMARY_FILE = "summary.json"
#: Points per source in Figure 1 (a readable scatter).
PROJECTION_POINTS = 500
_RESULT_MODELS = {"diversity": DiversityResult, "similarity": SimilarityResult,
                  "instance-subjectivity": SweepResult, "task-subjectivity": TaskSubjectivityResult}


class _Collector:
    """Reads the artifacts of a report into :class:`ReportData` (manifests and small files only)."""

    def __init__(self, core: AnalysisCore, data: ReportData):
        self.core, self.data = core, data
        self.seen: set[str] = set()

    def _use(self, uri: str) -> bool:
        """Record ``uri`` as an input; False when it was already used."""
        if uri in self.seen:
            return False
        self.seen.add(uri)
        self.data.inputs.append(uri)
        return True

    def evaluation(self, uri: str) -> None:
        """Read an evaluation, then its test dataset and its model's lineage."""
        artifact, raw = read_evaluation(uri, self.core.settings)
        metrics = validated(Metrics, f"metrics of evaluation {shown(uri, 200)}",
                            {k: v for k, v in raw.items() if k in Metrics.model_fields})
        tags = raw.get("tags", {})
        row = EvaluationRow(
            task=tags.get("task", "?"), source=tags.get("source", "?"), macro_f1=metrics.macro_f1,
            accuracy=metrics.accuracy, support=metrics.support, evaluation_uri=uri,
            model=raw.get("model_uri", ""), dataset_uri=artifact.manifest.parameters.get("dataset_uri", ""),
            macro_f1_ci=metrics.macro_f1_ci, accuracy_ci=metrics.accuracy_ci, confidence=metrics.confidence,
            labels=metrics.labels, per_class=metrics.per_class, confusion=metrics.confusion,
            wall_time_s=raw.get("wall_time_s"))
        self.data.evaluations.append(row)
        self.seen.add(uri)
        if row.dataset_uri:
            self.dataset(row.dataset_uri)
        if row.model:
            self.lineage_model(row.model, row.task, row.source)

    def lineage_model(self, uri: str, task: str, source: str) -> None:
        """Follow an onnx-model or model artifact to its training datasets."""
        try:
            manifest = read_manifest(uri, self.core.settings, kind=("onnx-model", "model"))
        except (NotFound, InvalidInput):
            self.data.notes.append(f"model {uri} of {task} / {source} is gone: no curves or training data")
            return
        if manifest.kind == "onnx-model":
            for parent in manifest.inputs:
                self.lineage_model(parent, task, source)
        elif manifest.kind == "model":
            self.model(uri, task, source)

    def model(self, uri: str, task: str = "", source: str = "") -> None:
        """Read a model's curves and timings (from its manifest), then its training datasets."""
        if not self._use(uri):
            return
        manifest = read_manifest(uri, self.core.settings, kind="model")
        stats = manifest.stats
        curves = stats.get("curves") or self._curves_file(uri)
        sources = []
        # Training datasets only: manifest.inputs also lists a held-out validation set.
        training = [entry["uri"] for entry in stats.get("inputs", []) if "uri" in entry]
        for dataset_uri in training or manifest.inputs:
            row = self.dataset(dataset_uri)
            if row is not None:
                sources.append(row.source)
        self.data.models.append(ModelRow(
            uri=uri, task=task or str(stats.get("task", "?")), source=source or "+".join(sources) or "?",
            curves=curves or [], best_epoch=stats.get("best_epoch"), rows=stats.get("rows"),
            wall_time_s=stats.get("wall_time_s"), device=str(stats.get("device", ""))))

    def _curves_file(self, uri: str) -> list[dict]:
        raw = read_artifact_file(uri, "curves.json", self.core.settings, kind="model", required=False)
        return json.loads(raw).get("curves", []) if raw else []

    def dataset(self, uri: str) -> DatasetRow | None:
        """Read a dataset's manifest stats once; returns its row."""
        existing = next((d for d in self.data.datasets if d.uri == uri), None)
        if existing or not self._use(uri):
            return existing
        row = DatasetRow.from_stats(uri, read_manifest(uri, self.core.settings, kind="dataset").stats)
        self.data.datasets.append(row)
        return row

    def analysis(self, uri: str, kind: str) -> None:
        """Include a finished diversity / similarity / subjectivity artifact as it is."""
        if not self._use(uri):
            return
        result = _RESULT_MODELS[kind].model_validate_json(
            fetch(uri, self.core.settings, kind=kind).file(RESULT_FILES[kind]).read_text())
        if kind == "diversity":
            self.data.diversity.append(result)
        elif kind == "similarity":
            self.data.similarity.append(result)
        elif kind == "instance-subjectivity":
            self.data.sweeps.append(result)
        else:
            self.data.task_subjectivity = result

    def input(self, uri: str) -> None:
        """Use an extra input by its kind."""
        kind = read_manifest(uri, self.core.settings).kind
        if kind == "dataset":
            self.dataset(uri)
        elif kind in ("model", "onnx-model"):
            self.lineage_model(uri, "", "")
        elif kind == "evaluation":
            if uri not in self.seen:
                self.evaluation(uri)
        elif kind in _RESULT_MODELS:
            self.analysis(uri, kind)
        else:
            self.data.notes.append(f"input {uri} of kind '{kind}' is not used by reports")


def _try(data: ReportData, what: str, call):
    """Run one analysis; on a synthclf error, note why it is missing and go on."""
    try:
        return call()
    except SynthclfError as exc:
        log.warning("report: %s skipped: %s", what, exc.message)
        data.notes.append(f"{what} skipped: {exc.message}")
        return None


def _has_agreement(core: AnalysisCore, uri: str) -> bool:
    _, frame = read_dataset(uri, core.settings)
    return bool(frame["agreement"].notna().any())


def _analyse(core: AnalysisCore, data: ReportData, max_texts: int, seed: int,
             progress: ProgressFn) -> dict[str, dict[str, np.ndarray]]:
    """Compute the missing analyses into ``data``; return Figure 1's projections per task."""
    have_div = {d.dataset_uri for d in data.diversity}
    have_sim = {(s.synthetic_uri, s.real_uri) for s in data.similarity}
    projections: dict[str, dict[str, np.ndarray]] = {}
    rng = np.random.default_rng(seed)
    for task in data.tasks():
        datasets = [d for d in data.datasets if d.task == task]
        real = next((d for d in datasets if d.is_real_train), None)
        training = [d for d in datasets if not d.is_real_test]
        groups: dict[str, np.ndarray] = {}
        for d in training:
            progress(Progress(stage="report", message=f"diversity of {task} / {d.source}"))
            if d.uri not in have_div:
                result = _try(data, f"diversity of {d.uri}",
                              lambda d=d: core.diversity(d.uri, max_texts=max_texts, seed=seed, progress=progress))
                if result:
                    data.diversity.append(result[1])
                    data.inputs.append(result[0].uri)
            sample = _try(data, f"embeddings of {d.uri}",
                          lambda d=d: core.sample_embeddings(d.uri, max_texts, seed, progress)[1])
            if sample is not None and d.source not in groups:
                keep = rng.permutation(len(sample))[:PROJECTION_POINTS]
                groups[d.source] = sample[np.sort(keep)]
        if len(groups) >= 1:
            projections[task] = _try(data, f"projection of {task}", lambda g=groups: pca_projection(g, seed)) or {}
        if real is None:
            data.notes.append(f"{task}: no real training split among the inputs, so no similarity to real data")
            continue
        for d in datasets:
            if d.uri == real.uri or (d.uri, real.uri) in have_sim or (d.source == "real" and not d.is_real_test):
                continue
            progress(Progress(stage="report", message=f"similarity of {task} / {d.source} to real"))
            result = _try(data, f"similarity of {d.uri}",
                          lambda d=d: core.similarity(d.uri, real.uri, max_texts=max_texts, seed=seed,
                                                      progress=progress))
            if result:
                data.similarity.append(result[1])
                data.inputs.append(result[0].uri)
    have_sweep = {s.evaluation_uri for s in data.sweeps}
    without_agreement = set()
    for row in data.evaluations:
        if row.evaluation_uri in have_sweep or not row.dataset_uri:
            continue
        if not _has_agreement(core, row.dataset_uri):
            without_agreement.add(row.task)
            continue
        progress(Progress(stage="report", message=f"agreement sweep of {row.task} / {row.source}"))
        result = _try(data, f"agreement sweep of {row.evaluation_uri}",
                      lambda r=row: core.instance_subjectivity(evaluation_uri=r.evaluation_uri))
        if result:
            data.sweeps.append(result[1])
            data.inputs.append(result[0].uri)
    for task in sorted(without_agreement):
        data.notes.append(f"{task}: the test split has no per-annotator labels, so there is no agreement "
                          "sweep (Figure 2) for it")
    if data.task_subjectivity is None:
        result = _try(data, "task-level subjectivity",
                      lambda: core.task_subjectivity([r.evaluation_uri for r in data.evaluations]))
        if result:
            data.task_subjectivity = result[1]
            data.inputs.append(result[0].uri)
    return projections


@single_flight("report")
def make_report(core: AnalysisCore, title: str, evaluation_uris: list[str], input_uris: list[str], *,
                skip_analyses: bool = False, max_texts: int = MAX_TEXTS, seed: int = 0,
                usd_per_million_prompt_tokens: float = 0.0, usd_per_million_completion_tokens: float = 0.0,
                progress: ProgressFn = ignore_progress) -> tuple[ArtifactRef, str, list[str]]:
    """Render and publish the experiment report.

    Args:
        core: the analysis core (store, embedder, analyses).
        title: report title.
        evaluation_uris: evaluation artifacts tagged ``task`` and ``source``.
        input_uris: further artifacts, used by kind (datasets, models, analysis results).
        skip_analyses: only render what is given or already computed in lineage; compute nothing.
        max_texts: sample cap per dataset for diversity, similarity and the projection.
        seed: sample seed.
        usd_per_million_prompt_tokens: LLM prompt price for the cost column (US$).
        usd_per_million_completion_tokens: LLM completion price (US$).
        progress: ``report`` / ``embed`` events.

    Returns:
        (the ``report`` artifact, report.md text, the artifact's file paths).

    Raises:
        InvalidInput: no evaluations, ``max_texts`` < 1. NotFound: an input is missing.
    """
    if not evaluation_uris:
        raise InvalidInput("a report needs at least one evaluation URI")
    if max_texts < 1:
        raise InvalidInput(f"max_texts must be >= 1, got {max_texts}")
    params = {"title": title, "evaluations": evaluation_uris, "inputs": input_uris, "skip_analyses": skip_analyses,
              "max_texts": max_texts, "seed": seed, "usd_per_million_prompt_tokens": usd_per_million_prompt_tokens,
              "usd_per_million_completion_tokens": usd_per_million_completion_tokens}
    artifact_id = job_id("report", params)
    if existing := find(core.store, "report", artifact_id):
        artifact = fetch(existing.uri, core.settings, kind="report")
        return existing, artifact.file(REPORT_FILE).read_text(), [f.path for f in artifact.manifest.files]
    data = ReportData(title=title, usd_per_million_prompt_tokens=usd_per_million_prompt_tokens,
                      usd_per_million_completion_tokens=usd_per_million_completion_tokens)
    collector = _Collector(core, data)
    progress(Progress(stage="report", message=f"reading {len(evaluation_uris)} evaluations and their lineage"))
    for uri in evaluation_uris:
        collector.evaluation(uri)
    for uri in input_uris:
        collector.input(uri)
    projections = {} if skip_analyses else _analyse(core, data, max_texts, seed, progress)
    with staging() as folder:
        document = build_document(data, projections, folder)
        markdown = render_markdown(document)
        (folder / REPORT_FILE).write_text(markdown)
        (folder / HTML_FILE).write_text(render_html(document, folder))
        (folder / SUMMARY_FILE).write_text(data.model_dump_json(indent=2))
        files = sorted(p.relative_to(folder).as_posix() for p in Path(folder).rglob("*") if p.is_file())
        ref = publish(core.store, folder, kind="report", artifact_id=artifact_id, service=SERVICE,
                      parameters=params, inputs=list(dict.fromkeys(evaluation_uris + data.inputs)),
                      stats={"rows": [{"task": r.task, "source": r.source, "macro_f1": r.macro_f1,
                                       "accuracy": r.accuracy, "support": r.support} for r in data.evaluations],
                             "figures": len(document.images()), "notes": data.notes})
    log.info("report %s: %d evaluations, %d figures", ref.uri, len(data.evaluations), len(document.images()))
    return ref, markdown, files
