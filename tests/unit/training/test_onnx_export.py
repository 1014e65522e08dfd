"""Tests of synthclf.training.onnx_export: export, parity check, refusal of a wrong graph."""

from __future__ import annotations

import json

import onnx
import pytest
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from synthclf.core.errors import IntegrityError, InvalidInput
from synthclf.core.models import minilm_path
from synthclf.training import onnx_export
from synthclf.training.onnx_export import check_parity, export_onnx

LABELS = ["negative", "neutral", "positive"]
SAMPLES = [
    "great film",
    "the plot was dull and far too long for what it had to say",
    "ok",
    "I would happily watch it again with friends, the cast was wonderful",
    "not bad",
    "a forgettable, noisy and badly written sequel",
]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """An untrained 3-label MiniLM classifier whose head is scaled so logits differ clearly."""
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("model")
    model = AutoModelForSequenceClassification.from_pretrained(
        minilm_path(), num_labels=3, id2label=dict(enumerate(LABELS))
    )
    with torch.no_grad():
        model.classifier.weight.mul_(50)
    model.save_pretrained(folder)
    AutoTokenizer.from_pretrained(minilm_path()).save_pretrained(folder)
    (folder / "labels.json").write_text(json.dumps(LABELS))
    return folder


@pytest.fixture(scope="module")
def exported(model_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("export") / "onnx"
    return export_onnx(model_dir, out, SAMPLES, max_length=32)


def test_export_passes_parity_and_writes_files(exported):
    folder = exported.onnx_path.parent
    assert exported.opset == 17
    assert exported.max_abs_logit_diff <= exported.tolerance == 1e-4
    assert exported.argmax_agree
    assert exported.parity_samples == len(SAMPLES)
    assert json.loads((folder / "labels.json").read_text()) == LABELS
    parity = json.loads((folder / "parity.json").read_text())
    assert parity["max_abs_logit_diff"] == exported.max_abs_logit_diff
    assert (folder / "tokenizer.json").is_file() or (folder / "vocab.txt").is_file()
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")]


def test_graph_inputs_follow_the_tokenizer_with_dynamic_axes(exported):
    graph = onnx.load(str(exported.onnx_path), load_external_data=False).graph
    assert [i.name for i in graph.input] == ["input_ids", "attention_mask", "token_type_ids"]
    assert [o.name for o in graph.output] == ["logits"]
    dims = graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_param for d in dims] == ["batch", "sequence"]


def test_perturbed_model_fails_parity(model_dir, exported):
    model = AutoModelForSequenceClassification.from_pretrained(model_dir)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    with torch.no_grad():
        model.classifier.weight.add_(0.05 * torch.randn_like(model.classifier.weight))
    max_diff, _ = check_parity(model, exported.onnx_path, tokenizer, SAMPLES, 1e-4, 32)
    assert max_diff > 1e-4


def test_failed_parity_raises_and_leaves_no_output(model_dir, tmp_path, monkeypatch):
    real_check = onnx_export.check_parity

    def perturbed_check(model, *args):
        with torch.no_grad():
            model.classifier.bias.add_(1.0)
        return real_check(model, *args)

    monkeypatch.setattr(onnx_export, "check_parity", perturbed_check)
    with pytest.raises(IntegrityError, match=r"max \|Δlogit\| 1\.0"):
        export_onnx(model_dir, tmp_path / "onnx", SAMPLES[:2], max_length=32)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("samples", "tolerance"), [([], 1e-4), (["fine"], -1.0)])
def test_bad_arguments_are_rejected(model_dir, tmp_path, samples, tolerance):
    with pytest.raises(InvalidInput):
        export_onnx(model_dir, tmp_path / "onnx", samples, tolerance=tolerance)
    assert list(tmp_path.iterdir()) == []
