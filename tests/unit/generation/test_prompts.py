"""Prompt rendering: chat and completion layouts of Li et al. (2023) prompts."""

from __future__ import annotations

import pytest
from generation_fakes import Task

from synthclf.core.errors import InvalidInput
from synthclf.generation.prompts import (
    COMPLETION_DIVERSITY_HINT,
    DIVERSITY_PROMPT,
    HISTORY_LIMIT,
    IMITATION_INSTRUCTION,
    PromptStyle,
    PromptTemplate,
    default_style,
)


@pytest.fixture
def template() -> PromptTemplate:
    return PromptTemplate.for_label(Task(), "spam", max_words=40)


def test_for_label_fills_placeholders(template: PromptTemplate) -> None:
    assert template.generation_prompt.startswith("Write a spam SMS message (unsolicited advertising")
    assert "within 40 words" in template.generation_prompt
    assert "{" not in template.generation_prompt


def test_for_label_rejects_unknown_label_and_placeholder() -> None:
    with pytest.raises(InvalidInput, match="no label 'eggs'"):
        PromptTemplate.for_label(Task(), "eggs", max_words=40)
    with pytest.raises(InvalidInput, match="unknown placeholders"):
        PromptTemplate.for_label(Task(generation_prompt="Write {label} in {tone}"), "ham", max_words=40)
    with pytest.raises(InvalidInput, match="max_words"):
        PromptTemplate.for_label(Task(), "ham", max_words=0)


def test_style_placeholder_is_filled_from_task() -> None:
    task = Task(generation_prompt="Write a {style} {label} text.")
    task.style = "colloquial"  # type: ignore[attr-defined]
    assert PromptTemplate.for_label(task, "ham", max_words=10).generation_prompt == "Write a colloquial ham text."


def test_chat_zero_shot_has_system_and_user(template: PromptTemplate) -> None:
    messages = template.render_chat([], diversify=False, history=["an earlier text"])
    assert [m["role"] for m in messages] == ["system", "user"]
    assert messages[0]["content"] == Task().context_prompt
    assert messages[1]["content"] == template.generation_prompt
    assert IMITATION_INSTRUCTION not in messages[1]["content"]


def test_chat_few_shot_lists_examples_and_imitation_instruction(template: PromptTemplate) -> None:
    messages = template.render_chat(["WIN a prize\nnow", "Free ringtones"], diversify=False, history=[])
    user = messages[-1]["content"]
    assert "1. WIN a prize now" in user and "2. Free ringtones" in user
    assert user.endswith(IMITATION_INSTRUCTION)
    assert user.index("Free ringtones") < user.index(template.generation_prompt)


def test_chat_diversify_replays_bounded_history(template: PromptTemplate) -> None:
    history = [f"text {i}" for i in range(HISTORY_LIMIT + 3)]
    messages = template.render_chat([], diversify=True, history=history)
    assistant = [m["content"] for m in messages if m["role"] == "assistant"]
    assert assistant == history[-HISTORY_LIMIT:]
    assert messages[-1]["role"] == "user" and messages[-1]["content"].endswith(DIVERSITY_PROMPT)
    roles = [m["role"] for m in messages[1:]]
    assert all(a != b for a, b in zip(roles, roles[1:]))


def test_completion_zero_shot_first_request_is_header_only(template: PromptTemplate) -> None:
    prompt = template.render_completion([], diversify=False, history=[])
    lines = prompt.split("\n")
    assert prompt.endswith("\n-")
    assert lines[0] == Task().context_prompt
    assert '"spam"' in lines[1] and "unsolicited advertising" in lines[1] and "40 words" in lines[1]
    assert lines[2] == "-"


def test_completion_zero_shot_lists_recent_history(template: PromptTemplate) -> None:
    history = [f"text {i}" for i in range(HISTORY_LIMIT + 2)]
    prompt = template.render_completion([], diversify=False, history=history)
    items = [line for line in prompt.split("\n") if line.startswith("- ")]
    assert items == [f"- {text}" for text in history[-HISTORY_LIMIT:]]
    assert prompt.endswith("\n-")


def test_completion_few_shot_lists_examples_not_history(template: PromptTemplate) -> None:
    prompt = template.render_completion(["WIN a prize\nnow"], diversify=False, history=["older output"])
    assert "- WIN a prize now\n-" in prompt
    assert "older output" not in prompt


def test_completion_diversify_adds_hint(template: PromptTemplate) -> None:
    assert COMPLETION_DIVERSITY_HINT not in template.render_completion([], diversify=False, history=[])
    assert f"{COMPLETION_DIVERSITY_HINT}:" in template.render_completion([], diversify=True, history=[])


@pytest.mark.parametrize(
    ("name", "style"),
    [
        ("gemma-3-270m-q4_k_m.gguf", PromptStyle.COMPLETION),
        ("/models/gguf/gemma-3-270m-q4_k_m.gguf", PromptStyle.COMPLETION),
        ("gemma3-270m", PromptStyle.COMPLETION),
        ("gemma-3-270m-it", PromptStyle.CHAT),
        ("gpt2-large", PromptStyle.COMPLETION),
        ("Llama-2-7b-base", PromptStyle.COMPLETION),
        ("gpt-3.5-turbo", PromptStyle.CHAT),
        ("gpt-4o", PromptStyle.CHAT),
        ("meta-llama/Llama-3.1-8B-Instruct", PromptStyle.CHAT),
    ],
)
def test_default_style(name: str, style: PromptStyle) -> None:
    assert default_style(name) is style
