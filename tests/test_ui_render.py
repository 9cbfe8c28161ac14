"""Unit tests of ui.render: escaping, safe links, highlighting offsets, collapsed uncited passages."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from html.parser import HTMLParser

import pytest

from rag import Answer, Citation, Passage, Stats
from ui import render

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
PASSAGE = "First sentence here. The mayor opened the bridge on Monday. Last sentence."
QUOTE = "The mayor opened the bridge on Monday."
Q_START = PASSAGE.index(QUOTE)
# The only tags ui.render writes itself.
ALLOWED_TAGS = {"div", "q", "h3", "p", "article", "span", "a", "blockquote", "mark", "details", "summary", "br",
                "pre"}


def passage(**changes) -> Passage:
    base = dict(article_id="a1", title="Bridge opens", url="https://news.example.com/bridge", source="example.com",
                date=date(2025, 3, 1), text=PASSAGE, start=100, end=100 + len(PASSAGE), score=1.0, chunk_id="c1")
    base.update(changes)
    return Passage(**base)


def citation(**changes) -> Citation:
    base = dict(number=1, article_id="a1", title="Bridge opens", url="https://news.example.com/bridge",
                source="example.com", date=date(2025, 3, 1), quote=QUOTE, score=0.9,
                quote_start=100 + Q_START, quote_end=100 + Q_START + len(QUOTE), passage_text=PASSAGE,
                passage_start=100)
    base.update(changes)
    return Citation(**base)


def answer(**changes) -> Answer:
    base = dict(question="When did the bridge open?", text=f"{QUOTE} [1]", citations=[citation()],
                passages=[passage(), passage(article_id="a2", title="Other story", start=0, chunk_id="c2",
                                             url="https://other.example.org/x", text="Unrelated text.")],
                query="When did the bridge open?")
    base.update(changes)
    return Answer(**base)


class _Tags(HTMLParser):
    """Every start tag and its attributes, as a browser would parse them."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def no_live_markup(html: str) -> None:
    """No tag, event handler or script link from the hostile strings survives as markup."""
    for tag, attrs in _Tags(html).tags:
        assert tag in ALLOWED_TAGS, f"<{tag}> is live"
        assert not any(name.startswith("on") for name in attrs), f"event handler on <{tag}>: {attrs}"
        href = (attrs.get("href") or "").strip().lower()
        assert href.startswith(("#", "http://", "https://")) or not href, f"unsafe link {href!r}"


# ---- escaping -------------------------------------------------------------------------------
@pytest.mark.parametrize("field", ["title", "source", "quote", "passage_text"])
def test_hostile_citation_fields_become_literal_text(field: str) -> None:
    evil = f"{SCRIPT} {IMG}"
    if field == "passage_text":
        c = citation(passage_text=evil + " " + PASSAGE, passage_start=100 - len(evil) - 1)
    elif field == "quote":
        c = citation(quote=evil, passage_text="")  # no passage: the quote itself is shown
    else:
        c = citation(**{field: evil})
    html = render.sources_html(answer(citations=[c]), turn=1)
    no_live_markup(html)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


def test_hostile_passage_fields_are_escaped_in_the_collapsed_list() -> None:
    p = passage(article_id="evil", title=SCRIPT, source=IMG, text=f"Body {SCRIPT} {IMG}", url=f"https://x.org/{IMG}")
    html = render.sources_html(answer(passages=[passage(), p]), turn=1)
    no_live_markup(html)
    assert html.count("&lt;script&gt;") == 2


def test_hostile_url_cannot_break_out_of_the_attribute() -> None:
    url = 'https://x.org/a"onmouseover="alert(1)'
    html = render.sources_html(answer(citations=[citation(url=url)]), turn=1)
    assert 'href="https://x.org/a&quot;onmouseover=&quot;alert(1)"' in html
    no_live_markup(html)


def test_answer_text_from_articles_is_escaped_in_the_chat() -> None:
    a = answer(text=f"The mayor said {SCRIPT} and {IMG} [1]", query=f"bridge {IMG}")
    html = render.answer_html(a, turn=3)
    no_live_markup(html)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "\n" not in html, "one line, so a Markdown renderer sees a single HTML block"


def test_question_and_tooltip_are_escaped() -> None:
    assert render.question_html(SCRIPT) == '<div class="nd-question">&lt;script&gt;alert(1)&lt;/script&gt;</div>'
    html = render.answer_html(answer(citations=[citation(title='"><img src=x onerror=alert(1)>')]), turn=1)
    no_live_markup(html)


def test_upload_report_is_escaped_and_keeps_lines() -> None:
    html = render.upload_report_html(f"Loaded 0 articles\n  {IMG}.jsonl:1: bad", added=None)
    no_live_markup(html)
    assert "No valid article found" in html and "\n" in html


# ---- links ------------------------------------------------------------------------------------
@pytest.mark.parametrize("url", ["javascript:alert(1)", "JavaScript:alert(1)", " javascript:alert(1)",
                                 "java\tscript:alert(1)", "data:text/html,<script>alert(1)</script>",
                                 "vbscript:msgbox(1)", "//evil.example.com/x", "/relative/path", "ftp://x.org/f",
                                 "https:///no-host", "", None])
def test_unsafe_urls_are_not_linked(url: str | None) -> None:
    assert render.safe_url(url) is None
    html = render.sources_html(answer(citations=[citation(url=url or "")]), turn=1)
    card = html.split('id="nd-src-1-1"')[1].split("</article>")[0]
    assert "<a " not in card, card
    assert "Bridge opens" in card, "the headline is still shown, as text"


@pytest.mark.parametrize("url", ["https://news.example.com/a?b=1&c=2", "http://example.org/x#frag"])
def test_http_urls_are_linked_in_a_new_tab_without_opener(url: str) -> None:
    html = render.sources_html(answer(citations=[citation(url=url)]), turn=2)
    href = url.replace("&", "&amp;")
    assert f'<a class="nd-title" href="{href}" target="_blank" rel="noopener noreferrer">Bridge opens</a>' in html


def test_markers_link_to_their_cards_and_unknown_markers_stay_text() -> None:
    a = answer(text=f"{QUOTE} [1] Something else [7].")
    html = render.answer_html(a, turn=4)
    assert '<a class="nd-cite" href="#nd-src-4-1" title="Bridge opens (example.com)">[1]</a>' in html
    assert "else [7]." in html
    assert 'id="nd-src-4-1"' in render.sources_html(a, turn=4)


def test_rewritten_query_is_shown_only_when_it_differs() -> None:
    assert "Searched for" not in render.answer_html(answer(), turn=1)
    a = answer(question="What did they discuss?", query="What did they discuss? Hasanov IDEF")
    assert "Searched for: <q>What did they discuss? Hasanov IDEF</q>" in render.answer_html(a, turn=2)


# ---- highlighting ------------------------------------------------------------------------------
def test_highlight_uses_offsets_relative_to_the_passage() -> None:
    html = render.sources_html(answer(), turn=1)
    assert f"First sentence here. <mark>{QUOTE}</mark> Last sentence." in html


def test_highlight_escapes_each_piece() -> None:
    text = "a<b> <i>quoted & marked</i> c"
    s = text.index("<i>")
    out = render.highlight(text, s, s + len("<i>quoted & marked</i>"))
    assert out == "a&lt;b&gt; <mark>&lt;i&gt;quoted &amp; marked&lt;/i&gt;</mark> c"


@pytest.mark.parametrize(("start", "end", "expected"), [
    (0, 5, "<mark>hello</mark> world"),
    (6, 99, "hello <mark>world</mark>"),           # clamped to the passage
    (-10, 5, "<mark>hello</mark> world"),
    (5, 5, "hello world"),                         # empty span: nothing marked
    (8, 3, "hello world"),
])
def test_highlight_offsets_edge_cases(start: int, end: int, expected: str) -> None:
    assert render.highlight("hello world", start, end) == expected


def test_highlight_falls_back_to_finding_the_quote() -> None:
    assert render.highlight("hello world", 40, 40, quote="world") == "hello <mark>world</mark>"


def test_citation_without_passage_text_marks_the_quote() -> None:
    html = render.sources_html(answer(citations=[citation(passage_text="", passage_start=0)]), turn=1)
    assert f"<mark>{QUOTE}</mark>" in html


# ---- layout --------------------------------------------------------------------------------------
def test_uncited_passages_are_collapsed_and_cited_ones_are_not_repeated() -> None:
    html = render.sources_html(answer(), turn=1)
    cited, _, rest = html.partition("<details")
    assert "Bridge opens" in cited and "Other story" not in cited
    assert rest.startswith(' class="nd-more"><summary>Retrieved but not cited (1)</summary>')
    assert "Other story" in rest and "Bridge opens" not in rest
    assert " open" not in rest.split(">")[0], "collapsed by default"


def test_abstained_answer_lists_closest_passages_open() -> None:
    html = render.sources_html(answer(text="No answer.", citations=[], abstained=True), turn=1)
    assert "No passage was cited" in html
    assert '<details class="nd-more" open><summary>Closest passages (not used as evidence) (2)</summary>' in html


def test_empty_panel() -> None:
    assert "appear here" in render.sources_html(None, turn=0)


def test_card_meta_shows_source_and_date_or_undated() -> None:
    html = render.sources_html(answer(citations=[citation(date=None, source="")]), turn=1)
    assert "unknown source · undated" in html
    assert "example.com · 2025-03-01" in render.sources_html(answer(), turn=1)


def test_stats_markdown() -> None:
    stats = Stats(articles=1234, chunks=5678, date_from=date(2024, 1, 2), date_to=date(2025, 3, 4), undated=2,
                  sources=9, model="all-MiniLM-L6-v2", index_dir="/tmp/x")
    md = render.stats_markdown(stats, private_copy=False)
    assert "**1,234** articles" in md and "**5,678** passages" in md and "2024-01-02 – 2025-03-04" in md
    assert "(2 undated)" in md and "`all-MiniLM-L6-v2`" in md and "private copy" in md
    assert "private copy" not in render.stats_markdown(stats)


def test_short_paths_names_files_by_their_own_name() -> None:
    text = "Loaded 1 article; 1 skipped:\n  /tmp/gradio/abc/bad.jsonl:3: malformed JSON"
    assert render.short_paths(text, ["/tmp/gradio/abc"]).endswith("  bad.jsonl:3: malformed JSON")


def test_flagged_sentences_are_shown_as_flagged_not_as_answer_text() -> None:
    # The check takes flagged sentences out of the answer text; the page lists them apart, struck through.
    answer = Answer(question="q", text="Supported claim [1].", citations=[],
                    flagged=["Made-up claim about <b>Mars</b>."])
    html = render.answer_html(answer, turn=1)
    text_block = html[html.index('<div class="nd-text'):html.index("</div>", html.index('<div class="nd-text'))]
    assert "Mars" not in text_block
    assert ('<span class="nd-flagged">Made-up claim about &lt;b&gt;Mars&lt;/b&gt;.</span>'
            '<span class="nd-flag"> [unsupported]</span>') in html
    assert "not part of the answer" in html and "<b>" not in html
    assert "nd-flagged" not in render.answer_html(replace(answer, flagged=[]), turn=1)


def test_a_citation_of_a_neighbouring_chunk_adds_no_card_beyond_k() -> None:
    """k passages retrieved, one cited through the chunk next to it: k cards in all, not k + 1."""
    neighbour = citation(passage_start=900, quote_start=900, quote_end=900 + len(QUOTE), passage_text=QUOTE)
    html = render.sources_html(answer(citations=[neighbour]), turn=1)
    assert html.count('<article class="nd-card') == len(answer().passages) == 2
    assert "Retrieved but not cited (1)" in html and "Other story" in html


def test_searched_for_is_shown_only_for_a_rewritten_search() -> None:
    assert "Searched for" not in render.sources_html(answer(), turn=1)
    assert "Searched for" not in render.answer_html(answer(), turn=1)
    rewritten = answer(query="When did the bridge open? Kaunas Neris")
    assert "Searched for: <q>When did the bridge open? Kaunas Neris</q>" in render.sources_html(rewritten, turn=2)
    assert "Searched for" in render.answer_html(rewritten, turn=2)


def test_earlier_answers_keep_their_sources_hidden_in_the_panel() -> None:
    first, second = answer(), answer(question="Which story is the other?", citations=[citation(article_id="a2")])
    html = render.sources_html(second, turn=2, earlier=[(1, first)])
    assert html.index('data-turn="1"') < html.index('data-turn="2"')
    assert '<div class="nd-sources nd-hide" data-turn="1">' in html and '<div class="nd-sources" data-turn="2">' in html
    assert f'id="{render.citation_anchor(1, 1)}"' in html and f'id="{render.citation_anchor(2, 1)}"' in html
    assert "Sources of answer 1: <q>When did the bridge open?</q>" in html
    # The latest answer itself is never listed twice.
    assert render.sources_html(second, turn=2, earlier=[(1, first), (2, second)]).count('data-turn="2"') == 1


def test_a_note_on_reports_that_differ_is_its_own_block_with_linked_markers() -> None:
    from rag.records import Disagreement, Report

    note = f"Reports differ: 41 according to x.example (6 Feb 2025) [1]; 47 according to {SCRIPT} (7 Feb 2025) [2]."
    reports = (Report("41", 1, "x.example", date(2025, 2, 6), "a", QUOTE),
               Report("47", 2, SCRIPT, date(2025, 2, 7), "b", QUOTE))
    a = answer(text=f"{QUOTE} [1]\n{note}", citations=[citation(), citation(number=2, article_id="b")],
               disagreement=Disagreement("conflict", reports, note))
    html = render.answer_html(a, turn=2)
    no_live_markup(html)
    block = html[html.index('<div class="nd-differ nd-differ-conflict"'):]
    assert block.index("Reports differ") < block.index("</div>")
    assert '<a class="nd-cite" href="#nd-src-2-1"' in block and '<a class="nd-cite" href="#nd-src-2-2"' in block
    assert "<br><div" not in html  # the block starts its own line
    assert 'class="nd-differ' not in render.answer_html(replace(a, disagreement=None), turn=2)


def test_one_card_for_two_chunks_far_apart_marks_each_quoted_sentence() -> None:
    """A citation of one article's chunks far apart (rag.cite.article_citation) holds both pieces
    joined by " … ": each quoted sentence is marked in its own piece, nothing in between."""
    from rag.cite import Evidence, number_citations

    lead = "Lead sentence one. The bridge cost 40 million euros."
    far = passage(text=lead, start=0, end=len(lead), chunk_id="c0")
    near = passage()
    cost, opened = "The bridge cost 40 million euros.", QUOTE
    evidence = [Evidence(0, lead.index(cost), lead.index(cost) + len(cost), cost, 0.5),
                Evidence(1, 100 + Q_START, 100 + Q_START + len(opened), opened, 0.5)]
    _, [c] = number_citations(evidence, [far, near])
    html = render.sources_html(answer(citations=[c], passages=[far, near]), turn=1)
    assert html.count('class="nd-card"') == 1
    assert f"<mark>{cost}</mark>" in html and f"<mark>{opened}</mark>" in html
    assert "<mark>First sentence here." not in html and "Lead sentence one." in html


def test_the_filters_line_names_each_filter_set_escaped_and_is_empty_without_one() -> None:
    assert render.filters_html(None, None, []) == ""
    line = render.filters_html("2025-01-01", None, [SCRIPT, "cnn.com"])
    assert "from 2025-01-01" in line and "cnn.com" in line and "to 20" not in line
    assert SCRIPT not in line and "&lt;script&gt;" in line


def test_a_streaming_answer_is_marked_until_it_is_complete() -> None:
    assert 'class="nd-answer nd-streaming"' in render.answer_html(answer(), turn=1, streaming=True)
    assert "nd-streaming" not in render.answer_html(answer(), turn=1)


def test_a_timeline_shows_its_filters_warnings_escaped():
    from rag.records import Timeline

    html = render.timeline_html(Timeline(query="the strike", warnings=["No source named '<b>x</b>'"]))
    assert '<div class="nd-warning">⚠ No source named &#x27;&lt;b&gt;x&lt;/b&gt;&#x27;</div>' in html
    assert "nd-warning" not in render.timeline_html(Timeline(query="the strike"))
