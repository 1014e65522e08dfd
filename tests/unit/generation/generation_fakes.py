"""Task-like objects for the generation unit tests (the catalog's TaskSpec validates more)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Label:
    name: str
    description: str


@dataclass
class Task:
    name: str = "sms_spam"
    context_prompt: str = "Now you are a person who is planning to send a SMS message."
    generation_prompt: str = (
        "Write a {label} SMS message ({label_description}) within {max_words} words. "
        "Be creative and write a unique SMS message."
    )
    labels: list[Label] = field(
        default_factory=lambda: [
            Label("ham", "an ordinary personal message"),
            Label("spam", "unsolicited advertising, prizes, premium-rate numbers"),
        ]
    )
