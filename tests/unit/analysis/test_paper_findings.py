"""The paper's three findings checked on runs with known answers."""

from __future__ import annotations

import numpy as np
from fake_runs import run

from synthclf.analysis.paper_findings import agreement_finding, ordering_finding, paper_findings, subjectivity_finding
from synthclf.analysis.report_data import ReportData
from synthclf.analysis.subjectivity import agreement_sweep, task_subjectivity

RATINGS = {"sms_spam": 1, "bbc_news": 2, "trec": 3, "vader_movie": 4}


def _table1(scores: dict[str, tuple[float, float, float]]) -> list:
    """Table-1 runs: per task (real, few-shot, zero-shot) Macro-F1, one seed."""
    return [run(source, f1, task=task) for task, values in scores.items()
            for source, f1 in zip(("real", "few_shot", "zero_shot"), values)]


def test_order_that_holds_everywhere_is_reproduced_with_separated_intervals():
    data = ReportData(title="t", runs=_table1({"sms_spam": (0.95, 0.80, 0.60), "trec": (0.90, 0.70, 0.50)}))
    finding = ordering_finding(data)
    assert finding.reproduced == "yes"
    assert "holds in 2 of 2 tasks" in finding.statistic and "in 2 of them both" in finding.statistic
    assert "real − few-shot +0.150" in finding.details[0]


def test_order_broken_on_one_task_is_partly_and_within_noise_is_not_separated():
    data = ReportData(title="t", runs=_table1({"sms_spam": (0.95, 0.949, 0.60), "trec": (0.70, 0.80, 0.50)}))
    finding = ordering_finding(data)
    assert finding.reproduced == "partly"
    assert "holds in 1 of 2 tasks" in finding.statistic and "in 0 of them" in finding.statistic
    assert finding.details[1].endswith("does not hold")


def _gaps(**sources) -> ReportData:
    """Gaps of each source growing (+1) or shrinking (−1) with the rating of RATINGS."""
    scores = [(t, "", "real", 0.9) for t in RATINGS]
    scores += [(t, "", source, 0.5 - 0.1 * sign * r) for source, sign in sources.items() for t, r in RATINGS.items()]
    return ReportData(title="t", task_subjectivity=task_subjectivity(scores, RATINGS))


def test_gap_growing_with_subjectivity_is_reproduced_and_shrinking_is_not():
    finding = subjectivity_finding(_gaps(zero_shot=1, few_shot=1))
    assert finding.reproduced == "yes", finding.statistic
    assert "zero_shot: Spearman ρ +1.00" in finding.statistic and "4 tasks" in finding.statistic
    assert subjectivity_finding(_gaps(zero_shot=1, few_shot=-1)).reproduced == "partly"
    finding = subjectivity_finding(_gaps(zero_shot=-1))
    assert finding.reproduced == "no" and "ρ -1.00" in finding.statistic


def test_accuracy_rising_with_agreement_is_reproduced_per_model():
    rng = np.random.default_rng(0)
    agreement = rng.uniform(0.5, 1.0, 2000)
    rising = agreement_sweep(rng.random(2000) < agreement, agreement, [0.5, 0.6, 0.7, 0.8, 0.9])
    flat = agreement_sweep(rng.random(2000) < 0.7, agreement, [0.5, 0.6, 0.7, 0.8, 0.9])
    data = ReportData(title="t", sweeps=[rising.model_copy(update={"task": "vader_movie", "source": "real"}),
                                         flat.model_copy(update={"task": "vader_movie", "source": "zero_shot"})])
    finding = agreement_finding(data)
    assert finding.reproduced == "partly", finding.statistic
    assert "for 1 of 2 models" in finding.statistic and "vader_movie / real: R²" in finding.statistic


def test_an_empty_run_is_not_testable_on_every_finding():
    assert [f.reproduced for f in paper_findings(ReportData(title="t"))] == ["not testable"] * 3
