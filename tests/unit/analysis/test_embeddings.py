"""The embedding cache: only missing rows are embedded, results are reused across calls."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from synthclf.analysis.embeddings import DIMENSIONS, Embedder
from synthclf.core.artifacts import ArtifactRef, LocalArtifact
from synthclf.core.errors import InvalidInput
from synthclf.core.manifest import FileEntry, Manifest, Producer


class _CountingModel:
    """Stands in for SentenceTransformer: deterministic unit vectors, counts texts encoded."""

    def __init__(self):
        self.encoded: list[str] = []

    def encode(self, texts, **_):
        self.encoded += texts
        out = np.array([[len(t), 1.0] + [0.0] * (DIMENSIONS - 2) for t in texts], dtype=np.float32)
        return out / np.linalg.norm(out, axis=1, keepdims=True)


def _artifact(tmp_path, sha="ab" * 32) -> LocalArtifact:
    manifest = Manifest(kind="dataset", id="ds-1", producer=Producer(service="test"),
                        files=[FileEntry(path="data.jsonl", sha256=sha, size=1)])
    return LocalArtifact(ArtifactRef(uri="file:///x/dataset/ds-1", kind="dataset", id="ds-1"), manifest, tmp_path)


def test_rows_are_embedded_once_and_cached_on_disk(tmp_path):
    texts = ["a", "bb", "ccc", "dddd"]
    embedder = Embedder(tmp_path / "cache", device="cpu")
    embedder._model = model = _CountingModel()
    first = embedder.embed_rows(_artifact(tmp_path), texts, np.array([2, 0]))
    assert model.encoded == ["a", "ccc"] and first.shape == (2, DIMENSIONS)
    second = embedder.embed_rows(_artifact(tmp_path), texts, np.array([0, 1, 2]))
    assert model.encoded == ["a", "ccc", "bb"]
    np.testing.assert_array_equal(second[[2, 0]], first)
    fresh = Embedder(tmp_path / "cache", device="cpu")
    fresh._model = other = _CountingModel()
    fresh.embed_rows(_artifact(tmp_path), texts, np.array([0, 1, 2]))
    assert other.encoded == []  # read from the .npy cache
    assert embedder.cache_path(_artifact(tmp_path)).name == "ds-1-abababababab.npy"


def test_changed_data_gets_a_new_cache_file(tmp_path):
    embedder = Embedder(tmp_path / "cache", device="cpu")
    assert embedder.cache_path(_artifact(tmp_path)) != embedder.cache_path(_artifact(tmp_path, "cd" * 32))


def test_rows_out_of_range_are_invalid(tmp_path):
    embedder = Embedder(tmp_path / "cache", device="cpu")
    embedder._model = _CountingModel()
    with pytest.raises(InvalidInput):
        embedder.embed_rows(_artifact(tmp_path), ["a"], np.array([3]))


def test_real_model_embeddings_are_normalised(tmp_path):
    embedder = Embedder(tmp_path / "cache", device="cpu")
    vectors = embedder.embed(["free prize, call now", "see you at dinner", "win a free prize now"])
    assert vectors.shape == (3, DIMENSIONS)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[2] > vectors[0] @ vectors[1]  # spam is closer to spam


class _BlockingModel(_CountingModel):
    """Blocks inside ``encode`` until released, like a long forward pass."""

    def __init__(self):
        super().__init__()
        self.inside, self.release = threading.Event(), threading.Event()

    def encode(self, texts, **kwargs):
        self.inside.set()
        assert self.release.wait(10)
        return super().encode(texts, **kwargs)


def test_a_long_embedding_does_not_block_other_datasets_cache(tmp_path):
    embedder = Embedder(tmp_path / "cache", device="cpu")
    embedder._model = _CountingModel()
    cached = _artifact(tmp_path, "cd" * 32)
    embedder.embed_rows(cached, ["x", "yy"], np.array([0, 1]))  # dataset B: all rows cached
    embedder._model = blocking = _BlockingModel()
    long = threading.Thread(target=embedder.embed_rows, args=(_artifact(tmp_path), ["a", "bb"], np.array([0, 1])))
    long.start()
    try:
        assert blocking.inside.wait(10)  # dataset A is being embedded
        done = []
        reader = threading.Thread(target=lambda: done.append(embedder.embed_rows(cached, ["x", "yy"], np.array([1]))))
        reader.start()
        reader.join(5)
        assert done and done[0].shape == (1, DIMENSIONS)  # served from B's cache meanwhile
    finally:
        blocking.release.set()
        long.join(10)
    assert blocking.encoded == ["a", "bb"]
