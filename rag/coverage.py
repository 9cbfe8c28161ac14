"""How much of a query's term weight a text holds: the one measure the answerer, the follow-up
decision, the reader, the chooser and the timeline all share (below them all, so each imports
it without importing the others)."""

from __future__ import annotations


def coverage(query_weights: dict[str, float], found: dict[str, float]) -> float:
    """Share of the query's term weight present in ``found`` (term -> 0..1 presence weight)."""
    total = sum(query_weights.values())
    if total <= 0:
        return 0.0
    return sum(w * found.get(t, 0.0) for t, w in query_weights.items()) / total
