"""Shared fixtures: an offline, hermetic environment and real servers on loopback."""

from __future__ import annotations

import os
import socket
import uuid

import pytest

# Prefect offline: no analytics (tests reach no network), generous ephemeral-server start-up on slow CI.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
for _name in [n for n in os.environ if n.startswith("SYNTHCLF_")]:
    del os.environ[_name]


def free_port() -> int:
    """An unused loopback TCP port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def s3_endpoint():
    """A real S3 server (moto's, in a thread) on loopback; yields host:port."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def synthclf_env(tmp_path, monkeypatch):
    """Point synthclf's settings at a temp artifact folder and cache; returns the Settings."""
    from synthclf.core.config import get_settings

    monkeypatch.setenv("SYNTHCLF_ARTIFACT_STORE", str(tmp_path / "artifacts"))
    monkeypatch.setenv("SYNTHCLF_CACHE_DIR", str(tmp_path / "cache"))
    return get_settings()


@pytest.fixture(params=["local", "s3"])
def store_settings(request, tmp_path, monkeypatch):
    """Settings for each artifact-store backend: a local folder, and a bucket on moto's S3 server."""
    from synthclf.core.config import get_settings

    monkeypatch.setenv("SYNTHCLF_CACHE_DIR", str(tmp_path / "cache"))
    if request.param == "local":
        monkeypatch.setenv("SYNTHCLF_ARTIFACT_STORE", str(tmp_path / "artifacts"))
    else:
        endpoint = request.getfixturevalue("s3_endpoint")
        monkeypatch.setenv("SYNTHCLF_ARTIFACT_STORE", f"s3://synthclf-{uuid.uuid4().hex[:12]}/artifacts")
        monkeypatch.setenv("SYNTHCLF_S3_ENDPOINT", endpoint)
        monkeypatch.setenv("SYNTHCLF_S3_ACCESS_KEY", "testing")
        monkeypatch.setenv("SYNTHCLF_S3_SECRET_KEY", "testing")
    return get_settings()


@pytest.fixture(autouse=True, scope="session")
def _quiet_s3_access_log():
    """moto's werkzeug access log drowns the services' own logs (health checks HEAD the bucket)."""
    import logging

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
