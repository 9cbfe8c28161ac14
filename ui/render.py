"""Pure functions that turn answers, citations and stats into the HTML and Markdown the UI shows.

Everything that comes from an article (headline, text, url, source) is escaped with
:func:`html.escape` before it is placed in markup, so no tag or script from an article ever
reaches the browser as markup; only the tags written here (links, cards, ``<mark>``) do.
Links are made only for ``http``/``https`` urls; any other url is shown as text.

Chat messages are one line of HTML with no blank lines, so even a Markdown renderer treats
them as a single HTML block and leaves the escaped text alone.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from urllib.parse import urlsplit

from index.plural import plural
from rag import Answer, Citation, Passage, Stats
from rag.cite import GAP
from rag.records import Timeline

__all__ = [
    "also_html",
    "timeline_html",
    "answer_html",
    "citation_anchor",
    "escape",
    "filters_html",
    "highlight",
    "notice_html",
    "pending_html",
    "question_html",
    "removal_html",
    "safe_url",
    "short_paths",
    "sources_html",
    "stats_markdown",
    "uncited_passages",
    "upload_report_html",
]

SAFE_SCHEMES = frozenset({"http", "https"})
_MARKER = re.compile(r"\[(\d{1,3})\]")


def escape(text: object) -> str:
    """``text`` as HTML text or attribute value: ``& < > " '`` escaped; line breaks become ``<br>``."""
    return html.escape(str(text or ""), quote=True).replace("\r\n", "\n").replace("\n", "<br>")


def safe_url(url: str | None) -> str | None:
    """``url`` when it is an absolute ``http(s)`` url with a host, else None (never link it)."""
    if not url:
        return None
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in SAFE_SCHEMES or not parts.netloc:
        return None
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        return None
    return url


def citation_anchor(turn: int, number: int) -> str:
    """The element id of source card ``number`` of answer ``turn`` (what ``[n]`` links to)."""
    return f"nd-src-{turn}-{number}"


def _link(url: str | None, label: str, *, css: str = "") -> str:
    """An external link (new tab, no opener, no referrer) for a safe url, else the label as text."""
    cls = f' class="{css}"' if css else ""
    href = safe_url(url)
    if href is None:
        return f"<span{cls}>{escape(label)}</span>"
    return f'<a{cls} href="{escape(href)}" target="_blank" rel="noopener noreferrer">{escape(label)}</a>'


# Copies of a story named on its card; the rest are counted ("and 4 more").
ALSO_SHOWN = 2


def also_html(copies: Sequence, *, source: str = "") -> str:
    """"Also published by apnews.com, wtop.com and 4 more": the other copies of a card's story
    (``Passage.also`` / ``Citation.also``), each linked to its article; a copy on the card's own
    site is another version of the story and is named by its date. "" without copies."""
    if not copies:
        return ""
    links = []
    for c in copies[:ALSO_SHOWN]:
        label = c.source or "another site"
        if c.source and c.source == source:
            label = f"{c.source} ({c.date.isoformat()})" if c.date else f"{c.source} (another version)"
        links.append(_link(c.url, label, css="nd-also-link"))
    extra = len(copies) - len(links)
    if extra:
        text = f"{', '.join(links)} and {extra} more"
    else:
        text = " and ".join([", ".join(links[:-1]), links[-1]]) if len(links) > 1 else links[0]
    return f'<div class="nd-also">Also published by {text}</div>'


def _meta(source: str, day: object) -> str:
    parts = [escape(source) if source else "unknown source", escape(day.isoformat()) if day else "undated"]
    return " · ".join(parts)


def filters_html(date_from: str | None, date_to: str | None, sources: Sequence[str] | None) -> str:
    """The line under the chat that says which search filters are on ("" when none is): a
    filter left set from an earlier question would otherwise narrow every answer unseen."""
    parts = [f"from {escape(date_from[:10])}" if date_from else "", f"to {escape(date_to[:10])}" if date_to else "",
             ("sources: " + ", ".join(escape(s) for s in sources)) if sources else ""]
    shown = " · ".join(p for p in parts if p)
    if not shown:
        return ""
    return (f'<div class="nd-filters-on" role="status">Filters on: {shown}. Answers search only these articles '
            "(Search options below; New conversation clears them).</div>")


def question_html(question: str) -> str:
    """The user's message as shown in the chat (escaped)."""
    return f'<div class="nd-question">{escape(question)}</div>'


def pending_html(text: str = "Searching the collection…") -> str:
    """The assistant's placeholder while retrieval runs."""
    return f'<div class="nd-answer nd-pending"><em>{escape(text)}</em></div>'


def notice_html(text: str) -> str:
    """An assistant message that is not an answer (an error the user can fix)."""
    return f'<div class="nd-answer nd-notice">{escape(text)}</div>'


def answer_html(answer: Answer, *, turn: int, streaming: bool = False) -> str:
    """The answer as one line of HTML for the chat.

    The text is escaped, then each ``[n]`` that matches a citation becomes a link to that
    source's card in the sources panel (``#nd-src-{turn}-{n}``) whose tooltip names the
    headline. Sentences the citation check rejected are marked "[unsupported]", and a note on
    reports that differ (``Answer.disagreement``) is set apart in its own block. The
    rewritten search ("Searched for: …") is shown when it differs from the question, and
    warnings follow the text.

    Args:
        answer: a partial or final :class:`~rag.Answer`.
        turn: the answer's position in the conversation (1-based), to keep anchors unique.
        streaming: more of the answer is coming: marked with the class ``nd-streaming`` (the
            browser tests wait for a complete answer; the chat's sanitizer drops ``aria-busy``).
    """
    if streaming and not answer.text:  # the passages are found and being read
        return pending_html(f"Reading {len(answer.passages)} passages…")
    by_number = {c.number: c for c in answer.citations}

    def link(match: re.Match[str]) -> str:
        number = int(match.group(1))
        c = by_number.get(number)
        if c is None:
            return match.group(0)
        tip = escape(f"{c.title} ({c.source})" if c.source else c.title)
        return f'<a class="nd-cite" href="#{citation_anchor(turn, number)}" title="{tip}">[{number}]</a>'

    parts = [f'<div class="nd-answer{" nd-streaming" if streaming else ""}">']
    if answer.query and answer.query.strip() != answer.question.strip():
        parts.append(f'<div class="nd-query">Searched for: <q>{escape(answer.query)}</q></div>')
    body = _MARKER.sub(link, _differ(escape(answer.text), answer))
    parts.append(f'<div class="nd-text{" nd-abstained" if answer.abstained else ""}">{body}</div>')
    parts.append(_flagged(answer.flagged))
    for warning in answer.warnings:
        parts.append(f'<div class="nd-warning">⚠ {escape(warning)}</div>')
    parts.append("</div>")
    return "".join(parts)


def _differ(body: str, answer: Answer) -> str:
    """``body`` (escaped) with the note on reports that differ set apart as its own block, so the
    reader sees at once that the sources disagree (its [n] markers are linked like the others)."""
    if answer.disagreement is None:
        return body
    shown = escape(answer.disagreement.note)
    at = body.rfind(shown)
    if at < 0:
        return body
    label = "Sources disagree" if answer.disagreement.kind == "conflict" else "The figure was updated"
    return (f'{body[:at].removesuffix("<br>")}<div class="nd-differ nd-differ-{answer.disagreement.kind}" '
            f'role="note" title="{label}">{shown}</div>{body[at + len(shown):]}')


def _flagged(flagged: Sequence[str]) -> str:
    """The sentences the citation check rejected, apart from the answer and struck through, so none
    ever reads as plain, sourced answer text."""
    if not flagged:
        return ""
    items = "".join(f'<li><span class="nd-flagged">{escape(s)}</span><span class="nd-flag"> [unsupported]</span></li>'
                    for s in flagged)
    return (f'<div class="nd-flagged-list" title="The sources do not back these sentences">'
            f"Not backed by the sources, so not part of the answer:<ul>{items}</ul></div>")


def highlight(passage_text: str, start: int, end: int, *, quote: str = "") -> str:
    """``passage_text`` escaped, with ``[start, end)`` wrapped in ``<mark>``.

    Offsets outside the passage are clamped; when they select nothing, the ``quote`` is
    looked up in the passage instead, and without a match the passage is shown plain.
    """
    n = len(passage_text)
    s, e = max(0, min(start, n)), max(0, min(end, n))
    if e <= s and quote:
        found = passage_text.find(quote)
        if found >= 0:
            s, e = found, found + len(quote)
    if e <= s:
        return escape(passage_text)
    return f"{escape(passage_text[:s])}<mark>{escape(passage_text[s:e])}</mark>{escape(passage_text[e:])}"


def _highlight_pieces(passage_text: str, quote: str) -> str:
    """``passage_text`` escaped with each piece of ``quote`` (joined by :data:`rag.cite.GAP`, as
    in a citation of one article's chunks far apart) in ``<mark>``, each looked up after the last."""
    out, at = [], 0
    for piece in quote.split(GAP):
        found = passage_text.find(piece, at) if piece else -1
        if found < 0:
            continue
        out.append(f"{escape(passage_text[at:found])}<mark>{escape(piece)}</mark>")
        at = found + len(piece)
    return "".join(out) + escape(passage_text[at:])


def _citation_card(c: Citation, *, turn: int) -> str:
    if c.passage_text and c.quote_end - c.quote_start != len(c.quote) and GAP in c.quote:
        body = _highlight_pieces(c.passage_text, c.quote)
    elif c.passage_text:
        body = highlight(c.passage_text, c.quote_start - c.passage_start, c.quote_end - c.passage_start,
                         quote=c.quote)
    else:
        body = f"<mark>{escape(c.quote)}</mark>"
    return (
        f'<article class="nd-card" id="{citation_anchor(turn, c.number)}">'
        f'<div class="nd-card-head"><span class="nd-num">[{c.number}]</span> '
        f'{_link(c.url, c.title or "(untitled)", css="nd-title")}</div>'
        f'<div class="nd-meta">{_meta(c.source, c.date)}</div>'
        f"{also_html(c.also, source=c.source)}"
        f'<blockquote class="nd-passage">{body}</blockquote>'
        "</article>"
    )


def _passage_card(p: Passage) -> str:
    return (
        '<article class="nd-card nd-uncited">'
        f'<div class="nd-card-head">{_link(p.url, p.title or "(untitled)", css="nd-title")}</div>'
        f'<div class="nd-meta">{_meta(p.source, p.date)}</div>'
        f"{also_html(p.also, source=p.source)}"
        f'<blockquote class="nd-passage">{escape(p.text)}</blockquote>'
        "</article>"
    )


def uncited_passages(answer: Answer) -> list[Passage]:
    """Retrieved passages of articles no citation of ``answer`` quotes, in retrieval order.

    By article, not by passage: a citation may quote a chunk next to the retrieved one (or the
    article's lead), and its card stands for that article, so the panel never shows more
    cards than the ``k`` passages retrieved."""
    cited_articles = {c.article_id for c in answer.citations}
    return [p for p in answer.passages if p.article_id not in cited_articles]


def sources_html(answer: Answer | None, *, turn: int, earlier: Sequence[tuple[int, Answer]] = ()) -> str:
    """The sources panel for ``answer`` (answer ``turn``): a card per citation (headline linked
    to the article, source, date, passage with the supporting sentence in ``<mark>``), then the
    retrieved passages that were not cited, collapsed in a ``<details>`` (open when nothing was
    cited).

    ``earlier`` (turn, answer) pairs are rendered too, hidden (``nd-hide``), so that a ``[n]``
    of an earlier answer has its own cards to show: the page's script unhides the turn whose
    marker was clicked (:data:`ui.style.SCRIPT`)."""
    if answer is None:
        return '<div class="nd-sources nd-empty">Sources of the latest answer appear here.</div>'
    return "".join([*(_turn_sources(a, turn=t, hidden=True) for t, a in earlier if t != turn),
                    _turn_sources(answer, turn=turn, hidden=False)])


def _turn_sources(answer: Answer, *, turn: int, hidden: bool) -> str:
    parts = [f'<div class="nd-sources{" nd-hide" if hidden else ""}" data-turn="{turn}">',
             f'<div class="nd-turn-label">Sources of answer {turn}: <q>{escape(answer.question)}</q></div>']
    if answer.query and answer.query.strip() != answer.question.strip():
        parts.append(f'<div class="nd-query">Searched for: <q>{escape(answer.query)}</q></div>')
    reading = not answer.text and not answer.abstained  # found, the answer not yet written
    if answer.citations:
        parts.append(f'<h3 class="nd-heading">Cited sources ({len(answer.citations)})</h3>')
        parts.extend(_citation_card(c, turn=turn) for c in answer.citations)
    elif not reading:
        parts.append('<p class="nd-none">No passage was cited for this answer.</p>')
    rest = uncited_passages(answer)
    if rest:
        # Collapsed next to cited sources; open when there are none, as they are all there is to see.
        label, opened = (("Retrieved but not cited", "") if answer.citations
                         else ("Retrieved passages, being read", " open") if reading
                         else ("Closest passages (not used as evidence)", " open"))
        parts.append(f'<details class="nd-more"{opened}><summary>{label} ({len(rest)})</summary>')
        parts.extend(_passage_card(p) for p in rest)
        parts.append("</details>")
    parts.append("</div>")
    return "".join(parts)


def timeline_html(timeline: Timeline | None) -> str:
    """A story's timeline as a dated list: each development's line (escaped), its source linked
    to the article, and the story's other copies ("Also published by ...")."""
    if timeline is None:
        return ('<div class="nd-timeline nd-empty">Name a story (for example a strike or an election) to see '
                "its developments in date order.</div>")
    head = f'<div class="nd-timeline"><div class="nd-turn-label">Timeline: <q>{escape(timeline.query)}</q></div>'
    head += "".join(f'<div class="nd-warning">⚠ {escape(w)}</div>' for w in timeline.warnings)
    if not timeline.entries:
        return head + '<p class="nd-none">No dated article on this story was found.</p></div>'
    items = []
    for e in timeline.entries:
        items.append(
            f'<li class="nd-tl-entry"><span class="nd-tl-date">{escape(e.date.isoformat())}</span> '
            f'<span class="nd-tl-line">{escape(e.sentence)}</span> '
            f'<span class="nd-meta">({_link(e.url, e.source or e.title or "source", css="nd-title")})</span>'
            f"{also_html(e.also, source=e.source)}</li>"
        )
    undated = (f'<p class="nd-meta">{timeline.undated:,} undated article{"s" if timeline.undated != 1 else ""} '
               "on the story left out.</p>") if timeline.undated else ""
    return head + f'<ol class="nd-tl">{"".join(items)}</ol>{undated}</div>'


def stats_markdown(stats: Stats, *, private_copy: bool | None = None) -> str:
    """The collection's size, date span and model as Markdown.

    Args:
        stats: from :meth:`rag.Assistant.stats`.
        private_copy: True when this session searches its own copy (after an upload), False
            when uploads will go into a private copy, None when uploads go into the index served.
    """
    span = (f"{stats.date_from.isoformat()} – {stats.date_to.isoformat()}"
            if stats.date_from and stats.date_to else "no dated articles")
    lines = [
        f"**{stats.articles:,}** {_noun(stats.articles, 'article')} · **{stats.chunks:,}** "
        f"{_noun(stats.chunks, 'passage')} · **{stats.sources:,}** {_noun(stats.sources, 'source')}",
        f"Dates: {span}" + (f" ({stats.undated:,} undated)" if stats.undated else ""),
        f"Embedding model: `{stats.model.replace('`', '')}`",
    ]
    if private_copy is True:
        lines.append("Searching your private copy of the collection, with your uploads.")
    elif private_copy is False:
        lines.append("Uploads go into a private copy for this browser session only.")
    return "  \n".join(lines)


def upload_report_html(summary: str, *, added: int | None = None, total: int | None = None,
                       seconds: float | None = None, error: str | None = None, replaced: int = 0) -> str:
    """What an upload did: a headline sentence, then the load report (escaped, pre-formatted).

    Args:
        summary: :meth:`LoadReport.summary` text (file paths already shortened to names).
        added: new articles; None when nothing valid was found.
        total: articles in the collection afterwards.
        seconds: time the indexing took.
        error: a problem that stopped the upload (too large, wrong type).
        replaced: articles already in the collection with the same id, now replaced (never silently).
    """
    if error:
        head = f'<p class="nd-upload-error">{escape(error)}</p>'
    elif added is None:
        head = '<p class="nd-upload-error">No valid article found: the collection is unchanged.</p>'
    else:
        took = f" in {seconds:.1f} s" if seconds is not None else ""
        now = f"; the collection now holds {plural(total, 'article')}" if total is not None else ""
        swapped = (f"; replaced {replaced:,} existing article{'s' if replaced != 1 else ''} with the same id "
                   "(listed below)" if replaced else "")
        head = (f'<p class="nd-upload-ok">Indexed {added:,} new article{"s" if added != 1 else ""}{swapped}'
                f"{took}{now}. They are searchable now.</p>")
    body = f'<pre class="nd-report">{html.escape(summary)}</pre>' if summary else ""
    return f'<div class="nd-upload">{head}{body}</div>'


def removal_html(titles: Sequence[str], *, total: int) -> str:
    """What a removal of uploaded articles did."""
    names = "; ".join(escape(t) for t in titles)
    return (f'<div class="nd-upload"><p class="nd-upload-ok">Removed {plural(len(titles), "article")} ({names}); '
            f"the collection now holds {plural(total, 'article')}.</p></div>")


def _noun(n: int, noun: str) -> str:
    return noun if n == 1 else noun + "s"


def short_paths(text: str, folders: Sequence[str]) -> str:
    """``text`` with each of ``folders`` (and the path separator after it) removed, so report
    lines name uploaded files by their own names rather than by server temp paths."""
    for folder in sorted(set(folders), key=len, reverse=True):
        if folder:
            text = text.replace(folder.rstrip("/\\") + "/", "").replace(folder.rstrip("/\\") + "\\", "")
    return text
