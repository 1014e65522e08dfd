"""Prefect global concurrency limits that keep heavy jobs from starving the machine.

One limit per kind of work, held around the RPC inside a task (so a cached step takes no
slot): ``synthclf-generation`` (LLM generation jobs), ``synthclf-training`` (fine-tuning and
ONNX export) and ``synthclf-analysis`` (evaluation, analyses and reports; an evaluation
through the all-in-one server also holds a Predict stream, so unbounded evaluations could
exhaust the server's thread pool). Generation and training also share ``synthclf-heavy``:
with the default single slot they never overlap, because on a 2-vCPU machine a fine-tune
beside the local llama.cpp server ran at 0.8-5 texts/s instead of 30-50 (both oversubscribe
the CPUs), and generation slowed about threefold.

Prefect 3.8 only enforces a global limit that exists: ``concurrency(name)`` on a missing
limit logs a warning and runs unlimited, and the server's ``create_if_missing`` is deprecated
("Limits must be explicitly created before acquiring concurrency slots"). So
:func:`slot` creates missing limits with their default slots before acquiring them with
``strict=True``, and :func:`set_limits` sets the slots a run asks for. Limits live in the
Prefect server's database: with the ephemeral API of ``synthclf experiment`` they apply to
that process; with a Prefect server they are shared by every worker and flow run, and can be
changed with ``prefect global-concurrency-limit update synthclf-heavy --limit 2``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

import httpx
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
from prefect.concurrency.sync import concurrency
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

from orchestration.config import ConcurrencyLimits

log = logging.getLogger("synthclf.orchestration")
Kind = Literal["generation", "training", "analysis"]
#: Global concurrency limit of each field of ConcurrencyLimits.
LIMIT_NAMES: dict[str, str] = {field: f"synthclf-{field}" for field in ConcurrencyLimits.model_fields}
#: The limits a job of each kind holds a slot of.
HELD: dict[str, list[str]] = {"generation": ["generation", "heavy"], "training": ["training", "heavy"],
                              "analysis": ["analysis"]}
#: A job holds its slot for at most this long between lease renewals (seconds); Prefect renews
#: the lease from a thread, so jobs may run for hours.
LEASE_S = 300.0


def ensure_limit(field: str) -> None:
    """Create the limit of a :class:`ConcurrencyLimits` field with its default slots if the
    Prefect server lacks it."""
    name = LIMIT_NAMES[field]
    with get_client(sync_client=True) as client:
        try:
            client.read_global_concurrency_limit_by_name(name)
            return
        except ObjectNotFound:
            pass
        slots = ConcurrencyLimits.model_fields[field].default
        try:
            client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=name, limit=slots))
            log.info("created Prefect concurrency limit %s with %d slot(s)", name, slots)
        except (ObjectAlreadyExists, httpx.HTTPStatusError):
            # Created concurrently: Prefect 3.8's server answers that race with 409, or with 500
            # (an unhandled UNIQUE violation on SQLite). Fine if the limit exists now.
            client.read_global_concurrency_limit_by_name(name)


def prepare_limits(limits: ConcurrencyLimits | None = None) -> None:
    """Before submitting jobs: set every limit to ``limits``, or (None) create the missing ones
    with their defaults — once, so parallel tasks do not race to create them."""
    if limits is not None:
        set_limits(limits)
        return
    for field in ConcurrencyLimits.model_fields:
        ensure_limit(field)


def set_limits(limits: ConcurrencyLimits) -> None:
    """Create or update every limit to the slots in ``limits``."""
    with get_client(sync_client=True) as client:
        for kind, slots in limits.model_dump().items():
            client.upsert_global_concurrency_limit_by_name(LIMIT_NAMES[kind], slots)
    log.info("Prefect concurrency limits set: %s", limits.model_dump())


@contextmanager
def slot(kind: Kind) -> Iterator[None]:
    """Hold one slot of each limit a ``kind`` job needs (waiting for them as long as it takes).

    A failed lease renewal (a Prefect API hiccup) is logged, not fatal: killing an hour-long
    training job over it would cost more than briefly exceeding the limit.
    """
    for field in HELD[kind]:
        ensure_limit(field)
    with concurrency([LIMIT_NAMES[field] for field in HELD[kind]], occupy=1, strict=True,
                     lease_duration=LEASE_S, raise_on_lease_renewal_failure=False):
        yield
