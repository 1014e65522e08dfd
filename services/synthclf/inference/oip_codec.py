"""Pure translation between Open Inference Protocol (KServe v2) messages and the inference core.

A synthclf classifier is one OIP model with

* input ``text``: BYTES, shape ``[-1]`` (UTF-8 texts; ``[n, 1]`` is accepted too, the shape a
  Triton model with ``max_batch_size > 0`` and ``dims: [1]`` advertises);
* outputs ``probabilities``: FP32 ``[-1, n_labels]`` (softmax, columns in label order) and
  ``label``: BYTES ``[-1]`` (the argmax label; ``[n, 1]`` when the input was ``[n, 1]``).

Tensor contents come either typed (``InferTensorContents.bytes_contents``) or raw
(``raw_input_contents``: for BYTES, each element as a 4-byte little-endian length followed by
its bytes — what ``tritonclient`` sends). Outputs are returned raw when the request was raw, as
Triton does, typed otherwise. Sources: the KServe v2 protocol
(kserve/kserve ``docs/predict-api/v2/required_api.md``) and Triton's
``docs/protocol/extension_binary_data.md``.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np

from synthclf.core.errors import InvalidInput
from synthclf.oip import grpc_predict_v2_pb2 as oip

if TYPE_CHECKING:
    from synthclf.inference.service import LoadedModel, Predictions

INPUT = "text"
PROBABILITIES = "probabilities"
LABEL = "label"
OUTPUTS = (PROBABILITIES, LABEL)
#: ``platform`` reported in model metadata (Triton's name for ONNX Runtime models).
PLATFORM = "onnxruntime_onnx"
_LENGTH = struct.Struct("<I")


def parse_version(version: str) -> int:
    """OIP version string → core version number; ``""`` means the newest (0).

    Raises:
        InvalidInput: not a positive integer.
    """
    if not version:
        return 0
    if not (version.isascii() and version.isdigit() and len(version) <= 18) or int(version) < 1:
        raise InvalidInput(f"model version must be a positive integer or empty, got '{version[:32]}'")
    return int(version)


def serialize_bytes(items: Iterable[bytes]) -> bytes:
    """Raw BYTES tensor: each element as a 4-byte little-endian length, then its bytes."""
    return b"".join(_LENGTH.pack(len(item)) + item for item in items)


def deserialize_bytes(raw: bytes) -> list[bytes]:
    """Inverse of :func:`serialize_bytes`.

    Raises:
        InvalidInput: the buffer ends inside a length prefix or an element.
    """
    items: list[bytes] = []
    offset = 0
    while offset < len(raw):
        if offset + _LENGTH.size > len(raw):
            raise InvalidInput(f"raw BYTES input ends inside the length prefix of element {len(items)}")
        (size,) = _LENGTH.unpack_from(raw, offset)
        offset += _LENGTH.size
        if offset + size > len(raw):
            raise InvalidInput(f"raw BYTES element {len(items)} claims {size} bytes but only "
                               f"{len(raw) - offset} remain")
        items.append(raw[offset:offset + size])
        offset += size
    return items


def _batch_shape(shape: list[int]) -> int:
    """Number of texts of a ``[n]`` or ``[n, 1]`` input shape."""
    if len(shape) == 1 and shape[0] >= 0 or len(shape) == 2 and shape[0] >= 0 and shape[1] == 1:
        return shape[0]
    raise InvalidInput(f"input '{INPUT}' must have shape [n] or [n, 1], got {shape}")


def decode_texts(request: oip.ModelInferRequest) -> list[str]:
    """The texts of a ModelInfer request's ``text`` input, typed or raw.

    Raises:
        InvalidInput: not exactly one input named ``text``; not BYTES; bad shape; element count
            differing from the shape; both typed and raw contents; invalid UTF-8.
    """
    names = [t.name for t in request.inputs]
    if names != [INPUT]:
        raise InvalidInput(f"model '{request.model_name}' takes one input '{INPUT}' (BYTES), "
                           f"got {names or 'none'}")
    tensor = request.inputs[0]
    if tensor.datatype != "BYTES":
        raise InvalidInput(f"input '{INPUT}' must be BYTES, got '{tensor.datatype}'")
    count = _batch_shape(list(tensor.shape))
    if request.raw_input_contents:
        if tensor.HasField("contents"):
            raise InvalidInput("send the input either in raw_input_contents or in contents, not both")
        items = deserialize_bytes(request.raw_input_contents[0])
    else:
        items = list(tensor.contents.bytes_contents)
    if len(items) != count:
        raise InvalidInput(f"input '{INPUT}' has shape {list(tensor.shape)} but {len(items)} elements")
    texts = []
    for i, item in enumerate(items):
        try:
            texts.append(item.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise InvalidInput(f"input '{INPUT}' element {i} is not valid UTF-8: {exc.reason}") from exc
    return texts


def requested_outputs(request: oip.ModelInferRequest) -> list[str]:
    """Names of the outputs to return (all when none is requested), checked before inference.

    Raises:
        InvalidInput: an unknown output, or a parameter such as Triton's ``classification``
            extension, which is not supported.
    """
    names = []
    for output in request.outputs:
        if output.name not in OUTPUTS:
            raise InvalidInput(f"unknown output '{output.name}'; outputs: {', '.join(OUTPUTS)}")
        if output.parameters:
            raise InvalidInput(f"output parameters are not supported ({', '.join(output.parameters)}); "
                               f"request '{LABEL}' and '{PROBABILITIES}' plainly")
        names.append(output.name)
    return names or list(OUTPUTS)


def encode_infer_response(request: oip.ModelInferRequest, result: Predictions,
                          outputs: list[str]) -> oip.ModelInferResponse:
    """ModelInferResponse with ``outputs`` in order, raw when the request was raw.

    Args:
        request: the request (its id, input shape and encoding are mirrored).
        result: the core's predictions, probabilities float32 [n_texts, n_labels].
        outputs: output names from :func:`requested_outputs`.
    """
    response = oip.ModelInferResponse(model_name=result.model.name,
                                      model_version=str(result.model.version), id=request.id)
    raw = bool(request.raw_input_contents)
    probabilities = np.ascontiguousarray(result.probabilities, dtype="<f4")
    label_shape = [len(result.predicted), *list(request.inputs[0].shape)[1:]]
    for name in outputs:
        tensor = response.outputs.add(name=name)
        if name == PROBABILITIES:
            tensor.datatype = "FP32"
            tensor.shape.extend(probabilities.shape)
            if raw:
                response.raw_output_contents.append(probabilities.tobytes())
            else:
                tensor.contents.fp32_contents.extend(probabilities.ravel().tolist())
        else:
            labels = [label.encode("utf-8") for label in result.predicted]
            tensor.datatype = "BYTES"
            tensor.shape.extend(label_shape)
            if raw:
                response.raw_output_contents.append(serialize_bytes(labels))
            else:
                tensor.contents.bytes_contents.extend(labels)
    return response


def model_metadata(model: LoadedModel, versions: list[int]) -> oip.ModelMetadataResponse:
    """ModelMetadataResponse of a model.

    Args:
        model: the version asked for (the newest when none was); gives the label count.
        versions: every live version of the model's name.
    """
    tensor = oip.ModelMetadataResponse.TensorMetadata
    return oip.ModelMetadataResponse(
        name=model.name, versions=[str(v) for v in versions], platform=PLATFORM,
        inputs=[tensor(name=INPUT, datatype="BYTES", shape=[-1])],
        outputs=[tensor(name=PROBABILITIES, datatype="FP32", shape=[-1, len(model.labels)]),
                 tensor(name=LABEL, datatype="BYTES", shape=[-1])],
    )
