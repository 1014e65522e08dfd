"""The experiment report: Li et al. (2023) Table 1, Figures 1, 2 and B.2, curves and costs.

:func:`build_document` turns :class:`ReportData` (plus Figure 1's 2-D projections) into a
:class:`~synthclf.analysis.document.Document`, drawing the PNG figures into the report folder;
:func:`~synthclf.analysis.document.render_markdown` and
:func:`~synthclf.analysis.html.render_html` render it. Findings come from
:mod:`synthclf.analysis.findings`, computed from the numbers.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np

from synthclf.analysis import figures
from synthclf.analysis.document import Bullets, Document, Image, Paragraph, Section, Table, table_markdown
from synthclf.analysis.findings import all_findings
from synthclf.analysis.metrics import Interval
from synthclf.analysis.report_data import EvaluationRow, ReportData, order_sources, source_rank

FIGURES = "figures"


def _f(value: float | None, digits: int = 3) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def _ci(interval: Interval | None) -> str:
    return "–" if interval is None else f"[{interval.low:.3f}, {interval.high:.3f}]"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9_-]+", "-", text.lower()).strip("-") or "x"


def table1(rows: list[EvaluationRow]) -> Table:
    """Table 1: one row per task, per source "Macro-F1 / accuracy" (3 decimals)."""
    sources = order_sources({r.source for r in rows})
    cells = {(r.task, r.source): r for r in rows}
    body = []
    for task in sorted({r.task for r in rows}):
        values = [f"{cells[(task, s)].macro_f1:.3f} / {cells[(task, s)].accuracy:.3f}"
                  if (task, s) in cells else "–" for s in sources]
        body.append([task, *values])
    return Table(["task", *[f"{s} (Macro-F1 / acc.)" for s in sources]], body)


def render_table1(rows: list[EvaluationRow]) -> str:
    """Table 1 as Markdown."""
    return table_markdown(table1(rows))


def _interval_table(rows: list[EvaluationRow]) -> Table:
    level = f"{rows[0].confidence:.0%}" if rows else "95%"
    return Table(["task", "source", "n", "Macro-F1", f"{level} CI", "accuracy", f"{level} CI"],
                 [[r.task, r.source, str(r.support), _f(r.macro_f1), _ci(r.macro_f1_ci), _f(r.accuracy),
                   _ci(r.accuracy_ci)] for r in sorted(rows, key=lambda r: (r.task, source_rank(r.source)))],
                 caption="percentile-bootstrap confidence intervals over resamples of the test set")


def _data_section(data: ReportData) -> Section:
    section = Section("Data, generation cost and wall time")
    rows = []
    for d in sorted(data.datasets, key=lambda d: (d.task, source_rank(d.source), d.split)):
        rate = f"{d.accepted / d.requested:.0%}" if d.requested else "–"
        rows.append([d.task, d.source, d.split or "synthetic", str(d.rows), str(d.requested or "–"),
                     str(d.accepted if d.accepted is not None else "–"), rate,
                     str(d.prompt_tokens if d.prompt_tokens is not None else "–"),
                     str(d.completion_tokens if d.completion_tokens is not None else "–"),
                     f"{data.cost_usd(d):.4f}" if d.requested else "–", _f(d.wall_time_s, 1)])
    if rows:
        section.blocks.append(Table(
            ["task", "source", "split", "rows", "LLM requests", "kept", "kept %", "prompt tokens",
             "completion tokens", "cost US$", "wall time s"], rows,
            caption=(f"cost at US${data.usd_per_million_prompt_tokens:g} / US$"
                     f"{data.usd_per_million_completion_tokens:g} per million prompt / completion tokens"
                     if data.usd_per_million_prompt_tokens or data.usd_per_million_completion_tokens
                     else "cost as recorded by the generation service (0 for a local LLM)")))
    timing = [[m.task, m.source, str(m.rows or "–"), str(m.best_epoch or "–"), m.device or "–",
               _f(m.wall_time_s, 1)] for m in data.models]
    timing += [[e.task, f"{e.source} (evaluation)", str(e.support), "–", "–", _f(e.wall_time_s, 1)]
               for e in data.evaluations if e.wall_time_s is not None]
    if timing:
        section.blocks.append(Table(["task", "model", "rows", "best epoch", "device", "wall time s"], timing,
                                    caption="training and evaluation wall times"))
    return section


def _diversity_section(data: ReportData, projections: dict[str, dict[str, np.ndarray]], folder: Path) -> Section:
    section = Section("Diversity (Figure 1)")
    section.blocks.append(Paragraph(
        "Remote-clique score = mean cosine distance between distinct texts; chamfer distance = mean "
        "cosine distance of a text to its nearest other text; all-MiniLM-L6-v2 embeddings; higher is "
        "more diverse."))
    rows = [[r.task, r.source, str(r.overall.n), str(r.n_total), _f(r.overall.remote_clique), _f(r.overall.chamfer)]
            for r in sorted(data.diversity, key=lambda r: (r.task, source_rank(r.source)))]
    if rows:
        section.blocks.append(Table(["task", "source", "n used", "rows", "remote-clique", "chamfer"], rows))
    for task in data.tasks():
        scores = {r.source: r.overall for r in data.diversity if r.task == task}
        scores = {s: scores[s] for s in order_sources(set(scores))}
        if scores:
            path = figures.diversity_figure(scores, folder / FIGURES / f"diversity-{_slug(task)}.png",
                                            f"Diversity of the training data: {task}")
            section.blocks.append(Image(path.relative_to(folder).as_posix(),
                                        f"Remote-clique and chamfer diversity per data source ({task})."))
        coordinates = projections.get(task)
        if coordinates:
            path = figures.projection_figure(coordinates, folder / FIGURES / f"projection-{_slug(task)}.png",
                                             f"Real vs synthetic texts: {task} (PCA of embeddings)")
            caption = f"Figure 1: 2-D PCA projection of sentence embeddings by data source ({task})."
            section.blocks.append(Image(path.relative_to(folder).as_posix(), caption))
    return section


def _similarity_section(data: ReportData, folder: Path) -> Section:
    section = Section("Similarity to real data (Figure B.2)")
    section.blocks.append(Paragraph(
        "Per text, the mean of its top-k cosine similarities to the real training texts, averaged over "
        "texts; `real_test` (held-out real texts) is the reference a perfectly real-like set would reach."))
    results = sorted(data.similarity, key=lambda r: (r.task, source_rank(r.source)))
    section.blocks.append(Table(["task", "source", "k", "n", "n real", "mean top-k cosine", "sd"],
                                [[r.task, r.source, str(r.k), str(r.n_synthetic), str(r.n_real),
                                  _f(r.mean_top_k), _f(r.std_top_k)] for r in results]))
    for task in sorted({r.task for r in results}):
        values = {r.source: (r.mean_top_k, r.std_top_k) for r in results if r.task == task}
        path = figures.similarity_figure({s: values[s] for s in order_sources(set(values))},
                                         folder / FIGURES / f"similarity-{_slug(task)}.png",
                                         f"Similarity to real training texts: {task}")
        section.blocks.append(Image(path.relative_to(folder).as_posix(),
                                    f"Mean top-k cosine similarity to real training texts, ± 1 sd ({task})."))
    return section


def _sweep_section(data: ReportData, folder: Path) -> Section:
    section = Section("Instance-level subjectivity (Figure 2)")
    section.blocks.append(Paragraph(
        "Accuracy on the test instances whose annotator agreement aᵢ (largest share of annotators "
        "choosing one label) is at least γ, with a least-squares line and Spearman's ρ."))
    rows = [[s.task, s.source, str(len(s.points)), _f(s.fit.slope), _f(s.fit.intercept), _f(s.fit.r_squared),
             _f(s.fit.spearman_rho), "–" if s.fit.spearman_p is None else f"{s.fit.spearman_p:.2g}"]
            for s in data.sweeps]
    section.blocks.append(Table(["task", "source", "points", "slope", "intercept", "R²", "Spearman ρ", "p"], rows))
    for task in sorted({s.task for s in data.sweeps}):
        sweeps = {s.source: s for s in data.sweeps if s.task == task}
        sweeps = {k: sweeps[k] for k in order_sources(set(sweeps))}
        cells = {(s.source, p.gamma): f"{p.accuracy:.3f} (n={p.n})" for s in sweeps.values() for p in s.points}
        gammas = sorted({p.gamma for s in sweeps.values() for p in s.points})
        points = [[f"{g:.2f}", *[cells.get((source, g), "–") for source in sweeps]] for g in gammas]
        section.blocks.append(Table(["γ", *sweeps], points, caption=f"accuracy by agreement threshold ({task})"))
        path = figures.sweep_figure(sweeps, folder / FIGURES / f"agreement-{_slug(task)}.png",
                                    f"Accuracy vs annotator agreement: {task}")
        caption = f"Figure 2: accuracy on instances with agreement ≥ γ, with linear fits ({task})."
        section.blocks.append(Image(path.relative_to(folder).as_posix(), caption))
    return section


def _task_section(data: ReportData, folder: Path) -> Section:
    result = data.task_subjectivity
    section = Section("Task-level subjectivity")
    section.blocks.append(Table(["task", "source", "subjectivity ★", "real Macro-F1", "Macro-F1", "gap"],
                                [[g.task, g.source, "★" * g.subjectivity, _f(g.real_macro_f1), _f(g.macro_f1),
                                  _f(g.gap)] for g in result.gaps]))
    section.blocks.append(Table(["source", "tasks", "Spearman ρ", "p"], [
        [c.source, str(c.n_tasks), _f(c.spearman_rho), "–" if c.spearman_p is None else f"{c.spearman_p:.2g}"]
        for c in result.correlations]))
    if result.caveat:
        section.blocks.append(Paragraph(f"Caveat: {result.caveat}."))
    path = figures.task_gap_figure(result.gaps, folder / FIGURES / "task-subjectivity.png",
                                   "Real → synthetic gap vs task subjectivity")
    section.blocks.append(Image(path.relative_to(folder).as_posix(),
                                "Macro-F1 gap between real-data and synthetic-data models against task subjectivity."))
    return section


def _curves_section(data: ReportData, folder: Path) -> Section:
    section = Section("Training curves")
    for task in sorted({m.task for m in data.models if m.curves}):
        curves = {m.source: m.curves for m in data.models if m.task == task and m.curves}
        path = figures.curves_figure({s: curves[s] for s in order_sources(set(curves))},
                                     folder / FIGURES / f"curves-{_slug(task)}.png", f"Training curves: {task}")
        section.blocks.append(Image(path.relative_to(folder).as_posix(),
                                    f"Training and validation loss, validation Macro-F1 per epoch ({task})."))
    return section


def _per_class_section(data: ReportData) -> Section:
    section = Section("Per-class metrics and confusion matrices")
    for row in sorted(data.evaluations, key=lambda r: (r.task, source_rank(r.source))):
        section.blocks.append(Table(
            ["label", "precision", "recall", "F1", "F1 CI", "support"],
            [[label, _f(m.precision), _f(m.recall), _f(m.f1), _ci(m.f1_ci), str(m.support)]
             for label, m in row.per_class.items()], caption=f"{row.task} / {row.source}"))
        if row.confusion:
            confusion = [[label, *map(str, counts)] for label, counts in zip(row.labels, row.confusion)]
            section.blocks.append(Table(["gold \\ predicted", *row.labels], confusion))
    return section


def build_document(data: ReportData, projections: dict[str, dict[str, np.ndarray]], folder: Path) -> Document:
    """The report document; figures are drawn into ``folder/figures/``.

    Args:
        data: the report's numbers.
        projections: per task, per source, 2-D points [n, 2] for Figure 1.
        folder: the report folder (figure paths in the document are relative to it).

    Returns:
        The :class:`Document` (sections without data are left out).
    """
    folder = Path(folder)
    findings = all_findings(data)
    sections = [Section("Findings", [Bullets(findings or ["no real-data baseline to compare with"])])]
    if data.evaluations:
        sections.append(Section("Table 1 — Macro-F1 / accuracy on the real test split",
                                [table1(data.evaluations), _interval_table(data.evaluations)]))
    if data.datasets or data.models:
        sections.append(_data_section(data))
    if data.diversity or projections:
        sections.append(_diversity_section(data, projections, folder))
    if data.similarity:
        sections.append(_similarity_section(data, folder))
    if data.sweeps:
        sections.append(_sweep_section(data, folder))
    if data.task_subjectivity and data.task_subjectivity.gaps:
        sections.append(_task_section(data, folder))
    if any(m.curves for m in data.models):
        sections.append(_curves_section(data, folder))
    if any(r.per_class for r in data.evaluations):
        sections.append(_per_class_section(data))
    if data.notes:
        sections.append(Section("Notes", [Bullets(data.notes)]))
    lineage = [f"{r.task} / {r.source}: n={r.support}, evaluation `{r.evaluation_uri}`"
               + (f", model `{r.model}`" if r.model else "") for r in data.evaluations]
    lineage += [f"`{uri}`" for uri in data.inputs]
    sections.append(Section("Evaluations and inputs", [Bullets(lineage)]))
    lead = (f"{len(data.evaluations)} evaluation(s) over {len(data.tasks())} task(s); all numbers below are "
            "computed from the artifacts listed at the end.")
    return Document(title=data.title, lead=lead, sections=sections)
