"""The UI's event functions called directly (no server, no browser) over the real sample."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from ui import handlers as handlers_mod
from ui.app import _is_loopback, parse_auth
from ui.handlers import Handlers
from ui.session import Session, Workspace, private_copy

pytestmark = pytest.mark.slow

IDEF = "Who did Hasanov meet at IDEF 2025?"
NEW_ARTICLE = {"id": "quill", "title": "Quillfeather Lighthouse painted violet", "source": "brannoch.example.org",
               "text": "The Quillfeather Lighthouse on Brannoch was painted violet by keeper Odalys Fenwick.",
               "date": "2025-06-03", "url": "https://brannoch.example.org/quill"}


@pytest.fixture
def handlers(sample_assistant) -> Handlers:
    workspace = Workspace(sample_assistant, private_uploads=True)
    yield Handlers(workspace)
    workspace.close()


def chat(h: Handlers, question: str, session: Session | None = None, *, date_from: str | None = "",
         date_to: str | None = "", sources: list[str] | None = None, k: int = 10) -> tuple[list, Session]:
    outputs = list(h.chat(question, date_from, date_to, sources or [], k, "extractive", session))
    messages, _, session, box = outputs[-1]
    assert box == ""
    return outputs, session


def write_jsonl(path: Path, *records: dict | str) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records), encoding="utf-8")
    return path


def test_chat_streams_and_records_the_turn(handlers: Handlers) -> None:
    outputs, session = chat(handlers, IDEF)
    first_messages = outputs[0][0]
    assert "nd-pending" in first_messages[-1]["content"], "a placeholder shows while retrieval runs"
    final_messages, panel = outputs[-1][0], outputs[-1][1]
    assert "Görgün" in final_messages[-1]["content"]
    assert 'id="nd-src-1-1"' in panel and "idef-2025" in panel
    assert session.turns[0][0] == IDEF and session.last_answer is not None
    _, session = chat(handlers, "What did they discuss?", session)
    follow = session.last_answer
    assert len(session.turns) == 2 and "Hasanov" in follow.query
    assert follow.passages[0].article_id == "idef-2025-hasanov-gorgun"
    if follow.citations:
        assert 'href="#nd-src-2-1"' in session.messages[-1]["content"]


def test_empty_question_changes_nothing(handlers: Handlers) -> None:
    outputs, session = chat(handlers, "   ")
    assert len(outputs) == 1 and session.turns == [] and outputs[0][0] == []


def test_filters_reach_the_assistant(handlers: Handlers) -> None:
    _, session = chat(handlers, IDEF, date_from="2025-08-01", k=3)
    passages = session.last_answer.passages  # the k retrieved
    assert 0 < len(passages) <= 3
    assert all(p.date is None or p.date >= date(2025, 8, 1) for p in passages)
    _, session = chat(handlers, IDEF, sources=["dailysabah.com"])
    assert {p.source for p in session.last_answer.passages} == {"dailysabah.com"}


def test_a_bad_date_is_reported_in_the_chat_and_not_kept_as_a_turn(handlers: Handlers) -> None:
    outputs, session = chat(handlers, IDEF, date_from="2025-13-45")
    shown = outputs[-1][0][-1]["content"]
    # Named as the page names the field ("From"), not as the parameter behind it (date_from).
    assert "Could not answer: From: &#x27;2025-13-45&#x27; is not a date; use YYYY-MM-DD" in shown, shown
    assert "date_from" not in shown
    assert session.turns == []


def test_k_passages_fill_the_sources_panel(handlers: Handlers) -> None:
    outputs, session = chat(handlers, "Who won the 2031 Eurovision Song Contest?", k=4)
    panel = outputs[-1][1]
    assert session.last_answer.abstained and len(session.last_answer.passages) == 4
    assert panel.count('<article class="nd-card') == 4 and "(4)</summary>" in panel


def test_uploaded_articles_are_listed_and_can_be_removed(handlers: Handlers, sample_assistant, tmp_path) -> None:
    before = sample_assistant.stats().articles
    path = write_jsonl(tmp_path / "quill.jsonl", NEW_ARTICLE)
    *_, listed, session = handlers.upload([str(path)], None)
    assert listed["choices"] == [(NEW_ARTICLE["title"], "quill")]
    # Only what this session uploaded can be removed: a collection article's id is ignored.
    status, _, _, session = handlers.remove_uploads(["idef-2025-hasanov-gorgun"], session)
    assert "Select uploaded articles" in status and session.assistant.stats().articles == before + 1
    status, stats_md, listed, session = handlers.remove_uploads(["quill"], session)
    assert f"Removed 1 article ({NEW_ARTICLE['title']})" in status and f"**{before}** articles" in stats_md
    assert listed["choices"] == [] and session.uploads == {}
    _, session = chat(handlers, "What colour was the Quillfeather Lighthouse painted?", session)
    assert all(p.article_id != "quill" for p in session.last_answer.passages)


def test_new_conversation_forgets_the_turns(handlers: Handlers) -> None:
    _, session = chat(handlers, IDEF)
    messages, panel, session, date_from, date_to, sources = handlers.new_conversation(session)
    assert messages == [] and session.turns == [] and "appear here" in panel
    assert (date_from, date_to, sources) == ("", "", [])  # the search filters are cleared too


def test_upload_goes_into_a_private_copy(handlers: Handlers, sample_assistant, tmp_path: Path) -> None:
    before = sample_assistant.stats().articles
    txt = tmp_path / "quill.txt"
    txt.write_text("Quillfeather Lighthouse painted violet\n\n" + NEW_ARTICLE["text"], encoding="utf-8")
    status, stats_md, _, cleared, _, session = handlers.upload([str(txt)], None)
    assert "Indexed 1 new article" in status and cleared is None
    [upload] = [a for a in session.assistant._fresh().store.articles if a.title.startswith("Quillfeather")]
    assert upload.source == "upload: quill.txt"  # a text file names no site: its card names the file
    assert session.assistant is not None and session.workdir.is_dir()
    assert f"**{before + 1}** articles" in stats_md and "private copy" in stats_md
    assert sample_assistant.stats().articles == before, "the shared sample is never written to"
    _, session = chat(handlers, "What colour was the Quillfeather Lighthouse painted?", session)
    assert "violet" in session.last_answer.text
    other = Session()
    _, other = chat(handlers, "What colour was the Quillfeather Lighthouse painted?", other)
    assert all(p.title != "Quillfeather Lighthouse painted violet" for p in other.last_answer.passages)
    workdir = session.workdir
    session.close()
    assert not workdir.exists()


def test_first_upload_with_nothing_valid_makes_no_copy(handlers: Handlers, tmp_path: Path) -> None:
    bad = write_jsonl(tmp_path / "bad.jsonl", "not json", {"title": "no text"})
    status, _, _, _, _, session = handlers.upload([str(bad)], None)
    assert "No valid article found" in status and "bad.jsonl:1" in status and str(tmp_path) not in status
    assert session.assistant is None and session.workdir is None


def test_bad_records_are_reported_and_valid_ones_still_go_in(handlers: Handlers, tmp_path: Path) -> None:
    mixed = write_jsonl(tmp_path / "mixed.jsonl", NEW_ARTICLE, "{broken", {"title": "no text"})
    status, _, _, _, _, session = handlers.upload([str(mixed)], None)
    assert "Indexed 1 new article" in status
    assert "2 skipped" in status and "mixed.jsonl:2" in status and "mixed.jsonl:3" in status


def test_too_large_and_unsupported_files_are_refused(handlers: Handlers, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(handlers_mod, "MAX_UPLOAD_BYTES", 100)
    big = write_jsonl(tmp_path / "big.jsonl", NEW_ARTICLE)
    exe = tmp_path / "tool.exe"
    exe.write_bytes(b"MZ")
    status, stats_md, _, _, _, session = handlers.upload([str(big), str(exe)], None)
    assert "Nothing uploaded" in status and "big.jsonl is 0.0 MB; the limit is 50 MB" in status
    assert "tool.exe: unsupported file type" in status
    assert session.assistant is None


def test_uploads_go_into_the_served_index_when_not_private(sample_assistant, tmp_path: Path) -> None:
    own = private_copy(sample_assistant, tmp_path / "own-index")
    h = Handlers(Workspace(own, private_uploads=False))
    before = own.stats().articles
    status, stats_md, _, _, _, session = h.upload([str(write_jsonl(tmp_path / "a.jsonl", NEW_ARTICLE))], None)
    assert own.stats().articles == before + 1 and session.assistant is None
    assert "private copy" not in stats_md
    # A page loaded after an add (by this server or another process) offers the new source too.
    added = {**NEW_ARTICLE, "id": "other-site", "source": "brand-new-source.example"}
    own.add_articles([write_jsonl(tmp_path / "b.jsonl", added)])
    assert "brand-new-source.example" in h.source_filter(None)["choices"]


def test_ask_api(handlers: Handlers) -> None:
    answer = handlers.ask(IDEF)
    assert answer["citations"][0]["article_id"] == "idef-2025-hasanov-gorgun"
    follow = handlers.ask("What did they discuss?", history=[[IDEF, answer["text"]]])
    assert "Hasanov" in follow["query"]
    import gradio as gr

    with pytest.raises(gr.Error, match="pairs"):
        handlers.ask("What did they discuss?", history=[["only one"]])


def test_ask_api_explains_filters_that_find_nothing(handlers: Handlers) -> None:
    """/ask with a source the sample lacks says so, offering its sources; a reversed range is refused."""
    import gradio as gr

    answer = handlers.ask(IDEF, sources=["nosuch.example"])
    assert answer["abstained"] and answer["passages"] == []
    assert any("'nosuch.example'" in w and "sources include" in w for w in answer["warnings"]), answer["warnings"]
    near = handlers.ask(IDEF, sources=["azernews"])["warnings"]
    assert any("did you mean 'azernews.az'" in w for w in near), near
    with pytest.raises(gr.Error, match="date_from 2023-03-01 is after date_to 2023-01-01"):
        handlers.ask(IDEF, date_from="2023-03-01", date_to="2023-01-01")


def test_ask_api_returns_reports_that_differ(handlers: Handlers) -> None:
    answer = handlers.ask("How many councillors voted for the Ballyhoura greenway?")
    d = answer["disagreement"]
    assert d["kind"] == "conflict" and d["note"] in answer["text"]
    assert [(r["value"], r["source"], r["date"]) for r in d["reports"]] == [
        ("31", "corkcountynews.ie", "2025-02-11"), ("29", "avondhupress.ie", "2025-02-11")]
    assert {r["citation"] for r in d["reports"]} <= {c["number"] for c in answer["citations"]}


def test_parse_auth() -> None:
    assert parse_auth("ann:s3:cret") == ("ann", "s3:cret")
    assert parse_auth(None) is None
    for bad in ("ann", ":pw", "ann:"):
        with pytest.raises(ValueError, match="USER:PASS"):
            parse_auth(bad)


def test_loopback_hosts() -> None:
    assert _is_loopback("127.0.0.1") and _is_loopback("localhost") and _is_loopback("::1")
    assert not _is_loopback("0.0.0.0") and not _is_loopback("192.168.1.5")


def test_app_is_offline(sample_assistant) -> None:
    import os

    from ui.app import build_app
    from ui.style import theme

    demo = build_app(sample_assistant)
    assert demo.analytics_enabled is False
    assert os.environ["GRADIO_ANALYTICS_ENABLED"] == "False"
    assert theme()._stylesheets == [], "no web fonts to fetch"
    names = {d.api_name for d in demo.fns.values() if d.api_name}
    assert {"chat", "ask", "upload"} <= names


def test_an_upload_says_when_it_replaces_an_article(tmp_path: Path) -> None:
    from index.build import write_collection
    from index.settings import IndexSettings
    from index.store import IndexStore
    from rag import Assistant
    from rag.config import Config
    from tests.conftest import HashEmbedder, make_articles

    settings = IndexSettings(model="hash-64", chunk_tokens=32, chunk_overlap=8)
    write_collection(tmp_path / "idx", make_articles(3), settings=settings, embedder=HashEmbedder(), progress=False)
    assistant = Assistant(IndexStore.load(tmp_path / "idx"), config=Config(index=settings, rerank={"articles": 0}),
                          embedder=HashEmbedder())
    handlers = Handlers(Workspace(assistant, private_uploads=False))
    for folder, text in (("a", "Harbour report\nThe harbour reopened."), ("b", "Council report\nThe council met.")):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "report.txt").write_text(text)
        status, *_ = handlers.upload([str(tmp_path / folder / "report.txt")], None)
        assert "Indexed 1 new article in" in status and "replaced" not in status
    assert assistant.stats().articles == 5  # b/report.txt did not replace a/report.txt
    same_id = write_jsonl(tmp_path / "fix.jsonl", {"id": "a1", "title": "Story 1, corrected", "text": "Fixed text."})
    status, *_ = handlers.upload([str(same_id)], None)
    assert "Indexed 0 new articles; replaced 1 existing article with the same id" in status
    assert "Replaced 1 article that had the same id but other content: a1" in status
    assert assistant.stats().articles == 5
