"""ImplicitALS with frequency-scaled regularization (Rendle et al. 2021): kernels against a
NumPy twin, training, fold-in, explain and the loss with per-row penalties."""

from __future__ import annotations

import numpy as np
import pytest

from latentfactors import Interactions, InvalidParameterError
from latentfactors.data import make_synthetic
from latentfactors.kernels import ials
from latentfactors.models import ImplicitALS


@pytest.fixture(scope="module")
def small():
    return make_synthetic(40, 30, 400, rank=3, implicit=True, signal_std=2.0, seed=4).interactions


def _setup(data, k=4):
    rng = np.random.default_rng(0)
    X = (rng.standard_normal((data.n_users, k)) * 0.1).astype(np.float32)
    Y = (rng.standard_normal((data.n_items, k)) * 0.1).astype(np.float32)
    csr = data.csr
    conf = (1 + np.log1p(csr.data)).astype(np.float32)
    lam = np.linspace(0.05, 2.0, data.n_users).astype(np.float32)
    return X, Y, csr.indptr.astype(np.int64), csr.indices, conf, lam


def _exact(ptr, idx, conf, Y, lam):
    """Row u: (Y^T C_u Y + lam_u I)^-1 Y^T C_u p_u over all items, densely."""
    Y = Y.astype(np.float64)
    k = Y.shape[1]
    out = np.zeros((len(ptr) - 1, k))
    for u in range(len(ptr) - 1):
        c = np.ones(len(Y))
        p = np.zeros(len(Y))
        cols = idx[ptr[u] : ptr[u + 1]]
        c[cols] = conf[ptr[u] : ptr[u + 1]]
        p[cols] = 1.0
        A = (Y.T * c) @ Y + lam[u] * np.eye(k)
        out[u] = np.linalg.solve(A, (Y.T * c) @ p)
    return out


def test_per_row_kernels_match_reference(small, one_thread):
    X, Y, ptr, idx, conf, lam = _setup(small)
    YtY = (Y.T @ Y).astype(np.float32)
    exact = _exact(ptr, idx, conf, Y, lam)
    Xc = X.copy()
    ials.ials_cholesky_step_rows(ptr, idx, conf, Xc, Y, YtY, lam)
    np.testing.assert_allclose(Xc, exact, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(ials.ials_solve_rows_reg(ptr, idx, conf, Y, YtY, lam), Xc,
                               rtol=1e-5, atol=1e-6)  # fmt: skip
    errors = []
    for steps in (1, 3, 10):
        Xg = X.copy()
        ials.ials_cg_step_rows(ptr, idx, conf, Xg, Y, YtY, lam, steps)
        errors.append(np.abs(Xg - exact).max())
    assert errors[0] > errors[2] and errors[2] < 1e-3
    # one penalty for every row: the unscaled kernels
    same = np.full(len(lam), 0.3, np.float32)
    a, b = X.copy(), X.copy()
    ials.ials_cg_step_rows(ptr, idx, conf, a, Y, YtY, same, 3)
    ials.ials_cg_step(ptr, idx, conf, b, Y, (YtY + 0.3 * np.eye(4)).astype(np.float32), 3)
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_penalties_follow_the_paper(small):
    m = ImplicitALS(reg=0.01, reg_scaling="frequency", reg_alpha0=0.5, reg_nu=0.8)
    got = m._row_reg(np.array([0, 3, 10]), 30)
    np.testing.assert_allclose(got, 0.01 * (np.array([0, 3, 10]) + 0.5 * 30) ** 0.8, rtol=1e-6)
    assert ImplicitALS()._row_reg(np.array([1]), 30) is None


@pytest.mark.parametrize("solver", ["cg", "cholesky"])
def test_nu_zero_is_the_unscaled_model(small, solver):
    kw = dict(n_factors=4, n_epochs=4, solver=solver, reg=2.0, random_state=1)
    plain = ImplicitALS(**kw).fit(small)
    flat = ImplicitALS(reg_scaling="frequency", reg_nu=0.0, **kw).fit(small)
    np.testing.assert_allclose(flat.user_factors_, plain.user_factors_, rtol=1e-4, atol=1e-5)
    scaled = ImplicitALS(reg_scaling="frequency", **dict(kw, reg=0.05)).fit(small)
    assert not np.allclose(scaled.user_factors_, plain.user_factors_, atol=1e-3)
    default = ImplicitALS(**kw).fit(small)  # the default is unchanged
    assert np.array_equal(default.user_factors_, plain.user_factors_)


@pytest.mark.parametrize("solver", ["cg", "cholesky"])
def test_training_threads_fold_in_and_explain(small, solver):
    kw = dict(n_factors=4, n_epochs=5, solver=solver, reg=0.05, reg_scaling="frequency",
              random_state=2, compute_loss=True)  # fmt: skip
    one = ImplicitALS(n_threads=1, **kw).fit(small)
    two = ImplicitALS(n_threads=2, **kw).fit(small)
    assert np.array_equal(one.user_factors_, two.user_factors_)
    loss = one.history_["train_loss"]
    assert np.all(np.isfinite(loss)) and loss[-1] < loss[0]
    # fold-in of a training user's row: the exact solve with that user's penalty
    row = int(np.argmax(small.user_counts))
    mask = small.user_ids == row
    new = Interactions.from_arrays(["copy"] * int(mask.sum()),
                                   small.items.ids(small.item_ids[mask]),
                                   weights=small.values[mask])  # fmt: skip
    fold = one.fold_in(new, update=False)
    csr = small.csr
    lam = one._row_reg(np.diff(csr.indptr), small.n_items)
    conf = one._conf(csr.data)
    want = _exact(csr.indptr, csr.indices, conf, one.item_factors_, lam)[row]
    np.testing.assert_allclose(fold.factors[0], want, rtol=1e-3, atol=1e-5)
    if solver == "cholesky":  # the last user step is that same solve
        np.testing.assert_allclose(one.user_factors_[row], want, rtol=1e-3, atol=1e-5)
    ex = one.explain(small.users.raw[row], small.items.raw[0])
    assert ex.score == pytest.approx(float(want @ one.item_factors_[0]), rel=1e-3, abs=1e-6)


def test_loss_with_per_row_penalties(small):
    m = ImplicitALS(n_factors=3, n_epochs=2, reg=0.1, reg_scaling="frequency",
                    compute_loss=True, random_state=0).fit(small)  # fmt: skip
    X, Y = m.user_factors_.astype(np.float64), m.item_factors_.astype(np.float64)
    dense = np.zeros((small.n_users, small.n_items))
    C = np.ones_like(dense)
    csr = small.csr
    for u in range(small.n_users):
        cols = csr.indices[csr.indptr[u] : csr.indptr[u + 1]]
        dense[u, cols] = 1.0
        C[u, cols] = m._conf(csr.data[csr.indptr[u] : csr.indptr[u + 1]])
    lam_u = m._row_reg(np.diff(csr.indptr), small.n_items)
    lam_i = m._row_reg(np.diff(small.csc.indptr), small.n_users)
    want = np.sum(C * (dense - X @ Y.T) ** 2) + lam_u @ (X**2).sum(1) + lam_i @ (Y**2).sum(1)
    assert m.history_["train_loss"][-1] == pytest.approx(want / csr.nnz, rel=1e-4)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"reg_scaling": "count"}, r"ImplicitALS: reg_scaling='count' is invalid; expected one "
         r"of 'none', 'frequency'"),
        ({"reg_alpha0": -1.0}, r"reg_alpha0=-1.0 is invalid; expected a number >= 0.0"),
        ({"reg_nu": "1"}, r"reg_nu='1' is invalid; expected a number >= 0.0"),
    ],
)  # fmt: skip
def test_bad_parameters(small, params, message):
    with pytest.raises(InvalidParameterError, match=message):
        ImplicitALS(**params).fit(small)
