"""Plain-language findings computed from the report's numbers (never fixed text).

Each function reads typed results and returns sentences; every number in a sentence comes
from the results, and directions ("above", "less diverse", "rises") are decided by them.
"""

from __future__ import annotations

from collections.abc import Iterable

from synthclf.analysis.condition import source_rank
from synthclf.analysis.diversity import DiversityResult
from synthclf.analysis.report_data import ReportData
from synthclf.analysis.similarity import SimilarityResult
from synthclf.analysis.subjectivity import SweepResult, TaskSubjectivityResult

#: Significance level named in the sentences.
ALPHA = 0.05


def _rows_per_label(data: ReportData, task: str, source: str, n_labels: int) -> int | None:
    """Rows per label of a task's training set of ``source`` (real: its training split)."""
    rows = [d.rows for d in data.datasets if d.task == task and d.source == source and not d.is_real_test]
    return round(max(rows) / n_labels) if rows and n_labels else None


def _ci(interval) -> str:
    return "" if interval is None else f" [{interval.low:.3f}, {interval.high:.3f}]"


def task_source_sentences(data: ReportData) -> list[str]:
    """One sentence per task × data source (and mixed model): its score, what it is worth in
    real labels, and how it compares with the full-real model or k real labels alone."""
    out = []
    verdicts = {v.task: v for v in data.verdicts}
    cells = data.cells()
    for task in sorted({c.condition.task for c in cells}):
        verdict = verdicts.get(task)
        mine = [c for c in cells if c.condition.task == task]
        for backbone in dict.fromkeys(c.condition.backbone for c in mine):
            rows = [c for c in mine if c.condition.backbone == backbone]
            full = next((c for c in rows if c.condition.is_full_real), None)
            suffix = f" [{backbone}]" if len({c.condition.backbone for c in mine}) > 1 else ""
            equivalents = {(e.source, e.real_per_label): e for e in (verdict.equivalents if verdict else [])
                           if e.backbone == backbone}
            curve = {p.per_label: p for p in (verdict.curve if verdict else []) if p.backbone == backbone}
            n_labels = verdict.n_labels if verdict else 0
            for cell in rows:
                condition = cell.condition
                if condition.is_curve_point or condition.is_full_real:
                    continue
                eq = equivalents.get((condition.source, condition.real_per_label))
                score = f"Macro-F1 {cell.macro_f1:.3f}{_ci(cell.macro_f1_ci)}"
                if condition.is_mixed:
                    alone = curve.get(condition.real_per_label)
                    sentence = f"{task}{suffix} / {cell.label}: {score}"
                    if alone is not None:
                        sentence += (f", {cell.macro_f1 - alone.macro_f1:+.3f} over {condition.real_per_label} real "
                                     f"rows per label alone ({alone.macro_f1:.3f})")
                else:
                    per_label = _rows_per_label(data, task, condition.source, n_labels) if n_labels else None
                    what = f"{per_label} {condition.source} rows per label" if per_label else f"{condition.source} data"
                    sentence = f"{task}{suffix} / {condition.source}: {what} give {score}"
                    if full is not None:
                        sentence += f", {cell.macro_f1 - full.macro_f1:+.3f} against the full-real model ({full.macro_f1:.3f})"
                if eq is not None:
                    sentence += f" — worth ≈ {eq.text} real labels per label"
                out.append(sentence + ".")
    return out


def diversity_findings(results: Iterable[DiversityResult]) -> list[str]:
    """Each synthetic source's diversity against real training data of the same task."""
    by_task: dict[str, dict[str, DiversityResult]] = {}
    for result in results:
        by_task.setdefault(result.task, {})[result.source] = result
    out = []
    for task, by_source in sorted(by_task.items()):
        real = by_source.get("real")
        if real is None:
            continue
        for source, result in sorted(by_source.items(), key=lambda item: source_rank(item[0])):
            if source == "real":
                continue
            rc, ch = result.overall.remote_clique, result.overall.chamfer
            rrc, rch = real.overall.remote_clique, real.overall.chamfer
            numbers = f"remote-clique {rc:.3f} vs {rrc:.3f}, chamfer {ch:.3f} vs {rch:.3f}"
            if rc < rrc and ch < rch:
                verdict = "less diverse than"
            elif rc > rrc and ch > rch:
                verdict = "more diverse than"
            else:
                verdict = "mixed in diversity against"
            out.append(f"{task}: {source} data is {verdict} real data ({numbers}).")
    return out


def similarity_findings(data: ReportData, results: Iterable[SimilarityResult]) -> list[str]:
    """Which synthetic source is closer to real data, and whether its model is closer to real."""
    by_task: dict[str, dict[str, SimilarityResult]] = {}
    for result in results:
        by_task.setdefault(result.task, {})[result.source] = result
    evaluations: dict[str, dict] = {}
    for cell in data.table1_cells():
        evaluations.setdefault(cell.condition.task, {}).setdefault(cell.condition.source, cell)
    out = []
    for task, by_source in sorted(by_task.items()):
        baseline = by_source.get("real_test")
        synthetic = sorted((s for s in by_source if s not in ("real", "real_test")),
                           key=lambda s: -by_source[s].mean_top_k)
        k = next(iter(by_source.values())).k
        real_eval = evaluations.get(task, {}).get("real")
        for i, a in enumerate(synthetic):
            for b in synthetic[i + 1:]:
                sa, sb = by_source[a].mean_top_k, by_source[b].mean_top_k
                sentence = (f"{task}: {a} data is more similar to real data than {b} data "
                            f"({sa:.3f} vs {sb:.3f} mean top-{k} cosine)")
                ea, eb = evaluations.get(task, {}).get(a), evaluations.get(task, {}).get(b)
                if real_eval and ea and eb:
                    closer = abs(real_eval.macro_f1 - eb.macro_f1) - abs(real_eval.macro_f1 - ea.macro_f1)
                    word = "closer to" if closer >= 0 else "further from"
                    sentence += f" and its model is {abs(closer):.3f} Macro-F1 {word} the real-data model"
                out.append(sentence + ".")
        if baseline is not None:
            for source in sorted(synthetic, key=source_rank):
                share = by_source[source].mean_top_k / baseline.mean_top_k if baseline.mean_top_k else 0.0
                out.append(f"{task}: held-out real texts score {baseline.mean_top_k:.3f} against the real "
                           f"training texts; {source} texts score {share:.0%} of that "
                           f"({by_source[source].mean_top_k:.3f}).")
    return out


def sweep_findings(sweeps: Iterable[SweepResult]) -> list[str]:
    """How accuracy moves with annotator agreement, per task and source (Figure 2)."""
    sweeps = list(sweeps)
    out = []
    for sweep in sweeps:
        if len(sweep.points) < 2:
            out.append(f"{sweep.task} / {sweep.source}: too few agreement thresholds with at least "
                       f"{sweep.min_instances} instances for a trend.")
            continue
        first, last = sweep.points[0], sweep.points[-1]
        fit = sweep.fit
        trend = "rises" if last.accuracy > first.accuracy else "falls" if last.accuracy < first.accuracy else "stays"
        sentence = (f"{sweep.task} / {sweep.source}: accuracy {trend} with annotator agreement, from "
                    f"{first.accuracy:.3f} at γ={first.gamma:.2f} (n={first.n}) to {last.accuracy:.3f} at "
                    f"γ={last.gamma:.2f} (n={last.n})")
        if fit.slope is not None:
            sentence += f"; linear fit slope {fit.slope:+.3f} per unit of γ"
            if fit.r_squared is not None:
                sentence += f", R² {fit.r_squared:.2f}"
        if fit.spearman_rho is not None and fit.spearman_p is not None:
            significant = "significant" if fit.spearman_p < ALPHA else "not significant"
            sentence += (f"; Spearman ρ {fit.spearman_rho:.2f} (p={fit.spearman_p:.2g}, {significant} at "
                         f"{ALPHA})")
        out.append(sentence + ".")
    by_task: dict[str, list[tuple[float, SweepResult]]] = {}
    for sweep in sweeps:
        if sweep.fit.slope is not None:
            by_task.setdefault(sweep.task, []).append((sweep.fit.slope, sweep))
    for task, rows in sorted(by_task.items()):
        if len(rows) >= 2:
            steep_slope, steep = max(rows, key=lambda r: r[0])
            flat_slope, flat = min(rows, key=lambda r: r[0])
            out.append(f"{task}: accuracy rises fastest with agreement for the {steep.source} model (slope "
                       f"{steep_slope:+.3f}) and slowest for the {flat.source} model ({flat_slope:+.3f}).")
    return out


def task_findings(result: TaskSubjectivityResult | None) -> list[str]:
    """Gap vs subjectivity across tasks, with the caveat when there are few tasks."""
    if result is None or not result.gaps:
        return []
    out = []
    undefined = [c for c in result.correlations if c.spearman_rho is None]
    if undefined:
        sources = ", ".join(c.source for c in undefined)
        tasks = max(c.n_tasks for c in undefined)
        out.append(f"across {tasks} task(s), Spearman's ρ of the real → synthetic gap ({sources}) with task "
                   f"subjectivity is undefined.")
    for corr in result.correlations:
        if corr.spearman_rho is not None:
            direction = "grows" if corr.spearman_rho > 0 else "shrinks"
            out.append(f"across {corr.n_tasks} tasks, the real → {corr.source} gap {direction} with task "
                       f"subjectivity: Spearman ρ {corr.spearman_rho:.2f} (p={corr.spearman_p:.2g}).")
    if result.caveat:
        out.append(f"caveat: {result.caveat}.")
    return out


def generation_findings(data: ReportData) -> list[str]:
    """What generating each synthetic dataset took: kept outputs, tokens, time, cost."""
    out = []
    for row in data.datasets:
        if row.requested is None or row.accepted is None:
            continue
        rate = row.accepted / row.requested if row.requested else 0.0
        tokens = (row.prompt_tokens or 0) + (row.completion_tokens or 0)
        sentence = (f"{row.task} / {row.source}: {row.accepted} of {row.requested} LLM outputs kept "
                    f"({rate:.0%}), {tokens:,} tokens")
        if row.wall_time_s is not None:
            sentence += f" in {row.wall_time_s:.0f} s"
        cost = data.cost_usd(row)
        if cost:
            sentence += f", US${cost:.4f}"
        if row.rejected_reasons:
            top = sorted(row.rejected_reasons.items(), key=lambda kv: -kv[1])[:3]
            sentence += "; rejected: " + ", ".join(f"{n} {reason.replace('_', ' ')}" for reason, n in top)
        out.append(sentence + ".")
    return out
