"""glibc malloc arenas of a synthclf server: bounded, so model load/unload cycles keep RSS flat.

glibc gives each thread that allocates under contention its own arena (up to 8 per core);
freed memory of large, short-lived allocations (an ONNX Runtime session, a tokenizer) stays
fragmented across them and RSS grows with every LoadModel/UnloadModel cycle. Two arenas
halved that growth (measurement in docs/architecture.md, "The artifact store as a trust
boundary"). The limit is applied to this process
with ``mallopt(M_ARENA_MAX)`` (arenas made from then on) and exported as ``MALLOC_ARENA_MAX``
to the processes it starts (the llama.cpp server); images set ``MALLOC_ARENA_MAX`` in
deploy/Dockerfile so it holds from the first allocation.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os

from synthclf.core.config import Settings

log = logging.getLogger("synthclf.server")
#: ``M_ARENA_MAX`` of glibc's ``<malloc.h>``.
M_ARENA_MAX = -8
ENV_VAR = "MALLOC_ARENA_MAX"


def limit_malloc_arenas(settings: Settings) -> bool:
    """Limit glibc malloc arenas to ``settings.malloc_arena_max`` (0: leave glibc's default).

    A ``MALLOC_ARENA_MAX`` already in the environment wins (glibc read it at start-up).

    Returns:
        True when the limit is in force in this process (False on other C libraries).
    """
    wanted = settings.malloc_arena_max
    if wanted <= 0:
        return False
    if os.environ.get(ENV_VAR):
        return True
    os.environ[ENV_VAR] = str(wanted)  # inherited by the processes this one starts
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        applied = bool(libc.mallopt(M_ARENA_MAX, wanted))
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to tune
        applied = False
    log.debug("malloc arenas limited to %d: %s", wanted, applied)
    return applied
