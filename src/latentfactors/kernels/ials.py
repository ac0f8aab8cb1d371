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

from ._reduce import ordered_sum
from ._tasks import row_tasks

__all__ = [
    "confidence_into",
    "ials_block_step",
    "ials_block_step_rows",
    "ials_cg_step",
    "ials_cg_step_rows",
    "ials_cholesky_step",
    "ials_cholesky_step_rows",
    "ials_gram64",
    "ials_loss",
    "ials_loss_rows",
    "ials_loss_total",
    "ials_solve_rows",
    "ials_solve_rows_reg",
    "ials_update",
    "locate_entries",
]


def ials_update(indptr, indices, conf, X, Y, YtY, lam, solver, cg_steps, block_size, n_free=-1):
    """Update every row of ``X`` in place by ``solver`` ("cg", "block" or "cholesky");
    ``lam`` holds per-row penalties (``YtY`` is then ``Y^T Y``) or is None (``YtY`` holds
    ``Y^T Y + reg I``). The one dispatch of the single-machine and Dask trainers.

    ``n_free``: only the first ``n_free`` coordinates of each row move, the rest are
    held at their values (-1: all move). With a last column of ones in ``X`` and the
    item biases as the last column of ``Y`` this solves the biased model's user side
    (``x . y_i + b_i``), see ``ImplicitALS(item_bias=True)``."""
    n_free = X.shape[1] if n_free < 0 else int(n_free)
    if solver == "cg":
        if lam is None:
            ials_cg_step(indptr, indices, conf, X, Y, YtY, cg_steps, n_free)
        else:
            ials_cg_step_rows(indptr, indices, conf, X, Y, YtY, lam, cg_steps, n_free)
    elif solver == "block":
        if lam is None:
            ials_block_step(indptr, indices, conf, X, Y, YtY, block_size, n_free)
        else:
            ials_block_step_rows(indptr, indices, conf, X, Y, YtY, lam, block_size, n_free)
    elif lam is None:
        ials_cholesky_step(indptr, indices, conf, X, Y, YtY, n_free)
    else:
        ials_cholesky_step_rows(indptr, indices, conf, X, Y, YtY, lam, n_free)


#: The CG and block (iALS++) kernels run their rows in tasks of about 64 rows, cut to hold
#: equal shares of work, a row's Gram product counted as k / 2 entries
#: (:func:`~latentfactors.kernels._tasks.row_tasks`): with one row per task under
#: the static schedule, the popular items at the front of a catalogue gave one thread most
#: of an item step. The CG kernel ties one scratch block to each task, so that numba
#: cannot hoist it out of the parallel loop and share it between threads (that once made
#: results depend on the thread count); the block kernel's scratch belongs to each row.
#: Cut this way, the block solver fit ML-100K at k=128 in 271-281 ms instead of 294-308
#: and Last.fm in 1121-1130 ms instead of 1160-1167 (five epochs, two threads, best of 5,
#: ad hoc, old and new code in alternating processes)


@numba.njit(cache=True, fastmath=True, nogil=True)
def ials_cg_step(indptr, indices, conf, X, Y, YtY, cg_steps, n_free=-1):
    """Conjugate-gradient update of every row of ``X`` (warm-started at its current value);
    with ``n_free >= 0`` only the first ``n_free`` coordinates move (CG on that subspace)."""
    _cg_rows(indptr, indices, conf, X, Y, YtY, np.zeros(1, dtype=np.float32), False, cg_steps,
             n_free)  # fmt: skip


@numba.njit(parallel=True, cache=True, fastmath=True, nogil=True)
def _cg_rows(indptr, indices, conf, X, Y, YtY, reg_rows, per_row, cg_steps, n_free):
    k = X.shape[1]
    nf = k if n_free < 0 or n_free > k else n_free
    bounds = row_tasks(indptr, k // 2)
    for c in prange(bounds.shape[0] - 1):
        # one scratch block per task, its size tied to the task so numba's parfor pass
        # cannot hoist it out of the parallel loop and share it (that made results depend
        # on the thread count); every row starts from its own X[u], so results do not
        # depend on which rows share a task
        scratch = np.empty((4, k + 0 * c), dtype=np.float32)
        x, r, p, ap = scratch[0], scratch[1], scratch[2], scratch[3]
        for u in range(bounds[c], bounds[c + 1]):
            lam = np.float32(reg_rows[u]) if per_row else np.float32(0.0)
            _cg_row(indptr[u], indptr[u + 1], indices, conf, X, Y, YtY, lam, cg_steps, u, x,
                    r, p, ap, nf)  # fmt: skip


@numba.njit(inline="always", fastmath=True, nogil=True)
def _matvec(A, v, lam, out):
    """``out = A @ v + lam * v`` for a small square float32 ``A``, as ``k`` independent
    dot products of ``A``'s contiguous rows (no BLAS call per row)."""
    k = v.shape[0]
    for f in range(k):
        acc = lam * v[f]
        for g in range(k):
            acc += A[f, g] * v[g]
        out[f] = acc


@numba.njit(inline="always", fastmath=True, nogil=True)
def _weighted_sum(start, end, indices, conf, Y, v, out, init):
    """``out += sum_t w_t y_i`` over a row's entries, with ``w = c - (c - 1) y_i . v`` when
    ``init`` (the residual ``b - A v``'s data part) else ``w = (c - 1) y_i . v`` (the
    product ``A v``'s). Four entries at a time: four independent dot products, one pass
    over ``out`` (one entry's dot -> axpy chain is latency-bound)."""
    k = v.shape[0]
    one = np.float32(1.0)
    zero = np.float32(0.0)
    t = start
    while t + 3 < end:
        i1 = indices[t]
        i2 = indices[t + 1]
        i3 = indices[t + 2]
        i4 = indices[t + 3]
        d1 = np.float32(0.0)
        d2 = np.float32(0.0)
        d3 = np.float32(0.0)
        d4 = np.float32(0.0)
        for f in range(k):
            vf = v[f]
            d1 += Y[i1, f] * vf
            d2 += Y[i2, f] * vf
            d3 += Y[i3, f] * vf
            d4 += Y[i4, f] * vf
        c1, c2, c3, c4 = conf[t], conf[t + 1], conf[t + 2], conf[t + 3]
        w1 = (c1 - one) * d1
        w2 = (c2 - one) * d2
        w3 = (c3 - one) * d3
        w4 = (c4 - one) * d4
        if init:
            w1 = c1 - w1
            w2 = c2 - w2
            w3 = c3 - w3
            w4 = c4 - w4
        # a negative confidence marks a cell taken out of the data (the reg search's
        # held-out cells): it then counts as unobserved, so its weight is 0 here
        w1 = w1 if c1 >= zero else zero
        w2 = w2 if c2 >= zero else zero
        w3 = w3 if c3 >= zero else zero
        w4 = w4 if c4 >= zero else zero
        for f in range(k):
            out[f] += (w1 * Y[i1, f] + w2 * Y[i2, f]) + (w3 * Y[i3, f] + w4 * Y[i4, f])
        t += 4
    while t < end:
        i = indices[t]
        d = np.float32(0.0)
        for f in range(k):
            d += Y[i, f] * v[f]
        c = conf[t]
        w = (c - one) * d
        if init:
            w = c - w
        w = w if c >= zero else zero
        for f in range(k):
            out[f] += w * Y[i, f]
        t += 1


@numba.njit(fastmath=True, nogil=True)
def _cg_row(start, end, indices, conf, X, Y, YtY, lam, cg_steps, u, x, r, p, ap, nf):
    """``cg_steps`` CG steps on row ``u``'s system ``(YtY + lam I + sum (c-1) y y^T) x =
    sum c y``, warm-started at ``X[u]`` and written back there. Coordinates from ``nf``
    on are held fixed: the residual and ``A p`` are cut to the first ``nf`` (CG on the
    free block's system, whose right side the fixed part shifts)."""
    k = x.shape[0]
    for f in range(k):
        x[f] = X[u, f]
    # r = b - A x
    _matvec(YtY, x, lam, r)
    for f in range(k):
        r[f] = -r[f]
    _weighted_sum(start, end, indices, conf, Y, x, r, True)
    for f in range(nf, k):
        r[f] = np.float32(0.0)
    rs_old = np.float32(0.0)
    for f in range(k):
        p[f] = r[f]
        rs_old += r[f] * r[f]
    for _ in range(cg_steps):
        if rs_old < 1e-20:
            break
        _matvec(YtY, p, lam, ap)
        _weighted_sum(start, end, indices, conf, Y, p, ap, False)
        for f in range(nf, k):
            ap[f] = np.float32(0.0)
        pap = np.float32(0.0)
        for f in range(k):
            pap += p[f] * ap[f]
        if pap <= 0:
            break
        alpha = rs_old / pap
        rs_new = np.float32(0.0)
        for f in range(k):
            x[f] += alpha * p[f]
            r[f] -= alpha * ap[f]
            rs_new += r[f] * r[f]
        beta = rs_new / rs_old
        for f in range(k):
            p[f] = r[f] + beta * p[f]
        rs_old = rs_new
    for f in range(k):
        X[u, f] = x[f]


# --------------------------------------------------------------- subspace (iALS++) solves
# Rendle, Krichene, Zhang and Koren (2021), "iALS++: Speeding up Matrix Factorization
# with Subspace Optimization": a row's k coordinates are updated a block of ``b`` at a
# time, each block exactly with the others fixed (one pass of block coordinate descent
# per call). A block's system is
#     (YtY[B, B] + lam I + sum (c - 1) y_B y_B^T) d = sum (c - (c - 1) s) y_B - (YtY x + lam x)[B]
# with ``s = x . y`` of each observed entry kept up to date as blocks move, so a block
# costs ``n_u b^2`` to form instead of the full solve's ``n_u k^2``; ``b = k`` is the
# exact solve (one Newton step on a quadratic).


@numba.njit(cache=True, fastmath=True, nogil=True)
def ials_block_step(indptr, indices, conf, X, Y, YtY, block, n_free=-1):
    """One subspace-descent pass over every row of ``X``, ``block`` coordinates at a time
    (over the first ``n_free`` only, the rest held, with ``n_free >= 0``)."""
    _block_rows(indptr, indices, conf, X, Y, YtY, np.zeros(1, dtype=np.float32), False, block,
                n_free)  # fmt: skip


@numba.njit(cache=True, fastmath=True, nogil=True)
def ials_block_step_rows(indptr, indices, conf, X, Y, YtY, reg_rows, block, n_free=-1):
    """:func:`ials_block_step` with a penalty per row: ``YtY`` holds ``Y^T Y`` only."""
    _block_rows(indptr, indices, conf, X, Y, YtY, reg_rows, True, block, n_free)


@numba.njit(parallel=True, cache=True, fastmath=True, nogil=True)
def _block_rows(indptr, indices, conf, X, Y, YtY, reg_rows, per_row, block, n_free):
    k = X.shape[1]
    nf = k if n_free < 0 or n_free > k else n_free
    bounds = row_tasks(indptr, k // 2)  # as the CG kernel's tasks
    for c in prange(bounds.shape[0] - 1):
        for u in range(bounds[c], bounds[c + 1]):
            lam = np.float32(reg_rows[u]) if per_row else np.float32(0.0)
            _block_row(indptr[u], indptr[u + 1], indices, conf, X[u], Y, YtY, lam,
                       max(1, min(block, nf)), nf)  # fmt: skip


@numba.njit(fastmath=True, nogil=True)
def _block_row(start, end, indices, conf, x, Y, YtY, lam, b_max, nf):
    k = x.shape[0]
    m = 0
    for t in range(start, end):
        if conf[t] >= 0:  # a negative confidence: a cell taken out of the data
            m += 1
    # scratch tied to the row (its size depends on it), so it is never hoisted out of
    # the parallel loop and shared between threads: the row's observed item factors
    # gathered once, sqrt(c - 1), and r = c - (c - 1) s with s = x . y kept up to date
    Yu = np.empty((m, k), dtype=np.float32)
    sw = np.empty(m, dtype=np.float32)
    r = np.empty(m, dtype=np.float32)
    g = np.empty(k, dtype=np.float32)
    rhs = np.empty(b_max, dtype=np.float64)
    d32 = np.empty(b_max, dtype=np.float32)
    j = 0
    for t in range(start, end):
        c = conf[t]
        if c < 0:
            continue
        i = indices[t]
        d = np.float32(0.0)
        for f in range(k):
            v = Y[i, f]
            Yu[j, f] = v
            d += v * x[f]
        w = max(c - np.float32(1.0), np.float32(0.0))
        sw[j] = np.sqrt(w)
        r[j] = c - w * d
        j += 1
    _matvec(YtY, x, lam, g)  # (YtY + lam I) x, kept up to date as x moves
    W = np.empty((m, b_max), dtype=np.float32)
    for b0 in range(0, nf, b_max):  # the coordinates from nf on are held
        b = min(b_max, nf - b0)
        if b < b_max:  # the last, shorter block: contiguous scratch of its own width
            W = np.empty((m, b), dtype=np.float32)
        for p in range(b):
            rhs[p] = -np.float64(g[b0 + p])
        for jj in range(m):
            rj = np.float64(r[jj])
            for p in range(b):
                v = Yu[jj, b0 + p]
                W[jj, p] = sw[jj] * v
                rhs[p] += rj * v
        # sum (c - 1) y_B y_B^T as one small GEMM (the loops by hand were 2x slower)
        A = (W.T @ W).astype(np.float64)
        for p in range(b):
            for q in range(b):
                A[p, q] += YtY[b0 + p, b0 + q]
            A[p, p] += lam
        if not _cholesky_solve(A, rhs, b):
            continue  # not positive definite (no penalty, degenerate factors): keep x
        for p in range(b):
            d32[p] = np.float32(rhs[p])
            x[b0 + p] += d32[p]
        for jj in range(m):  # every observed x . y moves by y_B . d
            dv = np.float32(0.0)
            for p in range(b):
                dv += Yu[jj, b0 + p] * d32[p]
            r[jj] -= sw[jj] * sw[jj] * dv
        for f in range(k):
            acc = np.float32(0.0)
            for p in range(b):
                acc += YtY[f, b0 + p] * d32[p]
            g[f] += acc
        for p in range(b):
            g[b0 + p] += lam * d32[p]


@numba.njit(inline="always", fastmath=True, nogil=True)
def _cholesky_solve(A, rhs, b):
    """Solve ``A d = rhs`` (float64, ``b x b``) in place in ``rhs`` by Cholesky, ``A``'s
    lower triangle overwritten by the factor; False, leaving ``rhs`` undefined, when ``A``
    is not positive definite."""
    L = A
    for j in range(b):
        acc = L[j, j]
        for q in range(j):
            acc -= L[j, q] * L[j, q]
        if not acc > 0.0:
            return False
        d = np.sqrt(acc)
        L[j, j] = d
        for p in range(j + 1, b):
            acc = L[p, j]
            for q in range(j):
                acc -= L[p, q] * L[j, q]
            L[p, j] = acc / d
    for p in range(b):  # L z = rhs
        acc = rhs[p]
        for q in range(p):
            acc -= L[p, q] * rhs[q]
        rhs[p] = acc / L[p, p]
    for p in range(b - 1, -1, -1):  # L^T d = z
        acc = rhs[p]
        for q in range(p + 1, b):
            acc -= L[q, p] * rhs[q]
        rhs[p] = acc / L[p, p]
    return True


@numba.njit(cache=True, nogil=True)
def _exact_row(indptr, indices, conf, Y, YtY64, u, out, nf):
    """Row ``u``'s exact solve into ``out``; with ``nf < k`` only ``out[:nf]``, the rest
    held at the values ``out`` has (the free block's system, its right side less the
    fixed part's product)."""
    k = Y.shape[1]
    start, end = indptr[u], indptr[u + 1]
    m = 0
    for r in range(start, end):
        if conf[r] >= 0.0:
            m += 1
    # A = YtY + sum (c - 1) y y^T = YtY + W^T W with rows w = sqrt(c - 1) y; a negative
    # confidence marks a cell taken out of the data (it counts as unobserved)
    W = np.empty((m, k))
    b = np.zeros(k)
    w = 0
    for r in range(start, end):
        c = np.float64(conf[r])
        if c < 0.0:
            continue
        i = indices[r]
        s = np.sqrt(max(c - 1.0, 0.0))
        for f in range(k):
            yf = np.float64(Y[i, f])
            W[w, f] = s * yf
            b[f] += c * yf
        w += 1
    A = YtY64 + W.T @ W
    if nf >= k:
        x = np.linalg.solve(A, b)
        for f in range(k):
            out[f] = x[f]
        return
    rhs = b[:nf].copy()
    for f in range(nf):
        for g in range(nf, k):
            rhs[f] -= A[f, g] * np.float64(out[g])
    x = np.linalg.solve(np.ascontiguousarray(A[:nf, :nf]), rhs)
    for f in range(nf):
        out[f] = x[f]


@numba.njit(cache=True, nogil=True)
def locate_entries(indptr, indices, rows, cols):
    """Positions of the entries ``(rows[t], cols[t])`` in a CSR whose rows hold sorted
    column ids (binary search in the row); -1 where the entry is absent."""
    out = np.empty(rows.shape[0], dtype=np.int64)
    for t in range(rows.shape[0]):
        lo = indptr[rows[t]]
        hi = indptr[rows[t] + 1]
        c = cols[t]
        while lo < hi:
            mid = (lo + hi) // 2
            if indices[mid] < c:
                lo = mid + 1
            else:
                hi = mid
        out[t] = lo if lo < indptr[rows[t] + 1] and indices[lo] == c else -1
    return out


@numba.njit(parallel=True, cache=True, fastmath=True, nogil=True)
def ials_cholesky_step(indptr, indices, conf, X, Y, YtY, n_free=-1):
    """Exact update of every row of ``X`` (solves the k x k normal equations in float64;
    with ``n_free >= 0`` those of the first ``n_free`` coordinates, the rest held)."""
    YtY64 = YtY.astype(np.float64)
    k = X.shape[1]
    nf = k if n_free < 0 or n_free > k else n_free
    for u in prange(X.shape[0]):
        _exact_row(indptr, indices, conf, Y, YtY64, u, X[u], nf)


@numba.njit(parallel=True, cache=True, fastmath=True, nogil=True)
def ials_solve_rows(indptr, indices, conf, Y, YtY):
    """Exact rows for a CSR of new users (fold-in); returns a new float32 array."""
    n = indptr.shape[0] - 1
    out = np.zeros((n, Y.shape[1]), dtype=np.float32)
    YtY64 = YtY.astype(np.float64)
    k = Y.shape[1]
    for u in prange(n):
        _exact_row(indptr, indices, conf, Y, YtY64, u, out[u], k)
    return out


@numba.njit(parallel=True, cache=True, nogil=True)
def confidence_into(values, log, alpha, epsilon, out):
    """``1 + alpha * log(1 + r / epsilon)`` (``log``) or ``1 + alpha * r`` of each value,
    in float64, rounded into ``out`` (float32; may be ``values`` itself)."""
    for t in prange(values.shape[0]):
        v = np.float64(values[t])
        out[t] = 1.0 + alpha * (np.log1p(v / epsilon) if log else v)


def ials_loss(indptr, indices, conf, X, Y, reg):
    """Training objective divided by the number of observed entries.

    ``sum_{u,i} c_ui (p_ui - x_u . y_i)^2 + reg (|X|^2 + |Y|^2)`` over *all* cells,
    computed as ``sum_u x_u^T (Y^T Y) x_u`` plus corrections on the observed cells.
    (Plain Python over three kernels: numba's cache could not reload a parallel kernel
    that calls another parallel one, see :mod:`.sorting`.)
    """
    parts = np.zeros(X.shape[0])
    ials_loss_rows(indptr, indices, conf, X, Y, ials_gram64(Y), reg, parts)
    return ials_loss_total(parts, Y, reg) / max(indices.shape[0], 1)


@numba.njit(cache=True, nogil=True)
def ials_gram64(Y):
    """``Y^T Y`` in float64, for :func:`ials_loss_rows`."""
    Y64 = Y.astype(np.float64)
    return Y64.T @ Y64


@numba.njit(parallel=True, cache=True, fastmath=True, nogil=True)
def ials_loss_rows(indptr, indices, conf, X, Y, YtY, reg, out):
    """Each row's share of :func:`ials_loss` (before the division) into ``out``; rows
    are independent, so a trainer can fill ``out`` a block of rows at a time."""
    k = X.shape[1]
    for u in prange(X.shape[0]):
        x = X[u].astype(np.float64)
        total = x @ (YtY @ x)
        for t in range(indptr[u], indptr[u + 1]):
            i = indices[t]
            c = np.float64(conf[t])
            s = 0.0
            for f in range(k):
                s += x[f] * Y[i, f]
            total += c * (1.0 - s) ** 2 - s * s
        out[u] = total + reg * (x @ x)


@numba.njit(cache=True, nogil=True)
def ials_loss_total(parts, Y, reg):
    """The rows' shares summed in a fixed order, plus the item factors' penalty."""
    k = Y.shape[1]
    ynorm = 0.0
    for i in range(Y.shape[0]):
        for f in range(k):
            ynorm += np.float64(Y[i, f]) ** 2
    return ordered_sum(parts) + reg * ynorm


# ---------------------------------------------------------------------- per-row penalties
# Frequency-scaled regularization (Rendle et al. 2021): row u's penalty is reg_rows[u],
# so the system of row u is YtY + reg_rows[u] I with ``YtY`` = Y^T Y (no penalty in it).


@numba.njit(cache=True, fastmath=True, nogil=True)
def ials_cg_step_rows(indptr, indices, conf, X, Y, YtY, reg_rows, cg_steps, n_free=-1):
    """:func:`ials_cg_step` with a penalty per row: ``YtY`` holds ``Y^T Y`` only."""
    _cg_rows(indptr, indices, conf, X, Y, YtY, reg_rows, True, cg_steps, n_free)


@numba.njit(cache=True, nogil=True)
def _exact_row_reg(indptr, indices, conf, Y, YtY64, lam, u, out, nf):
    A = YtY64.copy()
    for f in range(A.shape[0]):
        A[f, f] += lam
    _exact_row(indptr, indices, conf, Y, A, u, out, nf)


@numba.njit(parallel=True, cache=True, fastmath=True, nogil=True)
def ials_cholesky_step_rows(indptr, indices, conf, X, Y, YtY, reg_rows, n_free=-1):
    """:func:`ials_cholesky_step` with a penalty per row: ``YtY`` holds ``Y^T Y`` only."""
    YtY64 = YtY.astype(np.float64)
    k = X.shape[1]
    nf = k if n_free < 0 or n_free > k else n_free
    for u in prange(X.shape[0]):
        _exact_row_reg(indptr, indices, conf, Y, YtY64, np.float64(reg_rows[u]), u, X[u], nf)


@numba.njit(parallel=True, cache=True, fastmath=True, nogil=True)
def ials_solve_rows_reg(indptr, indices, conf, Y, YtY, reg_rows):
    """:func:`ials_solve_rows` (fold-in) with a penalty per row; ``YtY`` is ``Y^T Y``."""
    n = indptr.shape[0] - 1
    out = np.zeros((n, Y.shape[1]), dtype=np.float32)
    YtY64 = YtY.astype(np.float64)
    k = Y.shape[1]
    for u in prange(n):
        _exact_row_reg(indptr, indices, conf, Y, YtY64, np.float64(reg_rows[u]), u, out[u], k)
    return out
