"""Gibbs-sampling kernels for Bayesian matrix factorization (BPMF with biases and SVD++ terms).

The model: ``r_ui = mu + b_u + b_i + (p_u + z_u) . q_i + noise`` with noise precision
``alpha`` and ``z_u = |N(u)|^-1/2 sum_{j in N(u)} y_j`` (zero without implicit terms).

One call of :func:`gibbs_rows` draws every row of one side (all items, or all users)
from its Gaussian conditional given the other side: for row ``r`` with observed columns
``c`` the joint ``[x_r, b_r]`` has precision ``blockdiag(Lambda, bias_prec) + alpha sum
f_c f_c^T`` with ``f_c = [F_c, 1]``, and mean ``precision^-1 (blockdiag(Lambda, .) [m, 0] +
alpha sum f_c t_rc)``. Rows are independent given the other side, so they are drawn in
parallel; each row draws its normals from its own counter-based stream keyed by (seed,
epoch, side, row), so the draws do not depend on the thread count or the schedule.

:func:`gibbs_implicit` draws the implicit factors ``y_j``: each ``y_j`` enters the
scores of every user who rated ``j``, so two ``y`` rows that share a user are not
independent; they are drawn one after the other (an exact systematic-scan Gibbs step)
from per-user sufficient statistics ``A_u = sum_i q_i q_i^T`` and ``w_u = sum_i q_i e_ui``
(formed in parallel), in ``O(nnz k^2)``.

Every sum whose order could depend on the thread count is formed per row (or per
fixed chunk of rows) and added up serially, so a seed gives bit-identical samples
whatever the number of threads. Factors are float32; accumulators and solves float64.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import prange

from ._rng import block_key, splitmix64

__all__ = [
    "fold_in_rows",
    "gibbs_implicit",
    "gibbs_rows",
    "implicit_sums",
    "row_moments",
    "sse_rows",
    "std_normal",
]

_CHUNK = 1024  # rows per partial sum in row_moments (fixed: independent of threads)
_TWO_PI = 2.0 * np.pi
_INV53 = 1.0 / 9007199254740992.0  # 2^-53


@numba.njit(cache=True, inline="always")
def _uniform(key: np.uint64, t: np.int64) -> float:
    """The t-th uniform of stream ``key``, in (0, 1]."""
    z = splitmix64(np.uint64(key) + np.uint64(t))
    return (np.float64(z >> np.uint64(11)) + 1.0) * _INV53


@numba.njit(cache=True)
def std_normal(key: np.uint64, t: np.int64) -> float:
    """The t-th standard normal of stream ``key`` (Box-Muller on uniforms 2t and 2t + 1)."""
    u1 = _uniform(key, 2 * t)
    u2 = _uniform(key, 2 * t + 1)
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(_TWO_PI * u2)


@numba.njit(cache=True)
def _cholesky_draw(A, rhs, key, noise, out):
    """``out = A^-1 rhs`` (+ a draw from ``N(0, A^-1)`` when ``noise``).

    ``A`` (d x d, float64, lower triangle read) is overwritten by its Cholesky factor
    ``L``; with ``A = L L^T`` the draw is ``L^-T (L^-1 rhs + xi)``, ``xi ~ N(0, I)``.
    """
    d = rhs.shape[0]
    for j in range(d):
        s = A[j, j]
        for p in range(j):
            s -= A[j, p] * A[j, p]
        if s <= 1e-300:  # numerically singular: keep the row finite (never on real data)
            s = 1e-300
        ljj = np.sqrt(s)
        A[j, j] = ljj
        for i in range(j + 1, d):
            s = A[i, j]
            for p in range(j):
                s -= A[i, p] * A[j, p]
            A[i, j] = s / ljj
    w = np.empty(d)
    for i in range(d):
        s = rhs[i]
        for p in range(i):
            s -= A[i, p] * w[p]
        w[i] = s / A[i, i]
    if noise:
        for i in range(d):
            w[i] += std_normal(key, i)
    for i in range(d - 1, -1, -1):
        s = w[i]
        for p in range(i + 1, d):
            s -= A[p, i] * out[p]
        out[i] = s / A[i, i]


@numba.njit(parallel=True, cache=True, nogil=True)
def gibbs_rows(
    indptr, indices, values, F, Z, use_z, b_other, mu, prior_mean, prior_prec, bias_prec,
    biased, alpha, X, b, seed, epoch, tag,
):  # fmt: skip
    """Draw every CSR row's ``[x_r, b_r]`` from its Gaussian conditional (in place).

    The target of entry ``(r, c)`` is ``values - mu - b_other[c]``, less ``Z[r] . F[c]``
    when ``use_z`` (the SVD++ term on the user side). ``prior_mean`` (k,) and
    ``prior_prec`` (k, k) are the factors' Gaussian prior; ``bias_prec`` the bias prior
    precision (mean 0). With ``biased=False`` the biases are left alone (not drawn).
    """
    n = indptr.shape[0] - 1
    k = F.shape[1]
    d = k + 1 if biased else k
    lam_m = prior_prec @ prior_mean
    useed = np.uint64(seed) ^ np.uint64(tag)
    for r in prange(n):
        A = np.zeros((d, d))
        rhs = np.zeros(d)
        for p in range(k):
            rhs[p] = lam_m[p]
            for q in range(p + 1):
                A[p, q] = prior_prec[p, q]
        if biased:
            A[k, k] = bias_prec
        f = np.empty(d)
        if biased:
            f[k] = 1.0
        for t in range(indptr[r], indptr[r + 1]):
            c = indices[t]
            y = np.float64(values[t]) - mu - b_other[c]
            if use_z:
                for p in range(k):
                    y -= np.float64(Z[r, p]) * F[c, p]
            for p in range(k):
                f[p] = F[c, p]
            for p in range(d):
                ap = alpha * f[p]
                rhs[p] += ap * y
                for q in range(p + 1):
                    A[p, q] += ap * f[q]
        out = np.empty(d)
        _cholesky_draw(A, rhs, block_key(useed, epoch, r, n), True, out)
        for p in range(k):
            X[r, p] = out[p]
        if biased:
            b[r] = out[k]


@numba.njit(parallel=True, cache=True, nogil=True)
def implicit_sums(indptr, indices, Y, norm, Z):
    """``Z[u] = norm[u] * sum_{j in row u} Y[j]`` for every CSR row (float64 sums)."""
    k = Y.shape[1]
    for u in prange(indptr.shape[0] - 1):
        acc = np.zeros(k)
        for t in range(indptr[u], indptr[u + 1]):
            j = indices[t]
            for p in range(k):
                acc[p] += Y[j, p]
        for p in range(k):
            Z[u, p] = norm[u] * acc[p]


@numba.njit(parallel=True, cache=True, nogil=True)
def gibbs_implicit(
    u_indptr, u_indices, u_values, i_indptr, i_users, P, Q, Y, Z, bu, bi, mu, norm,
    prior_mean, prior_prec, alpha, seed, epoch,
):  # fmt: skip
    """Draw every implicit factor ``y_j`` from its conditional, one item after the other.

    ``u_*`` is the users x items CSR of the ratings, ``i_indptr`` / ``i_users`` the users
    of each item (CSC). ``Z`` must hold the current implicit sums; it is kept current as
    the ``y_j`` change (and should be recomputed with :func:`implicit_sums` afterwards,
    which removes the float32 rounding of the running updates).
    """
    n_users, k = P.shape
    n_items = Y.shape[0]
    A = np.zeros((n_users, k, k))
    W = np.zeros((n_users, k))
    # per-user statistics: A_u = sum q q^T, W_u = sum q e with the full residual e
    for u in prange(n_users):
        for t in range(u_indptr[u], u_indptr[u + 1]):
            i = u_indices[t]
            e = np.float64(u_values[t]) - mu - bu[u] - bi[i]
            for p in range(k):
                e -= (np.float64(P[u, p]) + Z[u, p]) * Q[i, p]
            for p in range(k):
                qp = np.float64(Q[i, p])
                W[u, p] += qp * e
                for q in range(p + 1):
                    A[u, p, q] += qp * Q[i, q]
        for p in range(k):
            for q in range(p):
                A[u, q, p] = A[u, p, q]
    lam_m = prior_prec @ prior_mean
    useed = np.uint64(seed) ^ np.uint64(0x1D8E4E27)
    prec = np.empty((k, k))
    rhs = np.empty(k)
    old = np.empty(k)
    new = np.empty(k)
    for j in range(n_items):  # serial: y rows that share a user are dependent
        for p in range(k):
            old[p] = Y[j, p]
            rhs[p] = lam_m[p]
            for q in range(k):
                prec[p, q] = prior_prec[p, q]
        for t in range(i_indptr[j], i_indptr[j + 1]):
            u = i_users[t]
            s = np.float64(norm[u])
            a2 = alpha * s * s
            for p in range(k):
                acc = W[u, p]
                for q in range(k):
                    acc += s * A[u, p, q] * old[q]
                    prec[p, q] += a2 * A[u, p, q]
                rhs[p] += alpha * s * acc
        _cholesky_draw(prec, rhs, block_key(useed, epoch, j, n_items), True, new)
        for p in range(k):
            Y[j, p] = new[p]
            new[p] = np.float64(Y[j, p]) - old[p]  # the change, as stored in float32
        for t in range(i_indptr[j], i_indptr[j + 1]):
            u = i_users[t]
            s = np.float64(norm[u])
            for p in range(k):
                Z[u, p] += s * new[p]
                acc = 0.0
                for q in range(k):
                    acc += A[u, p, q] * new[q]
                W[u, p] -= s * acc


@numba.njit(parallel=True, cache=True, nogil=True)
def row_moments(X):
    """``(sum of rows, sum of outer products)`` of ``X`` in float64, in a fixed order."""
    n, k = X.shape
    n_chunks = (n + _CHUNK - 1) // _CHUNK
    s1 = np.zeros((n_chunks, k))
    s2 = np.zeros((n_chunks, k, k))
    for c in prange(n_chunks):
        for r in range(c * _CHUNK, min(n, (c + 1) * _CHUNK)):
            for p in range(k):
                xp = np.float64(X[r, p])
                s1[c, p] += xp
                for q in range(p + 1):
                    s2[c, p, q] += xp * X[r, q]
    total1 = np.zeros(k)
    total2 = np.zeros((k, k))
    for c in range(n_chunks):
        for p in range(k):
            total1[p] += s1[c, p]
            for q in range(p + 1):
                total2[p, q] += s2[c, p, q]
    for p in range(k):
        for q in range(p):
            total2[q, p] = total2[p, q]
    return total1, total2


@numba.njit(parallel=True, cache=True, nogil=True)
def sse_rows(indptr, indices, values, V, Q, bu, bi, mu):
    """Per CSR row: ``sum (r - mu - b_u - b_i - v_u . q_i)^2`` (float64; add up outside)."""
    n = indptr.shape[0] - 1
    k = Q.shape[1]
    parts = np.zeros(n)
    for u in prange(n):
        acc = 0.0
        for t in range(indptr[u], indptr[u + 1]):
            i = indices[t]
            e = np.float64(values[t]) - mu - bu[u] - bi[i]
            for p in range(k):
                e -= np.float64(V[u, p]) * Q[i, p]
            acc += e * e
        parts[u] = acc
    return parts


@numba.njit(parallel=True, cache=True, nogil=True)
def fold_in_rows(
    indptr, indices, values, Q, Z, bi, mu, prior_mean, prior_prec, bias_prec, bias_mean,
    n_blocks, biased,
):  # fmt: skip
    """Posterior-mean user rows for new users against served (concatenated) samples.

    ``Q`` is ``(n_items, n_blocks * k)``: ``n_blocks`` samples side by side, each scaled
    by ``1 / sqrt(n_blocks)``; ``Z`` the new users' implicit sums in the same layout.
    For each sample ``s`` the row solves the conditional posterior mean of ``[x, b]`` with prior
    precision ``diag(prior_prec[s]) / noise`` (already relative to the noise precision),
    prior mean ``prior_mean[s]``, bias prior precision ``bias_prec[s]`` (relative, one per
    sample) and bias prior mean ``bias_mean[s]``; returns the factors in the served layout
    (each block over ``sqrt(n_blocks)``) and the biases averaged over samples.
    """
    n = indptr.shape[0] - 1
    kk = Q.shape[1]
    k = kk // n_blocks
    d = k + 1 if biased else k
    scale = np.sqrt(np.float64(n_blocks))
    X = np.zeros((n, kk), dtype=np.float32)
    B = np.zeros(n, dtype=np.float32)
    for r in prange(n):
        bsum = 0.0
        f = np.empty(d)
        out = np.empty(d)
        for s in range(n_blocks):
            o = s * k
            A = np.zeros((d, d))
            rhs = np.zeros(d)
            for p in range(k):
                A[p, p] = prior_prec[o + p]
                rhs[p] = prior_prec[o + p] * prior_mean[o + p]
            if biased:
                A[k, k] = bias_prec[s]
                rhs[k] = bias_prec[s] * bias_mean[s]
                f[k] = 1.0
            for t in range(indptr[r], indptr[r + 1]):
                c = indices[t]
                y = np.float64(values[t]) - mu - bi[c]
                for p in range(k):
                    q = np.float64(Q[c, o + p]) * scale
                    f[p] = q
                    y -= np.float64(Z[r, o + p]) * scale * q
                for p in range(d):
                    rhs[p] += f[p] * y
                    for q2 in range(p + 1):
                        A[p, q2] += f[p] * f[q2]
            _cholesky_draw(A, rhs, np.uint64(0), False, out)
            for p in range(k):
                X[r, o + p] = out[p] / scale
            if biased:
                bsum += out[k]
        B[r] = bsum / n_blocks
    return X, B
