"""What a story's line is: a development, dated by the day it happened.

Two readings of an article's own wording that the timeline (:mod:`rag.timeline`) needs:

* A fact check reports a claim, not an event: its lines quote the claim ("The claim: a
  vigilante shot down the balloon", the post's words) and rate it. Such an article is marked
  by its headline ("Fact check: ...") or by a claim or rating line ("The claim:", "Our
  rating: False"), the form fact checkers publish in.
* News dates an event by its weekday relative to the day it is published ("shot down the
  balloon Saturday afternoon"); an article stamped the day before its update says "Saturday"
  of the next day.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

_FACT_CHECK_TITLE = re.compile(r"^\W*fact[\s-]?check(ing)?\b", re.I)
# A claim or rating line opens a paragraph of a fact check ("The claim: ...", "Our rating: False").
_CLAIM_LINE = re.compile(r"(?:^|\n)\s*(?:the claim|claim|our rating|rating|verdict)\s*:", re.I)
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
# A weekday said of the sentence's event: not "Saturday's avalanche" (an earlier event named as
# background), not "last Saturday"/"next Saturday" (weeks away, left to the publication date).
_WEEKDAY = re.compile(r"(?<!last )(?<!next )\b(" + "|".join(_WEEKDAYS) + r")\b(?!['’]s)", re.I)
LATEST_UPDATE_DAYS = 1  # a weekday this many days after the stamped date is the update's day


def checks_a_claim(title: str, lead: str) -> bool:
    """True when an article (its ``title`` and opening ``lead`` text) is a fact check."""
    return bool(_FACT_CHECK_TITLE.match(title) or _CLAIM_LINE.search(lead))


def is_claim_line(sentence: str) -> bool:
    """True for a fact check's claim or rating line ("The claim: ...")."""
    return bool(_CLAIM_LINE.match(sentence))


def event_day(sentence: str, published: date) -> date:
    """The day ``sentence``'s event happened: its first weekday ("on Saturday", "said Monday"),
    read as the latest such day up to the publication date, or the day after it (an article
    stamped with its first version's date and updated next day); else ``published``."""
    m = _WEEKDAY.search(sentence)
    if m is None:
        return published
    back = (published.weekday() - _WEEKDAYS.index(m.group(1).lower())) % 7
    if back >= 7 - LATEST_UPDATE_DAYS:
        return published + timedelta(days=7 - back)
    return published - timedelta(days=back)
