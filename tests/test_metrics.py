"""Hand-computed cases for the pure evaluation metrics in ``eval/metrics.py``."""

from __future__ import annotations

import math

import pytest

from eval.metrics import (
    answer_accuracy,
    answer_f1,
    answer_in_context,
    citation_precision,
    hit_at_k,
    mrr_at_k,
    ndcg_at_k,
    normalize_answer,
    percentile,
    recall_at_k,
    top_k_articles,
)

RETRIEVAL = (hit_at_k, recall_at_k, mrr_at_k, ndcg_at_k)
D2, D3, D4 = 1 / math.log2(3), 1 / math.log2(4), 1 / math.log2(5)  # discounts at ranks 2, 3, 4


# ---- ranking helpers --------------------------------------------------------------------
def test_top_k_articles_cuts_passages_then_dedupes_in_rank_order():
    assert top_k_articles(retrieved=["a", "a", "b", "c"], k=3) == ["a", "b"]
    assert top_k_articles(retrieved=["a", "b"], k=10) == ["a", "b"]
    assert top_k_articles(retrieved=[], k=5) == []


# ---- retrieval metrics ------------------------------------------------------------------
def test_retrieval_metrics_on_a_hand_computed_ranking():
    retrieved, relevant = ["b", "a", "d", "c"], {"a", "c", "e"}
    assert hit_at_k(retrieved=retrieved, relevant=relevant, k=1) == 0.0
    assert hit_at_k(retrieved=retrieved, relevant=relevant, k=2) == 1.0
    assert recall_at_k(retrieved=retrieved, relevant=relevant, k=3) == pytest.approx(1 / 3)
    assert recall_at_k(retrieved=retrieved, relevant=relevant, k=10) == pytest.approx(2 / 3)
    assert mrr_at_k(retrieved=retrieved, relevant=relevant, k=1) == 0.0
    assert mrr_at_k(retrieved=retrieved, relevant=relevant, k=10) == 0.5
    # DCG: relevant at ranks 2 and 4; IDCG: three relevant at ranks 1..3.
    assert ndcg_at_k(retrieved=retrieved, relevant=relevant, k=10) == pytest.approx((D2 + D4) / (1 + D2 + D3))
    # At k=3 only the rank-2 hit counts, and the ideal still fills all three places.
    assert ndcg_at_k(retrieved=retrieved, relevant=relevant, k=3) == pytest.approx(D2 / (1 + D2 + D3))


def test_ndcg_ideal_is_capped_at_k_and_perfect_ranking_scores_one():
    # Two relevant articles but k=1: the ideal ranking has one place, so a hit at 1 is perfect.
    assert ndcg_at_k(retrieved=["a", "x"], relevant={"a", "b"}, k=1) == 1.0
    assert ndcg_at_k(retrieved=["b", "a", "x"], relevant={"a", "b"}, k=10) == pytest.approx(1.0)


def test_duplicate_passages_of_one_article_count_once_and_do_not_push_ranks():
    # Passages: a, a, b. Distinct articles: a (rank 1), b (rank 2).
    retrieved = ["a", "a", "b"]
    assert mrr_at_k(retrieved=retrieved, relevant={"b"}, k=3) == 0.5
    assert recall_at_k(retrieved=retrieved, relevant={"a", "b"}, k=3) == 1.0
    assert ndcg_at_k(retrieved=retrieved, relevant={"a", "b"}, k=3) == pytest.approx(1.0)
    # The cut is over passages: at k=2 only "a" is in.
    assert hit_at_k(retrieved=retrieved, relevant={"b"}, k=2) == 0.0
    assert recall_at_k(retrieved=retrieved, relevant={"a", "b"}, k=2) == 0.5


def test_duplicate_relevant_ids_do_not_inflate_the_denominator():
    assert recall_at_k(retrieved=["a"], relevant=["a", "a"], k=1) == 1.0
    assert ndcg_at_k(retrieved=["a"], relevant=["a", "a"], k=5) == 1.0


def test_ties_are_broken_by_the_given_rank_order():
    # Two passages with equal scores: the metric scores the order the retriever returned.
    assert mrr_at_k(retrieved=["x", "a"], relevant={"a"}, k=2) == 0.5
    assert mrr_at_k(retrieved=["a", "x"], relevant={"a"}, k=2) == 1.0


@pytest.mark.parametrize("metric", RETRIEVAL)
def test_empty_ranking_scores_zero(metric):
    assert metric(retrieved=[], relevant={"a"}, k=10) == 0.0


@pytest.mark.parametrize("metric", RETRIEVAL)
def test_no_relevant_ids_is_an_error(metric):
    with pytest.raises(ValueError, match="relevant"):
        metric(retrieved=["a"], relevant=set(), k=10)


@pytest.mark.parametrize("metric", RETRIEVAL)
@pytest.mark.parametrize("k", [0, -1, 2.0])
def test_bad_k_is_an_error(metric, k):
    with pytest.raises(ValueError, match="k must be"):
        metric(retrieved=["a"], relevant={"a"}, k=k)


def test_metrics_are_keyword_only():
    with pytest.raises(TypeError):
        hit_at_k(["a"], {"a"}, 1)  # type: ignore[misc]


# ---- normalisation and answers ----------------------------------------------------------
@pytest.mark.parametrize(("text", "expected"), [
    ("The Görgün-led SSB!", "gorgun led ssb"),
    ("  Haluk   GÖRGÜN. ", "haluk gorgun"),
    ("Hasanov's visit", "hasanov s visit"),
    ("An apple a day", "apple day"),
    ("Ana Petrović", "ana petrovic"),
    ("Nikola Đukić / København, Søren", "nikola dukic kobenhavn soren"),
    ("46.6°C", "46 6 c"),
    ("“Quoted” — text", "quoted text"),
    ("", ""),
])
def test_normalize_answer(text, expected):
    assert normalize_answer(text) == expected


def test_answer_accuracy_exact_contains_and_aliases():
    assert answer_accuracy(prediction="Haluk Görgün", answers=["Haluk Gorgun"]) == 1.0
    sentence = "Hasanov met Haluk Görgün, Chairman of the committee [1]."
    assert answer_accuracy(prediction=sentence, answers=["Haluk Görgün"]) == 1.0
    assert answer_accuracy(prediction="He met Görgün.", answers=["Haluk Görgün", "Görgün"]) == 1.0
    assert answer_accuracy(prediction="He met Görgün.", answers=["Haluk Görgün"]) == 0.0


def test_answer_accuracy_matches_whole_tokens_only():
    assert answer_accuracy(prediction="It was founded in 1944.", answers=["44"]) == 0.0
    assert answer_accuracy(prediction="Exhibitors from 44 countries.", answers=["44"]) == 1.0
    assert answer_accuracy(prediction="The Bills won.", answers=["the bills"]) == 1.0


def test_answer_accuracy_ignores_answers_that_normalise_to_nothing():
    assert answer_accuracy(prediction="the", answers=["The", "!"]) == 0.0


@pytest.mark.parametrize("answers", [[], "Görgün"])
def test_answers_must_be_a_non_empty_list(answers):
    with pytest.raises(ValueError, match="answers"):
        answer_accuracy(prediction="x", answers=answers)


def test_answer_f1_hand_computed_and_max_over_aliases():
    # Prediction "haluk gorgun chairman" vs answer "haluk gorgun": P = 2/3, R = 1, F1 = 0.8.
    assert answer_f1(prediction="Haluk Görgün, chairman", answers=["Haluk Görgün"]) == pytest.approx(0.8)
    # Alias "gorgun": P = 1/3, R = 1 -> 0.5; the full answer's 0.8 wins.
    assert answer_f1(prediction="Haluk Görgün, chairman", answers=["Görgün", "Haluk Görgün"]) == pytest.approx(0.8)
    assert answer_f1(prediction="Görgün", answers=["Haluk Görgün", "Görgün"]) == 1.0
    assert answer_f1(prediction="nothing in common", answers=["Görgün"]) == 0.0
    assert answer_f1(prediction="", answers=["Görgün"]) == 0.0


def test_answer_f1_counts_repeated_tokens_with_multiplicity():
    # Prediction "new new york" vs "new york": common = 2, P = 2/3, R = 1, F1 = 0.8.
    assert answer_f1(prediction="New new York", answers=["New York"]) == pytest.approx(0.8)


def test_answer_in_context_looks_only_at_the_first_k():
    contexts = ["IDEF opens\nThe fair opened.", "Talks\nHasanov met Haluk Görgün."]
    assert answer_in_context(answers=["Haluk Gorgun"], contexts=contexts, k=1) == 0.0
    assert answer_in_context(answers=["Haluk Gorgun"], contexts=contexts, k=2) == 1.0
    assert answer_in_context(answers=["IDEF"], contexts=contexts, k=1) == 1.0  # titles count
    assert answer_in_context(answers=["Görgün"], contexts=[], k=5) == 0.0


def test_citation_precision_is_the_share_of_supporting_citations():
    cited = ["Hasanov met Haluk Görgün.", "The fair runs until July 27.", "GÖRGÜN spoke."]
    assert citation_precision(cited=cited, answers=["Haluk Görgün", "Görgün"]) == pytest.approx(2 / 3)
    assert citation_precision(cited=cited[1:2], answers=["Görgün"]) == 0.0


def test_citation_precision_of_no_citations_is_an_error():
    with pytest.raises(ValueError, match="cited"):
        citation_precision(cited=[], answers=["x"])


# ---- percentiles ------------------------------------------------------------------------
def test_percentile_interpolates_between_ranks():
    assert percentile(values=[1, 2, 3, 4], q=50) == 2.5
    assert percentile(values=[10], q=95) == 10.0
    assert percentile(values=[1, 2, 3, 4, 5], q=95) == pytest.approx(4.8)
    assert percentile(values=[3, 1, 2], q=0) == 1.0
    assert percentile(values=[3, 1, 2], q=100) == 3.0


def test_percentile_with_ties():
    assert percentile(values=[5, 5, 5, 7], q=50) == 5.0
    assert percentile(values=[5, 5, 5, 7], q=95) == pytest.approx(6.7)


@pytest.mark.parametrize(("values", "q"), [([], 50), ([1.0], -1), ([1.0], 101)])
def test_percentile_rejects_bad_input(values, q):
    with pytest.raises(ValueError):
        percentile(values=values, q=q)


# ---- cross-check against ranx -----------------------------------------------------------
@pytest.mark.slow  # ranx compiles its metrics with numba on first use
def test_retrieval_metrics_agree_with_ranx():
    ranx = pytest.importorskip("ranx")
    rankings = {
        "q1": (["b", "a", "d", "c"], {"a", "c", "e"}),
        "q2": (["a", "x", "y"], {"a"}),
        "q3": (["x", "y", "z", "w", "v", "u", "t", "s", "r", "b"], {"b", "q"}),
        "q4": (["x", "y"], {"a"}),
    }
    qrels = ranx.Qrels({q: dict.fromkeys(rel, 1) for q, (_, rel) in rankings.items()})
    run = ranx.Run({q: {d: 1.0 - i / 100 for i, d in enumerate(ret)} for q, (ret, _) in rankings.items()})
    for k in (1, 3, 5, 10):
        theirs = ranx.evaluate(qrels, run, [f"hit_rate@{k}", f"recall@{k}", f"mrr@{k}", f"ndcg@{k}"],
                               make_comparable=True, return_mean=False)
        for i, (q, (ret, rel)) in enumerate(rankings.items()):
            assert hit_at_k(retrieved=ret, relevant=rel, k=k) == pytest.approx(theirs[f"hit_rate@{k}"][i]), q
            assert recall_at_k(retrieved=ret, relevant=rel, k=k) == pytest.approx(theirs[f"recall@{k}"][i]), q
            assert mrr_at_k(retrieved=ret, relevant=rel, k=k) == pytest.approx(theirs[f"mrr@{k}"][i]), q
            assert ndcg_at_k(retrieved=ret, relevant=rel, k=k) == pytest.approx(theirs[f"ndcg@{k}"][i]), q
