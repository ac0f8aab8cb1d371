"""Ridge regression per row: the explicit ALS half-step, and fold-in of new users."""

from __future__ import annotations

import numba
import numpy as np
from numba import prange

from ._reduce import ordered_sum
from ._tasks import row_tasks

__all__ = ["residual_sse", "ridge_cg_rows", "ridge_cg_rows_offset", "ridge_rows"]


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
    return ordered_sum(parts)


@numba.njit(cache=True, nogil=True)
def ridge_cg_rows(indptr, indices, targets, Q, X, B, lam_f, lam_b, fit_bias, cg_steps):
    """A few conjugate-gradient steps on the system :func:`ridge_rows` solves exactly,
    for every CSR row, warm-started at (and updating in place) ``X[u]`` and ``B[u]``.

    The matrix ``Z^T Z + diag(lam)`` (``Z`` = the row's item factors, plus a column of
    ones for the bias) is never formed: each step costs one pass over the row's items,
    ``O(n_u k)``, against ``O(n_u k^2 + k^3)`` for the exact solve. See
    :func:`ridge_cg_rows_offset`, which this calls with no offset.
    """
    no_offset = np.zeros(1, dtype=np.float32)
    return ridge_cg_rows_offset(indptr, indices, targets, no_offset, False, Q, X, B, lam_f,
                                lam_b, fit_bias, cg_steps)  # fmt: skip


@numba.njit(parallel=True, cache=True, fastmath=True, nogil=True)
def ridge_cg_rows_offset(
    indptr, indices, targets, offset, use_offset, Q, X, B, lam_f, lam_b, fit_bias, cg_steps
):
    """:func:`ridge_cg_rows` with the target of entry ``t`` taken as
    ``targets[t] - offset[indices[t]]`` when ``use_offset`` (the other side's biases), so
    that the caller need not form the de-biased targets every half-step.

    Arithmetic is float32 with fastmath (the passes over a row's items vectorize; each
    row's reductions run in a fixed order, so results do not depend on the thread
    count); the bias coordinate is kept apart from the factor loops so that they run
    over exactly ``k`` contiguous floats.

    Returns the sum of squared errors ``(target - b - x . q)^2`` at the starting point
    (float64): the first pass of each row computes those errors anyway, so a trainer
    gets its training loss without another pass over the ratings.
    """
    n = indptr.shape[0] - 1
    k = Q.shape[1]
    bounds = row_tasks(indptr)  # equal shares of ratings plus rows
    parts = np.zeros(n)
    for c in prange(bounds.shape[0] - 1):
        # scratch vectors once per chunk of rows, not per row
        # scratch tied to the task (k + 0 * c) so numba cannot hoist it out of the
        # parallel loop and share it between threads
        scratch = np.empty((4, k + 0 * c), dtype=np.float32)
        w, r, p, ap = scratch[0], scratch[1], scratch[2], scratch[3]
        for u in range(bounds[c], bounds[c + 1]):
            parts[u] = _cg_row(indptr, indices, targets, offset, use_offset, Q, X, B, lam_f,
                               lam_b, fit_bias, cg_steps, u, w, r, p, ap)  # fmt: skip
    return ordered_sum(parts)


@numba.njit(inline="always", fastmath=True, nogil=True)
def _cg_row(indptr, indices, targets, offset, use_offset, Q, X, B, lam_f, lam_b, fit_bias,
            cg_steps, u, w, r, p, ap):  # fmt: skip
    """One row of :func:`ridge_cg_rows_offset`, in the scratch vectors ``w, r, p, ap``;
    returns the row's squared error at the starting point."""
    k = Q.shape[1]
    zero = np.float32(0.0)
    start, end = indptr[u], indptr[u + 1]
    sse = 0.0
    if end > start:
        for f in range(k):
            w[f] = X[u, f]
            r[f] = zero
        lf = np.float32(lam_f[u])
        lb = np.float32(lam_b[u])
        wb = np.float32(B[u]) if fit_bias else zero
        # r = Z^T t - (Z^T Z + L) w
        rb = zero
        t = start
        while t + 1 < end:  # two at a time (the CG steps below take four)
            i1 = indices[t]
            i2 = indices[t + 1]
            z1 = wb
            z2 = wb
            for f in range(k):
                z1 += Q[i1, f] * w[f]
                z2 += Q[i2, f] * w[f]
            t1 = np.float32(targets[t])
            t2 = np.float32(targets[t + 1])
            if use_offset:
                t1 -= offset[i1]
                t2 -= offset[i2]
            e1 = t1 - z1
            e2 = t2 - z2
            sse += np.float64(e1) * e1 + np.float64(e2) * e2
            for f in range(k):
                r[f] += e1 * Q[i1, f] + e2 * Q[i2, f]
            rb += e1 + e2
            t += 2
        if t < end:
            i = indices[t]
            zw = wb
            for f in range(k):
                zw += Q[i, f] * w[f]
            tt = np.float32(targets[t])
            if use_offset:
                tt -= offset[i]
            e = tt - zw
            sse += np.float64(e) * e
            for f in range(k):
                r[f] += e * Q[i, f]
            rb += e
        rs_old = 0.0  # the scalars of CG in float64
        for f in range(k):
            r[f] -= lf * w[f]
            p[f] = r[f]
            rs_old += np.float64(r[f]) * r[f]
        rb = rb - lb * wb if fit_bias else zero
        pb = rb
        rs_old += np.float64(rb) * rb
        for _ in range(cg_steps):
            if rs_old < 1e-30:
                break
            for f in range(k):
                ap[f] = lf * p[f]
            apb = lb * pb
            # four ratings at a time (then two, then one): independent dot products and
            # one pass over ap (a single rating's dot -> axpy chain is latency-bound)
            t = start
            while t + 3 < end:
                i1 = indices[t]
                i2 = indices[t + 1]
                i3 = indices[t + 2]
                i4 = indices[t + 3]
                z1 = pb
                z2 = pb
                z3 = pb
                z4 = pb
                for f in range(k):
                    z1 += Q[i1, f] * p[f]
                    z2 += Q[i2, f] * p[f]
                    z3 += Q[i3, f] * p[f]
                    z4 += Q[i4, f] * p[f]
                for f in range(k):
                    ap[f] += (z1 * Q[i1, f] + z2 * Q[i2, f]) + (z3 * Q[i3, f] + z4 * Q[i4, f])
                apb += (z1 + z2) + (z3 + z4)
                t += 4
            while t + 1 < end:
                i1 = indices[t]
                i2 = indices[t + 1]
                z1 = pb
                z2 = pb
                for f in range(k):
                    z1 += Q[i1, f] * p[f]
                    z2 += Q[i2, f] * p[f]
                for f in range(k):
                    ap[f] += z1 * Q[i1, f] + z2 * Q[i2, f]
                apb += z1 + z2
                t += 2
            if t < end:
                i = indices[t]
                zp = pb
                for f in range(k):
                    zp += Q[i, f] * p[f]
                for f in range(k):
                    ap[f] += zp * Q[i, f]
                apb += zp
            if not fit_bias:
                apb = zero
            pap = np.float64(pb) * apb
            for f in range(k):
                pap += np.float64(p[f]) * ap[f]
            if pap <= 0.0:
                break
            alpha = np.float32(rs_old / pap)
            rs_new = 0.0
            for f in range(k):
                w[f] += alpha * p[f]
                r[f] -= alpha * ap[f]
                rs_new += np.float64(r[f]) * r[f]
            wb += alpha * pb
            rb -= alpha * apb
            rs_new += np.float64(rb) * rb
            beta = np.float32(rs_new / rs_old)
            for f in range(k):
                p[f] = r[f] + beta * p[f]
            pb = rb + beta * pb
            rs_old = rs_new
        for f in range(k):
            X[u, f] = w[f]
        if fit_bias:
            B[u] = wb
    return sse
