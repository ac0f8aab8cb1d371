"""The NMF multiplicative-update kernel against its NumPy twin, on both sides (users by
CSR, items by CSC) and through the trainer's epoch; the same bits on 1 and 2 threads.

The twin lives in ``reference_implicit.py`` (``nmf_half_step``).
"""

import numba
import numpy as np
import pytest

from latentfactors.data import make_synthetic
from latentfactors.kernels import nmf
from latentfactors.models.nmf import NMF

from . import reference_implicit as ref


@pytest.fixture(scope="module")
def small():
    return make_synthetic(50, 35, 700, rank=3, seed=7).interactions


def _state(data, k=4, seed=0):
    rng = np.random.default_rng(seed)
    P = rng.uniform(0, 1, (data.n_users, k)).astype(np.float32)
    Q = rng.uniform(0, 1, (data.n_items, k)).astype(np.float32)
    bu = (rng.standard_normal(data.n_users) * 0.1).astype(np.float32)
    bi = (rng.standard_normal(data.n_items) * 0.1).astype(np.float32)
    return P, Q, bu, bi


@pytest.mark.parametrize("biased", [False, True])
@pytest.mark.parametrize("reg", [0.0, 0.06])
def test_item_side_matches_reference(small, one_thread, biased, reg):
    """The item half-step (CSC, roles swapped), with a zero user row that makes some
    denominators 0 when ``reg=0`` (those factors must be left as they are)."""
    P, Q, bu, bi = _state(small, seed=1)
    P[0] = 0.0
    Q2, bi2 = Q.copy(), bi.copy()
    csc = small.csc
    ptr, idx, val = csc.indptr.astype(np.int64), csc.indices, csc.data
    mu = 3.3 if biased else 0.0
    sse = nmf.nmf_half_step(ptr, idx, val, Q, P, bi, bu, mu, reg, 0.02, biased)
    sse2 = ref.nmf_half_step(ptr, idx, val, Q2, P, bi2, bu, mu, reg, 0.02, biased)
    np.testing.assert_allclose(Q, Q2, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(bi, bi2, rtol=1e-4, atol=1e-6)
    assert sse == pytest.approx(sse2, rel=1e-4)
    assert (Q >= 0).all() and np.isfinite(Q).all()


def test_same_bits_on_one_and_two_threads():
    data = make_synthetic(400, 150, 8000, rank=4, seed=8).interactions
    csr, csc = data.csr, data.csc
    before = numba.get_num_threads()
    try:
        out = {}
        for n in (1, 2):
            numba.set_num_threads(n)
            P, Q, bu, bi = _state(data, k=6, seed=2)
            for _ in range(3):
                nmf.nmf_half_step(csr.indptr.astype(np.int64), csr.indices, csr.data, P, Q,
                                  bu, bi, 3.5, 0.05, 0.02, True)  # fmt: skip
                sse = nmf.nmf_half_step(csc.indptr.astype(np.int64), csc.indices, csc.data,
                                        Q, P, bi, bu, 3.5, 0.05, 0.02, True)  # fmt: skip
            out[n] = (P, Q, bu, bi, sse)
    finally:
        numba.set_num_threads(before)
    for a, b in zip(out[1], out[2]):
        assert np.array_equal(a, b)


@pytest.mark.parametrize("biased", [False, True])
def test_nmf_epoch_is_user_then_item_half_step(small, one_thread, biased):
    """Epoch 3 from the state after epoch 2 equals the twin's user step then item step
    (``mu`` is the global mean when biased, 0 otherwise); the reported training RMSE is
    the twin's SSE after the item step."""
    params = dict(n_factors=4, reg=0.05, reg_bias=0.02, biased=biased, random_state=2)
    before = NMF(n_epochs=2, **params).fit(small)
    after = NMF(n_epochs=3, **params).fit(small)
    P, Q = before.user_factors_.copy(), before.item_factors_.copy()
    bu, bi = before.user_bias_.copy(), before.item_bias_.copy()
    mu = small.global_mean if biased else 0.0
    csr, csc = small.csr, small.csc
    ref.nmf_half_step(csr.indptr, csr.indices, csr.data, P, Q, bu, bi, mu, 0.05, 0.02, biased)
    sse = ref.nmf_half_step(csc.indptr, csc.indices, csc.data, Q, P, bi, bu, mu, 0.05, 0.02,
                            biased)  # fmt: skip
    np.testing.assert_allclose(after.user_factors_, P, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(after.item_factors_, Q, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(after.user_bias_, bu, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(after.item_bias_, bi, rtol=1e-4, atol=1e-6)
    assert after.history_["train_rmse"][-1] == pytest.approx(np.sqrt(sse / len(small)), rel=1e-4)
    assert after.intercept_ == pytest.approx(mu)
