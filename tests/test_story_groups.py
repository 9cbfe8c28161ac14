"""Story groups downstream of the index: one slot per story in retrieval, the other copies on
each passage and citation, "also published by" on the card, and evaluation both ways."""

from __future__ import annotations

import json
import re
from datetime import date

import pytest
from wire import other_report, wire_copies

from eval import metrics as m
from eval.variants import VARIANTS
from index.build import write_collection
from index.records import Article
from index.store import IndexStore
from rag.config import Config
from rag.records import Citation, Copy, Passage
from rag.retrieve import Retriever
from ui import render

FILLER = [
    Article(id=f"f{i}", title=f"Council meeting {i}", source="town.example", date=date(2025, 3, 1),
            text=f"The town council met on Tuesday to discuss item {i} of the budget, parking and parks. " * 6)
    for i in range(6)
]


@pytest.fixture
def store(tmp_path, hash_embedder):
    write_collection(tmp_path, [*wire_copies(), other_report(), *FILLER], embedder=hash_embedder, progress=False)
    return IndexStore.load(tmp_path)


def _search(store, embedder, **changes):
    config = Config(rerank={"articles": 0}).replace(**changes)
    return Retriever(store, embedder, config).run("Valmora port strike dock workers pay automation", k=8)


def test_copies_of_one_story_take_one_slot_and_the_rest_ride_along(store, hash_embedder):
    hits = _search(store, hash_embedder)
    wire_ids = {a.id for a in wire_copies()}
    shown = [p for p in hits if p.article_id in wire_ids]
    assert len(shown) == 1
    assert {c.article_id for c in shown[0].also} == wire_ids - {shown[0].article_id}
    assert "feature-valmora-pickets" in {p.article_id for p in hits}  # the other story keeps its slot
    assert next(p for p in hits if p.article_id == "feature-valmora-pickets").also == ()
    # Without story groups every copy takes a slot, as before.
    before = _search(store, hash_embedder, **{"retrieve.story_groups": False})
    assert len([p for p in before if p.article_id in wire_ids]) == 5
    assert VARIANTS["hybrid-stories"] == {"retrieve.mode": "hybrid", "retrieve.story_groups": False}


def test_reranked_search_keeps_one_copy_per_story(store, hash_embedder):
    hits = Retriever(store, hash_embedder, Config()).run("Valmora port strike dock workers", k=8)
    wire_ids = {a.id for a in wire_copies()}
    assert len([p for p in hits if p.article_id in wire_ids]) == 1


def test_copies_travel_in_the_records_json():
    copy = Copy(article_id="b", title="Strike", url="https://wtop.com/s", source="wtop.com", date=date(2025, 3, 3))
    p = Passage(article_id="a", title="Strike", url="", source="apnews.com", date=None, text="t", start=0, end=1,
                score=1.0, also=(copy,))
    d = json.loads(json.dumps(p.to_dict()))
    assert d["also"] == [{"article_id": "b", "title": "Strike", "url": "https://wtop.com/s", "source": "wtop.com",
                          "date": "2025-03-03"}]
    assert Copy.from_dict(d["also"][0]) == copy


def test_the_card_says_also_published_by_with_links():
    copies = tuple(Copy(article_id=f"c{i}", title="Strike", url=f"https://{s}/strike", source=s, date=None)
                   for i, s in enumerate(["apnews.com", "wtop.com", "a.example", "b.example", "c.example",
                                          "d.example"]))
    c = Citation(number=1, article_id="x", title="Strike", url="https://x.example/s", source="x.example",
                 date=None, quote="q", score=1.0, also=copies)
    html = render._citation_card(c, turn=1)
    assert re.sub("<[^>]+>", "", render.also_html(copies)) == "Also published by apnews.com, wtop.com and 4 more"
    assert 'href="https://apnews.com/strike"' in html and 'href="https://wtop.com/strike"' in html
    assert "Also published by" not in render._citation_card(Citation(**{**c.__dict__, "also": ()}), turn=1)
    # A copy on the card's own site is another version of the story: named by its date.
    version = Copy(article_id="v", title="Strike", url="https://x.example/old", source="x.example",
                   date=date(2025, 3, 2))
    assert "x.example (2025-03-02)" in render.also_html((version,), source="x.example")
    # Copies' fields are escaped like everything else from an article.
    hostile = Copy(article_id="h", title="t", url="javascript:alert(1)", source="<b>x</b>", date=None)
    assert "<b>" not in render.also_html((hostile,)) and "javascript:" not in render.also_html((hostile,))


def test_story_metrics_count_a_gold_article_found_through_its_copy():
    retrieved = ["a", "x", "y"]
    copies = [["gold"], [], []]  # "a" is a copy of the gold article
    assert m.recall_at_k(retrieved=retrieved, relevant={"gold"}, k=3) == 0.0
    assert m.story_recall_at_k(retrieved=retrieved, copies=copies, relevant={"gold"}, k=3) == 1.0
    assert m.story_mrr_at_k(retrieved=["x", "a"], copies=[[], ["gold"]], relevant={"gold"}, k=2) == 0.5
    assert m.story_recall_at_k(retrieved=retrieved, copies=copies, relevant={"gold", "z"}, k=3) == 0.5
    assert m.story_recall_at_k(retrieved=retrieved, copies=copies, relevant={"gold"}, k=1) == 1.0
    assert m.story_recall_at_k(retrieved=["x", "a"], copies=[[], ["gold"]], relevant={"gold"}, k=1) == 0.0
    with pytest.raises(ValueError, match="one copies entry per retrieved passage"):
        m.story_recall_at_k(retrieved=retrieved, copies=[[]], relevant={"gold"}, k=3)


def test_copy_slots_count_articles_that_repeat_a_story_ranked_above():
    # a, b, c are one story; d is alone: two slots went to copies.
    retrieved = ["a", "d", "b", "c", "a"]
    copies = [["b", "c"], [], ["a", "c"], ["a", "b"], ["b", "c"]]
    assert m.copy_slots_at_k(retrieved=retrieved, copies=copies, k=5) == 2.0
    assert m.copy_slots_at_k(retrieved=retrieved, copies=copies, k=2) == 0.0
    assert m.copy_slots_at_k(retrieved=[], copies=[], k=10) == 0.0
