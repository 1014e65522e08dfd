"""Tests of synthclf.training.onnx_export: export, parity check, refusal of a wrong graph, int8."""

from __future__ import annotations

import json

import onnx
import pytest
import torch
from classifiers import minilm_classifier
from transformers import AutoModelForSequenceClassification

from synthclf.core.errors import IntegrityError, InvalidInput
from synthclf.training import onnx_export
from synthclf.training.onnx_export import check_parity, export_onnx
from synthclf.training.quantize import measure_int8

LABELS = ["negative", "neutral", "positive"]
SAMPLES = [
    "great film",
    "the plot was dull and far too long for what it had to say",
    "ok",
    "I would happily watch it again with friends, the cast was wonderful",
    "not bad",
    "a forgettable, noisy and badly written sequel",
]
GOLD = ["positive", "negative", "neutral", "positive", "neutral", "negative"]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """An untrained 3-label MiniLM classifier whose head is scaled so logits differ clearly."""
    return minilm_classifier(tmp_path_factory.mktemp("model"), LABELS, seed=0, scale=50)


@pytest.fixture(scope="module")
def exported(model_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("export") / "onnx"
    return export_onnx(model_dir, out, SAMPLES, max_length=32, quantize=True,
                       evaluation=(SAMPLES, GOLD))


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
    with torch.no_grad():
        model.classifier.weight.add_(0.05 * torch.randn_like(model.classifier.weight))
    max_diff, _ = check_parity(model, exported.onnx_path, SAMPLES, 1e-4, 32)
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


def test_int8_copy_sits_beside_fp32_with_its_measured_change(exported):
    folder, int8 = exported.onnx_path.parent, exported.int8
    assert int8.int8_path == folder / "model.int8.onnx" and int8.int8_path.is_file()
    assert int8.int8_bytes < int8.fp32_bytes / 2 == exported.onnx_path.stat().st_size / 2
    assert int8.eval_size == len(SAMPLES)
    assert int8.accuracy_delta == pytest.approx(int8.int8_accuracy - int8.fp32_accuracy)
    assert int8.macro_f1_delta == pytest.approx(int8.int8_macro_f1 - int8.fp32_macro_f1)
    assert 0 < int8.max_abs_logit_diff < 1 and 0 <= int8.argmax_agreement <= 1
    saved = json.loads((folder / "quantization.json").read_text())
    assert saved["int8_accuracy_delta"] == int8.accuracy_delta
    assert saved["int8_macro_f1_delta"] == int8.macro_f1_delta
    assert saved["int8_bytes"] == int8.int8_bytes and saved["fp32_bytes"] == int8.fp32_bytes
    fp32_graph = onnx.load(str(exported.onnx_path), load_external_data=False).graph
    assert not any(n.op_type.startswith(("DynamicQuantize", "MatMulInteger")) for n in fp32_graph.node)


def test_int8_without_labelled_texts_records_sizes_only(exported):
    result = measure_int8(exported.onnx_path, exported.int8.int8_path, [], [], LABELS, 32)
    assert result.eval_size == 0 and result.accuracy_delta is None
    assert result.int8_bytes == exported.int8.int8_bytes


def test_export_fuses_attention_skip_layer_norm_and_gelu_within_parity(exported):
    graph = onnx.load(str(exported.onnx_path), load_external_data=False).graph
    ops = {node.op_type for node in graph.node}
    assert {"Attention", "SkipLayerNormalization"} <= ops and ops & {"BiasGelu", "Gelu", "FastGelu"}
    assert exported.fused_operators["Attention"] == 6  # one per MiniLM layer
    parity = json.loads((exported.onnx_path.parent / "parity.json").read_text())
    assert parity["fused_operators"] == exported.fused_operators
    assert exported.max_abs_logit_diff <= exported.tolerance and exported.argmax_agree


def test_fused_graph_failing_parity_falls_back_to_the_plain_graph(model_dir, tmp_path, monkeypatch):
    real_check, calls = onnx_export.check_parity, []

    def failing_first(model, path, *args):
        calls.append(path)
        return (1.0, False) if len(calls) == 1 else real_check(model, path, *args)

    monkeypatch.setattr(onnx_export, "check_parity", failing_first)
    result = export_onnx(model_dir, tmp_path / "onnx", SAMPLES[:2], max_length=32)
    assert len(calls) == 2 and result.fused_operators == {}
    ops = {n.op_type for n in onnx.load(str(result.onnx_path)).graph.node}
    assert "Attention" not in ops and "MatMul" in ops
    assert sorted(p.name for p in (tmp_path / "onnx").iterdir() if p.suffix == ".onnx") == ["model.onnx"]
