"""README's configuration table lists exactly the settings of core/config.py, with their
defaults (issue 15: settings in one place; a new setting undocumented fails here)."""

import re
from pathlib import Path

import pytest

from synthclf.core.config import Settings

README = Path(__file__).resolve().parents[3] / "README.md"


def _table() -> dict[str, str]:
    """Variable → its documented default cell, from README's "Configuration" table."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Configuration"):]
    section = section[:section.index("\n## ", 5)]
    documented: dict[str, str] = {}
    for line in section.splitlines():
        if not line.startswith("| `SYNTHCLF_"):
            continue
        name_cell, default_cell = line.split("|")[1:3]
        names = []
        for name in re.findall(r"`(SYNTHCLF_[A-Z0-9_{},]+)`", name_cell):
            grouped = re.fullmatch(r"SYNTHCLF_\{([A-Z,]+)\}(_\w+)", name)
            names += ([f"SYNTHCLF_{p}{grouped.group(2)}" for p in grouped.group(1).split(",")]
                      if grouped else [name])
        defaults = [d.strip() for d in default_cell.split(" / ")]
        for i, name in enumerate(names):
            documented[name] = defaults[i] if len(defaults) == len(names) else default_cell.strip()
    return documented


def test_readme_lists_exactly_the_settings_fields():
    fields = {f"SYNTHCLF_{name.upper()}" for name in Settings.model_fields}
    documented = set(_table())
    assert sorted(fields - documented) == [], "settings missing from README's configuration table"
    assert sorted(documented - fields) == [], "README documents settings that core/config.py lacks"


def _literal(value) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)) and not isinstance(value, bool):
        return f"{value:g}" if isinstance(value, float) else str(value)
    return None


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_documented_defaults_match_the_code(name):
    default = Settings.model_fields[name].default
    cell = _table()[f"SYNTHCLF_{name.upper()}"]
    literal = _literal(default)
    if default is None:
        assert "unset" in cell or "off" in cell or cell.startswith("`")  # "unset (…)" or a derived default
    elif literal is not None and re.fullmatch(r"`[^`]*`", cell):
        assert cell.strip("`") == literal, f"README says {cell}, core/config.py {literal!r}"
