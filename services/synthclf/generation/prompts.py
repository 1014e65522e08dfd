"""Prompts of Li et al. (EMNLP 2023, §3.1 and appendix) in two renderings: chat and completion.

The paper builds every request from

* a **context prompt** that sets the domain and a role ("Now you are a journalist writing news
  articles…"), sent as the system message;
* a **data-generation prompt** per label that names the label, the style and the word limit;
* zero-shot: after some requests, the **diversity prompt** "Can you provide something more
  diverse compared to the previously generated data?" in the same conversation;
* few-shot: k real examples of the label drawn at random per request, followed by the
  instruction "You should imitate the examples I have provided, but you cannot simply modify or
  rewrite the examples I have given."

The task texts (context and data-generation prompts, label descriptions) come from the task
catalog; this module only holds the paper's task-independent wording and the two layouts.
Instruction-tuned models (GPT-3.5, GPT-4o) get :meth:`PromptTemplate.render_chat`. Base models
such as Gemma-3-270M cannot follow instructions, so :meth:`PromptTemplate.render_completion`
turns the same ingredients into a bulleted list for the model to continue by one item.
"""

from __future__ import annotations

import re
import string
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Protocol

from synthclf.core.errors import InvalidInput

DIVERSITY_PROMPT = "Can you provide something more diverse compared to the previously generated data?"
"""The paper's diversity prompt (Li et al. 2023, §3.1), sent every n requests in zero-shot mode."""

IMITATION_INSTRUCTION = (
    "You should imitate the examples I have provided, but you cannot simply modify or rewrite "
    "the examples I have given."
)
"""The paper's few-shot instruction (Li et al. 2023, §3.1 and appendix prompts)."""

COMPLETION_DIVERSITY_HINT = "(each very different from the ones above)"
"""Diversity cue for base models, appended to the list header of a completion prompt."""

HISTORY_LIMIT = 5
"""Previous outputs shown to the model: prior assistant turns (chat) or list items (completion)."""

TEMPLATE_FIELDS = frozenset({"label", "label_description", "max_words", "style"})
"""Placeholders a task's ``generation_prompt`` may use."""


class PromptStyle(str, Enum):
    """How a request is laid out for the LLM."""

    CHAT = "chat"
    """System + user messages for instruction-tuned models (``/v1/chat/completions``)."""
    COMPLETION = "completion"
    """A list to continue by one item for base models (``/v1/completions``)."""


_BASE_MARKERS = ("gpt2", "base")
_INSTRUCT_TOKENS = frozenset({"it", "instruct", "chat"})


def default_style(model_name: str) -> PromptStyle:
    """Pick the rendering from a model name (heuristic; pass a style explicitly to override).

    Completion for base models: Gemma-3-270M without an instruction suffix (``-it``,
    ``instruct``, ``chat``), GPT-2 family, and any name containing ``base``. Chat otherwise
    (GPT-3.5/4o, Llama-…-Instruct, gemma-3-270m-it).

    Args:
        model_name: the model id the OpenAI-compatible server reports, or a GGUF file path.

    Returns:
        :attr:`PromptStyle.COMPLETION` for known base models, :attr:`PromptStyle.CHAT` otherwise.
    """
    name = model_name.lower().rsplit("/", 1)[-1]
    tokens = set(re.split(r"[-_.\s:]+", name))
    if tokens & _INSTRUCT_TOKENS:
        return PromptStyle.CHAT
    squashed = re.sub(r"[-_.\s]", "", name)
    if "gemma3270m" in squashed or any(marker in name for marker in _BASE_MARKERS):
        return PromptStyle.COMPLETION
    return PromptStyle.CHAT


class LabelLike(Protocol):
    """What prompts need of a catalog label (``synthclf.core.catalog.LabelSpec``); read-only."""

    @property
    def name(self) -> str:
        """The label's snake_case name."""
        ...

    @property
    def description(self) -> str:
        """What texts of this label are like."""
        ...


class TaskLike(Protocol):
    """What prompts need of a catalog task (``synthclf.core.task_spec.TaskSpec``); read-only."""

    @property
    def name(self) -> str:
        """The task's snake_case key."""
        ...

    @property
    def context_prompt(self) -> str:
        """The zero-shot context prompt (system message)."""
        ...

    @property
    def generation_prompt(self) -> str:
        """The data-generation prompt template."""
        ...

    @property
    def labels(self) -> Sequence[LabelLike]:
        """The task's labels in catalog order."""
        ...


def one_line(text: str) -> str:
    """Collapse all whitespace (newlines included) to single spaces, for list items."""
    return " ".join(text.split())


@dataclass(frozen=True)
class PromptTemplate:
    """The prompts of one task and label, ready to render per request.

    Attributes:
        task: catalog task name (for messages only).
        label: label name, e.g. ``spam``.
        label_description: what texts of this label are like, from the catalog.
        context_prompt: the paper's context prompt (domain and role), from the catalog.
        generation_prompt: the data-generation prompt with its placeholders filled in.
        max_words: word limit per generated text.
        history_limit: previous outputs shown per request (see :data:`HISTORY_LIMIT`).
    """

    task: str
    label: str
    label_description: str
    context_prompt: str
    generation_prompt: str
    max_words: int
    history_limit: int = HISTORY_LIMIT

    @classmethod
    def for_label(cls, task: TaskLike, label: str, *, max_words: int) -> PromptTemplate:
        """Fill a task's data-generation prompt for one label.

        Args:
            task: a catalog task (any object with the :class:`TaskLike` attributes; an optional
                ``style`` attribute fills ``{style}``).
            label: one of the task's label names.
            max_words: word limit to write into the prompt; > 0.

        Returns:
            The template for ``label``.

        Raises:
            InvalidInput: unknown label, ``max_words`` < 1, or a placeholder other than
                :data:`TEMPLATE_FIELDS` in the task's ``generation_prompt``.
        """
        if max_words < 1:
            raise InvalidInput(f"max_words must be > 0, got {max_words}")
        by_name = {spec.name: spec for spec in task.labels}
        if label not in by_name:
            raise InvalidInput(f"task {task.name!r} has no label {label!r}; labels: {sorted(by_name)}")
        description = by_name[label].description
        fields = {name for _, name, _, _ in string.Formatter().parse(task.generation_prompt) if name}
        unknown = fields - TEMPLATE_FIELDS
        if unknown:
            raise InvalidInput(
                f"generation prompt of task {task.name!r} uses unknown placeholders {sorted(unknown)};"
                f" allowed: {sorted(TEMPLATE_FIELDS)}"
            )
        filled = task.generation_prompt.format(
            label=label,
            label_description=description,
            max_words=max_words,
            style=getattr(task, "style", "") or "",
        )
        return cls(
            task=task.name,
            label=label,
            label_description=description,
            context_prompt=task.context_prompt.strip(),
            generation_prompt=filled.strip(),
            max_words=max_words,
        )

    def _recent(self, history: Sequence[str]) -> list[str]:
        return list(history)[-self.history_limit :] if self.history_limit > 0 else []

    def _request_text(self, examples: Sequence[str]) -> str:
        if not examples:
            return self.generation_prompt
        listed = "\n".join(f"{i}. {one_line(text)}" for i, text in enumerate(examples, start=1))
        return (
            f"Here are some examples of {self.label} texts:\n{listed}\n\n"
            f"{self.generation_prompt}\n{IMITATION_INSTRUCTION}"
        )

    def render_chat(
        self, examples: Sequence[str], diversify: bool, history: Sequence[str]
    ) -> list[dict[str, str]]:
        """Messages for ``/v1/chat/completions`` (instruction-tuned models).

        Layout (Li et al. 2023, §3.1): system = context prompt; user = data-generation prompt,
        preceded in few-shot mode by the numbered examples and followed by the imitation
        instruction. With ``diversify``, the last :attr:`history_limit` previous outputs are
        replayed as earlier user/assistant turns and the diversity prompt is appended, so that
        "previously generated data" refers to something the model can see.

        Args:
            examples: real texts of this label to imitate (few-shot); empty for zero-shot.
            diversify: add the diversity prompt and the conversation history.
            history: previously accepted outputs for this label, oldest first.

        Returns:
            OpenAI chat messages, ``[{"role": ..., "content": ...}, ...]``; the first is the
            system message, the last a user message.
        """
        messages = [{"role": "system", "content": self.context_prompt}]
        request = self._request_text(examples)
        if diversify:
            for previous in self._recent(history):
                messages.append({"role": "user", "content": self.generation_prompt})
                messages.append({"role": "assistant", "content": previous})
            request = f"{request}\n{DIVERSITY_PROMPT}"
        messages.append({"role": "user", "content": request})
        return messages

    def render_completion(self, examples: Sequence[str], diversify: bool, history: Sequence[str]) -> str:
        """A bulleted list for ``/v1/completions`` that a base model continues by one item.

        Layout: the context prompt, a header naming the label, its description and the word
        limit, then the items — the few-shot examples, or in zero-shot mode the last
        :attr:`history_limit` accepted outputs (none on the first request) — and a final
        ``"\\n-"`` to continue. Generate with ``stop=["\\n"]``. With ``diversify`` the header
        ends with :data:`COMPLETION_DIVERSITY_HINT`. Base models cannot follow the imitation
        instruction, so copies of examples are filtered after generation instead.

        Args:
            examples: real texts of this label (few-shot); empty for zero-shot.
            diversify: add the diversity cue to the header.
            history: previously accepted outputs for this label, oldest first (zero-shot only).

        Returns:
            The prompt text, ending with ``"\\n-"``.
        """
        header = (
            f'Texts labelled "{self.label}" ({self.label_description.rstrip(".")}), '
            f"at most {self.max_words} words each"
        )
        if diversify:
            header = f"{header} {COMPLETION_DIVERSITY_HINT}"
        items = list(examples) if examples else self._recent(history)
        lines = [self.context_prompt, f"{header}:"] if self.context_prompt else [f"{header}:"]
        lines.extend(f"- {one_line(item)}" for item in items)
        return "\n".join(lines) + "\n-"
