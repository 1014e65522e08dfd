"""Call a synthclf inference server with the unmodified Triton client; print JSON results.

Run in its own process by test_inference_oip.py: ``tritonclient.grpc`` registers Triton's
``inference.*`` messages in the protobuf descriptor pool, which clash with the server's
vendored KServe ones inside one process. Usage:
``python triton_client_call.py ADDRESS MODEL TEXTS_JSON``.
"""

from __future__ import annotations

import json
import sys

import numpy as np
import tritonclient.grpc as triton


def main(address: str, model: str, texts: list[str]) -> dict:
    """Liveness, readiness, metadata and one ModelInfer, the way Triton's examples call them."""
    client = triton.InferenceServerClient(address)
    text = triton.InferInput("text", [len(texts)], "BYTES")
    text.set_data_from_numpy(np.array([t.encode() for t in texts], dtype=np.object_))
    outputs = [triton.InferRequestedOutput("probabilities"), triton.InferRequestedOutput("label")]
    result = client.infer(model, [text], outputs=outputs, request_id="triton-1", client_timeout=30)
    metadata = client.get_model_metadata(model, as_json=True)
    response = result.get_response()
    with_unknown = None
    try:
        client.infer("no-such-model", [text])
    except triton.InferenceServerException as exc:
        with_unknown = exc.status()
    return {
        "live": client.is_server_live(), "ready": client.is_server_ready(),
        "model_ready": client.is_model_ready(model), "metadata": metadata,
        "server": client.get_server_metadata(as_json=True),
        "id": response.id, "model_version": response.model_version,
        "raw_outputs": len(response.raw_output_contents),
        "probabilities": result.as_numpy("probabilities").tolist(),
        "labels": [label.decode() for label in result.as_numpy("label")],
        "unknown_model_status": with_unknown,
    }


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2], json.loads(sys.argv[3]))))
