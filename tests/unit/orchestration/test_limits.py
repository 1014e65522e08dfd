"""Prefect global concurrency limits around jobs (a temporary Prefect server)."""

from __future__ import annotations

import time

from prefect import flow, task
from prefect.client.orchestration import get_client

from orchestration.config import ConcurrencyLimits
from orchestration.limits import LIMIT_NAMES, set_limits, slot


@task
def hold_slot(kind: str, seconds: float) -> tuple[float, float]:
    """Hold a slot of ``kind`` for ``seconds``; returns (start, end) monotonic times."""
    with slot(kind):
        start = time.monotonic()
        time.sleep(seconds)
        return start, time.monotonic()


@flow
def side_by_side(kinds: list[str], seconds: float = 1.0) -> list[tuple[float, float]]:
    """Submit one job per kind at once, each holding its slot ``seconds``; their (start, end)
    times, by start."""
    futures = [hold_slot.submit(kind, seconds) for kind in kinds]
    return sorted(f.result() for f in futures)


def _slots(name: str) -> int:
    with get_client(sync_client=True) as client:
        return client.read_global_concurrency_limit_by_name(name).limit


def test_missing_limits_are_created_and_serialise_jobs(prefect_api):
    (_, first_end), (second_start, _) = side_by_side(["training", "training"])
    assert second_start >= first_end  # the second job waited for the first one's slot
    assert _slots(LIMIT_NAMES["training"]) == ConcurrencyLimits().training == 1
    assert _slots(LIMIT_NAMES["heavy"]) == ConcurrencyLimits().heavy == 1


def test_generation_and_training_share_the_heavy_limit(prefect_api):
    (_, first_end), (second_start, _) = side_by_side(["training", "generation"])
    assert second_start >= first_end


def test_set_limits_updates_every_limit(prefect_api):
    set_limits(ConcurrencyLimits(generation=1, training=2, analysis=3, heavy=2))
    assert [_slots(LIMIT_NAMES[k]) for k in ("generation", "training", "analysis", "heavy")] == [1, 2, 3, 2]
    # 3 s jobs: a task thread's start-up can lag its twin's by ~2 s on a loaded 2-vCPU machine.
    (_, first_end), (second_start, _) = side_by_side(["training", "training"], seconds=3.0)
    assert second_start < first_end  # two slots: side by side
    set_limits(ConcurrencyLimits())
