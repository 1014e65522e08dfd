"""Job plumbing shared by the artifact-producing services: staging folders and per-job locks.

* :func:`staging` gives a job a temp folder to assemble an artifact in, removed on every exit
  path; :func:`sweep_staging` removes the ones a killed process left behind (run at server
  start-up).
* :func:`job_lock` / :func:`single_flight` make identical concurrent jobs run one at a time in
  a process, so the second returns the first one's artifact instead of training twice; across
  processes :func:`synthclf.core.artifacts.publish` never replaces a published artifact.

Both are re-exported by :mod:`synthclf.core.artifacts`, where the services import them.
"""

from __future__ import annotations

import atexit
import functools
import hashlib
import inspect
import json
import logging
import os
import secrets
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from synthclf.core.config import Settings

log = logging.getLogger("synthclf.artifacts")
#: Name prefix of staging folders in the temp dir: ``synthclf-stage-<pid>.<token>-<random>``.
STAGE_PREFIX = "synthclf-stage-"
_PROCESS_TOKEN = secrets.token_hex(4)
_live_staging: set[Path] = set()


@contextmanager
def staging() -> Iterator[Path]:
    """A temporary folder to assemble an artifact in; removed on every exit path.

    Removed when the block exits (normally or by any exception), at interpreter exit for
    folders still open then (SIGTERM unwinding a server), and by :func:`sweep_staging` at the
    next server start after a kill -9.
    """
    folder = Path(tempfile.mkdtemp(prefix=f"{STAGE_PREFIX}{os.getpid()}.{_PROCESS_TOKEN}-"))
    _live_staging.add(folder)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        _live_staging.discard(folder)


@atexit.register
def _remove_live_staging() -> None:
    for folder in list(_live_staging):
        shutil.rmtree(folder, ignore_errors=True)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_staging(settings: Settings, temp_dir: Path | None = None) -> int:
    """Remove staging folders left behind by dead processes (kill -9, OOM kill, power loss).

    A ``synthclf-stage-*`` folder in the temp dir owned by this user is removed when the
    process that made it is gone (its pid is not running, or it is this pid from an earlier
    run of the container), or when it is older than ``settings.staging_max_age_hours``.
    Folders of live processes, and this process's own, are kept.

    Args:
        settings: ``staging_max_age_hours``.
        temp_dir: where to look; default :func:`tempfile.gettempdir`.

    Returns:
        How many folders were removed.
    """
    removed, cutoff = 0, time.time() - settings.staging_max_age_hours * 3600
    for folder in Path(temp_dir or tempfile.gettempdir()).glob(f"{STAGE_PREFIX}*"):
        try:
            info = folder.lstat()
        except OSError:
            continue
        if not folder.is_dir() or folder.is_symlink() or info.st_uid != os.getuid():
            continue
        pid_text, _, rest = folder.name[len(STAGE_PREFIX):].partition(".")
        token = rest.partition("-")[0]
        if pid_text.isdigit() and int(pid_text) == os.getpid() and token == _PROCESS_TOKEN:
            continue
        dead = pid_text.isdigit() and (int(pid_text) == os.getpid() or not _pid_alive(int(pid_text)))
        if dead or info.st_mtime < cutoff:
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
    if removed:
        log.info("removed %d stale staging folder(s) %s* from the temp dir", removed, STAGE_PREFIX)
    return removed


_job_locks: dict[tuple[str, str], list] = {}
_job_locks_guard = threading.Lock()


@contextmanager
def job_lock(kind: str, key: str) -> Iterator[None]:
    """Hold this process's lock of job ``kind``/``key``: identical jobs run one at a time.

    The one that comes second waits, then finds the first one's artifact (``find``) instead
    of running again. Across processes and replicas, :func:`publish` still never replaces a
    published artifact.
    """
    name = (kind, key)
    with _job_locks_guard:
        entry = _job_locks.setdefault(name, [threading.RLock(), 0])
        entry[1] += 1
    try:
        with entry[0]:
            yield
    finally:
        with _job_locks_guard:
            entry[1] -= 1
            if not entry[1]:
                del _job_locks[name]


def _lock_key(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    return str(value)


def single_flight(kind: str):
    """Decorator of a job (a method or function that checks ``find`` and then publishes):
    identical concurrent calls (the same arguments, progress callbacks aside) run one at a
    time under :func:`job_lock`, so the second returns the first one's artifact.

    Args:
        kind: the artifact kind the job publishes (names the lock).
    """
    def wrap(job):
        """Wrap ``job`` so identical calls serialise on one :func:`job_lock`."""
        signature = inspect.signature(job)

        @functools.wraps(job)
        def run(*args, **kwargs):
            """Call ``job`` under the lock named by its arguments (``progress`` left out)."""
            bound = signature.bind(*args, **kwargs)
            call = {name: value for name, value in bound.arguments.items() if name != "progress"}
            key = json.dumps(call, sort_keys=True, default=_lock_key)
            with job_lock(kind, f"{job.__qualname__}:{hashlib.sha256(key.encode()).hexdigest()}"):
                return job(*args, **kwargs)

        return run
    return wrap
