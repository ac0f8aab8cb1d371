"""Closed-form rows for new users (fold-in): one ridge regression per row."""

from __future__ import annotations

import numba
import numpy as np
from numba import prange

__all__ = ["ridge_rows"]


@numba.njit(parallel=True, cache=True, nogil=True)
def ridge_rows(indptr, indices, targets, Q, lam_f, lam_b, fit_bias):
    """Solve ``min_{x, b} sum_i (t_ui - b - x . q_i)^2 + lam_f[u] |x|^2 + lam_b[u] b^2``
    for every CSR row ``u`` (observed items ``indices``, targets ``targets``).

    With ``fit_bias=False`` the bias is fixed at 0. Solved in float64 on the
    ``(k + 1) x (k + 1)`` normal equations; returns ``X`` (float32) and ``b`` (float32).
    Rows without observations get zeros.
    """
    n = indptr.shape[0] - 1
    k = Q.shape[1]
    d = k + 1 if fit_bias else k
    X = np.zeros((n, k), dtype=np.float32)
    B = np.zeros(n, dtype=np.float32)
    for u in prange(n):
        start, end = indptr[u], indptr[u + 1]
        if end == start or d == 0:
            continue
        A = np.zeros((d, d))
        rhs = np.zeros(d)
        z = np.empty(d)
        for t in range(start, end):
            i = indices[t]
            for f in range(k):
                z[f] = Q[i, f]
            if fit_bias:
                z[k] = 1.0
            tv = np.float64(targets[t])
            for f in range(d):
                rhs[f] += z[f] * tv
                for g in range(d):
                    A[f, g] += z[f] * z[g]
        for f in range(k):
            A[f, f] += lam_f[u]
        if fit_bias:
            A[k, k] += lam_b[u]
        x = np.linalg.solve(A, rhs)
        for f in range(k):
            X[u, f] = x[f]
        if fit_bias:
            B[u] = x[k]
    return X, B
