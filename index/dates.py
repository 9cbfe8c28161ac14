"""Publication dates for scraped articles: from the url, the top of the text, or the html.

Regexes only for url and text, so dating thousands of articles is cheap; ``htmldate``
is used only when raw html is given and nothing else found a date.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

__all__ = ["find_date"]

# News archives rarely go back further, and older "dates" in urls are usually ids.
MIN_YEAR = 1990
# A date more than a year ahead is a parsing accident (an id, a price), not a publication date.
MAX_DAYS_AHEAD = 365
# Datelines and "Updated ..." stamps sit above the story; deeper dates are story facts.
TEXT_WINDOW = 1_500

_MONTHS = {
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6,
    "jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12,
}
_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
_YEAR = r"(?:19|20)\d\d"
_DAY = r"[0-3]?\d"

# --- url patterns, most specific first; year/month-only paths (/2023/01/) are deliberately absent,
# because inventing day 1 would give a wrong date that looks right.
_URL_PATTERNS = [
    re.compile(rf"/(?P<y>{_YEAR})/(?P<m>[01]?\d)/(?P<d>{_DAY})(?=[/_.-]|$)"),
    re.compile(rf"(?<![^/_.-])(?P<y>{_YEAR})-(?P<m>[01]\d)-(?P<d>[0-3]\d)(?=[/_.-]|$|T\d)"),
    re.compile(rf"(?<![^/_-])(?P<y>{_YEAR})(?P<m>[01]\d)(?P<d>[0-3]\d)(?=[/_.-]|$)"),
    re.compile(rf"(?<![^/_-])(?P<d>{_DAY})-(?P<mon>{_MONTH})-(?P<y>{_YEAR})(?=[/_.-]|$)", re.IGNORECASE),
    re.compile(rf"(?<![^/_-])(?P<mon>{_MONTH})-(?P<d>{_DAY})-(?P<y>{_YEAR})(?=[/_.-]|$)", re.IGNORECASE),
]

# --- text: an optional keyword, time and weekday, then the date in one of three shapes.
_TIME = r"(?:\d{1,2}[:.]\d\d(?::\d\d)?\s*(?:[ap]\.?m\.?)?\s*(?:[a-z]{1,3}t|utc)?[\s,]*)?"
_WEEKDAY = r"(?:(?:mon|tue(?:s)?|wed(?:nes)?|thu(?:rs)?|fri|sat(?:ur)?|sun)(?:day)?\.?,?\s+)?"
_KEYWORD = (
    r"(?:(?P<kw>first\s+published|published|posted|last\s+updated|updated|(?:publication\s+)?dated?)"
    r"\b[\s:.,\-–—]*(?:on\s+)?)?"
)
_TEXT_DATE = re.compile(
    rf"{_KEYWORD}{_TIME}{_WEEKDAY}(?:"
    rf"(?P<mon1>{_MONTH})\.?\s+(?P<d1>{_DAY})(?:st|nd|rd|th)?,?\s+(?P<y1>{_YEAR})"
    rf"|(?P<d2>{_DAY})(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<mon2>{_MONTH})\.?,?\s+(?P<y2>{_YEAR})"
    rf"|(?P<y3>{_YEAR})(?P<sep>[-/.])(?P<m3>[01]\d)(?P=sep)(?P<d3>[0-3]\d)"
    r")(?![\d/-])",
    re.IGNORECASE,
)
# What may follow a bare dateline on its line: a time, a zone, "| Updated ...", "| 4 min read".
_DATELINE_REST = re.compile(
    r"[\s,|·•–—-]*(?:at\s+)?(?:T?\d{1,2}[:.]\d\d(?::\d\d)?(?:\.\d+)?\s*(?:[ap]\.?m\.?)?\s*"
    r"(?:[a-z]{1,3}t|utc|z|[+-]\d\d:?\d\d)?)?[\s,|·•–—-]*(?:(?:updated|\d+\s+min(?:ute)?s?\s+read)\b.*)?$",
    re.IGNORECASE,
)
_LINE_LEAD = re.compile(r"[\s*•·>#|\-–—]*$")


def find_date(*, url: str = "", text: str = "", html: str | None = None) -> date | None:
    """Find an article's publication date.

    Looks, in order, at the url (``/2023/01/12/``, ``/20230112/``, ``-2023-01-12-``,
    ``-12-january-2023``), at datelines at the start of lines in the first 1,500
    characters of the text ("Updated Jan. 12, 2023", "Published 3:45 PM EST, Thu
    January 12, 2023", "12 January 2023", "2023-01-12" or "2023/01/12", a leading
    "date 2025-07-23"),
    and finally at the html with ``htmldate`` when ``html`` is given. A url holding only
    a year and month gives no date (day 1 would be a guess). Dates before 1990, more
    than a year after today, or impossible (February 30) are rejected.

    Args:
        url: The article's address.
        text: The article text; only its first 1,500 characters are read.
        html: The raw page, if available.

    Returns:
        The date, or None when no source holds a plausible one.
    """
    return _from_url(url) or _from_text(text) or (_from_html(html, url) if html else None)


def _valid(year: int, month: int, day: int) -> date | None:
    try:
        found = date(year, month, day)
    except ValueError:
        return None
    if found.year < MIN_YEAR or found > date.today() + timedelta(days=MAX_DAYS_AHEAD):
        return None
    return found


def _month(name: str) -> int:
    return _MONTHS[name[:3].lower()]


def _from_url(url: str) -> date | None:
    if not url:
        return None
    # Only the path and query: a host name's digits are never a date.
    path = url.split("://", 1)[-1]
    path = path[path.find("/"):] if "/" in path else ""
    for pattern in _URL_PATTERNS:
        for m in pattern.finditer(path):
            month = _month(m["mon"]) if "mon" in m.groupdict() else int(m["m"])
            found = _valid(int(m["y"]), month, int(m["d"]))
            if found:
                return found
    return None


def _from_text(text: str) -> date | None:
    if not text:
        return None
    window = text[:TEXT_WINDOW]
    best: tuple[int, date] | None = None
    for m in _TEXT_DATE.finditer(window):
        line_start = window.rfind("\n", 0, m.start()) + 1
        # Only datelines count: a date mid-sentence is a fact of the story, not its publication date.
        if not _LINE_LEAD.match(window, line_start, m.start()):
            continue
        keyword = (m["kw"] or "").lower()
        if keyword.endswith("updated"):
            rank = 1
        elif keyword:
            rank = 0
        else:
            line_end = window.find("\n", m.end())
            if not _DATELINE_REST.match(window, m.end(), len(window) if line_end < 0 else line_end):
                continue
            rank = 2
        found = _match_date(m)
        if found and (best is None or rank < best[0]):
            best = (rank, found)
            if rank == 0:
                break
    return best[1] if best else None


def _match_date(m: re.Match[str]) -> date | None:
    if m["y1"]:
        return _valid(int(m["y1"]), _month(m["mon1"]), int(m["d1"]))
    if m["y2"]:
        return _valid(int(m["y2"]), _month(m["mon2"]), int(m["d2"]))
    return _valid(int(m["y3"]), int(m["m3"]), int(m["d3"]))


def _from_html(html: str, url: str) -> date | None:
    # Imported here: htmldate pulls in lxml and dateparser, which url/text dating never needs.
    import htmldate

    latest = datetime.combine(date.today() + timedelta(days=MAX_DAYS_AHEAD), datetime.min.time())
    try:
        found = htmldate.find_date(
            html, original_date=True, url=url or None,
            min_date=datetime(MIN_YEAR, 1, 1), max_date=latest,
        )
    except Exception:  # a page htmldate cannot parse simply has no date
        return None
    if not found:
        return None
    try:
        parsed = date.fromisoformat(found[:10])
    except ValueError:
        return None
    return _valid(parsed.year, parsed.month, parsed.day)
