"""How the parallel row kernels cut their rows into tasks."""

from __future__ import annotations

import numba
import numpy as np

#: rows per parallel task of the row kernels, on average
ROWS_PER_TASK = 64


@numba.njit(cache=True, nogil=True)
def balanced_bounds(indptr, n_tasks, row_weight=1):
    """Row boundaries of ``n_tasks`` contiguous tasks, each holding about the same work,
    counted as ``row_weight`` per row plus one per entry (``indptr[u] + row_weight * u``).

    With rows cut by count, the popular items at the front of ML-100K's catalogue put
    71,000 of 80,000 ratings in the first half of the tasks, and a two-thread item step
    waited on one thread. ``row_weight`` is what a row costs apart from its entries, in
    entries: 1 for the explicit ALS CG kernel (a few length-k passes per row), about
    ``k / 2`` for the ImplicitALS one (its product with the k x k Gram matrix costs
    ``2 k^2`` flops per step, an entry ``4 k``; counted as 1, Last.fm's item step, 17,632
    items holding 5 entries each on average, ran 30% slower than with one row per task).
    The cut depends only on ``indptr``; the kernels solve each row alone, so their
    results do not depend on it."""
    n = indptr.shape[0] - 1
    bounds = np.empty(n_tasks + 1, dtype=np.int64)
    w = max(1, row_weight)
    total = indptr[n] - indptr[0] + w * n
    u = 0
    bounds[0] = 0
    for c in range(1, n_tasks):
        target = indptr[0] + (total * c) // n_tasks
        while u < n and indptr[u] + w * u < target:
            u += 1
        bounds[c] = u
    bounds[n_tasks] = n
    return bounds


@numba.njit(cache=True, nogil=True)
def row_tasks(indptr, row_weight=1):
    """Boundaries of tasks of about :data:`ROWS_PER_TASK` rows each, cut by
    :func:`balanced_bounds` (task ``c`` holds rows ``bounds[c] .. bounds[c + 1]``)."""
    n = indptr.shape[0] - 1
    return balanced_bounds(indptr, (n + ROWS_PER_TASK - 1) // ROWS_PER_TASK, row_weight)
