"""Training curves (Li et al. 2023, Fig. B.1): per-epoch losses and validation scores.

Written into the model artifact as ``curves.json`` (the numbers) and ``curves.png`` (two
panels: training and validation cross-entropy; validation Macro-F1 and accuracy; the kept
epoch marked). Plots use matplotlib's object API with the Agg canvas, never ``pyplot``: the
training job runs in a worker thread, where pyplot's global state is unsafe.
"""

from __future__ import annotations

import json
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

CURVES_JSON = "curves.json"
CURVES_PNG = "curves.png"


def write_curves(
    folder: Path, curves: list[dict], best_epoch: int, *, title: str = "", validation_source: str = ""
) -> tuple[Path, Path]:
    """Write ``curves.json`` and ``curves.png`` into ``folder``.

    Args:
        folder: destination folder (exists).
        curves: one dict per epoch: ``epoch`` (1-based), ``train_loss``, ``val_loss``,
            ``val_macro_f1``, ``val_accuracy`` (validation values None without validation).
        best_epoch: 1-based epoch of the kept checkpoint.
        title: plot title, e.g. the backbone and training-set size.
        validation_source: what the validation numbers were measured on, recorded in both.

    Returns:
        (path of curves.json, path of curves.png).
    """
    folder = Path(folder)
    json_path, png_path = folder / CURVES_JSON, folder / CURVES_PNG
    json_path.write_text(json.dumps(
        {"best_epoch": best_epoch, "validation_source": validation_source, "curves": curves},
        indent=2,
    ))
    plot_curves(curves, best_epoch, png_path, title=title, validation_source=validation_source)
    return json_path, png_path


def plot_curves(
    curves: list[dict], best_epoch: int, path: Path, *, title: str = "", validation_source: str = ""
) -> None:
    """Render the curves as a 2-panel PNG (10 × 4 in at 100 dpi) at ``path``."""
    epochs = [row["epoch"] for row in curves]
    fig = Figure(figsize=(10, 4), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    loss_ax, score_ax = fig.subplots(1, 2)
    loss_ax.plot(epochs, [row["train_loss"] for row in curves], "o-", label="training loss")
    _plot_present(loss_ax, epochs, [row["val_loss"] for row in curves], "s-", "validation loss")
    loss_ax.set(xlabel="epoch", ylabel="cross-entropy", title="Loss")
    _plot_present(score_ax, epochs, [row["val_macro_f1"] for row in curves], "o-",
                  "validation Macro-F1")
    _plot_present(score_ax, epochs, [row["val_accuracy"] for row in curves], "s--",
                  "validation accuracy")
    score_ax.set(xlabel="epoch", ylabel="score", title="Validation", ylim=(0, 1.02))
    if not any(row["val_macro_f1"] is not None for row in curves):
        score_ax.text(0.5, 0.5, "no validation set", ha="center", va="center",
                      transform=score_ax.transAxes)
    for ax in (loss_ax, score_ax):
        ax.axvline(best_epoch, color="grey", linestyle=":", label=f"kept epoch {best_epoch}")
        ax.set_xticks(epochs)
        ax.grid(alpha=0.3)
        ax.legend(loc="best", fontsize="small")
    subtitle = f"validation: {_describe(validation_source)}" if validation_source else ""
    fig.suptitle(" — ".join(part for part in (title, subtitle) if part))
    fig.savefig(path, format="png")


def _plot_present(ax, epochs: list[int], values: list[float | None], style: str, label: str) -> None:
    """Plot the (epoch, value) pairs whose value is not None."""
    points = [(e, v) for e, v in zip(epochs, values, strict=True) if v is not None]
    if points:
        ax.plot(*zip(*points, strict=True), style, label=label)


def _describe(validation_source: str) -> str:
    """A short title for a validation source: the artifact id of a held-out set, else words."""
    if validation_source.startswith("held_out:"):
        return "held-out " + validation_source.rstrip("/").rsplit("/", 1)[-1]
    return validation_source.replace("_", " ")
