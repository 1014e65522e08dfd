"""Start-up models (SYNTHCLF_INFERENCE_MODELS): parsing, background loading, readiness."""

from __future__ import annotations

import threading
import time

import pytest
from tiny_classifier import TEXTS

from synthclf.core.config import Settings
from synthclf.core.errors import IntegrityError, InvalidInput, Unavailable
from synthclf.inference import startup
from synthclf.inference.service import InferenceCore
from synthclf.inference.startup import StartupModels, parse_startup_models


def wait_for(condition, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def ready(models: StartupModels) -> bool:
    try:
        models.check()
    except Unavailable:
        return False
    return True


def test_parse_keeps_order_and_ignores_blanks():
    spec = " sms = s3://b/artifacts/onnx-model/a ,, news=file:///x/onnx-model/b=c ,"
    assert parse_startup_models(spec) == [("sms", "s3://b/artifacts/onnx-model/a"),
                                          ("news", "file:///x/onnx-model/b=c")]
    assert parse_startup_models("") == [] and parse_startup_models("  ") == []


@pytest.mark.parametrize("spec, words", [
    ("sms", "'sms' is not name=artifact-uri"),
    ("=s3://b/x", "is not name=artifact-uri"),
    ("sms=", "is not name=artifact-uri"),
    ("sms=s3://b/x,sms=s3://b/y", "names model 'sms' twice"),
])
def test_parse_rejects_malformed_items_naming_them(spec, words):
    with pytest.raises(InvalidInput, match=words):
        parse_startup_models(spec)


def test_core_refuses_a_malformed_setting(tmp_path):
    with pytest.raises(InvalidInput, match="SYNTHCLF_INFERENCE_MODELS"):
        InferenceCore(Settings(artifact_store=str(tmp_path), inference_models="sms"))


def test_not_ready_until_loaded_then_serves(tmp_path, publish_tiny):
    settings = Settings(artifact_store=str(tmp_path / "artifacts"), cache_dir=tmp_path / "cache")
    uri = publish_tiny(settings)
    core = InferenceCore(settings.model_copy(update={"inference_models": f"sms={uri}"}))
    try:
        with pytest.raises(Unavailable, match="not loading yet: sms"):
            core.check()
        loaded = threading.Event()
        core.start(on_ready=loaded.set)
        assert loaded.wait(30)
        core.check()
        assert [(m.name, m.version) for m in core.list()] == [("sms", 1)]
        assert core.predict("sms", TEXTS).probabilities.shape == (len(TEXTS), 2)
    finally:
        core.close()


class FlakyLoader:
    """Fails with the given errors first, then loads."""

    def __init__(self, *errors):
        self.errors = list(errors)
        self.calls = 0
        self.before = lambda: None

    def load(self, name, uri):
        self.calls += 1
        self.before()
        if self.errors:
            raise self.errors.pop(0)
        return type("Model", (), {"version": 1})()


def test_retries_an_unreachable_store_and_reports_why_meanwhile(monkeypatch):
    monkeypatch.setattr(startup, "FIRST_RETRY_S", 0.05)
    gate = threading.Event()

    loader = FlakyLoader(Unavailable("store at minio:9000 unreachable"))
    loader.before = lambda: loader.calls == 2 and gate.wait(10)  # 2nd try waits for the test
    models = StartupModels(loader, [("sms", "s3://b/onnx-model/a")])
    models.start()
    wait_for(lambda: loader.calls >= 2)
    with pytest.raises(Unavailable, match=r"'sms' \(s3://b/onnx-model/a\): Unavailable: store at"):
        models.check()
    gate.set()
    wait_for(lambda: ready(models))
    assert loader.calls == 2


def test_gives_up_on_an_artifact_that_can_never_load():
    loader = FlakyLoader(IntegrityError("model.onnx sha256 mismatch"))
    models = StartupModels(loader, [("sms", "s3://b/onnx-model/a"), ("news", "s3://b/onnx-model/b")])
    models.start()
    wait_for(lambda: "IntegrityError" in str(pytest.raises(Unavailable, models.check).value))
    time.sleep(0.2)
    assert loader.calls == 1  # not retried, and 'news' never attempted
    message = str(pytest.raises(Unavailable, models.check).value)
    assert "sha256 mismatch" in message and "'news'" in message


def test_stop_ends_the_retries(monkeypatch):
    monkeypatch.setattr(startup, "FIRST_RETRY_S", 0.05)
    loader = FlakyLoader(*[Unavailable("down")] * 1000)
    models = StartupModels(loader, [("sms", "s3://b/onnx-model/a")])
    models.start()
    wait_for(lambda: loader.calls >= 2)
    models.stop()
    models._thread.join(5)
    assert not models._thread.is_alive()
