"""Report rendering: one Jinja2 template family → report.md, then markdown-it-py → report.html.

:func:`render_report` draws the PNG figures into the report folder, builds the template
context (pre-formatted tables and sentences from :class:`ReportData`), renders
``templates/report.md.j2`` to Markdown, and renders that Markdown with markdown-it-py (tables
enabled) inside ``templates/page.html.j2``. Every figure is inlined into the HTML as a
``data:image/png;base64`` URI, so the page is self-contained; its CSS keeps it readable at
phone width (tables scroll inside their box, images scale). Markdown and HTML come from the
same text, so they can never disagree on a number. First screen: the verdict per task, the
learning-curve figure, Table 1 and one sentence per task × source; then the evidence.
"""

from __future__ import annotations

import base64
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markdown_it import MarkdownIt
from markupsafe import Markup

from synthclf.analysis import figures
from synthclf.analysis.condition import order_sources, source_rank
from synthclf.analysis.findings import (
    diversity_findings,
    generation_findings,
    similarity_findings,
    sweep_findings,
    task_findings,
    task_source_sentences,
)
from synthclf.analysis.metrics import CONFIDENCE
from synthclf.analysis.paper_findings import paper_findings
from synthclf.analysis.report_data import ReportData
from synthclf.analysis.table1 import markdown_table, table1
from synthclf.analysis.verdict import DELTA, TaskVerdict, rule_text
from synthclf.core.errors import NotFound

FIGURES = "figures"
# HTML templates autoescape (the page's title); the Markdown body is escaped by markdown-it-py
# (raw HTML off) and passed in as markup.
_ENV = Environment(loader=PackageLoader("synthclf.analysis", "templates"), undefined=StrictUndefined,
                   autoescape=lambda name: name is not None and name.endswith(".html.j2"),
                   keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True)
_ENV.filters["table"] = lambda t: markdown_table(t["header"], t["rows"]) if t["rows"] else ""


@dataclass
class Rendered:
    """A rendered report: Markdown, self-contained HTML, summary for machines, figure files."""

    markdown: str
    html: str
    summary: dict[str, Any]
    figures: list[str] = field(default_factory=list)


def _f(value: float | None, digits: int = 3) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def _ci(interval) -> str:
    return "–" if interval is None else f"[{interval.low:.3f}, {interval.high:.3f}]"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9_-]+", "-", text.lower()).strip("-") or "x"


def _table(header: list[str], rows: list[list[str]], caption: str = "") -> dict:
    return {"header": header, "rows": rows, "caption": caption}


class _Figures:
    """Draws figures into the report folder and remembers them (relative paths)."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.files: list[str] = []

    def add(self, draw, name: str, *args) -> str:
        """Draw ``figures/<name>.png`` with ``draw(*args[:-1], path, args[-1])``; returns its path relative to the report."""
        path = draw(*args[:-1], self.folder / FIGURES / f"{name}.png", args[-1])
        relative = path.relative_to(self.folder).as_posix()
        self.files.append(relative)
        return relative


def _evidence(data: ReportData, verdict: TaskVerdict) -> dict[str, str]:
    """Subjectivity, agreement, diversity and similarity of a task, as short texts."""
    task = verdict.task
    diversity = {d.source: d.overall.remote_clique for d in data.diversity if d.task == task}
    similarity = {s.source: s.mean_top_k for s in data.similarity if s.task == task}
    synthetic = [s for s in order_sources(diversity) if s != "real"]
    div = ", ".join(f"{s} {diversity[s]:.3f}" for s in synthetic)
    if "real" in diversity:
        div = (div + "; " if div else "") + f"real {diversity['real']:.3f}"
    sim = ", ".join(f"{s} {similarity[s]:.3f}" for s in order_sources(similarity) if s != "real_test")
    if "real_test" in similarity:
        sim = (sim + "; " if sim else "") + f"held-out real {similarity['real_test']:.3f}"
    return {"subjectivity": "★" * verdict.subjectivity if verdict.subjectivity else "–",
            "agreement": _f(verdict.agreement, 2), "diversity": div or "–", "similarity": sim or "–"}


def _first_screen(data: ReportData, drawn: _Figures) -> dict[str, Any]:
    verdicts = sorted(data.verdicts, key=lambda v: v.task)
    rows, details = [], []
    for v in verdicts:
        best = max((e for e in v.equivalents if e.real_per_label == 0), key=lambda e: e.macro_f1, default=None)
        evidence = _evidence(data, v)
        rows.append([v.task, f"**{v.decision_text}**", f"{best.label}: ≈ {best.text}" if best else "–"])
        shown = (f"subjectivity {evidence['subjectivity']} · instance agreement {evidence['agreement']} · "
                 f"diversity (remote-clique) {evidence['diversity']} · similarity to real (top-5 cosine) "
                 f"{evidence['similarity']}")
        details.append({"task": v.task, "decision": v.decision_text, "reason": v.reason, "warnings": v.warnings,
                        "evidence": shown})
    curve_figures = []
    for v in verdicts:
        for backbone in dict.fromkeys(p.backbone for p in v.curve):
            name = f"learning-curve-{_slug(v.task)}" + (f"-{_slug(backbone)}" if backbone else "")
            suffix = f" [{backbone}]" if backbone else ""
            file = drawn.add(figures.learning_curve_figure, name, v, backbone,
                             f"Learning curve and real-label equivalents: {v.task}{suffix}")
            curve_figures.append({"file": file, "caption": (
                f"{v.task}{suffix}: Macro-F1 of models trained on n real rows per label (points: mean over "
                "seeds with intervals; line: isotonic fit); each synthetic or mixed model is a horizontal band "
                "(its interval) with its real-label equivalent marked on the curve.")})
    cells = data.table1_cells()
    delta = verdicts[0].delta if verdicts else DELTA
    # the level the evaluations' intervals were computed at (Evaluate's ``confidence``)
    confidence = verdicts[0].confidence if verdicts else (cells[0].confidence if cells else CONFIDENCE)
    return {
        "verdicts": _table(["task", "verdict", "best synthetic data ≈ real labels per label"], rows),
        "verdict_details": details,
        "rule": rule_text(delta, confidence),
        "curve_figures": curve_figures,
        "table1": table1(cells).model_dump() if cells else None,
        "sentences": task_source_sentences(data),
        "paper_findings": [f.model_dump() for f in paper_findings(data)] if cells else [],
    }


def _answer_details(data: ReportData) -> dict[str, Any]:
    eq_rows, stretch_rows, curve_rows = [], [], []
    for v in sorted(data.verdicts, key=lambda v: v.task):
        for e in v.equivalents:
            cost = "–" if e.usd_per_equivalent_label is None else f"{e.usd_per_equivalent_label:.5f}"
            human = "–" if e.human_cost_usd is None else f"{e.human_cost_usd:.2f}"
            eq_rows.append([v.task, e.backbone or "default", e.label, _f(e.macro_f1), _ci(e.macro_f1_ci), e.text,
                            "–" if e.llm_cost_usd is None else f"{e.llm_cost_usd:.4f}", cost, human])
        for s in v.stretch:
            stretch_rows.append([v.task, s.backbone or "default", s.source, str(s.real_per_label), _f(s.real_macro_f1),
                                 _f(s.mixed_macro_f1), f"{s.gain.value:+.3f}",
                                 _ci(s.gain.interval), "yes" if s.passes else "no"])
        for r in v.replace:
            stretch_rows.append([v.task, r.backbone or "default", f"{r.source} alone vs {r.reference}", "–",
                                 _f(r.reference_macro_f1), _f(r.macro_f1), f"{r.difference.value:+.3f}",
                                 _ci(r.difference.interval), "yes (replace)" if r.passes else "no"])
        for p in v.curve:
            curve_rows.append([v.task, p.backbone or "default", str(p.per_label), str(p.seeds), _f(p.macro_f1),
                               _f(p.macro_f1_sd), _ci(p.macro_f1_ci), _f(p.fitted)])
    label_cost = next((v.label_cost_usd for v in data.verdicts if v.label_cost_usd), None)
    return {
        "equivalents": _table(["task", "backbone", "model", "Macro-F1", "interval", "≈ real labels per label",
                               "LLM cost US$", "US$ per equivalent real label",
                               f"human labels US$ (at {label_cost:g}/label)" if label_cost else "human labels US$"],
                              eq_rows, "real-label equivalents: the n real rows per label whose fitted Macro-F1 "
                              "equals the model's (interval: seeds and test set resampled)"),
        "checks": _table(["task", "backbone", "comparison", "k real/label", "reference Macro-F1", "Macro-F1",
                          "difference", "interval", "passes"], stretch_rows,
                         "the verdict's comparisons: mixed models against k real rows per label alone (stretch), "
                         "synthetic data alone against the real reference: the full-real model or a better curve "
                         "point (replace)"),
        "curve": _table(["task", "backbone", "real rows per label", "seeds", "mean Macro-F1", "sd", "interval",
                         "isotonic fit"], curve_rows, "the real-data learning curve"),
    }


def _evidence_sections(data: ReportData, drawn: _Figures) -> dict[str, Any]:
    out: dict[str, Any] = {}
    div_rows = [[r.task, r.source, str(r.overall.n), str(r.n_total), _f(r.overall.remote_clique), _f(r.overall.chamfer)]
                for r in sorted(data.diversity, key=lambda r: (r.task, source_rank(r.source)))]
    div_figures = []
    for task in data.tasks():
        scores = {r.source: r.overall for r in data.diversity if r.task == task}
        if scores:
            div_figures.append({"file": drawn.add(figures.diversity_figure, f"diversity-{_slug(task)}",
                                                  {s: scores[s] for s in order_sources(scores)},
                                                  f"Diversity of the training data: {task}"),
                                "caption": f"Remote-clique and chamfer diversity per data source ({task})."})
    for projection in sorted(data.projections, key=lambda p: p.task):
        arrays = projection.arrays()
        div_figures.append({"file": drawn.add(figures.projection_figure, f"projection-{_slug(projection.task)}",
                                              {s: arrays[s] for s in order_sources(arrays)},
                                              f"Real vs synthetic texts: {projection.task} (PCA of embeddings)"),
                            "caption": f"Figure 1: 2-D PCA projection of sentence embeddings by data source "
                                       f"({projection.task})."})
    out["diversity"] = {"table": _table(["task", "source", "n used", "rows", "remote-clique", "chamfer"], div_rows),
                        "figures": div_figures, "findings": diversity_findings(data.diversity)}
    sims = sorted(data.similarity, key=lambda r: (r.task, source_rank(r.source)))
    sim_figures = []
    for task in sorted({r.task for r in sims}):
        values = {r.source: (r.mean_top_k, r.std_top_k) for r in sims if r.task == task}
        sim_figures.append({"file": drawn.add(figures.similarity_figure, f"similarity-{_slug(task)}",
                                              {s: values[s] for s in order_sources(values)},
                                              f"Similarity to real training texts: {task}"),
                            "caption": f"Mean top-k cosine similarity to real training texts, ± 1 sd ({task})."})
    out["similarity"] = {"table": _table(["task", "source", "k", "n", "n real", "mean top-k cosine", "sd"],
                                         [[r.task, r.source, str(r.k), str(r.n_synthetic), str(r.n_real),
                                           _f(r.mean_top_k), _f(r.std_top_k)] for r in sims]),
                         "figures": sim_figures, "findings": similarity_findings(data, data.similarity)}
    sweep_figures = []
    for task in sorted({s.task for s in data.sweeps}):
        sweeps = {s.source: s for s in data.sweeps if s.task == task}
        sweep_figures.append({"file": drawn.add(figures.sweep_figure, f"agreement-{_slug(task)}",
                                                {k: sweeps[k] for k in order_sources(sweeps)},
                                                f"Accuracy vs annotator agreement: {task}"),
                              "caption": f"Figure 2: accuracy on instances with agreement ≥ γ, with linear fits "
                                         f"({task})."})
    out["sweeps"] = {"table": _table(["task", "source", "points", "slope", "intercept", "R²", "Spearman ρ", "p"], [
        [s.task, s.source, str(len(s.points)), _f(s.fit.slope), _f(s.fit.intercept), _f(s.fit.r_squared),
         _f(s.fit.spearman_rho), "–" if s.fit.spearman_p is None else f"{s.fit.spearman_p:.2g}"] for s in data.sweeps]),
        "figures": sweep_figures, "findings": sweep_findings(data.sweeps)}
    result = data.task_subjectivity
    task_figures, gap_rows = [], []
    if result and result.gaps:
        gap_rows = [[g.task, g.source, g.backbone or "default", "★" * g.subjectivity, _f(g.real_macro_f1),
                     _f(g.macro_f1), _f(g.gap)] for g in result.gaps]
        task_figures.append({"file": drawn.add(figures.task_gap_figure, "task-subjectivity", result.gaps,
                                               "Real → synthetic gap vs task subjectivity"),
                             "caption": "Macro-F1 gap between real-data and synthetic-data models against task "
                                        "subjectivity."})
    out["task_subjectivity"] = {"table": _table(["task", "source", "backbone", "subjectivity ★", "real Macro-F1",
                                                 "Macro-F1", "gap"], gap_rows),
                                "figures": task_figures, "findings": task_findings(result)}
    curve_figures = []
    for task in sorted({m.task for m in data.models if m.curves}):
        curves = {m.source: m.curves for m in data.models if m.task == task and m.curves}
        curve_figures.append({"file": drawn.add(figures.curves_figure, f"curves-{_slug(task)}",
                                                {s: curves[s] for s in order_sources(curves)},
                                                f"Training curves: {task}"),
                              "caption": f"Training and validation loss, validation Macro-F1 per epoch ({task})."})
    out["training_curves"] = curve_figures
    return out


def _cost_sections(data: ReportData) -> dict[str, Any]:
    rows = []
    for d in sorted(data.datasets, key=lambda d: (d.task, source_rank(d.source), d.split)):
        rate = f"{d.accepted / d.requested:.0%}" if d.requested and d.accepted is not None else "–"
        rows.append([d.task, d.source, d.split or "synthetic", str(d.rows), str(d.requested or "–"),
                     str(d.accepted if d.accepted is not None else "–"), rate,
                     str(d.prompt_tokens if d.prompt_tokens is not None else "–"),
                     str(d.completion_tokens if d.completion_tokens is not None else "–"),
                     f"{data.cost_usd(d):.4f}" if d.requested else "–", _f(d.wall_time_s, 1)])
    caption = (f"cost at US${data.usd_per_million_prompt_tokens:g} / US${data.usd_per_million_completion_tokens:g} "
               "per million prompt / completion tokens"
               if data.usd_per_million_prompt_tokens or data.usd_per_million_completion_tokens
               else "cost as recorded by the generation service (0 for a local LLM)")
    timing = [[m.task, m.source, str(m.rows or "–"), str(m.best_epoch or "–"), m.device or "–", _f(m.wall_time_s, 1)]
              for m in data.models]
    timing += [[r.condition.task, f"{r.condition.label} seed {r.condition.seed} (evaluation)", str(r.support), "–",
                "–", _f(r.wall_time_s, 1)] for r in data.runs if r.wall_time_s is not None]
    return {"generation": _table(["task", "source", "split", "rows", "LLM requests", "kept", "kept %",
                                  "prompt tokens", "completion tokens", "cost US$", "wall time s"], rows, caption),
            "generation_findings": generation_findings(data),
            "timing": _table(["task", "model", "rows", "best epoch", "device", "wall time s"], timing,
                             "training (Table-1 models) and evaluation wall times")}


def _prompt_sections(data: ReportData) -> list[dict[str, Any]]:
    """The prompts each task's synthetic data was generated with, for a person to review
    (drafted prompts of a user's task included; Li et al. 2023, §3.1: context prompt, one
    data-generation prompt per label, diversity prompt, few-shot imitation instruction)."""
    sections, seen = [], set()
    for d in sorted(data.datasets, key=lambda d: (d.task, source_rank(d.source))):
        prompts = d.prompts
        if not prompts or d.task in seen:
            continue
        seen.add(d.task)
        listed = prompts.get("per_label")
        per_label = listed if isinstance(listed, dict) else {}
        rows = [["context prompt (system message)", str(prompts.get("context_prompt") or "–")]]
        rows += [[f"data-generation prompt: {label}", str(text)] for label, text in per_label.items()]
        rows += [["diversity prompt", str(prompts.get("diversity_prompt") or "–")],
                 ["few-shot imitation instruction", str(prompts.get("imitation_instruction") or "–")]]
        sections.append({"task": d.task, "table": _table(["prompt", "wording"], rows)})
    return sections


def _lineage(data: ReportData) -> list[str]:
    lines = [f"{r.condition.task} / {r.condition.label} [{r.condition.backbone_name}] seed {r.condition.seed}: "
             f"n={r.support}, evaluation `{r.evaluation_uri}`" + (f", model `{r.model_uri}`" if r.model_uri else "")
             for r in sorted(data.runs, key=lambda r: (r.condition.task, r.condition.real_per_label,
                                                        source_rank(r.condition.source), r.condition.seed))]
    return lines + [f"`{uri}`" for uri in data.inputs]


def _inline_images(tokens, folder: Path) -> None:
    """Replace every image's src by a data: URI of its PNG inside ``folder``."""
    for token in tokens:
        for child in token.children or []:
            if child.type == "image":
                path = folder / child.attrGet("src")
                if not path.resolve().is_relative_to(folder.resolve()) or not path.is_file():
                    raise NotFound(f"figure {child.attrGet('src')} is missing from {folder}")
                child.attrSet("src", "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii"))


def markdown_to_html(markdown: str, title: str, folder: Path) -> str:
    """The report's Markdown as one self-contained HTML page (markdown-it-py, tables on, raw HTML off).

    Raises:
        NotFound: a figure the Markdown names is missing from ``folder``.
    """
    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    tokens = md.parse(markdown)
    _inline_images(tokens, Path(folder))
    body = md.renderer.render(tokens, md.options, {})
    return _ENV.get_template("page.html.j2").render(title=title, body=Markup(body))


def render_report(data: ReportData, folder: Path) -> Rendered:
    """Draw the figures into ``folder/figures/`` and render the report.

    Args:
        data: everything the report shows.
        folder: the report folder (figure paths are relative to it).

    Returns:
        The :class:`Rendered` report (Markdown, HTML, summary.json content, figure files).

    Raises:
        NotFound: a figure went missing between drawing and inlining.
    """
    folder = Path(folder)
    drawn = _Figures(folder)
    tasks = data.tasks()
    context = {
        "title": data.title,
        "lead": (f"{len(data.runs)} evaluation(s) over {len(tasks)} task(s); every number below is computed from "
                 "the artifacts listed at the end."),
        **_first_screen(data, drawn), **_answer_details(data), **_evidence_sections(data, drawn),
        **_cost_sections(data),
        "per_class": [{"caption": f"{r.condition.task} / {r.condition.label} seed {r.condition.seed}",
                       "table": _table(["label", "precision", "recall", "F1", "F1 CI", "support"],
                                       [[label, _f(m.precision), _f(m.recall), _f(m.f1), _ci(m.f1_ci), str(m.support)]
                                        for label, m in r.per_class.items()])}
                      for r in data.runs if r.condition.is_table1 and r.per_class],
        "prompts": _prompt_sections(data), "notes": data.notes, "lineage": _lineage(data),
    }
    markdown = _ENV.get_template("report.md.j2").render(**context)
    markdown = re.sub(r"\n{3,}", "\n\n", markdown).strip() + "\n"
    summary = {"title": data.title,
               "verdicts": [v.model_dump(mode="json") | {"decision_text": v.decision_text}
                            for v in sorted(data.verdicts, key=lambda v: v.task)],
               "table1": [c.model_dump(mode="json") for c in data.table1_cells()],
               "sentences": context["sentences"], "paper_findings": context["paper_findings"],
               "notes": data.notes, "inputs": data.inputs}
    return Rendered(markdown=markdown, html=markdown_to_html(markdown, data.title, folder), summary=summary,
                    figures=drawn.files)
