"""Tests of synthclf.core.onnx_runtime against the torch model it was exported from."""

from __future__ import annotations

import itertools
import json
import shutil

import numpy as np
import pytest
import torch
from classifiers import minilm_classifier
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from synthclf.core.errors import IntegrityError, InvalidInput
from synthclf.core.onnx_runtime import (
    DEFAULT_MAX_LENGTH,
    OnnxClassifier,
    plan_runs,
    select_providers,
)
from synthclf.training.onnx_export import export_onnx

LABELS = ["ham", "spam", "unsure"]
TEXTS = [
    "win a free phone now, reply YES to claim your prize before midnight tonight!!!",
    "ok",
    "see you at lunch",
    "URGENT: your account has been selected for a cash reward, call 0800 now",
    "can you pick up milk on the way home? thanks",
    "hi",
    "Congratulations! You have won a holiday for two, text WIN to 80082 to get it",
    "running late, start without me",
    "are we still meeting tomorrow at the station or should we move it to friday",
    "free entry",
]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """A 3-label MiniLM classifier (seeded head, scaled so logits spread)."""
    return minilm_classifier(tmp_path_factory.mktemp("torch"), LABELS, seed=1, scale=30)


@pytest.fixture(scope="module")
def onnx_dir(model_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("onnx") / "model"
    export_onnx(model_dir, out, TEXTS, max_length=64)
    return out


@pytest.fixture(scope="module")
def classifier(onnx_dir):
    return OnnxClassifier(onnx_dir, max_length=64, max_batch_size=4)


def torch_probabilities(model_dir, texts):
    """Softmax of the torch model, one text at a time (no padding at all)."""
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(model_dir).eval()
    rows = []
    with torch.inference_mode():
        for text in texts:
            enc = tokenizer([text], truncation=True, max_length=64, return_tensors="pt")
            rows.append(torch.softmax(model(**enc).logits, -1)[0].numpy())
    return np.stack(rows)


def test_runs_on_cpu_provider_here(classifier):
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    assert classifier.execution_provider == "CPUExecutionProvider"
    assert select_providers() == ["CPUExecutionProvider"]


def test_select_providers_honours_cpu_request():
    assert select_providers(prefer_gpu=False) == ["CPUExecutionProvider"]


def test_probabilities_match_torch_in_input_order(classifier, model_dir):
    probs = classifier.predict_batch(TEXTS)
    assert probs.shape == (len(TEXTS), len(LABELS)) and probs.dtype == np.float32
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(probs, torch_probabilities(model_dir, TEXTS), atol=1e-4)
    assert classifier.labels == LABELS


def test_result_rows_do_not_depend_on_batch_company(classifier):
    alone = np.stack([classifier.predict_batch([t])[0] for t in TEXTS])
    together = classifier.predict_batch(TEXTS[::-1])[::-1]
    np.testing.assert_allclose(together, alone, atol=1e-5)
    assert len({tuple(np.round(row, 4)) for row in alone}) == len(TEXTS)


@pytest.mark.parametrize("texts", [[], ["fine", None]])
def test_bad_inputs_are_rejected(classifier, texts):
    with pytest.raises(InvalidInput):
        classifier.predict_batch(texts)


def test_missing_labels_json_is_an_integrity_error(onnx_dir, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(onnx_dir, broken)
    (broken / "labels.json").unlink()
    with pytest.raises(IntegrityError, match="lacks labels.json"):
        OnnxClassifier(broken)


def test_missing_model_is_an_integrity_error(tmp_path):
    (tmp_path / "labels.json").write_text(json.dumps(LABELS))
    with pytest.raises(IntegrityError, match="lacks model.onnx"):
        OnnxClassifier(tmp_path)


def test_label_count_must_match_logits(onnx_dir, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(onnx_dir, broken)
    (broken / "labels.json").write_text(json.dumps(LABELS[:2]))
    with pytest.raises(IntegrityError, match="2 labels but the model outputs 3 logits"):
        OnnxClassifier(broken)


def test_max_length_is_read_from_the_export(onnx_dir, tmp_path):
    assert OnnxClassifier(onnx_dir).max_length == 64  # export_onnx(..., max_length=64)
    legacy = tmp_path / "legacy"
    shutil.copytree(onnx_dir, legacy)
    (legacy / "parity.json").unlink()
    assert OnnxClassifier(legacy).max_length == DEFAULT_MAX_LENGTH
    (legacy / "parity.json").write_text(json.dumps({"max_length": "long"}))
    with pytest.raises(IntegrityError, match=r"max_length must be an integer in \[1, 8192\]"):
        OnnxClassifier(legacy)


def test_truncation_follows_max_length(classifier):
    long_text = "word " * 500
    assert classifier.encode([long_text])[0].shape == (len(classifier.input_names), 64)


def cost(runs, lengths, overhead):
    """Padded tokens plus overhead per run."""
    return sum(overhead + len(run) * max(lengths[i] for i in run) for run in runs)


def test_plan_runs_covers_every_text_once_within_the_limits():
    lengths = np.array([5, 120, 7, 6, 64, 5, 118, 30, 8, 9] * 7)
    runs = plan_runs(lengths, max_batch_size=8, overhead_tokens=16, max_tokens=512)
    assert sorted(np.concatenate(runs).tolist()) == list(range(len(lengths)))
    assert all(len(run) <= 8 and len(run) * lengths[run].max() <= 512 for run in runs)
    widths = [lengths[run].max() for run in runs]
    assert widths == sorted(widths)
    assert all(lengths[run].max() < 2 * lengths[run].min() for run in runs if lengths[run].max() > 10)


@pytest.mark.parametrize("seed", range(5))
def test_plan_runs_is_the_cheapest_split_of_the_sorted_texts(seed):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(2, 60, size=7)
    order = np.argsort(lengths, kind="stable")
    best = min(
        cost([order[a:b] for a, b in zip((0, *cuts), (*cuts, len(order)))], lengths, 10)
        for k in range(len(order)) for cuts in itertools.combinations(range(1, len(order)), k)
        if all(b - a <= 4 for a, b in zip((0, *cuts), (*cuts, len(order))))
    )
    assert cost(plan_runs(lengths, 4, overhead_tokens=10), lengths, 10) == best


def test_plan_runs_keeps_equal_lengths_together_and_a_long_text_alone():
    assert [r.tolist() for r in plan_runs(np.array([9, 9, 9, 9]), 32)] == [[0, 1, 2, 3]]
    runs = plan_runs(np.array([4, 4, 4, 500]), 32, overhead_tokens=16, max_tokens=2048)
    assert [r.tolist() for r in runs] == [[0, 1, 2], [3]]


def test_provider_choice_is_one_info_line_and_no_onnxruntime_error():
    """On a machine without CUDA libraries the probe stays quiet (issue 16): no ERROR line from
    onnxruntime's own logger, one INFO line from synthclf saying which provider and why."""
    import subprocess
    import sys

    code = ("import logging; logging.basicConfig(level=logging.INFO)\n"
            "from synthclf.core.onnx_runtime import select_providers; print(select_providers())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    lines = (out.stdout + out.stderr).splitlines()
    chosen = [line for line in lines if "using " in line and "ExecutionProvider" in line]
    assert len(chosen) == 1, lines
    if "CUDAExecutionProvider" not in out.stdout:  # a CPU machine
        assert "CPUExecutionProvider:" in chosen[0]
        assert not [line for line in lines if "[E:onnxruntime" in line or "[W:onnxruntime" in line], lines
