"""The task spec: one pydantic model for the catalog's tasks and for a user's own task file.

A task names its labels (name + description) and how synthetic data for it are asked for —
the paper's two zero-shot prompts (Li et al., EMNLP 2023, §3.1): a *context prompt* (domain +
role) and a *data-generation prompt* per label. A user's task file (YAML) needs only ``name``
and ``labels``; missing prompts are drafted from the labels, ``domain`` and ``text_type`` in
the paper's pattern and the drafted fields are listed in ``drafted`` so a person can review
the wording (README, "Your own task"). The catalog (``catalog.yaml``) holds the same model:
its tasks are pre-published specs.

YAML errors name the field and the line (:func:`parse_task_yaml`).
"""

from __future__ import annotations

import re
import string
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from synthclf.core.errors import InvalidInput

PROMPT_PLACEHOLDERS = frozenset({"label", "label_description", "style", "max_words"})
#: Word budget of a task that names none (also generation's default).
DEFAULT_MAX_WORDS = 60
#: Description written by ``synthclf tasks init``; a task still carrying it is refused.
PLACEHOLDER_PREFIX = "REVIEW:"
#: Largest task file accepted, bytes (a task is a few kilobytes).
MAX_TASK_FILE_BYTES = 256 * 1024

_NAME_PATTERN = r"^[a-z][a-z0-9_]*$"


def label_key(value: Any) -> str:
    """The snake_case label name of a raw label value, e.g. ``"Billing Issue"`` → ``billing_issue``.

    Integers and other values that do not start with a letter get a ``label_`` prefix
    (``1`` → ``label_1``). Used by ``synthclf tasks init`` to name labels and by the import to
    map data values to label names, so both agree.
    """
    text = str(value).strip()
    if re.fullmatch(r"-?\d+\.0", text):  # 1.0 from a float column is the label 1
        text = text[:-2]
    key = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
    if text.startswith("-") and key:
        key = f"minus_{key}"
    return key if re.match(r"^[a-z]", key) else f"label_{key}"


class LabelSpec(BaseModel):
    """One label of a task."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=_NAME_PATTERN, description="snake_case label name used in data")
    description: str = Field(
        min_length=1, description="what the label means; fills {label_description} in prompts"
    )
    values: tuple[str, ...] = Field(
        default=(), description="label values in the user's data that mean this label (e.g. "
        "'1', 'Billing Issue'); the name itself and its snake_case form always match"
    )

    @field_validator("description")
    @classmethod
    def _reviewed(cls, description: str) -> str:
        if description.strip().startswith(PLACEHOLDER_PREFIX):
            raise ValueError("still the placeholder written by `synthclf tasks init`: describe "
                             "what the label means (it is written into the generation prompt)")
        return description


class OfflineSource(BaseModel):
    """Where a task's real data lie inside an installed PyPI package on this machine."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    loader: str = Field(description="name of the loader registered in synthclf.core.corpora")
    package: str = Field(description="top-level package carrying the files (never imported)")
    path: str = Field(description="file or folder, relative to the package's directory")
    files: tuple[str, ...] = Field(
        default=(), description="files inside `path` the loader reads; all must exist"
    )


def _article(noun: str) -> str:
    return "an" if noun[:1].lower() in "aeiou" else "a"


def draft_context_prompt(domain: str, text_type: str) -> str:
    """The paper's context-prompt pattern, domain + role: "Imagine you are … writing …".

    E.g. ``draft_context_prompt("customer support", "support ticket")`` →
    ``"Imagine you are a person writing support tickets in the domain of customer support."``
    """
    where = f" in the domain of {domain}" if domain else ""
    return f"Imagine you are a person writing {text_type}s{where}."


def draft_generation_prompt(text_type: str) -> str:
    """The data-generation prompt template: the text type, the label's description, the word limit."""
    return (f"Write {_article(text_type)} {text_type} labelled '{{label}}': {{label_description}}. "
            f"Use at most {{max_words}} words.")


class TaskSpec(BaseModel):
    """A text-classification task: labels, prompts, subjectivity and data sources.

    Attributes are documented by their ``Field(description=...)``; see ``catalog.yaml`` for
    the catalog's values and their sources. Only ``name`` and ``labels`` are required: a
    missing ``context_prompt`` or ``generation_prompt`` is drafted (see the module docstring)
    and named in ``drafted``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=_NAME_PATTERN, description="snake_case task key, e.g. 'sms_spam'")
    title: str = Field("", description="human-readable task title; '' = the name")
    in_paper: bool = Field(False, description="whether the task is one of the paper's ten tasks")
    domain: str = Field("", description="where the texts come from, e.g. 'tweets'")
    description: str = Field("", description="what is classified and how")
    text_type: str = Field("text", min_length=1,
                           description="noun phrase naming one text, e.g. 'movie review'")
    max_words: int = Field(DEFAULT_MAX_WORDS, ge=1, description="word budget for one generated text")
    language: str = Field("en", pattern=r"^[a-z]{2,3}$",
                          description="ISO 639 code of the texts' language, e.g. 'en'")
    labels: tuple[LabelSpec, ...] = Field(min_length=2, description="the task's labels")
    context_prompt: str = Field(
        "", description="zero-shot context prompt: domain and role (the paper's method); drafted if empty"
    )
    generation_prompt: str = Field(
        "",
        description="data-generation prompt template; placeholders {label}, "
        "{label_description}, {max_words} and optionally {style}; drafted if empty",
    )
    style: str = Field(
        default="", description="optional style words for {style} in generation_prompt, e.g. 'casual'"
    )
    subjectivity: int | None = Field(None, ge=1, le=5, description="task subjectivity in stars, 1..5")
    subjectivity_source: str = Field("", description="where the rating comes from")
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
    drafted: tuple[str, ...] = Field(
        default=(), description="fields synthclf drafted (context_prompt, generation_prompt): review their wording"
    )

    @model_validator(mode="before")
    @classmethod
    def _draft(cls, data: Any) -> Any:
        """Fill a missing title and draft missing prompts (recorded in ``drafted``)."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        drafted = list(data.get("drafted") or ())
        text_type = str(data.get("text_type") or "text")
        if not data.get("title") and data.get("name"):
            data["title"] = str(data["name"]).replace("_", " ")
        if not data.get("context_prompt"):
            data["context_prompt"] = draft_context_prompt(str(data.get("domain") or ""), text_type)
            drafted.append("context_prompt")
        if not data.get("generation_prompt"):
            data["generation_prompt"] = draft_generation_prompt(text_type)
            drafted.append("generation_prompt")
        data["drafted"] = tuple(dict.fromkeys(drafted))
        return data

    @field_validator("labels")
    @classmethod
    def _unique_labels(cls, labels: tuple[LabelSpec, ...]) -> tuple[LabelSpec, ...]:
        names = [label.name for label in labels]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"duplicate label names: {', '.join(duplicates)}")
        owners: dict[str, str] = {}
        for label in labels:
            for value in {label.name, *label.values}:
                if owners.setdefault(value, label.name) != label.name:
                    raise ValueError(f"value '{value}' is listed for labels '{owners[value]}' and '{label.name}'")
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

    def label_for_value(self, value: Any) -> str | None:
        """The label name a raw data value means, or None (not a label of this task).

        A value matches a label by its name, one of its ``values``, or its :func:`label_key`.
        """
        text = str(value).strip()
        for label in self.labels:
            if text == label.name or text in label.values:
                return label.name
        key = label_key(text)
        for label in self.labels:
            if key == label.name or key in {label_key(v) for v in label.values}:
                return label.name
        return None

    def to_yaml(self) -> str:
        """The spec as a task file (YAML), defaults left out; :func:`parse_task_yaml` reads it back."""
        document = self.model_dump(mode="json", exclude_defaults=True)
        document["labels"] = [{k: v for k, v in label.items() if v not in ((), [])}
                              for label in document["labels"]]
        return yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)


def yaml_lines(text: str) -> dict[tuple, int]:
    """1-based line of every mapping key and sequence item of a YAML document, by path.

    E.g. ``{("labels", 0, "description"): 7}``. Used to say where a validation error is.
    """
    lines: dict[tuple, int] = {}

    def walk(node: yaml.Node, path: tuple) -> None:
        """Record the 1-based line of every key and list item under ``node`` at ``path``."""
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                child = (*path, key.value)
                lines[child] = key.start_mark.line + 1
                walk(value, child)
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                lines[(*path, index)] = item.start_mark.line + 1
                walk(item, (*path, index))

    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return lines
    if root is not None:
        walk(root, ())
    return lines


def describe_errors(exc: ValidationError, source: str, lines: dict[tuple, int],
                    prefix: tuple = ()) -> str:
    """One line per validation error: ``<source>: line N: <field>: <problem>``.

    Args:
        exc: pydantic's error.
        source: the file name, for the message.
        lines: :func:`yaml_lines` of the file.
        prefix: path of the validated object inside the document (e.g. ``("tasks", "imdb")``).
    """
    problems = []
    errors = exc.errors()
    locs = [tuple(e["loc"]) for e in errors]
    for error in errors:
        loc = tuple(error["loc"])
        if any(other[:len(loc)] == loc and other != loc for other in locs):
            continue  # "labels: too few items" after each label failed: the label errors say it
        path = (*prefix, *loc)
        line = next((lines[path[:n]] for n in range(len(path), 0, -1) if path[:n] in lines), None)
        where = f"line {line}: " if line else ""
        field = ".".join(map(str, loc)) or "task"
        problems.append(f"{source}: {where}{field}: {error['msg'].removeprefix('Value error, ')}")
    return "; ".join(problems)


def parse_task_yaml(text: str, source: str = "task file") -> TaskSpec:
    """Validate a task file into a :class:`TaskSpec`.

    Args:
        text: the YAML document (a mapping with ``name``, ``labels`` and optional fields).
        source: the file's name, used in error messages.

    Returns:
        The spec, with drafted prompts filled in.

    Raises:
        InvalidInput: over :data:`MAX_TASK_FILE_BYTES`, not YAML, YAML aliases (which can
            expand a small file into a huge one), not a mapping, or a field fails validation —
            each problem named with its field and line.
    """
    if len(text.encode("utf-8")) > MAX_TASK_FILE_BYTES:
        raise InvalidInput(f"{source}: task file is over {MAX_TASK_FILE_BYTES} bytes")
    try:
        if any(isinstance(event, yaml.AliasEvent) for event in yaml.parse(text, Loader=yaml.SafeLoader)):
            raise InvalidInput(f"{source}: YAML aliases (*name) are not allowed in a task file")
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark else ""
        raise InvalidInput(f"{source}: {where}not valid YAML: {getattr(exc, 'problem', exc)}") from exc
    if not isinstance(document, dict):
        raise InvalidInput(f"{source}: a task file is a mapping with 'name' and 'labels' "
                           f"(got {type(document).__name__})")
    try:
        return TaskSpec.model_validate(document)
    except ValidationError as exc:
        raise InvalidInput(f"invalid task: {describe_errors(exc, source, yaml_lines(text))}") from exc
