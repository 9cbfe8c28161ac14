"""``rag.query``: a topic change is searched as asked and a follow-up as rewritten, decided from
what the two searches find; an answer does not repeat the last one when others answer."""

from __future__ import annotations

from dataclasses import replace

from rag.cite import Evidence, strip_markers
from rag.query import resolve, unsaid, with_context
from rag.reading import Reading, ScoredSentence
from rag.records import Passage

IDEF = "idef-2025-hasanov-gorgun"
ECB = "ecb-june-2025-rate-cut"
RESPIVA = "respiva-rsv-vaccine-eu-approval"
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


def test_the_decision_says_which_search_is_kept() -> None:
    search, _ = searcher({"Hasanov": [MEETING], "discuss": [TALKS]})
    seen = []

    def decide(rewrite: str, alone: list[Passage], rewritten: list[Passage]) -> bool:
        seen.append((rewrite, alone, rewritten))
        return False  # the rewrite found the meeting, yet the decision keeps the question as asked

    query, found = resolve("What did they discuss?", [HASANOV], search, decide)
    assert (query, found) == ("What did they discuss?", [TALKS])
    ((rewrite, alone, rewritten),) = seen
    assert "Hasanov" in rewrite and alone == [TALKS] and rewritten == [MEETING]
    # Without a history, or a word of its own to search with, nothing is decided.
    assert resolve("What did they discuss?", None, search, decide)[0] == "What did they discuss?"
    assert "Hasanov" in resolve("And then?", [HASANOV], search, decide)[0]
    assert len(seen) == 1


def test_no_history_or_no_words_of_its_own_needs_one_search() -> None:
    search, calls = searcher({"Hasanov": [MEETING]})

    def decide(rewrite: str, alone: list[Passage], rewritten: list[Passage]) -> bool:
        raise AssertionError("nothing to decide")

    assert resolve("Who did Hasanov meet?", None, search, decide) == ("Who did Hasanov meet?", [MEETING])
    query, found = resolve("And then?", [HASANOV], search, decide)
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


FILM = [("Who is Mira Kovač?", "\"The Salt Orchard\", the first feature by Croatian director Mira Kovač, won the Heart "
         "of Sarajevo for best film at the 31st Sarajevo Film Festival on Friday night [1]"),
        ("Which award did her film win?", "\"The Salt Orchard\", the first feature by Croatian director Mira Kovač, "
         "won the Heart of Sarajevo for best film at the 31st Sarajevo Film Festival on Friday night [1]")]
FLOODS = [("Who is Declan Furlong?", "Declan Furlong, a senior engineer with the council, said the flood barriers "
           "along the quays had held, but that water had entered the town centre through drains near the Old "
           "Bridge [1]")]
BRIDGE = [("How many vehicles a day are expected to use the Santaka Bridge?",
           "City officials expect around 25,000 vehicles a day to use the bridge once traffic patterns settle [1]"),
          ("Who cut the ribbon?", "Deputy mayor Rūta Jankauskienė cut the ribbon at a ceremony attended by several "
           "thousand residents, many of whom walked across the deck before it opened to vehicles [1]")]
VACCINE = [("What efficacy did Respiva show in its late-stage trial?",
            "In a late-stage trial involving about 24,000 participants in 14 countries, Respiva showed an efficacy "
            "of 83.7% against RSV lower respiratory tract disease during the first season after vaccination [1]")]


def test_a_question_naming_a_subject_of_its_own_is_searched_as_asked(sample_assistant) -> None:
    # One rare word of their own, outweighed in words by the conversation's story: the rewrite
    # found the film and the floods; the questions' meaning singles out their own stories.
    for question, history, story in (("What is Respiva?", FILM, RESPIVA),
                                     ("What is LPP?", FLOODS, "ljubljana-bus-fare-2025")):
        answer = sample_assistant.ask(question, history=history)
        assert answer.query == question and answer.citations[0].article_id == story


def test_the_conversations_story_lower_down_does_not_pull_a_named_question_back(sample_assistant) -> None:
    # The bridge's passage (a bus lane, EU funds: "bus", "union") is third for the question by
    # itself; it held the conversation's words, so the old rule took the rewrite and the bridge.
    question = "Who was the union's chief negotiator in the Helsinki bus strike?"
    answer = sample_assistant.ask(question, history=BRIDGE)
    assert answer.query == question and "Jari Nieminen" in answer.text


def test_a_follow_up_with_no_subject_of_its_own_takes_the_rewrite(sample_assistant) -> None:
    follow = sample_assistant.ask("What did they discuss?", history=[HASANOV])
    assert "Hasanov" in follow.query


def test_the_rewrite_carries_the_conversation_s_topic_not_an_earlier_story_or_asking_verbs():
    history = [("What did the newspaper write about the Church of England?", "It said God could be gender neutral [1]"),
               ("What did Apple announce for the iPhone?", "A new iPhone feature, Apple said on Wednesday [1]")]
    rewrite = with_context("When does it come out?", history)
    assert "Apple" in rewrite and "iPhone" in rewrite  # the last turn's story
    assert not {"newspaper", "write", "Church", "England"} & set(rewrite.split())  # the story before it
    # "got" asks; "work", "Artemis" name the topic.
    words = with_context("Who led it?", [("How much work got done on the Artemis mission?", "Most of it [1]")]).split()
    assert "got" not in words and {"work", "Artemis"} <= set(words)
    # The question before the last is carried when the last turn stayed on its story.
    history = [("Who did Hasanov meet at IDEF 2025?", "Haluk Görgün [1]"),
               ("What did they discuss?", "Hasanov and Görgün discussed the defence industry [1]")]
    assert "IDEF" in with_context("When was that?", history).split()
