"""Parallel top-k selection over rows of a score block, with per-row exclusions."""

from __future__ import annotations

import numba
import numpy as np
from numba import prange

__all__ = ["topk_rows"]


@numba.njit(cache=True, inline="always")
def _sift_down(vals, idx, pos, size):
    # min-heap on (value, -index): the root is the worst kept candidate; among equal
    # values the larger index is worse, so the smaller index is kept
    while True:
        left = 2 * pos + 1
        if left >= size:
            return
        child = left
        right = left + 1
        if right < size and (
            vals[right] < vals[left] or (vals[right] == vals[left] and idx[right] > idx[left])
        ):
            child = right
        if vals[child] < vals[pos] or (vals[child] == vals[pos] and idx[child] > idx[pos]):
            vals[pos], vals[child] = vals[child], vals[pos]
            idx[pos], idx[child] = idx[child], idx[pos]
            pos = child
        else:
            return


@numba.njit(parallel=True, cache=True, nogil=True)
def topk_rows(scores, k, excl_indptr, excl_indices, allowed):
    """Best ``k`` columns of every row of ``scores``, best first.

    Parameters
    ----------
    scores : float32 (n_rows, n_cols)
        Modified in place: excluded entries are set to -inf.
    k : int
    excl_indptr, excl_indices : CSR (n_rows + 1,), (nnz,)
        Columns to exclude per row (already-seen items); may be empty (``indptr`` of zeros).
    allowed : bool (n_cols,)
        Columns that may be returned at all.

    Returns
    -------
    idx : int32 (n_rows, k), -1 where a row has fewer than ``k`` candidates
    vals : float32 (n_rows, k), -inf there. Ties keep the smaller column index first.
    """
    n_rows, n_cols = scores.shape
    k = min(k, n_cols)
    out_idx = np.full((n_rows, k), -1, dtype=np.int32)
    out_val = np.full((n_rows, k), -np.inf, dtype=np.float32)
    neg_inf = np.float32(-np.inf)
    for r in prange(n_rows):
        row = scores[r]
        for t in range(excl_indptr[r], excl_indptr[r + 1]):
            row[excl_indices[t]] = neg_inf
        hv = np.empty(k, dtype=np.float32)
        hi = np.empty(k, dtype=np.int32)
        size = 0
        for c in range(n_cols):
            v = row[c]
            if not allowed[c] or v == neg_inf or v != v:
                continue
            if size < k:
                # insert and sift up
                pos = size
                hv[pos] = v
                hi[pos] = c
                size += 1
                while pos > 0:
                    parent = (pos - 1) // 2
                    if hv[pos] < hv[parent] or (hv[pos] == hv[parent] and hi[pos] > hi[parent]):
                        hv[pos], hv[parent] = hv[parent], hv[pos]
                        hi[pos], hi[parent] = hi[parent], hi[pos]
                        pos = parent
                    else:
                        break
            elif v > hv[0]:
                hv[0] = v
                hi[0] = c
                _sift_down(hv, hi, 0, size)
        # pop the heap from worst to best into the output, filling from the back
        for t in range(size - 1, -1, -1):
            out_val[r, t] = hv[0]
            out_idx[r, t] = hi[0]
            hv[0] = hv[t]
            hi[0] = hi[t]
            _sift_down(hv, hi, 0, t)
    return out_idx, out_val
