"""Tokens, cost and budget of a generation job, and the per-model price table.

Tokens come from each response's ``usage`` field (``prompt_tokens``, ``completion_tokens``);
where a server reports none, both are estimated as characters / 4 (OpenAI's rule of thumb for
English) and counted in ``usage_estimated``, so that a token budget still binds. Cost is
``prompt_tokens × prompt price + completion_tokens × completion price`` with prices in USD per
1M tokens from ``prices.yaml`` (source and date noted there), a file named by
``$SYNTHCLF_LLM_PRICES``, or the job's own price fields.

Budget (``max_tokens_total``, ``max_cost_usd``): before a request is sent, the tokens and cost
already spent, plus an estimate for every request still in flight, plus an estimate for the
new one must stay within the cap; otherwise no further request is sent, the ones in flight
finish, and the job publishes what it has with ``stopped_reason`` naming the cap. The estimate
of a request is the mean usage of the responses so far; until the first response, requests go
out one at a time. So the job ends within one request of the cap, at any concurrency.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import yaml

from synthclf.core.config import get_settings
from synthclf.core.errors import InvalidInput
from synthclf.generation.llm import LLMOutput

DEFAULT_PRICES_PATH = Path(__file__).with_name("prices.yaml")
PRICES_ENV_VAR = "SYNTHCLF_LLM_PRICES"
"""Environment variable naming a YAML file whose ``models`` entries replace the packaged ones."""
CHARS_PER_TOKEN = 4.0
"""Characters per token when a server reports no usage (estimate)."""


@dataclass(frozen=True)
class Price:
    """Price of one model.

    Attributes:
        prompt_per_mtok: USD per 1M prompt (input) tokens.
        completion_per_mtok: USD per 1M completion (output) tokens.
        source: where the numbers come from (price table entry or job override).
    """

    prompt_per_mtok: float
    completion_per_mtok: float
    source: str = ""

    def cost(self, prompt_tokens: float, completion_tokens: float) -> float:
        """USD for the given token counts."""
        return (prompt_tokens * self.prompt_per_mtok + completion_tokens * self.completion_per_mtok) / 1e6


class PriceTable:
    """Model id → :class:`Price`, read from YAML (``source``, ``as_of``, ``models``).

    Args:
        entries: model id (lower case) → price.
        source: the table's documented source and date.
    """

    def __init__(self, entries: dict[str, Price], source: str = ""):
        self.entries = entries
        self.source = source

    @classmethod
    def load(cls, override: Path | None = None) -> PriceTable:
        """The packaged table merged with ``override`` or the file named by ``$SYNTHCLF_LLM_PRICES``.

        Raises:
            InvalidInput: a file is missing, not YAML, or has a malformed entry.
        """
        path = override or get_settings().llm_prices
        entries, source = _read(DEFAULT_PRICES_PATH)
        if path is not None:
            extra, extra_source = _read(path)
            entries.update(extra)
            source = f"{source}; overridden by {path} ({extra_source})"
        return cls(entries, source)

    def lookup(self, model: str) -> Price | None:
        """Price of ``model``: exact id, else the longest entry that is a ``-``-prefix of it; or None."""
        name = model.lower().rstrip("/").rsplit("/", 1)[-1]
        if name in self.entries:
            return self.entries[name]
        prefixes = [key for key in self.entries if name.startswith(f"{key}-")]
        return self.entries[max(prefixes, key=len)] if prefixes else None


def _read(path: Path) -> tuple[dict[str, Price], str]:
    try:
        document = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise InvalidInput(f"price table {path} cannot be read: {exc}") from exc
    models = document.get("models") if isinstance(document, dict) else None
    if not isinstance(models, dict):
        raise InvalidInput(f"price table {path} needs a 'models' mapping of model -> {{prompt, completion}}")
    source = f"{document.get('source', path)} as of {document.get('as_of', 'unknown')}"
    entries = {}
    for model, fields in models.items():
        try:
            entries[str(model).lower()] = Price(float(fields["prompt"]), float(fields["completion"]), source)
        except (TypeError, KeyError, ValueError) as exc:
            raise InvalidInput(f"price table {path}: entry {model!r} needs numeric prompt and completion") from exc
    return entries, source


def resolve_price(model: str, table: PriceTable, prompt: float | None, completion: float | None) -> Price | None:
    """The job's price: its own fields where set, else the table's entry for ``model``.

    Args:
        model: model id.
        table: the price table.
        prompt: job override, USD per 1M prompt tokens, or None.
        completion: job override, USD per 1M completion tokens, or None.

    Returns:
        The price, or None when the model is not in the table and the job sets no price.
    """
    listed = table.lookup(model)
    if prompt is None and completion is None:
        return listed
    if listed is None and (prompt is None or completion is None):
        return Price(prompt or 0.0, completion or 0.0, "job override (missing side priced at 0)")
    base = listed or Price(0.0, 0.0)
    return Price(
        base.prompt_per_mtok if prompt is None else prompt,
        base.completion_per_mtok if completion is None else completion,
        "job override",
    )


@dataclass
class Ledger:
    """Running usage of one job and its budget check (used from one thread).

    Attributes:
        price: the job's price; None when unknown (cost stays 0 and a money cap is refused).
        max_tokens_total: token cap; 0 = none.
        max_cost_usd: money cap; 0 = none.
    """

    price: Price | None
    max_tokens_total: int = 0
    max_cost_usd: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    responses: int = 0
    usage_estimated: int = 0

    def __post_init__(self) -> None:
        if self.max_cost_usd > 0 and self.price is None:
            raise InvalidInput(
                "max_cost_usd is set but the model has no price: add it to the price table "
                f"({PRICES_ENV_VAR}) or set price_prompt_per_mtok / price_completion_per_mtok"
            )

    @property
    def capped(self) -> bool:
        """Whether any budget cap is set."""
        return self.max_tokens_total > 0 or self.max_cost_usd > 0

    @property
    def tokens(self) -> int:
        """Prompt + completion tokens so far."""
        return self.prompt_tokens + self.completion_tokens

    def add(self, output: LLMOutput, prompt_chars: int) -> None:
        """Book one successful response (estimating its usage from characters if unreported)."""
        prompt_tokens, completion_tokens = output.prompt_tokens, output.completion_tokens
        if not output.usage_reported:
            prompt_tokens = math.ceil(prompt_chars / CHARS_PER_TOKEN)
            completion_tokens = math.ceil(len(output.text) / CHARS_PER_TOKEN)
            self.usage_estimated += 1
        self.prompt_tokens += prompt_tokens
        self.completion_tokens += completion_tokens
        self.cost_usd += self.price.cost(prompt_tokens, completion_tokens) if self.price else 0.0
        self.responses += 1

    def estimate(self) -> tuple[float, float] | None:
        """Expected (tokens, USD) of the next request: the mean so far; None before any response."""
        if not self.responses:
            return None
        return self.tokens / self.responses, self.cost_usd / self.responses

    def stop_reason(self, in_flight: int) -> str | None:
        """Whether one more request may be sent with ``in_flight`` requests outstanding.

        Returns:
            None when it may; ``max_tokens_total`` or ``max_cost_usd`` when sending it could
            pass that cap; ``wait`` when no response has been seen yet and one is in flight.
        """
        if not self.capped:
            return None
        expected = self.estimate()
        if expected is None:
            return "wait" if in_flight else None
        tokens, cost = expected
        if self.max_tokens_total and self.tokens + tokens * (in_flight + 1) > self.max_tokens_total:
            return "max_tokens_total"
        if self.max_cost_usd and self.cost_usd + cost * (in_flight + 1) > self.max_cost_usd:
            return "max_cost_usd"
        return None
