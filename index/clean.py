"""Normalise scraped news text and cut page furniture (disclaimers, link lists, share buttons).

Every furniture rule matches a whole line, never part of one, so a story sentence that
mentions "advertisement" or "read more" is kept; list blocks are cut only after an
explicit header such as "Most popular stories".

Speed matters (a collection is cleaned on every load), so each regex pass is gated by a
plain substring test that is cheap when, as in most articles, there is nothing to fix.
"""

from __future__ import annotations

import re

__all__ = ["DEFAULT_IGNORABLE", "clean_line", "clean_text"]

# A furniture line is short; longer lines are story text whatever words they contain.
MAX_FURNITURE_LINE = 300
# A link-list line ("- Some headline") is short too; a longer line ends the block.
MAX_LIST_LINE = 160
# "Legal Disclaimer" ends the story only when little follows it; higher up it may be quoted text.
MAX_DISCLAIMER_TAIL = 5_000

# Unicode's default-ignorable code points (DerivedCoreProperties.txt): drawn as nothing, so they can
# hide inside a word or a delimiter (soft hyphen, joiners, bidi controls, variation selectors), and
# the tag block (U+E0000..) can spell whole sentences a reader never sees. A regex class body.
DEFAULT_IGNORABLE = (
    "\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e\u2060-\u206f"
    "\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufff8\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0000-\U000e0fff"
)
_UNICODE_BREAK = re.compile("[\u2028\u2029\x85]")
_CONTROL = re.compile(f"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f{DEFAULT_IGNORABLE}]")
_UNICODE_SPACE = re.compile("[\xa0\u1680\u2000-\u200a\u202f\u205f\u3000]")
# Union of the three classes above: one scan decides whether any of them needs running.
_ODD_CHAR = re.compile(
    f"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000{DEFAULT_IGNORABLE}]"
)
_SPACE_RUN = re.compile(r"[ \t]{2,}")
_TRAILING = re.compile(r"[ \t]+$", re.MULTILINE)
_BLANK_RUN = re.compile(r"\n{3,}")

_DISCLAIMER = re.compile(r"^[ \t]*legal disclaimer\b", re.IGNORECASE | re.MULTILINE)
# Headers of link lists: the header and the list lines after it go.
_BLOCK_HEADER = (
    r"(?:most\s+popular(?:\s+(?:stories|articles|news|now))?|most\s+read"
    r"|related\s+(?:stories|articles|coverage|content|links|news)|read\s+more"
    r"|recommended(?:\s+(?:for\s+you|stories|articles|reading))?|you\s+(?:may|might)\s+also\s+like)\s*:?"
)
_LIST_ITEM = re.compile(r"\s*(?:[-*•·–—▪►»]|\d{1,2}[.)])\s+\S")
_SENTENCE_END = re.compile(r"""[.!?;:"”’')\]]\s*$""")
_SOCIAL = (
    r"(?:facebook|twitter|x|instagram|linkedin|youtube|tiktok|whatsapp|telegram|threads|reddit|email"
    r"|social(?:\s+media)?)"
)
# Block headers and lines that are furniture by how they start, in one regex because it is tried on
# every short line; each branch fails on the first letters of a story line.
_LINE_RULE = re.compile(
    rf"\s*(?:(?P<header>{_BLOCK_HEADER})"
    rf"|share(?:\s+(?:this|the)\s+(?:article|story|page|post|link)\b.*|\s+(?:on|via)\s+{_SOCIAL}\b.*)?"
    rf"|follow\s+us(?:\s+on\s+{_SOCIAL}\b.*)?"
    r"|(?:advertisement|advert|sponsored\s+content)(?:\s*[-–:]?\s*(?:scroll|continue)\b.*)?"
    r"|skip\s+(?:to\s+(?:main\s+)?(?:content|navigation)|ad(?:vert(?:isement)?)?)"
    r"|comments?\s*(?:no\s+comments?(?:\s+yet)?|\(\d+\)|\d+)?"
    r"|(?:©|\(c\))\s*\d{4}\b.*"
    r"|(?:we|this\s+(?:web)?site|our\s+(?:web)?site)\s+uses?\s+cookies\b.*"
    r"|(?:accept|manage|reject)\s+(?:all\s+)?cookies\b.*"
    r"|by\s+(?:continuing|using)\b.{0,120}\bcookies\b.*"
    r"|click\s+here\s+to\b.*"
    r"|(?:read\s+more|more|related|see\s+also|also\s+read)\s*:\s*\S.*"
    r")\s*",
    re.IGNORECASE,
)
# Lines that are furniture by a phrase inside them; run only when the phrase is present.
_NEWSLETTER = re.compile(
    r"\s*(?:[^.?!:]{0,80}[.?!:]\s*)?(?:sign\s+up|subscribe)\b.{0,200}\bnewsletters?\b.*", re.IGNORECASE
)
_RIGHTS = re.compile(r".{0,160}\ball\s+rights\s+reserved\.?\s*", re.IGNORECASE)


def clean_text(text: str) -> str:
    """Normalise whitespace and remove page furniture from scraped article text.

    Removes control and invisible characters (zero-width, soft hyphens, bidi controls,
    Unicode tags: the default-ignorable code points), keeping newlines and tabs; turns
    Windows and Unicode line breaks into ``\\n``, turns Unicode spaces into plain ones,
    collapses runs of spaces/tabs into one space, strips trailing spaces, and collapses
    three or more newlines into two. Then cuts, as whole lines only: a "Legal Disclaimer"
    and everything after it when it sits near the end; "Most popular stories" /
    "Related stories" / "Read more" / "Recommended" headers with the link list that
    follows; and navigation or social lines ("Share this article", "Follow us on ...",
    "Sign up for our newsletter", "Advertisement", "Skip to content", "CommentsNo
    comment", "All rights reserved", cookie notices, "Click here to ...", "More:
    <headline>"). Idempotent: cleaning clean text changes nothing.

    Args:
        text: Raw article text.

    Returns:
        The cleaned text, stripped at both ends; empty when nothing of the story was left.
    """
    text = _normalise(text)
    # Collapse before the disclaimer check so a second pass measures the same text (idempotence).
    text = _collapse_blank_lines(_drop_furniture_lines(text)).strip()
    return _cut_disclaimer(text).rstrip()


def clean_line(text: str) -> str:
    """Normalise one line of metadata (a headline, a source, an author name).

    Removes control and invisible characters as :func:`clean_text` does and collapses all
    whitespace, line breaks included, into single spaces. Furniture rules are not applied:
    a headline such as "Comments" is a headline.

    Args:
        text: Raw headline or name.

    Returns:
        The cleaned line, stripped at both ends.
    """
    return " ".join(_normalise(text).split())


def _normalise(text: str) -> str:
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if _ODD_CHAR.search(text):
        text = _UNICODE_BREAK.sub("\n", text)
        text = _CONTROL.sub("", text)
        text = _UNICODE_SPACE.sub(" ", text)
    if "  " in text or "\t" in text:
        text = _SPACE_RUN.sub(" ", text)
    if " \n" in text or "\t\n" in text:
        text = _TRAILING.sub("", text)
    return _collapse_blank_lines(text).strip()


def _collapse_blank_lines(text: str) -> str:
    return _BLANK_RUN.sub("\n\n", text) if "\n\n\n" in text else text


def _drop_furniture_lines(text: str) -> str:
    lines = text.split("\n")
    kept: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not line or len(line) > MAX_FURNITURE_LINE:
            kept.append(line)
            continue
        m = _LINE_RULE.fullmatch(line)
        if m is not None:
            if m["header"] is not None:
                i = _end_of_list(lines, i)
            continue
        # Plain substring tests first: these two regexes are slow and their words are rare.
        if ("ewsletter" in line or "EWSLETTER" in line) and _NEWSLETTER.fullmatch(line):
            continue
        if ("eserved" in line or "ESERVED" in line) and _RIGHTS.fullmatch(line):
            continue
        kept.append(line)
    return "\n".join(kept) if len(kept) < len(lines) else text


def _end_of_list(lines: list[str], i: int) -> int:
    """Index of the first line after a link list: bullets or short headline-like lines.

    Blank lines inside the list are passed over only when another list line follows them,
    so a story paragraph after the list survives.
    """
    end = i
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
            continue
        is_item = len(line) <= MAX_LIST_LINE and (
            _LIST_ITEM.match(line) is not None or _SENTENCE_END.search(line) is None
        )
        if not is_item:
            break
        i += 1
        end = i
    return end


def _cut_disclaimer(text: str) -> str:
    # Only the first one decides: after a cut, an earlier one would otherwise qualify on a second pass.
    m = _DISCLAIMER.search(text) if "isclaimer" in text or "ISCLAIMER" in text else None
    if m is None or m.start() == 0:
        return text
    tail = len(text) - m.start()
    return text[: m.start()] if tail <= MAX_DISCLAIMER_TAIL and tail * 2 < len(text) else text
