"""Date and source filters: which articles a search may return, and the per-chunk mask a local index applies."""

from __future__ import annotations

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


class ArticleFacets:
    """Per-chunk date ordinals and source ids of a store, for fast vectorised masks."""

    def __init__(self, store: IndexStore) -> None:
        art_dates = np.array([a.date.toordinal() if a.date else UNDATED for a in store.articles], dtype=np.int64)
        sources = [a.source.lower() for a in store.articles]
        self.source_names = sorted(set(sources))
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
