"""Duplicate, near-duplicate and copy detection for generated texts.

* **Exact duplicates**: equal :func:`~synthclf.generation.parsing.normalise` keys (case, punctuation
  and spacing ignored).
* **Near-duplicates**: Jaccard similarity of word 3-gram sets at or above a threshold, found with
  datasketch's MinHash LSH (Broder 1997; Leskovec, Rajaraman & Ullman, *Mining of Massive
  Datasets*, ch. 3) and confirmed on the exact sets, so the LSH only prunes candidates and a
  reported near-duplicate really is one.
* **Copies of few-shot examples** (the paper's instruction: imitate, do not modify or rewrite):
  ROUGE-L F-measure (Lin 2004, ``rouge-score``) or cosine similarity of bag-of-words count
  vectors between an output and each of its request's examples.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

from datasketch import MinHash, MinHashLSH
from rouge_score import rouge_scorer

from synthclf.generation.parsing import normalise
from synthclf.generation.spec import CopyMetric

NUM_PERM = 128
"""MinHash permutations: the Jaccard estimate's standard error is about 1/sqrt(128) ≈ 0.09."""
SHINGLE_WORDS = 3
"""Words per shingle; texts shorter than this are one shingle."""
MINHASH_SEED = 1
"""Fixed seed of the MinHash permutations: the same texts always give the same verdicts."""


def shingles(text: str, size: int = SHINGLE_WORDS) -> set[str]:
    """Word ``size``-grams of the normalised text (one shingle for shorter texts; none if empty)."""
    words = normalise(text).split()
    if len(words) <= size:
        return {" ".join(words)} if words else set()
    return {" ".join(words[i : i + size]) for i in range(len(words) - size + 1)}


def jaccard(a: set[str], b: set[str]) -> float:
    """|a ∩ b| / |a ∪ b|; 0 for two empty sets."""
    union = len(a | b)
    return len(a & b) / union if union else 0.0


class Deduplicator:
    """Remembers accepted texts and rejects exact and near duplicates of them.

    Args:
        near_threshold: Jaccard similarity of 3-gram sets at or above which a text is a
            near-duplicate, in (0, 1]; 1.0 turns near-duplicate detection off (exact only).

    Not thread-safe: the generator calls it from one thread, in request order.
    """

    def __init__(self, near_threshold: float = 0.7):
        self.near_threshold = near_threshold
        self._exact: set[str] = set()
        self._sets: list[set[str]] = []
        self._lsh = MinHashLSH(threshold=near_threshold, num_perm=NUM_PERM) if near_threshold < 1.0 else None
        template = MinHash(num_perm=NUM_PERM, seed=MINHASH_SEED)
        self._permutations, self._scheme = template.permutations, template.scheme
        self._last: tuple[str, set[str], MinHash] | None = None

    def check(self, text: str) -> str | None:
        """Why ``text`` may not be accepted: ``duplicate``, ``near_duplicate``, or None."""
        if normalise(text) in self._exact:
            return "duplicate"
        if self._lsh is None:
            return None
        grams, signature = self._signature(text)
        for key in self._lsh.query(signature):
            if jaccard(grams, self._sets[key]) >= self.near_threshold:
                return "near_duplicate"
        return None

    def add(self, text: str) -> None:
        """Remember an accepted text."""
        self._exact.add(normalise(text))
        if self._lsh is not None:
            grams, signature = self._signature(text)
            self._lsh.insert(len(self._sets), signature)
            self._sets.append(grams)

    def __len__(self) -> int:
        return len(self._exact)

    def _signature(self, text: str) -> tuple[set[str], MinHash]:
        """Shingles and MinHash of ``text`` (the last one is reused: check, then add)."""
        if self._last is None or self._last[0] != text:
            grams = shingles(text)
            signature = MinHash(
                num_perm=NUM_PERM, seed=MINHASH_SEED, permutations=self._permutations, scheme=self._scheme
            )
            signature.update_batch([gram.encode("utf-8") for gram in sorted(grams)])
            self._last = (text, grams, signature)
        return self._last[1], self._last[2]


def bow_cosine(a: str, b: str) -> float:
    """Cosine similarity of the word-count vectors of two texts (normalised words), in [0, 1]."""
    left, right = Counter(normalise(a).split()), Counter(normalise(b).split())
    dot = sum(count * right[word] for word, count in left.items())
    norm = math.sqrt(sum(c * c for c in left.values())) * math.sqrt(sum(c * c for c in right.values()))
    return dot / norm if norm else 0.0


class CopyDetector:
    """Decides whether an output copies one of the few-shot examples it was shown.

    Args:
        metric: :class:`~synthclf.generation.spec.CopyMetric` (ROUGE-L F-measure or bag-of-words cosine).
        threshold: similarity to any one example at or above which the output is a copy, in (0, 1].
    """

    def __init__(self, metric: CopyMetric = CopyMetric.ROUGE_L, threshold: float = 0.7):
        self.metric = metric
        self.threshold = threshold
        self._rouge = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)

    def similarity(self, text: str, example: str) -> float:
        """Similarity of ``text`` to ``example`` under the detector's metric, in [0, 1]."""
        if self.metric is CopyMetric.COSINE:
            return bow_cosine(text, example)
        return self._rouge.score(example, text)["rougeL"].fmeasure

    def is_copy(self, text: str, examples: Sequence[str]) -> bool:
        """True when ``text`` equals an example after normalisation or reaches the threshold."""
        key = normalise(text)
        return any(
            key == normalise(example) or self.similarity(text, example) >= self.threshold for example in examples
        )
