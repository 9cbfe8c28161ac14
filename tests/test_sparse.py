"""The BM25 indexes: chunk-level and whole-article, built from real terms (bm25s)."""

import numpy as np

from index.records import Article
from index.sparse import article_bm25, chunk_bm25, scores


def _articles() -> list[Article]:
    return [
        # The question's two rare terms sit far apart in one story...
        Article(id="spread", title="Harbour news", url="https://example.com/1", source="example.com",
                text="The ferry operator ordered a hydrogen vessel. " + "Crews trained all winter. " * 20
                + "The vessel sails to Tromso in May."),
        # ...and side by side, once each, in stories about something else.
        Article(id="other", title="Travel", url="https://example.com/2", source="example.com",
                text="A hydrogen bus reached Tromso. " + "Tourists queued for tickets. " * 20),
        Article(id="none", title="Sport", url="https://example.com/3", source="example.com",
                text="The marathon record fell on Sunday."),
    ]


def test_article_scores_add_up_evidence_from_the_whole_article():
    arts = _articles()
    s = scores(article_bm25(arts), "hydrogen vessel Tromso")
    assert s.shape == (3,)
    assert s[0] > s[1] > s[2] == 0.0  # "vessel" twice and far apart still counts for the story


def test_unknown_or_stop_words_score_zero():
    bm25 = article_bm25(_articles())
    assert scores(bm25, "the of and").tolist() == [0.0, 0.0, 0.0]
    assert scores(bm25, "zyxwv").tolist() == [0.0, 0.0, 0.0]


def test_chunk_index_has_one_document_per_chunk_with_its_headline():
    arts = _articles()
    rows, starts, ends = [0, 0, 2], [0, 47, 0], [47, 200, 36]
    bm25 = chunk_bm25(arts, rows, starts, ends)
    assert int(bm25.scores["num_docs"]) == 3
    s = scores(bm25, "harbour")  # headline words are in every chunk of the article
    assert s[0] > 0 and s[1] > 0 and s[2] == 0
    assert np.argmax(scores(bm25, "marathon")) == 2
