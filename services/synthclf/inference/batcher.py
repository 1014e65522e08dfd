"""Dynamic batching: requests from many callers run together in ONNX Runtime.

One :class:`DynamicBatcher` serves one live model version. Callers tokenize in their own
thread (the gRPC handler: parallel, off the batching loop), then queue their encoded texts
(bounded, counted in texts; full → ``ResourceExhausted``). Worker threads — one per model
instance, like Triton's ``instance_group`` — take queued requests in arrival order up to
``max_batch_size`` texts, sort their texts by length and cut them into runs (``plan``) so
short texts are not padded to long ones, run them, and complete each request as soon as its
last text is done.

The queue delay is adaptive, unlike a fixed Triton-style ``max_queue_delay``: a request that
finds the model idle runs at once, in the caller's own thread (no hand-off, no added latency
at concurrency 1); while the model is busy a free worker waits at most
``max_queue_delay_s`` for its share of the texts that were in flight when the previous batch
ended (the callers just answered are likely to send again), then runs what came. Requests
whose deadline passed while queued are dropped unrun (``DeadlineExceeded``), and a caller
that gives up takes its request out of the queue.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field

import numpy as np

from synthclf.core.errors import DeadlineExceeded, InvalidInput, NotReady, ResourceExhausted

log = logging.getLogger("synthclf.inference.batcher")

#: Seconds the batcher remembers answered batches for its estimate of the active callers.
ANSWERED_MEMORY_S = 1.0
#: Runs one batch: encoded texts (int [inputs, tokens] each) → float32 [n, labels].
RunFn = Callable[[list[np.ndarray]], np.ndarray]
#: Cuts a batch into runs: tokens per text [n], most texts per run → row indices per run.
PlanFn = Callable[[np.ndarray, int], list[np.ndarray]]


def plan_in_order(lengths: np.ndarray, max_batch_size: int) -> list[np.ndarray]:
    """Runs of at most ``max_batch_size`` texts in arrival order (no length sorting)."""
    rows = np.arange(len(lengths))
    return [rows[i:i + max_batch_size] for i in range(0, len(rows), max_batch_size)]


@dataclass(eq=False)
class _Request:
    """One submitted request: its encoded texts, deadline and result."""

    rows: Sequence[np.ndarray]
    deadline: float | None
    enqueued: float
    future: Future = field(default_factory=Future)
    out: np.ndarray | None = None
    remaining: int = 0


class DynamicBatcher:
    """Queue + worker threads that batch requests for one model version.

    Args:
        run: runs one batch of encoded texts (e.g. ``OnnxClassifier.run``).
        plan: cuts a batch into runs by length (e.g. ``OnnxClassifier.plan``); default: runs
            of ``max_batch_size`` in arrival order.
        max_batch_size: most texts taken from the queue for one batch (≥ 1).
        max_queue_delay_s: longest wait for more requests while the model is busy, seconds
            (0: never wait).
        max_queue_size: most texts waiting; :meth:`submit` raises ResourceExhausted beyond.
        name: for the worker thread and log lines, e.g. ``"sms v2"``.
        instances: batches that may run at once (like Triton's ``instance_group`` count):
            one worker thread each; ``run`` must be thread-safe (an ONNX Runtime session is).
        batch_size_metric: observes texts per run (a Prometheus histogram child), optional.
        queue_depth_metric: set to the texts waiting (a Prometheus gauge child), optional.

    Raises:
        InvalidInput: a size or instance count below 1, or a negative delay.
    """

    def __init__(self, run: RunFn, plan: PlanFn | None = None, *, max_batch_size: int = 32,
                 max_queue_delay_s: float = 0.002, max_queue_size: int = 1024, name: str = "model",
                 instances: int = 1, batch_size_metric=None, queue_depth_metric=None):
        if min(max_batch_size, max_queue_size, instances) < 1 or max_queue_delay_s < 0:
            raise InvalidInput(f"batcher needs max_batch_size, max_queue_size and instances ≥ 1 "
                               f"and max_queue_delay ≥ 0; got {max_batch_size}, {max_queue_size}, "
                               f"{instances}, {max_queue_delay_s}")
        self.run, self.plan = run, plan or plan_in_order
        self.max_batch_size = max_batch_size
        self.max_queue_delay_s = max_queue_delay_s
        self.max_queue_size = max_queue_size
        self.name = name
        self.instances = instances
        self._batch_size_metric = batch_size_metric
        self._queue_depth_metric = queue_depth_metric
        self._queue: collections.deque[_Request] = collections.deque()
        self._queued_texts = 0
        self._cond = threading.Condition()
        self._closing = False
        # Shared state below is read and written only with ``self._cond`` held.
        self._running = 0  # batches running (worker threads and callers' own runs)
        self._running_texts = 0
        self._recent_load = 0  # callers active when the last batch ended (see _finished)
        self._last_end = 0.0
        self._answered: collections.deque[tuple[float, int]] = collections.deque()
        self._threads = [threading.Thread(target=self._loop, name=f"batcher {name}", daemon=True)
                         for _ in range(instances)]
        for thread in self._threads:
            thread.start()

    @property
    def queued_texts(self) -> int:
        """Texts waiting in the queue now (not counting the batch being run)."""
        with self._cond:
            return self._queued_texts

    def submit(self, rows: Sequence[np.ndarray], deadline: float | None = None) -> Future:
        """Queue encoded texts; the future's result is float32 [len(rows), labels].

        Args:
            rows: encoded texts (at least one), each int [inputs, tokens].
            deadline: ``time.monotonic()`` after which the request is dropped unrun; None: none.

        Returns:
            A future holding the probabilities, or DeadlineExceeded / the run's error.

        Raises:
            InvalidInput: no rows.
            ResourceExhausted: the queue cannot take ``len(rows)`` more texts.
            NotReady: the batcher is closed.
        """
        return self._enqueue(rows, deadline).future

    def _enqueue(self, rows: Sequence[np.ndarray], deadline: float | None) -> _Request:
        """Append a request to the queue (see :meth:`submit`)."""
        request = _Request(rows, deadline, time.monotonic())
        with self._cond:
            self._check_admissible(rows)
            if self._queued_texts + len(rows) > self.max_queue_size:
                raise ResourceExhausted(
                    f"model {self.name}: queue full ({self._queued_texts} texts waiting, "
                    f"{len(rows)} more asked, limit {self.max_queue_size}: "
                    f"SYNTHCLF_INFERENCE_MAX_QUEUE_SIZE); retry later")
            self._queue.append(request)
            self._queued_texts += len(rows)
            self._publish_depth()
            self._cond.notify()
        return request

    def predict(self, rows: Sequence[np.ndarray], timeout_s: float | None = None) -> np.ndarray:
        """Submit and wait: float32 [len(rows), labels] probabilities.

        Args:
            rows: encoded texts.
            timeout_s: seconds until the caller gives up (its gRPC deadline); None: no limit.

        Raises:
            DeadlineExceeded: the deadline passed while queued or running.
            InvalidInput, ResourceExhausted, NotReady: see :meth:`submit`.
        """
        if timeout_s is not None and timeout_s > threading.TIMEOUT_MAX:
            timeout_s = None  # "no deadline" spelled as a huge number
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        request = self._run_here_if_idle(rows, deadline)
        if request is not None:
            return request.future.result()
        request = self._enqueue(rows, deadline)
        try:
            return request.future.result(timeout=timeout_s)
        except FutureTimeout:
            self._withdraw(request)
            raise DeadlineExceeded(f"model {self.name}: deadline of {timeout_s:.3f} s passed "
                                   f"before the {len(rows)} texts were classified") from None

    def _run_here_if_idle(self, rows: Sequence[np.ndarray], deadline: float | None) -> _Request | None:
        """Run a request in the calling thread when the model is idle (None otherwise).

        Idle: nothing queued or running, and no burst in progress (the last batch ended more
        than ``max_queue_delay_s`` ago, or served a single caller). Skips two thread hand-offs,
        so a lone caller sees in-process latency.
        """
        with self._cond:
            self._check_admissible(rows)
            burst = (self._recent_load > 1
                     and time.monotonic() - self._last_end < self.max_queue_delay_s)
            if self._queue or self._running >= self.instances or burst:
                return None
            self._started(len(rows))
        request = _Request(rows, deadline, time.monotonic())
        started = time.monotonic()
        try:
            self._execute([request])
        finally:
            self._finished(len(rows), started)
        return request

    def _check_admissible(self, rows: Sequence[np.ndarray]) -> None:
        """InvalidInput for no texts, NotReady once closing (caller holds the lock)."""
        if not rows:
            raise InvalidInput("no texts to classify")
        if self._closing:
            raise NotReady(f"model {self.name} is being unloaded")

    def _started(self, texts: int) -> None:
        """Count a batch as running (caller holds the lock)."""
        self._running += 1
        self._running_texts += texts

    def _finished(self, texts: int, started: float) -> None:
        """Count a batch as done, estimate the active callers, wake waiting workers.

        The callers active now are those waiting, those of batches still running, and those
        answered while this batch ran (closed-loop callers send again within a round trip):
        ``_recent_load``, the size the next batches wait for while the model is busy.
        """
        with self._cond:
            now = time.monotonic()
            self._running -= 1
            self._running_texts -= texts
            self._answered.append((now, texts))
            while self._answered and self._answered[0][0] < now - ANSWERED_MEMORY_S:
                self._answered.popleft()
            self._last_end = now
            self._recent_load = (self._queued_texts + self._running_texts
                                 + sum(n for end, n in self._answered if end >= started))
            self._cond.notify_all()

    def _withdraw(self, request: _Request) -> None:
        """Take a request its caller gave up on out of the queue, freeing its room."""
        with self._cond:
            try:
                self._queue.remove(request)
            except ValueError:
                return  # already taken by the worker
            self._queued_texts -= len(request.rows)
            self._publish_depth()

    def close(self, wait: bool = True) -> None:
        """Stop taking requests; queued ones still run; the worker then exits.

        Args:
            wait: block until the worker has finished the queue.
        """
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        if wait:
            for thread in self._threads:
                if thread is not threading.current_thread():
                    thread.join()

    @property
    def workers_alive(self) -> bool:
        """Whether any worker thread still runs (False once closed and drained)."""
        return any(thread.is_alive() for thread in self._threads)

    def _publish_depth(self) -> None:
        if self._queue_depth_metric is not None:
            self._queue_depth_metric.set(self._queued_texts)

    def _loop(self) -> None:
        while (batch := self._take()) is not None:
            started = time.monotonic()
            try:
                self._execute(batch)
            finally:
                self._finished(sum(len(r.rows) for r in batch), started)

    def _take(self) -> list[_Request] | None:
        """Wait for work and a free instance, form the next batch (None: closed and drained).

        While the lock is released (waits), other workers, callers' own runs and callers
        giving up change the queue, so the conditions are checked again after every wait.
        """
        with self._cond:
            while True:
                while not (self._queue and self._running < self.instances):
                    if self._closing and not self._queue:
                        return None
                    self._cond.wait()
                busy = time.monotonic() - self._last_end < self.max_queue_delay_s
                share = -(-self._recent_load // self.instances)  # ceil: this instance's part
                target = min(share, self.max_batch_size) if busy else 0
                until = time.monotonic() + self.max_queue_delay_s
                while self._queue and self._queued_texts < target and not self._closing:
                    left = until - time.monotonic()
                    if left <= 0:
                        break
                    self._cond.wait(left)
                if self._queue and self._running < self.instances:
                    return self._pop_batch()

    def _pop_batch(self) -> list[_Request]:
        """Take queued requests in arrival order up to ``max_batch_size`` texts (at least one
        request); the caller holds the lock."""
        batch = [self._queue.popleft()]
        texts = len(batch[0].rows)
        while self._queue and texts + len(self._queue[0].rows) <= self.max_batch_size:
            texts += len(self._queue[0].rows)
            batch.append(self._queue.popleft())
        self._queued_texts -= texts
        self._publish_depth()
        self._started(texts)
        return batch

    def _execute(self, batch: list[_Request]) -> None:
        """Drop expired requests, run the rest by length, complete each as it finishes."""
        started = time.monotonic()
        live = []
        for request in batch:
            if request.deadline is not None and started > request.deadline:
                request.future.set_exception(DeadlineExceeded(
                    f"model {self.name}: deadline passed after {started - request.enqueued:.3f} s "
                    f"in the queue, before the {len(request.rows)} texts ran"))
            else:
                request.remaining = len(request.rows)
                live.append(request)
        owners = [(request, i) for request in live for i in range(len(request.rows))]
        runs: list[np.ndarray] = []
        try:
            if owners:
                lengths = np.array([r.rows[i].shape[-1] for r, i in owners])
                runs = self.plan(lengths, self.max_batch_size)
                for run in runs:
                    self._run_one([owners[k] for k in run])
        except Exception as exc:  # noqa: BLE001 - handed to every waiting caller
            log.exception("model %s: batch of %d texts failed", self.name, len(owners))
            for request in live:
                if not request.future.done():
                    request.future.set_exception(exc)
        if log.isEnabledFor(logging.DEBUG) and owners:
            self._log_batch(batch, owners, runs, started)

    def _run_one(self, part: list[tuple[_Request, int]]) -> None:
        """One ONNX Runtime run; rows go back to their requests, finished ones complete."""
        probabilities = self.run([request.rows[i] for request, i in part])
        if self._batch_size_metric is not None:
            self._batch_size_metric.observe(len(part))
        for (request, i), row in zip(part, probabilities):
            if request.out is None:
                request.out = np.empty((len(request.rows), len(row)), dtype=np.float32)
            request.out[i] = row
            request.remaining -= 1
            if request.remaining == 0:
                request.future.set_result(request.out)

    def _log_batch(self, batch, owners, runs, started: float) -> None:
        """DEBUG line: batch size, requests, runs with their padded widths, waits."""
        lengths = np.array([r.rows[i].shape[-1] for r, i in owners])
        widths = [int(lengths[run].max()) for run in runs]
        padded = sum(w * len(run) for w, run in zip(widths, runs))
        log.debug(
            "model %s: batch of %d texts from %d requests in %d runs (sizes %s, padded to %s "
            "tokens, %.0f%% padding); oldest waited %.1f ms in the queue; ran %.1f ms",
            self.name, len(owners), len(batch), len(runs), "/".join(str(len(r)) for r in runs),
            "/".join(map(str, widths)), 100 * (1 - lengths.sum() / max(padded, 1)),
            1000 * (started - min(r.enqueued for r in batch)), 1000 * (time.monotonic() - started))
