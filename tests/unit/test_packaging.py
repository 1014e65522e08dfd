"""pyproject.toml's runtime dependencies agree with requirements/base.txt (issue 15): every
distribution base.txt installs is declared (except the few pyproject.toml's comment names), and
every exact pin of base.txt — what CI and the benchmarks ran — satisfies the declared range."""

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
#: base.txt entries pyproject.toml leaves out on purpose (its comment says why).
NOT_DECLARED = {"grpcio-tools"}


def _declared() -> dict[str, Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {canonicalize_name(r.name): r for r in map(Requirement, project["dependencies"])}


def _base() -> dict[str, Requirement]:
    lines = (ROOT / "requirements" / "base.txt").read_text().splitlines()
    entries = [re.sub(r"\s+#.*", "", line).strip() for line in lines]
    return {canonicalize_name(r.name): r for r in map(Requirement, filter(None, (e for e in entries
                                                                                  if not e.startswith("#"))))}


def test_every_base_requirement_is_declared():
    missing = set(_base()) - set(_declared()) - NOT_DECLARED
    assert not missing, f"requirements/base.txt installs {sorted(missing)}, which pyproject.toml does not declare"


def test_the_pinned_versions_satisfy_the_declared_ranges():
    declared = _declared()
    for name, pinned in _base().items():
        exact = [s.version for s in pinned.specifier if s.operator == "=="]
        if name in declared and exact and "*" not in exact[0]:
            assert declared[name].specifier.contains(exact[0]), (name, exact[0], str(declared[name].specifier))
