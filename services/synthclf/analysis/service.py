"""Analysis service core: evaluation, diversity, similarity, subjectivity and reports.

Transport-neutral: :mod:`synthclf.analysis.servicer` only decodes, calls and encodes. Every
analysis is a job publishing one artifact whose id hashes its parameters, so a repeated call
returns the existing artifact without recomputing (docs/architecture.md, "Artifacts").
Evaluate predicts through a :class:`~synthclf.analysis.predictors.Predictor` (the port),
opened from the source injected for served or in-process evaluation.
"""

from __future__ import annotations

import json
import logging
import math
import time
from contextlib import closing
from pathlib import Path

import numpy as np

from synthclf.analysis.condition import Condition
from synthclf.analysis.diversity import MAX_TEXTS, DiversityResult, dataset_diversity, pca_projection, sample_rows
from synthclf.analysis.embeddings import MODEL_NAME, Embedder
from synthclf.analysis.files import (
    METRICS_FILE,
    PREDICTIONS_FILE,
    RESAMPLES_FILE,
    RESULT_FILES,
    SERVICE,
)
from synthclf.analysis.inputs import (
    check_analysis_texts,
    check_evaluate_request,
    read_evaluation,
    resolve_inference_address,
)
from synthclf.analysis.metrics import CONFIDENCE, N_BOOTSTRAP, Metrics, evaluate_with_resamples
from synthclf.analysis.predictors import InProcessPredictors, Predictor, PredictorSource, ServedPredictors
from synthclf.analysis.projection import PROJECTION_POINTS, ProjectionResult
from synthclf.analysis.runs import load_run
from synthclf.analysis.similarity import TOP_K, SimilarityResult, dataset_similarity
from synthclf.analysis.subjectivity import (
    MIN_INSTANCES,
    SweepResult,
    TaskSubjectivityResult,
    agreement_sweep,
    default_gammas,
    task_subjectivity,
)
from synthclf.analysis.table1 import aggregate
from synthclf.analysis.verdict import DELTA, TaskVerdict, task_verdict
from synthclf.clients import batched
from synthclf.core.artifacts import ArtifactRef, fetch, find, job_id, publish, read_manifest, single_flight, staging
from synthclf.core.catalog import load_catalog
from synthclf.core.config import Settings
from synthclf.core.errors import InvalidInput
from synthclf.core.inputs import read_dataset
from synthclf.core.limits import check_at_most, check_count, check_seed, shown
from synthclf.core.progress import Progress, ProgressFn, ignore_progress
from synthclf.core.schema import read_jsonl_records, write_jsonl
from synthclf.core.store import open_store

log = logging.getLogger("synthclf.analysis")
#: Version of the evaluation artifact's layout, part of its id (2: condition + resamples.json).
EVALUATION_FORMAT = 2


class AnalysisCore:
    """Evaluates models, analyses datasets and renders reports.

    Args:
        settings: store location, credentials, cache folder, default inference address.
        embedder: sentence embedder; default an :class:`Embedder` caching in ``settings.cache_dir``.
        served: where Evaluate's served models come from; default
            :class:`~synthclf.analysis.predictors.ServedPredictors` (the inference service).
        in_process: where in-process models come from (``in_process`` requests); default
            :class:`~synthclf.analysis.predictors.InProcessPredictors` (ONNX Runtime, at most
            2 sessions loaded).
    """

    def __init__(self, settings: Settings, embedder: Embedder | None = None, *,
                 served: PredictorSource | None = None, in_process: PredictorSource | None = None):
        self.settings = settings
        self.store = open_store(settings.artifact_store, settings)
        self.embedder = embedder or Embedder(Path(settings.cache_dir), max_chars=settings.max_tokenized_chars)
        self.served = served or ServedPredictors()
        self.in_process = in_process or InProcessPredictors(settings)
        #: host:port of this process's own server when it also hosts inference (all-in-one);
        #: set by :func:`synthclf.server.start_server`.
        self.local_inference_address: str | None = None

    def check(self) -> None:
        """Readiness: the artifact store is reachable."""
        self.store.check()

    @single_flight("evaluation")
    def evaluate(
        self, model: str, dataset_uri: str, *, inference_address: str = "", batch_size: int = 64,
        tags: dict[str, str] | None = None, model_uri: str = "", in_process: bool = False,
        n_bootstrap: int = N_BOOTSTRAP, seed: int = 0, confidence: float = CONFIDENCE,
        condition: Condition | None = None, progress: ProgressFn = ignore_progress,
    ) -> tuple[ArtifactRef, Metrics]:
        """Macro-F1, accuracy, per-class scores and confusion matrix with bootstrap intervals.

        Predictions come from the inference service (``Predict`` in batches), so what is
        measured is what other systems get — or, with ``in_process``, from ONNX Runtime in
        this process on the onnx-model artifact ``model_uri``.

        Args:
            model: model name loaded in the inference service (with ``in_process``: a display
                name, default the artifact id).
            dataset_uri: labelled dataset artifact (a real test split for Table 1).
            inference_address: host:port of the inference service; "" or one the settings allow
                (:func:`~synthclf.analysis.inputs.resolve_inference_address`).
            batch_size: texts per Predict / ONNX Runtime call.
            tags: free-form labels recorded in the evaluation (not used for grouping).
            model_uri: onnx-model artifact URI (required with ``in_process``).
            in_process: predict with ONNX Runtime here instead of the inference service.
            n_bootstrap: bootstrap resamples for the intervals (0: none).
            seed: bootstrap seed.
            confidence: interval level in (0, 1).
            condition: what the model was trained on (required): the key of Table 1, the
                learning curve and the verdict.
            progress: per-batch events.

        Returns:
            The ``evaluation`` artifact (metrics.json with the condition, the model's
            artifact and, served, its ``model_version`` — the version live at the start,
            pinned for every batch; predictions.jsonl; resamples.json: the Macro-F1 and
            accuracy of each bootstrap resample) and the metrics; an existing evaluation
            with the same parameters is returned without predicting.

        Raises:
            NotFound: dataset or model missing. InvalidInput: no condition, empty or malformed
            dataset, a dataset URI of another kind, bad batch size, n_bootstrap or confidence
            beyond their limits, ``in_process`` without ``model_uri``, an ``inference_address``
            the settings do not allow, or gold labels the model does not have. Unavailable:
            inference service unreachable.
        """
        check_evaluate_request(self.settings, batch_size=batch_size, n_bootstrap=n_bootstrap,
                               confidence=confidence, seed=seed)
        if in_process and not model_uri:
            raise InvalidInput("in-process evaluation needs model_uri (an onnx-model artifact)")
        address = resolve_inference_address(self.settings, inference_address, self.local_inference_address)
        started = time.perf_counter()
        _, frame = read_dataset(dataset_uri, self.settings, "dataset_uri")
        texts, gold = frame["text"].tolist(), frame["label"].tolist()
        if not texts:
            raise InvalidInput(f"dataset {shown(dataset_uri, 200)} is empty")
        tags = dict(tags or {})
        source = self.in_process if in_process else self.served
        with closing(source.open(model=model, model_uri=model_uri, address=address)) as predictor:
            params = {"model_uri": predictor.model_uri, "dataset_uri": dataset_uri, "tags": tags,
                      "in_process": in_process, "n_bootstrap": n_bootstrap, "seed": seed, "confidence": confidence,
                      "condition": condition.model_dump() if condition else None, "format": EVALUATION_FORMAT}
            artifact_id = job_id("eval", params)
            if existing := find(self.store, "evaluation", artifact_id):
                _, data = read_evaluation(existing.uri, self.settings)
                return existing, Metrics.model_validate({k: v for k, v in data.items() if k in Metrics.model_fields})
            labels = predictor.labels
            _check_gold_labels(gold, labels, predictor.name, dataset_uri)
            if condition is None:  # after the input checks, so a bad request is told what is wrong with it first
                raise InvalidInput("Evaluate needs a condition (task and source of the model's training data)")
            predicted = self._predict(predictor, texts, batch_size, progress)
        model, model_uri = predictor.name, predictor.model_uri
        metrics, resampled = evaluate_with_resamples(gold, predicted, labels, n_bootstrap=n_bootstrap, seed=seed,
                                                     confidence=confidence)
        wall = round(time.perf_counter() - started, 3)
        with staging() as folder:
            (folder / METRICS_FILE).write_text(json.dumps(
                {**metrics.model_dump(), "condition": condition.model_dump(), "tags": tags, "model": model,
                 "model_uri": model_uri, "model_version": predictor.model_version, "wall_time_s": wall}, indent=2))
            if resampled is not None:
                (folder / RESAMPLES_FILE).write_text(json.dumps(
                    {"seed": seed, "n": len(gold), "macro_f1": [round(float(v), 6) for v in resampled.macro_f1],
                     "accuracy": [round(float(v), 6) for v in resampled.accuracy]}))
            write_jsonl(({"row": row, "gold": g, "predicted": p} for row, (g, p) in enumerate(zip(gold, predicted))),
                        folder / PREDICTIONS_FILE)
            ref = publish(self.store, folder, kind="evaluation", artifact_id=artifact_id, service=SERVICE,
                          parameters={"model": model, **params}, inputs=[model_uri, dataset_uri],
                          stats={"macro_f1": metrics.macro_f1, "accuracy": metrics.accuracy,
                                 "support": metrics.support, "wall_time_s": wall, "tags": tags,
                                 **condition.model_dump()})
        log.info("evaluated '%s' (%s / %s) on %s: Macro-F1 %.3f, accuracy %.3f (n=%d)", model, condition.task,
                 condition.label, dataset_uri, metrics.macro_f1, metrics.accuracy, metrics.support)
        return ref, metrics

    @staticmethod
    def _predict(predictor: Predictor, texts: list[str], batch_size: int, progress: ProgressFn) -> list[str]:
        """The most probable label of each text (argmax of the predictor's probabilities),
        ``batch_size`` texts per call, with an ``evaluate`` event after each batch."""
        labels = predictor.labels
        predicted: list[str] = []
        for batch in batched(texts, batch_size):
            predicted += [labels[i] for i in predictor.predict_proba(batch).argmax(axis=1)]
            progress(Progress(stage="evaluate", done=len(predicted), total=len(texts), unit="texts",
                              message=f"predicted {len(predicted)}/{len(texts)} texts with {predictor.description}"))
        return predicted

    def _dataset(self, uri: str):
        """(fetched artifact, frame) of a dataset artifact."""
        artifact, frame = read_dataset(uri, self.settings)
        if frame.empty:
            raise InvalidInput(f"dataset {shown(uri, 200)} is empty")
        return artifact, frame

    def sample_embeddings(self, uri: str, max_texts: int = MAX_TEXTS, seed: int = 0,
                          progress: ProgressFn = ignore_progress):
        """Embeddings [m, 384] and labels of a seeded, label-stratified sample of a dataset.

        Returns:
            (fetched artifact, float32 embeddings [m, 384], labels [m], rows in the whole
            dataset); cached embeddings are reused.
        """
        artifact, frame = self._dataset(uri)
        rows = sample_rows(frame, max_texts, seed)
        embeddings = self.embedder.embed_rows(artifact, frame["text"].tolist(), rows, progress)
        return artifact, embeddings, frame["label"].to_numpy()[rows], len(frame)

    def _cached(self, kind: str, artifact_id: str, model):
        """The stored result of an existing analysis artifact, or None."""
        if existing := find(self.store, kind, artifact_id):
            raw = fetch(existing.uri, self.settings, kind=kind).file(RESULT_FILES[kind]).read_text()
            return existing, model.model_validate_json(raw)
        return None

    def _publish(self, kind: str, artifact_id: str, result, parameters: dict, inputs: list[str],
                 stats: dict) -> ArtifactRef:
        with staging() as folder:
            (folder / RESULT_FILES[kind]).write_text(result.model_dump_json(indent=2))
            return publish(self.store, folder, kind=kind, artifact_id=artifact_id, service=SERVICE,
                           parameters=parameters, inputs=inputs, stats=stats)

    @single_flight("diversity")
    def diversity(self, dataset_uri: str, *, max_texts: int = MAX_TEXTS, seed: int = 0,
                  progress: ProgressFn = ignore_progress) -> tuple[ArtifactRef, DiversityResult]:
        """Remote-clique score and chamfer distance of a dataset (Figure 1), overall and per label.

        Args:
            dataset_uri: dataset artifact.
            max_texts: sample cap for the O(n²) distances.
            seed: sample seed.
            progress: ``embed`` events.

        Returns:
            The ``diversity`` artifact (diversity.json) and the result.

        Raises:
            NotFound: no such dataset. InvalidInput: empty dataset, ``max_texts`` < 1.
        """
        check_analysis_texts(self.settings, max_texts, seed=seed)
        params = {"dataset_uri": dataset_uri, "max_texts": max_texts, "seed": seed, "embedding": MODEL_NAME}
        artifact_id = job_id("diversity", params)
        if cached := self._cached("diversity", artifact_id, DiversityResult):
            return cached
        artifact, embeddings, labels, n_total = self.sample_embeddings(dataset_uri, max_texts, seed, progress)
        result = dataset_diversity(embeddings, labels, n_total=n_total, max_texts=max_texts, seed=seed)
        stats = artifact.manifest.stats
        result = result.model_copy(update={"dataset_uri": dataset_uri, "task": str(stats.get("task", "")),
                                           "source": str(stats.get("source", ""))})
        ref = self._publish("diversity", artifact_id, result, params, [dataset_uri],
                            {"remote_clique": result.overall.remote_clique, "chamfer": result.overall.chamfer,
                             "n": result.overall.n, "task": result.task, "source": result.source})
        log.info("diversity of %s: remote-clique %.3f, chamfer %.3f (n=%d)", dataset_uri,
                 result.overall.remote_clique, result.overall.chamfer, result.overall.n)
        return ref, result

    @single_flight("similarity")
    def similarity(self, synthetic_uri: str, real_uri: str, *, k: int = TOP_K, max_texts: int = MAX_TEXTS,
                   seed: int = 0, progress: ProgressFn = ignore_progress) -> tuple[ArtifactRef, SimilarityResult]:
        """Mean top-k cosine similarity of a dataset's texts to real texts (Figure B.2).

        Args:
            synthetic_uri: dataset artifact compared (synthetic, or real held-out as reference).
            real_uri: real reference dataset artifact.
            k: neighbours averaged per text.
            max_texts: sample cap of each dataset.
            seed: sample seed.
            progress: ``embed`` events.

        Returns:
            The ``similarity`` artifact (similarity.json) and the result.

        Raises:
            NotFound: a dataset is missing. InvalidInput: empty dataset, ``k`` or ``max_texts`` < 1.
        """
        check_analysis_texts(self.settings, max_texts, k=k, seed=seed)
        params = {"synthetic_uri": synthetic_uri, "real_uri": real_uri, "k": k, "max_texts": max_texts,
                  "seed": seed, "embedding": MODEL_NAME}
        artifact_id = job_id("similarity", params)
        if cached := self._cached("similarity", artifact_id, SimilarityResult):
            return cached
        artifact, synthetic, synthetic_labels, _ = self.sample_embeddings(synthetic_uri, max_texts, seed, progress)
        _, real, real_labels, _ = self.sample_embeddings(real_uri, max_texts, seed, progress)
        stats = artifact.manifest.stats
        source = str(stats.get("source", ""))
        if source == "real" and stats.get("split") == "test":
            source = "real_test"
        result = dataset_similarity(synthetic, synthetic_labels, real, real_labels, k).model_copy(update={
            "synthetic_uri": synthetic_uri, "real_uri": real_uri, "task": str(stats.get("task", "")),
            "source": source, "max_texts": max_texts, "seed": seed})
        ref = self._publish("similarity", artifact_id, result, params, [synthetic_uri, real_uri],
                            {"mean_top_k": result.mean_top_k, "k": result.k, "task": result.task,
                             "source": result.source})
        log.info("similarity of %s to %s: mean top-%d cosine %.3f", synthetic_uri, real_uri, result.k,
                 result.mean_top_k)
        return ref, result

    @single_flight("instance-subjectivity")
    def instance_subjectivity(
        self, *, evaluation_uri: str = "", model: str = "", model_uri: str = "", in_process: bool = False,
        dataset_uri: str = "", inference_address: str = "", gammas: list[float] | None = None,
        min_instances: int = MIN_INSTANCES, tags: dict[str, str] | None = None,
        condition: Condition | None = None, progress: ProgressFn = ignore_progress,
    ) -> tuple[ArtifactRef, SweepResult]:
        """Accuracy vs annotator-agreement threshold γ with linear fit and Spearman ρ (Figure 2).

        Either reuses ``evaluation_uri`` or first evaluates the model (served ``model``, or
        ``model_uri`` with ``in_process``) on ``dataset_uri`` (see :meth:`evaluate`).

        Args:
            evaluation_uri: existing evaluation whose dataset carries agreement.
            model: served model name.
            model_uri: onnx-model artifact (with ``in_process``).
            in_process: predict with ONNX Runtime here.
            dataset_uri: test dataset with per-instance ``agreement``.
            inference_address: inference service host:port.
            gammas: thresholds in [0, 1]; None/empty: :func:`default_gammas` of the task's labels.
            min_instances: thresholds keeping fewer instances are left out of the fit.
            tags: free-form tags of the evaluation.
            condition: what the model was trained on (when evaluating here).
            progress: ``evaluate`` events.

        Returns:
            The ``instance-subjectivity`` artifact (subjectivity.json) and the sweep.

        Raises:
            InvalidInput: neither an evaluation nor a model and dataset; no agreement values.
            NotFound: a missing artifact or model.
        """
        check_at_most(len(gammas or ()), self.settings, "max_gammas", "agreement thresholds (gammas)")
        if not evaluation_uri:
            if not dataset_uri or not (model or model_uri):
                raise InvalidInput("instance subjectivity needs evaluation_uri, or a model and dataset_uri")
            evaluation_uri = self.evaluate(model, dataset_uri, inference_address=inference_address, tags=tags,
                                           model_uri=model_uri, in_process=in_process, condition=condition,
                                           progress=progress)[0].uri
        evaluation, metrics = read_evaluation(evaluation_uri, self.settings)
        dataset_uri = evaluation.manifest.parameters["dataset_uri"]
        gammas = sorted(gammas) if gammas else default_gammas(len(metrics["labels"]))
        params = {"evaluation_uri": evaluation_uri, "gammas": gammas, "min_instances": min_instances}
        artifact_id = job_id("subjectivity", params)
        if cached := self._cached("instance-subjectivity", artifact_id, SweepResult):
            return cached
        _, frame = read_dataset(dataset_uri, self.settings)
        if evaluation.file(PREDICTIONS_FILE, required=False) is None:
            raise InvalidInput(f"{evaluation_uri} has no per-instance predictions ({PREDICTIONS_FILE}); "
                               "re-run Evaluate to produce them")
        predictions = read_jsonl_records(evaluation.file(PREDICTIONS_FILE))
        correct = np.array([p["gold"] == p["predicted"] for p in predictions])
        if len(correct) != len(frame):
            raise InvalidInput(f"{evaluation_uri} holds {len(correct)} predictions for {len(frame)} rows")
        sweep = agreement_sweep(correct, frame["agreement"].to_numpy(), gammas, min_instances)
        run = load_run(evaluation_uri, self.settings)
        sweep = sweep.model_copy(update={"evaluation_uri": evaluation_uri, "dataset_uri": dataset_uri,
                                         "task": run.condition.task, "source": run.condition.label})
        fit = sweep.fit
        ref = self._publish("instance-subjectivity", artifact_id, sweep, params, [evaluation_uri, dataset_uri],
                            {"slope": fit.slope, "r_squared": fit.r_squared, "spearman_rho": fit.spearman_rho,
                             "spearman_p": fit.spearman_p, "points": len(sweep.points), "task": sweep.task,
                             "source": sweep.source})
        return ref, sweep

    @single_flight("task-subjectivity")
    def task_subjectivity(self, evaluation_uris: list[str]) -> tuple[ArtifactRef, TaskSubjectivityResult]:
        """Real → synthetic Macro-F1 gap against catalog subjectivity, Spearman ρ per source.

        Args:
            evaluation_uris: evaluations with conditions; Table-1 models only, seeds averaged
                (:func:`synthclf.analysis.table1.aggregate`), ``real`` = the baseline.

        Returns:
            The ``task-subjectivity`` artifact and the result (with a caveat below 5 tasks).

        Raises:
            InvalidInput: no evaluations. NotFound: an evaluation is missing.
        """
        if not evaluation_uris:
            raise InvalidInput("task subjectivity needs evaluation URIs")
        check_at_most(len(evaluation_uris), self.settings, "max_request_uris", "evaluation URIs")
        artifact_id = job_id("task-subjectivity", {"evaluation_uris": sorted(evaluation_uris)})
        if cached := self._cached("task-subjectivity", artifact_id, TaskSubjectivityResult):
            return cached
        runs = [load_run(uri, self.settings) for uri in evaluation_uris]
        scores = [(c.condition.task, c.condition.backbone, c.condition.source, c.macro_f1)
                  for c in aggregate(runs) if c.condition.is_table1]
        ratings = {name: spec.subjectivity for name, spec in load_catalog().items() if spec.subjectivity}
        result = task_subjectivity(scores, ratings).model_copy(update={"evaluation_uris": list(evaluation_uris)})
        ref = self._publish("task-subjectivity", artifact_id, result, {"evaluation_uris": sorted(evaluation_uris)},
                            list(evaluation_uris), {"tasks": len({g.task for g in result.gaps})})
        return ref, result

    @single_flight("projection")
    def projection(self, dataset_uris: list[str], *, max_texts: int = MAX_TEXTS, points: int = PROJECTION_POINTS,
                   seed: int = 0, progress: ProgressFn = ignore_progress) -> tuple[ArtifactRef, ProjectionResult]:
        """Figure 1: 2-D PCA projection of the embeddings of one task's training sets.

        Args:
            dataset_uris: datasets of one task (real training split, synthetic sets).
            max_texts: texts embedded per dataset (stratified sample).
            points: points kept per dataset (seeded) for a readable scatter.
            seed: sample seed.
            progress: ``embed`` events.

        Returns:
            The ``projection`` artifact (projection.json) and the result.

        Raises:
            InvalidInput: no datasets, datasets of several tasks, ``max_texts`` or ``points`` < 1.
            NotFound: a dataset is missing.
        """
        if not dataset_uris:
            raise InvalidInput("a projection needs at least one dataset URI")
        check_at_most(len(dataset_uris), self.settings, "max_request_uris", "dataset URIs")
        check_analysis_texts(self.settings, max_texts, seed=seed)
        check_count(points, 1, self.settings, "max_analysis_texts", "points per dataset (points)")
        params = {"dataset_uris": list(dataset_uris), "max_texts": max_texts, "points": points, "seed": seed,
                  "embedding": MODEL_NAME}
        artifact_id = job_id("projection", params)
        if cached := self._cached("projection", artifact_id, ProjectionResult):
            return cached
        rng = np.random.default_rng(seed)
        groups, tasks = {}, set()
        for uri in dataset_uris:
            artifact, embeddings, _, _ = self.sample_embeddings(uri, max_texts, seed, progress)
            stats = artifact.manifest.stats
            tasks.add(str(stats.get("task", "")))
            source = str(stats.get("source", "?"))
            if source not in groups:
                keep = np.sort(rng.permutation(len(embeddings))[:points])
                groups[source] = embeddings[keep]
        if len(tasks) > 1:
            raise InvalidInput(f"a projection is of one task's datasets, got {', '.join(sorted(tasks))}")
        coordinates = pca_projection(groups, seed)
        result = ProjectionResult(task=tasks.pop(), points={k: v.round(5).tolist() for k, v in coordinates.items()},
                                  dataset_uris=list(dataset_uris))
        ref = self._publish("projection", artifact_id, result, params, list(dataset_uris),
                            {"task": result.task, "sources": list(result.points)})
        return ref, result

    @single_flight("verdict")
    def verdict(self, evaluation_uris: list[str], *, delta: float = DELTA, label_cost_usd: float | None = None,
                synthetic_datasets: dict[str, str] | None = None,
                seed: int = 0) -> tuple[ArtifactRef, TaskVerdict]:
        """One task's learning curve, real-label equivalents, stretch gains and verdict.

        Args:
            evaluation_uris: the task's evaluations with conditions (Table-1 models, curve
                points, mixed models), paired (same test split and bootstrap seed).
            delta: margin δ of the rules (synthclf.analysis.verdict), in [0, 1).
            label_cost_usd: price of one human label (US$); None: no cost comparison.
            synthetic_datasets: per synthetic source its dataset artifact, whose manifest's
                recorded LLM cost gives the cost per equivalent real label.
            seed: seed of the seed resampling in the intervals.

        Returns:
            The ``verdict`` artifact (verdict.json) and the :class:`TaskVerdict`.

        Raises:
            InvalidInput: no evaluations, several tasks, unpaired evaluations, δ out of range,
                a negative label cost, a seed outside [0, 2**32 - 1]. NotFound: an artifact is missing.
        """
        if not evaluation_uris:
            raise InvalidInput("a verdict needs the evaluation URIs of one task")
        check_at_most(len(evaluation_uris) + len(synthetic_datasets or {}), self.settings, "max_request_uris",
                      "evaluation and dataset URIs")
        check_seed(seed)
        if label_cost_usd is not None and not (math.isfinite(label_cost_usd) and label_cost_usd >= 0):
            raise InvalidInput(f"label cost must be a finite amount >= 0 US$, got {label_cost_usd}")
        synthetic_datasets = dict(synthetic_datasets or {})
        params = {"evaluation_uris": sorted(evaluation_uris), "delta": delta, "label_cost_usd": label_cost_usd,
                  "synthetic_datasets": synthetic_datasets, "seed": seed}
        artifact_id = job_id("verdict", params)
        if cached := self._cached("verdict", artifact_id, TaskVerdict):
            return cached
        runs = [load_run(uri, self.settings) for uri in evaluation_uris]
        spec = load_catalog().get(runs[0].condition.task)  # a user's own task has no catalog rating
        costs = {}
        for source, uri in synthetic_datasets.items():
            stats = read_manifest(uri, self.settings, kind="dataset").stats
            cost = stats.get("cost_usd")
            costs[source] = (int(stats.get("rows", 0)), float(cost) if isinstance(cost, (int, float)) else None)
        agreement = None
        if runs[0].dataset_uri:
            _, frame = read_dataset(runs[0].dataset_uri, self.settings)
            if "agreement" in frame and frame["agreement"].notna().any():
                agreement = float(frame["agreement"].mean())
        result = task_verdict(runs, n_labels=len(runs[0].labels) or 2, delta=delta, label_cost_usd=label_cost_usd,
                              synthetic_costs=costs, subjectivity=spec.subjectivity if spec else None,
                              agreement=agreement, seed=seed)
        ref = self._publish("verdict", artifact_id, result, params, list(evaluation_uris) + list(
            synthetic_datasets.values()), {"task": result.task, "decision": result.decision})
        log.info("verdict for %s: %s — %s", result.task, result.decision_text, result.reason)
        return ref, result


def _check_gold_labels(gold: list[str], labels: list[str], model: str, dataset_uri: str) -> None:
    """Refuse a dataset whose labels the model does not have (its Macro-F1 would be meaningless).

    Raises:
        InvalidInput: naming the missing labels and the model's.
    """
    missing = sorted(set(gold) - set(labels))
    if missing:
        raise InvalidInput(
            f"dataset {shown(dataset_uri, 200)} has labels the model '{shown(model)}' does not "
            f"have: {', '.join(shown(m, 32) for m in missing[:10])}"
            f"{' …' if len(missing) > 10 else ''}; the model's labels: "
            f"{', '.join(shown(label, 32) for label in labels[:20])}")
