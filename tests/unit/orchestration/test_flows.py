"""Flow logic that needs no server: the retry condition."""

from __future__ import annotations

from prefect.states import Completed, Failed

from orchestration.flows import Endpoints, is_transient
from synthclf.core.errors import InvalidInput, Unavailable


def test_only_unavailable_is_retried():
    assert is_transient(None, None, Failed(data=Unavailable("llm down")))
    assert not is_transient(None, None, Failed(data=InvalidInput("bad label")))
    assert not is_transient(None, None, Failed(data=ValueError("bug")))
    assert not is_transient(None, None, Completed(data=1))


def test_all_in_one_endpoints():
    endpoints = Endpoints.all_in_one("127.0.0.1:1")
    assert {endpoints.generation, endpoints.training, endpoints.inference, endpoints.analysis} == {"127.0.0.1:1"}
