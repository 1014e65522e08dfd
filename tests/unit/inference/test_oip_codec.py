"""Tests of synthclf.inference.oip_codec: OIP tensors ↔ texts and predictions."""

from __future__ import annotations

import struct
from types import SimpleNamespace

import numpy as np
import pytest

from synthclf.core.errors import InvalidInput
from synthclf.inference.oip_codec import (
    decode_texts,
    deserialize_bytes,
    encode_infer_response,
    model_metadata,
    parse_version,
    requested_outputs,
    serialize_bytes,
)
from synthclf.oip import grpc_predict_v2_pb2 as oip

TEXTS = ["win a prize", "", "café ☕ at 5?"]


def typed_request(texts=TEXTS, shape=None, **fields) -> oip.ModelInferRequest:
    tensor = oip.ModelInferRequest.InferInputTensor(
        name="text", datatype="BYTES", shape=shape or [len(texts)],
        contents=oip.InferTensorContents(bytes_contents=[t.encode() for t in texts]))
    return oip.ModelInferRequest(model_name="sms", inputs=[tensor], **fields)


def raw_request(texts=TEXTS, shape=None) -> oip.ModelInferRequest:
    tensor = oip.ModelInferRequest.InferInputTensor(name="text", datatype="BYTES",
                                                    shape=shape or [len(texts)])
    return oip.ModelInferRequest(model_name="sms", inputs=[tensor],
                                 raw_input_contents=[serialize_bytes(t.encode() for t in texts)])


def test_serialize_matches_triton_layout_and_round_trips():
    raw = serialize_bytes([b"ab", b"", "é".encode()])
    assert raw == struct.pack("<I", 2) + b"ab" + struct.pack("<I", 0) + struct.pack("<I", 2) + "é".encode()
    assert deserialize_bytes(raw) == [b"ab", b"", "é".encode()]


@pytest.mark.parametrize("raw, match", [
    (b"\x05\x00", "inside the length prefix of element 0"),
    (struct.pack("<I", 9) + b"abc", "element 0 claims 9 bytes but only 3 remain"),
])
def test_truncated_raw_bytes_is_invalid(raw, match):
    with pytest.raises(InvalidInput, match=match):
        deserialize_bytes(raw)


@pytest.mark.parametrize("build", [typed_request, raw_request])
@pytest.mark.parametrize("shape", [None, [3, 1]])
def test_decode_typed_and_raw_in_both_shapes(build, shape):
    assert decode_texts(build(shape=shape)) == TEXTS


@pytest.mark.parametrize("mutate, match", [
    (lambda r: r.inputs[0].__setattr__("name", "input_ids"), r"one input 'text'.*\['input_ids'\]"),
    (lambda r: r.inputs[0].__setattr__("datatype", "FP32"), "must be BYTES, got 'FP32'"),
    (lambda r: r.inputs[0].shape.append(2), r"shape \[n\] or \[n, 1\], got \[3, 2\]"),
    (lambda r: r.inputs[0].contents.bytes_contents.append(b"x"), "has shape \\[3\\] but 4 elements"),
    (lambda r: r.raw_input_contents.append(serialize_bytes([b"x"])), "either in raw_input_contents"),
    (lambda r: r.inputs[0].contents.bytes_contents.__setitem__(0, b"\xff"), "element 0 is not valid UTF-8"),
    (lambda r: r.inputs.add(name="extra", datatype="BYTES"), r"got \['text', 'extra'\]"),
])
def test_malformed_inputs_are_named(mutate, match):
    request = typed_request()
    mutate(request)
    with pytest.raises(InvalidInput, match=match):
        decode_texts(request)


def test_parse_version():
    assert parse_version("") == 0 and parse_version("3") == 3
    for bad in ("0", "-1", "v2", "1.0"):
        with pytest.raises(InvalidInput, match="positive integer"):
            parse_version(bad)


def test_requested_outputs_default_order_unknown_and_classification():
    assert requested_outputs(typed_request()) == ["probabilities", "label"]
    request = typed_request(outputs=[oip.ModelInferRequest.InferRequestedOutputTensor(name="label")])
    assert requested_outputs(request) == ["label"]
    request.outputs.add(name="logits")
    with pytest.raises(InvalidInput, match="unknown output 'logits'; outputs: probabilities, label"):
        requested_outputs(request)
    classification = typed_request()
    classification.outputs.add(name="label").parameters["classification"].int64_param = 2
    with pytest.raises(InvalidInput, match=r"not supported \(classification\)"):
        requested_outputs(classification)


def predictions(n_labels=2):
    """Predictions-shaped result: the codec reads model.name/version, probabilities, predicted."""
    probabilities = np.array([[0.9, 0.1], [0.25, 0.75], [0.5, 0.5]], dtype=np.float32)[:, :n_labels]
    model = SimpleNamespace(name="sms", version=2, labels=["ham", "spam"])
    return SimpleNamespace(model=model, probabilities=probabilities,
                           predicted=[model.labels[i] for i in probabilities.argmax(1)])


def test_encode_typed_response_mirrors_id_and_shapes():
    result = predictions()
    response = encode_infer_response(typed_request(id="req-7"), result, ["label", "probabilities"])
    assert (response.model_name, response.model_version, response.id) == ("sms", "2", "req-7")
    label, probs = response.outputs
    assert (label.name, label.datatype, list(label.shape)) == ("label", "BYTES", [3])
    assert list(label.contents.bytes_contents) == [b"ham", b"spam", b"ham"]
    assert (probs.datatype, list(probs.shape)) == ("FP32", [3, 2])
    np.testing.assert_array_equal(np.array(probs.contents.fp32_contents).reshape(3, 2),
                                  result.probabilities)
    assert not response.raw_output_contents


def test_encode_raw_response_when_request_was_raw():
    result = predictions()
    response = encode_infer_response(raw_request(shape=[3, 1]), result, ["probabilities", "label"])
    probs, label = response.outputs
    assert not probs.HasField("contents") and not label.HasField("contents")
    assert list(label.shape) == [3, 1]
    np.testing.assert_array_equal(
        np.frombuffer(response.raw_output_contents[0], dtype="<f4").reshape(3, 2), result.probabilities)
    assert deserialize_bytes(response.raw_output_contents[1]) == [b"ham", b"spam", b"ham"]


def test_model_metadata_tensors():
    metadata = model_metadata(predictions().model, [1, 2])
    assert (metadata.name, list(metadata.versions), metadata.platform) == ("sms", ["1", "2"],
                                                                           "onnxruntime_onnx")
    assert [(t.name, t.datatype, list(t.shape)) for t in metadata.inputs] == [("text", "BYTES", [-1])]
    assert [(t.name, t.datatype, list(t.shape)) for t in metadata.outputs] == [
        ("probabilities", "FP32", [-1, 2]), ("label", "BYTES", [-1])]
