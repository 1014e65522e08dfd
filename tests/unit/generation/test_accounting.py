"""Price table lookup and overrides; the ledger's token/cost accounting and budget checks."""

from __future__ import annotations

import pytest

from synthclf.core.errors import InvalidInput
from synthclf.generation.accounting import PRICES_ENV_VAR, Ledger, Price, PriceTable, resolve_price
from synthclf.generation.llm import LLMOutput


def test_packaged_table_has_documented_source_and_prefix_lookup() -> None:
    table = PriceTable.load()
    assert "openai.com" in table.source
    assert table.lookup("gpt-4o") == table.lookup("gpt-4o-2024-08-06")
    assert table.lookup("gpt-4o-mini-2024-07-18").prompt_per_mtok < table.lookup("gpt-4o").prompt_per_mtok
    assert table.lookup("GPT-3.5-Turbo-0125") == table.lookup("gpt-3.5-turbo")
    assert table.lookup("gemma-3-270m").cost(1_000_000, 1_000_000) == 0.0
    assert table.lookup("/models/gemma-3-270m") is not None
    assert table.lookup("gpt-4oo") is None and table.lookup("mystery-model") is None


def test_price_cost_is_per_million_tokens() -> None:
    assert Price(2.5, 10.0).cost(1_000, 500) == pytest.approx(0.0025 + 0.005)


def test_override_file_from_the_environment(tmp_path, monkeypatch) -> None:
    path = tmp_path / "prices.yaml"
    path.write_text("source: our contract\nas_of: 2026-11\nmodels:\n  gpt-4o: {prompt: 1.0, completion: 2.0}\n"
                    "  my-model: {prompt: 0.5, completion: 0.5}\n")  # fmt: skip
    monkeypatch.setenv(PRICES_ENV_VAR, str(path))
    table = PriceTable.load()
    assert table.lookup("gpt-4o") == Price(1.0, 2.0, "our contract as of 2026-11")
    assert table.lookup("my-model").completion_per_mtok == 0.5 and table.lookup("gpt-4o-mini") is not None
    path.write_text("models:\n  bad: {prompt: x}\n")
    with pytest.raises(InvalidInput, match="bad"):
        PriceTable.load()


def test_resolve_price_prefers_job_fields() -> None:
    table = PriceTable.load()
    assert resolve_price("gpt-4o", table, None, None) == table.lookup("gpt-4o")
    mixed = resolve_price("gpt-4o", table, 1.0, None)
    assert (mixed.prompt_per_mtok, mixed.completion_per_mtok) == (1.0, table.lookup("gpt-4o").completion_per_mtok)
    assert resolve_price("mystery", table, None, None) is None
    assert resolve_price("mystery", table, 3.0, None).prompt_per_mtok == 3.0


def test_ledger_books_usage_and_estimates_missing_usage() -> None:
    ledger = Ledger(Price(1_000.0, 2_000.0))
    ledger.add(LLMOutput("x" * 40, prompt_tokens=100, completion_tokens=10), prompt_chars=400)
    ledger.add(LLMOutput("y" * 40, usage_reported=False), prompt_chars=400)
    assert (ledger.prompt_tokens, ledger.completion_tokens, ledger.usage_estimated) == (200, 20, 1)
    assert ledger.cost_usd == pytest.approx(0.2 + 0.04)
    assert ledger.estimate() == (pytest.approx(110.0), pytest.approx(0.12))


def test_budget_checks_count_requests_in_flight() -> None:
    ledger = Ledger(None, max_tokens_total=100)
    assert ledger.stop_reason(in_flight=0) is None
    assert ledger.stop_reason(in_flight=1) == "wait"  # no usage seen yet: one request at a time
    ledger.add(LLMOutput("x", prompt_tokens=10, completion_tokens=5), prompt_chars=40)
    assert ledger.stop_reason(in_flight=4) is None  # 15 + 5 × 15 = 90 ≤ 100
    assert ledger.stop_reason(in_flight=5) == "max_tokens_total"  # 15 + 6 × 15 = 105 > 100
    assert Ledger(None).stop_reason(in_flight=100) is None
    with pytest.raises(InvalidInput, match="no price"):
        Ledger(None, max_cost_usd=1.0)
    money = Ledger(Price(1_000.0, 0.0), max_cost_usd=0.05)
    money.add(LLMOutput("x", prompt_tokens=20), prompt_chars=80)  # 0.02 USD
    assert money.stop_reason(in_flight=0) is None and money.stop_reason(in_flight=1) == "max_cost_usd"
