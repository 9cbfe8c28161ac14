"""rag.choice: each option's evidence in what was read, and the features the chooser weighs."""

from __future__ import annotations

import numpy as np

from index.tokenize import terms
from rag.choice import OPTION_FEATURES, mentions, option_features, tally
from rag.records import Passage


def _passage(article_id: str, title: str, text: str) -> Passage:
    return Passage(article_id=article_id, title=title, url="", source="", date=None, text=text, start=0,
                   end=len(text), score=1.0)


def _idf(term: str) -> float:
    return 2.0


PASSAGES = [
    _passage("a1", "Ferry strike ends", "The ferry strike ended on Monday. Union leader Maria Ortiz signed the deal."),
    _passage("a2", "Maria Ortiz signs deal", "Maria Ortiz said the ferry strike was over. Ports reopened."),
    _passage("a3", "Ports reopen", "Shipping resumed at the ports. The mayor, Tom Reyes, welcomed the news."),
]
QUESTION = "Who signed the deal that ended the ferry strike?"
CHOICES = ["Maria Ortiz", "Tom Reyes", "Ana Lopez"]


def test_mentions_whole_phrase_or_all_its_terms():
    text = "Ortiz, Maria, signed it; Tom Reyes watched."
    found = dict(mentions(text, set(terms(text)), [c.lower() for c in CHOICES], [set(terms(c)) for c in CHOICES]))
    assert found == {0: 0.7, 1: 1.0}


def test_tally_counts_votes_articles_and_rank():
    t = tally(QUESTION, CHOICES, PASSAGES, PASSAGES, _idf)
    assert t.hand[0] > t.hand[1] > 0 and t.hand[2] == 0
    assert t.articles == [2 / 3, 1 / 3, 0.0]
    assert t.titles == [1 / 3, 0.0, 0.0]
    assert t.first_rank == [0, 2, len(PASSAGES)]
    assert t.sentences == [2, 1, 0]
    assert t.evidence(0).text == "Union leader Maria Ortiz signed the deal."
    assert t.evidence(2) is None
    shares = t.mixed()  # no reader: the hand-set shares
    assert abs(sum(shares) - 1) < 1e-9 and shares.index(max(shares)) == 0


def test_features_one_row_per_option_and_negation_flag():
    t = tally(QUESTION, CHOICES, PASSAGES, PASSAGES, _idf)
    x = option_features(QUESTION, t, _idf)
    assert x.shape == (3, len(OPTION_FEATURES))
    col = {name: i for i, name in enumerate(OPTION_FEATURES)}
    assert np.isnan(x[:, col["reader"]]).all()  # no reader votes were added
    assert x[0, col["hand_rank"]] == 0 and x[2, col["hand_rank"]] == 2
    assert (x[:, col["negated"]] == 0).all()
    negated = option_features("Who did not sign the deal?", t, _idf)
    assert (negated[:, col["negated"]] == 1).all()
    assert (x[:, col["options"]] == 3).all()


def test_no_evidence_at_all_gives_equal_shares():
    t = tally("Who won the chess final?", ["Magnus", "Ding"], PASSAGES, PASSAGES, _idf)
    assert t.mixed() == [0.5, 0.5]


def test_hypotheses_say_whether_the_search_with_each_choice_names_it():
    from rag.choice import HYPOTHESIS_HITS, add_hypotheses

    t = tally(QUESTION, CHOICES, PASSAGES, PASSAGES, _idf)
    found = [[PASSAGES[2], PASSAGES[0]], [PASSAGES[2]], []]  # as the search of "question + choice" returned
    t = add_hypotheses(t, QUESTION, found, _idf)
    assert t.hyp_named == [1 / HYPOTHESIS_HITS, 1 / HYPOTHESIS_HITS, 0.0]
    assert t.hyp_first == [1, 0, HYPOTHESIS_HITS]
    assert t.hyp_coverage[0] > t.hyp_coverage[1] and t.hyp_coverage[2] == 0.0
    x = option_features(QUESTION, t, _idf)
    col = OPTION_FEATURES.index("hyp_share")
    assert x[0, col] == 1.0 and x[2, col] == 0.0
