"""Numbered citations: one per passage, quoting every sentence cited from it."""

from datetime import date

from rag.cite import Evidence, number_citations
from rag.records import Passage

ARTICLE = ("The ferry Vesterhav made its first crossing on Tuesday. It replaced a diesel ship. "
           "The 50-metre vessel can carry 396 passengers. Tickets are unchanged.")


def _passage(article_id: str, start: int, end: int) -> Passage:
    return Passage(article_id=article_id, title="Ferry", url=f"https://example.com/{article_id}", source="example.com",
                   date=date(2025, 6, 3), text=ARTICLE[start:end], start=start, end=end, score=1.0,
                   chunk_id=f"{article_id}#0")


def _sentence(passage: int, text: str) -> Evidence:
    start = ARTICLE.index(text)
    return Evidence(passage=passage, start=start, end=start + len(text), text=text, score=0.5)


def test_two_sentences_of_one_passage_share_one_citation_quoting_both():
    first = "The ferry Vesterhav made its first crossing on Tuesday."
    last = "The 50-metre vessel can carry 396 passengers."
    passages = [_passage("a", 0, len(ARTICLE))]
    numbers, citations = number_citations([_sentence(0, first), _sentence(0, last)], passages)
    assert numbers == {0: 1} and len(citations) == 1
    quote = citations[0].quote
    # The quote holds both facts (the second is the one with the number) and is an exact span.
    assert quote.startswith(first) and quote.endswith(last) and "396" in quote
    assert ARTICLE[citations[0].quote_start:citations[0].quote_end] == quote


def test_passages_are_numbered_in_order_of_first_use():
    passages = [_passage("a", 0, 83), _passage("b", 0, len(ARTICLE))]
    evidence = [_sentence(1, "The 50-metre vessel can carry 396 passengers."),
                _sentence(0, "It replaced a diesel ship.")]
    numbers, citations = number_citations(evidence, passages)
    assert numbers == {1: 1, 0: 2}
    assert [(c.number, c.article_id, c.quote) for c in citations] == [
        (1, "b", "The 50-metre vessel can carry 396 passengers."), (2, "a", "It replaced a diesel ship.")]


def test_chunks_of_one_article_share_one_number_and_one_card():
    """Two chunks of one article (a retrieved one and its neighbour) are one source: one
    number, one citation quoting both sentences, the passage text joined where the chunks meet."""
    passages = [_passage("a", 0, 56), _passage("b", 0, len(ARTICLE)), _passage("a", 50, len(ARTICLE))]
    evidence = [_sentence(0, "The ferry Vesterhav made its first crossing on Tuesday."),
                _sentence(1, "It replaced a diesel ship."),
                _sentence(2, "The 50-metre vessel can carry 396 passengers.")]
    numbers, citations = number_citations(evidence, passages)
    assert numbers == {0: 1, 1: 2, 2: 1}
    assert [(c.number, c.article_id) for c in citations] == [(1, "a"), (2, "b")]
    a = citations[0]
    assert a.passage_text == ARTICLE and a.passage_start == 0  # the overlapping chunks, joined
    assert a.quote == ARTICLE[a.quote_start:a.quote_end]
    assert a.quote.startswith("The ferry") and a.quote.endswith("396 passengers.")


def test_chunks_far_apart_are_one_card_with_the_gap_marked():
    passages = [_passage("a", 0, 56), _passage("a", 83, len(ARTICLE))]
    evidence = [_sentence(0, "The ferry Vesterhav made its first crossing on Tuesday."),
                _sentence(1, "The 50-metre vessel can carry 396 passengers.")]
    numbers, [c] = number_citations(evidence, passages)
    assert numbers == {0: 1, 1: 1}
    assert c.quote == "The ferry Vesterhav made its first crossing on Tuesday. … " \
                      "The 50-metre vessel can carry 396 passengers."
    assert c.passage_text == f"{ARTICLE[:56]} … {ARTICLE[83:]}"
    assert (c.quote_start, c.quote_end) == (0, ARTICLE.index("396") + len("396 passengers."))
