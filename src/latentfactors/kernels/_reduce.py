"""Sums whose bits do not depend on the thread count."""

from __future__ import annotations

import numba


@numba.njit(cache=True, nogil=True)
def ordered_sum(parts):
    """The sum of a 1-d float array, added in index order (float64).

    Inside a ``parallel=True`` kernel ``parts.sum()`` becomes a parallel reduction, split
    by thread, so its last bits change with the thread count; called from such a kernel,
    this plain loop is not parallelised. Kernels store per-row or per-block partial sums
    and add them up with it.
    """
    total = 0.0
    for t in range(parts.shape[0]):
        total += parts[t]
    return total
