"""PNG figures of the report (matplotlib, object-oriented API on the Agg canvas).

:class:`matplotlib.figure.Figure` is used directly, never ``pyplot``: no global figure state,
so figures can be drawn from the gRPC worker threads. Every function writes one PNG and
returns its path. Colours are fixed per data source so all figures read alike.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from synthclf.analysis.diversity import DiversityScores
from synthclf.analysis.subjectivity import SweepResult, TaskGap
from synthclf.analysis.verdict import TaskVerdict

#: Colour of each known data source.
COLOURS = {"real": "#1f77b4", "zero_shot": "#ff7f0e", "few_shot": "#2ca02c", "real_test": "#7f7f7f"}
_OTHER = ("#9467bd", "#8c564b", "#e377c2", "#bcbd22", "#17becf", "#d62728")
#: Resolution of the PNGs (dots per inch).
DPI = 110


def colour(source: str, index: int = 0) -> str:
    """Colour of a data source (known sources fixed, others from a fallback cycle)."""
    return COLOURS.get(source, _OTHER[index % len(_OTHER)])


def _save(figure: Figure, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    figure.savefig(path, dpi=DPI, format="png")
    return path


def projection_figure(coordinates: Mapping[str, np.ndarray], path: Path, title: str) -> Path:
    """Figure 1: 2-D projection of real vs synthetic embeddings, one colour per source.

    Args:
        coordinates: per source, float [n, 2] projected points (e.g. PCA of the embeddings).
        path: PNG to write.
        title: figure title.
    """
    figure = Figure(figsize=(6.4, 5.2))
    ax = figure.subplots()
    for i, (source, points) in enumerate(coordinates.items()):
        if len(points):
            ax.scatter(points[:, 0], points[:, 1], s=9, alpha=0.55, color=colour(source, i),
                       label=f"{source} (n={len(points)})", linewidths=0)
    ax.set_xlabel("principal component 1")
    ax.set_ylabel("principal component 2")
    ax.set_title(title)
    ax.legend(loc="best", markerscale=2, fontsize=8)
    return _save(figure, path)


def sweep_figure(sweeps: Mapping[str, SweepResult], path: Path, title: str) -> Path:
    """Figure 2: accuracy on instances with agreement ≥ γ, with each source's fitted line.

    Args:
        sweeps: per source, the agreement sweep (points and fit).
        path: PNG to write.
        title: figure title.
    """
    figure = Figure(figsize=(6.4, 4.4))
    ax = figure.subplots()
    for i, (source, sweep) in enumerate(sweeps.items()):
        x = np.array([p.gamma for p in sweep.points])
        y = np.array([p.accuracy for p in sweep.points])
        c = colour(source, i)
        fit = sweep.fit
        label = source
        if fit.r_squared is not None:
            label += f" (R²={fit.r_squared:.2f}"
            label += f", ρ={fit.spearman_rho:.2f})" if fit.spearman_rho is not None else ")"
        ax.plot(x, y, "o", color=c, label=label)
        if fit.slope is not None and fit.intercept is not None and len(x):
            line = np.linspace(x.min(), x.max(), 2)
            ax.plot(line, fit.intercept + fit.slope * line, "-", color=c, alpha=0.8)
    ax.set_xlabel("agreement threshold γ (instances with aᵢ ≥ γ)")
    ax.set_ylabel("accuracy")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    return _save(figure, path)


def curves_figure(curves: Mapping[str, Sequence[Mapping]], path: Path, title: str) -> Path:
    """Training curves: losses (left) and validation Macro-F1 (right) per epoch and source.

    Args:
        curves: per source, the model's ``curves.json`` rows (``epoch``, ``train_loss``,
            ``val_loss``, ``val_macro_f1``; validation values may be None).
        path: PNG to write.
        title: figure title.
    """
    figure = Figure(figsize=(9.6, 3.8))
    loss_ax, f1_ax = figure.subplots(1, 2)
    for i, (source, rows) in enumerate(curves.items()):
        c = colour(source, i)
        epochs = [r["epoch"] for r in rows]
        loss_ax.plot(epochs, [r.get("train_loss") for r in rows], "-o", color=c, label=f"{source} train")
        if any(r.get("val_loss") is not None for r in rows):
            loss_ax.plot(epochs, [_nan(r.get("val_loss")) for r in rows], "--s", color=c,
                         label=f"{source} validation")
            f1_ax.plot(epochs, [_nan(r.get("val_macro_f1")) for r in rows], "-o", color=c, label=source)
    loss_ax.set_xlabel("epoch")
    loss_ax.set_ylabel("cross-entropy loss")
    loss_ax.legend(fontsize=7)
    f1_ax.set_xlabel("epoch")
    f1_ax.set_ylabel("validation Macro-F1")
    f1_ax.set_ylim(0, 1.02)
    if f1_ax.lines:
        f1_ax.legend(fontsize=7)
    epochs = sorted({r["epoch"] for rows in curves.values() for r in rows})
    for ax in (loss_ax, f1_ax):
        ax.grid(alpha=0.3)
        ax.set_xticks(epochs)
    figure.suptitle(title)
    return _save(figure, path)


def _nan(value) -> float:
    return float("nan") if value is None else float(value)


def similarity_figure(values: Mapping[str, tuple[float, float]], path: Path, title: str) -> Path:
    """Similarity bars: mean top-k cosine similarity to real data (± 1 sd) per source.

    Args:
        values: per source, (mean, standard deviation).
        path: PNG to write.
        title: figure title.
    """
    figure = Figure(figsize=(5.6, 3.8))
    ax = figure.subplots()
    sources = list(values)
    means = [values[s][0] for s in sources]
    bars = ax.bar(sources, means, yerr=[values[s][1] for s in sources], capsize=4,
                  color=[colour(s, i) for i, s in enumerate(sources)])
    ax.bar_label(bars, labels=[f"{m:.3f}" for m in means], padding=2, fontsize=8)
    ax.set_ylabel("mean top-k cosine similarity to real")
    ax.set_ylim(0, 1.05)
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)
    return _save(figure, path)


def diversity_figure(scores: Mapping[str, DiversityScores], path: Path, title: str) -> Path:
    """Diversity bars: remote-clique score and chamfer distance per source.

    Args:
        scores: per source, overall diversity scores.
        path: PNG to write.
        title: figure title.
    """
    figure = Figure(figsize=(6.4, 3.8))
    ax = figure.subplots()
    sources = list(scores)
    x = np.arange(2)
    width = 0.8 / max(len(sources), 1)
    for i, source in enumerate(sources):
        s = scores[source]
        bars = ax.bar(x + (i - (len(sources) - 1) / 2) * width, [s.remote_clique, s.chamfer], width,
                      color=colour(source, i), label=f"{source} (n={s.n})")
        ax.bar_label(bars, fmt="%.3f", padding=2, fontsize=7)
    ax.set_xticks(x, ["remote-clique (mean pairwise)", "chamfer (mean nearest)"])
    ax.set_ylabel("cosine distance")
    ax.set_title(title)
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return _save(figure, path)


def task_gap_figure(gaps: Sequence[TaskGap], path: Path, title: str) -> Path:
    """Task-level subjectivity: real → synthetic Macro-F1 gap against subjectivity stars.

    Args:
        gaps: one point per task and synthetic source.
        path: PNG to write.
        title: figure title.
    """
    figure = Figure(figsize=(6.0, 4.0))
    ax = figure.subplots()
    for i, source in enumerate(sorted({g.source for g in gaps})):
        rows = [g for g in gaps if g.source == source]
        ax.scatter([g.subjectivity for g in rows], [g.gap for g in rows], color=colour(source, i),
                   label=source, s=30)
        for g in rows:
            ax.annotate(g.task, (g.subjectivity, g.gap), fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.axhline(0, color="black", linewidth=0.6)
    ax.set_xlim(0.5, 5.5)
    ax.set_xticks(range(1, 6))
    ax.set_xlabel("task subjectivity (stars)")
    ax.set_ylabel("Macro-F1 gap (real − synthetic)")
    ax.set_title(title)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return _save(figure, path)


def learning_curve_figure(verdict: TaskVerdict, backbone: str, path: Path, title: str) -> Path:
    """The answer's figure: the real-data learning curve with each synthetic/mixed model as a band.

    The curve (mean Macro-F1 over seeds per n real rows per label, log-scale x, with its
    interval as error bars) and its isotonic fit; each synthetic or mixed model is a horizontal
    band (its interval, or its mean alone) across the plot, and its real-label equivalent — the
    n where the fit reaches the model's Macro-F1 — is marked on the fit (an arrow at the edge
    when it lies outside the curve).

    Args:
        verdict: the task's verdict (curve points and equivalents).
        backbone: which backbone's curve to draw.
        path: PNG to write.
        title: figure title.
    """
    figure = Figure(figsize=(6.4, 4.4))
    ax = figure.subplots()
    points = [p for p in verdict.curve if p.backbone == backbone]
    sizes = np.array([p.per_label for p in points], dtype=float)
    means = np.array([p.macro_f1 for p in points])
    if len(points):
        low = np.array([p.macro_f1_ci.low if p.macro_f1_ci else p.macro_f1 for p in points])
        high = np.array([p.macro_f1_ci.high if p.macro_f1_ci else p.macro_f1 for p in points])
        ax.errorbar(sizes, means, yerr=[means - low, high - means], fmt="o", color=colour("real"), capsize=3,
                    label=f"real × n/label (mean of {max(p.seeds for p in points)} seeds)")
        ax.plot(sizes, [p.fitted for p in points], "-", color=colour("real"), alpha=0.7, label="isotonic fit")
    rows = [e for e in verdict.equivalents if e.backbone == backbone]
    for i, row in enumerate(rows):
        c = colour(row.source, i + 3) if row.real_per_label == 0 else _OTHER[i % len(_OTHER)]
        if row.macro_f1_ci is not None:
            ax.axhspan(row.macro_f1_ci.low, row.macro_f1_ci.high, color=c, alpha=0.15, linewidth=0)
        ax.axhline(row.macro_f1, color=c, linewidth=1.2, linestyle="--", label=f"{row.label}: ≈ {row.text}")
        if len(points):
            eq = row.equivalent
            if eq.position == "inside" and eq.per_label is not None:
                x = eq.per_label
            else:
                x = float(sizes[0] if eq.position == "below" else sizes[-1])
            marker = "D" if eq.position == "inside" else "<" if eq.position == "below" else ">"
            ax.plot([x], [row.macro_f1], marker=marker, color=c, markersize=8, markeredgecolor="black")
    full = [c for c in verdict.table1 if c.condition.is_full_real and c.condition.backbone == backbone]
    if full:
        ax.axhline(full[0].macro_f1, color="black", linewidth=0.8, linestyle=":",
                   label=f"full real ({full[0].macro_f1:.3f})")
    if len(points):
        ax.set_xscale("log", base=2)
        ax.set_xticks(sizes, [str(int(s)) for s in sizes])
    ax.set_xlabel("real training rows per label (log scale)")
    ax.set_ylabel("Macro-F1 on the real test split")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=7)
    return _save(figure, path)
