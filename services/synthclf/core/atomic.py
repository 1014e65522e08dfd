"""Atomic writes: a file or folder appears whole at its path, or not at all.

Both helpers write into a temp sibling (same folder, so same file system) and move it onto
the target with one ``rename``/``os.replace`` (atomic on POSIX); on any exception, including
KeyboardInterrupt, the temp is deleted, so a killed job never leaves a half-written file. Every
atomic write of synthclf goes through them: the local artifact store's puts, S3 downloads into
the artifact cache, the assembled GGUF model, the embedding cache, model folders.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_file(target: Path, *, prefix: str | None = None, suffix: str = "", mode: int | None = None) -> Iterator[Path]:
    """Write a file all at once: yield a temp path beside ``target`` that replaces it on exit.

    On normal exit the temp file replaces ``target`` (``os.replace``: an existing file is
    replaced atomically); on any exception it is deleted and ``target`` is left as it was.

    Args:
        target: the file to produce; its parent folder is created if needed.
        prefix: name prefix of the temp file (default ``.<target name>.``), e.g. one a store
            listing skips.
        suffix: name suffix of the temp file (e.g. ``.npy`` for :func:`numpy.save`).
        mode: permission bits set before the replace (default those of ``mkstemp``: 0600).

    Yields:
        The temp file's path (created empty) to write into.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=prefix or f".{target.name}.", suffix=suffix)
    os.close(fd)
    temp = Path(name)
    try:
        yield temp
        if mode is not None:
            temp.chmod(mode)
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)


@contextmanager
def atomic_folder(output_dir: Path) -> Iterator[Path]:
    """Write a folder all at once: yield a sibling temp folder that replaces ``output_dir``.

    On normal exit the temp folder is renamed onto ``output_dir`` (an existing one is
    replaced); on any exception, including KeyboardInterrupt, it is deleted, so a killed job
    never leaves a half-written folder.

    Args:
        output_dir: the folder to produce; its parent is created if needed.

    Yields:
        The temp folder to write into (mode 0755 once published).
    """
    output_dir = Path(output_dir)
    output_dir.parent.mkdir(parents=True, exist_ok=True)
    temp = Path(tempfile.mkdtemp(prefix=f".{output_dir.name}.", dir=output_dir.parent))
    try:
        yield temp
        temp.chmod(0o755)
        if output_dir.exists():
            shutil.rmtree(output_dir)
        temp.rename(output_dir)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
