"""Counting sorts: orders and layouts of small non-negative integer keys in O(n).

NumPy's stable sort is a radix sort only for keys of 16 bits or less; for int32 / int64
keys it is a merge sort, O(n log n). Users and items are contiguous ids below their
count, so a counting pass and a scatter give the item-major (CSC) layout and the SGD
block layout of 100 million interactions in O(n), and the (user, item) order in a
scatter plus a sort of each user's run where it is out of order (O(n log m) for runs of
m), without int64 key or order arrays.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import prange

__all__ = ["block_layout", "pairs_sorted_unique", "sorted_pairs", "transpose"]


@numba.njit(cache=True, nogil=True)
def pairs_sorted_unique(rows, cols):
    """True when the pairs ``(rows[t], cols[t])`` strictly increase (sorted, no repeats):
    the check that lets already-ordered input skip the sort, without an int64 key array."""
    for t in range(1, len(rows)):
        a, b = rows[t - 1], rows[t]
        if b < a or (b == a and cols[t] <= cols[t - 1]):
            return False
    return True


@numba.njit(cache=True, nogil=True)
def sorted_pairs(rows, cols, values, n_rows, n_cols):
    """The entries ``(rows[t], cols[t], values[t])`` in (row, col) order, stably: returns
    ``(ptr, cols, values, repeats)``, ``ptr`` the CSR row starts (int64) and ``repeats``
    the number of entries equal in (row, col) to the one before them. Equal pairs keep
    their input order, as ``np.lexsort((cols, rows))``; with ``values = arange(n)`` the
    values returned are that order itself.

    One counting scatter by row into the outputs (no order array, no second copy), then
    each row's run sorted by column where it is not in order already (a stable merge
    sort of the run): the memory is the outputs' own.
    """
    n = len(rows)
    ptr = np.zeros(n_rows + 1, dtype=np.int64)
    for t in range(n):
        ptr[rows[t] + 1] += 1
    for r in range(n_rows):
        ptr[r + 1] += ptr[r]
    nxt = ptr[:-1].copy()
    out_cols = np.empty(n, dtype=cols.dtype)
    out_vals = np.empty(n, dtype=values.dtype)
    for t in range(n):
        r = rows[t]
        pos = nxt[r]
        nxt[r] = pos + 1
        out_cols[pos] = cols[t]
        out_vals[pos] = values[t]
    repeats = 0
    for r in range(n_rows):
        s, e = ptr[r], ptr[r + 1]
        ordered = True
        for t in range(s + 1, e):
            if out_cols[t] < out_cols[t - 1]:
                ordered = False
                break
        if not ordered:
            o = np.argsort(out_cols[s:e], kind="mergesort")
            run_cols = out_cols[s:e].copy()
            run_vals = out_vals[s:e].copy()
            for t in range(e - s):
                out_cols[s + t] = run_cols[o[t]]
                out_vals[s + t] = run_vals[o[t]]
        for t in range(s + 1, e):
            if out_cols[t] == out_cols[t - 1]:
                repeats += 1
    return ptr, out_cols, out_vals, repeats


@numba.njit(cache=True, nogil=True)
def transpose(cols, rows, values, n_cols):
    """The column-major copy of entries given in row-major order: ``(ptr, rows, values)``
    grouped by ``cols`` (``ptr`` int64, ``n_cols + 1``), each group in the input's order.

    The same as a stable argsort of ``cols`` followed by two gathers, without the int64
    order array (8 bytes per entry): a count pass and a scatter pass.
    """
    n = len(cols)
    ptr = np.zeros(n_cols + 1, dtype=np.int64)
    for t in range(n):
        ptr[cols[t] + 1] += 1
    for c in range(n_cols):
        ptr[c + 1] += ptr[c]
    nxt = ptr[:-1].copy()
    out_rows = np.empty(n, dtype=rows.dtype)
    out_vals = np.empty(n, dtype=values.dtype)
    for t in range(n):
        c = cols[t]
        pos = nxt[c]
        nxt[c] = pos + 1
        out_rows[pos] = rows[t]
        out_vals[pos] = values[t]
    return ptr, out_rows, out_vals


#: entries per parallel task of :func:`block_layout` (fixed, so results never depend on
#: the thread count)
LAYOUT_CHUNK = 1 << 20


def block_layout(user_ids, item_ids, values, user_group, item_group, user_new, item_new,
                 n_blocks, chunk=LAYOUT_CHUNK):  # fmt: skip
    """Ratings laid out by block ``user_group[u] * n_blocks + item_group[i]`` in one
    counting sort (stable), with ids relabelled by ``user_new`` / ``item_new``.

    Returns ``(block_ptr, users, items, ratings)``: the same as a stable argsort of the
    block numbers followed by three gathers. The input is cut into chunks of ``chunk``
    entries counted and scattered in parallel, each chunk into its own stretch of every
    block, so the layout is the serial one for any number of threads.
    """
    return _block_layout(user_ids, item_ids, values, user_group, item_group, user_new,
                         item_new, n_blocks, max(int(chunk), 1))  # fmt: skip


@numba.njit(parallel=True, cache=True, nogil=True)
def _block_layout(user_ids, item_ids, values, user_group, item_group, user_new, item_new,
                  n_blocks, chunk):  # fmt: skip
    n_blk = n_blocks * n_blocks
    n = len(user_ids)
    n_chunks = max(1, (n + chunk - 1) // chunk)
    counts = np.zeros((n_chunks, n_blk), dtype=np.int64)
    for c in prange(n_chunks):
        for t in range(c * chunk, min(n, (c + 1) * chunk)):
            counts[c, np.int64(user_group[user_ids[t]]) * n_blocks + item_group[item_ids[t]]] += 1
    ptr = np.zeros(n_blk + 1, dtype=np.int64)
    start = np.empty((n_chunks, n_blk), dtype=np.int64)
    for b in range(n_blk):
        acc = ptr[b]
        for c in range(n_chunks):
            start[c, b] = acc
            acc += counts[c, b]
        ptr[b + 1] = acc
    users = np.empty(n, dtype=np.int32)
    items = np.empty(n, dtype=np.int32)
    ratings = np.empty(n, dtype=values.dtype)
    for c in prange(n_chunks):
        nxt = start[c].copy()
        for t in range(c * chunk, min(n, (c + 1) * chunk)):
            u = user_ids[t]
            i = item_ids[t]
            b = np.int64(user_group[u]) * n_blocks + item_group[i]
            pos = nxt[b]
            nxt[b] = pos + 1
            users[pos] = user_new[u]
            items[pos] = item_new[i]
            ratings[pos] = values[t]
    return ptr, users, items, ratings
