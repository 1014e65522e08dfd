"""Table 1 of an experiment run and the report link."""

from __future__ import annotations

from orchestration.results import RunOutcome, report_link, table1_markdown
from orchestration.tasks import Evaluation


def _outcome(task, source, macro_f1, accuracy, seed=0, backbone="", support=50):
    evaluation = None if macro_f1 is None else Evaluation(uri=f"file:///a/evaluation/{task}-{source}-{seed}",
                                                          macro_f1=macro_f1, accuracy=accuracy, support=support)
    return RunOutcome(task=task, source=source, backbone=backbone, seed=seed, label=source, evaluation=evaluation,
                      error="" if evaluation else "Failed: LLM down")


def test_one_row_per_task_and_one_column_per_source_in_paper_order():
    table = table1_markdown([_outcome("trec", "few_shot", 0.5, 0.6), _outcome("trec", "real", 0.9, 0.91),
                             _outcome("sms_spam", "real", 0.95, 0.97, support=20),
                             _outcome("sms_spam", "real:100+few_shot", 0.97, 0.98, support=20)])
    lines = table.splitlines()
    assert lines[0] == ("| task | real (Macro-F1 / acc.) | few_shot (Macro-F1 / acc.) | "
                        "real:100+few_shot (Macro-F1 / acc.) |")
    assert lines[2] == "| trec | 0.900 / 0.910 | 0.500 / 0.600 | – |"
    assert lines[3] == "| sms_spam | 0.950 / 0.970 | – | 0.970 / 0.980 |"
    assert "trec: n=50, sms_spam: n=20" in table


def test_seeds_are_averaged_with_their_spread_and_failures_are_listed():
    table = table1_markdown([_outcome("trec", "real", 0.8, 0.9, seed=0), _outcome("trec", "real", 0.6, 0.7, seed=1),
                             _outcome("trec", "zero_shot", None, None)])
    assert "| trec | 0.700 ± 0.141 / 0.800 ± 0.141 | – |" in table
    assert "mean ± sd over 2 training seeds" in table
    assert "- trec / zero_shot: Failed: LLM down" in table


def test_backbones_get_their_own_columns():
    table = table1_markdown([_outcome("trec", "real", 0.8, 0.9, backbone=""),
                             _outcome("trec", "real", 0.85, 0.92, backbone="roberta-base")])
    assert "real [default] (Macro-F1 / acc.) | real [roberta-base] (Macro-F1 / acc.)" in table


def test_report_link_points_at_the_html_file():
    assert report_link("file:///data/artifacts/report/report-1") == "file:///data/artifacts/report/report-1/report.html"
    assert report_link("s3://bucket/artifacts/report/report-1/") == "s3://bucket/artifacts/report/report-1/report.html"
