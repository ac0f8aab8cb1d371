"""Multiplicative-update kernel for non-negative matrix factorization (Lee & Seung,
regularized as in Luo et al. 2014 and Surprise's NMF).

One call updates every row of ``P`` (users, with a CSR) or, with the roles swapped and
a CSC, every row of ``Q``. Rows are independent, so results do not depend on threads.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import prange

from ._reduce import ordered_sum

__all__ = ["nmf_half_step"]


@numba.njit(parallel=True, cache=True, fastmath=True, nogil=True)
def nmf_half_step(indptr, indices, data, P, Q, b_own, b_other, mu, reg, reg_bias, biased):
    """Update every row ``u`` of ``P`` (and its bias when ``biased``).

    ``p_uf <- p_uf * (sum_i q_if r_ui) / (sum_i q_if est_ui + n_u reg p_uf)`` with
    ``est_ui = [mu + b_u + b_i +] p_u . q_i``; factors stay >= 0 because every term is.
    Then, if ``biased``, ``b_u = sum_i (r_ui - mu - b_i - p_u . q_i) / (n_u (1 + reg_bias))``.
    Returns the sum of squared errors after the update.
    """
    n = indptr.shape[0] - 1
    k = P.shape[1]
    parts = np.zeros(n)
    for u in prange(n):
        start, end = indptr[u], indptr[u + 1]
        m = end - start
        if m == 0:
            continue
        num = np.zeros(k)
        den = np.zeros(k)
        for t in range(start, end):
            i = indices[t]
            est = 0.0
            for f in range(k):
                est += P[u, f] * Q[i, f]
            if biased:
                est += mu + b_own[u] + b_other[i]
            r = np.float64(data[t])
            for f in range(k):
                num[f] += Q[i, f] * r
                den[f] += Q[i, f] * est
        for f in range(k):
            d = den[f] + m * reg * P[u, f]
            if d > 0:
                P[u, f] = np.float32(P[u, f] * num[f] / d)
        s1 = 0.0
        s2 = 0.0
        for t in range(start, end):
            i = indices[t]
            dot = 0.0
            for f in range(k):
                dot += P[u, f] * Q[i, f]
            e = np.float64(data[t]) - dot  # residual before this row's bias
            if biased:
                e -= mu + b_other[i]
            s1 += e
            s2 += e * e
        b = 0.0
        if biased:
            b = s1 / (m * (1.0 + reg_bias))
            b_own[u] = np.float32(b)
        parts[u] = s2 - 2.0 * b * s1 + m * b * b
    return ordered_sum(parts)
