"""Table 1 of an experiment run (the one aggregator), the verdict table and the report link."""

from __future__ import annotations

from orchestration.results import RunOutcome, report_link, table1_markdown, verdict_markdown
from orchestration.tasks import Evaluation, VerdictSummary


def _outcome(task, source, macro_f1, accuracy, seed=0, backbone="", support=50, per_label=0):
    evaluation = None if macro_f1 is None else Evaluation(
        uri=f"file:///a/evaluation/{task}-{source}-{seed}-{backbone}", macro_f1=macro_f1, accuracy=accuracy,
        support=support, macro_f1_ci=(macro_f1 - 0.05, macro_f1 + 0.05), accuracy_ci=(accuracy - 0.04, accuracy + 0.04))
    return RunOutcome(task=task, source=source, backbone=backbone, seed=seed, real_per_label=per_label, label=source,
                      evaluation=evaluation, error="" if evaluation else "Failed: LLM down")


def test_one_row_per_task_and_one_column_per_source_in_paper_order():
    table = table1_markdown([_outcome("trec", "few_shot", 0.5, 0.6), _outcome("trec", "real", 0.9, 0.91),
                             _outcome("sms_spam", "real", 0.95, 0.97, support=20),
                             _outcome("sms_spam", "real:100+few_shot", 0.97, 0.98, support=20),
                             _outcome("sms_spam", "real", 0.5, 0.6, per_label=8)])
    lines = table.splitlines()
    assert lines[0] == "| task | real | few_shot | real:100+few_shot |"
    assert lines[2] == ("| sms_spam | 0.950 [0.900, 1.000] / 0.970 [0.930, 1.010] | – "
                        "| 0.970 [0.920, 1.020] / 0.980 [0.940, 1.020] |")
    assert lines[3] == "| trec | 0.900 [0.850, 0.950] / 0.910 [0.870, 0.950] | 0.500 [0.450, 0.550] / 0.600 [0.560, 0.640] | – |"
    assert "sms_spam: n=20, trec: n=50" in table and "one training seed" in table


def test_seeds_are_averaged_with_their_spread_and_failures_are_listed():
    table = table1_markdown([_outcome("trec", "real", 0.8, 0.9, seed=0), _outcome("trec", "real", 0.6, 0.7, seed=1),
                             _outcome("trec", "zero_shot", None, None)])
    assert "| trec | 0.700 ± 0.141 / 0.800 ± 0.141 |" in table
    assert "mean ± sd over 2 training seeds" in table
    assert "- trec / zero_shot: Failed: LLM down" in table


def test_backbones_are_rows():
    table = table1_markdown([_outcome("trec", "real", 0.8, 0.9, backbone=""),
                             _outcome("trec", "real", 0.85, 0.92, backbone="roberta-base")])
    assert table.splitlines()[0] == "| task | backbone | real |"
    assert "| trec | default | 0.800" in table and "| trec | roberta-base | 0.850" in table


def test_verdict_table_names_decision_and_equivalents():
    text = verdict_markdown([VerdictSummary(uri="file:///a/verdict/v", task="sms_spam", decision="dont",
                                            reason="neither clears δ", equivalents={"few_shot": "22 (15–31)"})])
    assert "| sms_spam | don't | neither clears δ | few_shot ≈ 22 (15–31) |" in text


def test_report_link_points_at_the_html_file():
    assert report_link("file:///data/artifacts/report/report-1") == "file:///data/artifacts/report/report-1/report.html"
    assert report_link("s3://bucket/artifacts/report/report-1/") == "s3://bucket/artifacts/report/report-1/report.html"
