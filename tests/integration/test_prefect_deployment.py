"""prefect.yaml on a real Prefect server: deploy, serve with a process worker, run, complete.

What docker compose does, on loopback: ``prefect server start`` (SQLite under a temp
PREFECT_HOME, no telemetry), ``prefect work-pool create synthclf --type process``,
``prefect --no-prompt deploy --all`` from the repository root, ``prefect worker start --pool
synthclf --type process`` (started elsewhere: the flows are imported from the installed
package) against the four synthclf services, then ``prefect deployment run
experiment/paper-offline`` with overrides small enough for seconds of work on real data (no
LLM: real data only).
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from synthclf.core.config import Settings
from synthclf.server import start_server

REPO = Path(__file__).resolve().parents[2]
PREFECT = str(Path(sys.executable).with_name("prefect"))
OVERRIDES = {"tasks": ["sms_spam"], "sources": ["real"], "real_train_rows": 24, "test_rows": 40,
             "max_texts": 50, "training": {"epochs": 1, "batch_size": 8, "max_length": 32},
             "curve": {"sizes": [8], "seeds": [0]}}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start(args: list[str], env: dict, log: Path, cwd: Path) -> subprocess.Popen:
    """A background process in its own process group, output to ``log``."""
    with log.open("w") as out:
        return subprocess.Popen(args, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM the process group; SIGKILL it if it is still there after 15 s."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)


def _cli(env: dict, *args: str, timeout: float = 120) -> str:
    done = subprocess.run([PREFECT, *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"prefect {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture
def prefect_server(tmp_path):
    """`prefect server start` on a free loopback port; yields the environment of its clients."""
    port = _free_port()
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect"), "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1", "PREFECT_WORKER_QUERY_SECONDS": "1",
           "PREFECT_CLI_COLORS": "false"}
    server = _start([PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)], env,
                    tmp_path / "server.log", tmp_path)
    deadline = time.monotonic() + float(os.environ.get("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", 60))
    try:
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=2)
                break
            except OSError:
                assert server.poll() is None, (tmp_path / "server.log").read_text()
                assert time.monotonic() < deadline, "Prefect server not healthy in time"
                time.sleep(0.5)
        yield env
    finally:
        _stop(server)


def _flow_run(api_url: str, flow_run_id: str):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: api_url}), get_client(sync_client=True) as client:
        run = client.read_flow_run(flow_run_id)
        artifacts = client.read_artifacts(artifact_filter=ArtifactFilter(
            flow_run_id=ArtifactFilterFlowRunId(any_=[run.id])))
    return run, {a.key: a for a in artifacts}


def test_experiment_deployment_completes_on_a_process_worker(prefect_server, tmp_path):
    settings = Settings(artifact_store=str(tmp_path / "artifacts"), cache_dir=tmp_path / "cache")
    services = start_server(["all"], settings, port=0)
    env = {**prefect_server, "SYNTHCLF_ADDRESS": services.address,
           "SYNTHCLF_ARTIFACT_STORE": settings.artifact_store, "SYNTHCLF_CACHE_DIR": str(settings.cache_dir)}
    worker = None
    try:
        _cli(env, "work-pool", "create", "synthclf", "--type", "process")
        deployed = _cli(env, "--no-prompt", "deploy", "--all")
        for name in ("experiment/paper-offline", "experiment/smoke", "generate_dataset/default",
                     "train_classifier/default", "evaluate/default", "analyze/default"):
            assert f"Deployment '{name}' successfully created" in deployed
        # The worker runs elsewhere than the repository: flows come from the installed package.
        worker_dir = tmp_path / "worker"
        worker_dir.mkdir()
        worker = _start([PREFECT, "worker", "start", "--pool", "synthclf", "--type", "process"], env,
                        tmp_path / "worker.log", worker_dir)
        out = _cli(env, "deployment", "run", "experiment/paper-offline", "--param",
                   f"overrides={json.dumps(OVERRIDES)}", "--watch", "--watch-timeout", "180", timeout=200)
    finally:
        if worker is not None:
            _stop(worker)
        services.stop(grace_s=1)

    flow_run_id = re.search(r"UUID: ([0-9a-f-]{36})", out).group(1)
    run, artifacts = _flow_run(env["PREFECT_API_URL"], flow_run_id)
    assert run.state.is_completed(), (run.state, (tmp_path / "worker.log").read_text()[-3000:])
    assert run.parameters["preset"] == "paper-offline"
    answer = artifacts["experiment-verdict"].data
    assert "## Verdict" in answer and "| sms_spam | don't |" in answer  # real data only: nothing to compare
    table = answer.split("## Table 1")[1]
    assert "| task | real |" in table and "| sms_spam |" in table and "n=40" in table
    link = artifacts["experiment-report"].data
    assert (tmp_path / "artifacts").as_uri() in link and "/report.html" in link
    report_html = Path(re.search(r"file://(/[^)\s]+/report\.html)", link).group(1))
    assert report_html.is_file()
