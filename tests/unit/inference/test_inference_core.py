"""Tests of synthclf.inference.service.InferenceCore: versions, limits, unload, metrics."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from tiny_classifier import LABELS, MAX_LENGTH, TEXTS

from synthclf.core.config import Settings
from synthclf.core.errors import IntegrityError, InvalidInput, NotFound
from synthclf.core.onnx_runtime import OnnxClassifier
from synthclf.inference.service import InferenceCore


@pytest.fixture
def settings(tmp_path):
    return Settings(artifact_store=str(tmp_path / "artifacts"), cache_dir=tmp_path / "cache",
                    inference_max_texts_per_request=8, inference_max_chars_per_text=100,
                    inference_max_queue_size=64)


@pytest.fixture
def core(settings):
    core = InferenceCore(settings)
    yield core
    core.close()


@pytest.fixture(scope="module")
def expected(tiny_onnx_folders):
    """In-process probabilities of tiny models 0 and 1 on TEXTS."""
    return [OnnxClassifier(folder).predict_batch(TEXTS) for folder in tiny_onnx_folders]


def test_predict_matches_in_process_onnx_runtime(core, settings, publish_tiny, expected):
    model = core.load("sms", publish_tiny(settings))
    result = core.predict("sms", TEXTS)
    assert (model.version, model.max_length, model.labels) == (1, MAX_LENGTH, LABELS)
    assert model.execution_provider == "CPUExecutionProvider"
    np.testing.assert_allclose(result.probabilities, expected[0], atol=1e-6)
    assert result.predicted == [LABELS[i] for i in expected[0].argmax(1)]
    assert result.model is model and result.labels == LABELS


def test_versions_live_side_by_side_and_zero_means_newest(core, settings, publish_tiny, expected):
    first = core.load("sms", publish_tiny(settings, 0))
    second = core.load("sms", publish_tiny(settings, 1))
    assert (first.version, second.version) == (1, 2)
    assert core.get("sms").version == 2 and core.predict("sms", TEXTS).model.version == 2
    np.testing.assert_allclose(core.predict("sms", TEXTS, version=1).probabilities, expected[0], atol=1e-6)
    np.testing.assert_allclose(core.predict("sms", TEXTS, version=0).probabilities, expected[1], atol=1e-6)
    assert [(m.name, m.version) for m in core.list()] == [("sms", 1), ("sms", 2)]
    assert [m.version for m in core.unload("sms", 2)] == [2]
    assert core.predict("sms", TEXTS).model.version == 1
    assert core.load("sms", publish_tiny(settings, 1)).version == 3  # numbers are never reused


def test_reloading_the_newest_artifact_returns_its_version(core, settings, publish_tiny):
    uri = publish_tiny(settings)
    assert core.load("sms", uri).version == core.load("sms", uri).version == 1


def test_unknown_model_and_version_are_not_found_listing_what_is_loaded(core, settings, publish_tiny):
    core.load("sms", publish_tiny(settings))
    with pytest.raises(NotFound, match="model 'news' is not loaded; loaded models: sms"):
        core.predict("news", ["hi"])
    with pytest.raises(NotFound, match="no live version 7; live versions: 1"):
        core.get("sms", 7)
    with pytest.raises(NotFound, match="no live version 7"):
        core.unload("sms", 7)
    core.unload("sms")
    with pytest.raises(NotFound, match="loaded models: none"):
        core.predict("sms", ["hi"])


@pytest.mark.parametrize("texts, message", [
    ([], "no texts to classify"),
    (["hi"] * 9, "9 texts in one request; the limit is 8 .*SYNTHCLF_INFERENCE_MAX_TEXTS_PER_REQUEST"),
    (["ok", "x" * 101], "text 1 has 101 characters; the limit is 100 .*SYNTHCLF_INFERENCE_MAX_CHARS_PER_TEXT"),
    (["ok", None], "text 1 is a NoneType, not a string"),
])
def test_limits_are_invalid_input_naming_limit_index_and_setting(core, settings, publish_tiny,
                                                                 texts, message):
    core.load("sms", publish_tiny(settings))
    with pytest.raises(InvalidInput, match=message):
        core.predict("sms", texts)


def test_limits_that_could_never_be_queued_are_refused(tmp_path):
    with pytest.raises(InvalidInput, match="exceeds SYNTHCLF_INFERENCE_MAX_QUEUE_SIZE"):
        InferenceCore(Settings(artifact_store=str(tmp_path), inference_max_queue_size=4,
                               inference_max_texts_per_request=5))


def test_corrupt_artifact_is_refused_and_the_live_version_keeps_serving(core, settings, publish_tiny,
                                                                        tiny_onnx_folders):
    core.load("sms", publish_tiny(settings))
    uri = publish_tiny(settings, 1, artifact_id="corrupt")
    model_file = settings.artifact_store + "/onnx-model/corrupt/model.onnx"
    data = bytearray(open(model_file, "rb").read())
    data[len(data) // 2] ^= 0xFF
    open(model_file, "wb").write(bytes(data))
    with pytest.raises(IntegrityError, match="model.onnx"):
        core.load("sms", uri)
    assert [m.version for m in core.list()] == [1]
    assert core.predict("sms", ["hi"]).model.version == 1


def test_labels_that_do_not_match_the_logits_are_refused(core, settings, tiny_onnx_folders, tmp_path):
    import shutil

    from synthclf.core.artifacts import publish
    from synthclf.core.store import open_store

    folder = tmp_path / "mismatch"
    shutil.copytree(tiny_onnx_folders[0], folder)
    (folder / "labels.json").write_text('["a", "b", "c"]')
    ref = publish(open_store(settings.artifact_store, settings), folder, kind="onnx-model",
                  artifact_id="mismatch", service="tests")
    with pytest.raises(IntegrityError, match="3 labels but the model outputs 2 logits"):
        core.load("sms", ref.uri)


def test_other_artifact_kinds_are_refused(core, settings, tiny_onnx_folders):
    from synthclf.core.artifacts import publish
    from synthclf.core.store import open_store

    ref = publish(open_store(settings.artifact_store, settings), tiny_onnx_folders[0],
                  kind="model", artifact_id="torch", service="tests")
    with pytest.raises(InvalidInput, match="is a 'model' artifact, not an onnx-model"):
        core.load("sms", ref.uri)


def test_unload_while_requests_are_queued_loses_none(tmp_path, publish_tiny, expected):
    settings = Settings(artifact_store=str(tmp_path / "store"), inference_model_instances=1)
    core = InferenceCore(settings)
    core.load("sms", publish_tiny(settings))
    with core.repository.lease("sms") as live:
        gate, entered, run = threading.Event(), threading.Event(), live.batcher.run

        def held_run(rows):
            """The real run, held until the test opens the gate."""
            entered.set()
            gate.wait(10)
            return run(rows)

        live.batcher.run = held_run
    results, errors = {}, []

    def call(i: int) -> None:
        """One Predict of a single text."""
        try:
            results[i] = core.predict("sms", [TEXTS[i]]).probabilities[0]
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(TEXTS))]
    threads[0].start()
    assert entered.wait(5)
    for t in threads[1:]:
        t.start()
    deadline = time.monotonic() + 10
    while live.batcher.queued_texts < len(TEXTS) - 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert [m.version for m in core.unload("sms")] == [1]
    with pytest.raises(NotFound):
        core.predict("sms", ["hi"])
    gate.set()
    for t in threads:
        t.join(10)
    assert errors == [] and sorted(results) == list(range(len(TEXTS)))
    np.testing.assert_allclose(np.stack([results[i] for i in range(len(TEXTS))]), expected[0], atol=1e-6)
    live.batcher.close()  # already closed once its last request finished: returns at once
    assert not live.batcher.workers_alive


def test_metrics_count_requests_by_code_batches_and_queue(core, settings, publish_tiny):
    core.load("sms", publish_tiny(settings))
    core.predict("sms", TEXTS[:3])
    with pytest.raises(InvalidInput):
        core.predict("sms", [])
    with pytest.raises(NotFound):
        core.predict("nope", ["hi"])
    value = core.registry.get_sample_value
    assert value("synthclf_inference_requests_total", {"model": "sms", "code": "OK"}) == 1
    assert value("synthclf_inference_requests_total", {"model": "sms", "code": "INVALID_ARGUMENT"}) == 1
    assert value("synthclf_inference_requests_total", {"model": "(not loaded)", "code": "NOT_FOUND"}) == 1
    assert value("synthclf_inference_texts_total", {"model": "sms"}) == 3
    assert value("synthclf_inference_request_latency_seconds_count", {"model": "sms"}) == 2
    assert value("synthclf_inference_batch_size_sum", {"model": "sms", "version": "1"}) == 3
    assert value("synthclf_inference_queue_depth", {"model": "sms", "version": "1"}) == 0
    core.unload("sms")
    assert value("synthclf_inference_queue_depth", {"model": "sms", "version": "1"}) is None


def test_subscribers_hear_every_load_and_unload(core, settings, publish_tiny):
    heard = []
    core.subscribe(lambda name, serving: heard.append((name, serving)))
    core.load("sms", publish_tiny(settings, 0))
    core.load("sms", publish_tiny(settings, 1))
    core.unload("sms", 1)
    core.unload("sms")
    assert heard == [("sms", True), ("sms", True), ("sms", True), ("sms", False)]
