"""Reciprocal rank fusion of several retrievers' ranked hit lists."""

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
