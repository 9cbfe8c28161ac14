"""Retrieval on the real sample collection: hybrid search, filters, diversity."""

from datetime import date

import pytest

from index.filters import Filters, to_date
from rag.fuse import reciprocal_rank_fusion

pytestmark = pytest.mark.slow


def test_rrf_hand_computed():
    fused = dict(reciprocal_rank_fusion([[1, 2, 3], [3, 1]], k=60))
    assert fused[1] == pytest.approx(1 / 61 + 1 / 62)
    assert fused[3] == pytest.approx(1 / 63 + 1 / 61)
    assert fused[2] == pytest.approx(1 / 62)
    assert reciprocal_rank_fusion([], k=60) == []
    # ties keep first appearance order
    assert [i for i, _ in reciprocal_rank_fusion([[5], [6]], k=60)] == [5, 6]
    # a weighted list counts more
    weighted = dict(reciprocal_rank_fusion([[1, 2], [2, 1]], k=60, weights=[1.0, 2.0]))
    assert weighted[2] == pytest.approx(1 / 62 + 2 / 61) and weighted[2] > weighted[1]
    with pytest.raises(ValueError, match="one weight per ranking"):
        reciprocal_rank_fusion([[1]], k=60, weights=[1.0, 2.0])


def test_to_date_errors_are_clear():
    assert to_date("2025-07-23") == date(2025, 7, 23)
    with pytest.raises(ValueError, match="as_of must be a date like"):
        to_date("yesterday-ish", name="as_of")


@pytest.mark.parametrize("mode", ["hybrid", "dense", "bm25"])
def test_idef_article_ranks_first(sample_assistant, mode):
    hits = sample_assistant.with_config(retrieve={"mode": mode}).search("Who did Hasanov meet at IDEF 2025?", k=5)
    assert hits[0].article_id == "idef-2025-hasanov-gorgun"
    assert hits == sorted(hits, key=lambda p: -p.score)
    for p in hits:  # passage text is exactly the article span
        art = sample_assistant._state.store.articles[sample_assistant._state.store.article_row[p.article_id]]
        assert art.text[p.start:p.end] == p.text


def test_one_passage_per_article_by_default(sample_assistant):
    hits = sample_assistant.search("defence industry exhibition Istanbul", k=10)
    ids = [p.article_id for p in hits]
    assert len(ids) == len(set(ids))


def test_date_and_source_filters(sample_assistant):
    q = "Hasanov defence minister meeting"
    hits = sample_assistant.search(q, k=10, date_from="2025-07-01", date_to="2025-07-31")
    assert hits and all(p.date and date(2025, 7, 1) <= p.date <= date(2025, 7, 31) for p in hits)
    hits = sample_assistant.search(q, k=10, sources=["azernews.az"])
    assert hits and all(p.source == "azernews.az" for p in hits)
    # as_of leaves out later articles but keeps undated ones
    hits = sample_assistant.search(q, k=20, as_of="2025-05-01")
    assert all(p.date is None or p.date <= date(2025, 5, 1) for p in hits)
    assert "idef-2025-hasanov-gorgun" not in {p.article_id for p in hits}
    assert sample_assistant.search(q, k=5, sources=["no-such-source"]) == []


def test_filters_active():
    assert not Filters().active()
    assert Filters(sources=("x",)).active()


def test_bad_k_is_rejected(sample_assistant):
    with pytest.raises(ValueError, match="k must be between 1 and 100"):
        sample_assistant.search("anything", k=0)
