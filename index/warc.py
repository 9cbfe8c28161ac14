"""Web archives (WARC, gzipped or not, as crawlers and Common Crawl's news crawl write them):
the HTML pages among their response records (``warcio``).

Each page goes to the loader as HTML, through the same extraction and cleaning as an
``.html`` file; its url and crawl date come from the WARC headers. Request, metadata and
other non-response records are not articles and are passed over; a response that is not
an HTML page, or not a success, is reported.

The archive is read as a stream, record by record. A record whose declared length
(``Content-Length``) is impossible (past the end of an uncompressed file, over
``max_record_bytes``, or missing) is reported and skipped without swallowing the records
after it: an uncompressed archive resumes at the next ``WARC/1.`` header, a gzipped one at
its next gzip member (each record is its own member).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import BinaryIO

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed

HTML_TYPES = ("text/html", "application/xhtml+xml")
GZIP_MAGIC = b"\x1f\x8b"
# A new record starts with this at the start of a line (WARC/1.0, WARC/1.1).
_HEADER = b"\nWARC/1."
_SCAN_CHUNK = 1 << 20


@dataclass(frozen=True)
class Page:
    """One response record of an archive.

    Attributes:
        number: 1-based position of the record in the archive (every record counts).
        url: ``WARC-Target-URI``.
        crawled: the ``WARC-Date`` (the page's date when it names none itself).
        html: the decoded page, or "" when the record was skipped.
        problem: why it was skipped ("" when it was not).
        kind: the problem's kind (:class:`index.load.LoadProblem`), "" when there is none.
    """

    number: int
    url: str
    crawled: date | None
    html: str = ""
    problem: str = ""
    kind: str = ""


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


def _size(n: int) -> str:
    return f"{n:,} bytes" if n < 1 << 20 else f"{n / (1 << 20):,.1f} MB"


def _next_header(stream: BinaryIO, start: int) -> int | None:
    """Offset of the next ``WARC/1.`` line at or after ``start``, read in bounded chunks; None when there is none."""
    stream.seek(max(start - 1, 0))
    offset = stream.tell()
    tail = b""
    while True:
        chunk = stream.read(_SCAN_CHUNK)
        if not chunk:
            return None
        data = tail + chunk
        found = data.find(_HEADER)
        if found >= 0:
            return offset - len(tail) + found + 1
        tail = data[-len(_HEADER):]
        offset += len(chunk)


def _bad_length(record, stream: BinaryIO, it: ArchiveIterator, *, size: int, gzipped: bool,
                max_record_bytes: int) -> str:
    """Why the record's declared length cannot be right, or "" when it can."""
    left = getattr(record.raw_stream, "limit", None)  # what is still to read of the record's block
    if left is None:
        return "no Content-Length"
    declared = record.length
    if declared > max_record_bytes:
        return f"Content-Length {declared:,} is over the limit of {_size(max_record_bytes)} per record"
    if not gzipped:
        remaining = size - (stream.tell() - it.reader.rem_length())
        if left > remaining:
            return f"Content-Length {declared:,} runs past the end of the file ({remaining:,} bytes left)"
    return ""


def read_warc(stream: BinaryIO, *, size: int, max_record_bytes: int, max_page_bytes: int) -> Iterator[Page | str]:
    """The response records of a WARC file, in order; a damaged archive ends with a string
    saying where and why reading stopped (the pages before it are kept).

    Args:
        stream: the archive, opened for reading in binary, seekable.
        size: its size in bytes.
        max_record_bytes: the longest record accepted (unpacked, for a gzipped archive).
        max_page_bytes: the largest HTML page handed on; larger ones are reported.
    """
    gzipped = stream.read(2) == GZIP_MAGIC
    stream.seek(0)
    number = 0
    while True:
        resume = None
        try:
            it = ArchiveIterator(stream, arc2warc=True)
            for record in it:
                number += 1
                url = record.rec_headers.get_header("WARC-Target-URI") or ""
                crawled = _crawled(record.rec_headers.get_header("WARC-Date"))
                bad = _bad_length(record, stream, it, size=size, gzipped=gzipped, max_record_bytes=max_record_bytes)
                if bad:
                    yield Page(number, url, crawled, problem=f"{url or 'record'}: {bad}; record skipped",
                               kind="bad-record-length")
                    if gzipped:
                        continue  # the record's gzip member ends it; the next member is the next record
                    resume = _next_header(stream, stream.tell() - it.reader.rem_length())
                    break
                if record.rec_type == "response":  # requests, metadata and the rest are not articles
                    yield _page(record, number, url, crawled, max_page_bytes)
        except (ArchiveLoadFailed, OSError, EOFError, ValueError) as exc:
            yield f"damaged archive after record {number}: {exc}; the rest of the file was not read"
            return
        if resume is None:
            return
        stream.seek(resume)


def _page(record, number: int, url: str, crawled: date | None, max_page_bytes: int) -> Page:  # noqa: ANN001
    """The page of a response record, or why it is skipped."""
    http = record.http_headers
    status = http.get_statuscode() if http is not None else ""
    kind = (http.get_header("Content-Type") or "") if http is not None else ""
    if status and not status.startswith("2"):
        return Page(number, url, crawled, problem=f"{url}: HTTP status {status}, not a page", kind="not-a-page")
    if kind.split(";")[0].strip().lower() not in HTML_TYPES:
        shown = kind.split(";")[0].strip() or "no content type"
        return Page(number, url, crawled, problem=f"{url}: not an HTML page ({shown})", kind="not-a-page")
    body = record.content_stream().read(max_page_bytes + 1)
    if len(body) > max_page_bytes:
        return Page(number, url, crawled, kind="limit-html-bytes",
                    problem=f"{url}: the page is over {_size(max_page_bytes)}; the limit is "
                            f"{_size(max_page_bytes)} per HTML page")
    try:
        html = body.decode(_charset(kind), errors="replace")
    except LookupError:  # an unknown charset name
        html = body.decode("utf-8", errors="replace")
    return Page(number, url, crawled, html=html)
