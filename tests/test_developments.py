"""What a story's line is (rag/developments.py): a fact check's claim is not a development, and
a line is dated by the weekday it names, read against the publication date."""

from __future__ import annotations

from datetime import date

from rag.developments import checks_a_claim, event_day, is_claim_line

FRIDAY = date(2023, 2, 3)
TUESDAY = date(2023, 2, 7)


def test_a_weekday_dates_the_event_relative_to_the_publication_date():
    assert event_day("Officials postponed the trip, they said Friday.", TUESDAY) == FRIDAY
    assert event_day("A jet shot down the balloon Saturday afternoon.", date(2023, 2, 4)) == date(2023, 2, 4)
    # Stamped Friday, updated with Saturday's event: the day after, not eight days back.
    assert event_day("A jet shot down the balloon off the coast Saturday afternoon.", FRIDAY) == date(2023, 2, 4)
    assert event_day("The minister resigned on Monday.", TUESDAY) == date(2023, 2, 6)


def test_without_a_weekday_of_its_own_the_line_keeps_the_publication_date():
    assert event_day("The balloon drifted over Montana.", TUESDAY) == TUESDAY
    # "Saturday's derailment" names an earlier event; the line's own day is the next weekday, or none.
    assert event_day("Injuries from Saturday's derailment rose to 31.", TUESDAY) == TUESDAY
    assert event_day("Injuries from Saturday's derailment rose to 31, officials said on Sunday.",
                     date(2025, 10, 12)) == date(2025, 10, 12)
    assert event_day("The talks resume next Monday.", TUESDAY) == TUESDAY


def test_a_fact_check_is_told_by_its_headline_or_its_claim_and_rating_lines():
    assert checks_a_claim("Fact check: No, vigilante didn't shoot down balloon", "")
    assert checks_a_claim("Fact-check: image altered", "")
    assert checks_a_claim("Image altered to add marking", "The claim: Image shows a marking\n\nA post shows a jet.")
    assert checks_a_claim("Viral post misleads", "A post shows a jet.\n\nOur rating: False\n\nThe marking was added.")
    assert not checks_a_claim("Jet shoots down balloon", "A jet shot down the balloon. Officials claim: it spied.")
    assert is_claim_line("The claim: A vigilante shot down the balloon")
    assert not is_claim_line("Officials said the claim was false.")
