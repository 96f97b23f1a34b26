"""Matching tracks to detections: optimal, one-to-one, only positive pairs."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from appliance.vision.assignment import match


def best_total(sim: np.ndarray) -> float:
    """Reference: the largest sum of positive pairs over every one-to-one matching."""
    n, m = sim.shape
    best = 0.0
    for k in range(min(n, m) + 1):
        for rows in itertools.combinations(range(n), k):
            for cols in itertools.permutations(range(m), k):
                total = sum(sim[r, c] for r, c in zip(rows, cols, strict=True))
                if all(sim[r, c] > 0 for r, c in zip(rows, cols, strict=True)):
                    best = max(best, total)
    return best


similarities = st.tuples(st.integers(1, 5), st.integers(1, 5)).flatmap(
    lambda shape: arrays(
        np.float64,
        shape,
        elements=st.one_of(st.just(0.0), st.floats(0.05, 1.0)),
    )
)


@given(similarities)
@settings(max_examples=150, deadline=None)
def test_matching_is_optimal_one_to_one_and_positive(sim: np.ndarray) -> None:
    pairs = match(sim)
    rows = [r for r, _ in pairs]
    cols = [c for _, c in pairs]
    assert len(set(rows)) == len(rows)
    assert len(set(cols)) == len(cols)
    assert all(sim[r, c] > 0 for r, c in pairs)
    assert abs(sum(sim[r, c] for r, c in pairs) - best_total(sim)) < 1e-9


def test_contested_detection_goes_to_the_better_overall_assignment() -> None:
    # track 0 fits detection 0 best, but track 1 can only take detection 0 -> 0 takes 1
    sim = np.array([[0.9, 0.8], [0.85, 0.0]])
    assert match(sim) == [(0, 1), (1, 0)]


def test_no_possible_pair_gives_no_match() -> None:
    assert match(np.zeros((3, 2))) == []
