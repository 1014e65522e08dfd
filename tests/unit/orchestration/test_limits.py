"""Prefect global concurrency limits around jobs (a temporary Prefect server)."""

from __future__ import annotations

import time

from prefect import flow, task
from prefect.client.orchestration import get_client

from orchestration.config import ConcurrencyLimits
from orchestration.limits import LIMIT_NAMES, set_limits, slot


@task
def hold_training_slot(seconds: float) -> tuple[float, float]:
    with slot("training"):
        start = time.monotonic()
        time.sleep(seconds)
        return start, time.monotonic()


@flow
def two_jobs_side_by_side() -> list[tuple[float, float]]:
    futures = [hold_training_slot.submit(1.0) for _ in range(2)]
    return [f.result() for f in futures]


def _slots(name: str) -> int:
    with get_client(sync_client=True) as client:
        return client.read_global_concurrency_limit_by_name(name).limit


def test_missing_limit_is_created_and_serialises_jobs(prefect_api):
    (a_start, a_end), (b_start, b_end) = sorted(two_jobs_side_by_side())
    assert b_start >= a_end  # the second job waited for the first one's slot
    assert _slots(LIMIT_NAMES["training"]) == ConcurrencyLimits().training == 1
    assert _slots(LIMIT_NAMES["heavy"]) == ConcurrencyLimits().heavy == 1


@task
def hold_generation_slot(seconds: float) -> tuple[float, float]:
    with slot("generation"):
        start = time.monotonic()
        time.sleep(seconds)
        return start, time.monotonic()


@flow
def generation_beside_training() -> list[tuple[float, float]]:
    futures = [hold_training_slot.submit(1.0), hold_generation_slot.submit(1.0)]
    return [f.result() for f in futures]


def test_generation_and_training_share_the_heavy_limit(prefect_api):
    (a_start, a_end), (b_start, b_end) = sorted(generation_beside_training())
    assert b_start >= a_end


def test_set_limits_updates_every_limit(prefect_api):
    set_limits(ConcurrencyLimits(generation=1, training=2, analysis=3, heavy=2))
    assert [_slots(LIMIT_NAMES[k]) for k in ("generation", "training", "analysis", "heavy")] == [1, 2, 3, 2]
    (a_start, a_end), (b_start, b_end) = sorted(two_jobs_side_by_side())
    assert b_start < a_end  # two slots: side by side
    set_limits(ConcurrencyLimits())
