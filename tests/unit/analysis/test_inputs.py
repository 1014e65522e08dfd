"""Tests of synthclf.analysis.inputs: where Evaluate may connect, and its request checks."""

from __future__ import annotations

import math

import pytest

from synthclf.analysis.inputs import check_analysis_texts, check_evaluate_request, resolve_inference_address
from synthclf.core.config import Settings
from synthclf.core.errors import InvalidInput


def test_the_default_is_the_configured_address_or_the_servers_own():
    configured = Settings(inference_address="inference:50051")
    assert resolve_inference_address(configured, "", None) == "inference:50051"
    assert resolve_inference_address(configured, "", "127.0.0.1:4321") == "inference:50051"
    assert resolve_inference_address(Settings(), "", "127.0.0.1:4321") == "127.0.0.1:4321"
    assert resolve_inference_address(Settings(), "", None) == Settings().address


def test_a_request_may_name_only_allowed_addresses():
    settings = Settings(inference_address="inference:50051", inference_allowed_addresses=["backup:50051"])
    for allowed in ("inference:50051", "backup:50051"):
        assert resolve_inference_address(settings, allowed, None) == allowed
    assert resolve_inference_address(Settings(), "127.0.0.1:4321", "127.0.0.1:4321") == "127.0.0.1:4321"
    for evil in ("attacker.example:443", "169.254.169.254:80", "127.0.0.1:1", "x" * 10_000):
        with pytest.raises(InvalidInput, match="SYNTHCLF_INFERENCE_ALLOWED_ADDRESSES") as caught:
            resolve_inference_address(settings, evil, None)
        assert len(caught.value.message) < 400


@pytest.mark.parametrize(("fields", "problem"), [
    ({"batch_size": 0}, "at least 1"), ({"batch_size": 10**6}, "SYNTHCLF_INFERENCE_MAX_TEXTS_PER_REQUEST"),
    ({"n_bootstrap": -1}, "at least 0"), ({"n_bootstrap": 2**31 - 1}, "SYNTHCLF_MAX_BOOTSTRAP"),
    ({"confidence": math.nan}, "confidence"), ({"confidence": 1.0}, "confidence"),
])
def test_evaluate_parameters_are_bounded(fields, problem):
    request = {"batch_size": 64, "n_bootstrap": 1000, "confidence": 0.95, **fields}
    with pytest.raises(InvalidInput, match=problem):
        check_evaluate_request(Settings(), **request)


def test_analysis_texts_are_bounded():
    check_analysis_texts(Settings(), 1000, k=5)
    with pytest.raises(InvalidInput, match="SYNTHCLF_MAX_ANALYSIS_TEXTS"):
        check_analysis_texts(Settings(), 10**9)
    with pytest.raises(InvalidInput, match="neighbours"):
        check_analysis_texts(Settings(), 100, k=0)
