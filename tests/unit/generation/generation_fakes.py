"""Stand-ins for the generation unit tests: a Task-like object (the catalog's TaskSpec validates
more) and scripted LLMs."""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from synthclf.generation.llm import LLMOutput


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


class ScriptedLLM:
    """Answers from a script, in call order; records every call (use with concurrency 1)."""

    def __init__(self, answers: Sequence[str | Exception], usage: tuple[int, int] = (10, 5)):
        self.answers = list(answers)
        self.usage = usage
        self.calls: list[dict] = []

    def _next(self, kind: str, payload: object, **kwargs: object) -> LLMOutput:
        self.calls.append({"kind": kind, "payload": payload, **kwargs})
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return LLMOutput(text=answer, prompt_tokens=self.usage[0], completion_tokens=self.usage[1])

    def complete(self, prompt: str, **kwargs: object) -> LLMOutput:
        return self._next("complete", prompt, **kwargs)

    def chat(self, messages: list[dict[str, str]], **kwargs: object) -> LLMOutput:
        return self._next("chat", messages, **kwargs)


WORDS = ("alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar papa "
         "quebec romeo sierra tango uniform victor whiskey xray yankee zulu").split()


def unique_text(seed: int, words: int = 8) -> str:
    """A text that depends only on ``seed`` and shares few word 3-grams with other seeds' texts."""
    rng = random.Random(seed)
    return " ".join(rng.choice(WORDS) for _ in range(words)) + f" {seed}"


class SeededLLM:
    """Thread-safe stand-in whose answer depends only on the request's seed (and label for JSON).

    Args:
        delay_s: seconds each call sleeps, drawn per call from ``[0, delay_s]`` (random timing).
        json_output: answer chat requests with ``{"text", "label"}`` naming the requested label.
        fail_seeds: seeds whose calls raise ``error`` instead.
        error: the exception raised for ``fail_seeds``.
    """

    def __init__(self, delay_s: float = 0.0, json_output: bool = False, fail_seeds: Iterable[int] = (),
                 error: Exception | None = None, usage: tuple[int, int] = (10, 5)):
        self.delay_s = delay_s
        self.json_output = json_output
        self.fail_seeds = set(fail_seeds)
        self.error = error
        self.usage = usage
        self.calls: list[dict] = []
        self._lock = threading.Lock()

    def _answer(self, kind: str, payload: object, seed: int, **kwargs: object) -> LLMOutput:
        with self._lock:
            self.calls.append({"kind": kind, "payload": payload, "seed": seed, **kwargs})
        if self.delay_s:
            time.sleep(random.uniform(0, self.delay_s))
        if seed in self.fail_seeds:
            raise self.error or RuntimeError("no error configured")
        text = unique_text(seed)
        if self.json_output and kind == "chat":
            label = "spam" if "spam" in str(payload[-1]["content"]).split("\n")[0] else "ham"
            text = json.dumps({"text": text, "label": label})
        return LLMOutput(text=text, prompt_tokens=self.usage[0], completion_tokens=self.usage[1])

    def complete(self, prompt: str, *, seed: int, **kwargs: object) -> LLMOutput:
        return self._answer("complete", prompt, seed, **kwargs)

    def chat(self, messages: list[dict[str, str]], *, seed: int, **kwargs: object) -> LLMOutput:
        return self._answer("chat", messages, seed, **kwargs)
