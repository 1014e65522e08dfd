"""Analysis service core: evaluation through the inference service, and reports.

Transport-neutral: :mod:`synthclf.analysis.servicer` only decodes, calls and encodes.
"""

from __future__ import annotations

import json
import logging

from synthclf.analysis.metrics import Metrics, evaluate_predictions
from synthclf.analysis.report import EvaluationRow, render_report
from synthclf.clients import InferenceClient, batched
from synthclf.core.artifacts import ArtifactRef, fetch, job_id, publish, read_manifest, staging
from synthclf.core.config import Settings
from synthclf.core.datasets import read_jsonl
from synthclf.core.errors import InvalidInput
from synthclf.core.progress import Progress, ProgressFn, ignore_progress
from synthclf.core.store import open_store

log = logging.getLogger("synthclf.analysis")
SERVICE = "analysis"
METRICS_FILE = "metrics.json"
REPORT_FILE = "report.md"


class AnalysisCore:
    """Evaluates served models on labelled datasets and renders reports.

    Args:
        settings: store location, credentials, default inference address.
    """

    def __init__(self, settings: Settings):
        self.settings = settings
        self.store = open_store(settings.artifact_store, settings)

    def check(self) -> None:
        """Readiness: the artifact store is reachable."""
        self.store.check()

    def evaluate(
        self, model: str, dataset_uri: str, *, inference_address: str = "", batch_size: int = 64,
        tags: dict[str, str] | None = None, progress: ProgressFn = ignore_progress,
    ) -> tuple[ArtifactRef, Metrics]:
        """Macro-F1 and accuracy of a served model on a labelled dataset.

        Predictions come from the inference service (``Predict`` in batches), so what is
        measured is what other systems get.

        Args:
            model: model name loaded in the inference service.
            dataset_uri: labelled dataset artifact (a real test split for Table 1).
            inference_address: host:port of the inference service; default from settings.
            batch_size: texts per Predict call.
            tags: recorded in the evaluation (``task``, ``source`` group the report).
            progress: per-batch events.

        Returns:
            The ``evaluation`` artifact (metrics.json) and the metrics.

        Raises:
            NotFound: dataset or model missing. InvalidInput: empty dataset, bad batch size.
            Unavailable: inference service unreachable.
        """
        if batch_size <= 0:
            raise InvalidInput(f"batch_size must be positive, got {batch_size}")
        dataset = fetch(dataset_uri, self.settings)
        frame = read_jsonl(dataset.path / "data.jsonl")
        texts, gold = frame["text"].tolist(), frame["label"].tolist()
        if not texts:
            raise InvalidInput(f"dataset {dataset_uri} is empty")
        predicted: list[str] = []
        address = inference_address or self.settings.service_address("inference")
        with InferenceClient(address) as client:
            info = {m.name: m for m in client.list_models()}
            labels = list(info[model].labels) if model in info else None
            for batch in batched(texts, batch_size):
                response = client.predict(model, batch)
                labels = list(response.labels)
                predicted += [p.label for p in response.predictions]
                progress(Progress(stage="evaluate", done=len(predicted), total=len(texts), unit="texts",
                                  message=f"predicted {len(predicted)}/{len(texts)} texts with '{model}'"))
        metrics = evaluate_predictions(gold, predicted, labels)
        model_uri = info[model].artifact.uri if model in info else ""
        tags = dict(tags or {})
        artifact_id = job_id("eval", {"model_uri": model_uri, "dataset_uri": dataset_uri, "tags": tags})
        with staging() as folder:
            (folder / METRICS_FILE).write_text(json.dumps(
                {**metrics.model_dump(), "tags": tags, "model": model, "model_uri": model_uri}, indent=2))
            ref = publish(self.store, folder, kind="evaluation", artifact_id=artifact_id, service=SERVICE,
                          parameters={"model": model, "dataset_uri": dataset_uri, "tags": tags},
                          inputs=[u for u in (model_uri, dataset_uri) if u],
                          stats={"macro_f1": metrics.macro_f1, "accuracy": metrics.accuracy,
                                 "support": metrics.support, **tags})
        log.info("evaluated '%s' on %s: Macro-F1 %.3f, accuracy %.3f (n=%d)", model, dataset_uri,
                 metrics.macro_f1, metrics.accuracy, metrics.support)
        return ref, metrics

    def report(self, title: str, evaluation_uris: list[str],
               input_uris: list[str] | None = None) -> tuple[ArtifactRef, str]:
        """Render the Table-1 Markdown report from evaluation artifacts.

        Raises:
            InvalidInput: no evaluations given. NotFound: an evaluation is missing.
        """
        if not evaluation_uris:
            raise InvalidInput("a report needs at least one evaluation URI")
        rows = []
        for uri in evaluation_uris:
            data = json.loads((fetch(uri, self.settings).path / METRICS_FILE).read_text())
            tags = data.get("tags", {})
            rows.append(EvaluationRow(
                task=tags.get("task", "?"), source=tags.get("source", "?"), macro_f1=data["macro_f1"],
                accuracy=data["accuracy"], support=data["support"], evaluation_uri=uri,
                model=data.get("model_uri", ""),
            ))
        details = [f"{uri}: {self._describe(uri)}" for uri in input_uris or []]
        markdown = render_report(title, rows, details)
        artifact_id = job_id("report", {"title": title, "evaluations": evaluation_uris,
                                        "inputs": input_uris or []})
        with staging() as folder:
            (folder / REPORT_FILE).write_text(markdown)
            ref = publish(self.store, folder, kind="report", artifact_id=artifact_id, service=SERVICE,
                          parameters={"title": title}, inputs=evaluation_uris + (input_uris or []),
                          stats={"rows": [r.model_dump() for r in rows]})
        return ref, markdown

    def _describe(self, uri: str) -> str:
        stats = read_manifest(uri, self.settings).stats
        keys = ("source", "rows", "requested", "accepted", "prompt_tokens", "completion_tokens",
                "wall_time_s", "validation", "device")
        return ", ".join(f"{k}={stats[k]}" for k in keys if k in stats)
