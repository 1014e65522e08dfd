"""The user-side checks of the compose test (deploy/test-compose.sh; docs/deploy.md).

Runs on the host, against the published ports of a running ``docker compose`` stack, the way a
user works with it: registers the Prefect deployments in the worker container, runs the main
job as a Prefect deployment run on the worker, crashes the training container (SIGKILL of its
init process, as the OOM killer would) while a training task runs, then checks that the run
completed through the task's retry, that every artifact in the S3 store verifies against its
manifest and none is half-written, reads the report from S3, classifies texts through the
published inference port with ``synthclf predict`` and with the unmodified Triton client
(Open Inference Protocol), and reads Prometheus ``/metrics``. ``scale`` checks that two
inference replicas started with SYNTHCLF_INFERENCE_MODELS serve the same model identically.

Usage (the compose command line comes from $COMPOSE, e.g. ``docker compose -p synthclf-test
-f docker-compose.yml -f docker-compose.test.yml``)::

    python deploy/compose_check.py main-job --state STATE.json [--deployment experiment/smoke]
    python deploy/compose_check.py scale --state STATE.json

Exit status 0 when every check passes; 1 with the failed check's message otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TEXTS = ["WINNER!! You have won a £1000 prize, text CLAIM to 80082 now", "see you at lunch tomorrow"]
#: The artifact store inside the stack (docker-compose.yml's default).
STORE = os.environ.get("SYNTHCLF_ARTIFACT_STORE", "s3://synthclf/artifacts")
#: The training service's log line when a fine-tune starts (training/service.py).
TRAINING_STARTED = re.compile(r"synthclf\.\S+: training \S+ on \d+ rows")


class CheckFailed(Exception):
    """A check of the compose test failed (the message says which and why)."""


def say(message: str) -> None:
    print(f"[compose-check] {message}", flush=True)


def compose(*args: str, capture: bool = True, env: dict | None = None) -> str:
    """Run ``$COMPOSE args``; returns stdout. CheckFailed on a non-zero exit."""
    command = [*shlex.split(os.environ["COMPOSE"]), *args]
    done = subprocess.run(command, capture_output=capture, text=True, check=False,
                          env={**os.environ, **(env or {})}, timeout=900)
    if done.returncode != 0:
        raise CheckFailed(f"{' '.join(command)} exited {done.returncode}: "
                          f"{(done.stderr or '')[-2000:]}")
    return done.stdout or ""


def host_port(service: str, port: int, index: int = 1) -> str:
    """127.0.0.1:<published port> of a container port (docker compose port)."""
    out = compose("port", "--index", str(index), service, str(port)).strip()
    if not out:
        raise CheckFailed(f"{service} publishes no port for {port}")
    return "127.0.0.1:" + out.rsplit(":", 1)[1]


def container_ids(service: str) -> list[str]:
    return compose("ps", "-q", service).split()


def inspect(container: str, template: str) -> str:
    return subprocess.run(["docker", "inspect", "-f", template, container], capture_output=True,
                          text=True, check=True).stdout.strip()


def synthclf(*args: str) -> str:
    """The synthclf CLI of this environment (stdout); CheckFailed on failure."""
    done = subprocess.run([sys.executable, "-m", "synthclf.cli", *args], capture_output=True,
                          text=True, check=False, timeout=120)
    if done.returncode != 0:
        raise CheckFailed(f"synthclf {' '.join(args)} exited {done.returncode}: {done.stderr[-1500:]}")
    return done.stdout


def store_settings(s3_address: str):
    """Settings reaching the stack's S3 server from the host."""
    from synthclf.core.config import Settings

    return Settings(artifact_store=STORE, s3_endpoint=s3_address,
                    cache_dir=Path(tempfile.mkdtemp(prefix="compose-check-")))


# --- the main job -------------------------------------------------------------------------------


def run_deployment_with_crash(deployment: str, parameters: dict, kill_service: str,
                              kill_task: str, timeout_s: float) -> dict:
    """Start a deployment run; SIGKILL ``kill_service`` once a ``kill_task`` task runs; wait.

    Returns:
        {"state", "task_runs": {name: (state, run_count)}, "killed": bool, "restarts"}.
    """
    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId, LogFilter, LogFilterFlowRunId
    from prefect.deployments import run_deployment

    since = subprocess.run(["date", "-u", "+%Y-%m-%dT%H:%M:%SZ"], capture_output=True, text=True,
                           check=True).stdout.strip()
    flow_run = run_deployment(deployment, parameters=parameters, timeout=0)
    say(f"deployment run {deployment}: flow run {flow_run.name} ({flow_run.id})")
    killed_at, killed_task, last_log = None, "", 0.0
    started = time.monotonic()
    with get_client(sync_client=True) as client:
        while True:
            run = client.read_flow_run(flow_run.id)
            tasks = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run.id])))
            running = [t for t in tasks if t.name.startswith(kill_task) and t.state and t.state.is_running()]
            # A running task may still wait for its concurrency slot: kill only once the server
            # has logged that it is training.
            if killed_at is None and running and job_started(kill_service, since):
                (container,) = container_ids(kill_service)
                pid = inspect(container, "{{.State.Pid}}")
                say(f"fault: SIGKILL {kill_service} (host pid {pid}, its init) while it trains "
                    f"for {', '.join(t.name for t in running)}")
                os.kill(int(pid), 9)
                killed_at, killed_task = time.monotonic(), running[0].name
            if time.monotonic() - last_log > 20:
                counts: dict[str, int] = {}
                for t in tasks:
                    counts[t.state.name if t.state else "?"] = counts.get(t.state.name if t.state else "?", 0) + 1
                say(f"  {time.monotonic() - started:5.0f} s  flow {run.state.name}; tasks {counts}")
                last_log = time.monotonic()
            if run.state.is_final():
                break
            if time.monotonic() - started > timeout_s:
                raise CheckFailed(f"{deployment} not finished after {timeout_s:.0f} s ({run.state.name})")
            time.sleep(1)
        logs = [] if run.state.is_completed() else client.read_logs(
            log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run.id])))
    task_runs = {t.name: (t.state.name if t.state else "?", t.run_count) for t in tasks}
    if not run.state.is_completed():
        tail = "\n".join(log.message for log in logs[-30:])
        raise CheckFailed(f"{deployment} ended {run.state.name}: {run.state.message}\n{tail}")
    (container,) = container_ids(kill_service)
    return {"state": run.state.name, "task_runs": task_runs, "killed_task": killed_task,
            "seconds": round(time.monotonic() - started, 1),
            "restarts": int(inspect(container, "{{.RestartCount}}"))}


def job_started(service: str, since: str) -> bool:
    """Whether the training server logged the start of a fine-tune since ``since``."""
    (container,) = container_ids(service)
    done = subprocess.run(["docker", "logs", "--since", since, container], capture_output=True,
                          text=True, check=False)
    return bool(TRAINING_STARTED.search(done.stdout + done.stderr))


def check_artifacts(settings) -> dict[str, list[str]]:
    """Every artifact in the store verifies against its manifest; no manifest-less leftovers.

    Returns:
        URIs by kind.
    """
    from synthclf.core.artifacts import fetch
    from synthclf.core.manifest import MANIFEST_NAME
    from synthclf.core.store import open_store

    store = open_store(settings.artifact_store, settings)
    folders: dict[str, set[str]] = {}
    for key in store.list(""):
        parts = key.split("/")
        if len(parts) >= 3:
            folders.setdefault(f"{parts[0]}/{parts[1]}", set()).add("/".join(parts[2:]))
    half_written = sorted(folder for folder, files in folders.items() if MANIFEST_NAME not in files)
    if half_written:
        raise CheckFailed(f"half-written artifacts (files without manifest.json): {half_written}")
    by_kind: dict[str, list[str]] = {}
    for folder in sorted(folders):
        uri = store.uri(folder)
        fetch(uri, settings)  # sha256 and size of every file against the manifest
        by_kind.setdefault(folder.split("/")[0], []).append(uri)
    return by_kind


def read_report(settings, report_uris: list[str]) -> str:
    """report.md of the newest report artifact, read from S3."""
    from synthclf.core.artifacts import fetch

    newest = max((fetch(uri, settings) for uri in report_uris),
                 key=lambda artifact: artifact.manifest.created_at)
    return (newest.path / "report.md").read_text()


def check_inference(address: str, metrics_address: str) -> dict:
    """synthclf predict, the unmodified Triton client and /metrics, from the host."""
    models = json.loads(synthclf("models", "list", "--address", address, "--json"))
    if not models:
        raise CheckFailed(f"no model loaded on the inference service at {address}")
    model = models[0]
    predicted = json.loads(synthclf("predict", "--model", model["name"], "--address", address,
                                    "--json", *TEXTS))
    if len(predicted["predictions"]) != len(TEXTS):
        raise CheckFailed(f"synthclf predict answered {predicted}")
    say(f"synthclf predict --model {model['name']}: "
        + "; ".join(f"{p['label']} {p['probabilities']}" for p in predicted["predictions"]))
    done = subprocess.run([sys.executable, str(REPO / "tests" / "integration" / "triton_client_call.py"),
                           address, model["name"], json.dumps(TEXTS)], capture_output=True,
                          text=True, check=False, timeout=120)
    if done.returncode != 0:
        raise CheckFailed(f"Triton client failed: {done.stderr[-1500:]}")
    triton = json.loads(done.stdout)
    if not (triton["live"] and triton["ready"] and triton["model_ready"]):
        raise CheckFailed(f"Triton client: server/model not ready: {triton}")
    ours = [[p["probabilities"][label] for label in predicted["labels"]] for p in predicted["predictions"]]
    if any(abs(a - b) > 1e-4 for row, other in zip(ours, triton["probabilities"]) for a, b in zip(row, other)):
        raise CheckFailed(f"Triton probabilities {triton['probabilities']} differ from synthclf's {ours}")
    say(f"Triton client (OIP): live, ready, labels {triton['labels']}, same probabilities")
    with urllib.request.urlopen(f"http://{metrics_address}/metrics", timeout=10) as response:
        metrics = response.read().decode()
    from prometheus_client.parser import text_string_to_metric_families

    ok = sum(sample.value for family in text_string_to_metric_families(metrics)
             for sample in family.samples
             if sample.name == "synthclf_inference_requests_total"
             and sample.labels.get("model") == model["name"] and sample.labels.get("code") == "OK")
    if ok < 2:  # synthclf predict and the Triton client, at least
        raise CheckFailed(f"/metrics counts {ok} OK requests for {model['name']}")
    say(f"/metrics: synthclf_inference_requests_total{{model={model['name']!r}, code='OK'}} = {ok:.0f}")
    return {"model": model["name"], "uri": model["artifact"], "labels": predicted["labels"]}


def main_job(args: argparse.Namespace) -> dict:
    api = host_port("prefect-server", 4200)
    os.environ["PREFECT_API_URL"] = f"http://{api}/api"
    say("registering the deployments of prefect.yaml (in the worker container)")
    compose("exec", "-T", "prefect-worker", "prefect", "--no-prompt", "deploy", "--all")
    outcome = run_deployment_with_crash(args.deployment, json.loads(args.parameters), "training",
                                        "train_classifier", args.timeout)
    retried = {name: runs for name, (_, runs) in outcome["task_runs"].items() if runs > 1}
    say(f"flow run {outcome['state']} in {outcome['seconds']} s; training restarts "
        f"{outcome['restarts']}; tasks run more than once: {retried}")
    fault = ("the training container was not restarted after the crash" if outcome["restarts"] < 1
             else "" if retried else f"no task was retried after the crash ({outcome['killed_task']})")
    settings = store_settings(host_port("minio", 9000))
    artifacts = check_artifacts(settings)
    say("artifacts (all verified against their manifests): "
        + ", ".join(f"{kind} {len(uris)}" for kind, uris in artifacts.items()))
    report = read_report(settings, artifacts.get("report", []))
    if "Macro-F1" not in report:
        raise CheckFailed("report.md from S3 has no Macro-F1")
    say("report.md from S3:\n" + "\n".join(report.splitlines()[:25]))
    served = check_inference(host_port("inference", 50051), host_port("inference", 9464))
    state = {**outcome, "artifacts": {k: len(v) for k, v in artifacts.items()}, "served": served}
    Path(args.state).write_text(json.dumps(state, indent=2))
    if fault:
        raise CheckFailed(fault)
    say(f"fault step: {', '.join(sorted(retried))} re-run by their retries after the crash; "
        "no artifact lost or half-written")
    return state


def scale(args: argparse.Namespace) -> dict:
    state = json.loads(Path(args.state).read_text())
    name, uri = state["served"]["model"], state["served"]["uri"]
    spec = f"{name}={uri}"
    say(f"up --scale inference=2 with SYNTHCLF_INFERENCE_MODELS={spec}")
    started = time.monotonic()
    compose("up", "-d", "--wait", "--wait-timeout", "300", "--no-deps", "--scale", "inference=2",
            "inference", env={"SYNTHCLF_INFERENCE_MODELS": spec})
    answers = []
    for index in (1, 2):
        address = host_port("inference", 50051, index)
        models = json.loads(synthclf("models", "list", "--address", address, "--json"))
        if [(m["name"], m["artifact"]) for m in models] != [(name, uri)]:
            raise CheckFailed(f"replica {index} ({address}) serves {models}, not {spec}")
        answers.append(json.loads(synthclf("predict", "--model", name, "--address", address,
                                           "--json", *TEXTS))["predictions"])
    if answers[0] != answers[1]:
        raise CheckFailed(f"the replicas answer differently: {answers}")
    say(f"2 inference replicas healthy with '{name}' loaded at start-up, identical predictions "
        f"({time.monotonic() - started:.0f} s)")
    return {"replicas": 2, "seconds": round(time.monotonic() - started, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("check", choices=["main-job", "scale"])
    parser.add_argument("--state", required=True, help="JSON file: main-job writes it, scale reads it")
    parser.add_argument("--deployment", default="experiment/smoke")
    parser.add_argument("--parameters", default="{}", help="deployment parameters, JSON")
    parser.add_argument("--timeout", type=float, default=2400, help="seconds the flow run may take")
    args = parser.parse_args()
    try:
        if args.check == "main-job":
            main_job(args)
        else:
            scale(args)
    except CheckFailed as exc:
        say(f"FAILED: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
