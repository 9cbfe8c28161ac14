"""Reports that differ (rag/conflicts.py): two sources giving different values are shown side by
side, a later report of the same source is an update, agreeing sources and ordinary questions get
no note. Over the real sample collection (real model and index) with constructed stories added."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from eval.questions import load_questions
from eval.scoring import score_question
from index.records import Article
from rag import conflicts
from rag.records import Passage

ROOT = Path(__file__).resolve().parents[1]
QUESTION = "How many people died when the ferry Kestrel capsized on Lake Orvan?"


def _ferry(article_id: str, source: str, day: date, lead: str, rest: str) -> Article:
    return Article(id=article_id, title="Ferry Kestrel capsizes on Lake Orvan", source=source, date=day,
                   url=f"https://{source}/2025/{article_id}", text=f"{lead}\n\n{rest}")


REST_A = ("The Kestrel, which carried about 90 passengers between Orvan harbour and the island of Sel, turned over "
          "in a sudden squall. Fishing boats pulled survivors from the water.")
REST_B = ("Survivors said the Kestrel had been crowded and listed badly before the squall hit. The harbour master "
          "has opened an inquiry into how many tickets were sold.")
REST_C = ("Divers recovered more bodies from the wreck overnight, the coastguard said. The lake ferry service "
          "to the island of Sel remains suspended.")


@pytest.fixture(scope="module")
def news(sample_assistant, tmp_path_factory):
    """The sample collection with three ferry stories added: two sources that differ on the toll
    (Lake Orvan), one source that updates its toll a day later (Lake Brenna), two sources that
    agree (Lake Tessel)."""
    assistant = sample_assistant.copy_to(tmp_path_factory.mktemp("conflicts") / "index")
    articles = [
        _ferry("orvan-a", "lakeside-news.example", date(2025, 6, 6),
               "Seventeen people died when the ferry Kestrel capsized on Lake Orvan on Friday, police said.", REST_A),
        _ferry("orvan-b", "orvan-herald.example", date(2025, 6, 7),
               "The ferry Kestrel capsized on Lake Orvan on Friday and 21 people died, the regional hospital said.",
               REST_B),
        Article(id="brenna-a", title="Barge Heron sinks on Lake Brenna", source="brenna-post.example",
                date=date(2025, 8, 1), url="https://brenna-post.example/heron-1",
                text="Nine people died when the barge Heron sank on Lake Brenna on Thursday, police said.\n\n"
                     "The Heron was carrying farm workers to the market at Dallow when its hull split."),
        Article(id="brenna-b", title="Lake Brenna barge toll rises", source="brenna-post.example",
                date=date(2025, 8, 2), url="https://brenna-post.example/heron-2",
                text="The number of people who died when the barge Heron sank on Lake Brenna has risen to 12, "
                     f"police said on Friday.\n\n{REST_C}"),
        Article(id="tessel-a", title="Tram Falcon derails in Tessel", source="tessel-daily.example",
                date=date(2025, 9, 3), url="https://tessel-daily.example/falcon",
                text="Four people were injured when the tram Falcon derailed in central Tessel on Wednesday.\n\n"
                     "The tram left the rails on a bend near the cathedral square."),
        Article(id="tessel-b", title="Falcon tram derailment in Tessel", source="tessel-radio.example",
                date=date(2025, 9, 3), url="https://tessel-radio.example/falcon",
                text="The tram Falcon derailed near the cathedral square in Tessel on Wednesday, and four people "
                     "were injured, the city said.\n\nInvestigators are looking at a worn switch."),
    ]
    report, build = assistant.add_articles(articles)
    assert build is not None and build.added == len(articles), report.summary()
    return assistant


def test_two_sources_with_different_numbers_are_both_shown(news):
    answer = news.ask(QUESTION)
    d = answer.disagreement
    assert d is not None and d.kind == "conflict", answer.text
    assert [(r.value, r.source, r.date) for r in d.reports] == [
        ("seventeen", "lakeside-news.example", date(2025, 6, 6)), ("21", "orvan-herald.example", date(2025, 6, 7))]
    assert d.note.startswith("Reports differ: seventeen according to lakeside-news.example (6 Jun 2025) [")
    assert d.note in answer.text
    by_number = {c.number: c for c in answer.citations}
    for r in d.reports:  # every side is cited, its sentence quoted
        assert f"[{r.citation}]" in d.note and r.citation in by_number
        assert by_number[r.citation].article_id == r.article_id and r.quote in by_number[r.citation].quote
    as_dict = json.loads(json.dumps(answer.to_dict()))
    assert as_dict["disagreement"]["kind"] == "conflict"
    assert [r["date"] for r in as_dict["disagreement"]["reports"]] == ["2025-06-06", "2025-06-07"]


def test_a_later_report_of_the_same_source_is_an_update(news):
    answer = news.ask("How many people died when the barge Heron sank on Lake Brenna?")
    d = answer.disagreement
    assert d is not None and d.kind == "update", answer.text
    assert [(r.value, r.date) for r in d.reports] == [("nine", date(2025, 8, 1)), ("12", date(2025, 8, 2))]
    assert "rose from nine (1 Aug 2025) [" in d.note and "to 12 by 2 Aug 2025 [" in d.note
    assert "Reports differ" not in answer.text


def test_sources_that_agree_get_no_note(news):
    answer = news.ask("How many people were injured when the tram Falcon derailed in Tessel?")
    assert not answer.abstained and "four" in answer.text.lower()
    assert answer.disagreement is None and "Reports differ" not in answer.text


def test_the_note_can_be_switched_off(news):
    answer = news.with_config(read={"conflicts": False}).ask(QUESTION)
    assert answer.disagreement is None and "Reports differ" not in answer.text
    assert answer.to_dict()["disagreement"] is None


def test_ordinary_sample_questions_get_no_note(sample_assistant):
    questions = [q for q in load_questions(ROOT / "eval" / "datasets" / "sample.jsonl")
                 if not q.unanswerable and not q.sides and not q.history]
    noted = [q.id for q in questions if sample_assistant.ask(q.question, as_of=q.as_of).disagreement is not None]
    assert len(questions) >= 60 and noted == []


def test_the_sample_conflict_questions_show_both_sides(sample_assistant):
    questions = [q for q in load_questions(ROOT / "eval" / "datasets" / "sample.jsonl") if q.sides]
    shown = []
    for q in questions:
        passages = sample_assistant.search(q.question, k=10)
        answer = sample_assistant.ask(q.question)
        shown.append(score_question(q, passages=passages, answer=answer, choice=None)["conflict_shown"])
    assert len(questions) >= 10 and sum(shown) / len(shown) >= 0.8


# ---- the values compared ------------------------------------------------------------------
def _values(kind: str, sentence: str, question: str, lower: frozenset[str] = frozenset()) -> list[str]:
    return [v.text for v in conflicts._values(kind, sentence, question, lower)]


def test_numbers_are_quantities_not_years_days_or_scores():
    q = "How many miners were killed?"
    assert _values("number", "Twelve miners were killed in 2025 on 4 November.", q) == ["twelve"]
    assert _values("number", "Rovers won 3-2 and 14 miners died.", q) == ["14"]
    # "how many miners" counts miners: a number of something else is not the answer
    assert _values("number", "About 60 workers were underground at 380 metres.", q) == []
    money = "How much did the stamp sell for?"
    assert _values("number", "The 1847 stamp sold for £1.9 million after 11 minutes.", money)[0] == "£1.9 million"
    assert conflicts.numbers("It cost €1.4 billion, up 12%.")[0].group(0).strip() == "€1.4 billion"


def test_dates_and_names_leave_out_what_the_question_says():
    assert _values("date", "Bids are due by 30 June, the ministry said on 2 June.",
                   "By what date are bids due, the ministry said on 2 June?") == ["30 June"]
    who = "Who did Hasanov meet at IDEF 2025?"
    assert _values("name", "Colonel General Hasanov met Haluk Görgün at IDEF 2025.", who) == ["Haluk Görgün"]
    # A sentence's first word seen in lower case elsewhere is an ordinary word, not part of the name.
    sunak = "What is the name of the deal?"
    assert _values("name", "Unlike Truss Sunak won.", sunak, frozenset({"unlike"})) == ["Truss Sunak"]
    assert _values("name", "Edgars Kalniņš scored.", sunak, frozenset({"scored"})) == ["Edgars Kalniņš"]


def test_undated_reports_are_not_compared():
    def p(day):
        return Passage(article_id="a", title="t", url="", source="s", date=day, text="x", start=0, end=1, score=1.0)

    assert conflicts._same_event(p(date(2025, 1, 1)), p(date(2025, 2, 1)))
    assert not conflicts._same_event(p(date(2025, 1, 1)), p(date(2025, 3, 1)))  # over 45 days apart
    assert not conflicts._same_event(p(None), p(date(2025, 1, 1)))


def test_a_side_from_an_article_the_answer_cites_joins_its_card():
    """The answer cites article b for one sentence; the note's side from b quotes another: b keeps
    one number and one card, which quotes both sentences."""
    from rag.answer import ScoredSentence
    from rag.cite import Evidence, number_citations
    from rag.records import Answer

    text_a = "Officials said 12 people died when the Kestrel capsized."
    text_b = "The Kestrel capsized on Lake Orvan on Sunday. The coastguard said 14 people died."
    a = Passage(article_id="a", title="A", url="https://a.example/1", source="a.example", date=date(2025, 5, 4),
                text=text_a, start=0, end=len(text_a), score=1.0, chunk_id="a#0")
    b = Passage(article_id="b", title="B", url="https://b.example/1", source="b.example", date=date(2025, 5, 5),
                text=text_b, start=0, end=len(text_b), score=0.9, chunk_id="b#0")
    first = text_b.split(". ")[0] + "."
    cited = [Evidence(0, 0, len(text_a), text_a, 0.9), Evidence(1, 0, len(first), first, 0.5)]
    _, citations = number_citations(cited, [a, b])
    answer = Answer(question=QUESTION, text=f"{text_a} [1] {first} [2]", citations=citations, passages=[a, b])
    died = text_b.index("The coastguard")
    side_b = Evidence(1, died, len(text_b), text_b[died:], 0.8)
    found = conflicts.Found(kind="conflict", sides=(
        conflicts.Side(ScoredSentence(cited[0], 1.0, 1.0), a, conflicts.Value("12 people", (12.0,), "people", 1)),
        conflicts.Side(ScoredSentence(side_b, 1.0, 1.0), b, conflicts.Value("14 people", (14.0,), "people", 1))))
    shown = conflicts.attach(answer, found)
    assert [(c.number, c.article_id) for c in shown.citations] == [(1, "a"), (2, "b")]
    assert shown.citations[1].quote == text_b and [r.citation for r in shown.disagreement.reports] == [1, 2]
