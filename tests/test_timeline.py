"""A story's timeline (rag/timeline.py, Assistant.timeline): dated developments in order, one
cited line each, off-story articles left out, copies merged, "what happened" answered with it."""

from __future__ import annotations

import json
from datetime import date

import pytest
from wire import with_valmora

from rag import timeline
from rag.records import Copy, Passage

STRIKE = "valmora-port-"


@pytest.fixture(scope="module")
def news(sample_assistant, tmp_path_factory):
    """The sample collection with the Valmora port strike (tests/fixtures/valmora.jsonl) added."""
    return with_valmora(sample_assistant, tmp_path_factory.mktemp("valmora"))


def _p(article_id: str, title: str, day: date | None, text: str, *, start: int = 0, also=()) -> Passage:
    return Passage(article_id=article_id, title=title, url=f"https://x.example/{article_id}", source="x.example",
                   date=day, text=text, start=start, end=start + len(text), score=1.0, chunk_id=f"{article_id}#0",
                   also=also)


def test_entries_are_in_date_order_off_story_articles_left_out_and_repeats_skipped():
    passages = [
        _p("end", "Dock workers vote to end port strike", date(2025, 3, 18),
           "Dock workers voted to accept the deal on Monday, ending the port strike after 15 days. Work resumed."),
        _p("start", "Port strike begins", date(2025, 3, 3),
           "Dock workers at the port walked off the job on Monday as the strike began over pay. Ships waited.",
           also=(Copy("start-copy", "Port strike begins", "https://y.example/s", "y.example", date(2025, 3, 3)),)),
        _p("talks", "Port strike talks collapse", date(2025, 3, 5),
           "Talks to end the port strike collapsed on Wednesday after six hours of negotiation."),
        _p("marathon", "City marathon draws record field", date(2025, 3, 9),
           "A record field ran the city marathon on Sunday. A local runner won the women's race. "
           "The route was changed to avoid the port gates, where pickets from the dock strike had gathered."),
        _p("undated", "Port strike explained", None, "The port strike is about pay and automated cranes at the port."),
    ]
    tl = timeline.build("What happened with the port strike?", passages, [], idf=lambda t: 1.0, k=10)
    assert [e.article_id for e in tl.entries] == ["start", "talks", "end"]
    assert tl.undated == 1
    first = tl.entries[0]
    assert first.sentence.startswith("Dock workers at the port walked off the job")  # the lead carries it
    assert passages[1].text[first.start:first.end] == first.sentence
    assert [c.article_id for c in first.also] == ["start-copy"]
    assert json.loads(json.dumps(tl.to_dict()))["entries"][0]["date"] == "2025-03-03"
    # k keeps the best-covered entries, still in date order.
    assert len(timeline.build("port strike", passages, [], idf=lambda t: 1.0, k=2).entries) == 2


def test_the_answer_is_a_short_dated_list_with_one_citation_per_line():
    events = ["pickets gathered before dawn at every gate", "fifty ships waited at anchor off the harbour",
              "fuel stations in the north ran short of diesel", "the minister appointed a retired judge",
              "the arbitrator proposed a six percent raise", "members voted by a large margin to accept",
              "work resumed at six in the morning", "crews cleared the backlog of container vessels"]
    passages = [_p(f"a{i}", f"Port strike day {i}", date(2025, 3, i + 1), f"In the port strike, {event}.")
                for i, event in enumerate(events, 1)]
    tl = timeline.build("port strike", passages, [], idf=lambda t: 1.0, k=10)
    answer = timeline.as_answer("What happened with the port strike?", tl, passages)
    lines = answer.text.split("\n")
    assert len(lines) == timeline.ANSWER_ENTRIES and answer.backend == "timeline"
    assert lines[0].startswith("4 Mar 2025: ") and lines[-1].endswith("[6]")  # equals: the later ones kept
    assert [c.number for c in answer.citations] == list(range(1, 7))
    assert all(c.quote in line for c, line in zip(answer.citations, lines))


def test_a_named_story_s_articles_are_found_though_each_words_the_event_its_own_way():
    # Neither article says "takeover" (one "bought", one "sale"): the story's names carry it.
    passages = [
        _p("corsa", "Corsa Holdings to buy Maltese shipping firm Meridian Lines", date(2025, 7, 9),
           "The Maltese shipping company Meridian Lines has agreed to be bought by Corsa Holdings, people said."),
        _p("baltis", "Baltis Capital wins race for Meridian Lines", date(2025, 7, 10),
           "Baltis Capital is buying Meridian Lines, the ferry operator, two sources said. The sale ends an era."),
        _p("ferry", "Electric ferry enters service", date(2025, 7, 11),
           "An electric ferry entered service between two islands on Friday, the operator said."),
    ]
    idf = {"meridian": 4.3, "line": 1.5, "takeov": 6.0, "sale": 3.4}.get
    for q in ("How did the Meridian Lines takeover end?", "How did the Meridian Lines sale turn out?"):
        tl = timeline.build(q, passages, [], idf=lambda t: idf(t, 3.0), k=10)
        assert [e.article_id for e in tl.entries] == ["corsa", "baltis"], q
    # Without a name the common words are all there is: a strike elsewhere is not the port strike.
    tl = timeline.build("How did the port strike end?", [
        _p("bus", "Bus drivers end strike", date(2025, 3, 14), "Bus drivers ended a nine-day strike on Friday."),
        _p("hockey", "Forward strikes in overtime", date(2025, 3, 2), "The forward strikes in overtime to win."),
    ], [], idf=lambda t: {"port": 6.0}.get(t, 4.0), k=10)
    assert tl.entries == []


def test_fact_checks_are_not_developments_and_lines_are_dated_by_the_day_they_name():
    passages = [
        _p("shot", "Spy balloon shot down off the coast", date(2023, 2, 3),  # stamped Friday, updated Saturday
           "An Air Force jet shot down the suspected spy balloon off the coast Saturday afternoon."),
        _p("seen", "Spy balloon seen over Montana", date(2023, 2, 2),
           "The suspected spy balloon was seen over Montana on Wednesday, officials said."),
        _p("check", "Fact check: No, a vigilante didn't shoot down the spy balloon", date(2023, 2, 7),
           "The claim: A vigilante shot down the spy balloon.\n\n\"A local man has shot down the spy balloon,\" "
           "reads the post.\n\nOur rating: False"),
        _p("claim", "Image of the spy balloon pilot", date(2023, 2, 10),
           "The claim: Image shows a victory marking for the spy balloon shot down by the jet."),
    ]
    tl = timeline.build("the spy balloon", passages, [], idf=lambda t: 1.0, k=10)
    assert [(e.article_id, e.date) for e in tl.entries] == [("seen", date(2023, 2, 1)), ("shot", date(2023, 2, 4))]
    assert tl.entries[1].published == date(2023, 2, 3) and tl.to_dict()["entries"][1]["published"] == "2023-02-03"
    answer = timeline.as_answer("What happened with the spy balloon?", tl, passages)
    assert answer.text.split("\n")[1].startswith("4 Feb 2023: ") and answer.citations[1].date == date(2023, 2, 3)


@pytest.mark.slow
def test_how_did_x_end_and_the_readme_timeline_on_the_bundled_sample(sample_assistant):
    import re
    from pathlib import Path

    for q in ("How did the Meridian Lines takeover end?", "How did the takeover of Meridian Lines play out?",
              "What happened to Meridian Lines?", "How did the Potrerillos Alto mine disaster unfold?"):
        answer = sample_assistant.ask(q)
        assert answer.backend == "timeline" and not answer.abstained and len(answer.citations) >= 2, q
    assert sample_assistant.ask("How did the port strike end?").backend != "timeline"  # not in the sample
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    story = re.search(r'newsdesk timeline "([^"]+)"', readme).group(1)
    assert len(sample_assistant.timeline(story).entries) >= 2, story


@pytest.mark.slow
def test_the_strike_is_told_in_order_with_copies_merged(news):
    tl = news.timeline("What happened with the Valmora port strike?", as_of="2025-04-01")
    ids = [e.article_id for e in tl.entries]
    assert len(ids) >= 5 and all(i.startswith(STRIKE) for i in ids), ids
    assert [e.date for e in tl.entries] == sorted(e.date for e in tl.entries)
    # The wire story's three copies are one entry that names the other two.
    opening = [e for e in tl.entries if e.article_id.startswith("valmora-port-strike-begins")]
    assert len(opening) == 1 and len(opening[0].also) == 2
    store = news._state.store
    for e in tl.entries:  # each line is the article's own text at its offsets
        assert store.articles[store.article_row[e.article_id]].text[e.start:e.end] == e.sentence
    later = news.timeline("What happened with the Valmora port strike since March 10?", as_of="2025-04-01")
    assert later.entries and all(e.date >= date(2025, 3, 10) for e in later.entries)
    assert news.timeline("Valmora port strike", as_of="2025-03-06").entries[-1].date == date(2025, 3, 5)


@pytest.mark.slow
def test_how_did_it_end_is_answered_with_the_dated_list(news):
    answer = news.ask("How did the Valmora port strike end?", as_of="2025-04-01")
    assert answer.backend == "timeline" and not answer.abstained
    assert "78 percent" in answer.text and answer.text.split("\n")[0].startswith("3 Mar 2025: ")
    assert len(answer.citations) == len(answer.text.split("\n"))
    # Asked as a follow-up, with a conversation about something else of the strike before it.
    history = [("How many dock workers joined the Valmora port strike?", "About 4,200 members joined [1]")]
    again = news.ask("How did the Valmora port strike end?", history=history, as_of="2025-04-01")
    assert again.backend == "timeline" and again.text == answer.text
    # Other questions are answered as before.
    assert news.ask("Who did Hasanov meet at IDEF 2025?").backend != "timeline"


@pytest.mark.slow
def test_the_ui_timeline_view_and_api(news):
    from ui.handlers import Handlers
    from ui.session import Workspace

    handlers = Handlers(Workspace(news, private_uploads=True))
    html = handlers.timeline_view("the Valmora port strike", None, None, None, None)
    assert html.count('class="nd-tl-entry"') >= 5 and "Also published by" in html
    assert "Name a story" in handlers.timeline_view("  ", None, None, None, None)
    assert "From: " in handlers.timeline_view("the Valmora port strike", "2025-13-45", None, None, None)
    data = handlers.timeline("the Valmora port strike", date_from="2025-03-10", as_of="2025-04-01")
    assert data["entries"] and all(e["date"] >= "2025-03-10" for e in data["entries"])
    assert set(data["entries"][0]) >= {"date", "sentence", "url", "source", "also", "start", "end"}


def test_the_timeline_view_escapes_what_comes_from_articles():
    from rag.records import Timeline, TimelineEntry
    from ui import render

    entry = TimelineEntry(date=date(2025, 3, 3), article_id="x", title="t", url="javascript:alert(1)",
                          source="<b>evil</b>", sentence="<script>alert(1)</script> happened.", start=0, end=10,
                          score=1.0)
    html = render.timeline_html(Timeline(query="<i>q</i>", entries=[entry], undated=2))
    assert "<script>" not in html and "<b>" not in html and "<i>" not in html and "javascript:" not in html
    assert "2 undated articles on the story left out" in html
    assert "No dated article" in render.timeline_html(Timeline(query="nothing"))


@pytest.mark.slow
def test_cli_timeline(news, capsys):
    from newsdesk.cli import main

    index = str(news.index_dir)
    assert main(["timeline", "the Valmora port strike", "--index", index, "--as-of", "2025-04-01"]) == 0
    out = capsys.readouterr().out.splitlines()
    dated = [line for line in out if line[:4] == "2025"]
    assert len(dated) >= 5 and [d[:10] for d in dated] == sorted(d[:10] for d in dated)
    assert any("(also " in line for line in out)
    assert main(["timeline", "the Valmora port strike", "--index", index, "--json", "--since", "2025-03-10"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["entries"] and all(e["date"] >= "2025-03-10" for e in data["entries"])


@pytest.mark.slow
def test_gradio_client_gets_the_timeline(news):
    import socket

    from gradio_client import Client

    from ui.app import build_app, launch

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    demo = build_app(news)
    url = launch(demo, port=port, prevent_thread_lock=True, quiet=True)
    try:
        data = Client(url, verbose=False).predict("the Valmora port strike", as_of="2025-04-01",
                                                  api_name="/timeline")
    finally:
        demo.close()
    dates = [e["date"] for e in data["entries"]]
    assert len(dates) >= 5 and dates == sorted(dates)
    assert any(len(e["also"]) == 2 for e in data["entries"])
