"""Tests for index.dates.find_date: url, text and html sources, and plausibility limits."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from index.dates import find_date


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://www.cnn.com/2023/01/12/politics/story/index.html", date(2023, 1, 12)),
        ("https://www.usatoday.com/story/news/2021/09/23/slug/5818026001/", date(2021, 9, 23)),
        ("https://example.com/2023/1/5/slug", date(2023, 1, 5)),
        ("https://example.com/news/20230112/slug", date(2023, 1, 12)),
        ("https://example.com/news/story-2023-01-12-slug", date(2023, 1, 12)),
        ("https://example.com/news/2023-01-12", date(2023, 1, 12)),
        ("https://www.theweek.co.uk/news/958570/ten-things-you-need-to-know-today-19-november-2022",
         date(2022, 11, 19)),
        ("https://example.com/news/january-12-2023-slug", date(2023, 1, 12)),
    ],
)
def test_date_from_url(url: str, expected: date) -> None:
    assert find_date(url=url) == expected


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/2023/01/slug",  # year and month only: day 1 would be a guess
        "https://example.com/2023/02/30/slug",  # impossible
        "https://example.com/1985/01/12/slug",  # before 1990
        "https://example.com/news/958570/story-5818026001",  # ids, not dates
        "https://www.theweek.co.uk/news/959223/ten-things-you-need-to-know-today-11-january-202",  # truncated
        "https://2023.example.com/story",
        "",
    ],
)
def test_no_date_from_url(url: str) -> None:
    assert find_date(url=url) is None


def test_far_future_is_rejected_but_near_future_allowed() -> None:
    soon = date.today() + timedelta(days=30)
    far = date.today() + timedelta(days=400)
    assert find_date(url=f"https://example.com/{soon:%Y/%m/%d}/x") == soon
    assert find_date(url=f"https://example.com/{far:%Y/%m/%d}/x") is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Updated Jan. 12, 2023\nThe story.", date(2023, 1, 12)),
        ("Published 3:45 PM EST, Thu January 12, 2023\nThe story.", date(2023, 1, 12)),
        ("By Jane Doe, USA TODAY\nJanuary 12, 2023\nThe story.", date(2023, 1, 12)),
        ("12 January 2023\nThe story.", date(2023, 1, 12)),
        ("2023-01-12\nThe story.", date(2023, 1, 12)),
        ("2023/01/12 10:30 UTC\nThe story.", date(2023, 1, 12)),
        (" date 2025-07-23 Azerbaijani Defense Minister Continues Official Visit", date(2025, 7, 23)),
        ("Sept. 5, 2022 | 4 min read\nThe story.", date(2022, 9, 5)),
        ("THURSDAY, MAY 19, 2016\nThe story.", date(2016, 5, 19)),
        ("Updated Jan. 14, 2023\nPublished Jan. 12, 2023\nThe story.", date(2023, 1, 12)),
        ("2023-01-12T10:00:00Z", date(2023, 1, 12)),
        ("Thu, 12 Jan 2023 10:00:00 GMT", date(2023, 1, 12)),
    ],
)
def test_date_from_text(text: str, expected: date) -> None:
    assert find_date(text=text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "On January 6, 2021, rioters stormed the Capitol.",  # mid-sentence: a fact, not a dateline
        "January 6, 2021, was a dark day for the country.",  # starts a line but is a sentence
        "This story was originally published Sept. 15, 2013.",
        "Updated Feb. 30, 2023\nThe story.",  # impossible
        "Published March 3, 1975\nThe story.",  # before 1990
        "The story has no date at all.",
        "",
    ],
)
def test_no_date_from_text(text: str) -> None:
    assert find_date(text=text) is None


def test_only_the_start_of_the_text_is_read() -> None:
    assert find_date(text="x" * 2_000 + "\nUpdated Jan. 12, 2023\n") is None


def test_url_wins_over_text() -> None:
    found = find_date(url="https://example.com/2022/03/04/story", text="Updated Jan. 12, 2023\nThe story.")
    assert found == date(2022, 3, 4)


def test_text_is_used_when_url_has_only_year_and_month() -> None:
    found = find_date(url="https://example.com/2023/01/story", text="Updated Jan. 12, 2023\nThe story.")
    assert found == date(2023, 1, 12)


def test_date_from_html_metadata() -> None:
    html = (
        '<html><head><meta property="article:published_time" content="2022-03-04T10:00:00Z">'
        "</head><body><p>A story.</p></body></html>"
    )
    assert find_date(html=html) == date(2022, 3, 4)
    assert find_date(url="https://example.com/2021/05/06/x", html=html) == date(2021, 5, 6)


def test_html_without_date_and_garbage_html_give_none() -> None:
    assert find_date(html="<html><body><p>No date here.</p></body></html>") is None
    assert find_date(html="\x00\x01 not html") is None
