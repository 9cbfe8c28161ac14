"""Web archives (WARC, gzipped or not, as crawlers and Common Crawl's news crawl write them):
the HTML pages among their response records (``warcio``).

Each page goes to the loader as HTML, through the same extraction and cleaning as an
``.html`` file; its url and crawl date come from the WARC headers. Request, metadata and
other non-response records are not articles and are passed over; a response that is not
an HTML page, or not a success, is reported.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed

HTML_TYPES = ("text/html", "application/xhtml+xml")


@dataclass(frozen=True)
class Page:
    """One response record of an archive.

    Attributes:
        number: 1-based position of the record in the archive (every record counts).
        url: ``WARC-Target-URI``.
        crawled: the ``WARC-Date`` (the page's date when it names none itself).
        html: the decoded page, or "" when the record was skipped.
        problem: why it was skipped ("" when it was not).
    """

    number: int
    url: str
    crawled: date | None
    html: str = ""
    problem: str = ""


def _charset(content_type: str) -> str:
    for part in content_type.split(";")[1:]:
        key, _, value = part.strip().partition("=")
        if key.lower() == "charset" and value:
            return value.strip("\"' ")
    return "utf-8"


def _crawled(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value[:10]) if value else None
    except ValueError:
        return None


def read_warc(raw: bytes) -> Iterator[Page | str]:
    """The response records of a WARC file, in order; a damaged archive ends with a string
    saying where and why reading stopped (the pages before it are kept)."""
    number = 0
    try:
        for record in ArchiveIterator(io.BytesIO(raw), arc2warc=True):
            number += 1
            if record.rec_type != "response":
                continue
            url = record.rec_headers.get_header("WARC-Target-URI") or ""
            crawled = _crawled(record.rec_headers.get_header("WARC-Date"))
            http = record.http_headers
            status = http.get_statuscode() if http is not None else ""
            kind = (http.get_header("Content-Type") or "") if http is not None else ""
            if status and not status.startswith("2"):
                yield Page(number, url, crawled, problem=f"{url}: HTTP status {status}, not a page")
                continue
            if kind.split(";")[0].strip().lower() not in HTML_TYPES:
                shown = kind.split(";")[0].strip() or "no content type"
                yield Page(number, url, crawled, problem=f"{url}: not an HTML page ({shown})")
                continue
            body = record.content_stream().read()
            try:
                html = body.decode(_charset(kind), errors="replace")
            except LookupError:  # an unknown charset name
                html = body.decode("utf-8", errors="replace")
            yield Page(number, url, crawled, html=html)
    except (ArchiveLoadFailed, OSError, EOFError, ValueError) as exc:
        yield f"damaged archive after record {number}: {exc}; the rest of the file was not read"
