"""Counting sort: the stable order of small non-negative integer keys in O(n).

NumPy's stable sort is a radix sort only for keys of 16 bits or less; for int32 / int64
keys it is a merge sort, O(n log n). Users and items are contiguous ids below their
count, so two counting passes (item, then user) give the (user, item) order of 100
million interactions several times faster.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["counting_order"]


@numba.njit(cache=True, nogil=True)
def counting_order(keys, n_keys):
    """Indices that sort ``keys`` (ints in ``[0, n_keys)``) stably: equal keys keep their
    order. The same as ``np.argsort(keys, kind="stable")``, as int64."""
    counts = np.zeros(n_keys + 1, dtype=np.int64)
    for k in keys:
        counts[k + 1] += 1
    for k in range(n_keys):
        counts[k + 1] += counts[k]
    order = np.empty(len(keys), dtype=np.int64)
    for pos in range(len(keys)):
        k = keys[pos]
        order[counts[k]] = pos
        counts[k] += 1
    return order
