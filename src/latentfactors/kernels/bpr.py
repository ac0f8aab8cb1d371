"""Bayesian personalized ranking (Rendle et al. 2009) by stratified, reproducible SGD.

Blocks as in :mod:`latentfactors.kernels.sgd`: in stratum ``s`` the block of user group
``b`` and item group ``g = (b + s) % B`` owns those users and items. Each positive
``(u, i)`` of the block is paired with a negative ``j`` drawn from item group ``g`` (so
``j``'s row is owned too): uniformly from the group's stretch of ``group_items``, which
holds each item once (uniform negatives) or as often as its chance to be drawn asks
(``BPR(popular_negatives=...)``), rejecting items the user interacted with. Over the
``B`` strata of an epoch every item group serves as negatives, and the result does not
depend on the thread count.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import prange

from ._reduce import ordered_sum
from ._rng import block_key, random_below

__all__ = ["bpr_epoch", "bpr_fold_in", "has_item"]


@numba.njit(cache=True, inline="always")
def has_item(indptr, indices, u, j):
    """Binary search for ``j`` in user ``u``'s sorted CSR row."""
    lo = indptr[u]
    hi = indptr[u + 1]
    while lo < hi:
        mid = (lo + hi) // 2
        v = indices[mid]
        if v == j:
            return True
        if v < j:
            lo = mid + 1
        else:
            hi = mid
    return False


@numba.njit(parallel=True, cache=True, fastmath=True, nogil=True)
def bpr_epoch(
    block_ptr, users, items, P, Q, bi, group_ptr, group_items, seen_ptr, seen_idx,
    lr, reg_u, reg_i, reg_b, n_blocks, seed, epoch, max_tries,
):  # fmt: skip
    """One BPR epoch over every positive; returns (sum of -log sigmoid(x_uij), pairs, correct)."""
    k = P.shape[1]
    n_blk = n_blocks * n_blocks
    block_loss = np.zeros(n_blk)
    block_pairs = np.zeros(n_blk, dtype=np.int64)
    block_right = np.zeros(n_blk, dtype=np.int64)
    useed = np.uint64(seed) ^ np.uint64(0x5BD1E995)
    for s in range(n_blocks):
        for b in prange(n_blocks):
            g = (b + s) % n_blocks
            blk = b * n_blocks + g
            g_start = group_ptr[g]
            g_size = group_ptr[g + 1] - g_start
            if g_size == 0:
                continue
            key = block_key(useed, epoch, blk, n_blk)
            draw = 0
            loss = 0.0
            pairs = 0
            right = 0
            for t in range(block_ptr[blk], block_ptr[blk + 1]):
                u = users[t]
                i = items[t]
                j = -1
                for _ in range(max_tries):
                    cand = group_items[g_start + random_below(key, draw, g_size)]
                    draw += 1
                    if not has_item(seen_ptr, seen_idx, u, cand):
                        j = cand
                        break
                if j < 0:
                    continue
                x = bi[i] - bi[j]
                for f in range(k):
                    x += P[u, f] * (Q[i, f] - Q[j, f])
                if x > 0:
                    right += 1
                    z = np.exp(-x)
                    loss += np.log1p(z)
                    z = z / (1.0 + z)
                else:
                    loss += -x + np.log1p(np.exp(x))
                    z = 1.0 / (1.0 + np.exp(x))
                pairs += 1
                zf = np.float32(z)
                bi[i] += lr * (zf - reg_b * bi[i])
                bi[j] += lr * (-zf - reg_b * bi[j])
                for f in range(k):
                    pu = P[u, f]
                    qi = Q[i, f]
                    qj = Q[j, f]
                    P[u, f] = pu + lr * (zf * (qi - qj) - reg_u * pu)
                    Q[i, f] = qi + lr * (zf * pu - reg_i * qi)
                    Q[j, f] = qj + lr * (-zf * pu - reg_i * qj)
            block_loss[blk] = loss
            block_pairs[blk] = pairs
            block_right[blk] = right
    return ordered_sum(block_loss), block_pairs.sum(), block_right.sum()


@numba.njit(parallel=True, cache=True, fastmath=True, nogil=True)
def bpr_fold_in(indptr, indices, Q, bi, neg_items, lr, reg, n_epochs, seed, max_tries):
    """User vectors for CSR rows by BPR SGD with the item factors and biases fixed.

    Each row starts at zero and takes ``n_epochs`` passes over its positives, each with
    a negative drawn uniformly from ``neg_items`` (the catalogue, each item as often as
    its chance to be drawn asks; ``arange`` for uniform negatives), rejecting the row's
    items. Rows are independent and each has its own stream, so results are
    reproducible.
    """
    n, k = indptr.shape[0] - 1, Q.shape[1]
    n_items = Q.shape[0]
    n_table = neg_items.shape[0]
    X = np.zeros((n, k), dtype=np.float32)
    useed = np.uint64(seed) ^ np.uint64(0x2545F491)
    for u in prange(n):
        start, end = indptr[u], indptr[u + 1]
        if end == start or end - start >= n_items:
            continue
        key = block_key(useed, 0, u, n)
        draw = 0
        x = X[u]
        for _ in range(n_epochs):
            for t in range(start, end):
                i = indices[t]
                j = -1
                for _try in range(max_tries):
                    cand = neg_items[random_below(key, draw, n_table)]
                    draw += 1
                    if not has_item(indptr, indices, u, cand):
                        j = cand
                        break
                if j < 0:
                    continue
                s = bi[i] - bi[j]
                for f in range(k):
                    s += x[f] * (Q[i, f] - Q[j, f])
                z = np.float32(1.0 / (1.0 + np.exp(s)))
                for f in range(k):
                    x[f] += lr * (z * (Q[i, f] - Q[j, f]) - reg * x[f])
    return X
