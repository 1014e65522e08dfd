"""Batches for fine-tuning: length-grouped rows, padded per batch (dynamic padding).

On a CPU, padding every text to ``max_length`` (or a random batch to its longest text)
spends most of the compute on padding tokens (design.md): SMS messages average ~25 tokens
against a 128-token limit. So the texts' token lengths are measured once, batches are
formed from texts of similar length (as transformers' ``LengthGroupedSampler``) and each
batch is padded only to its own longest text.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.model_selection import train_test_split

logger = logging.getLogger("synthclf.training")

#: Mega-batch size in batches: rows are sorted by length within ``GROUP * batch_size`` rows.
GROUP = 50


@dataclass
class Encoded:
    """Texts with their targets and token lengths; tokenized again per batch.

    Attributes:
        texts: the texts, n of them.
        targets: label index per text (logit order), int64, shape [n].
        lengths: tokens per text after truncation to ``max_length``, int64, shape [n].
    """

    texts: list[str]
    targets: np.ndarray
    lengths: np.ndarray

    def subset(self, rows: np.ndarray) -> Encoded:
        """The rows ``rows`` (indices into this dataset), in that order."""
        return Encoded([self.texts[i] for i in rows], self.targets[rows], self.lengths[rows])


def encode(tokenizer, texts: list[str], targets: np.ndarray, max_length: int) -> Encoded:
    """Measure each text's length in tokens (special tokens included, truncated to ``max_length``).

    Args:
        tokenizer: a Hugging Face tokenizer.
        texts: n texts.
        targets: label indices, shape [n].
        max_length: truncation length in tokens.
    """
    ids = tokenizer(list(texts), truncation=True, max_length=max_length)["input_ids"]
    return Encoded(list(texts), targets, np.array([len(x) for x in ids], dtype=np.int64))


def pad_batch(
    tokenizer, data: Encoded, rows: np.ndarray, max_length: int, device: torch.device
) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Tokenize rows ``rows`` of ``data``, padded to their own longest text (dynamic padding).

    Returns:
        (model inputs: ``input_ids``, ``attention_mask`` [, ``token_type_ids``], each an int64
        tensor [batch, longest]; targets, int64 [batch]), on ``device``.
    """
    enc = tokenizer(
        [data.texts[i] for i in rows],
        padding=True,
        truncation=True,
        max_length=max_length,
        return_tensors="pt",
    )
    return enc.to(device), torch.from_numpy(data.targets[rows]).to(device)


def length_grouped_batches(
    lengths: np.ndarray, batch_size: int, rng: np.random.Generator, group: int = GROUP
) -> list[np.ndarray]:
    """Batches of row indices with similar token lengths, in a random order.

    As transformers' ``LengthGroupedSampler``: shuffle the rows, cut them into mega-batches
    of ``group * batch_size`` rows, sort each mega-batch by length (longest first), cut it
    into batches of ``batch_size``, then shuffle the batches. Every row appears exactly once.

    Args:
        lengths: token length per row, shape [n].
        batch_size: rows per batch (the last batch of a mega-batch may be smaller).
        rng: the seeded generator (same seed and lengths → same batches).
        group: mega-batch size in batches.

    Returns:
        ceil-ish(n / batch_size) arrays of row indices.
    """
    rows = rng.permutation(len(lengths))
    batches = []
    for start in range(0, len(rows), group * batch_size):
        mega = rows[start : start + group * batch_size]
        mega = mega[np.argsort(-lengths[mega], kind="stable")]
        batches += [mega[i : i + batch_size] for i in range(0, len(mega), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


def holdout_split(
    targets: np.ndarray, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Split row indices into (train, validation), stratified by target when possible.

    Args:
        targets: label index per row, shape [n].
        fraction: share of rows for validation, in (0, 1); at least one row is held out.
        seed: split seed.

    Returns:
        (training rows, validation rows), each sorted ascending.

    Falls back to a random split (with a warning) when a label is too rare to stratify.
    """
    rows = np.arange(len(targets))
    n_val = max(1, round(len(rows) * fraction))
    try:
        train, val = train_test_split(rows, test_size=n_val, stratify=targets, random_state=seed)
    except ValueError as exc:
        logger.warning("stratified validation split impossible (%s); using a random split", exc)
        train, val = train_test_split(rows, test_size=n_val, random_state=seed)
    return np.sort(train), np.sort(val)
