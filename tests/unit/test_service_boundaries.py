"""No service imports another service's modules (issue 15): the protos are the only contract
between generation, training, inference and analysis; what they share lives in synthclf.core.
Walks every module's import statements (ast), so a lazy import inside a function counts too."""

import ast
from pathlib import Path

import pytest

SERVICES = ("generation", "training", "inference", "analysis")
ROOT = Path(__file__).resolve().parents[2] / "services" / "synthclf"


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_imports_no_other_service(service):
    others = tuple(f"synthclf.{s}" for s in SERVICES if s != service)
    offending = sorted(f"{path.relative_to(ROOT)}: {name}"
                       for path in (ROOT / service).rglob("*.py")
                       for name in _imports(path) if name.startswith(others))
    assert offending == []


def test_the_walk_sees_lazy_imports(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from synthclf.inference.batcher import DynamicBatcher\n")
    assert "synthclf.inference.batcher" in _imports(module)
