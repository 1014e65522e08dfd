"""The Report job: read an experiment's artifacts through their lineage and render them.

The report computes no analysis: the experiment flow decides which analyses run (one Prefect
task each, cached) and hands their artifacts over as ``input_uris``; this job reads them,
follows each evaluation's lineage (``evaluation → onnx-model → model → training datasets``,
and its test split) for training curves and generation counts, draws the figures and
publishes report.md + report.html + summary.json + figures/ (:mod:`synthclf.analysis.render`).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from synthclf.analysis.diversity import DiversityResult
from synthclf.analysis.files import RESULT_FILES, SERVICE
from synthclf.analysis.projection import ProjectionResult
from synthclf.analysis.render import render_report
from synthclf.analysis.report_data import DatasetRow, ModelRow, ReportData
from synthclf.analysis.runs import load_run
from synthclf.analysis.similarity import SimilarityResult
from synthclf.analysis.subjectivity import SweepResult, TaskSubjectivityResult
from synthclf.analysis.verdict import TaskVerdict
from synthclf.core.artifacts import (
    ArtifactRef,
    fetch,
    find,
    job_id,
    publish,
    read_artifact_file,
    read_manifest,
    single_flight,
    staging,
)
from synthclf.core.config import Settings
from synthclf.core.errors import InvalidInput, NotFound
from synthclf.core.limits import check_at_most
from synthclf.core.progress import Progress, ProgressFn, ignore_progress
from synthclf.core.store import ArtifactStore

log = logging.getLogger("synthclf.analysis")
REPORT_FILE = "report.md"
HTML_FILE = "report.html"
SUMMARY_FILE = "summary.json"
#: The analysis kinds a report shows as they are.
RESULT_MODELS: dict[str, type[BaseModel]] = {
    "diversity": DiversityResult, "similarity": SimilarityResult, "instance-subjectivity": SweepResult,
    "task-subjectivity": TaskSubjectivityResult, "projection": ProjectionResult, "verdict": TaskVerdict}


class _Collector:
    """Reads the artifacts of a report into :class:`ReportData` (manifests and small files only)."""

    def __init__(self, settings: Settings, data: ReportData):
        self.settings, self.data = settings, data
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
        if uri in self.seen:
            return
        run = load_run(uri, self.settings)
        self.data.runs.append(run)
        self.seen.add(uri)
        if run.dataset_uri:
            self.dataset(run.dataset_uri)
        if run.model_uri and run.condition.is_table1:
            self.lineage_model(run.model_uri, run.condition.task, run.condition.label)

    def lineage_model(self, uri: str, task: str, source: str) -> None:
        """Follow an onnx-model or model artifact to its training datasets."""
        try:
            manifest = read_manifest(uri, self.settings, kind=("onnx-model", "model"))
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
        manifest = read_manifest(uri, self.settings, kind="model")
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
        raw = read_artifact_file(uri, "curves.json", self.settings, kind="model", required=False)
        return json.loads(raw).get("curves", []) if raw else []

    def dataset(self, uri: str) -> DatasetRow | None:
        """Read a dataset's manifest stats once; returns its row."""
        existing = next((d for d in self.data.datasets if d.uri == uri), None)
        if existing or not self._use(uri):
            return existing
        manifest = read_manifest(uri, self.settings, kind="dataset")
        row = DatasetRow.from_stats(uri, manifest.stats)
        prompts = manifest.parameters.get("prompts")
        if isinstance(prompts, dict):
            row.prompts = prompts
        self.data.datasets.append(row)
        return row

    def analysis(self, uri: str, kind: str) -> None:
        """Include a finished analysis artifact as it is."""
        if not self._use(uri):
            return
        result = RESULT_MODELS[kind].model_validate_json(
            fetch(uri, self.settings, kind=kind).file(RESULT_FILES[kind]).read_text())
        if isinstance(result, TaskSubjectivityResult):
            self.data.task_subjectivity = result
        else:
            lists: dict[str, list[Any]] = {
                "diversity": self.data.diversity, "similarity": self.data.similarity,
                "instance-subjectivity": self.data.sweeps, "projection": self.data.projections,
                "verdict": self.data.verdicts}
            lists[kind].append(result)

    def input(self, uri: str) -> None:
        """Use an extra input by its kind."""
        kind = read_manifest(uri, self.settings).kind
        if kind == "dataset":
            self.dataset(uri)
        elif kind in ("model", "onnx-model"):
            self.lineage_model(uri, "", "")
        elif kind == "evaluation":
            self.evaluation(uri)
        elif kind in RESULT_MODELS:
            self.analysis(uri, kind)
        else:
            self.data.notes.append(f"input {uri} of kind '{kind}' is not used by reports")


@single_flight("report")
def make_report(store: ArtifactStore, settings: Settings, title: str, evaluation_uris: list[str],
                input_uris: list[str], *, usd_per_million_prompt_tokens: float = 0.0,
                usd_per_million_completion_tokens: float = 0.0,
                progress: ProgressFn = ignore_progress) -> tuple[ArtifactRef, str, list[str]]:
    """Render and publish the experiment report from the artifacts it is given.

    Args:
        store: the artifact store reports are published to.
        settings: store credentials and cache folder for reading inputs.
        title: report title.
        evaluation_uris: evaluation artifacts with conditions.
        input_uris: analysis artifacts (verdict, diversity, similarity, projection,
            instance- and task-subjectivity) and any datasets or models, used by kind.
        usd_per_million_prompt_tokens: LLM prompt price for the cost column (US$).
        usd_per_million_completion_tokens: LLM completion price (US$).
        progress: ``report`` events.

    Returns:
        (the ``report`` artifact, report.md text, the artifact's file paths).

    Raises:
        InvalidInput: no evaluations, more URIs than SYNTHCLF_MAX_REQUEST_URIS, an input of
            the wrong kind, or an evaluation without a condition. NotFound: an input is missing.
    """
    if not evaluation_uris:
        raise InvalidInput("a report needs at least one evaluation URI")
    check_at_most(len(evaluation_uris) + len(input_uris), settings, "max_request_uris", "evaluation and input URIs")
    params = {"title": title, "evaluations": evaluation_uris, "inputs": input_uris,
              "usd_per_million_prompt_tokens": usd_per_million_prompt_tokens,
              "usd_per_million_completion_tokens": usd_per_million_completion_tokens, "format": 2}
    artifact_id = job_id("report", params)
    if existing := find(store, "report", artifact_id):
        artifact = fetch(existing.uri, settings, kind="report")
        return existing, artifact.file(REPORT_FILE).read_text(), [f.path for f in artifact.manifest.files]
    data = ReportData(title=title, usd_per_million_prompt_tokens=usd_per_million_prompt_tokens,
                      usd_per_million_completion_tokens=usd_per_million_completion_tokens)
    collector = _Collector(settings, data)
    progress(Progress(stage="report", message=f"reading {len(evaluation_uris)} evaluations and their lineage"))
    for uri in evaluation_uris:
        collector.evaluation(uri)
    for uri in input_uris:
        collector.input(uri)
    progress(Progress(stage="report", message="drawing figures and rendering report.md / report.html"))
    with staging() as folder:
        rendered = render_report(data, Path(folder))
        (folder / REPORT_FILE).write_text(rendered.markdown)
        (folder / HTML_FILE).write_text(rendered.html)
        (folder / SUMMARY_FILE).write_text(json.dumps(rendered.summary, indent=2))
        files = sorted(p.relative_to(folder).as_posix() for p in Path(folder).rglob("*") if p.is_file())
        ref = publish(store, folder, kind="report", artifact_id=artifact_id, service=SERVICE,
                      parameters=params, inputs=list(dict.fromkeys(evaluation_uris + data.inputs)),
                      stats={"verdicts": {v.task: v.decision for v in data.verdicts},
                             "figures": len(rendered.figures), "notes": data.notes})
    log.info("report %s: %d evaluations, %d verdicts, %d figures", ref.uri, len(data.runs), len(data.verdicts),
             len(rendered.figures))
    return ref, rendered.markdown, files
