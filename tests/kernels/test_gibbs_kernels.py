"""Gibbs-sampling kernels (BayesianMF) against slow, obvious NumPy twins."""

from __future__ import annotations

import numpy as np
import pytest

from latentfactors.data import make_synthetic
from latentfactors.kernels import gibbs
from latentfactors.kernels._rng import block_key
from latentfactors.models.bayesian import normal_wishart_posterior, wishart


@pytest.fixture(scope="module")
def small():
    return make_synthetic(40, 30, 500, rank=3, noise=0.3, seed=2).interactions


def _normals(seed, tag, epoch, row, n_rows, d):
    key = np.uint64(block_key(np.uint64(seed) ^ np.uint64(tag), epoch, row, n_rows))
    return np.array([gibbs.std_normal(key, t) for t in range(d)])


def _draw(A, rhs, xi):
    """The twin of the kernel's draw: ``L^-T (L^-1 rhs + xi)`` with ``A = L L^T``."""
    L = np.linalg.cholesky(A)
    return np.linalg.solve(L.T, np.linalg.solve(L, rhs) + xi)


def _setup(data, k=3, seed=0):
    rng = np.random.default_rng(seed)
    P = (rng.standard_normal((data.n_users, k)) * 0.5).astype(np.float32)
    Q = (rng.standard_normal((data.n_items, k)) * 0.5).astype(np.float32)
    Y = (rng.standard_normal((data.n_items, k)) * 0.2).astype(np.float32)
    bu = (rng.standard_normal(data.n_users) * 0.1).astype(np.float32)
    bi = (rng.standard_normal(data.n_items) * 0.1).astype(np.float32)
    m = rng.standard_normal(k) * 0.1
    B = rng.standard_normal((k, k))
    lam = B @ B.T + k * np.eye(k)
    return P, Q, Y, bu, bi, m, lam


def test_std_normal_is_standard_normal():
    key = np.uint64(block_key(np.uint64(7), 0, 0, 1))
    x = np.array([gibbs.std_normal(key, t) for t in range(40_000)])
    assert abs(x.mean()) < 0.02 and abs(x.std() - 1) < 0.02
    assert abs(np.mean(x**3)) < 0.05 and abs(np.mean(x**4) - 3) < 0.15  # skew, kurtosis
    assert gibbs.std_normal(key, 5) == gibbs.std_normal(key, 5)  # counter-based


@pytest.mark.parametrize(("use_z", "biased"), [(False, True), (True, True), (True, False)])
def test_gibbs_rows_matches_reference(small, one_thread, use_z, biased):
    P, Q, _, bu, bi, m, lam = _setup(small)
    csr = small.csr
    ptr, idx, val = csr.indptr.astype(np.int64), csr.indices, csr.data
    Z = (np.random.default_rng(5).standard_normal(P.shape) * 0.1).astype(np.float32)
    mu, alpha, bprec, seed, epoch, tag = 3.0, 2.5, 0.7, 11, 3, 99
    X, b = P.copy(), bu.copy()
    gibbs.gibbs_rows(ptr, idx, val, Q, Z, use_z, bi, mu, m, lam, bprec, biased, alpha, X, b,
                     seed, epoch, tag)  # fmt: skip
    k = Q.shape[1]
    d = k + 1 if biased else k
    for u in range(small.n_users):
        cols = idx[ptr[u] : ptr[u + 1]]
        t = val[ptr[u] : ptr[u + 1]].astype(np.float64) - mu - bi[cols]
        if use_z:
            t -= Q[cols].astype(np.float64) @ Z[u].astype(np.float64)
        F = Q[cols].astype(np.float64)
        if biased:
            F = np.hstack([F, np.ones((len(cols), 1))])
        prior = np.zeros((d, d))
        prior[:k, :k] = lam
        prior_rhs = np.zeros(d)
        prior_rhs[:k] = lam @ m
        if biased:
            prior[k, k] = bprec
        A = prior + alpha * F.T @ F
        rhs = prior_rhs + alpha * F.T @ t
        want = _draw(A, rhs, _normals(seed, tag, epoch, u, small.n_users, d))
        np.testing.assert_allclose(X[u], want[:k], rtol=1e-4, atol=1e-5)
        if biased:
            assert b[u] == pytest.approx(want[k], rel=1e-4, abs=1e-5)
    if not biased:
        assert np.array_equal(b, bu)  # biases left alone


def test_gibbs_rows_draws_from_the_conditional(one_thread):
    """Many draws of one row (different epochs): their mean and covariance are the
    conditional's."""
    rng = np.random.default_rng(0)
    k, n_draws = 2, 6000
    Q = rng.standard_normal((5, k)).astype(np.float32)
    ptr = np.array([0, 5], dtype=np.int64)
    idx = np.arange(5, dtype=np.int32)
    val = rng.normal(3, 1, 5).astype(np.float32)
    m, lam, alpha = np.array([0.2, -0.1]), np.array([[2.0, 0.5], [0.5, 1.0]]), 1.5
    bi = np.zeros(5, np.float32)
    draws = np.empty((n_draws, k + 1))
    for e in range(n_draws):
        X, b = np.zeros((1, k), np.float32), np.zeros(1, np.float32)
        gibbs.gibbs_rows(ptr, idx, val, Q, X, False, bi, 3.0, m, lam, 0.5, True, alpha, X, b,
                         1, e, 5)  # fmt: skip
        draws[e, :k], draws[e, k] = X[0], b[0]
    F = np.hstack([Q.astype(np.float64), np.ones((5, 1))])
    A = np.zeros((k + 1, k + 1))
    A[:k, :k], A[k, k] = lam, 0.5
    A += alpha * F.T @ F
    cov = np.linalg.inv(A)
    mean = cov @ (np.r_[lam @ m, 0.0] + alpha * F.T @ (val - 3.0))
    se = np.sqrt(np.diag(cov) / n_draws)
    assert np.all(np.abs(draws.mean(axis=0) - mean) < 4 * se)
    np.testing.assert_allclose(np.cov(draws.T), cov, rtol=0.1, atol=0.01 * np.abs(cov).max())


def _implicit_reference(data, P, Q, Y, bu, bi, mu, norm, m, lam, alpha, seed, epoch):
    """Each y_j in turn from its conditional, every residual recomputed from scratch."""
    csr, csc = data.csr, data.csc
    Y = Y.astype(np.float64).copy()
    P, Q = P.astype(np.float64), Q.astype(np.float64)
    k = Q.shape[1]
    for j in range(data.n_items):
        prec, rhs = lam.copy(), lam @ m
        for u in csc.indices[csc.indptr[j] : csc.indptr[j + 1]]:
            cols = csr.indices[csr.indptr[u] : csr.indptr[u + 1]]
            r = csr.data[csr.indptr[u] : csr.indptr[u + 1]]
            s = float(norm[u])
            z_rest = s * (Y[cols].sum(axis=0) - Y[j])
            e = r - mu - bu[u] - bi[cols] - Q[cols] @ (P[u] + z_rest)
            prec += alpha * s * s * Q[cols].T @ Q[cols]
            rhs += alpha * s * Q[cols].T @ e
        xi = _normals(seed, 0x1D8E4E27, epoch, j, data.n_items, k)
        Y[j] = _draw(prec, rhs, xi).astype(np.float32)
    return Y


def test_gibbs_implicit_matches_reference(small, one_thread):
    P, Q, Y, bu, bi, m, lam = _setup(small)
    csr, csc = small.csr, small.csc
    counts = np.diff(csr.indptr)
    norm = (1 / np.sqrt(np.maximum(counts, 1))).astype(np.float32)
    ptr = csr.indptr.astype(np.int64)
    Z = np.zeros_like(P)
    gibbs.implicit_sums(ptr, csr.indices, Y, norm, Z)
    want = _implicit_reference(small, P, Q, Y, bu, bi, 3.0, norm, m, lam, 1.7, 4, 2)
    gibbs.gibbs_implicit(ptr, csr.indices, csr.data, csc.indptr.astype(np.int64), csc.indices,
                         P, Q, Y, Z, bu, bi, 3.0, norm, m, lam, 1.7, 4, 2)  # fmt: skip
    np.testing.assert_allclose(Y, want, rtol=1e-3, atol=1e-4)
    Z2 = np.zeros_like(Z)
    gibbs.implicit_sums(ptr, csr.indices, Y, norm, Z2)
    np.testing.assert_allclose(Z, Z2, rtol=1e-4, atol=1e-5)  # kept current as y changed


def test_sums_match_numpy(small):
    P, Q, Y, bu, bi, _, _ = _setup(small)
    X = np.random.default_rng(1).standard_normal((2500, 4)).astype(np.float32)  # > one chunk
    s1, s2 = gibbs.row_moments(X)
    X64 = X.astype(np.float64)
    np.testing.assert_allclose(s1, X64.sum(axis=0), rtol=1e-10)
    np.testing.assert_allclose(s2, X64.T @ X64, rtol=1e-10)
    csr = small.csr
    ptr = csr.indptr.astype(np.int64)
    parts = gibbs.sse_rows(ptr, csr.indices, csr.data, P, Q, bu, bi, 3.0)
    u = np.repeat(np.arange(small.n_users), np.diff(ptr))
    e = csr.data - 3.0 - bu[u] - bi[csr.indices] - np.einsum("ij,ij->i", P[u], Q[csr.indices])
    assert parts.sum() == pytest.approx(float(np.sum(e.astype(np.float64) ** 2)), rel=1e-5)
    norm = np.linspace(0.1, 1, small.n_users).astype(np.float32)
    Z = np.zeros_like(P)
    gibbs.implicit_sums(ptr, csr.indices, Y, norm, Z)
    want = norm[:, None] * (csr.astype(bool).astype(np.float64) @ Y.astype(np.float64))
    np.testing.assert_allclose(Z, want, rtol=1e-5, atol=1e-6)


def test_fold_in_rows_match_reference(small, one_thread):
    rng = np.random.default_rng(3)
    k, S = 3, 4
    Qs = (rng.standard_normal((small.n_items, k * S)) * 0.4).astype(np.float32)
    csr = small.csr[:6]
    ptr = csr.indptr.astype(np.int64)
    Z = (rng.standard_normal((6, k * S)) * 0.05).astype(np.float32)
    bi = (rng.standard_normal(small.n_items) * 0.1).astype(np.float32)
    m, prec = rng.standard_normal(k * S) * 0.1, rng.uniform(0.5, 3, k * S)
    bprec, bmean = np.array([2.0, 0.5, 1.0, 3.0]), np.array([0.1, -0.2, 0.0, 0.3])
    X, b = gibbs.fold_in_rows(ptr, csr.indices, csr.data, Qs, Z, bi, 3.0, m, prec, bprec, bmean,
                              S, True)  # fmt: skip
    c = np.sqrt(S)
    for r in range(6):
        cols = csr.indices[ptr[r] : ptr[r + 1]]
        vals = csr.data[ptr[r] : ptr[r + 1]]
        bs = []
        for s in range(S):
            blk = slice(s * k, (s + 1) * k)
            q = Qs[cols, blk].astype(np.float64) * c
            t = vals - 3.0 - bi[cols] - q @ (Z[r, blk].astype(np.float64) * c)
            F = np.hstack([q, np.ones((len(cols), 1))])
            A = np.diag(np.r_[prec[blk], bprec[s]]) + F.T @ F
            sol = np.linalg.solve(A, np.r_[prec[blk] * m[blk], bprec[s] * bmean[s]] + F.T @ t)
            np.testing.assert_allclose(X[r, blk], sol[:k] / c, rtol=1e-4, atol=1e-6)
            bs.append(sol[k])
        assert b[r] == pytest.approx(np.mean(bs), rel=1e-4, abs=1e-6)


def test_wishart_and_normal_wishart_moments():
    rng = np.random.default_rng(0)
    W = np.array([[0.5, 0.1, 0.0], [0.1, 0.3, 0.05], [0.0, 0.05, 0.2]])
    draws = np.array([wishart(W, 7.0, rng) for _ in range(4000)])
    np.testing.assert_allclose(draws.mean(axis=0), 7.0 * W, atol=0.06)
    # posterior of many rows from N(m, C): the mean draw is near m, the precision near C^-1
    m, C = np.array([0.5, -1.0, 0.2]), np.diag([0.2, 0.5, 1.0])
    X = rng.multivariate_normal(m, C, size=5000)
    mus, lams = zip(*(normal_wishart_posterior(X.sum(0), X.T @ X, len(X), rng)
                      for _ in range(200)))  # fmt: skip
    np.testing.assert_allclose(np.mean(mus, axis=0), m, atol=0.03)
    np.testing.assert_allclose(np.mean(lams, axis=0), np.linalg.inv(C), rtol=0.05, atol=0.05)


@pytest.mark.parametrize("implicit", [False, True])
def test_threads_do_not_change_samples(implicit):
    from latentfactors.models import BayesianMF

    data = make_synthetic(2600, 300, 20_000, rank=3, noise=0.3, seed=1).interactions
    fit = lambda n: BayesianMF(n_factors=4, n_epochs=4, burn_in=2, implicit=implicit,  # noqa: E731
                               n_threads=n, random_state=3).fit(data)  # fmt: skip
    one, two = fit(1), fit(2)
    for attr in ("user_factors_", "item_factors_", "user_bias_", "item_bias_", "user_vectors_",
                 "implicit_factors_", "user_prior_precision_"):  # fmt: skip
        assert np.array_equal(getattr(one, attr), getattr(two, attr)), attr
