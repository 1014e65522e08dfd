"""The experiment report: Table 1 of Li et al. (2023) for the tasks and data sources run.

Rows are tasks, columns are data sources (real, zero-shot, few-shot, mixtures), cells are
Macro-F1 and accuracy on the task's real test split. Findings are computed from the numbers.
"""

from __future__ import annotations

from pydantic import BaseModel

#: Column order of the known data sources; others follow alphabetically.
SOURCE_ORDER = ("real", "zero_shot", "few_shot")


class EvaluationRow(BaseModel):
    """One evaluation: a model trained on one data source, tested on a task's real test split."""

    task: str
    source: str
    macro_f1: float
    accuracy: float
    support: int
    evaluation_uri: str
    model: str = ""


def _sources(rows: list[EvaluationRow]) -> list[str]:
    present = {r.source for r in rows}
    known = [s for s in SOURCE_ORDER if s in present]
    return known + sorted(present - set(known))


def render_table1(rows: list[EvaluationRow]) -> str:
    """Markdown table: one row per task, per source "Macro-F1 / accuracy" (3 decimals)."""
    sources = _sources(rows)
    cells = {(r.task, r.source): r for r in rows}
    header = "| task | " + " | ".join(f"{s} (Macro-F1 / acc.)" for s in sources) + " |"
    lines = [header, "|" + "---|" * (len(sources) + 1)]
    for task in sorted({r.task for r in rows}):
        values = []
        for source in sources:
            row = cells.get((task, source))
            values.append(f"{row.macro_f1:.3f} / {row.accuracy:.3f}" if row else "–")
        lines.append(f"| {task} | " + " | ".join(values) + " |")
    return "\n".join(lines)


def findings(rows: list[EvaluationRow]) -> list[str]:
    """Plain-language findings computed from the numbers: synthetic vs real gap per task."""
    out = []
    by_task: dict[str, dict[str, EvaluationRow]] = {}
    for row in rows:
        by_task.setdefault(row.task, {})[row.source] = row
    for task, sources in sorted(by_task.items()):
        real = sources.get("real")
        if real is None:
            continue
        for source, row in sorted(sources.items()):
            if source == "real":
                continue
            gap = real.macro_f1 - row.macro_f1
            direction = "below" if gap > 0 else "above"
            out.append(
                f"{task}: training on {source} data gives Macro-F1 {row.macro_f1:.3f}, "
                f"{abs(gap):.3f} {direction} training on real data ({real.macro_f1:.3f})."
            )
    return out


def render_report(title: str, rows: list[EvaluationRow], details: list[str] | None = None) -> str:
    """The whole Markdown report: title, Table 1, findings, and each evaluation's lineage."""
    parts = [f"# {title}", "", "## Table 1 — Macro-F1 / accuracy on the real test split", "",
             render_table1(rows), "", "## Findings", ""]
    parts += [f"- {line}" for line in findings(rows)] or ["- no real-data baseline to compare with"]
    parts += ["", "## Evaluations", ""]
    parts += [f"- {r.task} / {r.source}: n={r.support}, model `{r.model}`, evaluation `{r.evaluation_uri}`"
              for r in rows]
    if details:
        parts += ["", "## Details", ""] + [f"- {d}" for d in details]
    return "\n".join(parts) + "\n"
