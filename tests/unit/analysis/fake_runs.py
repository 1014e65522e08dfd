"""Scored runs with known scores and paired resamples, for the verdict and report tests."""

from __future__ import annotations

import zlib

import numpy as np

from synthclf.analysis.condition import Condition
from synthclf.analysis.metrics import Interval
from synthclf.analysis.runs import ScoredRun

#: Resamples per run.
B = 400


def run(source: str, f1: float, *, seed: int = 0, per_label: int = 0, backbone: str = "", task: str = "sms_spam",
        noise: float = 0.01, resamples: bool = True) -> ScoredRun:
    """A run whose resampled Macro-F1 is ``f1`` plus shared test-set noise and its own noise.

    The shared part (the same for every run: a paired test set) is drawn from seed 99; the
    model's own part from a seed of its condition.
    """
    shared = np.random.default_rng(99).normal(0.0, noise, B)
    own = np.random.default_rng(zlib.crc32(repr((source, seed, per_label, backbone)).encode())).normal(0.0, noise / 2, B)
    values = np.clip(f1 + shared + own, 0, 1)
    return ScoredRun(
        condition=Condition(task=task, source=source, backbone=backbone, seed=seed, real_per_label=per_label),
        macro_f1=f1, accuracy=min(1.0, f1 + 0.05), support=500, evaluation_uri=f"file:///e/{source}-{seed}-{per_label}",
        dataset_uri="file:///d/test", macro_f1_ci=Interval(low=f1 - 2 * noise, high=f1 + 2 * noise),
        accuracy_ci=Interval(low=f1 + 0.05 - 2 * noise, high=min(1.0, f1 + 0.05 + 2 * noise)),
        macro_f1_resamples=values.tolist() if resamples else None,
        accuracy_resamples=np.clip(values + 0.05, 0, 1).tolist() if resamples else None)


def study(curve: dict[int, float], synthetic: dict[str, float], *, full_real: float = 0.9,
          mixed: dict[tuple[str, int], float] | None = None, seeds=(0, 1, 2), **kw) -> list[ScoredRun]:
    """A task's runs: the curve, Table-1 models (real + synthetic) and mixed models, per seed.

    Seed s shifts each score by (s - mean seed) × 0.004, so the seed mean is the given score.
    """
    middle = sum(seeds) / len(seeds)
    shift = {s: (s - middle) * 0.004 for s in seeds}
    runs = [run("real", full_real + shift[s], seed=s, **kw) for s in seeds]
    runs += [run("real", f1 + shift[s], seed=s, per_label=n, **kw) for n, f1 in curve.items() for s in seeds]
    runs += [run(source, f1 + shift[s], seed=s, **kw) for source, f1 in synthetic.items() for s in seeds]
    runs += [run(source, f1 + shift[s], seed=s, per_label=k, **kw) for (source, k), f1 in (mixed or {}).items()
             for s in seeds]
    return runs
