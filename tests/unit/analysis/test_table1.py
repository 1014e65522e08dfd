"""The one Table-1 aggregator: several seeds and backbones."""

from __future__ import annotations

import statistics

import pytest
from fake_runs import run

from synthclf.analysis.table1 import aggregate, table1, table1_markdown
from synthclf.core.errors import InvalidInput


def _runs():
    out = []
    for backbone, offset in (("", 0.0), ("roberta-base", 0.05)):
        for seed, jitter in zip((0, 1, 2), (-0.01, 0.0, 0.01)):
            out.append(run("real", 0.80 + offset + jitter, seed=seed, backbone=backbone))
            out.append(run("few_shot", 0.70 + offset + jitter, seed=seed, backbone=backbone))
        out.append(run("real", 0.5, seed=0, backbone=backbone, per_label=8))  # a curve point: not in Table 1
    return out


def test_seeds_are_averaged_with_sd_and_a_seed_and_test_set_interval():
    cells = aggregate(_runs())
    real = next(c for c in cells if c.condition.source == "real" and c.condition.is_table1
                and c.condition.backbone == "")
    assert real.seeds == [0, 1, 2]
    assert real.macro_f1 == pytest.approx(0.80)
    assert real.macro_f1_sd == pytest.approx(statistics.stdev([0.79, 0.80, 0.81]))
    assert real.macro_f1_ci.low < 0.80 < real.macro_f1_ci.high
    single = next(c for c in cells if c.condition.real_per_label == 8 and c.condition.backbone == "")
    assert single.seeds == [0] and single.macro_f1_sd is None and single.macro_f1_ci is not None


def test_backbones_are_rows_sources_are_columns_and_curve_points_are_left_out():
    table = table1(aggregate(_runs()))
    assert table.header == ["task", "backbone", "real", "few_shot"]
    assert [row[:2] for row in table.rows] == [["sms_spam", "default"], ["sms_spam", "roberta-base"]]
    assert table.rows[1][2].startswith("0.850 ± 0.010 [")
    assert "mean ± sd over 3 training seeds" in table.caption and "seeds and test set resampled" in table.caption


def test_one_backbone_has_no_backbone_column_and_markdown_has_the_caption():
    text = table1_markdown(aggregate([run("real", 0.9), run("zero_shot", 0.6)]))
    assert text.splitlines()[0] == "| task | real | zero_shot |"
    assert "one training seed" in text and "test-set bootstrap" in text


def test_missing_cells_show_a_dash_and_no_table1_model_is_invalid():
    table = table1(aggregate([run("real", 0.9), run("few_shot", 0.6, task="trec"), run("real", 0.8, task="trec")]))
    assert table.rows[0][2] == "–"
    with pytest.raises(InvalidInput):
        table1(aggregate([run("real", 0.5, per_label=8)]))
