"""Ridge regression per row: the explicit ALS half-step, and fold-in of new users."""

from __future__ import annotations

import numba
import numpy as np
from numba import prange

__all__ = ["residual_sse", "ridge_rows"]


@numba.njit(parallel=True, cache=True, nogil=True)
def ridge_rows(indptr, indices, targets, Q, lam_f, lam_b, fit_bias):
    """Solve ``min_{x, b} sum_i (t_ui - b - x . q_i)^2 + lam_f[u] |x|^2 + lam_b[u] b^2``
    for every CSR row ``u`` (observed items ``indices``, targets ``targets``).

    With ``fit_bias=False`` the bias is fixed at 0. The ``(k + 1) x (k + 1)`` normal
    equations are formed with one matrix product per row (BLAS) and solved in float64;
    returns ``X`` (float32) and ``b`` (float32). Rows without observations get zeros.
    """
    n = indptr.shape[0] - 1
    k = Q.shape[1]
    d = k + 1 if fit_bias else k
    X = np.zeros((n, k), dtype=np.float32)
    B = np.zeros(n, dtype=np.float32)
    for u in prange(n):
        start, end = indptr[u], indptr[u + 1]
        m = end - start
        if m == 0 or d == 0:
            continue
        Z = np.empty((m, d))
        t = np.empty(m)
        for r in range(m):
            i = indices[start + r]
            for f in range(k):
                Z[r, f] = Q[i, f]
            if fit_bias:
                Z[r, k] = 1.0
            t[r] = targets[start + r]
        A = Z.T @ Z
        rhs = Z.T @ t
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


@numba.njit(parallel=True, cache=True, fastmath=True, nogil=True)
def residual_sse(indptr, indices, data, P, Q, bu, bi, mu):
    """Sum over CSR rows of ``(r - mu - b_u - b_i - p_u . q_i)^2`` (float64)."""
    n = indptr.shape[0] - 1
    k = P.shape[1]
    parts = np.zeros(n)
    for u in prange(n):
        acc = 0.0
        for t in range(indptr[u], indptr[u + 1]):
            i = indices[t]
            dot = np.float32(0.0)
            for f in range(k):
                dot += P[u, f] * Q[i, f]
            e = np.float64(data[t]) - mu - bu[u] - bi[i] - dot
            acc += e * e
        parts[u] = acc
    return parts.sum()
