"""The explicit-ALS kernels (``kernels/ridge.py``) against their NumPy twins, row by row
and through the trainer's epoch; the same bits on 1 and 2 threads.

The twins live in ``reference_implicit.py`` (``ridge_rows``, ``residual_sse``), next to
the fold-in twin that shares them.
"""

import numba
import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from latentfactors.data import make_synthetic
from latentfactors.kernels import ridge
from latentfactors.kernels._tasks import balanced_bounds
from latentfactors.models.als import ALS

from . import reference_implicit as ref


def _problem(seed=0, n_rows=40, n_cols=30, k=5):
    """A random CSR with an empty row (3) and a single-rating row (4), targets, factors
    and per-row penalties that differ (as ALS-WR's ``reg * n_u``)."""
    rng = np.random.default_rng(seed)
    mat = sp.random(n_rows, n_cols, density=0.25, format="lil", random_state=seed)
    mat[3, :] = 0
    mat[4, :] = 0
    mat[4, 7] = 0.5
    # rows of 2, 3, 5 and 6 ratings: every remainder of the kernels' 4-, 2- and 1-rating
    # passes is taken on some row
    for row, length in ((5, 2), (6, 3), (7, 5), (8, 6)):
        mat[row, :] = 0
        for c in rng.choice(n_cols, length, replace=False):
            mat[row, int(c)] = 0.5
    mat = sp.csr_matrix(mat)
    mat.eliminate_zeros()
    mat.sort_indices()
    ptr, idx = mat.indptr.astype(np.int64), mat.indices.astype(np.int32)
    targets = rng.normal(0, 1, len(idx))
    Q = rng.standard_normal((n_cols, k)).astype(np.float32)
    counts = np.diff(ptr)
    lam_f = 0.1 * np.maximum(counts, 1) + rng.uniform(0, 0.05, n_rows)
    lam_b = 0.05 * np.maximum(counts, 1)
    return ptr, idx, targets, Q, lam_f, lam_b


@pytest.mark.parametrize("fit_bias", [True, False])
def test_ridge_rows_matches_reference(one_thread, fit_bias):
    ptr, idx, targets, Q, lam_f, lam_b = _problem()
    X, b = ridge.ridge_rows(ptr, idx, targets, Q, lam_f, lam_b, fit_bias)
    X2, b2 = ref.ridge_rows(ptr, idx, targets, Q, lam_f, lam_b, fit_bias)
    assert X.dtype == np.float32 and b.dtype == np.float32
    np.testing.assert_allclose(X, X2, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(b, b2, rtol=1e-4, atol=1e-6)
    assert not X[3].any() and b[3] == 0  # a row without ratings gets zeros
    if not fit_bias:
        assert not b.any()


def test_ridge_rows_solves_the_normal_equations(one_thread):
    """Optimality: the gradient of the row's ridge objective vanishes at the solution."""
    ptr, idx, targets, Q, lam_f, lam_b = _problem(seed=1)
    X, b = ridge.ridge_rows(ptr, idx, targets, Q, lam_f, lam_b, True)
    for u in range(len(ptr) - 1):
        cols, t = idx[ptr[u] : ptr[u + 1]], targets[ptr[u] : ptr[u + 1]]
        if len(cols) == 0:
            continue
        Qu = Q[cols].astype(np.float64)
        err = t - b[u] - Qu @ X[u]
        np.testing.assert_allclose(Qu.T @ err, lam_f[u] * X[u], atol=1e-4)
        assert err.sum() == pytest.approx(lam_b[u] * b[u], abs=1e-4)


def test_ridge_rows_and_sse_same_bits_on_one_and_two_threads():
    ptr, idx, targets, Q, lam_f, lam_b = _problem(seed=2, n_rows=300, n_cols=80, k=8)
    before = numba.get_num_threads()
    try:
        out = {}
        for n in (1, 2):
            numba.set_num_threads(n)
            X, b = ridge.ridge_rows(ptr, idx, targets, Q, lam_f, lam_b, True)
            sse = ridge.residual_sse(ptr, idx, targets.astype(np.float32), X, Q, b,
                                     np.zeros(len(Q), np.float32), 0.0)  # fmt: skip
            out[n] = (X, b, sse)
    finally:
        numba.set_num_threads(before)
    assert np.array_equal(out[1][0], out[2][0])
    assert np.array_equal(out[1][1], out[2][1])
    assert out[1][2] == out[2][2]


@pytest.mark.parametrize("weighted", [True, False])
@pytest.mark.parametrize("biased", [True, False])
def test_als_epoch_is_item_then_user_half_step(one_thread, weighted, biased):
    """Epoch 3 from the state after epoch 2 equals the twin's item step then user step
    (targets ``r - mu - b_other``, penalties ``reg * n`` when weighted)."""
    data = make_synthetic(60, 40, 900, rank=3, seed=3).interactions
    params = dict(n_factors=4, reg=0.08, reg_bias=0.03, weighted=weighted, biased=biased,
                  solver="exact", random_state=1)  # fmt: skip
    before = ALS(n_epochs=2, **params).fit(data)
    after = ALS(n_epochs=3, **params).fit(data)
    mu = data.global_mean
    csr, csc = data.csr, data.csc

    def lam(counts, reg):
        return reg * (np.maximum(counts, 1) if weighted else np.ones(len(counts)))

    ci = np.diff(csc.indptr)
    t_items = csc.data.astype(np.float64) - mu - before.user_bias_[csc.indices]
    Q, bi = ref.ridge_rows(csc.indptr, csc.indices, t_items, before.user_factors_,
                           lam(ci, 0.08), lam(ci, 0.03), biased)  # fmt: skip
    cu = np.diff(csr.indptr)
    t_users = csr.data.astype(np.float64) - mu - bi.astype(np.float32)[csr.indices]
    P, bu = ref.ridge_rows(csr.indptr, csr.indices, t_users, Q.astype(np.float32),
                           lam(cu, 0.08), lam(cu, 0.03), biased)  # fmt: skip
    np.testing.assert_allclose(after.item_factors_, Q, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(after.item_bias_, bi, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(after.user_factors_, P, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(after.user_bias_, bu, rtol=1e-3, atol=1e-4)
    # the reported training RMSE is the twin's residual SSE of the final state
    sse = ref.residual_sse(csr.indptr, csr.indices, csr.data, after.user_factors_,
                           after.item_factors_, after.user_bias_, after.item_bias_, mu)  # fmt: skip
    assert after.history_["train_rmse"][-1] == pytest.approx(np.sqrt(sse / len(data)), rel=1e-4)


def ridge_cg_reference(ptr, idx, targets, Q, X0, B0, lam_f, lam_b, fit_bias, steps):
    """The obvious NumPy twin of ``ridge_cg_rows``: plain CG on the formed system."""
    X, B = X0.astype(np.float64).copy(), B0.astype(np.float64).copy()
    k = Q.shape[1]
    for u in range(len(ptr) - 1):
        cols, t = idx[ptr[u] : ptr[u + 1]], targets[ptr[u] : ptr[u + 1]]
        if len(cols) == 0:
            continue
        Z = Q[cols].astype(np.float64)
        if fit_bias:
            Z = np.hstack([Z, np.ones((len(cols), 1))])
        lam = np.full(Z.shape[1], lam_f[u])
        if fit_bias:
            lam[k] = lam_b[u]
        A = Z.T @ Z + np.diag(lam)
        w = np.concatenate([X[u], [B[u]]]) if fit_bias else X[u].copy()
        r = Z.T @ t - A @ w
        p, rs = r.copy(), r @ r
        for _ in range(steps):
            if rs < 1e-30:
                break
            ap = A @ p
            alpha = rs / (p @ ap)
            w, r = w + alpha * p, r - alpha * ap
            rs, rs_old = r @ r, rs
            p = r + (rs / rs_old) * p
        X[u] = w[:k]
        if fit_bias:
            B[u] = w[k]
    return X, B


@pytest.mark.parametrize("fit_bias", [True, False])
@pytest.mark.parametrize("steps", [1, 3])
def test_ridge_cg_rows_matches_reference(one_thread, fit_bias, steps):
    ptr, idx, targets, Q, lam_f, lam_b = _problem(seed=4)
    rng = np.random.default_rng(5)
    X0 = rng.standard_normal((len(ptr) - 1, Q.shape[1])).astype(np.float32) * 0.1
    B0 = rng.standard_normal(len(ptr) - 1).astype(np.float32) * 0.1
    X, B = X0.copy(), B0.copy()
    ridge.ridge_cg_rows(ptr, idx, targets, Q, X, B, lam_f, lam_b, fit_bias, steps)
    X2, B2 = ridge_cg_reference(ptr, idx, targets, Q, X0, B0, lam_f, lam_b, fit_bias, steps)
    # the kernel's arithmetic is float32 (CG scalars float64), the twin's float64
    np.testing.assert_allclose(X, X2, rtol=5e-4, atol=5e-5)
    np.testing.assert_allclose(B, B2, rtol=5e-4, atol=5e-5)
    assert np.array_equal(X[3], X0[3])  # a row without ratings is left as it was
    assert not np.array_equal(X, X0)


def test_ridge_cg_rows_converges_to_the_exact_solve(one_thread):
    ptr, idx, targets, Q, lam_f, lam_b = _problem(seed=6)
    X = np.zeros((len(ptr) - 1, Q.shape[1]), np.float32)
    B = np.zeros(len(ptr) - 1, np.float32)
    ridge.ridge_cg_rows(ptr, idx, targets, Q, X, B, lam_f, lam_b, True, Q.shape[1] + 5)
    Xe, Be = ridge.ridge_rows(ptr, idx, targets, Q, lam_f, lam_b, True)
    np.testing.assert_allclose(X, Xe, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(B, Be, rtol=1e-3, atol=1e-4)


def test_ridge_cg_rows_same_bits_on_one_and_two_threads():
    ptr, idx, targets, Q, lam_f, lam_b = _problem(seed=7, n_rows=300, n_cols=80, k=8)
    before = numba.get_num_threads()
    out = {}
    try:
        for n in (1, 2):
            numba.set_num_threads(n)
            X = np.full((len(ptr) - 1, Q.shape[1]), 0.01, np.float32)
            B = np.zeros(len(ptr) - 1, np.float32)
            ridge.ridge_cg_rows(ptr, idx, targets, Q, X, B, lam_f, lam_b, True, 3)
            out[n] = (X, B)
    finally:
        numba.set_num_threads(before)
    assert np.array_equal(out[1][0], out[2][0]) and np.array_equal(out[1][1], out[2][1])


def test_als_cg_and_exact_reach_the_same_error(ml100k):
    from latentfactors.data import random_split
    from latentfactors.evaluation import evaluate

    train, test = random_split(ml100k.interactions, 0.2, seed=0)
    got = {}
    for solver in ("cg", "exact"):
        model = ALS(n_factors=20, n_epochs=8, solver=solver, random_state=0).fit(train)
        got[solver] = evaluate(model, test, metrics=["rmse"]).metrics["rmse"]
    assert got["cg"] == pytest.approx(got["exact"], abs=0.003), got


def test_ridge_cg_rows_offset_is_ridge_cg_rows_on_debiased_targets(one_thread):
    """The offset variant takes ``targets[t] - offset[indices[t]]`` in the kernel; its twin
    is ``ridge_cg_rows`` on targets de-biased beforehand (float32, as the kernel forms
    them), to float32 rounding (fastmath may contract the two differently); without
    ``use_offset`` the offset is ignored."""
    ptr, idx, targets, Q, lam_f, lam_b = _problem(seed=8)
    t32 = targets.astype(np.float32)
    offset = np.random.default_rng(9).standard_normal(Q.shape[0]).astype(np.float32)
    X0 = np.full((len(ptr) - 1, Q.shape[1]), 0.01, np.float32)
    B0 = np.zeros(len(ptr) - 1, np.float32)
    X, B = X0.copy(), B0.copy()
    ridge.ridge_cg_rows_offset(ptr, idx, t32, offset, True, Q, X, B, lam_f, lam_b, True, 3)
    X2, B2 = X0.copy(), B0.copy()
    ridge.ridge_cg_rows(ptr, idx, t32 - offset[idx], Q, X2, B2, lam_f, lam_b, True, 3)
    np.testing.assert_allclose(X, X2, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(B, B2, rtol=1e-5, atol=1e-6)
    assert not np.allclose(X, X0)
    X3, B3 = X0.copy(), B0.copy()
    ridge.ridge_cg_rows_offset(ptr, idx, t32, offset, False, Q, X3, B3, lam_f, lam_b, True, 3)
    X4, B4 = X0.copy(), B0.copy()
    ridge.ridge_cg_rows(ptr, idx, t32, Q, X4, B4, lam_f, lam_b, True, 3)
    np.testing.assert_allclose(X3, X4, rtol=1e-5, atol=1e-6)
    assert not np.allclose(X3, X, rtol=1e-3)  # the offset mattered


@pytest.mark.parametrize("use_offset", [True, False])
def test_ridge_cg_rows_offset_returns_the_starting_sse(use_offset):
    """The returned SSE is that of the starting point, by its NumPy twin: ``sum (t -
    offset[i] - b_u - x_u . q_i)^2`` over the CSR before the step (every remainder row of
    the two-at-a-time pass, and the empty row, included)."""
    ptr, idx, targets, Q, lam_f, lam_b = _problem(seed=10)
    rng = np.random.default_rng(11)
    t32 = targets.astype(np.float32)
    offset = rng.standard_normal(Q.shape[0]).astype(np.float32)
    X = rng.standard_normal((len(ptr) - 1, Q.shape[1])).astype(np.float32)
    B = rng.standard_normal(len(ptr) - 1).astype(np.float32)
    rows = np.repeat(np.arange(len(ptr) - 1), np.diff(ptr))
    t = t32.astype(np.float64) - (offset[idx] if use_offset else 0.0)
    err = t - B[rows] - np.einsum("ij,ij->i", X[rows].astype(np.float64), Q[idx])
    got = ridge.ridge_cg_rows_offset(ptr, idx, t32, offset, use_offset, Q, X, B, lam_f, lam_b,
                                     True, 2)  # fmt: skip
    assert got == pytest.approx(float(err @ err), rel=1e-5)


def ials_cg_reference(ptr, idx, conf, X0, Y, YtY, steps, lam=None):
    """The obvious NumPy twin of ``ials_cg_step`` / ``ials_cg_step_rows``: plain CG on
    the formed system ``(YtY + lam I + sum (c - 1) y y^T) x = sum c y``."""
    X = X0.astype(np.float64).copy()
    k = Y.shape[1]
    for u in range(len(ptr) - 1):
        cols, c = idx[ptr[u] : ptr[u + 1]], conf[ptr[u] : ptr[u + 1]].astype(np.float64)
        Yu = Y[cols].astype(np.float64)
        A = YtY.astype(np.float64) + (0.0 if lam is None else lam[u]) * np.eye(k)
        A += Yu.T @ ((c - 1)[:, None] * Yu)
        b = Yu.T @ c
        x = X[u]
        r = b - A @ x
        p, rs = r.copy(), r @ r
        for _ in range(steps):
            if rs < 1e-20:
                break
            ap = A @ p
            alpha = rs / (p @ ap)
            x, r = x + alpha * p, r - alpha * ap
            rs, rs_old = r @ r, rs
            p = r + (rs / rs_old) * p
        X[u] = x
    return X


@pytest.mark.parametrize("per_row", [False, True])
def test_ials_cg_steps_match_reference(one_thread, per_row):
    """iALS's CG kernels (four entries per pass, the k x k product in the kernel) against
    the NumPy twin, on rows of 0, 1, 2, 3, 5 and 6 entries and an odd k."""
    from latentfactors.kernels import ials

    ptr, idx, _, Y, lam_f, _ = _problem(seed=10, k=7)
    rng = np.random.default_rng(11)
    conf = (1.0 + 5.0 * rng.uniform(0, 1, len(idx))).astype(np.float32)
    gram = (Y.T @ Y).astype(np.float32)
    X0 = (rng.standard_normal((len(ptr) - 1, Y.shape[1])) * 0.1).astype(np.float32)
    X = X0.copy()
    if per_row:
        lam = lam_f.astype(np.float32)
        ials.ials_cg_step_rows(ptr, idx, conf, X, Y, gram, lam, 3)
        want = ials_cg_reference(ptr, idx, conf, X0, Y, gram, 3, lam)
    else:
        YtY = (gram + 0.3 * np.eye(Y.shape[1])).astype(np.float32)
        ials.ials_cg_step(ptr, idx, conf, X, Y, YtY, 3)
        want = ials_cg_reference(ptr, idx, conf, X0, Y, YtY, 3)
    np.testing.assert_allclose(X, want, rtol=2e-3, atol=2e-4)
    assert not np.allclose(X, X0)


def test_cg_rows_do_not_depend_on_their_neighbours(one_thread):
    """A row's CG result is the same bits whichever rows are solved with it (a Dask block
    holds any slice of the rows): the full CSR against slices starting at other rows."""
    from latentfactors.kernels import ials

    ptr, idx, targets, Q, lam_f, lam_b = _problem(seed=12, n_rows=300, n_cols=60, k=8)
    t32 = targets.astype(np.float32)
    offset = np.random.default_rng(13).standard_normal(Q.shape[0]).astype(np.float32)
    conf = (1.0 + np.abs(t32) * 4).astype(np.float32)
    YtY = (Q.T @ Q + 0.2 * np.eye(Q.shape[1])).astype(np.float32)
    X0 = (np.random.default_rng(14).standard_normal((len(ptr) - 1, Q.shape[1])) * 0.1).astype(
        np.float32
    )

    def solve(lo, hi):
        p = ptr[lo : hi + 1] - ptr[lo]
        i, t, c = (a[ptr[lo] : ptr[hi]] for a in (idx, t32, conf))
        X, B = X0[lo:hi].copy(), np.zeros(hi - lo, np.float32)
        ridge.ridge_cg_rows_offset(p, i, t, offset, True, Q, X, B, lam_f[lo:hi], lam_b[lo:hi],
                                   True, 3)  # fmt: skip
        Xi = X0[lo:hi].copy()
        ials.ials_cg_step(p, i, c, Xi, Q, YtY, 3)
        return X, B, Xi

    full = solve(0, len(ptr) - 1)
    for lo, hi in ((100, 300), (1, 299), (37, 200)):
        part = solve(lo, hi)
        for a, b in zip(part, full):
            assert np.array_equal(a, b[lo:hi])


@settings(max_examples=200, deadline=None)
@given(
    counts=st.lists(st.integers(0, 300), min_size=0, max_size=200),
    n_tasks=st.integers(0, 40),
    row_weight=st.integers(0, 80),
)
def test_balanced_bounds_cover_the_rows_in_even_shares(counts, n_tasks, row_weight):
    """The CG kernels' tasks: contiguous, in order, every row once, and no task heavier
    (entries plus ``row_weight`` per row, at least 1) than an even share plus one row's
    weight."""
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    n = len(counts)
    bounds = balanced_bounds(indptr, n_tasks, row_weight)
    assert len(bounds) == n_tasks + 1 and bounds[-1] == n
    if n_tasks == 0:
        return
    assert bounds[0] == 0 and np.all(np.diff(bounds) >= 0)
    weight = np.asarray(counts, dtype=np.int64) + max(1, row_weight)
    total = int(weight.sum())
    heaviest = int(weight.max()) if n else 0
    for c in range(n_tasks):
        assert weight[bounds[c] : bounds[c + 1]].sum() <= total / n_tasks + heaviest


def test_cg_tasks_weigh_rows_by_their_fixed_cost():
    """Many light rows against a few heavy ones: counted by entries alone, the light rows
    would all land in one task; weighed at 32 entries a row (ImplicitALS at k=64), they
    spread."""
    counts = np.r_[np.full(16, 400), np.full(2000, 1)]
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    cost = counts + 32

    def heaviest(row_weight):
        b = balanced_bounds(indptr, 8, row_weight)
        return max(cost[b[c] : b[c + 1]].sum() for c in range(8)) / (cost.sum() / 8)

    assert heaviest(32) < 1.2
    assert heaviest(1) > 1.5


def test_cg_tasks_balance_skewed_rows():
    """Rows cut by count would give one task nearly all of these ratings."""
    counts = np.r_[np.full(64, 500), np.full(960, 2)]
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    bounds = balanced_bounds(indptr, 16)
    per_task = [indptr[bounds[c + 1]] - indptr[bounds[c]] for c in range(16)]
    assert max(per_task) < 2 * (indptr[-1] / 16)
