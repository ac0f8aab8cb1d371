"""Explicit ALS and NMF kernels against their NumPy twins; thread independence."""

import numpy as np
import pytest

from latentfactors.data import make_synthetic
from latentfactors.kernels import nmf, ridge
from latentfactors.models import ALS, NMF, TruncatedSVD

from . import reference_implicit as ref


@pytest.fixture(scope="module")
def small():
    return make_synthetic(40, 30, 500, rank=3, seed=6).interactions


def test_residual_sse_matches_reference(small):
    rng = np.random.default_rng(0)
    P = rng.standard_normal((small.n_users, 4)).astype(np.float32)
    Q = rng.standard_normal((small.n_items, 4)).astype(np.float32)
    bu = rng.standard_normal(small.n_users).astype(np.float32)
    bi = rng.standard_normal(small.n_items).astype(np.float32)
    csr = small.csr
    args = (csr.indptr.astype(np.int64), csr.indices, csr.data, P, Q, bu, bi, 3.0)
    assert ridge.residual_sse(*args) == pytest.approx(ref.residual_sse(*args), rel=1e-5)


@pytest.mark.parametrize("biased", [False, True])
def test_nmf_half_step_matches_reference(small, one_thread, biased):
    rng = np.random.default_rng(1)
    P = rng.uniform(0, 1, (small.n_users, 4)).astype(np.float32)
    Q = rng.uniform(0, 1, (small.n_items, 4)).astype(np.float32)
    bu = np.zeros(small.n_users, np.float32)
    bi = rng.standard_normal(small.n_items).astype(np.float32) * 0.1
    P2, bu2 = P.copy(), bu.copy()
    csr = small.csr
    ptr, idx, val = csr.indptr.astype(np.int64), csr.indices, csr.data
    mu = 3.4 if biased else 0.0
    sse = nmf.nmf_half_step(ptr, idx, val, P, Q, bu, bi, mu, 0.06, 0.02, biased)
    sse2 = ref.nmf_half_step(ptr, idx, val, P2, Q, bu2, bi, mu, 0.06, 0.02, biased)
    np.testing.assert_allclose(P, P2, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(bu, bu2, rtol=1e-4, atol=1e-6)
    assert sse == pytest.approx(sse2, rel=1e-4)
    assert (P >= 0).all()


@pytest.mark.parametrize(
    "make",
    [
        lambda n: ALS(n_factors=6, n_epochs=3, n_threads=n, random_state=3),
        lambda n: NMF(n_factors=6, n_epochs=5, biased=True, n_threads=n, random_state=3),
    ],
    ids=["ALS", "NMF"],
)
def test_threads_do_not_change_results(make):
    data = make_synthetic(300, 200, 6000, seed=1).interactions
    one, two = make(1).fit(data), make(2).fit(data)
    assert np.array_equal(one.user_factors_, two.user_factors_)
    assert np.array_equal(one.item_bias_, two.item_bias_)


def test_als_weighted_penalty_and_exact_solve(small):
    model = ALS(n_factors=3, n_epochs=4, solver="exact", random_state=0).fit(small)
    # the final user rows are the exact ridge solve against the final item factors
    csr = small.csr
    targets = csr.data.astype(np.float64) - model.global_mean_ - model.item_bias_[csr.indices]
    counts = np.diff(csr.indptr)
    X, b = ref.ridge_rows(csr.indptr, csr.indices, targets, model.item_factors_,
                          0.1 * counts, 0.1 * counts, True)  # fmt: skip
    np.testing.assert_allclose(model.user_factors_, X, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(model.user_bias_, b, rtol=1e-3, atol=1e-4)


def test_nmf_factors_stay_non_negative():
    data = make_synthetic(200, 100, 4000, seed=2).interactions
    for biased in (False, True):
        model = NMF(n_factors=5, n_epochs=20, biased=biased, random_state=0).fit(data)
        assert (model.user_factors_ >= 0).all() and (model.item_factors_ >= 0).all()


def test_nmf_and_tsvd_parameter_errors(small):
    from latentfactors import InvalidParameterError

    with pytest.raises(InvalidParameterError, match=r"NMF: init_high=0.5 is invalid"):
        NMF(init_low=1.0, init_high=0.5).fit(small)
    with pytest.raises(
        InvalidParameterError,
        match=r"TruncatedSVD: n_factors=30 is invalid for "
        r"data with 40 users and 30 items; expected an integer < 30",
    ):
        TruncatedSVD(n_factors=30).fit(small)
    model = TruncatedSVD(n_factors=3, random_state=0).fit(small)
    assert np.all(np.diff(model.singular_values_) <= 0)
