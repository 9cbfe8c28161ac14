"""The news-native views in Debian's chromium (Playwright): a source card that names the story's
other copies, the timeline view beside the chat, a "how did it end" question answered with the
dated list, and a feed uploaded through the page."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from wire import with_valmora

from tests.conftest import free_port

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
TIMEOUT_MS = 120_000
FEED = """<?xml version="1.0"?><rss version="2.0"><channel><title>Harbour Wire</title>
<item><title>Quillby ferry gets a new captain</title><link>https://harbourwire.example/quillby-captain</link>
<pubDate>Wed, 02 Apr 2025 08:00:00 GMT</pubDate>
<description>The Quillby island ferry has a new captain, Marit Osvald, who took the helm on Tuesday after
twenty years as first mate.</description></item></channel></rss>"""


@pytest.fixture(scope="module")
def page(sample_assistant, tmp_path_factory) -> Iterator:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    from ui.app import build_app, launch

    # A copy of the sample index with the Valmora story: the feed upload below must not change
    # the session's shared one.
    assistant = with_valmora(sample_assistant, tmp_path_factory.mktemp("news-ui"))
    demo = build_app(assistant)
    url = launch(demo, port=free_port(), prevent_thread_lock=True, quiet=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        pg = browser.new_page(viewport={"width": 1400, "height": 1000})
        pg.goto(url)
        yield pg
        browser.close()
    demo.close()


def _shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"news-{name}.png"), full_page=True)


def test_1_a_source_card_names_the_other_copies_of_its_story(page):
    from playwright.sync_api import expect

    page.fill("#nd-question textarea", "How many dock workers joined the Valmora port strike?")
    page.click("#nd-ask")
    _answered(page, turn=1)
    also = page.locator('#nd-sources-panel .nd-sources[data-turn="1"] .nd-card .nd-also').first
    expect(also).to_be_visible(timeout=TIMEOUT_MS)
    text = also.inner_text()
    assert text.startswith("Also published by ") and text.count(".com") == 2, text
    hrefs = also.locator("a").evaluate_all("links => links.map(a => a.href)")
    assert len(hrefs) == 2 and all(h.startswith("https://") for h in hrefs)
    _shot(page, "also-published")


def test_2_the_timeline_view_lists_the_story_in_date_order(page):
    from playwright.sync_api import expect

    page.fill("#nd-timeline-query textarea", "the Valmora port strike")
    page.click("#nd-timeline-show")
    entries = page.locator("#nd-timeline .nd-tl-entry")
    expect(entries.first).to_be_visible(timeout=TIMEOUT_MS)
    dates = page.locator("#nd-timeline .nd-tl-date").all_inner_texts()
    assert len(dates) >= 5 and dates == sorted(dates), dates
    assert "78 percent" in page.locator("#nd-timeline").inner_text()
    _shot(page, "timeline")


def test_3_how_did_it_end_gets_a_dated_list_in_the_chat(page):

    page.fill("#nd-question textarea", "How did the Valmora port strike end?")
    page.click("#nd-ask")
    _answered(page, turn=2)
    text = page.locator('#nd-chat [data-testid="bot"]').last.inner_text()
    # The vote that ended it was on Monday 17 March, reported on the 18th: an entry is dated by
    # the day its line names (rag/developments.py).
    assert "3 Mar 2025:" in text and "17 Mar 2025:" in text and "[1]" in text
    _shot(page, "timeline-answer")


def test_4_a_feed_uploaded_through_the_page_is_searchable(page, tmp_path):
    from playwright.sync_api import expect

    feed = tmp_path / "harbour.rss"
    feed.write_text(FEED)
    page.set_input_files("#nd-upload input[type=file]", str(feed))
    status = page.locator("#nd-upload-status .nd-upload-ok")
    expect(status).to_be_visible(timeout=TIMEOUT_MS)
    assert "Indexed 1 new article" in status.inner_text()
    page.fill("#nd-question textarea", "Who is the new captain of the Quillby ferry?")
    page.click("#nd-ask")
    _answered(page, turn=3)
    assert "Marit Osvald" in page.locator('#nd-chat [data-testid="bot"]').last.inner_text()


def test_5_reports_that_differ_are_shown_with_working_markers(page):
    from playwright.sync_api import expect

    page.fill("#nd-question textarea", "How many councillors voted for the Ballyhoura greenway?")
    page.click("#nd-ask")
    _answered(page, turn=4)
    note = page.locator('#nd-chat [data-testid="bot"]').last.locator(".nd-differ")
    expect(note).to_be_visible(timeout=TIMEOUT_MS)
    text = note.inner_text()
    assert text.startswith("Reports differ: 31 according to corkcountynews.ie") and "29 according to" in text, text
    links = note.locator("a.nd-cite")
    assert links.count() == 2
    for href in links.evaluate_all("links => links.map(a => a.getAttribute('href'))"):
        card = page.locator(f'#nd-sources-panel {href}')  # each marker points at a source card shown
        expect(card).to_be_attached()
    links.nth(1).click()
    assert page.evaluate("location.hash").startswith("#nd-src-4-")
    assert "avondhupress.ie" in page.locator("#nd-sources-panel #nd-src-4-2").inner_text()
    _shot(page, "reports-differ")


def _answered(page, *, turn: int) -> None:  # noqa: ANN001 - a Playwright page
    """Wait until answer ``turn`` is complete: its sources shown, no placeholder, not streaming."""
    from playwright.sync_api import expect

    expect(page.locator(f'#nd-sources-panel .nd-sources[data-turn="{turn}"]')).to_be_attached(timeout=TIMEOUT_MS)
    expect(page.locator("#nd-chat .nd-pending")).to_have_count(0, timeout=TIMEOUT_MS)
    expect(page.locator("#nd-chat .nd-streaming")).to_have_count(0, timeout=TIMEOUT_MS)
