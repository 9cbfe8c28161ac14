"""Reading a question once (rag/question.py): the answer kind, a developments question and its
story, the dates it names, and whether it leans on the conversation. Most wordings here are
not the sample's: a rule over question wording must hold on wordings it was not written for."""

from __future__ import annotations

from datetime import date

import pytest

from rag.question import story_names, understand

AS_OF = date(2025, 4, 1)


@pytest.mark.parametrize(("text", "kind"), [
    ("When did the ceasefire take effect?", "date"),
    ("On what date was the bridge reopened?", "date"),
    ("Which year did the festival first run?", "date"),
    ("How many passengers were on board?", "number"),
    ("By how much did fuel prices rise?", "number"),
    ("What percentage of voters backed the plan?", "number"),
    ("Who replaced the outgoing governor?", "name"),
    ("Whose painting sold for a record price?", "name"),
    ("Which club signed the striker?", "name"),
    ("What was the name of the storm?", "name"),
    ("Where will the summit be held?", "place"),
    ("Which city hosts the next games?", "place"),
    ("Why did the talks collapse?", None),
])
def test_the_answer_kind_comes_from_the_question_s_form(text, kind):
    assert understand(text).kind == kind


@pytest.mark.parametrize(("text", "amount", "counted"), [
    ("How many miners were trapped?", "count", "miner"),
    ("How deep is the new tunnel?", "measure", None),
    ("How long did the blackout last?", "measure", None),
    ("How much did the stadium cost?", "money", None),
    ("Who won the vote?", None, None),
])
def test_a_number_question_says_what_it_counts(text, amount, counted):
    asked = understand(text)
    assert (asked.amount, asked.counted) == (amount, counted)


def test_asks_who_only_for_people():
    assert understand("Who did she replace?").asks_who
    assert understand("whom did the jury pick?").asks_who
    assert not understand("Which company developed it?").asks_who


def test_developments_questions_are_told_from_other_questions():
    for q in ("What happened with the port strike?", "How did the Valmora port strike end?",
              "What has happened since March?", "Timeline of the strike", "What is the latest on the talks?",
              "How has the dispute developed?", "How did the merger talks play out?",
              "What were the developments in the trial?"):
        assert understand(q).intent == "developments", q
    for q in ("Who was appointed arbitrator?", "How many ships waited?", "Which union went on strike?",
              "How did Tom Brady announce his retirement?", "Why did the bank fail?"):
        assert understand(q).intent == "fact", q


def test_a_developments_question_names_its_story_or_leans_on_the_conversation():
    assert understand("How did the Valmora port strike end?").names_story
    assert understand("What happened with the rail tender?").names_story
    assert not understand("How did it end?").names_story
    assert not understand("What happened since March?").names_story
    assert not understand("Who won the cup?").names_story  # not a developments question


def test_a_story_s_names_are_its_capitalised_words():
    assert story_names("How did the Meridian Lines takeover end?") == ["meridian", "line"]
    assert story_names("What happened to the Valmora port strike since March?") == ["valmora"]
    assert story_names("How did the port strike end?") == []


def test_a_year_named_outside_since_is_the_question_s_year():
    assert understand("What happened at the 2023 Oscars?").year == 2023
    assert understand("What happened since March 2024?").year is None
    assert understand("From 2019 to 2021?").year is None and understand("What happened?").year is None


@pytest.mark.parametrize(("text", "expected"), [
    ("What happened since March?", date(2025, 3, 1)),
    ("What happened since March 10?", date(2025, 3, 10)),
    ("since 10 March 2024", date(2024, 3, 10)),
    ("since mid-March", date(2025, 3, 1)),
    ("since May", date(2024, 5, 1)),  # after as_of's month: last year's May
    ("since 2024", date(2024, 1, 1)),
    ("since February 30", date(2025, 2, 1)),
    ("since the vote", None),
    ("What happened?", None),
])
def test_since_reads_the_start_of_a_story(text, expected):
    assert understand(text, AS_OF).since == expected


def test_relative_dates_are_read_against_as_of():
    day = date(2025, 7, 25)
    assert understand("What happened this week?", day).window == (date(2025, 7, 18), date(2025, 7, 25))
    assert understand("What happened yesterday?", day).window == (date(2025, 7, 24), date(2025, 7, 24))
    assert understand("Who resigned last month?", day).window == (date(2025, 5, 24), date(2025, 7, 25))
    assert understand("Who won the cup?", day).window is None


def test_needs_context_when_it_leans_on_an_earlier_turn():
    assert understand("And what did they discuss?").needs_context
    assert understand("Why?").needs_context
    assert not understand("Which company opened a battery factory in Tampere?").needs_context


@pytest.mark.parametrize(("text", "negated"), [
    ("Which of these companies did not report a loss?", True),
    ("All of the following joined the alliance except which country?", True),
    ("Which player wasn't selected for the squad?", True),
    ("Which claim about the merger is false?", True),
    ("Which country joined the alliance?", False),
    ("Who won the final on Sunday?", False),
])
def test_negation_is_read_once_in_the_question(text, negated):
    assert understand(text).negated is negated
