"""The report: Table 1, findings computed from numbers, figures as valid PNGs, self-contained HTML."""

from __future__ import annotations

import base64
import io
import re

import numpy as np
import pytest
from PIL import Image as PILImage

from synthclf.analysis.diversity import DiversityResult, DiversityScores
from synthclf.analysis.document import Document, Paragraph, Section, Table, render_markdown
from synthclf.analysis.findings import all_findings, performance_findings
from synthclf.analysis.html import render_html
from synthclf.analysis.metrics import Interval
from synthclf.analysis.report import build_document, render_table1
from synthclf.analysis.report_data import DatasetRow, EvaluationRow, ModelRow, ReportData
from synthclf.analysis.similarity import SimilarityResult
from synthclf.analysis.subjectivity import agreement_sweep, task_subjectivity
from synthclf.core.errors import NotFound


def _row(source, f1, ci=None):
    return EvaluationRow(task="sms_spam", source=source, macro_f1=f1, accuracy=f1, support=10,
                         evaluation_uri=f"file:///x/evaluation/{source}",
                         macro_f1_ci=Interval(low=f1 - ci, high=f1 + ci) if ci else None)


def test_table1_orders_known_sources_and_findings_follow_numbers():
    rows = [_row("few_shot", 0.8), _row("real", 0.9), _row("zero_shot", 0.95)]
    table = render_table1(rows)
    header = table.splitlines()[0]
    assert header.index("real") < header.index("zero_shot") < header.index("few_shot")
    assert "| sms_spam | 0.900 / 0.900 | 0.950 / 0.950 | 0.800 / 0.800 |" in table
    text = " ".join(performance_findings(ReportData(title="t", evaluations=rows)))
    assert "few_shot data gives Macro-F1 0.800, 0.100 below" in text
    assert "zero_shot data gives Macro-F1 0.950, 0.050 above" in text


def test_findings_say_whether_intervals_overlap():
    data = ReportData(title="t", evaluations=[_row("real", 0.9, 0.02), _row("zero_shot", 0.7, 0.02),
                                              _row("few_shot", 0.88, 0.05)])
    text = " ".join(performance_findings(data))
    assert "zero_shot data gives Macro-F1 0.700, 0.200 below training on real data (0.900); their 95% " \
           "bootstrap intervals do not overlap" in text
    assert "few_shot data gives Macro-F1 0.880, 0.020 below training on real data (0.900); their 95% " \
           "bootstrap intervals overlap" in text


def _data() -> ReportData:
    rows = [_row("real", 0.9, 0.03), _row("zero_shot", 0.6, 0.05), _row("few_shot", 0.8, 0.04)]
    diversity = [DiversityResult(task="sms_spam", source=s, overall=DiversityScores(remote_clique=rc, chamfer=ch, n=50),
                                 per_label={}, n_total=80, max_texts=50, seed=0)
                 for s, rc, ch in [("real", 0.81, 0.45), ("zero_shot", 0.62, 0.21), ("few_shot", 0.75, 0.30)]]
    similarity = [SimilarityResult(task="sms_spam", source=s, mean_top_k=m, std_top_k=0.05, k=5, n_synthetic=50,
                                   n_real=80) for s, m in [("zero_shot", 0.48), ("few_shot", 0.61), ("real_test", 0.70)]]
    rng = np.random.default_rng(0)
    agreement = rng.uniform(0.5, 1.0, 400)
    sweeps = []
    for source, noise in [("real", 0.1), ("zero_shot", 0.4)]:
        correct = rng.random(400) > noise * (1.5 - agreement)
        sweeps.append(agreement_sweep(correct, agreement, [0.5, 0.6, 0.7, 0.8, 0.9]).model_copy(
            update={"task": "sms_spam", "source": source}))
    curves = [{"epoch": e, "train_loss": 1 / e, "val_loss": 1.2 / e, "val_macro_f1": 0.5 + 0.1 * e,
               "val_accuracy": 0.6} for e in (1, 2, 3)]
    return ReportData(
        title="synthclf experiment: sms_spam", evaluations=rows, diversity=diversity, similarity=similarity,
        sweeps=sweeps, task_subjectivity=task_subjectivity([(r.task, r.source, r.macro_f1) for r in rows],
                                                           {"sms_spam": 2}),
        datasets=[DatasetRow(uri="file:///x/dataset/z", task="sms_spam", source="zero_shot", rows=200,
                             requested=260, accepted=200, rejected=60, prompt_tokens=52000,
                             completion_tokens=6000, wall_time_s=310.0)],
        models=[ModelRow(uri=f"file:///x/model/{s}", task="sms_spam", source=s, curves=curves, best_epoch=3,
                         wall_time_s=40.0) for s in ("real", "zero_shot")],
        usd_per_million_prompt_tokens=0.5, usd_per_million_completion_tokens=1.5)


def test_findings_are_computed_from_the_numbers():
    text = "\n".join(all_findings(_data()))
    assert "zero_shot data is less diverse than real data (remote-clique 0.620 vs 0.810, chamfer 0.210 vs 0.450)" in text
    assert ("few_shot data is more similar to real data than zero_shot data (0.610 vs 0.480 mean top-5 cosine) "
            "and its model is 0.200 Macro-F1 closer to the real-data model") in text
    assert "zero_shot texts score 69% of that" in text
    assert "sms_spam / zero_shot: 200 of 260 LLM outputs kept (77%), 58,000 tokens in 310 s, US$0.0350" in text
    assert "caveat: only 1 task(s)" in text
    assert re.search(r"sms_spam / real: accuracy (rises|falls|stays) with annotator agreement", text)


def _png_ok(data: bytes) -> tuple[int, int]:
    with PILImage.open(io.BytesIO(data)) as image:
        image.verify()
    with PILImage.open(io.BytesIO(data)) as image:
        assert image.format == "PNG"
        return image.size


def test_document_renders_with_every_figure(tmp_path):
    projections = {"sms_spam": {"real": np.random.default_rng(1).normal(size=(30, 2)),
                                "zero_shot": np.random.default_rng(2).normal(2, 1, size=(20, 2))}}
    document = build_document(_data(), projections, tmp_path)
    files = sorted(image.file for image in document.images())
    assert files == ["figures/agreement-sms_spam.png", "figures/curves-sms_spam.png",
                     "figures/diversity-sms_spam.png", "figures/projection-sms_spam.png",
                     "figures/similarity-sms_spam.png", "figures/task-subjectivity.png"]
    for name in files:
        width, height = _png_ok((tmp_path / name).read_bytes())
        assert width > 300 and height > 200
    markdown = render_markdown(document)
    for name in files:
        assert f"]({name})" in markdown
    assert "real (Macro-F1 / acc.)" in markdown and "[0.870, 0.930]" in markdown
    page = render_html(document, tmp_path)
    embedded = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(embedded) == len(files)
    for data in embedded:
        _png_ok(base64.b64decode(data))
    assert page.startswith("<!DOCTYPE html>") and "<table>" in page and page.rstrip().endswith("</html>")
    assert _unbalanced_tags(page) == []


def _unbalanced_tags(page: str) -> list[str]:
    """Tags left open or closed out of order (void elements aside)."""
    from html.parser import HTMLParser

    class Checker(HTMLParser):
        def __init__(self):
            super().__init__()
            self.stack, self.errors = [], []

        def handle_starttag(self, tag, attrs):
            if tag not in ("meta", "img", "br"):
                self.stack.append(tag)

        def handle_endtag(self, tag):
            if self.stack and self.stack[-1] == tag:
                self.stack.pop()
            else:
                self.errors.append(tag)

    checker = Checker()
    checker.feed(page)
    return checker.stack + checker.errors


def test_markdown_and_html_escape_cells(tmp_path):
    document = Document(title="a <b> & c", sections=[Section("s", [
        Table(["x|y"], [["<script>"]]), Paragraph("use `code` here")])])
    markdown = render_markdown(document)
    assert "| x\\|y |" in markdown
    page = render_html(document, tmp_path)
    assert "&lt;script&gt;" in page and "<script>" not in page and "<code>code</code>" in page


def test_html_with_missing_figure_is_not_found(tmp_path):
    from synthclf.analysis.document import Image

    with pytest.raises(NotFound):
        render_html(Document(title="t", sections=[Section("s", [Image("figures/none.png", "c")])]), tmp_path)


def test_dataset_row_reads_generation_stats_with_rejection_reasons():
    stats = {"rows": 100, "source": "zero_shot", "task": "sms_spam", "requested": 112, "accepted": 100,
             "rejected": {"duplicate": 8, "too_short": 3, "empty": 0, "near_duplicate": 1},
             "prompt_tokens": 8950, "completion_tokens": 1459, "cost_usd": 0.0123, "wall_time_s": 104.4}
    row = DatasetRow.from_stats("file:///x/dataset/z", stats)
    assert row.rejected == 12 and row.rejected_reasons == {"duplicate": 8, "too_short": 3, "near_duplicate": 1}
    data = ReportData(title="t", datasets=[row])
    assert data.cost_usd(row) == pytest.approx(0.0123)  # the generator's own cost when no prices are given
    priced = ReportData(title="t", datasets=[row], usd_per_million_prompt_tokens=1.0)
    assert priced.cost_usd(row) == pytest.approx(8950 / 1e6)
    text = " ".join(all_findings(data))
    assert "100 of 112 LLM outputs kept (89%), 10,409 tokens in 104 s, US$0.0123; rejected: 8 duplicate, " \
           "3 too short, 1 near duplicate." in text
    real = DatasetRow.from_stats("file:///x/dataset/r", {"rows": 5, "source": "real", "split": "train"})
    assert real.is_real_train and real.requested is None
