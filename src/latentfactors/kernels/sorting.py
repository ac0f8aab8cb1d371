"""Counting sort: the stable order of small non-negative integer keys in O(n).

NumPy's stable sort is a radix sort only for keys of 16 bits or less; for int32 / int64
keys it is a merge sort, O(n log n). Users and items are contiguous ids below their
count, so two counting passes (item, then user) give the (user, item) order of 100
million interactions several times faster.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["block_layout", "counting_order"]


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


@numba.njit(cache=True, nogil=True)
def block_layout(user_ids, item_ids, values, user_group, item_group, user_new, item_new,
                 n_blocks):  # fmt: skip
    """Ratings laid out by block ``user_group[u] * n_blocks + item_group[i]`` in one
    counting sort (stable), with ids relabelled by ``user_new`` / ``item_new``.

    Returns ``(block_ptr, users, items, ratings)``: the same as a stable argsort of the
    block numbers followed by three gathers, in two passes over the ratings.
    """
    n_blk = n_blocks * n_blocks
    n = len(user_ids)
    ptr = np.zeros(n_blk + 1, dtype=np.int64)
    for t in range(n):
        ptr[np.int64(user_group[user_ids[t]]) * n_blocks + item_group[item_ids[t]] + 1] += 1
    for b in range(n_blk):
        ptr[b + 1] += ptr[b]
    nxt = ptr[:-1].copy()
    users = np.empty(n, dtype=np.int32)
    items = np.empty(n, dtype=np.int32)
    ratings = np.empty(n, dtype=values.dtype)
    for t in range(n):
        u = user_ids[t]
        i = item_ids[t]
        b = np.int64(user_group[u]) * n_blocks + item_group[i]
        pos = nxt[b]
        nxt[b] = pos + 1
        users[pos] = user_new[u]
        items[pos] = item_new[i]
        ratings[pos] = values[t]
    return ptr, users, items, ratings
