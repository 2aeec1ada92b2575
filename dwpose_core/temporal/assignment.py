"""Minimum-cost assignment (Hungarian method, shortest augmenting paths).

A small, dependency-free solver: scipy is not a runtime dependency, and the
matrices here are tiny (tracks x people in one frame). O(n^2 m) for an
n x m matrix with n <= m; vectorised over columns.
"""
from __future__ import annotations

import numpy as np


def linear_assignment(cost) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of a minimum-total-cost matching.

    Every row is matched when there are at least as many columns as rows, and
    every column otherwise (the same contract as scipy's
    ``linear_sum_assignment``). Costs must be finite; express "forbidden" as a
    large cost and filter those pairs afterwards. Rows come back sorted.
    """
    cost = np.asarray(cost, dtype=np.float64)
    if cost.ndim != 2:
        raise ValueError(f"cost must be a 2-D matrix, got shape {cost.shape}")
    if cost.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty.copy()
    if not np.all(np.isfinite(cost)):
        raise ValueError("cost must be finite; use a large number for forbidden pairs")
    transposed = cost.shape[0] > cost.shape[1]
    if transposed:
        cost = cost.T
    n, m = cost.shape

    # Potentials u (rows) and v (columns); index 0 is a virtual column/row.
    u = np.zeros(n + 1)
    v = np.zeros(m + 1)
    owner = np.zeros(m + 1, dtype=np.int64)  # owner[j] = row (1-based) holding column j, 0 = free
    way = np.zeros(m + 1, dtype=np.int64)
    for i in range(1, n + 1):
        owner[0] = i
        j0 = 0
        minv = np.full(m + 1, np.inf)
        used = np.zeros(m + 1, dtype=bool)
        while True:
            used[j0] = True
            i0 = owner[j0]
            free = ~used[1:]
            reduced = cost[i0 - 1] - u[i0] - v[1:]
            better = free & (reduced < minv[1:])
            minv[1:][better] = reduced[better]
            way[1:][better] = j0
            candidates = np.where(free, minv[1:], np.inf)
            j1 = int(np.argmin(candidates)) + 1
            delta = candidates[j1 - 1]
            u[owner[used]] += delta
            v[used] -= delta
            minv[1:][free] -= delta
            j0 = j1
            if owner[j0] == 0:
                break
        # Flip the augmenting path back to the root.
        while j0:
            j1 = way[j0]
            owner[j0] = owner[j1]
            j0 = j1

    cols = np.nonzero(owner[1:])[0]
    rows = owner[1:][cols] - 1
    if transposed:
        rows, cols = cols, rows
    order = np.argsort(rows, kind="stable")
    return rows[order].astype(np.int64), cols[order].astype(np.int64)
