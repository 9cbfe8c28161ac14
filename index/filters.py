"""Date and source filters: which articles a search may return, and the per-chunk mask a local index applies."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np

from index.store import IndexStore

UNDATED = -1


def to_date(value: date | str | None, *, name: str = "date") -> date | None:
    """Accept a ``datetime.date`` or an ISO string; raise a clear ValueError otherwise."""
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip()[:10])
    except ValueError:
        raise ValueError(f"{name} must be a date like 2025-07-23, got {value!r}") from None


@dataclass(frozen=True)
class Filters:
    """Which articles a search may return.

    ``as_of`` is when the question is asked: articles dated after it are left out, undated
    ones stay. ``date_from``/``date_to`` (inclusive) leave out undated articles too, since
    nothing says they fall in the range. ``sources`` matches the article source, case-blind.
    """

    as_of: date | None = None
    date_from: date | None = None
    date_to: date | None = None
    sources: tuple[str, ...] = ()

    def active(self) -> bool:
        return bool(self.as_of or self.date_from or self.date_to or self.sources)


def check_range(date_from: date | None, date_to: date | None, *,
                names: tuple[str, str] = ("date_from", "date_to")) -> None:
    """Refuse a reversed range: it can match nothing, and is almost always the two dates swapped.

    Raises:
        ValueError: ``date_from`` is after ``date_to`` (``names`` name them as the caller typed them).
    """
    if date_from and date_to and date_from > date_to:
        raise ValueError(f"{names[0]} {date_from.isoformat()} is after {names[1]} {date_to.isoformat()}: "
                         "the range holds no day; swap the two dates")


# Suggestions offered for a source name the collection lacks.
SUGGESTIONS = 3


def nearest_sources(name: str, known: Sequence[str], n: int = SUGGESTIONS) -> list[str]:
    """The ``n`` names of ``known`` closest to ``name``, case-blind: those that contain it or that
    it contains first ("usatoday" -> "usatoday.com"), then by spelling (difflib)."""
    wanted = name.strip().lower()
    if not wanted:
        return []
    by_lower = {k.lower(): k for k in known}
    within = sorted((k for k in by_lower if wanted in k or k in wanted), key=lambda k: (abs(len(k) - len(wanted)), k))
    close = difflib.get_close_matches(wanted, list(by_lower), n=n, cutoff=0.6)
    return [by_lower[k] for k in dict.fromkeys([*within, *close])][:n]


def unknown_source_warnings(sources: Sequence[str], known: Sequence[str]) -> list[str]:
    """One line for each of ``sources`` that names no source of the collection (case-blind),
    offering the nearest known names, or some known names when none is near."""
    have = {k.lower() for k in known}
    lines = []
    for name in sources:
        if name.lower() in have:
            continue
        near = nearest_sources(name, known)
        if near:
            offer = "did you mean " + " or ".join(repr(s) for s in near) + "?"
        elif known:
            offer = f"its {len(known):,} sources include " + ", ".join(repr(s) for s in sorted(known)[:SUGGESTIONS])
        else:
            offer = "it has no named sources"
        lines.append(f"The collection has no source {name!r}: {offer}")
    return lines


class ArticleFacets:
    """Per-chunk date ordinals and source ids of a store, for fast vectorised masks."""

    def __init__(self, store: IndexStore) -> None:
        art_dates = np.array([a.date.toordinal() if a.date else UNDATED for a in store.articles], dtype=np.int64)
        sources = [a.source.lower() for a in store.articles]
        self.source_names = sorted(set(sources))
        # The names as the articles spell them (first spelling wins), for messages and suggestions.
        self.source_labels = sorted({a.source.lower(): a.source for a in reversed(store.articles) if a.source}.values())
        source_id = {s: i for i, s in enumerate(self.source_names)}
        art_sources = np.array([source_id[s] for s in sources], dtype=np.int32)
        self.chunk_date = art_dates[store.chunk_article] if len(store) else np.zeros(0, dtype=np.int64)
        self.chunk_source = art_sources[store.chunk_article] if len(store) else np.zeros(0, dtype=np.int32)

    def mask(self, f: Filters) -> np.ndarray | None:
        """Boolean mask of the chunks that pass ``f``, or None when nothing is filtered."""
        if not f.active():
            return None
        keep = np.ones(len(self.chunk_date), dtype=bool)
        dated = self.chunk_date != UNDATED
        if f.as_of:
            keep &= ~dated | (self.chunk_date <= f.as_of.toordinal())
        if f.date_from:
            keep &= dated & (self.chunk_date >= f.date_from.toordinal())
        if f.date_to:
            keep &= dated & (self.chunk_date <= f.date_to.toordinal())
        if f.sources:
            wanted = {s.lower() for s in f.sources}
            ids = [i for i, s in enumerate(self.source_names) if s in wanted]
            keep &= np.isin(self.chunk_source, ids)
        return keep

    def explain(self, f: Filters) -> tuple[list[str], bool]:
        """What ``f`` does that a user should be told, and whether it leaves no passage at all.

        The lines name the sources the collection lacks (with the nearest known names) and, when
        nothing passes, the filters that were set and the span of dates the collection covers."""
        lines = unknown_source_warnings(f.sources, self.source_labels)
        mask = self.mask(f)
        if mask is None or mask.any() or not len(mask):
            return lines, False
        dated = self.chunk_date[self.chunk_date != UNDATED]
        span = (f"its articles are dated {date.fromordinal(int(dated.min())).isoformat()} to "
                f"{date.fromordinal(int(dated.max())).isoformat()}" if len(dated) else "its articles are undated")
        set_ = [f"sources {', '.join(f.sources)}" if f.sources else "",
                f"from {f.date_from.isoformat()}" if f.date_from else "",
                f"to {f.date_to.isoformat()}" if f.date_to else "",
                # as_of is today unless given: named only when it leaves articles out
                f"as of {f.as_of.isoformat()}" if f.as_of and len(dated) and dated.max() > f.as_of.toordinal() else ""]
        lines.append(f"No article of the collection matches the filters ({'; '.join(x for x in set_ if x)}); "
                     f"{span}")
        return lines, True
