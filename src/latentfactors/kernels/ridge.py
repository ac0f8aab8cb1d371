"""Ridge regression per row: the explicit ALS half-step, and fold-in of new users."""

from __future__ import annotations

import numba
import numpy as np
from numba import prange

__all__ = ["residual_sse", "ridge_cg_rows", "ridge_rows"]


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


@numba.njit(parallel=True, cache=True, nogil=True)
def ridge_cg_rows(indptr, indices, targets, Q, X, B, lam_f, lam_b, fit_bias, cg_steps):
    """A few conjugate-gradient steps on the system :func:`ridge_rows` solves exactly,
    for every CSR row, warm-started at (and updating in place) ``X[u]`` and ``B[u]``.

    The matrix ``Z^T Z + diag(lam)`` (``Z`` = the row's item factors, plus a column of
    ones for the bias) is never formed: each step costs one pass over the row's items,
    ``O(n_u k)``, against ``O(n_u k^2 + k^3)`` for the exact solve. Arithmetic is float64.
    """
    n = indptr.shape[0] - 1
    k = Q.shape[1]
    d = k + 1 if fit_bias else k
    for u in prange(n):
        start, end = indptr[u], indptr[u + 1]
        if end == start or d == 0:
            continue
        w = np.empty(d)
        for f in range(k):
            w[f] = X[u, f]
        if fit_bias:
            w[k] = B[u]
        # r = Z^T t - (Z^T Z + L) w
        r = np.zeros(d)
        for t in range(start, end):
            i = indices[t]
            zw = w[k] if fit_bias else 0.0
            for f in range(k):
                zw += Q[i, f] * w[f]
            e = targets[t] - zw
            for f in range(k):
                r[f] += e * Q[i, f]
            if fit_bias:
                r[k] += e
        for f in range(k):
            r[f] -= lam_f[u] * w[f]
        if fit_bias:
            r[k] -= lam_b[u] * w[k]
        p = r.copy()
        rs_old = 0.0
        for f in range(d):
            rs_old += r[f] * r[f]
        ap = np.empty(d)
        for _ in range(cg_steps):
            if rs_old < 1e-30:
                break
            for f in range(d):
                ap[f] = 0.0
            for t in range(start, end):
                i = indices[t]
                zp = p[k] if fit_bias else 0.0
                for f in range(k):
                    zp += Q[i, f] * p[f]
                for f in range(k):
                    ap[f] += zp * Q[i, f]
                if fit_bias:
                    ap[k] += zp
            for f in range(k):
                ap[f] += lam_f[u] * p[f]
            if fit_bias:
                ap[k] += lam_b[u] * p[k]
            pap = 0.0
            for f in range(d):
                pap += p[f] * ap[f]
            if pap <= 0.0:
                break
            alpha = rs_old / pap
            rs_new = 0.0
            for f in range(d):
                w[f] += alpha * p[f]
                r[f] -= alpha * ap[f]
                rs_new += r[f] * r[f]
            beta = rs_new / rs_old
            for f in range(d):
                p[f] = r[f] + beta * p[f]
            rs_old = rs_new
        for f in range(k):
            X[u, f] = w[f]
        if fit_bias:
            B[u] = w[k]
