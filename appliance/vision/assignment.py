"""Optimal one-to-one matching of tracks (rows) to detections (columns) by similarity.

Pairs with similarity <= 0 may never match. The matrix is split into connected groups of
possible pairs: a lone pair is taken directly, a contested group is solved exactly with the
Hungarian algorithm maximising total similarity (the groups are small: objects that overlap).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


def match(similarity: NDArray[np.float64]) -> list[tuple[int, int]]:
    """(row, column) pairs maximising the summed similarity; only positive pairs, sorted."""
    possible = similarity > 0.0
    rows, cols = np.nonzero(possible)
    if rows.size == 0:
        return []
    lone = (possible.sum(axis=1)[rows] == 1) & (possible.sum(axis=0)[cols] == 1)
    pairs = list(zip(rows[lone].tolist(), cols[lone].tolist(), strict=True))
    if not lone.all():
        for group_rows, group_cols in _groups(rows[~lone].tolist(), cols[~lone].tolist()):
            sub = similarity[group_rows][:, group_cols]
            for r, c in _hungarian_max(sub):
                if sub[r, c] > 0.0:
                    pairs.append((group_rows[r], group_cols[c]))
    return sorted(pairs)


def _groups(rows: list[int], cols: list[int]) -> list[tuple[list[int], list[int]]]:
    """Connected components of the bipartite graph of possible pairs, each sorted."""
    by_row: dict[int, list[int]] = {}
    by_col: dict[int, list[int]] = {}
    for r, c in zip(rows, cols, strict=True):
        by_row.setdefault(r, []).append(c)
        by_col.setdefault(c, []).append(r)
    seen_rows: set[int] = set()
    groups: list[tuple[list[int], list[int]]] = []
    for start in by_row:
        if start in seen_rows:
            continue
        group_rows, group_cols = {start}, set()
        todo = [start]
        while todo:
            for c in by_row[todo.pop()]:
                if c not in group_cols:
                    group_cols.add(c)
                    for r in by_col[c]:
                        if r not in group_rows:
                            group_rows.add(r)
                            todo.append(r)
        seen_rows |= group_rows
        groups.append((sorted(group_rows), sorted(group_cols)))
    return groups


def _hungarian_max(sim: NDArray[np.float64]) -> list[tuple[int, int]]:
    """Assignment maximising the total of `sim` (rectangular); every row or every column used."""
    transposed = sim.shape[0] > sim.shape[1]
    cost = (-(sim.T if transposed else sim)).tolist()
    assigned = _hungarian_min(cost)
    pairs = [(i, j) for i, j in enumerate(assigned)]
    return [(j, i) for i, j in pairs] if transposed else pairs


def _hungarian_min(cost: list[list[float]]) -> list[int]:
    """Column for each row minimising the total cost; needs rows <= columns (O(n^2 m))."""
    n, m = len(cost), len(cost[0])
    inf = float("inf")
    u = [0.0] * (n + 1)
    v = [0.0] * (m + 1)
    owner = [0] * (m + 1)  # owner[j]: row (1-based) assigned to column j, 0 if none
    way = [0] * (m + 1)
    for i in range(1, n + 1):
        owner[0] = i
        j0 = 0
        minv = [inf] * (m + 1)
        used = [False] * (m + 1)
        while True:
            used[j0] = True
            i0 = owner[j0]
            row = cost[i0 - 1]
            delta, j1 = inf, 0
            for j in range(1, m + 1):
                if not used[j]:
                    cur = row[j - 1] - u[i0] - v[j]
                    if cur < minv[j]:
                        minv[j], way[j] = cur, j0
                    if minv[j] < delta:
                        delta, j1 = minv[j], j
            for j in range(m + 1):
                if used[j]:
                    u[owner[j]] += delta
                    v[j] -= delta
                else:
                    minv[j] -= delta
            j0 = j1
            if owner[j0] == 0:
                break
        while j0:
            j1 = way[j0]
            owner[j0] = owner[j1]
            j0 = j1
    result = [-1] * n
    for j in range(1, m + 1):
        if owner[j]:
            result[owner[j] - 1] = j - 1
    return result
