"""Filters that explain themselves: a source the collection lacks is named with the nearest
known names, a reversed range is refused, and filters that leave nothing say so."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from index.build import write_collection
from index.filters import ArticleFacets, Filters, check_range, nearest_sources, unknown_source_warnings
from index.settings import IndexSettings
from index.store import IndexStore
from rag import Assistant
from rag.config import Config
from tests.conftest import HashEmbedder, make_articles

SETTINGS = IndexSettings(model="hash-64", chunk_tokens=32, chunk_overlap=8)
SOURCES = ["usatoday.com", "apnews.com", "cnn.com", "usnews.com", "Reuters.com"]


def _store(tmp_path: Path) -> IndexStore:
    articles = [replace(a, source=SOURCES[i], date=date(2023, 1, 10 + i)) for i, a in enumerate(make_articles(5))]
    write_collection(tmp_path / "idx", articles, settings=SETTINGS, embedder=HashEmbedder(), progress=False)
    return IndexStore.load(tmp_path / "idx", settings=SETTINGS)


@pytest.fixture
def assistant(tmp_path: Path) -> Assistant:
    config = Config(index=SETTINGS, rerank={"articles": 0})
    return Assistant(_store(tmp_path), config=config, embedder=HashEmbedder())


def test_the_nearest_names_are_offered_first():
    assert nearest_sources("usatoday", SOURCES)[0] == "usatoday.com"
    assert nearest_sources("reuters", SOURCES) == ["Reuters.com"]  # case-blind, spelled as the articles do
    assert nearest_sources("cnm.com", SOURCES)[0] == "cnn.com"  # a typo: by spelling
    assert nearest_sources("nosuch.example", SOURCES) == []


def test_only_unknown_sources_are_warned_about_and_some_known_names_are_offered():
    assert unknown_source_warnings(["CNN.com"], SOURCES) == []
    [line] = unknown_source_warnings(["usatoday", "cnn.com"], SOURCES)
    assert "'usatoday'" in line and "'usatoday.com'" in line
    [line] = unknown_source_warnings(["nosuch.example"], SOURCES)
    assert "5 sources include 'Reuters.com', 'apnews.com', 'cnn.com'" in line


def test_a_reversed_range_is_refused_naming_both_dates():
    check_range(date(2023, 1, 1), date(2023, 1, 1))  # one day is a range
    with pytest.raises(ValueError, match="2023-03-01 is after --until 2023-01-01"):
        check_range(date(2023, 3, 1), date(2023, 1, 1), names=("--since", "--until"))


def test_facets_say_when_the_filters_leave_nothing(tmp_path):
    facets = ArticleFacets(_store(tmp_path))
    assert facets.explain(Filters(as_of=date(2026, 1, 1), sources=("cnn.com",))) == ([], False)
    lines, nothing = facets.explain(Filters(date_from=date(2024, 1, 1)))
    assert nothing and "from 2024-01-01" in lines[-1] and "2023-01-10 to 2023-01-14" in lines[-1]
    lines, nothing = facets.explain(Filters(sources=("usatoday", "cnn.com")))
    assert not nothing and len(lines) == 1 and "usatoday.com" in lines[0]


def test_ask_with_an_unknown_source_says_so_and_offers_the_known_name(assistant):
    answer = assistant.ask("harbour bridge opens today", sources=["usatoday"])
    assert answer.abstained and answer.passages == []
    assert any("'usatoday'" in w and "usatoday.com" in w for w in answer.warnings), answer.warnings
    assert any("No article of the collection matches" in w for w in answer.warnings)
    assert answer.to_dict()["warnings"] == answer.warnings


def test_one_unknown_source_among_known_ones_is_still_warned_about(assistant):
    answer = assistant.ask("harbour bridge opens today", sources=["nosuch.example", "usatoday.com"])
    assert answer.passages and all(p.source == "usatoday.com" for p in answer.passages)
    assert any("'nosuch.example'" in w for w in answer.warnings), answer.warnings
    assert not any("'nosuch.example'" in w for w in assistant.ask("harbour bridge opens today").warnings)


def test_a_reversed_range_is_a_clear_error_and_a_range_outside_the_collection_is_explained(assistant):
    with pytest.raises(ValueError, match="swap the two dates"):
        assistant.ask("harbour bridge opens today", date_from="2023-03-01", date_to="2023-01-01")
    answer = assistant.ask("harbour bridge opens today", date_from="2023-03-01", date_to="2023-04-01")
    assert answer.abstained and any("2023-01-10 to 2023-01-14" in w for w in answer.warnings), answer.warnings


def test_a_timeline_says_what_its_filters_did(assistant):
    story = assistant.timeline("the story", sources=["usatoday"], as_of="2026-01-01")
    assert story.entries == [] and "'usatoday.com'" in story.warnings[0]
    assert story.to_dict()["warnings"] == story.warnings
    nothing = assistant.timeline("the story", date_from="2024-01-01", as_of="2026-01-01")
    assert nothing.entries == [] and "No article of the collection matches the filters" in nothing.warnings[-1]
    assert assistant.timeline("the story", as_of="2026-01-01").warnings == []


def test_the_timeline_command_prints_the_warnings(sample_assistant, capsys):
    from newsdesk import cli

    assert cli.main(["timeline", "Meridian Lines", "--source", "azernews"]) == 0  # the bundled sample
    out = capsys.readouterr().out
    assert "Warning: " in out and "'azernews.az'" in out
