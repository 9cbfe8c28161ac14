"""End-to-end test of the chat UI in Debian's chromium, driven by Playwright.

One conversation, in order: a question with a cited source, a follow-up that needs the first
turn, an upload of a new article that is then cited, an upload with nothing valid, and an
article full of HTML/script that must show as literal text without running. Screenshots of
each step go to ``test-artifacts/``; the page must fetch nothing from outside the server.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.conftest import free_port

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
IDEF_URL = "https://www.azernews.az/nation/2025/07/23/hasanov-meets-haluk-gorgun-at-idef-2025.html"
IDEF_TITLE = "Hasanov meets Turkish defence industry chief Haluk Görgün at IDEF 2025"
# The bundled sample's size, read from the collection so that adding sample articles moves it too.
SAMPLE_ARTICLES = sum(1 for line in (Path(__file__).resolve().parents[1] / "index" / "sample" / "articles.jsonl")
                      .read_text(encoding="utf-8").splitlines() if line.strip())
TIMEOUT_MS = 120_000  # the first upload copies the index and may load the model again

LIGHTHOUSE = {
    "id": "brannoch-lighthouse", "title": "Brannoch keepers paint the Quillfeather Lighthouse violet",
    "url": "https://brannoch-gazette.example.org/2025/06/quillfeather-violet", "source": "brannoch-gazette.example.org",
    "date": "2025-06-03",
    "text": "The Quillfeather Lighthouse on the island of Brannoch was painted violet last week by its keeper, "
            "Odalys Fenwick, who said the colour would help fishing boats spot it in fog.\n\n"
            "The lighthouse had been white since it was built in 1887.",
}
SCRIPT, IMG = "<script>alert(1)</script>", "<img src=x onerror=alert(1)>"
HOSTILE = {
    "id": "marrowby-heron", "title": f"{SCRIPT} Marrowby unveils heron statue {IMG}",
    "url": "javascript:alert(1)", "source": "<b onmouseover=alert(1)>marrowby.example</b>", "date": "2025-05-02",
    "text": f"At the Marrowby harbour festival the mayor unveiled a bronze heron statue {SCRIPT} on Saturday. "
            f"Visitors said {IMG} the heron statue ${{alert(1)}} was taller than the old lighthouse.",
}


@pytest.fixture(scope="module")
def server_url(sample_assistant) -> Iterator[str]:
    """The app over the bundled sample, served in-process on a free port."""
    from ui.app import SAMPLE_EXAMPLES, build_app, launch

    demo = build_app(sample_assistant, examples=SAMPLE_EXAMPLES)
    url = launch(demo, port=free_port(), prevent_thread_lock=True, quiet=True)
    yield url
    demo.close()


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


class Chat:
    """The page plus what it did: dialogs opened and requests to other hosts."""

    def __init__(self, page, base_url: str) -> None:
        self.page = page
        self.dialogs: list[str] = []
        self.external: list[str] = []
        host = urlsplit(base_url).netloc
        page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        page.on("request", lambda r: self._request(r.url, host))

    def _request(self, url: str, host: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("data", "blob") and parts.netloc != host:
            self.external.append(url)

    def shot(self, name: str) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"ui-{name}.png"), full_page=True)

    def last_answer(self):
        return self.page.locator('#nd-chat [data-testid="bot"]').last

    def ask(self, question: str, turn: int) -> None:
        """Ask and wait until the sources of answer ``turn`` are shown and the box is cleared."""
        from playwright.sync_api import expect

        self.page.fill("#nd-question textarea", question)
        self.page.click("#nd-ask")
        expect(self.page.locator(f'#nd-sources-panel .nd-sources[data-turn="{turn}"]')).to_be_attached(
            timeout=TIMEOUT_MS)
        expect(self.page.locator("#nd-question textarea")).to_have_value("")
        expect(self.page.locator("#nd-chat .nd-pending")).to_have_count(0, timeout=TIMEOUT_MS)
        # The answer is complete (a click on Ask while the last one still streams is ignored).
        expect(self.page.locator("#nd-chat .nd-streaming")).to_have_count(0, timeout=TIMEOUT_MS)

    def upload(self, path: Path) -> None:
        from playwright.sync_api import expect

        status = self.page.locator("#nd-upload-status .nd-upload")
        before = status.count() and status.inner_text()
        self.page.set_input_files("#nd-upload input[type=file]", str(path))
        expect(status).to_be_visible(timeout=TIMEOUT_MS)
        self.page.wait_for_function(
            "([sel, before]) => { const e = document.querySelector(sel); return e && e.innerText !== before; }",
            arg=["#nd-upload-status .nd-upload", before or ""], timeout=TIMEOUT_MS)


def _open_chat(browser, server_url) -> Iterator[Chat]:  # noqa: ANN001 - Playwright's browser
    """A fresh page on the server, loaded (its collection stats shown), closed afterwards."""
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(30_000)
    c = Chat(page, server_url)
    page.goto(server_url)
    expect(page.locator("#nd-stats")).to_contain_text("articles", timeout=60_000)
    yield c
    page.close()


@pytest.fixture(scope="module")
def chat(browser, server_url) -> Iterator[Chat]:
    yield from _open_chat(browser, server_url)


def test_01_question_cites_the_idef_article(chat: Chat) -> None:
    from playwright.sync_api import expect

    chat.shot("01-start")
    chat.ask("Who did Hasanov meet at IDEF 2025?", turn=1)
    expect(chat.last_answer()).to_contain_text("Görgün")
    card = chat.page.locator("#nd-src-1-1")
    link = card.locator("a.nd-title")
    expect(link).to_have_text(IDEF_TITLE)
    expect(link).to_have_attribute("href", IDEF_URL)
    expect(link).to_have_attribute("target", "_blank")
    expect(link).to_have_attribute("rel", "noopener noreferrer")
    expect(card.locator("mark")).to_contain_text("Görgün")
    expect(card).to_contain_text("azernews.az · 2025-07-23")
    expect(chat.page.locator("#nd-sources-panel details.nd-more")).not_to_have_attribute("open", "")
    chat.shot("02-answer")
    chat.last_answer().locator("a.nd-cite").first.click()
    assert chat.page.url.endswith("#nd-src-1-1"), chat.page.url
    expect(card).to_be_in_viewport()


def test_02_follow_up_is_rewritten_with_the_first_turn(chat: Chat) -> None:
    from playwright.sync_api import expect

    chat.ask("What did they discuss?", turn=2)
    answer = chat.last_answer()
    # The search was made standalone with the first turn's words, and found the same meeting.
    expect(answer.locator(".nd-query")).to_contain_text("Hasanov")
    expect(chat.page.locator("#nd-sources-panel .nd-card a.nd-title").first).to_have_attribute("href", IDEF_URL)
    # An answer, not an abstention, and about the same meeting, citing the IDEF article.
    expect(answer.locator(".nd-abstained")).to_have_count(0)
    expect(answer).to_contain_text("Hasanov")
    expect(chat.page.locator("#nd-src-2-1 a.nd-title")).to_have_attribute("href", IDEF_URL)
    # One card per article: the IDEF article's chunks are one source, not [1] and [2].
    links = chat.page.locator('#nd-sources-panel .nd-sources[data-turn="2"] .nd-card:not(.nd-uncited) a.nd-title')
    hrefs = [links.nth(i).get_attribute("href") for i in range(links.count())]
    assert len(hrefs) == len(set(hrefs)), hrefs
    chat.shot("03-follow-up")


def test_03_uploaded_article_is_searchable_at_once(chat: Chat, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    path = tmp_path / "brannoch.jsonl"
    path.write_text(json.dumps(LIGHTHOUSE) + "\n" + '{"title": "a record without text"}\n', encoding="utf-8")
    chat.upload(path)
    status = chat.page.locator("#nd-upload-status")
    expect(status.locator(".nd-upload-ok")).to_contain_text("Indexed 1 new article")
    expect(status).to_contain_text("brannoch.jsonl:2")  # the bad record, by file name and line
    expect(chat.page.locator("#nd-stats")).to_contain_text(f"{SAMPLE_ARTICLES + 1} articles")
    expect(chat.page.locator("#nd-stats")).to_contain_text("private copy")
    chat.shot("04-uploaded")
    chat.ask("What colour was the Quillfeather Lighthouse painted?", turn=3)
    expect(chat.last_answer()).to_contain_text("violet")
    expect(chat.page.locator("#nd-src-3-1 a.nd-title")).to_have_text(LIGHTHOUSE["title"])
    chat.shot("05-uploaded-answer")


def test_04_file_with_nothing_valid_changes_nothing(chat: Chat, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    path = tmp_path / "broken.jsonl"
    path.write_text("this is not json\n{\"title\": \"no text\"}\n", encoding="utf-8")
    chat.upload(path)
    expect(chat.page.locator("#nd-upload-status .nd-upload-error")).to_contain_text("No valid article found")
    expect(chat.page.locator("#nd-upload-status")).to_contain_text("broken.jsonl:1")
    expect(chat.page.locator("#nd-stats")).to_contain_text(f"{SAMPLE_ARTICLES + 1} articles")
    chat.shot("06-nothing-valid")


def test_05_article_html_shows_as_text_and_never_runs(chat: Chat, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    path = tmp_path / "marrowby.jsonl"
    path.write_text(json.dumps(HOSTILE) + "\n", encoding="utf-8")
    chat.upload(path)
    expect(chat.page.locator("#nd-upload-status .nd-upload-ok")).to_be_visible()
    chat.ask("What did the mayor unveil at the Marrowby harbour festival?", turn=4)
    page, answer, card = chat.page, chat.last_answer(), chat.page.locator("#nd-src-4-1")
    expect(answer).to_contain_text("heron statue")
    expect(answer).to_contain_text(SCRIPT)
    expect(card.locator(".nd-title")).to_have_text(HOSTILE["title"])
    expect(card).to_contain_text(IMG)
    expect(card).to_contain_text("${alert(1)}")
    expect(card.locator(".nd-meta")).to_contain_text(HOSTILE["source"])
    card.locator(".nd-meta").hover()
    for selector in ("#nd-chat script", "#nd-sources-panel script", "#nd-chat img[src='x']",
                     "#nd-sources-panel img", "#nd-sources-panel b", "a[href^='javascript']"):
        assert page.locator(selector).count() == 0, f"{selector} is live markup"
    assert card.locator("a").count() == 0, "a javascript: url must not become a link"
    page.wait_for_timeout(1000)  # give an onerror handler the time it would need
    chat.shot("07-hostile-article")
    assert chat.dialogs == [], f"a dialog opened: {chat.dialogs}"


def test_06_nothing_fetched_from_outside(chat: Chat) -> None:
    assert chat.external == [], f"the page fetched from other hosts: {chat.external}"


# ---- a second session, from a fresh page: examples, each answer's own sources, the panel's box ----
DOCS_SCREENSHOT = Path(__file__).resolve().parents[1] / "docs" / "screenshot.png"


@pytest.fixture(scope="module")
def fresh(browser, server_url) -> Iterator[Chat]:
    yield from _open_chat(browser, server_url)


def _wait_for_turn(chat: Chat, turn: int) -> None:
    from playwright.sync_api import expect

    expect(chat.page.locator(f'#nd-sources-panel .nd-sources[data-turn="{turn}"]')).to_be_attached(timeout=TIMEOUT_MS)
    expect(chat.page.locator("#nd-chat .nd-pending")).to_have_count(0, timeout=TIMEOUT_MS)
    expect(chat.page.locator("#nd-chat .nd-streaming")).to_have_count(0, timeout=TIMEOUT_MS)


def test_07_an_example_asks_at_once_and_markers_look_like_links(fresh: Chat) -> None:
    from playwright.sync_api import expect

    fresh.page.get_by_text("Who did Hasanov meet at IDEF 2025?", exact=True).first.click()
    _wait_for_turn(fresh, 1)
    expect(fresh.last_answer()).to_contain_text("Görgün")
    # Asked as written, so there is no "Searched for" line in the answer or above its sources.
    expect(fresh.page.locator("#nd-chat .nd-query")).to_have_count(0)
    expect(fresh.page.locator('#nd-sources-panel .nd-sources[data-turn="1"] .nd-query')).to_have_count(0)
    marker = fresh.last_answer().locator("a.nd-cite").first
    style = marker.evaluate("e => { const s = getComputedStyle(e), p = getComputedStyle(e.parentElement);"
                            " return [s.textDecorationLine, s.color, p.color]; }")
    assert "underline" in style[0] and style[1] != style[2], f"a marker must look like a link: {style}"


def test_08_a_new_topic_is_answered_and_each_answer_keeps_its_own_sources(fresh: Chat) -> None:
    from playwright.sync_api import expect

    fresh.ask("What did the ECB decide about its deposit rate?", turn=2)
    second = fresh.last_answer()
    expect(second.locator(".nd-abstained")).to_have_count(0)
    expect(second).to_contain_text("2.00%")
    expect(second.locator(".nd-query")).to_have_count(0)  # a new topic is searched as asked
    first = fresh.page.locator('#nd-chat [data-testid="bot"]').first
    first.locator("a.nd-cite").first.click()
    expect(fresh.page.locator("#nd-src-1-1")).to_be_visible()
    expect(fresh.page.locator("#nd-src-1-1 a.nd-title")).to_have_attribute("href", IDEF_URL)
    expect(fresh.page.locator('#nd-sources-panel .nd-sources[data-turn="2"]')).to_be_hidden()
    second.locator("a.nd-cite").first.click()
    expect(fresh.page.locator("#nd-src-2-1")).to_be_visible()
    expect(fresh.page.locator('#nd-sources-panel .nd-sources[data-turn="1"]')).to_be_hidden()
    fresh.page.evaluate("window.scrollTo(0, 0)")
    fresh.page.locator("#nd-sources-panel").evaluate("e => { e.scrollTop = 0; }")
    ARTIFACTS.mkdir(exist_ok=True)
    fresh.page.screenshot(path=str(ARTIFACTS / "ui-08-two-topics.png"))
    # The README's screenshot: made when missing, remade with NEWSDESK_UPDATE_SCREENSHOT=1.
    if os.environ.get("NEWSDESK_UPDATE_SCREENSHOT") or not DOCS_SCREENSHOT.exists():
        DOCS_SCREENSHOT.parent.mkdir(exist_ok=True)
        fresh.page.screenshot(path=str(DOCS_SCREENSHOT))


def test_09_the_sources_panel_scrolls_inside_its_box(fresh: Chat) -> None:
    from playwright.sync_api import expect

    fresh.ask("Who won the 2031 Eurovision Song Contest?", turn=3)  # abstains: the closest passages open
    expect(fresh.page.locator('#nd-sources-panel .nd-sources[data-turn="3"] details.nd-more')).to_have_attribute(
        "open", "")
    box = fresh.page.locator("#nd-sources-panel").evaluate(
        "e => { const r = e.getBoundingClientRect(), s = getComputedStyle(e);"
        " return {overflow: s.overflowY, height: r.height, bottom: r.bottom, scroll: e.scrollHeight,"
        " client: e.clientHeight}; }")
    assert box["overflow"] == "auto", box
    assert box["height"] <= 645 and box["scroll"] > box["client"], box
    collection = fresh.page.locator("#nd-stats").evaluate("e => e.getBoundingClientRect().top")
    assert box["bottom"] <= collection, f"the passages run under the Collection box: {box}, {collection}"
    fresh.page.locator("#nd-sources-panel").evaluate("e => { e.scrollTop = e.scrollHeight; }")
    fresh.shot("09-panel-scrolled")


def test_10_on_a_phone_the_sources_follow_the_answer_closely(browser, server_url) -> None:
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True)
    page.set_default_timeout(30_000)
    try:
        phone = Chat(page, server_url)
        page.goto(server_url)
        expect(page.locator("#nd-stats")).to_contain_text("articles", timeout=60_000)
        phone.ask("Who did Hasanov meet at IDEF 2025?", turn=1)
        answer = phone.last_answer().evaluate("e => e.getBoundingClientRect().bottom + window.scrollY")
        sources = page.locator("#nd-sources-panel").evaluate("e => e.getBoundingClientRect().top + window.scrollY")
        phone.shot("10-phone")
        assert sources - answer < 700, f"the sources start {sources - answer:.0f} px below the answer"
    finally:
        page.close()


def test_11_the_login_page_works_with_every_other_route_closed(browser, tmp_path: Path) -> None:
    """With a login, the page, its scripts and the login form still load in Chromium; after
    logging in the app loads and answers, and no request of the page was refused."""
    from playwright.sync_api import expect

    from index.build import write_collection
    from index.settings import IndexSettings
    from index.store import IndexStore
    from rag import Assistant
    from rag.config import Config
    from tests.conftest import HashEmbedder, make_articles
    from ui.app import build_app, launch

    settings = IndexSettings(model="hash-64", chunk_tokens=32, chunk_overlap=8)
    write_collection(tmp_path / "idx", make_articles(3), settings=settings, embedder=HashEmbedder(), progress=False)
    assistant = Assistant(IndexStore.load(tmp_path / "idx"), config=Config(index=settings, rerank={"articles": 0}),
                          embedder=HashEmbedder())
    demo = build_app(assistant, private_uploads=False)
    url = launch(demo, port=free_port(), auth=("ed", "pw"), prevent_thread_lock=True, quiet=True)
    page = browser.new_page()
    refused: list[str] = []
    page.on("response", lambda r: refused.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    try:
        page.goto(url)
        fields = page.locator("input")
        expect(fields).to_have_count(2, timeout=60_000)
        fields.nth(0).fill("ed")
        fields.nth(1).fill("pw")
        page.get_by_role("button", name="Login").click()
        expect(page.locator("#nd-stats")).to_contain_text("articles", timeout=60_000)
        page.fill("#nd-question textarea", "Which bridge opened?")
        page.click("#nd-ask")
        expect(page.locator('#nd-sources-panel .nd-sources[data-turn="1"]')).to_be_attached(timeout=TIMEOUT_MS)
        assert refused == []
    finally:
        page.close()
        demo.close()


# ---- a small collection (no model): filters, the k slider, the chat's and the panel's boxes, uploads ----
SMALL_SOURCES = ("harbour-herald.example", "valley-times.example", "usatoday.com")


@pytest.fixture(scope="module")
def small_url(tmp_path_factory) -> Iterator[str]:
    """The app over seven hashed-embedding articles from three sources, dated January 2025."""
    from dataclasses import replace
    from datetime import date

    from index.build import write_collection
    from index.settings import IndexSettings
    from index.store import IndexStore
    from rag import Assistant
    from rag.config import Config
    from tests.conftest import HashEmbedder, make_articles
    from ui.app import build_app, launch

    root = tmp_path_factory.mktemp("small") / "idx"
    settings = IndexSettings(model="hash-64", chunk_tokens=32, chunk_overlap=8)
    articles = [replace(a, source=SMALL_SOURCES[i % 3], date=date(2025, 1, 1 + i))
                for i, a in enumerate(make_articles(7))]
    write_collection(root, articles, settings=settings, embedder=HashEmbedder(), progress=False)
    config = Config(index=settings, rerank={"articles": 0})
    assistant = Assistant(IndexStore.load(root), config=config, embedder=HashEmbedder())
    demo = build_app(assistant, private_uploads=True)
    url = launch(demo, port=free_port(), prevent_thread_lock=True, quiet=True)
    yield url
    demo.close()


class Console:
    """A page's console messages, as (type, text)."""

    def __init__(self, page) -> None:  # noqa: ANN001 - Playwright's page
        self.messages: list[tuple[str, str]] = []
        page.on("console", lambda m: self.messages.append((m.type, m.text)))


@pytest.fixture(scope="module")
def small(browser, small_url) -> Iterator[Chat]:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(30_000)
    console = Console(page)  # before the page loads: warnings at load count too
    c = Chat(page, small_url)
    c.console = console
    from playwright.sync_api import expect

    page.goto(small_url)
    expect(page.locator("#nd-stats")).to_contain_text("articles", timeout=60_000)
    yield c
    page.close()


def test_12_the_sources_box_offers_the_collections_sources_only(small: Chat) -> None:
    from playwright.sync_api import expect

    page = small.page
    page.click("#nd-sources-filter input")
    options = page.locator("ul[role=listbox] li")
    expect(options).to_have_count(3)
    assert sorted(options.all_inner_texts()) == sorted(SMALL_SOURCES)
    page.locator("#nd-sources-filter input").fill("nosuch.example")
    page.keyboard.press("Enter")
    page.keyboard.press("Escape")
    page.wait_for_timeout(500)
    assert page.locator("#nd-sources-filter .token").count() == 0, "a name the collection lacks was taken"
    expect(page.locator("#nd-filters")).to_have_count(0)  # no filter: no "Filters on" line
    page.locator("#nd-sources-filter input").fill("usatoday")  # the site's name: its source is offered
    page.keyboard.press("Enter")
    page.keyboard.press("Escape")
    expect(page.locator("#nd-sources-filter .token")).to_have_text(["usatoday.com"])
    page.click("#nd-new")
    expect(page.locator("#nd-sources-filter .token")).to_have_count(0)


def test_13_active_filters_show_and_new_conversation_clears_them(small: Chat) -> None:
    from playwright.sync_api import expect

    page = small.page
    page.click("#nd-sources-filter input")
    page.locator("ul[role=listbox] li", has_text="usatoday.com").click()
    page.keyboard.press("Escape")
    note = page.locator("#nd-filters .nd-filters-on")
    expect(note).to_contain_text("sources: usatoday.com")
    small.ask("harbour bridge opens today", turn=1)
    expect(page.locator("#nd-sources-panel .nd-card .nd-meta").first).to_contain_text("usatoday.com")
    small.shot("13-filters-on")
    page.click("#nd-new")
    expect(page.locator("#nd-filters")).to_have_count(0)
    expect(page.locator("#nd-sources-filter .token")).to_have_count(0)
    expect(page.locator("#nd-chat [data-testid='bot']")).to_have_count(0)


def test_14_filters_that_leave_nothing_say_so_in_the_answer(small: Chat) -> None:
    from playwright.sync_api import expect

    page = small.page
    page.locator("#nd-from input").first.fill("2030-01-01")
    page.locator("#nd-from input").first.press("Enter")
    expect(page.locator("#nd-filters .nd-filters-on")).to_contain_text("from 2030-01-01")
    small.ask("harbour bridge opens today", turn=1)
    warning = small.last_answer().locator(".nd-warning")
    expect(warning).to_contain_text("No article of the collection matches the filters")
    expect(warning).to_contain_text("2025-01-01 to 2025-01-07")
    page.click("#nd-new")
    expect(page.locator("#nd-filters")).to_have_count(0)
    expect(page.locator("#nd-from input").first).to_have_value("")


def test_15_the_k_slider_allows_what_the_api_does(small: Chat) -> None:
    from rag.config import K_MAX

    slider = small.page.locator("#nd-k input[type=range]")
    assert (slider.get_attribute("min"), slider.get_attribute("max")) == ("1", str(K_MAX))


def test_16_the_chat_label_and_buttons_never_cover_a_message(small: Chat) -> None:
    page = small.page
    for i in range(5):
        small.ask(f"harbour bridge opens today {i}", turn=i + 1)
    box = page.locator("#nd-chat").evaluate("""chat => {
        const scroller = chat.querySelector('.bubble-wrap');
        scroller.scrollTop = scroller.scrollHeight / 2;  // a message runs past the top edge
        const top = scroller.getBoundingClientRect().top;
        const floating = [...chat.querySelectorAll('label, .icon-button-wrapper')]
            .filter(e => !scroller.contains(e) && e.getBoundingClientRect().height > 0)
            .map(e => [e.className, e.getBoundingClientRect().bottom]);
        return {top, floating, scrolled: scroller.scrollTop};
    }""")
    small.shot("16-chat-scrolled")
    assert box["scrolled"] > 0 and box["floating"], box
    assert all(bottom <= box["top"] + 1 for _, bottom in box["floating"]), f"over the messages: {box}"


def test_17_the_sources_panel_says_when_more_lies_below(small: Chat) -> None:
    from playwright.sync_api import expect

    page = small.page
    page.click("#nd-new")
    small.ask("zzz qqq nothing like this", turn=1)  # abstains: every retrieved passage is shown
    panel = page.locator("#nd-sources-panel")
    expect(panel).to_have_class(re.compile(r"\bnd-more-below\b"))
    hint = panel.evaluate("e => [e.scrollHeight > e.clientHeight, getComputedStyle(e, '::after').content]")
    assert hint[0] and "More sources below" in hint[1], hint
    small.shot("17-more-below")
    panel.evaluate("e => { e.scrollTop = e.scrollHeight; }")
    expect(panel).not_to_have_class(re.compile(r"\bnd-more-below\b"))


def test_18_an_upload_is_named_by_its_file_and_logs_no_warning(small: Chat, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    path = tmp_path / "tram-notes.txt"
    path.write_text("Zephyrine tram line opens\n\nThe Zephyrine tram line opened on Monday in the city centre.\n",
                    encoding="utf-8")
    small.upload(path)
    expect(small.page.locator("#nd-upload-status .nd-upload-ok")).to_contain_text("Indexed 1 new article")
    small.page.wait_for_timeout(1000)  # Gradio's upload progress stream logged its warnings by now
    noise = [text for kind, text in small.console.messages if kind in ("warning", "error")]
    assert noise == [], f"the console logged: {noise}"
    small.page.click("#nd-new")
    small.ask("When did the Zephyrine tram line open?", turn=1)
    card = small.page.locator("#nd-src-1-1")
    expect(card.locator(".nd-meta")).to_contain_text("upload: tram-notes.txt")
    expect(card).not_to_contain_text("unknown source")
    assert card.locator("a").count() == 0, "an upload has no web address: its headline links nowhere"
    small.shot("18-upload-card")
    assert [text for kind, text in small.console.messages if kind in ("warning", "error")] == []
