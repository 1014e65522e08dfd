"""Tests of the int8-serving decision (synthclf.inference.precision) through InferenceCore.load:
the int8 copy is served when its measured Macro-F1 change is within the bound, fp32 otherwise,
and the decision is logged; the fp32 graph stays in the artifact."""

from __future__ import annotations

import json
import logging
import shutil

import numpy as np
import pytest
from tiny_classifier import LABELS, MAX_LENGTH, TEXTS

from synthclf.core.artifacts import publish
from synthclf.core.config import Settings
from synthclf.core.inputs import fetch_kind
from synthclf.core.onnx_runtime import FP32_GRAPH, INT8_GRAPH, OnnxClassifier
from synthclf.core.store import open_store
from synthclf.inference.service import InferenceCore

GOLD = ["spam", "ham", "ham", "spam", "ham", "ham"]


@pytest.fixture(scope="module")
def int8_export(tiny_onnx_folders, tmp_path_factory):
    """Tiny model 0 exported again with its int8 copy measured on TEXTS/GOLD."""
    from synthclf.training.onnx_export import export_onnx

    source = tiny_onnx_folders[0].parent / "torch-0"
    out = tmp_path_factory.mktemp("int8") / "onnx"
    export_onnx(source, out, TEXTS, max_length=MAX_LENGTH, quantize=True, evaluation=(TEXTS, GOLD))
    return out


@pytest.fixture
def settings(tmp_path):
    return Settings(artifact_store=str(tmp_path / "artifacts"), cache_dir=tmp_path / "cache")


def publish_variant(settings, folder, tmp_path, name: str, **record) -> str:
    """Publish a copy of ``folder`` whose quantization.json has ``record``'s values."""
    copy = tmp_path / name
    shutil.copytree(folder, copy)
    path = copy / "quantization.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **record}))
    return publish(open_store(settings.artifact_store, settings), copy, kind="onnx-model",
                   artifact_id=name, service="tests").uri


def load(settings, uri, caplog):
    """Load ``uri`` in a fresh core; (the loaded model, the log text)."""
    core = InferenceCore(settings)
    try:
        with caplog.at_level(logging.INFO, logger="synthclf.inference"):
            model = core.load("sms", uri)
        return model, caplog.text, core.predict("sms", TEXTS).probabilities
    finally:
        core.close()


def test_int8_within_the_bound_is_served_and_logged(settings, int8_export, tmp_path, caplog):
    uri = publish_variant(settings, int8_export, tmp_path, "within", int8_macro_f1_delta=-0.004)
    model, text, probabilities = load(settings, uri, caplog)
    assert model.graph == INT8_GRAPH and model.choice.macro_f1_delta == -0.004
    assert "serving model.int8.onnx: int8 Macro-F1 change -0.40 pt on 6 validation texts is " \
           "within the 0.50 pt bound" in text
    int8 = OnnxClassifier(int8_export, graph=INT8_GRAPH).predict_batch(TEXTS)
    # Dynamic int8 scales activations per run, so batch-mates move a probability by ~1e-3.
    np.testing.assert_allclose(probabilities, int8, atol=5e-3)
    assert fetch_kind(uri, settings, "onnx-model").file(FP32_GRAPH).is_file()  # fp32 kept


def test_int8_beyond_the_bound_serves_fp32(settings, int8_export, tmp_path, caplog):
    uri = publish_variant(settings, int8_export, tmp_path, "beyond", int8_macro_f1_delta=-0.006)
    model, text, probabilities = load(settings, uri, caplog)
    assert model.graph == FP32_GRAPH
    assert "serving model.onnx: int8 Macro-F1 change -0.60 pt on 6 validation texts exceeds " \
           "the 0.50 pt bound (SYNTHCLF_INFERENCE_INT8_MAX_MACRO_F1_DROP)" in text
    fp32 = OnnxClassifier(int8_export).predict_batch(TEXTS)
    np.testing.assert_allclose(probabilities, fp32, atol=1e-6)


def test_the_bound_is_a_setting(int8_export, tmp_path, caplog):
    settings = Settings(artifact_store=str(tmp_path / "artifacts"), cache_dir=tmp_path / "cache",
                        inference_int8_max_macro_f1_drop=1.0)
    uri = publish_variant(settings, int8_export, tmp_path, "wider", int8_macro_f1_delta=-0.006)
    assert load(settings, uri, caplog)[0].graph == INT8_GRAPH


@pytest.mark.parametrize(("record", "why"), [
    ({"int8_eval_size": 0, "int8_macro_f1_delta": None}, "was not measured"),
    ({"int8_macro_f1_delta": "0.0"}, "was not measured"),
])
def test_unmeasured_int8_is_never_served(settings, int8_export, tmp_path, caplog, record, why):
    uri = publish_variant(settings, int8_export, tmp_path, "unmeasured", **record)
    model, text, _ = load(settings, uri, caplog)
    assert model.graph == FP32_GRAPH and why in text


def test_int8_serving_can_be_switched_off(int8_export, tmp_path, caplog):
    settings = Settings(artifact_store=str(tmp_path / "artifacts"), cache_dir=tmp_path / "cache",
                        inference_serve_int8=False)
    uri = publish_variant(settings, int8_export, tmp_path, "off", int8_macro_f1_delta=0.0)
    model, text, _ = load(settings, uri, caplog)
    assert model.graph == FP32_GRAPH and "SYNTHCLF_INFERENCE_SERVE_INT8" in text


def test_export_without_int8_copy_serves_fp32(settings, tiny_onnx_folders, caplog):
    uri = publish(open_store(settings.artifact_store, settings), tiny_onnx_folders[0],
                  kind="onnx-model", artifact_id="plain", service="tests").uri
    model, text, _ = load(settings, uri, caplog)
    assert model.graph == FP32_GRAPH and "has no int8 copy" in text
    assert model.labels == LABELS
