"""What OnnxClassifier refuses at load (issue 11, findings 7 and 8) and how it tokenizes.

Broken artifacts are made by replacing a tiny export's files: a graph that outputs NaN logits,
a graph whose warm-up run fails, labels.json with duplicate or over-long labels, parity.json
with ``max_length`` 1e8. Each must be refused with a clear error naming the file, never the
server's absolute path.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from tiny_classifier import LABELS

from synthclf.core.config import Settings
from synthclf.core.errors import IntegrityError, InvalidInput, SynthclfError
from synthclf.core.onnx_runtime import OnnxClassifier


def _graph_model(nodes, initializers) -> bytes:
    """An opset-17 graph from input_ids [b, s] (int64) to logits (float)."""
    ids = helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["b", "s"])
    logits = helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["n", "k"])
    graph = helper.make_graph(nodes, "broken", [ids], [logits], initializer=initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.checker.check_model(model)
    return model.SerializeToString()


def nan_logits_graph() -> bytes:
    """logits [b, 2] = NaN × the sum of the ids of each row."""
    return _graph_model([
        helper.make_node("Cast", ["input_ids"], ["x"], to=TensorProto.FLOAT),
        helper.make_node("ReduceSum", ["x", "axes"], ["row"], keepdims=1),
        helper.make_node("Mul", ["row", "nan"], ["z"]),
        helper.make_node("Concat", ["z", "z"], ["logits"], axis=1),
    ], [helper.make_tensor("axes", TensorProto.INT64, [1], [1]),
        helper.make_tensor("nan", TensorProto.FLOAT, [1], [float("nan")])])


def failing_graph() -> bytes:
    """A graph that reshapes [b, s] ids to [7, 11]: its run fails for every even b × s."""
    return _graph_model([
        helper.make_node("Cast", ["input_ids"], ["x"], to=TensorProto.FLOAT),
        helper.make_node("Reshape", ["x", "shape"], ["logits"]),
    ], [helper.make_tensor("shape", TensorProto.INT64, [2], [7, 11])])


@pytest.fixture
def folder(tiny_onnx_folders, tmp_path):
    """A writable copy of tiny classifier 0."""
    copy = tmp_path / "model"
    shutil.copytree(tiny_onnx_folders[0], copy)
    return copy


def refused(folder, error=SynthclfError, **kwargs) -> str:
    """Load ``folder``; return the message of the expected refusal."""
    with pytest.raises(error) as caught:
        OnnxClassifier(folder, **kwargs)
    assert str(folder) not in caught.value.message and "/tmp" not in caught.value.message
    return caught.value.message


def test_a_graph_with_nan_logits_is_refused_at_load(folder):
    (folder / "model.onnx").write_bytes(nan_logits_graph())
    assert "non-finite logits" in refused(folder, IntegrityError)


def test_a_graph_whose_warm_up_fails_is_refused_at_load(folder):
    (folder / "model.onnx").write_bytes(failing_graph())
    assert "fails to run on a warm-up text" in refused(folder, IntegrityError)


def test_garbage_onnx_is_refused_without_its_path(folder):
    (folder / "model.onnx").write_bytes(b"not a protobuf at all")
    assert "not an ONNX model" in refused(folder, IntegrityError)


@pytest.mark.parametrize(("labels", "problem"), [
    (["ham", "ham"], "appears more than once"),
    (["ham", "x" * 101], "101 characters in label 1"),
    (["ham", None], "not a non-empty string"),
    (["ham", {"a": 1}], "not a non-empty string"),
    (["only"], "at least 2"),
])
def test_bad_labels_json_is_refused(folder, labels, problem):
    (folder / "labels.json").write_text(json.dumps(labels))
    assert problem in refused(folder, InvalidInput)


def test_too_many_labels_names_the_setting(folder):
    (folder / "labels.json").write_text(json.dumps([f"l{i}" for i in range(5)]))
    message = refused(folder, InvalidInput, settings=Settings(max_labels=4))
    assert "SYNTHCLF_MAX_LABELS" in message and "the limit is 4" in message


@pytest.mark.parametrize("content", [{"max_length": 100_000_000}, {"max_length": 1e8},
                                     {"max_length": 4096}, [1, 2]])
def test_unusable_max_length_is_refused(folder, content):
    (folder / "parity.json").write_text(json.dumps(content))
    assert "max_length" in refused(folder, IntegrityError) or isinstance(content, list)


def test_labels_json_that_is_no_list_is_refused(folder):
    (folder / "labels.json").write_text(json.dumps({"0": "ham", "1": "spam"}))
    assert "not a list" in refused(folder, IntegrityError)


def test_texts_are_cut_before_tokenizing_with_the_same_result(tiny_onnx_folders):
    model = OnnxClassifier(tiny_onnx_folders[0], settings=Settings(max_tokenized_chars=200))
    calls = []
    tokenizer = model.tokenizer
    model.tokenizer = lambda texts, **kw: calls.append([len(t) for t in texts]) or tokenizer(texts, **kw)
    long_text = "free prize " * 2000  # 22 000 characters, far beyond 48 tokens
    probabilities = model.predict_batch([long_text, "ok"])
    assert calls == [[200, 2]]
    model.tokenizer = tokenizer
    np.testing.assert_allclose(probabilities[0], model.predict_batch([long_text[:200]])[0], atol=1e-6)
    assert LABELS == model.labels
