"""Implicit-feedback ALS kernels (Hu, Koren and Volinsky 2008).

One call updates every row of ``X`` against fixed ``Y``: for row ``u`` with observed
columns ``i`` and confidences ``c_ui`` (preference 1 there, 0 elsewhere) the exact
solution is

    x_u = (Y^T Y + reg I + sum_i (c_ui - 1) y_i y_i^T)^-1  sum_i c_ui y_i.

``YtY`` passed in already holds ``Y^T Y + reg I``. Rows are independent, so the result
does not depend on the number of threads.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import prange

__all__ = [
    "ials_cg_step",
    "ials_cg_step_rows",
    "ials_cholesky_step",
    "ials_cholesky_step_rows",
    "ials_loss",
    "ials_solve_rows",
    "ials_solve_rows_reg",
]


@numba.njit(parallel=True, cache=True, fastmath=True, nogil=True)
def ials_cg_step(indptr, indices, conf, X, Y, YtY, cg_steps):
    """Conjugate-gradient update of every row of ``X`` (warm-started at its current value)."""
    k = X.shape[1]
    one = np.float32(1.0)  # keep the inner loops in float32 (a float64 literal widens them)
    for u in prange(X.shape[0]):
        x = X[u].copy()
        # r = b - A x
        r = -(YtY @ x)
        for t in range(indptr[u], indptr[u + 1]):
            i = indices[t]
            c = conf[t]
            yx = np.float32(0.0)
            for f in range(k):
                yx += Y[i, f] * x[f]
            w = c - (c - one) * yx
            for f in range(k):
                r[f] += w * Y[i, f]
        p = r.copy()
        rs_old = np.float32(0.0)
        for f in range(k):
            rs_old += r[f] * r[f]
        for _ in range(cg_steps):
            if rs_old < 1e-20:
                break
            Ap = YtY @ p
            for t in range(indptr[u], indptr[u + 1]):
                i = indices[t]
                c = conf[t]
                yp = np.float32(0.0)
                for f in range(k):
                    yp += Y[i, f] * p[f]
                w = (c - one) * yp
                for f in range(k):
                    Ap[f] += w * Y[i, f]
            pAp = np.float32(0.0)
            for f in range(k):
                pAp += p[f] * Ap[f]
            if pAp <= 0:
                break
            alpha = rs_old / pAp
            rs_new = np.float32(0.0)
            for f in range(k):
                x[f] += alpha * p[f]
                r[f] -= alpha * Ap[f]
                rs_new += r[f] * r[f]
            beta = rs_new / rs_old
            for f in range(k):
                p[f] = r[f] + beta * p[f]
            rs_old = rs_new
        X[u] = x


@numba.njit(cache=True, nogil=True)
def _exact_row(indptr, indices, conf, Y, YtY64, u, out):
    k = Y.shape[1]
    start, end = indptr[u], indptr[u + 1]
    m = end - start
    # A = YtY + sum (c - 1) y y^T = YtY + W^T W with rows w = sqrt(c - 1) y
    W = np.empty((m, k))
    b = np.zeros(k)
    for r in range(m):
        i = indices[start + r]
        c = np.float64(conf[start + r])
        s = np.sqrt(max(c - 1.0, 0.0))
        for f in range(k):
            yf = np.float64(Y[i, f])
            W[r, f] = s * yf
            b[f] += c * yf
    A = YtY64 + W.T @ W
    x = np.linalg.solve(A, b)
    for f in range(k):
        out[f] = x[f]


@numba.njit(parallel=True, cache=True, fastmath=True, nogil=True)
def ials_cholesky_step(indptr, indices, conf, X, Y, YtY):
    """Exact update of every row of ``X`` (solves the k x k normal equations in float64)."""
    YtY64 = YtY.astype(np.float64)
    for u in prange(X.shape[0]):
        _exact_row(indptr, indices, conf, Y, YtY64, u, X[u])


@numba.njit(parallel=True, cache=True, fastmath=True, nogil=True)
def ials_solve_rows(indptr, indices, conf, Y, YtY):
    """Exact rows for a CSR of new users (fold-in); returns a new float32 array."""
    n = indptr.shape[0] - 1
    out = np.zeros((n, Y.shape[1]), dtype=np.float32)
    YtY64 = YtY.astype(np.float64)
    for u in prange(n):
        _exact_row(indptr, indices, conf, Y, YtY64, u, out[u])
    return out


@numba.njit(parallel=True, cache=True, fastmath=True, nogil=True)
def ials_loss(indptr, indices, conf, X, Y, reg):
    """Training objective divided by the number of observed entries.

    ``sum_{u,i} c_ui (p_ui - x_u . y_i)^2 + reg (|X|^2 + |Y|^2)`` over *all* cells,
    computed as ``sum_u x_u^T (Y^T Y) x_u`` plus corrections on the observed cells.
    """
    k = X.shape[1]
    YtY = Y.T.astype(np.float64) @ Y.astype(np.float64)
    n = X.shape[0]
    parts = np.zeros(n)
    for u in prange(n):
        x = X[u].astype(np.float64)
        total = x @ (YtY @ x)
        for t in range(indptr[u], indptr[u + 1]):
            i = indices[t]
            c = np.float64(conf[t])
            s = 0.0
            for f in range(k):
                s += x[f] * Y[i, f]
            total += c * (1.0 - s) ** 2 - s * s
        parts[u] = total + reg * (x @ x)
    ynorm = 0.0
    for i in range(Y.shape[0]):
        for f in range(k):
            ynorm += np.float64(Y[i, f]) ** 2
    return (parts.sum() + reg * ynorm) / max(indices.shape[0], 1)


# ---------------------------------------------------------------------- per-row penalties
# Frequency-scaled regularization (Rendle et al. 2021): row u's penalty is reg_rows[u],
# so the system of row u is YtY + reg_rows[u] I with ``YtY`` = Y^T Y (no penalty in it).


@numba.njit(parallel=True, cache=True, fastmath=True, nogil=True)
def ials_cg_step_rows(indptr, indices, conf, X, Y, YtY, reg_rows, cg_steps):
    """:func:`ials_cg_step` with a penalty per row: ``YtY`` holds ``Y^T Y`` only."""
    k = X.shape[1]
    one = np.float32(1.0)
    for u in prange(X.shape[0]):
        lam = reg_rows[u]
        x = X[u].copy()
        r = -(YtY @ x)
        for f in range(k):
            r[f] -= lam * x[f]
        for t in range(indptr[u], indptr[u + 1]):
            i = indices[t]
            c = conf[t]
            yx = np.float32(0.0)
            for f in range(k):
                yx += Y[i, f] * x[f]
            w = c - (c - one) * yx
            for f in range(k):
                r[f] += w * Y[i, f]
        p = r.copy()
        rs_old = np.float32(0.0)
        for f in range(k):
            rs_old += r[f] * r[f]
        for _ in range(cg_steps):
            if rs_old < 1e-20:
                break
            Ap = YtY @ p
            for f in range(k):
                Ap[f] += lam * p[f]
            for t in range(indptr[u], indptr[u + 1]):
                i = indices[t]
                c = conf[t]
                yp = np.float32(0.0)
                for f in range(k):
                    yp += Y[i, f] * p[f]
                w = (c - one) * yp
                for f in range(k):
                    Ap[f] += w * Y[i, f]
            pAp = np.float32(0.0)
            for f in range(k):
                pAp += p[f] * Ap[f]
            if pAp <= 0:
                break
            alpha = rs_old / pAp
            rs_new = np.float32(0.0)
            for f in range(k):
                x[f] += alpha * p[f]
                r[f] -= alpha * Ap[f]
                rs_new += r[f] * r[f]
            beta = rs_new / rs_old
            for f in range(k):
                p[f] = r[f] + beta * p[f]
            rs_old = rs_new
        X[u] = x


@numba.njit(cache=True, nogil=True)
def _exact_row_reg(indptr, indices, conf, Y, YtY64, lam, u, out):
    A = YtY64.copy()
    for f in range(A.shape[0]):
        A[f, f] += lam
    _exact_row(indptr, indices, conf, Y, A, u, out)


@numba.njit(parallel=True, cache=True, fastmath=True, nogil=True)
def ials_cholesky_step_rows(indptr, indices, conf, X, Y, YtY, reg_rows):
    """:func:`ials_cholesky_step` with a penalty per row: ``YtY`` holds ``Y^T Y`` only."""
    YtY64 = YtY.astype(np.float64)
    for u in prange(X.shape[0]):
        _exact_row_reg(indptr, indices, conf, Y, YtY64, np.float64(reg_rows[u]), u, X[u])


@numba.njit(parallel=True, cache=True, fastmath=True, nogil=True)
def ials_solve_rows_reg(indptr, indices, conf, Y, YtY, reg_rows):
    """:func:`ials_solve_rows` (fold-in) with a penalty per row; ``YtY`` is ``Y^T Y``."""
    n = indptr.shape[0] - 1
    out = np.zeros((n, Y.shape[1]), dtype=np.float32)
    YtY64 = YtY.astype(np.float64)
    for u in prange(n):
        _exact_row_reg(indptr, indices, conf, Y, YtY64, np.float64(reg_rows[u]), u, out[u])
    return out
