"""Exact and MinHash near-duplicate detection; ROUGE-L and cosine copy detection."""

from __future__ import annotations

import pytest

from synthclf.generation.dedup import CopyDetector, Deduplicator, bow_cosine, jaccard, shingles
from synthclf.generation.spec import CopyMetric

BASE = "please call me back when you get home from work today"


def test_shingles_and_jaccard() -> None:
    assert shingles("Call me, later!") == {"call me later"}
    assert shingles("a b c d") == {"a b c", "b c d"}
    assert shingles("") == set()
    assert jaccard({"a", "b"}, {"b", "c"}) == pytest.approx(1 / 3)
    assert jaccard(set(), set()) == 0.0


def test_exact_and_near_duplicates() -> None:
    dedup = Deduplicator(near_threshold=0.7)
    assert dedup.check(BASE) is None
    dedup.add(BASE)
    assert dedup.check("Please call me back, when you get home from work today!") == "duplicate"
    assert dedup.check("please call me back when you get home from work tonight") == "near_duplicate"
    assert dedup.check("free entry to win a brand new car text now") is None
    assert len(dedup) == 1


def test_near_duplicate_threshold_is_a_true_jaccard_bound() -> None:
    near = "please call me back when you get home from work tonight"
    similarity = jaccard(shingles(BASE), shingles(near))
    above, below = Deduplicator(near_threshold=similarity - 0.01), Deduplicator(near_threshold=similarity + 0.01)
    for dedup in (above, below):
        dedup.add(BASE)
    assert above.check(near) == "near_duplicate" and below.check(near) is None


def test_threshold_one_keeps_only_exact_detection() -> None:
    dedup = Deduplicator(near_threshold=1.0)
    dedup.add(BASE)
    assert dedup.check(BASE.upper()) == "duplicate"
    assert dedup.check(BASE.replace("today", "tonight")) is None


@pytest.mark.parametrize("metric", [CopyMetric.ROUGE_L, CopyMetric.COSINE])
def test_copy_detector(metric: CopyMetric) -> None:
    detector = CopyDetector(metric, threshold=0.7)
    examples = ["Free entry in 2 a wkly comp to win FA Cup final tkts", "Ok lar... Joking wif u oni..."]
    assert detector.is_copy("free entry in 2 a weekly comp to win FA cup final tickets", examples)
    assert detector.is_copy("OK lar, joking wif u oni", examples)
    assert not detector.is_copy("Are we still meeting for lunch tomorrow at noon?", examples)


def test_rouge_l_sees_order_and_cosine_does_not() -> None:
    text, shuffled = "the cat sat on the mat today", "today mat the on sat cat the"
    assert bow_cosine(text, shuffled) == pytest.approx(1.0)
    assert CopyDetector(CopyMetric.ROUGE_L).similarity(shuffled, text) < 0.5
