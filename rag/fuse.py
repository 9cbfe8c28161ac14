"""Fusion of several retrievers' hit lists: by rank (RRF) or by scaled score (convex)."""

from __future__ import annotations

from collections.abc import Sequence

from rag.config import RRF_K


def reciprocal_rank_fusion(rankings: Sequence[Sequence[int]], *, k: int = RRF_K,
                           weights: Sequence[float] | None = None) -> list[tuple[int, float]]:
    """Fuse ranked lists of ids: score(id) = sum over lists of w / (k + rank), rank from 1.

    ``weights`` (default all 1) gives each list its weight. Returns (id, score) pairs, best
    first; ties keep the order of first appearance.
    """
    weights = list(weights) if weights is not None else [1.0] * len(rankings)
    if len(weights) != len(rankings):
        raise ValueError(f"need one weight per ranking, got {len(weights)} for {len(rankings)}")
    scores: dict[int, float] = {}
    for ranking, w in zip(rankings, weights):
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + w / (k + rank)
    return sorted(scores.items(), key=lambda kv: -kv[1])


def convex_fusion(scored: Sequence[Sequence[tuple[int, float]]], *,
                  weights: Sequence[float]) -> list[tuple[int, float]]:
    """Fuse lists of (id, score): each list's scores are min-max scaled to [0, 1] and the
    fused score is the weighted sum (an id missing from a list gets 0 there).

    Unlike RRF this keeps how far apart the hits are, not only their order (Bruch et al.
    2023, "An analysis of fusion functions for hybrid retrieval"). Returns (id, score) pairs,
    best first; ties keep the order of first appearance.
    """
    if len(weights) != len(scored):
        raise ValueError(f"need one weight per list, got {len(weights)} for {len(scored)}")
    fused: dict[int, float] = {}
    for hits, w in zip(scored, weights):
        if not hits:
            continue
        values = [s for _, s in hits]
        lo, span = min(values), max(values) - min(values)
        for item, score in hits:
            scaled = (score - lo) / span if span > 0 else 1.0
            fused[item] = fused.get(item, 0.0) + w * scaled
    return sorted(fused.items(), key=lambda kv: -kv[1])
