"""Minimum-cost assignment of tracks to people: ``scipy.optimize.linear_sum_assignment``.

A thin front for the tracker: input checks with messages that say what is wrong, empty
matrices, and rows sorted. scipy is imported on first use (tracking only).
"""
from __future__ import annotations

import numpy as np


def linear_assignment(cost) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of a minimum-total-cost matching.

    Every row is matched when there are at least as many columns as rows, and every column
    otherwise (scipy's contract). Costs must be finite; express "forbidden" as a large cost and
    filter those pairs afterwards. Rows come back sorted.
    """
    cost = np.asarray(cost, dtype=np.float64)
    if cost.ndim != 2:
        raise ValueError(f"cost must be a 2-D matrix, got shape {cost.shape}")
    if cost.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty.copy()
    if not np.all(np.isfinite(cost)):
        raise ValueError("cost must be finite; use a large number for forbidden pairs")
    from scipy.optimize import linear_sum_assignment

    rows, cols = linear_sum_assignment(cost)
    return rows.astype(np.int64), cols.astype(np.int64)
