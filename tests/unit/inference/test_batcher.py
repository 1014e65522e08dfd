"""Tests of synthclf.inference.batcher.DynamicBatcher with a recording fake model."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from synthclf.core.errors import DeadlineExceeded, InvalidInput, NotReady, ResourceExhausted
from synthclf.core.onnx_runtime import plan_runs
from synthclf.inference.batcher import DynamicBatcher


def run_callers(batcher: DynamicBatcher, caller, callers: int, join_s: float = 10) -> None:
    """Run ``caller(i)`` for i in range(callers) in threads, wait ``join_s`` for each, close the batcher."""
    try:
        threads = [threading.Thread(target=caller, args=(i,)) for i in range(callers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(join_s)
    finally:
        batcher.close()


def row(text_id: int, tokens: int = 4) -> np.ndarray:
    """An 'encoded text': int [1 input, tokens] filled with its id."""
    return np.full((1, tokens), text_id, dtype=np.int64)


class FakeModel:
    """Records each run's rows; returns [id, tokens] per row. Can be held at a gate."""

    def __init__(self, gated: bool = False, seconds: float = 0.0):
        self.runs: list[list[tuple[int, int]]] = []
        self.threads: list[str] = []
        self.gate = threading.Event()
        self.entered = threading.Event()
        self.seconds = seconds
        if not gated:
            self.gate.set()

    def run(self, rows: list[np.ndarray]) -> np.ndarray:
        """Wait at the gate, then echo (id, tokens) of each row as float32."""
        self.entered.set()
        assert self.gate.wait(10), "test gate never opened"
        time.sleep(self.seconds)
        self.runs.append([(int(r[0, 0]), r.shape[1]) for r in rows])
        self.threads.append(threading.current_thread().name)
        return np.array([[r[0, 0], r.shape[1]] for r in rows], dtype=np.float32)


@pytest.fixture
def gated():
    model = FakeModel(gated=True)
    batcher = DynamicBatcher(model.run, max_batch_size=8, max_queue_delay_s=0.0, max_queue_size=10)
    yield model, batcher
    model.gate.set()
    batcher.close()


def test_requests_queued_while_busy_run_as_one_batch_in_order(gated):
    model, batcher = gated
    first = batcher.submit([row(0)])
    assert model.entered.wait(5)
    futures = [batcher.submit([row(10 * i + j) for j in range(2)]) for i in range(1, 4)]
    model.gate.set()
    assert first.result(5)[0, 0] == 0
    for i, future in enumerate(futures, start=1):
        np.testing.assert_array_equal(future.result(5)[:, 0], [10 * i, 10 * i + 1])
    assert [len(r) for r in model.runs] == [1, 6]
    assert [text for text, _ in model.runs[1]] == [10, 11, 20, 21, 30, 31]


def test_a_batch_never_exceeds_max_batch_size(gated):
    model, batcher = gated
    batcher.submit([row(0)])
    assert model.entered.wait(5)
    futures = [batcher.submit([row(i), row(i)]) for i in range(1, 6)]  # 10 texts queued
    model.gate.set()
    for future in futures:
        future.result(5)
    assert [len(r) for r in model.runs] == [1, 8, 2]


def test_full_queue_is_resource_exhausted_naming_the_setting(gated):
    model, batcher = gated
    batcher.submit([row(0)])
    assert model.entered.wait(5)
    batcher.submit([row(i) for i in range(1, 9)])
    with pytest.raises(ResourceExhausted, match="8 texts waiting, 3 more asked, limit 10.*"
                                                "SYNTHCLF_INFERENCE_MAX_QUEUE_SIZE"):
        batcher.submit([row(9), row(9), row(9)])
    assert batcher.queued_texts == 8
    batcher.submit([row(9), row(9)])  # exactly fills it


def test_request_whose_deadline_passed_in_the_queue_is_dropped_unrun(gated):
    model, batcher = gated
    batcher.submit([row(0)])
    assert model.entered.wait(5)
    expired = batcher.submit([row(1)], deadline=time.monotonic() + 0.05)
    alive = batcher.submit([row(2)], deadline=time.monotonic() + 60)
    time.sleep(0.1)
    model.gate.set()
    with pytest.raises(DeadlineExceeded, match="in the queue"):
        expired.result(5)
    assert alive.result(5)[0, 0] == 2
    assert all(text != 1 for run in model.runs for text, _ in run)


def test_a_caller_giving_up_is_deadline_exceeded_and_leaves_the_queue(gated):
    model, batcher = gated
    batcher.submit([row(0)])
    assert model.entered.wait(5)
    with pytest.raises(DeadlineExceeded, match="deadline of 0.050 s"):
        batcher.predict([row(1), row(2)], timeout_s=0.05)
    assert batcher.queued_texts == 0  # its room in the queue is free again
    batcher.submit([row(i) for i in range(10)])


def test_idle_model_runs_a_request_at_once_without_the_queue_delay():
    model = FakeModel()
    batcher = DynamicBatcher(model.run, max_batch_size=8, max_queue_delay_s=0.5)
    try:
        batcher.predict([row(0)])
        time.sleep(0.6)  # idle for longer than the delay
        started = time.perf_counter()
        for i in range(5):  # concurrency 1: each request finds the model idle
            batcher.predict([row(i)])
        assert time.perf_counter() - started < 0.25  # 5 × 0.5 s if it waited
    finally:
        batcher.close()
    assert set(model.threads) == {threading.current_thread().name}  # no hand-off to the worker


def test_busy_model_waits_for_the_callers_it_just_answered():
    model = FakeModel(seconds=0.02)
    batcher = DynamicBatcher(model.run, max_batch_size=8, max_queue_delay_s=0.2)
    answered = []

    def caller(i: int) -> None:
        """Closed loop: three requests, each sent right after the previous answer."""
        for k in range(3):
            answered.append(batcher.predict([row(10 * i + k)], timeout_s=5)[0, 0])

    run_callers(batcher, caller, 4)
    assert sorted(answered) == sorted(10 * i + k for i in range(4) for k in range(3))
    # After the first batch the worker waits for the 4 callers instead of running 1 at a time.
    assert max(len(r) for r in model.runs) == 4
    assert len(model.runs) <= 6
    assert model.threads.count("batcher model") >= len(model.runs) - 1


def test_runs_follow_the_plan_by_length_and_results_keep_input_order():
    model = FakeModel()
    plan = lambda lengths, size: plan_runs(lengths, size, overhead_tokens=2)  # noqa: E731
    batcher = DynamicBatcher(model.run, plan, max_batch_size=8, max_queue_delay_s=0)
    try:
        lengths = [30, 2, 29, 3, 2, 31]
        out = batcher.predict([row(i, n) for i, n in enumerate(lengths)])
    finally:
        batcher.close()
    np.testing.assert_array_equal(out, [[i, n] for i, n in enumerate(lengths)])
    assert sorted(sorted(text for text, _ in run) for run in model.runs) == [[0, 2, 5], [1, 3, 4]]


def test_a_failed_run_fails_every_request_of_the_batch_and_the_batcher_lives_on():
    calls = []

    def run(rows):
        calls.append(len(rows))
        if len(calls) == 1:
            raise RuntimeError("onnxruntime exploded")
        return np.zeros((len(rows), 2), dtype=np.float32)

    batcher = DynamicBatcher(run, max_queue_delay_s=0)
    try:
        with pytest.raises(RuntimeError, match="exploded"):
            batcher.predict([row(1), row(2)])
        assert batcher.predict([row(3)]).shape == (1, 2)
    finally:
        batcher.close()


def test_close_finishes_queued_requests_then_refuses_new_ones(gated):
    model, batcher = gated
    first = batcher.submit([row(0)])
    assert model.entered.wait(5)
    queued = batcher.submit([row(1), row(2)])
    closer = threading.Thread(target=batcher.close)
    closer.start()
    time.sleep(0.05)
    with pytest.raises(NotReady, match="unloaded"):
        batcher.submit([row(3)])
    model.gate.set()
    closer.join(5)
    assert first.result(0)[0, 0] == 0
    np.testing.assert_array_equal(queued.result(0)[:, 0], [1, 2])


@pytest.mark.parametrize("kwargs", [{"max_batch_size": 0}, {"max_queue_size": 0},
                                    {"max_queue_delay_s": -1}])
def test_bad_sizes_are_invalid(kwargs):
    with pytest.raises(InvalidInput):
        DynamicBatcher(FakeModel().run, **kwargs)


def test_empty_request_is_invalid(gated):
    with pytest.raises(InvalidInput, match="no texts"):
        gated[1].submit([])


def test_instances_run_batches_side_by_side():
    model = FakeModel(gated=True)
    batcher = DynamicBatcher(model.run, max_batch_size=2, max_queue_delay_s=0, instances=2)
    try:
        futures = [batcher.submit([row(i), row(i)]) for i in range(3)]
        deadline = time.monotonic() + 5
        while batcher.queued_texts > 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert batcher.queued_texts == 2  # two batches taken at once, the third waits
        model.gate.set()
        assert [int(f.result(5)[0, 0]) for f in futures] == [0, 1, 2]
    finally:
        model.gate.set()
        batcher.close()
    assert not batcher.workers_alive


class LockCheckedBatcher(DynamicBatcher):
    """Records every write of the batcher's shared state made without holding its lock."""

    SHARED = frozenset({"_running", "_running_texts", "_recent_load", "_last_end",
                        "_queued_texts", "_closing"})

    def __setattr__(self, name, value):
        if name in self.SHARED and "_threads" in self.__dict__ and not self._cond._is_owned():
            self.__dict__.setdefault("unlocked_writes", []).append(name)
        super().__setattr__(name, value)


def test_shared_state_is_written_only_under_the_lock():
    model = FakeModel(seconds=0.002)
    batcher = LockCheckedBatcher(model.run, max_batch_size=4, max_queue_delay_s=0.005,
                                 instances=2)

    def caller(i: int) -> None:
        for k in range(5):
            batcher.predict([row(10 * i + k)], timeout_s=5)

    run_callers(batcher, caller, 6)
    assert sum(len(r) for r in model.runs) == 30
    assert batcher.__dict__.get("unlocked_writes", []) == []


def closed_loop_runs(callers: int, instances: int = 1) -> list[int]:
    """Texts per run when ``callers`` closed-loop callers send 6 one-text requests each
    (each run takes 20 ms)."""
    model = FakeModel(seconds=0.02)
    batcher = DynamicBatcher(model.run, max_batch_size=32, max_queue_delay_s=0.1,
                             instances=instances)

    def caller(i: int) -> None:
        for k in range(6):
            batcher.predict([row(100 * i + k)], timeout_s=10)

    run_callers(batcher, caller, callers, join_s=20)
    return [len(r) for r in model.runs]


def test_batches_grow_with_the_number_of_callers():
    few, many = closed_loop_runs(2), closed_loop_runs(12)
    assert sum(few) == 12 and sum(many) == 72
    assert max(few) <= 2
    # After the first run the worker waits for the callers it just answered: runs of ~12.
    assert np.median(many) >= 8
