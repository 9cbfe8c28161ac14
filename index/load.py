"""Load news articles from files and folders into :class:`~index.records.Article` records.

Formats, chosen by extension: ``.jsonl`` / ``.ndjson`` (one JSON object per line),
``.json`` (an array of objects, or one object), ``.csv`` (a header row, then one article
per row), ``.txt`` / ``.md`` (one article per file), ``.html`` / ``.htm`` (one page per
file, extracted with trafilatura), ``.jsonl.gz`` / ``.ndjson.gz`` (gzipped JSONL),
``.rss`` / ``.atom`` / ``.xml`` (an RSS or Atom feed, one article per entry:
:mod:`index.feeds`), ``.warc`` / ``.warc.gz`` (a web archive, one article per HTML response
record, extracted as an ``.html`` file is: :mod:`index.warc`). A folder is walked
recursively in sorted order, skipping hidden files and folders; it may mix formats.

Record fields and the other names accepted for them (matched case-insensitively; the
first present, non-empty one wins; ``field_map`` replaces a field's list with the one
name given):

==========  ===============================================================================
field       also read from
==========  ===============================================================================
id          doc_id, article_id
title       headline, name, heading
text        body, content, article, article_text, story
date        published, published_at, publish_date, pubdate, published_date, datetime, time
url         link, href, permalink
source      site, publisher, outlet, domain
author      byline, authors, writer
==========  ===============================================================================

Rules, each chosen so that nothing valid is lost and nothing is dropped silently:

- Every record that is not loaded is reported as a :class:`LoadProblem` with its file,
  line and reason: malformed JSON, a value that is not an object, missing or empty text
  (after cleaning), text or title of the wrong type, invalid UTF-8, broken CSV quoting.
  A number title is turned into a string (a headline such as ``1984`` is plausible);
  a list or dict title is a mapping mistake and skips the record.
- Some problems keep the record (``kept=True``): an unparseable date (the date is then
  looked for in the url and text), text over ``max_chars`` (cut at a paragraph or
  sentence boundary), invalid UTF-8 in a one-article file (replaced with U+FFFD).
- Whole-file problems (``line=None``): missing path, unsupported extension, empty
  file, binary content (NUL bytes in the first 8 KB), unreadable file, anything but a
  regular file (a FIFO, a device, or a link to one: never opened for reading, so
  ``/dev/zero`` or a pipe cannot stall or exhaust the loader), a file over
  ``max_file_bytes``.
- Duplicate ids: the last occurrence wins, as a later export usually holds the newer
  version; each earlier one is reported as "duplicate id X, replaced by line N".
- Ids: the given id, else derived from the url, else from the text
  (:func:`~index.records.stable_id`). Text, Markdown and HTML files get ``"f"`` + a SHA-1
  of their path relative to the folder given and of their bytes: two different documents
  never share an id, even with the same name from different places (uploads are often all
  ``index.html``), while loading the same file again gives the same id. An edited file is
  a new article; ``newsdesk index build`` over its folder removes the old version.
- A missing source is the url's host without ``www.``; a missing or unparseable date
  is found with :func:`~index.dates.find_date`.
"""

from __future__ import annotations

import bisect
import csv
import functools
import hashlib
import itertools
import json
import os
import re
import stat
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from index import feeds, warc
from index.clean import clean_line, clean_text
from index.dates import find_date
from index.records import Article, stable_id

__all__ = ["FIELD_ALIASES", "LoadProblem", "LoadReport", "load_articles"]

FIELD_ALIASES: Mapping[str, tuple[str, ...]] = {
    "id": ("id", "doc_id", "article_id"),
    "title": ("title", "headline", "name", "heading"),
    "text": ("text", "body", "content", "article", "article_text", "story"),
    "date": (
        "date", "published", "published_at", "publish_date", "pubdate", "published_date", "datetime", "time",
    ),
    "url": ("url", "link", "href", "permalink"),
    "source": ("source", "site", "publisher", "outlet", "domain"),
    "author": ("author", "byline", "authors", "writer"),
}
SUFFIXES = (".jsonl", ".ndjson", ".json", ".csv", ".txt", ".md", ".html", ".htm", ".jsonl.gz", ".ndjson.gz",
            ".rss", ".atom", ".xml", ".warc", ".warc.gz")
GZIPPED = (".jsonl.gz", ".ndjson.gz")
FEEDS = (".rss", ".atom", ".xml")
ARCHIVES = (".warc", ".warc.gz")
# NUL never occurs in UTF-8 text; 8 KB is where git and grep look for it too.
BINARY_SNIFF_BYTES = 8_192
# csv's default 128 KB field limit is below a long article; 2**31 - 1 fits a C long everywhere.
CSV_FIELD_LIMIT = 2**31 - 1
# Truncation prefers a boundary in the last half of the allowed length over a hard cut.
MIN_KEEP_FRACTION = 0.5
# Epoch numbers above this are milliseconds (1e11 seconds is the year 5138).
EPOCH_MS_THRESHOLD = 1e11
# Each file is read into memory whole (about 5x its size once decoded and parsed): 1 GiB keeps
# that within a machine's memory; split larger exports.
MAX_FILE_BYTES = 1 << 30

_LEADING_DATE = re.compile(r"\s*date\s+(\d{4}-\d{2}-\d{2})\b\s*(.*)", re.IGNORECASE | re.DOTALL)
_ISO_DATE = re.compile(r"\s*(\d{4})-(\d{2})-(\d{2})(?![\d])")
_SURROGATE = re.compile("[\ud800-\udfff]")
_REST_NOT_READ = "the rest of the file was not read"
_SENTENCE_BREAK = re.compile(r"""[.!?]["”’')\]]*\s""")


@dataclass(frozen=True)
class LoadProblem:
    """Something wrong in an input.

    Attributes:
        path: The file (or missing path) concerned.
        line: 1-based line of the record (JSONL line, CSV row start, JSON element start), or
            its position in a feed (entry) or web archive (record); None when the problem
            concerns the whole file.
        reason: What is wrong, in words the user can act on.
        kept: True when the record was still loaded (a warning), False when it was skipped.
    """

    path: str
    line: int | None
    reason: str
    kept: bool = False

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        return f"{where}: {self.reason}"


@dataclass
class LoadReport:
    """Articles loaded and problems met.

    Attributes:
        articles: The loaded articles, in input order, each id once.
        problems: Every skipped record, warning and whole-file problem.
        files: Files read (supported extensions only).
        records: Records seen (JSONL lines that are not blank, CSV rows, JSON elements,
            one per text/Markdown/HTML file); ``records - len(articles)`` were skipped.
    """

    articles: list[Article] = field(default_factory=list)
    problems: list[LoadProblem] = field(default_factory=list)
    files: int = 0
    records: int = 0

    @property
    def skipped(self) -> int:
        """Records seen but not loaded."""
        return self.records - len(self.articles)

    def summary(self, max_problems: int = 10) -> str:
        """One line of counts, then up to ``max_problems`` problems as "path:line: reason".

        Args:
            max_problems: How many problems to list; the rest are counted.

        Returns:
            E.g. "Loaded 2,357 articles from 1 file (2,360 records); 3 skipped: ..." with
            one problem per following line.
        """
        head = (
            f"Loaded {_count(len(self.articles), 'article')} from {_count(self.files, 'file')} "
            f"({_count(self.records, 'record')})"
        )
        if not self.problems:
            return head + "."
        warnings = sum(p.kept for p in self.problems)
        parts = ([f"{self.skipped:,} skipped"] if self.skipped else []) + (
            [_count(warnings, "warning")] if warnings else []
        )
        lines = [f"{head}; {', '.join(parts or [_count(len(self.problems), 'problem')])}:"]
        lines += [f"  {p}" for p in self.problems[:max_problems]]
        if len(self.problems) > max_problems:
            lines.append(f"  ... and {len(self.problems) - max_problems:,} more")
        return "\n".join(lines)

    def extend(self, other: LoadReport) -> None:
        """Append another report's articles, problems and counts.

        Ids are not deduplicated across reports: load everything in one
        :func:`load_articles` call for the last-one-wins rule to apply.
        """
        self.articles.extend(other.articles)
        self.problems.extend(other.problems)
        self.files += other.files
        self.records += other.records


def load_articles(
    paths: Iterable[str | Path],
    *,
    field_map: Mapping[str, str] | None = None,
    clean: bool = True,
    max_chars: int = 2_000_000,
    max_file_bytes: int = MAX_FILE_BYTES,
) -> LoadReport:
    """Load articles from files and folders, reporting every record that was not loaded.

    Never raises for bad input data: missing paths, unreadable files and bad records
    become problems in the report. See the module docstring for formats and rules.

    Args:
        paths: Files and folders to load; a single path is accepted too.
        field_map: Our field name to the input's field name, e.g. ``{"text": "story_body"}``;
            replaces the default names for that field.
        clean: Apply :func:`~index.clean.clean_text` to article text and
            :func:`~index.clean.clean_line` to its title, source and author.
        max_chars: Longest text kept; longer texts are cut at a paragraph or sentence
            boundary and reported.
        max_file_bytes: Largest file read (each is read into memory whole); larger ones are
            reported and skipped.

    Returns:
        The articles, the problems and the counts.

    Raises:
        ValueError: ``field_map`` names an unknown field or an empty name, or ``max_chars``
            is not positive.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    if max_chars < 1:
        raise ValueError(f"max_chars must be positive, got {max_chars!r}")
    if max_file_bytes < 1:
        raise ValueError(f"max_file_bytes must be positive, got {max_file_bytes!r}")
    loader = _Loader(_field_names(field_map), clean=clean, max_chars=max_chars, max_file_bytes=max_file_bytes)
    for path in paths:
        loader.add_path(Path(path))
    return loader.finish()


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _field_names(field_map: Mapping[str, str] | None) -> dict[str, tuple[str, ...]]:
    names = dict(FIELD_ALIASES)
    for ours, theirs in (field_map or {}).items():
        if ours not in FIELD_ALIASES:
            valid = ", ".join(FIELD_ALIASES)
            raise ValueError(f"field_map key {ours!r} is not a field; valid fields: {valid}")
        if not isinstance(theirs, str) or not theirs.strip():
            raise ValueError(f"field_map[{ours!r}] must be a non-empty field name, got {theirs!r}")
        names[ours] = (theirs.strip().lower(),)
    return names


def _kind(value: object) -> str:
    kinds = {dict: "an object", list: "a list", bool: "a boolean", int: "a number", float: "a number"}
    return kinds.get(type(value), f"a {type(value).__name__}")


def _json_error(exc: Exception, line: int) -> tuple[int, str]:
    """Line and message of a JSON parsing failure (``line`` when the error does not say)."""
    if isinstance(exc, json.JSONDecodeError):
        return exc.lineno, exc.msg
    return line, "nested too deeply" if isinstance(exc, RecursionError) else str(exc)


def _well_formed(*values: str) -> bool:
    """Whether the strings hold no lone surrogates (encoding is the fastest check)."""
    try:
        for value in values:
            value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _has_bad(bad_lines: list[int], first: int, last: int) -> bool:
    """Whether any line in ``first..last`` (1-based, inclusive) held invalid UTF-8."""
    i = bisect.bisect_left(bad_lines, first)
    return i < len(bad_lines) and bad_lines[i] <= last


def _decode(raw: bytes) -> tuple[str, list[int]]:
    """Text of a file, and the sorted 1-based lines whose bytes were not valid UTF-8."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16", errors="replace"), []
    try:
        text = raw.decode("utf-8")
        bad: list[int] = []
    except UnicodeDecodeError:
        # Decoding line by line finds every bad line, not only the first.
        bad = []
        for number, chunk in enumerate(raw.split(b"\n"), 1):
            try:
                chunk.decode("utf-8")
            except UnicodeDecodeError:
                bad.append(number)
        text = raw.decode("utf-8", errors="replace")
    return text.removeprefix("\ufeff"), bad


class _Refused(Exception):
    """A file that is not read: not a regular file, or over the size limit."""


def _kind_of(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a folder")):
        if test(mode):
            return name
    return "a special file"


def _size(n: int) -> str:
    return f"{n:,} bytes" if n < 1 << 20 else f"{n / (1 << 20):,.1f} MB"


def _read_regular(path: Path, max_bytes: int) -> bytes:
    """The bytes of ``path`` if it is (or links to) a regular file of at most ``max_bytes``.

    The type is checked on the opened file (no swap between check and read), and the open
    does not block, so a FIFO is refused instead of waiting forever for a writer.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise _Refused(f"not a regular file ({_kind_of(info.st_mode)}); not read")
        if info.st_size > max_bytes:
            raise _Refused(f"file is {_size(info.st_size)}; the limit is {_size(max_bytes)} per file (split it)")
        os.set_blocking(fd, True)
        with os.fdopen(fd, "rb", closefd=False) as f:
            raw = f.read(max_bytes + 1)
    finally:
        os.close(fd)
    if len(raw) > max_bytes:  # it grew while we read
        raise _Refused(f"file is over {_size(max_bytes)}; the limit is {_size(max_bytes)} per file (split it)")
    return raw


def _truncate(text: str, max_chars: int) -> str:
    """Cut ``text`` to at most ``max_chars`` at a paragraph, else sentence, else word boundary."""
    floor = int(max_chars * MIN_KEEP_FRACTION)
    head = text[: max_chars + 1]
    cut = head.rfind("\n")
    if cut < floor:
        ends = [m.end() for m in _SENTENCE_BREAK.finditer(head, floor)]
        cut = ends[-1] if ends else head.rfind(" ")
    if cut < floor:
        cut = max_chars
    return text[:cut].rstrip()


def _parse_given_date(value: object) -> date | None:
    """A date from a record's date field, or None when it holds no recognisable date."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        seconds = value / 1000 if value > EPOCH_MS_THRESHOLD else value
        try:
            found = datetime.fromtimestamp(seconds, tz=timezone.utc).date()
        except (OverflowError, OSError, ValueError):
            return None
        return find_date(text=found.isoformat())  # applies the same plausibility limits
    if not isinstance(value, str) or not value.strip():
        return None
    m = _ISO_DATE.match(value)
    if m:
        return find_date(text="-".join(m.groups()))
    return find_date(text=value.strip())


def _host(url: str) -> str:
    try:
        host = urlsplit(url if "//" in url else f"//{url}").hostname or ""
    except ValueError:
        return ""
    return host.removeprefix("www.")


def _as_text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def _as_author(value: object) -> str:
    """An author string from a name, a {"name": ...} object, or a list of either (joined with ", ")."""
    items = value if isinstance(value, list) else [value]
    names = [_source(item) for item in items]
    return ", ".join(" ".join(name.split()) for name in names if name)


class _Loader:
    """Accumulates one :func:`load_articles` call: articles, problems, and the id index."""

    def __init__(self, names: dict[str, tuple[str, ...]], *, clean: bool, max_chars: int,
                 max_file_bytes: int) -> None:
        self.names = names
        self.clean = clean
        self.max_chars = max_chars
        self.max_file_bytes = max_file_bytes
        self.report = LoadReport()
        # id -> (position in report.articles, path, line) of the occurrence that currently wins.
        self.by_id: dict[str, tuple[int, str, int | None]] = {}
        self.replaced: set[int] = set()

    # --- paths and files ---------------------------------------------------------------------

    def add_path(self, path: Path) -> None:
        if path.is_dir():
            for file in _walk(path):
                self.add_file(file, root=path)
        elif path.is_file():
            self.add_file(path, root=path.parent)
        elif path.exists():
            self.problem(path, None, "not a regular file or folder")
        else:
            self.problem(path, None, "no such file or folder")

    def add_file(self, path: Path, *, root: Path) -> None:
        suffix = file_format(path)
        if suffix not in SUFFIXES:
            shown = repr(path.suffix) if path.suffix else "(no extension)"
            self.problem(path, None, f"unsupported file type {shown}; expected one of {', '.join(SUFFIXES)}")
            return
        self.report.files += 1
        try:
            raw = _read_regular(path, self.max_file_bytes)
        except _Refused as exc:
            self.problem(path, None, str(exc))
            return
        except OSError as exc:
            self.problem(path, None, f"cannot read: {exc.strerror or exc}")
            return
        if not raw.strip():
            self.problem(path, None, "empty file")
            return
        if suffix in ARCHIVES:  # binary records are expected in an archive: no NUL sniffing
            self.read_archive(path, raw)
            return
        if suffix in FEEDS:
            self.read_feed(path, raw)
            return
        if suffix in GZIPPED:
            try:
                raw = _gunzip(raw, self.max_file_bytes)
            except _Refused as exc:
                self.problem(path, None, str(exc))
                return
            except (OSError, EOFError, zlib.error) as exc:
                self.problem(path, None, f"not a readable gzip file ({exc})")
                return
            suffix = ".jsonl"
        is_utf16 = raw.startswith((b"\xff\xfe", b"\xfe\xff"))
        if not is_utf16 and b"\x00" in raw[:BINARY_SNIFF_BYTES]:
            self.problem(path, None, "binary file (NUL bytes), not text")
            return
        text, bad = _decode(raw)
        if suffix in (".jsonl", ".ndjson"):
            self.read_jsonl(path, text, bad)
        elif suffix == ".json":
            self.read_json(path, text, bad)
        elif suffix == ".csv":
            self.read_csv(path, text, bad)
        else:
            self.read_document(path, text, bad, root=root, digest=hashlib.sha1(raw).hexdigest())

    def read_feed(self, path: Path, raw: bytes) -> None:
        """One record per feed entry, numbered from 1."""
        entries, whole = feeds.read_feed(raw)
        if whole:
            self.problem(path, None, whole)
            return
        for entry in entries:
            self.report.records += 1
            if entry.record is None:
                self.problem(path, entry.number, entry.problem)
            else:
                self.add_object(entry.record, path, entry.number, fields_are_ours=True)

    def read_archive(self, path: Path, raw: bytes) -> None:
        """One record per response in a web archive (numbered by archive record), each page
        through the same extraction as an HTML file."""
        for page in warc.read_warc(raw):
            if isinstance(page, str):
                self.problem(path, None, page)
                break
            self.report.records += 1
            if page.problem:
                self.problem(path, page.number, page.problem)
                continue
            record = _html_record(page.html, url=page.url)
            if record is None:
                self.problem(path, page.number, f"{page.url}: no article text found in the HTML")
                continue
            record["date"] = record["date"] or page.crawled
            self.add_object(record, path, page.number, fields_are_ours=True)

    def read_jsonl(self, path: Path, text: str, bad: list[int]) -> None:
        """One record per line that is not blank."""
        for number, line in enumerate(text.split("\n"), 1):
            if not line.strip():
                continue
            self.report.records += 1
            if bad and _has_bad(bad, number, number):
                self.problem(path, number, "invalid UTF-8 bytes")
                continue
            try:
                obj = json.loads(line)
            except (ValueError, RecursionError) as exc:  # RecursionError: absurdly deep nesting
                self.problem(path, number, f"malformed JSON: {_json_error(exc, number)[1]}")
                continue
            self.add_object(obj, path, number)

    def read_json(self, path: Path, text: str, bad: list[int]) -> None:
        """An array parsed element by element, so a bad element costs only itself and what follows."""
        decoder = json.JSONDecoder()
        start = _skip_space(text, 0)
        if text.startswith("{", start):
            try:
                obj, end = decoder.raw_decode(text, start)
            except (json.JSONDecodeError, RecursionError) as exc:
                self.report.records += 1
                line, msg = _json_error(exc, 1)
                self.problem(path, line, f"malformed JSON: {msg}")
                return
            if _skip_space(text, end) < len(text):
                # More after the first object: JSON Lines saved with a .json name.
                self.read_jsonl(path, text, bad)
                return
            self.report.records += 1
            if _has_bad(bad, 1, text.count("\n") + 1):
                self.problem(path, 1, "invalid UTF-8 bytes")
            else:
                self.add_object(obj, path, text.count("\n", 0, start) + 1)
            return
        if not text.startswith("[", start):
            self.problem(path, None, "expected a JSON array of objects or one JSON object")
            return
        lines = _LineCounter(text)
        pos = _skip_space(text, start + 1)
        if text.startswith("]", pos):
            self.problem(path, None, "empty JSON array")
            return
        while True:
            if pos >= len(text):
                reason = f"malformed JSON (array not closed); {_REST_NOT_READ}"
                self.problem(path, lines.line_at(len(text)), reason)
                return
            number = lines.line_at(pos)
            self.report.records += 1
            try:
                obj, end = decoder.raw_decode(text, pos)
            except (json.JSONDecodeError, RecursionError) as exc:
                line, msg = _json_error(exc, number)
                self.problem(path, line, f"malformed JSON ({msg}); {_REST_NOT_READ}")
                return
            if bad and _has_bad(bad, number, lines.line_at(end)):
                self.problem(path, number, "invalid UTF-8 bytes")
            else:
                self.add_object(obj, path, number)
            pos = _skip_space(text, end)
            if text.startswith(",", pos):
                pos = _skip_space(text, pos + 1)
                if text.startswith("]", pos):  # a trailing comma: not JSON, but its meaning is clear
                    pos = _skip_space(text, pos + 1)
                    if pos < len(text):
                        self.problem(path, lines.line_at(pos), "unexpected data after the JSON array")
                    return
            elif text.startswith("]", pos):
                if _skip_space(text, pos + 1) < len(text):
                    self.problem(path, lines.line_at(pos + 1), "unexpected data after the JSON array")
                return
            else:
                reason = f"malformed JSON (expected ',' or ']' after an element); {_REST_NOT_READ}"
                self.problem(path, lines.line_at(pos), reason)
                return

    def read_csv(self, path: Path, text: str, bad: list[int]) -> None:
        """A header row, then one record per row; after broken quoting, reading resumes on the next line."""
        if csv.field_size_limit() < CSV_FIELD_LIMIT:
            csv.field_size_limit(CSV_FIELD_LIMIT)
        lines = text.split("\n")
        header: list[str] | None = None
        start = 0  # index into lines where the current reader began
        while start < len(lines):
            reader = csv.reader((line + "\n" for line in itertools.islice(lines, start, None)), strict=True)
            consumed = 0
            try:
                for row in reader:
                    first = start + consumed + 1
                    consumed = reader.line_num
                    if not any(cell.strip() for cell in row):
                        continue
                    if header is None:
                        header = [cell.strip().lower() for cell in row]
                        continue
                    self.report.records += 1
                    self.add_csv_row(path, header, row, first, start + consumed, bad)
                start = len(lines)
            except csv.Error as exc:
                first = start + consumed + 1
                if header is None:
                    self.problem(path, first, f"broken CSV header: {exc}")
                    return
                self.report.records += 1
                self.problem(path, first, f"broken CSV quoting: {exc}")
                start = first  # resume on the line after the one where the broken row began
        if header is None:
            self.problem(path, None, "no CSV header row")

    def add_csv_row(self, path: Path, header: list[str], row: list[str], first: int, last: int,
                    bad: list[int]) -> None:
        if bad and _has_bad(bad, first, last):
            self.problem(path, first, "invalid UTF-8 bytes")
            return
        if len(row) > len(header) and any(cell.strip() for cell in row[len(header):]):
            self.problem(path, first, f"{len(row)} fields, but the header has {len(header)}")
            return
        # A short row leaves the missing trailing fields out, as csv.DictReader would leave them empty.
        self.add_object(dict(zip(header, row, strict=False)), path, first)

    def read_document(self, path: Path, text: str, bad: list[int], *, root: Path, digest: str) -> None:
        """One article per text, Markdown or HTML file, its id taken from the path below ``root``
        and the file's SHA-1 ``digest``."""
        self.report.records += 1
        if bad:
            shown = ", ".join(map(str, bad[:5])) + (", ..." if len(bad) > 5 else "")
            self.problem(path, bad[0], f"invalid UTF-8 bytes replaced with U+FFFD on line(s) {shown}",
                         kept=True)
        try:
            rel = path.relative_to(root).as_posix()
        except ValueError:
            rel = path.name
        file_id = "f" + hashlib.sha1(f"{rel}\n{digest}".encode("utf-8", "surrogateescape")).hexdigest()[:15]
        if path.suffix.lower() in (".html", ".htm"):
            record = _html_record(text)
            if record is None:
                self.problem(path, None, "no article text found in the HTML")
                return
        else:
            record = _document_record(text, markdown=path.suffix.lower() == ".md")
            if not record["text"].strip():
                self.problem(path, None, "no text after the headline (the first line is the headline)")
                return
        record["id"] = file_id
        self.add_object(record, path, None, fields_are_ours=True)

    # --- records -----------------------------------------------------------------------------

    def add_object(self, obj: object, path: Path, line: int | None, *, fields_are_ours: bool = False) -> None:
        """Validate one record and add it as an Article, or report why it was skipped."""
        if not isinstance(obj, dict):
            self.problem(path, line, f"expected a JSON object, got {_kind(obj)}")
            return
        if fields_are_ours:
            get = obj.get
        else:
            lowered: dict[str, Any] = {}
            for key, value in obj.items():
                lowered.setdefault(str(key).strip().lower(), value)
            get = _Fields(lowered, self.names).get

        text = get("text")
        if text is None:
            names = ", ".join(self.names["text"])
            self.problem(path, line, f"missing text (looked for: {names})")
            return
        if not isinstance(text, str):
            self.problem(path, line, f"text is {_kind(text)}, expected a string")
            return
        title = get("title")
        if isinstance(title, (int, float)) and not isinstance(title, bool):
            title = str(title)
        elif title is not None and not isinstance(title, str):
            self.problem(path, line, f"title is {_kind(title)}, expected a string")
            return
        cleaned = clean_text(text) if self.clean else text.strip()
        if not cleaned:
            self.problem(path, line, "empty text after cleaning" if text.strip() else "empty text")
            return

        # From here on the record is kept; what is wrong is reported as a warning.
        title = title or ""
        url, source, author = _as_text(get("url")), _source(get("source")), _as_author(get("author"))
        given_id = get("id")
        if isinstance(given_id, (int, str)) and not isinstance(given_id, bool):
            given_id = str(given_id)
        elif given_id is not None:
            self.problem(path, line, f"id is {_kind(given_id)}; derived one from the url or text", kept=True)
            given_id = None
        if not _well_formed(cleaned, title, url, source, author, given_id or ""):
            # JSON escapes such as "\ud800" decode to lone surrogates, which no file or model accepts.
            fix = functools.partial(_SURROGATE.sub, "\ufffd")
            cleaned, title, url, source, author = map(fix, (cleaned, title, url, source, author))
            given_id = fix(given_id) if given_id else given_id
            self.problem(path, line, "invalid Unicode (lone surrogates) replaced with U+FFFD", kept=True)
        if len(cleaned) > self.max_chars:
            original = len(cleaned)
            cleaned = _truncate(cleaned, self.max_chars)
            reason = f"text truncated from {original:,} to {len(cleaned):,} characters"
            self.problem(path, line, reason, kept=True)

        given_date = get("date")
        if isinstance(given_date, str) and not given_date.strip():
            given_date = None
        found = given_date if isinstance(given_date, date) else _parse_given_date(given_date)
        if found is None:
            if given_date is not None:
                shown = repr(given_date) if len(repr(given_date)) <= 60 else repr(given_date)[:57] + "..."
                reason = f"unparseable date {shown}; looked in the url and text instead"
                self.problem(path, line, reason, kept=True)
            found = find_date(url=url, text=cleaned)
        if self.clean:  # headlines and names carry control and zero-width characters too
            title, source, author = clean_line(title), clean_line(source), clean_line(author)
        article = Article(
            id=stable_id(given=given_id, url=url or None, text=cleaned),
            title=" ".join(title.split()),
            text=cleaned,
            url=url,
            source=source or _host(url),
            date=found,
            author=author,
        )
        self.add_article(article, str(path), line)

    def add_article(self, article: Article, path: str, line: int | None) -> None:
        earlier = self.by_id.get(article.id)
        if earlier is not None:
            index, earlier_path, earlier_line = earlier
            self.replaced.add(index)
            where = f"line {line}" if earlier_path == path else f"{path}" + (f":{line}" if line else "")
            self.report.problems.append(
                LoadProblem(earlier_path, earlier_line, f"duplicate id {article.id!r}, replaced by {where}")
            )
        self.by_id[article.id] = (len(self.report.articles), path, line)
        self.report.articles.append(article)

    def problem(self, path: Path, line: int | None, reason: str, *, kept: bool = False) -> None:
        self.report.problems.append(LoadProblem(str(path), line, reason, kept))

    def finish(self) -> LoadReport:
        report = self.report
        if self.replaced:
            report.articles = [a for i, a in enumerate(report.articles) if i not in self.replaced]
        # Grouped by file, in line order: the order a person fixing them would read them in.
        order = {p: i for i, p in enumerate(dict.fromkeys(p.path for p in report.problems))}
        report.problems.sort(key=lambda p: (order[p.path], p.line or 0))
        return report


class _Fields:
    """Looks up our field names among a record's (lower-cased) keys, first non-empty value wins."""

    def __init__(self, record: dict[str, Any], names: dict[str, tuple[str, ...]]) -> None:
        self.record = record
        self.names = names

    def get(self, field_name: str) -> Any:
        empty = None
        for name in self.names.get(field_name, ()):
            value = self.record.get(name)
            if value is None:
                continue
            if (isinstance(value, str) and not value.strip()) or value == []:
                # Present but empty: returned only if no other name has a value ("empty text", not "missing").
                empty = value if empty is None else empty
                continue
            return value
        return empty


class _LineCounter:
    """1-based line numbers of increasing offsets in a text, counting each newline once."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.line = 1

    def line_at(self, pos: int) -> int:
        if pos < self.pos:
            return self.text.count("\n", 0, pos) + 1
        self.line += self.text.count("\n", self.pos, pos)
        self.pos = pos
        return self.line


def _skip_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos


def _source(value: object) -> str:
    """A name from a string or, as NewsAPI-style exports nest it, from {"id": ..., "name": ...}."""
    if isinstance(value, dict):
        return _as_text(value.get("name"))
    return _as_text(value)


def _walk(root: Path) -> list[Path]:
    """Files under ``root`` sorted by relative path (``a/x.txt`` before ``b.csv``), hidden ones skipped."""
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        found += [Path(folder) / name for name in files if not name.startswith(".")]
    return sorted(found, key=lambda path: path.relative_to(root).parts)


def _document_record(text: str, *, markdown: bool) -> dict[str, Any]:
    """Headline, text and date of a plain-text or Markdown article."""
    lines = text.split("\n")
    first = next((i for i, line in enumerate(lines) if line.strip()), len(lines))
    headline = lines[first].strip() if first < len(lines) else ""
    if markdown:
        headline = headline.lstrip("#").strip()
    record: dict[str, Any] = {}
    m = _LEADING_DATE.match(headline)
    if m:
        record["date"] = m.group(1)
        headline = m.group(2).strip()
    record["title"] = headline
    body = "\n".join(lines[first + 1:])
    record["text"] = body if body.strip() else ""
    return record


def file_format(path: Path) -> str:
    """The file's format: its suffix, or its last two for a gzipped one (``.jsonl.gz``)."""
    name = path.name.lower()
    double = "".join(Path(name).suffixes[-2:])
    return double if double in SUFFIXES else path.suffix.lower()


def _gunzip(raw: bytes, max_bytes: int) -> bytes:
    """``raw`` decompressed (every gzip member), refused past ``max_bytes`` so that a small
    file cannot unpack into more than a file may hold."""
    out = bytearray()
    while raw:
        unpacker = zlib.decompressobj(16 + zlib.MAX_WBITS)
        out += unpacker.decompress(raw, max_bytes + 1 - len(out))
        if len(out) > max_bytes or unpacker.unconsumed_tail:
            raise _Refused(f"unpacks to over {_size(max_bytes)}; the limit is {_size(max_bytes)} per file (split it)")
        if not unpacker.eof:
            raise EOFError("the compressed data ends early: the file is truncated")
        raw = unpacker.unused_data.lstrip(b"\x00")
    return bytes(out)


def _html_record(html: str, *, url: str = "") -> dict[str, Any] | None:
    """Title, text, date, author, url and site name of an HTML page, or None if it holds no text.

    ``url`` is where the page was found (a web archive's record), used when the page names none."""
    # Imported here: trafilatura is slow to import and only HTML input needs it.
    import trafilatura

    try:
        extracted = trafilatura.bare_extraction(
            html, url=url or None, with_metadata=True, include_comments=False, favor_precision=True,
        )
    except Exception:  # a page trafilatura cannot parse has no extractable article
        return None
    doc = extracted.as_dict() if hasattr(extracted, "as_dict") else extracted
    if not doc or not (doc.get("text") or "").strip():
        return None
    url = doc.get("url") or url
    title = doc.get("title") or ""
    text = doc["text"]
    # trafilatura keeps the <h1> as the first line; the title field already holds it.
    first, _, rest = text.lstrip().partition("\n")
    if title and first.strip() == title.strip() and rest.strip():
        text = rest
    found = _parse_given_date(doc.get("date")) or find_date(url=url, text=text, html=html)
    return {
        "title": title,
        "text": text,
        "url": url,
        "source": doc.get("sitename") or doc.get("hostname") or "",
        "author": doc.get("author") or "",
        "date": found,
    }
