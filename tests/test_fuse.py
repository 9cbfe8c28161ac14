"""Convex (score) fusion: hand-computed values, scaling, weights, missing ids, errors."""

import pytest

from rag.fuse import convex_fusion


def test_convex_hand_computed():
    dense = [(1, 0.9), (2, 0.5), (3, 0.1)]  # scaled: 1.0, 0.5, 0.0
    sparse = [(3, 20.0), (4, 10.0)]  # scaled: 1.0, 0.0
    fused = dict(convex_fusion([dense, sparse], weights=[0.3, 0.7]))
    assert fused[1] == pytest.approx(0.3)
    assert fused[2] == pytest.approx(0.15)
    assert fused[3] == pytest.approx(0.7)  # last in one list, first in the other
    assert fused[4] == pytest.approx(0.0)
    assert [i for i, _ in convex_fusion([dense, sparse], weights=[0.3, 0.7])] == [3, 1, 2, 4]


def test_convex_keeps_score_gaps_that_rrf_loses():
    # 1 is far ahead in the dense list and barely behind in the sparse one: it wins overall.
    fused = convex_fusion([[(1, 1.0), (2, 0.1), (9, 0.0)], [(2, 10.0), (1, 9.9), (9, 0.0)]], weights=[0.5, 0.5])
    assert fused[0][0] == 1


def test_convex_edge_cases():
    assert convex_fusion([[], []], weights=[0.5, 0.5]) == []
    # One hit, or equal scores: every hit of the list gets the full weight.
    assert convex_fusion([[(7, 0.2)], []], weights=[0.3, 0.7]) == [(7, pytest.approx(0.3))]
    assert dict(convex_fusion([[(1, 2.0), (2, 2.0)]], weights=[1.0])) == {1: 1.0, 2: 1.0}
    # Ties keep first appearance.
    assert [i for i, _ in convex_fusion([[(5, 1.0)], [(6, 1.0)]], weights=[0.5, 0.5])] == [5, 6]
    with pytest.raises(ValueError, match="one weight per list"):
        convex_fusion([[(1, 1.0)]], weights=[0.5, 0.5])
