"""``rag.query``: a topic change is searched as asked and a follow-up as rewritten, decided from
what the two searches find; an answer does not repeat the last one when others answer."""

from __future__ import annotations

from dataclasses import replace

from rag.answer import Reading, ScoredSentence
from rag.cite import Evidence, strip_markers
from rag.query import evidence, resolve, unsaid
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
    assert evidence("What did they discuss?", query, MEETING, lambda t: 1.0) > \
        evidence("What did they discuss?", query, TALKS, lambda t: 1.0)


def test_a_follow_up_without_a_pronoun_is_found_by_the_evidence_too() -> None:
    # Three words of its own and no pronoun: the old rule searched it as asked.
    strike = ("How long did the Helsinki bus strike last?", "Bus drivers in Helsinki ended a nine-day strike [1]")
    deal = passage("helsinki-strike", "Helsinki bus drivers end nine-day strike after pay deal",
                   "The deal gives about 1,900 drivers pay rises totalling 6.8% over two years.")
    nurses = passage("nurses-pay", "Nurses accept pay offer", "Nurses were offered pay rises of 4%.")
    search, calls = searcher({"Helsinki": [deal, nurses], "pay": [nurses, deal]})
    query, found = resolve("How big were the pay rises?", [strike], search, lambda t: 1.0)
    assert "Helsinki" in query and found[0] == deal and calls[0] == "How big were the pay rises?"


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


def test_a_repeat_is_a_sentence_the_last_answer_quoted_in_part_not_one_naming_its_answer() -> None:
    lead = ("Altamira Semiconductors reported second-quarter revenue of $4.1 billion on Wednesday, up 28% from a "
            "year earlier and ahead of analysts' average estimate of $3.9 billion.")
    ceo = "Chief executive Priya Raman said demand from customers building AI infrastructure was strong."
    quoted = "Altamira Semiconductors reported second-quarter revenue of $4.1 billion on Wednesday, up 28% [1]"
    assert [s.evidence.text for s in unsaid(_reading(lead, ceo), [quoted], 0.3).scored] == [ceo]
    # A short answer ("Haluk Görgün") is no sentence: the sentences naming him are not repeats.
    meeting = "During the visit, Colonel General Hasanov held a meeting with Haluk Görgün, Chairman of the Committee."
    assert unsaid(_reading(meeting, ceo), ["Haluk Görgün [1]"], 0.3).scored == _reading(meeting, ceo).scored


def test_a_repeat_stays_when_it_alone_holds_what_the_new_question_asks() -> None:
    approval = "The Commission approved Respiva, a vaccine developed by the company Halden Biologics."
    trial = "In a late-stage trial, Respiva showed an efficacy of 83.7% against the disease."
    reading = replace(_reading(approval, trial), question="Which company developed it?",
                      weights={"compani": 1.0, "develop": 1.0})
    assert unsaid(reading, [approval + " [1]"], 0.3).scored == reading.scored


def test_the_sample_conversation_changes_topic_and_follows_up(sample_assistant) -> None:
    first = sample_assistant.ask(HASANOV[0])
    history = [(first.question, first.text)]
    follow = sample_assistant.ask("What did they discuss?", history=history)
    assert "Hasanov" in follow.query and not follow.abstained and follow.citations[0].article_id == IDEF
    change = sample_assistant.ask("What did the ECB decide about its deposit rate?", history=history)
    assert change.query == change.question and not change.abstained
    assert change.citations[0].article_id == ECB and "2.00%" in change.text


def test_the_follow_up_says_what_was_discussed_not_the_meeting_again(sample_assistant) -> None:
    first = sample_assistant.ask(HASANOV[0])
    follow = sample_assistant.ask("What did they discuss?", history=[(first.question, first.text)])
    assert "held a meeting" not in follow.text and "cooperation" in follow.text
