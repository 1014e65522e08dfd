"""Cancellation of long jobs: a token per running job, checked at every progress event.

A job (Train, ExportOnnx, Generate, the analyses) reports progress through a callback; the
servicer hands it a callback wrapped by :meth:`Job.progress`, which raises
:class:`~synthclf.core.errors.Cancelled` once the job is cancelled. A job is cancelled when
its caller cancels the RPC or its deadline passes (:func:`synthclf.core.grpc_server.stream_job`
watches the gRPC context) and when the server shuts down (:func:`cancel_all`, called by
:meth:`synthclf.server.RunningServer.stop` on SIGTERM), so it stops within one progress
interval (about 10 optimizer steps, one LLM request, one batch) and its ``with staging()``
folders are removed as the exception unwinds; nothing is published.
"""

from __future__ import annotations

import logging
import threading

from synthclf.core.errors import Cancelled
from synthclf.core.progress import Progress, ProgressFn

log = logging.getLogger("synthclf.jobs")

_ACTIVE: set[Job] = set()
_ACTIVE_LOCK = threading.Lock()


class Job:
    """The cancellation token of one running job.

    Args:
        name: what the job is in the caller's terms (the RPC, e.g. ``TrainingService/Train``).
    """

    def __init__(self, name: str):
        self.name = name
        self._reason: str | None = None
        self._event = threading.Event()
        self._ended = False

    @property
    def cancelled(self) -> bool:
        """Whether :meth:`cancel` was called."""
        return self._event.is_set()

    def cancel(self, reason: str) -> None:
        """Ask the job to stop at its next progress event (the first reason is kept; a job
        that has ended is left alone)."""
        if not self._event.is_set() and not self._ended:
            self._reason = reason
            self._event.set()
            log.info("cancelling %s: %s", self.name, reason)

    def check(self) -> None:
        """Raise Cancelled if the job was cancelled.

        Raises:
            Cancelled: naming the job and why it stopped.
        """
        if self._event.is_set():
            raise Cancelled(f"{self.name} stopped: {self._reason}; nothing was published")

    def progress(self, report: ProgressFn) -> ProgressFn:
        """``report`` wrapped so that every event first checks for cancellation."""

        def checked(event: Progress) -> None:
            """Raise Cancelled when cancelled, else pass the event on."""
            self.check()
            report(event)

        return checked

    def __enter__(self) -> Job:
        with _ACTIVE_LOCK:
            _ACTIVE.add(self)
        return self

    def __exit__(self, *exc_info) -> None:
        self._ended = True
        with _ACTIVE_LOCK:
            _ACTIVE.discard(self)


def cancel_all(reason: str) -> int:
    """Cancel every job running in this process (server shutdown); returns how many."""
    with _ACTIVE_LOCK:
        jobs = list(_ACTIVE)
    for job in jobs:
        job.cancel(reason)
    return len(jobs)


def active_jobs() -> int:
    """Number of jobs running in this process."""
    with _ACTIVE_LOCK:
        return len(_ACTIVE)
