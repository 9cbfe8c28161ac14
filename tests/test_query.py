"""``rag.query``: a topic change is searched as asked and a follow-up as rewritten, decided from
what the two searches find; an answer does not repeat the last one when others answer."""

from __future__ import annotations

import pytest

from rag.answer import Reading, ScoredSentence
from rag.cite import Evidence, strip_markers
from rag.query import resolve, support, unsaid
from rag.records import Passage

IDEF = "idef-2025-hasanov-gorgun"
ECB = "ecb-june-2025-rate-cut"
HASANOV = ("Who did Hasanov meet at IDEF 2025?",
           "During the visit, Colonel General Hasanov held a meeting with Haluk Görgün, Chairman of the Defense "
           "Industry Committee under the Presidency of the Republic of Türkiye [1]")


def passage(article_id: str, title: str, text: str) -> Passage:
    return Passage(article_id=article_id, title=title, url="", source="", date=None, text=text, start=0,
                   end=len(text), score=1.0)


MEETING = passage(IDEF, "Hasanov meets Haluk Görgün at IDEF 2025",
                  "Hasanov and Görgün reviewed the prospects for cooperation and discussed the defence industry.")
RATES = passage(ECB, "ECB cuts deposit rate to 2.00%",
                "The European Central Bank lowered its key rates, bringing the deposit facility rate to 2.00%.")
TALKS = passage("other-talks", "Union and employers discuss pay", "Drivers and employers discussed pay.")


def searcher(results: dict[str, list[Passage]]):  # noqa: ANN201 - a search function
    """A search that finds, for a query, the passages of the first key all of whose words it holds."""
    calls: list[str] = []

    def search(query: str) -> list[Passage]:
        calls.append(query)
        for words, found in results.items():
            if all(w in query for w in words.split()):
                return found
        return []

    return search, calls


def test_a_new_topic_is_searched_as_asked_even_with_its() -> None:
    question = "What did the ECB decide about its deposit rate?"
    search, calls = searcher({"Hasanov": [MEETING, RATES], "ECB": [RATES]})
    query, found = resolve(question, [HASANOV], search, lambda t: 1.0)
    assert (query, found) == (question, [RATES])
    assert calls[0] == question and "Hasanov" in calls[1]  # both were searched, the evidence decided


def test_a_follow_up_takes_the_rewrite_when_it_finds_better_support() -> None:
    search, _ = searcher({"Hasanov": [MEETING], "discuss": [TALKS]})
    query, found = resolve("What did they discuss?", [HASANOV], search, lambda t: 1.0)
    assert "Hasanov" in query and found == [MEETING]
    assert support("What did they discuss?", query, [MEETING], lambda t: 1.0) > \
        support("What did they discuss?", query, [TALKS], lambda t: 1.0)


def test_a_question_that_lands_on_the_conversations_topic_anyway_takes_the_focused_rewrite() -> None:
    search, _ = searcher({"Hasanov": [MEETING], "cooperation": [TALKS, MEETING]})
    query, found = resolve("What cooperation was reviewed?", [HASANOV], search, lambda t: 1.0)
    assert "Hasanov" in query and found == [MEETING]


def test_no_history_or_no_words_of_its_own_needs_one_search() -> None:
    search, calls = searcher({"Hasanov": [MEETING]})
    assert resolve("Who did Hasanov meet?", None, search, lambda t: 1.0) == ("Who did Hasanov meet?", [MEETING])
    query, found = resolve("And then?", [HASANOV], search, lambda t: 1.0)
    assert "Hasanov" in query and found == [MEETING] and len(calls) == 2


def _reading(*texts: str) -> Reading:
    scored = [ScoredSentence(Evidence(0, 0, len(t), t, 0.0), lexical=0.9 - i * 0.1, dense=0.8)
              for i, t in enumerate(texts)]
    return Reading(question="q", query="q", read=[MEETING], n_top=1, scored=scored, weights={})


def test_an_answer_does_not_repeat_the_last_one_when_another_sentence_answers() -> None:
    said = strip_markers(HASANOV[1])
    repeat = "During the visit, Colonel General Hasanov held a meeting with Haluk Görgün, Chairman of the Committee."
    new = "Hasanov and Görgün reviewed the prospects for cooperation in the defence industry."
    assert [s.evidence.text for s in unsaid(_reading(repeat, new), [HASANOV[1]], 0.3).scored] == [new]
    # When nothing else backs an answer, the repeat stays: it is still the best answer there is.
    assert unsaid(_reading(repeat, new), [said], 0.99).scored == _reading(repeat, new).scored
    assert unsaid(_reading(repeat, new), [], 0.3).scored == _reading(repeat, new).scored


def test_the_sample_conversation_changes_topic_and_follows_up(sample_assistant) -> None:
    first = sample_assistant.ask(HASANOV[0])
    history = [(first.question, first.text)]
    follow = sample_assistant.ask("What did they discuss?", history=history)
    assert "Hasanov" in follow.query and not follow.abstained and follow.citations[0].article_id == IDEF
    change = sample_assistant.ask("What did the ECB decide about its deposit rate?", history=history)
    assert change.query == change.question and not change.abstained
    assert change.citations[0].article_id == ECB and "2.00%" in change.text


@pytest.mark.xfail(strict=True, reason="issue 18 item 2, not fixed: the IDEF article's 'reviewed the prospects "
                   "for cooperation' sentence scores under min_support for 'What did they discuss?', so the "
                   "repeat stays the best supported answer")
def test_the_follow_up_says_what_was_discussed_not_the_meeting_again(sample_assistant) -> None:
    first = sample_assistant.ask(HASANOV[0])
    follow = sample_assistant.ask("What did they discuss?", history=[(first.question, first.text)])
    assert "held a meeting" not in follow.text and "cooperation" in follow.text
