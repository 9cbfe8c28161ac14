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
  file, binary content, unreadable file, anything but a regular file (a FIFO, a device,
  or a link to one: never opened for reading, so ``/dev/zero`` or a pipe cannot stall or
  exhaust the loader), a file over ``max_file_bytes``. Binary content is sniffed from the
  first 8 KB before anything else is read: NUL bytes there make a file binary, except in
  the line-based formats (JSONL, CSV), where a NUL costs only its line unless most lines
  of the sample hold one (or are not UTF-8), as in an image or an executable.
- Bounded cost (:class:`LoadLimits`): JSONL (gzipped or not) and web archives are read as
  streams, record by record; other formats are read whole, up to ``file_bytes``. Per file,
  the loader stops at the first limit passed (unpacked bytes, records, seconds) with one
  problem naming the limit and keeps the records before it; a line over ``line_bytes``,
  an HTML page over ``html_bytes`` (the extractor takes seconds and ~100x the memory per
  MB) and a feed over ``feed_bytes`` are skipped and reported.
- Each problem has a ``kind`` (``duplicate-id``, ``malformed-json``, ``binary``,
  ``limit-records``, ...) by which summaries group them; :meth:`LoadReport.write_problems`
  writes every problem as one JSON line. File names and reasons are shown with control
  characters escaped, so a problem is always one line and nothing raw reaches a terminal.
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
import dataclasses
import functools
import gzip
import hashlib
import itertools
import json
import os
import re
import stat
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, fields
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlsplit

from index import feeds, warc
from index.clean import clean_line, clean_text
from index.dates import find_date
from index.plural import plural
from index.records import Article, stable_id

__all__ = ["FIELD_ALIASES", "LoadLimits", "LoadProblem", "LoadReport", "load_articles"]

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
# A file read whole costs about 5x its size once decoded and parsed: 1 GiB keeps that within a
# machine's memory; split larger exports.
MAX_FILE_BYTES = 1 << 30
# A gzipped JSONL is streamed; a small file may still unpack without end (a gzip bomb).
MAX_UNPACKED_BYTES = 1 << 30
# A 50 MB upload of real articles holds some 20,000; half a million tiny records (each a
# duplicate, say) already costs ~15 s and ~200 MB of problems.
MAX_RECORDS_PER_FILE = 500_000
# A backstop for what the other limits miss, checked between records.
MAX_SECONDS_PER_FILE = 300.0
# One JSONL line: a text at max_chars (2M) written with \uXXXX escapes is 12 MB.
MAX_LINE_BYTES = 32 << 20
# trafilatura takes ~3 s and ~100 MB of memory per MB of HTML (a 13 MB table: minutes, 1.6 GB).
MAX_HTML_BYTES = 4 << 20
# feedparser reads a feed whole at ~35x its size in memory and ~4 s per MB; a real feed is well under 1 MB.
MAX_FEED_BYTES = 8 << 20
# Every LoadProblem.kind: where the file is, what it is, what a record holds, the limits.
PROBLEM_KINDS = (
    "missing", "not-regular-file", "unsupported-type", "unreadable", "empty-file", "binary", "bad-gzip",
    "not-a-feed", "damaged-archive", "bad-record-length", "not-a-page",
    "invalid-utf8", "invalid-unicode", "malformed-json", "malformed-csv", "not-an-object", "missing-text",
    "wrong-type", "truncated", "bad-date", "duplicate-id",
    "limit-file-bytes", "limit-unpacked-bytes", "limit-records", "limit-seconds", "limit-line-bytes",
    "limit-html-bytes", "limit-feed-bytes",
)
# How many problems of each kind a summary shows once there are too many to list.
EXAMPLES_PER_KIND = 3

_LEADING_DATE = re.compile(r"\s*date\s+(\d{4}-\d{2}-\d{2})\b\s*(.*)", re.IGNORECASE | re.DOTALL)
_ISO_DATE = re.compile(r"\s*(\d{4})-(\d{2})-(\d{2})(?![\d])")
_SURROGATE = re.compile("[\ud800-\udfff]")
_REST_NOT_READ = "the rest of the file was not read"
_SENTENCE_BREAK = re.compile(r"""[.!?]["”’')\]]*\s""")
# Shown escaped in problem lines: C0/C1 controls (newline, ESC...), line and paragraph
# separators, bidirectional overrides, and the lone surrogates of undecodable file names.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_SHORT_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_SKIP_CHUNK = 1 << 20


def printable(text: str) -> str:
    """``text`` with control, separator and bidi characters escaped (``\\n``, ``\\x1b``, ``\\u202e``),
    so it prints as one line and cannot drive a terminal."""
    def escape(m: re.Match[str]) -> str:
        c = m.group()
        return _SHORT_ESCAPES.get(c) or (f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}")
    return _UNSAFE.sub(escape, text)


@dataclass(frozen=True)
class LoadLimits:
    """What one file may cost; each limit passed is reported as a problem naming it.

    Attributes:
        file_bytes: largest file on disk.
        unpacked_bytes: most bytes a gzipped file may unpack to (and longest web archive record).
        records: most records read from one file; the rest of the file is not read.
        seconds: most time spent on one file; checked between records.
        line_bytes: longest JSONL line; longer ones are skipped.
        html_bytes: largest HTML page handed to the extractor (files and archive records).
        feed_bytes: largest RSS or Atom feed.
    """

    file_bytes: int = MAX_FILE_BYTES
    unpacked_bytes: int = MAX_UNPACKED_BYTES
    records: int = MAX_RECORDS_PER_FILE
    seconds: float = MAX_SECONDS_PER_FILE
    line_bytes: int = MAX_LINE_BYTES
    html_bytes: int = MAX_HTML_BYTES
    feed_bytes: int = MAX_FEED_BYTES

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not value > 0:
                raise ValueError(f"LoadLimits.{f.name} must be positive, got {value!r}")


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
        kind: a short name for the sort of problem, one of :data:`PROBLEM_KINDS`
            (``duplicate-id``, ``malformed-json``, ``binary``, ``limit-records``, ...), by
            which summaries group problems.
    """

    path: str
    line: int | None
    reason: str
    kept: bool = False
    kind: str = "other"

    def __str__(self) -> str:
        """"path:line: reason" on one line, control characters escaped."""
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        return printable(f"{where}: {self.reason}")

    def to_json(self) -> str:
        """One JSON line: file, line, kind, reason, kept (undecodable bytes of a name as escapes)."""
        record = {"file": self.path, "line": self.line, "kind": self.kind, "reason": self.reason, "kept": self.kept}
        return json.dumps(record, ensure_ascii=True)


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

    def summary(self, max_problems: int = 10, *, problems_file: str | Path | None = None) -> str:
        """One line of counts, then the problems as "path:line: reason", one per line.

        Up to ``max_problems`` problems are listed as they are; more are grouped by kind: a
        count per kind and its first :data:`EXAMPLES_PER_KIND`, so a rare kind is never
        hidden behind thousands of duplicates.

        Args:
            max_problems: How many problems to list before grouping them.
            problems_file: Where every problem was written (:meth:`write_problems`), said last.

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
        lines += self.problem_lines(max_problems)
        if problems_file is not None:
            lines.append(self.problems_note(problems_file))
        return "\n".join(lines)

    def problem_lines(self, max_problems: int = 10) -> list[str]:
        """The problems, indented: each one up to ``max_problems``, else grouped by kind."""
        if len(self.problems) <= max_problems:
            return [f"  {p}" for p in self.problems]
        return self._grouped()

    def problems_note(self, problems_file: str | Path) -> str:
        """The line saying where :meth:`write_problems` put every problem."""
        n = len(self.problems)
        return f"Every problem ({n:,}) is in {printable(str(problems_file))} (one JSON object per line)."

    def _grouped(self) -> list[str]:
        """The problems by kind, in order of first appearance: a count, then a few examples."""
        counts = Counter(p.kind for p in self.problems)
        examples: dict[str, list[LoadProblem]] = {kind: [] for kind in counts}
        for p in self.problems:
            if len(examples[p.kind]) < EXAMPLES_PER_KIND:
                examples[p.kind].append(p)
        lines = []
        for kind, shown in examples.items():
            lines.append(f"  {kind}: {counts[kind]:,}")
            lines += [f"    {p}" for p in shown]
            if counts[kind] > len(shown):
                lines.append(f"    ... and {counts[kind] - len(shown):,} more")
        return lines

    def write_problems(self, path: str | Path, *, append: bool = False) -> None:
        """Write every problem to ``path`` as one JSON object per line (see :meth:`LoadProblem.to_json`)."""
        with open(path, "a" if append else "w", encoding="utf-8") as f:
            for p in self.problems:
                f.write(p.to_json() + "\n")

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
    max_file_bytes: int | None = None,
    limits: LoadLimits | None = None,
    clock: Callable[[], float] = time.monotonic,
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
        max_file_bytes: Largest file read; larger ones are reported and skipped (replaces
            ``limits.file_bytes``).
        limits: What one file may cost (:class:`LoadLimits`; default: its defaults).
        clock: Seconds, for the per-file time limit (tests pass a fake one).

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
    limits = limits or LoadLimits()
    if max_file_bytes is not None:
        if max_file_bytes < 1:
            raise ValueError(f"max_file_bytes must be positive, got {max_file_bytes!r}")
        limits = dataclasses.replace(limits, file_bytes=max_file_bytes)
    loader = _Loader(_field_names(field_map), clean=clean, max_chars=max_chars, limits=limits, clock=clock)
    for path in paths:
        loader.add_path(Path(path))
    return loader.finish()


def _count(n: int, noun: str) -> str:
    return plural(n, noun)


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
    """Line and whole message of a JSON parsing failure (``line`` when the error does not say).

    The decoder's message names no place ("Invalid control character at"): the column, and
    for a control character its code point, are added.
    """
    if isinstance(exc, json.JSONDecodeError):
        msg = exc.msg
        if msg.endswith(" at") and exc.pos < len(exc.doc):
            msg = f"{msg.removesuffix(' at')} U+{ord(exc.doc[exc.pos]):04X} at"
        elif not msg.endswith(" at"):
            msg += " at"
        return exc.lineno, f"{msg} column {exc.colno}"
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
    """A file (or the rest of one) that is not read: not a regular file, or over a limit."""

    def __init__(self, reason: str, kind: str) -> None:
        super().__init__(reason)
        self.kind = kind


def _kind_of(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a folder")):
        if test(mode):
            return name
    return "a special file"


def _size(n: int) -> str:
    return f"{n:,} bytes" if n < 1 << 20 else f"{n / (1 << 20):,.1f} MB"


def _over_file_bytes(max_bytes: int, size: int | None = None) -> _Refused:
    shown = f"is {_size(size)}" if size is not None else f"is over {_size(max_bytes)}"
    return _Refused(f"file {shown}; the limit is {_size(max_bytes)} per file (split it)", "limit-file-bytes")


def _open_regular(path: Path, max_bytes: int) -> tuple[BinaryIO, int]:
    """``path`` opened for reading, and its size, if it is (or links to) a regular file of at
    most ``max_bytes``.

    The type is checked on the opened file (no swap between check and read), and the open
    does not block, so a FIFO is refused instead of waiting forever for a writer.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise _Refused(f"not a regular file ({_kind_of(info.st_mode)}); not read", "not-regular-file")
        if info.st_size > max_bytes:
            raise _over_file_bytes(max_bytes, info.st_size)
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb"), info.st_size
    except BaseException:
        os.close(fd)
        raise


def _read_whole(f: BinaryIO, max_bytes: int) -> bytes:
    raw = f.read(max_bytes + 1)
    if len(raw) > max_bytes:  # it grew while we read
        raise _over_file_bytes(max_bytes)
    return raw


def _utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _looks_binary(sample: bytes, *, line_based: bool, cut: bool) -> bool:
    """Whether the first bytes of a file (``cut``: there are more) are binary, not text.

    NUL never occurs in UTF-8 text. In a line-based format one NUL costs only its line: the
    file is binary only when most lines of the sample hold a NUL or are not UTF-8 (an image,
    an executable, a run of zeros).
    """
    if b"\x00" not in sample:
        return False
    if not line_based:
        return True
    lines = sample.split(b"\n")
    if cut and len(lines) > 1:
        lines.pop()  # may end mid-character
    lines = [line for line in lines if line.strip()]
    bad = sum(1 for line in lines if b"\x00" in line or not _utf8(line))
    return bad * 2 > len(lines)


def _lines(stream: BinaryIO, *, max_line: int, max_total: int, over_total: Callable[[], _Refused]
           ) -> Iterator[bytes | None]:
    """The lines of a binary stream without their newline, in bounded memory: None for a
    line over ``max_line`` bytes (read through, not kept); ``over_total()`` is raised once
    more than ``max_total`` bytes were read."""
    total = 0
    while True:
        line = stream.readline(max_line + 1)
        total += len(line)
        if total > max_total:
            raise over_total()
        if not line:
            return
        if len(line) > max_line and not line.endswith(b"\n"):
            while line and not line.endswith(b"\n"):
                line = stream.readline(_SKIP_CHUNK)
                total += len(line)
                if total > max_total:
                    raise over_total()
            yield None
        else:
            yield line.removesuffix(b"\n")


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
                 limits: LoadLimits, clock: Callable[[], float]) -> None:
        self.names = names
        self.clean = clean
        self.max_chars = max_chars
        self.limits = limits
        self.clock = clock
        self.report = LoadReport()
        # id -> (position in report.articles, path, line) of the occurrence that currently wins;
        # an article replaced by a later one is set to None at once, so duplicates cost no memory.
        self.by_id: dict[str, tuple[int, str, int | None]] = {}
        self.articles: list[Article | None] = []
        # The file being read: its records so far and when reading it began (for the limits).
        self.file_records = 0
        self.file_start = 0.0
        self.last_line = 0  # the last line of a streamed file read so far

    # --- paths and files ---------------------------------------------------------------------

    def add_path(self, path: Path) -> None:
        if path.is_dir():
            for file in _walk(path):
                self.add_file(file, root=path)
        elif path.is_file():
            self.add_file(path, root=path.parent)
        elif path.exists():
            self.problem(path, None, "not a regular file or folder", kind="not-regular-file")
        else:
            self.problem(path, None, "no such file or folder", kind="missing")

    def add_file(self, path: Path, *, root: Path) -> None:
        suffix = file_format(path)
        if suffix not in SUFFIXES:
            shown = repr(path.suffix) if path.suffix else "(no extension)"
            self.problem(path, None, f"unsupported file type {shown}; expected one of {', '.join(SUFFIXES)}",
                         kind="unsupported-type")
            return
        self.report.files += 1
        self.file_records, self.file_start = 0, self.clock()
        try:
            f, size = _open_regular(path, self.limits.file_bytes)
        except _Refused as exc:
            self.problem(path, None, str(exc), kind=exc.kind)
            return
        except OSError as exc:
            self.problem(path, None, f"cannot read: {exc.strerror or exc}", kind="unreadable")
            return
        try:
            with f:
                self.read_file(path, f, size, suffix, root=root)
        except _Refused as exc:
            self.problem(path, None, str(exc), kind=exc.kind)
        except OSError as exc:
            self.problem(path, None, f"cannot read: {exc.strerror or exc}", kind="unreadable")

    def read_file(self, path: Path, f: BinaryIO, size: int, suffix: str, *, root: Path) -> None:
        """Sniff the first bytes, then stream the file (JSONL, gzip, web archives) or read it whole."""
        sample = f.read(BINARY_SNIFF_BYTES)
        f.seek(0)
        cut = size > len(sample)
        if not sample.strip() and not cut:
            self.problem(path, None, "empty file", kind="empty-file")
            return
        if suffix in ARCHIVES:  # binary records are expected in an archive: no NUL sniffing
            self.read_archive(path, f, size)
            return
        if suffix in FEEDS:
            limit = self.limits.feed_bytes
            if size > limit:
                self.problem(path, None, f"feed is {_size(size)}; the limit is {_size(limit)} per feed (split it)",
                             kind="limit-feed-bytes")
                return
            self.read_feed(path, _read_whole(f, limit))
            return
        if suffix in GZIPPED:
            self.read_gzipped(path, f)
            return
        is_utf16 = sample.startswith((b"\xff\xfe", b"\xfe\xff"))
        line_based = suffix in (".jsonl", ".ndjson", ".csv")
        if not is_utf16 and _looks_binary(sample, line_based=line_based, cut=cut):
            self.problem(path, None, "binary file (NUL bytes), not text", kind="binary")
            return
        if suffix in (".jsonl", ".ndjson") and not is_utf16:
            limit = self.limits.file_bytes
            self.read_jsonl_stream(path, f, max_total=limit, over_total=lambda: _over_file_bytes(limit))
            return
        if suffix in (".html", ".htm") and size > self.limits.html_bytes:
            self.report.records += 1
            limit = self.limits.html_bytes
            self.problem(path, None, f"HTML page is {_size(size)}; the limit is {_size(limit)} per HTML page",
                         kind="limit-html-bytes")
            return
        raw = _read_whole(f, self.limits.file_bytes)
        if not raw.strip():
            self.problem(path, None, "empty file", kind="empty-file")
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

    def read_gzipped(self, path: Path, f: BinaryIO) -> None:
        """Gzipped JSONL, unpacked as a stream up to ``limits.unpacked_bytes``."""
        limit = self.limits.unpacked_bytes
        self.last_line = 0

        def over() -> _Refused:
            return _Refused(f"unpacks to over {_size(limit)}; the limit is {_size(limit)} unpacked per file "
                            "(split it)", "limit-unpacked-bytes")
        try:
            with gzip.GzipFile(fileobj=f) as unpacked:
                sample = unpacked.read(BINARY_SNIFF_BYTES)
            if _looks_binary(sample, line_based=True, cut=len(sample) == BINARY_SNIFF_BYTES):
                self.problem(path, None, "binary file (NUL bytes), not text", kind="binary")
                return
            f.seek(0)
            with gzip.GzipFile(fileobj=f) as unpacked:
                self.read_jsonl_stream(path, unpacked, max_total=limit, over_total=over)
        except (OSError, EOFError, zlib.error) as exc:
            where = f" after line {self.last_line}" if self.last_line else ""
            rest = f"; {_REST_NOT_READ}" if self.last_line else ""
            self.problem(path, None, f"not a readable gzip file ({exc}){where}{rest}", kind="bad-gzip")

    def read_jsonl_stream(self, path: Path, stream: BinaryIO, *, max_total: int,
                          over_total: Callable[[], _Refused]) -> None:
        """One record per line that is not blank, read line by line in bounded memory."""
        max_line = self.limits.line_bytes
        seen = False
        self.last_line = 0
        try:
            for number, line in enumerate(_lines(stream, max_line=max_line, max_total=max_total,
                                                 over_total=over_total), 1):
                self.last_line = number
                if line is None:
                    seen = True
                    if not self.next_record(path, number):
                        return
                    self.problem(path, number, f"line is over {_size(max_line)}; the limit is {_size(max_line)} "
                                 "per line", kind="limit-line-bytes")
                    continue
                try:
                    text = line.decode("utf-8")
                except UnicodeDecodeError:
                    seen = True
                    if not self.next_record(path, number):
                        return
                    self.problem(path, number, "invalid UTF-8 bytes", kind="invalid-utf8")
                    continue
                if number == 1:
                    text = text.removeprefix("\ufeff")
                if not text.strip():
                    continue
                seen = True
                if not self.next_record(path, number):
                    return
                self.add_json_line(path, number, text)
        except _Refused as exc:
            self.problem(path, self.last_line + 1, f"{exc}; {_REST_NOT_READ}", kind=exc.kind)
            return
        if not seen:
            self.problem(path, None, "empty file", kind="empty-file")

    def next_record(self, path: Path, line: int, unit: str = "line") -> bool:
        """Count one more record of the current file; False (and one problem naming the limit)
        once the file has used up its records or its time, so the rest is not read."""
        limits = self.limits
        rest = f"the rest of the file (from {unit} {line:,}) was not read (split it)"
        if self.file_records >= limits.records:
            self.problem(path, line, f"over {limits.records:,} records; the limit is {limits.records:,} records "
                         f"per file: {rest}", kind="limit-records")
            return False
        if self.clock() - self.file_start > limits.seconds:
            self.problem(path, line, f"reading took over {limits.seconds:,g} s; the limit is {limits.seconds:,g} s "
                         f"per file: {rest}", kind="limit-seconds")
            return False
        self.file_records += 1
        self.report.records += 1
        return True

    def read_feed(self, path: Path, raw: bytes) -> None:
        """One record per feed entry, numbered from 1."""
        entries, whole = feeds.read_feed(raw)
        if whole:
            self.problem(path, None, whole, kind="not-a-feed")
            return
        for entry in entries:
            if not self.next_record(path, entry.number, "entry"):
                return
            if entry.record is None:
                self.problem(path, entry.number, entry.problem, kind="missing-text")
            else:
                self.add_object(entry.record, path, entry.number, fields_are_ours=True)

    def read_archive(self, path: Path, f: BinaryIO, size: int) -> None:
        """One record per response in a web archive (numbered by archive record), each page
        through the same extraction as an HTML file."""
        pages = warc.read_warc(f, size=size, max_record_bytes=self.limits.unpacked_bytes,
                               max_page_bytes=self.limits.html_bytes)
        for page in pages:
            if isinstance(page, str):
                self.problem(path, None, page, kind="damaged-archive")
                break
            if not self.next_record(path, page.number, "record"):
                return
            if page.problem:
                self.problem(path, page.number, page.problem, kind=page.kind)
                continue
            record = _html_record(page.html, url=page.url)
            if record is None:
                self.problem(path, page.number, f"{page.url}: no article text found in the HTML", kind="missing-text")
                continue
            record["date"] = record["date"] or page.crawled
            self.add_object(record, path, page.number, fields_are_ours=True)

    def read_jsonl(self, path: Path, text: str, bad: list[int]) -> None:
        """One record per line that is not blank (a JSONL file read whole: UTF-16, or named .json)."""
        for number, line in enumerate(text.split("\n"), 1):
            if not line.strip():
                continue
            if not self.next_record(path, number):
                return
            if bad and _has_bad(bad, number, number):
                self.problem(path, number, "invalid UTF-8 bytes", kind="invalid-utf8")
                continue
            self.add_json_line(path, number, line)

    def add_json_line(self, path: Path, number: int, line: str) -> None:
        try:
            obj = json.loads(line)
        except (ValueError, RecursionError) as exc:  # RecursionError: absurdly deep nesting
            self.problem(path, number, f"malformed JSON: {_json_error(exc, number)[1]}", kind="malformed-json")
            return
        self.add_object(obj, path, number)

    def read_json(self, path: Path, text: str, bad: list[int]) -> None:
        """An array parsed element by element, so a bad element costs only itself and what follows."""
        decoder = json.JSONDecoder()
        start = _skip_space(text, 0)
        if text.startswith("{", start):
            try:
                obj, end = decoder.raw_decode(text, start)
            except (json.JSONDecodeError, RecursionError) as exc:
                line, msg = _json_error(exc, 1)
                if self.next_record(path, line):
                    self.problem(path, line, f"malformed JSON: {msg}", kind="malformed-json")
                return
            if _skip_space(text, end) < len(text):
                # More after the first object: JSON Lines saved with a .json name.
                self.read_jsonl(path, text, bad)
                return
            if not self.next_record(path, 1):
                return
            if _has_bad(bad, 1, text.count("\n") + 1):
                self.problem(path, 1, "invalid UTF-8 bytes", kind="invalid-utf8")
            else:
                self.add_object(obj, path, text.count("\n", 0, start) + 1)
            return
        if not text.startswith("[", start):
            self.problem(path, None, "expected a JSON array of objects or one JSON object", kind="malformed-json")
            return
        lines = _LineCounter(text)
        pos = _skip_space(text, start + 1)
        if text.startswith("]", pos):
            self.problem(path, None, "empty JSON array", kind="empty-file")
            return
        while True:
            if pos >= len(text):
                reason = f"malformed JSON (array not closed); {_REST_NOT_READ}"
                self.problem(path, lines.line_at(len(text)), reason, kind="malformed-json")
                return
            number = lines.line_at(pos)
            if not self.next_record(path, number):
                return
            try:
                obj, end = decoder.raw_decode(text, pos)
            except (json.JSONDecodeError, RecursionError) as exc:
                line, msg = _json_error(exc, number)
                self.problem(path, line, f"malformed JSON ({msg}); {_REST_NOT_READ}", kind="malformed-json")
                return
            if bad and _has_bad(bad, number, lines.line_at(end)):
                self.problem(path, number, "invalid UTF-8 bytes", kind="invalid-utf8")
            else:
                self.add_object(obj, path, number)
            pos = _skip_space(text, end)
            if text.startswith(",", pos):
                pos = _skip_space(text, pos + 1)
                if text.startswith("]", pos):  # a trailing comma: not JSON, but its meaning is clear
                    pos = _skip_space(text, pos + 1)
                    if pos < len(text):
                        self.problem(path, lines.line_at(pos), "unexpected data after the JSON array",
                                     kind="malformed-json")
                    return
            elif text.startswith("]", pos):
                if _skip_space(text, pos + 1) < len(text):
                    self.problem(path, lines.line_at(pos + 1), "unexpected data after the JSON array",
                                     kind="malformed-json")
                return
            else:
                reason = f"malformed JSON (expected ',' or ']' after an element); {_REST_NOT_READ}"
                self.problem(path, lines.line_at(pos), reason, kind="malformed-json")
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
                    if not self.next_record(path, first):
                        return
                    self.add_csv_row(path, header, row, first, start + consumed, bad)
                start = len(lines)
            except csv.Error as exc:
                first = start + consumed + 1
                if header is None:
                    self.problem(path, first, f"broken CSV header: {exc}", kind="malformed-csv")
                    return
                if not self.next_record(path, first):
                    return
                self.problem(path, first, f"broken CSV quoting: {exc}", kind="malformed-csv")
                start = first  # resume on the line after the one where the broken row began
        if header is None:
            self.problem(path, None, "no CSV header row", kind="malformed-csv")

    def add_csv_row(self, path: Path, header: list[str], row: list[str], first: int, last: int,
                    bad: list[int]) -> None:
        if bad and _has_bad(bad, first, last):
            self.problem(path, first, "invalid UTF-8 bytes", kind="invalid-utf8")
            return
        if len(row) > len(header) and any(cell.strip() for cell in row[len(header):]):
            self.problem(path, first, f"{len(row)} fields, but the header has {len(header)}", kind="malformed-csv")
            return
        nul = next((i for i, cell in enumerate(row) if "\x00" in cell), None)
        if nul is not None:  # a NUL costs its row, as a JSON line loses its line
            name = header[nul] if nul < len(header) else f"#{nul + 1}"
            self.problem(path, first, f"raw NUL byte in field {name!r}", kind="malformed-csv")
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
                         kept=True, kind="invalid-utf8")
        try:
            rel = path.relative_to(root).as_posix()
        except ValueError:
            rel = path.name
        file_id = "f" + hashlib.sha1(f"{rel}\n{digest}".encode("utf-8", "surrogateescape")).hexdigest()[:15]
        if path.suffix.lower() in (".html", ".htm"):
            record = _html_record(text)
            if record is None:
                self.problem(path, None, "no article text found in the HTML", kind="missing-text")
                return
        else:
            record = _document_record(text, markdown=path.suffix.lower() == ".md")
            if not record["text"].strip():
                self.problem(path, None, "no text after the headline (the first line is the headline)",
                             kind="missing-text")
                return
        record["id"] = file_id
        self.add_object(record, path, None, fields_are_ours=True)

    # --- records -----------------------------------------------------------------------------

    def add_object(self, obj: object, path: Path, line: int | None, *, fields_are_ours: bool = False) -> None:
        """Validate one record and add it as an Article, or report why it was skipped."""
        if not isinstance(obj, dict):
            self.problem(path, line, f"expected a JSON object, got {_kind(obj)}", kind="not-an-object")
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
            self.problem(path, line, f"missing text (looked for: {names})", kind="missing-text")
            return
        if not isinstance(text, str):
            self.problem(path, line, f"text is {_kind(text)}, expected a string", kind="wrong-type")
            return
        title = get("title")
        if isinstance(title, (int, float)) and not isinstance(title, bool):
            title = str(title)
        elif title is not None and not isinstance(title, str):
            self.problem(path, line, f"title is {_kind(title)}, expected a string", kind="wrong-type")
            return
        cleaned = clean_text(text) if self.clean else text.strip()
        if not cleaned:
            self.problem(path, line, "empty text after cleaning" if text.strip() else "empty text", kind="missing-text")
            return

        # From here on the record is kept; what is wrong is reported as a warning.
        title = title or ""
        url, source, author = _as_text(get("url")), _source(get("source")), _as_author(get("author"))
        given_id = get("id")
        if isinstance(given_id, (int, str)) and not isinstance(given_id, bool):
            given_id = str(given_id)
        elif given_id is not None:
            self.problem(path, line, f"id is {_kind(given_id)}; derived one from the url or text", kept=True,
                         kind="wrong-type")
            given_id = None
        if not _well_formed(cleaned, title, url, source, author, given_id or ""):
            # JSON escapes such as "\ud800" decode to lone surrogates, which no file or model accepts.
            fix = functools.partial(_SURROGATE.sub, "\ufffd")
            cleaned, title, url, source, author = map(fix, (cleaned, title, url, source, author))
            given_id = fix(given_id) if given_id else given_id
            self.problem(path, line, "invalid Unicode (lone surrogates) replaced with U+FFFD", kept=True,
                         kind="invalid-unicode")
        if len(cleaned) > self.max_chars:
            original = len(cleaned)
            cleaned = _truncate(cleaned, self.max_chars)
            reason = f"text truncated from {original:,} to {len(cleaned):,} characters"
            self.problem(path, line, reason, kept=True, kind="truncated")

        given_date = get("date")
        if isinstance(given_date, str) and not given_date.strip():
            given_date = None
        found = given_date if isinstance(given_date, date) else _parse_given_date(given_date)
        if found is None:
            if given_date is not None:
                shown = repr(given_date) if len(repr(given_date)) <= 60 else repr(given_date)[:57] + "..."
                reason = f"unparseable date {shown}; looked in the url and text instead"
                self.problem(path, line, reason, kept=True, kind="bad-date")
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
            self.articles[index] = None
            where = f"line {line}" if earlier_path == path else f"{path}" + (f":{line}" if line else "")
            self.report.problems.append(LoadProblem(
                earlier_path, earlier_line, f"duplicate id {article.id!r}, replaced by {where}", kind="duplicate-id"))
        self.by_id[article.id] = (len(self.articles), path, line)
        self.articles.append(article)

    def problem(self, path: Path, line: int | None, reason: str, *, kind: str, kept: bool = False) -> None:
        self.report.problems.append(LoadProblem(str(path), line, reason, kept, kind))

    def finish(self) -> LoadReport:
        report = self.report
        report.articles = [a for a in self.articles if a is not None]
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
