"""The report: first screen (verdict, learning curve, Table 1, sentences), evidence below,
Markdown and self-contained HTML from one template, figures as valid PNGs."""

from __future__ import annotations

import base64
import io
import re
from html.parser import HTMLParser

import numpy as np
import pytest
from fake_runs import study
from PIL import Image as PILImage

from synthclf.analysis.diversity import DiversityResult, DiversityScores
from synthclf.analysis.findings import generation_findings, task_source_sentences
from synthclf.analysis.projection import ProjectionResult
from synthclf.analysis.render import markdown_to_html, render_report
from synthclf.analysis.report_data import DatasetRow, ModelRow, ReportData
from synthclf.analysis.similarity import SimilarityResult
from synthclf.analysis.subjectivity import agreement_sweep, task_subjectivity
from synthclf.analysis.verdict import task_verdict
from synthclf.core.errors import NotFound

CURVE = {8: 0.50, 16: 0.60, 32: 0.70, 64: 0.80}


def _data() -> ReportData:
    runs = study(CURVE, {"zero_shot": 0.55, "few_shot": 0.65}, full_real=0.90,
                 mixed={("few_shot", 8): 0.70, ("zero_shot", 8): 0.52})
    verdict = task_verdict(runs, n_labels=2, subjectivity=2, synthetic_costs={"few_shot": (200, 0.01)})
    diversity = [DiversityResult(task="sms_spam", source=s, overall=DiversityScores(remote_clique=rc, chamfer=ch, n=50),
                                 per_label={}, n_total=80, max_texts=50, seed=0)
                 for s, rc, ch in [("real", 0.81, 0.45), ("zero_shot", 0.62, 0.21), ("few_shot", 0.75, 0.30)]]
    similarity = [SimilarityResult(task="sms_spam", source=s, mean_top_k=m, std_top_k=0.05, k=5, n_synthetic=50,
                                   n_real=80) for s, m in [("zero_shot", 0.48), ("few_shot", 0.61), ("real_test", 0.70)]]
    rng = np.random.default_rng(0)
    agreement = rng.uniform(0.5, 1.0, 400)
    sweeps = [agreement_sweep(rng.random(400) > noise * (1.5 - agreement), agreement, [0.5, 0.6, 0.7, 0.8, 0.9])
              .model_copy(update={"task": "sms_spam", "source": source})
              for source, noise in [("real", 0.1), ("zero_shot", 0.4)]]
    curves = [{"epoch": e, "train_loss": 1 / e, "val_loss": 1.2 / e, "val_macro_f1": 0.5 + 0.1 * e,
               "val_accuracy": 0.6} for e in (1, 2, 3)]
    projection = ProjectionResult(task="sms_spam", points={"real": rng.normal(size=(30, 2)).tolist(),
                                                           "zero_shot": rng.normal(2, 1, size=(20, 2)).tolist()})
    return ReportData(
        title="synthclf experiment: sms_spam", runs=runs, verdicts=[verdict], projections=[projection],
        diversity=diversity, similarity=similarity, sweeps=sweeps,
        task_subjectivity=task_subjectivity([("sms_spam", "", "real", 0.9), ("sms_spam", "", "few_shot", 0.65)],
                                            {"sms_spam": 2}),
        datasets=[DatasetRow(uri="file:///x/dataset/f", task="sms_spam", source="few_shot", rows=200, requested=260,
                             accepted=200, rejected=60, prompt_tokens=52000, completion_tokens=6000,
                             wall_time_s=310.0,
                             prompts={"context_prompt": "You are a helpful SMS writer.",
                                      "per_label": {"spam": "Write a spam SMS | in 20 words.",
                                                    "ham": "Write an ordinary SMS."},
                                      "diversity_prompt": "Be more diverse.",
                                      "imitation_instruction": "Imitate, do not copy."}),
                  DatasetRow(uri="file:///x/dataset/r", task="sms_spam", source="real", split="train", rows=200)],
        models=[ModelRow(uri=f"file:///x/model/{s}", task="sms_spam", source=s, curves=curves, best_epoch=3,
                         wall_time_s=40.0) for s in ("real", "zero_shot")],
        usd_per_million_prompt_tokens=0.5, usd_per_million_completion_tokens=1.5)


def _png_ok(data: bytes) -> tuple[int, int]:
    with PILImage.open(io.BytesIO(data)) as image:
        image.verify()
    with PILImage.open(io.BytesIO(data)) as image:
        assert image.format == "PNG"
        return image.size


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """(the rendered report, its folder): drawn once for the tests that only read it."""
    folder = tmp_path_factory.mktemp("report")
    return render_report(_data(), folder), folder


def test_first_screen_is_verdict_curve_table1_and_one_sentence_per_source(report):
    md = report[0].markdown
    headings = re.findall(r"^## (.+)$", md, flags=re.M)
    assert headings[:2] == ["The answer: replace, stretch or don't", "Table 1 — Macro-F1 / accuracy on the real test split"]
    answer = md.split("## Table 1")[0]
    assert "| sms_spam | **stretch** | few_shot: ≈ 23 (" in answer and "*Rule:* replace if" in answer
    assert "**sms_spam: stretch** — adding few_shot data to 8 real rows per label" in answer and "δ = 0.02" in answer
    assert "Evidence: subjectivity ★★ · instance agreement – · diversity (remote-clique) zero_shot 0.620, " \
           "few_shot 0.750; real 0.810 · similarity to real (top-5 cosine) zero_shot 0.480, few_shot 0.610; " \
           "held-out real 0.700." in answer
    assert "](figures/learning-curve-sms_spam.png)" in answer
    sentences = md.split("## Table 1")[1].split("## Behind the verdict")[0]
    assert "- sms_spam / few_shot: 100 few_shot rows per label give Macro-F1 0.650" in sentences
    assert "worth ≈ 23 (" in sentences
    assert "- sms_spam / 8 real/label + few_shot: Macro-F1 0.700" in sentences and "+0.200 over 8 real rows" in sentences
    order = [md.index(h) for h in ("## Diversity", "## Similarity", "## Instance-level", "## Task-level",
                                   "## Training curves", "## Generation counts", "## Lineage")]
    assert order == sorted(order)


def test_every_figure_is_a_png_linked_in_markdown_and_inlined_in_html(report):
    rendered, tmp_path = report
    assert sorted(rendered.figures) == [
        "figures/agreement-sms_spam.png", "figures/curves-sms_spam.png", "figures/diversity-sms_spam.png",
        "figures/learning-curve-sms_spam.png", "figures/projection-sms_spam.png", "figures/similarity-sms_spam.png",
        "figures/task-subjectivity.png"]
    for name in rendered.figures:
        width, height = _png_ok((tmp_path / name).read_bytes())
        assert width > 300 and height > 200
        assert f"]({name})" in rendered.markdown
    embedded = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', rendered.html)
    assert len(embedded) == len(rendered.figures)
    for data in embedded:
        _png_ok(base64.b64decode(data))
    assert rendered.html.startswith("<!DOCTYPE html>") and "<table>" in rendered.html
    assert 'name="viewport"' in rendered.html
    assert _unbalanced_tags(rendered.html) == []


def test_summary_carries_verdicts_equivalents_and_intervals(report):
    summary = report[0].summary
    (verdict,) = summary["verdicts"]
    assert verdict["decision"] == "stretch" and verdict["decision_text"] == "stretch"
    few = next(e for e in verdict["equivalents"] if e["source"] == "few_shot" and e["real_per_label"] == 0)
    assert few["equivalent"]["per_label"] == pytest.approx((16 * 32) ** 0.5)
    assert few["equivalent"]["low"] < few["equivalent"]["per_label"] < few["equivalent"]["high"]
    assert {c["condition"]["source"] for c in summary["table1"]} == {"real", "zero_shot", "few_shot"}


def _unbalanced_tags(page: str) -> list[str]:
    """Tags left open or closed out of order (void elements aside)."""
    class Checker(HTMLParser):
        def __init__(self):
            super().__init__()
            self.stack, self.errors = [], []

        def handle_starttag(self, tag, attrs):
            if tag not in ("meta", "img", "br", "hr"):
                self.stack.append(tag)

        def handle_endtag(self, tag):
            if tag in ("meta", "img", "br", "hr"):
                return
            if self.stack and self.stack[-1] == tag:
                self.stack.pop()
            else:
                self.errors.append(tag)

    checker = Checker()
    checker.feed(page)
    return checker.stack + checker.errors


def test_html_escapes_text_and_markdown_escapes_pipes(tmp_path):
    page = markdown_to_html("| a\\|b |\n|---|\n| <script>x</script> |\n\nuse `code` here\n", "t <b>", tmp_path)
    assert "&lt;script&gt;" in page and "<script>" not in page and "<code>code</code>" in page
    assert "<title>t &lt;b&gt;</title>" in page and "<td>&lt;script&gt;x&lt;/script&gt;</td>" in page


def test_html_with_a_missing_or_outside_figure_is_not_found(tmp_path):
    with pytest.raises(NotFound):
        markdown_to_html("![c](figures/none.png)\n", "t", tmp_path)
    (tmp_path.parent / "outside.png").write_bytes(b"x")
    with pytest.raises(NotFound):
        markdown_to_html("![c](../outside.png)\n", "t", tmp_path)


def test_report_without_verdict_says_so_and_still_has_table1(tmp_path):
    data = _data().model_copy(update={"verdicts": []})
    md = render_report(data, tmp_path).markdown
    assert "No verdict" in md and "| sms_spam |" in md.split("## Table 1")[1]
    assert "worth ≈" not in md
    assert task_source_sentences(data)[0].startswith("sms_spam / zero_shot: zero_shot data give Macro-F1 0.550")


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
    text = " ".join(generation_findings(data))
    assert "100 of 112 LLM outputs kept (89%), 10,409 tokens in 104 s, US$0.0123; rejected: 8 duplicate, " \
           "3 too short, 1 near duplicate." in text
    real = DatasetRow.from_stats("file:///x/dataset/r", {"rows": 5, "source": "real", "split": "train"})
    assert real.is_real_train and real.requested is None


def test_prompts_used_are_shown_for_review(report):
    md = report[0].markdown
    section = md[md.index("## Prompts used"):]
    assert "You are a helpful SMS writer." in section
    assert "data-generation prompt: spam | Write a spam SMS \\| in 20 words." in section
    assert "data-generation prompt: ham" in section and "Imitate, do not copy." in section
