"""TruncatedSVD: exact against NumPy's SVD on a dense matrix, the structure of its factors
and biases, both solvers, parameter errors, reproducibility. Shared behaviour is in
test_common.py."""

import sys

import numpy as np
import pytest

from latentfactors import Interactions, InvalidParameterError
from latentfactors.data import make_synthetic, random_split
from latentfactors.models.truncated_svd import TruncatedSVD

NOISE = 0.3


@pytest.fixture(scope="module")
def planted():
    syn = make_synthetic(600, 400, 30_000, rank=5, noise=NOISE, seed=0)
    return random_split(syn.interactions, 0.2, seed=0)


def rmse(pred, data):
    return float(np.sqrt(np.mean((pred - data.values) ** 2)))


def predict(model, data):
    return model.predict(data.users.ids(data.user_ids), data.items.ids(data.item_ids))


def test_not_iterative_one_pass():
    assert TruncatedSVD.iterative is False
    data = make_synthetic(80, 60, 1500, seed=0).interactions
    model = TruncatedSVD(n_factors=3, random_state=0).fit(data)
    assert model.history_["epoch"] == [1]


@pytest.mark.parametrize(("solver", "tol"), [("arpack", 1e-4), ("randomized", 1e-2)])
def test_exact_on_a_fully_observed_matrix(solver, tol):
    """With every cell observed the residual matrix is dense, and the model is its best
    rank-k approximation (Eckart-Young): it must equal NumPy's dense SVD truncated
    (to float32 precision with ARPACK; the randomized solver is an approximation, and the
    trailing noise spectrum here is flat, its hardest case)."""
    rng = np.random.default_rng(0)
    n_users, n_items, k = 40, 30, 3
    R = 3 + rng.standard_normal((n_users, 2)) @ rng.standard_normal((2, n_items))
    R += 0.5 * rng.standard_normal(R.shape)
    u, i = np.divmod(np.arange(n_users * n_items), n_items)
    data = Interactions.from_arrays(u, i, ratings=R.ravel())
    model = TruncatedSVD(n_factors=k, biased=False, solver=solver, random_state=0).fit(data)
    resid = data.csr.toarray().astype(np.float64) - data.global_mean
    U, S, Vt = np.linalg.svd(resid)
    best = (U[:, :k] * S[:k]) @ Vt[:k]
    got = model.user_factors_.astype(np.float64) @ model.item_factors_.T
    np.testing.assert_allclose(model.singular_values_, S[:k], rtol=tol)
    np.testing.assert_allclose(got, best, atol=tol * np.abs(best).max())
    assert model.intercept_ == pytest.approx(data.global_mean)
    assert not model.user_bias_.any() and not model.item_bias_.any()


def test_factors_are_scaled_singular_vectors(planted):
    """``P = U sqrt(S)``, ``Q = V sqrt(S)``: ``P^T P = Q^T Q = diag(S)``, S decreasing."""
    train, _ = planted
    model = TruncatedSVD(n_factors=6, random_state=0).fit(train)
    S = model.singular_values_
    assert S.shape == (6,) and np.all(np.diff(S) <= 0) and S[-1] > 0
    for F in (model.user_factors_, model.item_factors_):
        assert F.dtype == np.float32
        np.testing.assert_allclose(F.T.astype(np.float64) @ F, np.diag(S), atol=1e-3 * S[0])


def test_biases_are_the_regularized_alternating_solution(planted):
    """After enough passes the biases are a fixed point of
    ``b_i = sum(r - mu - b_u) / (reg_i + n_i)``, ``b_u = sum(r - mu - b_i) / (reg_u + n_u)``."""
    train, _ = planted
    model = TruncatedSVD(n_factors=2, reg_u=4.0, reg_i=2.0, bias_epochs=60, random_state=0)
    model.fit(train)
    u, i, r = train.user_ids, train.item_ids, train.values.astype(np.float64)
    mu, bu, bi = train.global_mean, model.user_bias_.astype(np.float64), model.item_bias_
    bi_fix = np.bincount(i, r - mu - bu[u], train.n_items) / (train.item_counts + 2.0)
    bu_fix = np.bincount(u, r - mu - bi_fix[i], train.n_users) / (train.user_counts + 4.0)
    np.testing.assert_allclose(bi, bi_fix, atol=1e-4)
    np.testing.assert_allclose(bu, bu_fix, atol=1e-4)


def test_planted_factors_loosely(planted):
    # missing ratings count as zero residuals, which shrinks the factors toward 0 (here
    # only 12% of cells are observed), so the error stays well above the noise level
    # (0.69 vs 0.3); the factors must still improve on the model's own biases, and on
    # the global mean by a clear margin
    train, test = planted
    model = TruncatedSVD(n_factors=5, random_state=0).fit(train)
    got = rmse(predict(model, test), test)
    biases_only = model.global_mean_ + model.user_bias_[test.user_ids]
    biases_only = np.clip(biases_only + model.item_bias_[test.item_ids], 1, 5)
    assert got < rmse(biases_only, test) - 0.02
    global_mean = rmse(np.full(len(test), train.global_mean), test)
    assert got < 0.85 * global_mean


def test_solvers_agree(planted):
    train, _ = planted
    a = TruncatedSVD(n_factors=4, solver="arpack", random_state=0).fit(train)
    b = TruncatedSVD(n_factors=4, solver="randomized", random_state=0).fit(train)
    np.testing.assert_allclose(a.singular_values_, b.singular_values_, rtol=1e-2)
    np.testing.assert_array_equal(a.user_bias_, b.user_bias_)


def test_randomized_without_sklearn_says_what_is_missing(planted, monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)  # makes `import sklearn` fail
    match = r"solver='randomized' needs scikit-learn.*solver='arpack'"
    with pytest.raises(InvalidParameterError, match=match):
        TruncatedSVD(n_factors=3, solver="randomized").fit(planted[0])


def test_n_factors_must_be_below_the_smaller_dimension():
    data = make_synthetic(25, 12, 120, seed=2).interactions
    assert data.shape == (24, 12)  # one user drew no rating
    with pytest.raises(
        InvalidParameterError,
        match=r"TruncatedSVD: n_factors=12 is invalid for data with 24 users and 12 items; "
        r"expected an integer < 12",
    ):
        TruncatedSVD(n_factors=12).fit(data)
    assert TruncatedSVD(n_factors=11, random_state=0).fit(data).n_factors_ == 11


@pytest.mark.parametrize(
    ("params", "match"),
    [
        (dict(n_factors=0), r"TruncatedSVD: n_factors=0 is invalid; expected an integer >= 1"),
        (dict(biased="yes"), r"TruncatedSVD: biased='yes' is invalid; expected True or False"),
        (dict(reg_u=-1.0), r"TruncatedSVD: reg_u=-1.0 is invalid; expected a number >= 0.0"),
        (dict(reg_i=float("inf")), r"TruncatedSVD: reg_i=inf is invalid"),
        (dict(bias_epochs=0), r"TruncatedSVD: bias_epochs=0 is invalid; expected an integer >= 1"),
        (dict(solver="lanczos"),
         r"TruncatedSVD: solver='lanczos' is invalid; expected one of 'arpack', 'randomized'"),
    ],
)  # fmt: skip
def test_bad_parameters_name_the_value(planted, params, match):
    with pytest.raises(InvalidParameterError, match=match):
        TruncatedSVD(**params).fit(planted[0])


@pytest.mark.parametrize("solver", ["arpack", "randomized"])
def test_same_seed_same_factors(planted, solver):
    train, _ = planted
    a = TruncatedSVD(n_factors=5, solver=solver, random_state=3).fit(train)
    b = TruncatedSVD(n_factors=5, solver=solver, random_state=3).fit(train)
    assert np.array_equal(a.user_factors_, b.user_factors_)
    assert np.array_equal(a.item_factors_, b.item_factors_)
