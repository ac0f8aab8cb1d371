"""The SGD kernels equal their NumPy twins and give the same result on 1 and 2 threads."""

import numpy as np
import pytest

from latentfactors.data import make_synthetic
from latentfactors.kernels import sgd
from latentfactors.models._strata import stratify

from . import reference_sgd as ref

RATES = {"bu": 0.01, "bi": 0.012, "pu": 0.02, "qi": 0.018, "yj": 0.007}
REGS = {"bu": 0.02, "bi": 0.03, "pu": 0.05, "qi": 0.06, "yj": 0.04}


@pytest.fixture(scope="module")
def small():
    return make_synthetic(40, 30, 500, rank=3, seed=5).interactions


def factors(data, k=4, seed=0):
    rng = np.random.default_rng(seed)
    P = (rng.standard_normal((data.n_users, k)) * 0.1).astype(np.float32)
    Q = (rng.standard_normal((data.n_items, k)) * 0.1).astype(np.float32)
    return P, Q


def test_splitmix_matches_reference():
    from latentfactors.kernels._rng import splitmix64

    for x in (0, 1, 12345, 2**63 + 7):
        assert int(splitmix64(np.uint64(x))) == ref.splitmix64(x)


def test_shuffle_matches_reference_and_permutes(small):
    nb = 4
    st = stratify(small, nb, seed=3)
    block_ptr, u, i, r = st.block_ptr, st.users, st.items, st.ratings
    u2, i2, r2 = u.copy(), i.copy(), r.copy()
    sgd.shuffle_blocks(block_ptr, u, i, r, 99, 2)
    ref.shuffle_blocks(block_ptr, u2, i2, r2, 99, 2)
    assert np.array_equal(u, u2) and np.array_equal(i, i2) and np.array_equal(r, r2)
    # a permutation within each block
    for b in range(nb * nb):
        s, e = block_ptr[b], block_ptr[b + 1]
        st0 = stratify(small, nb, seed=3)
        u0, i0 = st0.users, st0.items
        assert sorted(zip(u[s:e], i[s:e])) == sorted(zip(u0[s:e], i0[s:e]))


def test_svd_epoch_matches_reference(small, one_thread):
    nb = 3
    st = stratify(small, nb, seed=1)
    block_ptr, u, i, r = st.block_ptr, st.users, st.items, st.ratings
    P, Q = factors(small)
    bu = np.zeros(small.n_users, np.float32)
    bi = np.zeros(small.n_items, np.float32)
    P2, Q2, bu2, bi2 = P.copy(), Q.copy(), bu.copy(), bi.copy()
    mu = np.float32(small.global_mean)
    f = {k: np.float32(v) for k, v in RATES.items()}
    g = {k: np.float32(v) for k, v in REGS.items()}
    rates = (f["bu"], f["bi"], f["pu"], f["qi"], g["bu"], g["bi"], g["pu"], g["qi"])
    u0, i0, r0 = u.copy(), i.copy(), r.copy()
    # chunks of 5 and 7: many per block (about 55 ratings), the last one short
    for epoch, chunk in ((0, 5), (1, 5), (2, 7)):
        sse = sgd._svd_epoch(block_ptr, u, i, r, P, Q, bu, bi, mu, *rates, True, nb, 0, 8,
                             epoch, chunk)  # fmt: skip
        sse2 = ref.svd_epoch(block_ptr, u, i, r, P2, Q2, bu2, bi2, mu, f, g, True, nb, 8,
                             epoch, chunk)  # fmt: skip
        assert sse == pytest.approx(sse2, rel=1e-4)
    # the default chunk, through the public wrapper
    sse = sgd.svd_epoch(block_ptr, u, i, r, P, Q, bu, bi, mu, *rates, True, nb, 8, 3)
    sse2 = ref.svd_epoch(block_ptr, u, i, r, P2, Q2, bu2, bi2, mu, f, g, True, nb, 8, 3,
                         sgd.ORDER_CHUNK)  # fmt: skip
    assert sse == pytest.approx(sse2, rel=1e-4)
    # the epochs visit the ratings in place: nothing moved
    assert np.array_equal(u, u0) and np.array_equal(i, i0) and np.array_equal(r, r0)
    np.testing.assert_allclose(P, P2, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(Q, Q2, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(bu, bu2, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(bi, bi2, rtol=1e-4, atol=1e-6)


def test_svd_epoch_unbiased_leaves_biases(small, one_thread):
    st = stratify(small, 2, seed=1)
    block_ptr, u, i, r = st.block_ptr, st.users, st.items, st.ratings
    P, Q = factors(small)
    bu = np.zeros(small.n_users, np.float32)
    bi = np.zeros(small.n_items, np.float32)
    lr, reg = np.float32(0.01), np.float32(0.02)
    sgd.svd_epoch(block_ptr, u, i, r, P, Q, bu, bi, np.float32(3), lr, lr, lr, lr, reg, reg, reg,
                  reg, False, 2, 0, 0)  # fmt: skip
    assert not bu.any() and not bi.any()


def test_svdpp_kernels_match_reference(small, one_thread):
    nb = 3
    st = stratify(small, nb, seed=2)
    block_ptr, u, i, r = st.block_ptr, st.users, st.items, st.ratings
    P, Q = factors(small, seed=1)
    Y = factors(small, seed=2)[1]
    csr = small.csr
    Z = np.zeros_like(P)
    sgd.svdpp_implicit_sums(csr.indptr, csr.indices, Y, Z)
    np.testing.assert_allclose(Z, ref.svdpp_implicit_sums(csr.indptr, csr.indices, Y), rtol=1e-5)
    G = np.zeros_like(P)
    bu = np.zeros(small.n_users, np.float32)
    bi = np.zeros(small.n_items, np.float32)
    norm = (1 / np.sqrt(small.user_counts)).astype(np.float32)
    mu = np.float32(small.global_mean)
    f = {k: np.float32(v) for k, v in RATES.items()}
    g = {k: np.float32(v) for k, v in REGS.items()}
    P2, Q2, Z2, G2, bu2, bi2 = (a.copy() for a in (P, Q, Z, G, bu, bi))
    sse = sgd.svdpp_epoch(block_ptr, u, i, r, P, Q, Z, G, bu, bi, mu, f["bu"], f["bi"], f["pu"],
                          f["qi"], g["bu"], g["bi"], g["pu"], g["qi"], nb)  # fmt: skip
    sse2 = ref.svdpp_epoch(block_ptr, u, i, r, P2, Q2, Z2, G2, bu2, bi2, mu, f, g, nb)
    assert sse == pytest.approx(sse2, rel=1e-4)
    for got, want in zip((P, Q, G, bu, bi), (P2, Q2, G2, bu2, bi2)):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)
    csc = small.csc
    Y2 = Y.copy()
    sgd.svdpp_update_y(csc.indptr, csc.indices, Y, G, norm, f["yj"], g["yj"])
    ref.svdpp_update_y(csc.indptr, csc.indices, Y2, G, norm, f["yj"], g["yj"])
    np.testing.assert_allclose(Y, Y2, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("model_name", ["SVD", "SVDpp", "Baseline-sgd"])
def test_same_seed_same_model_on_1_and_2_threads(model_name):
    from latentfactors.models import SVD, Baseline, SVDpp

    data = make_synthetic(300, 200, 6000, seed=1).interactions
    make = {
        "SVD": lambda n: SVD(n_factors=8, n_epochs=4, n_threads=n, random_state=11),
        "SVDpp": lambda n: SVDpp(n_factors=8, n_epochs=4, n_threads=n, random_state=11),
        "Baseline-sgd": lambda n: Baseline(method="sgd", n_threads=n, random_state=11),
    }[model_name]
    one, two = make(1).fit(data), make(2).fit(data)
    for attr in ("user_factors_", "item_factors_", "user_bias_", "item_bias_"):
        assert np.array_equal(getattr(one, attr), getattr(two, attr)), attr
    other = make(2).set_params(random_state=12).fit(data)
    assert (
        not np.array_equal(one.item_factors_, other.item_factors_) or model_name == "Baseline-sgd"
    )


@pytest.mark.parametrize("nb", [1, 4, 20])
def test_stratify_deals_balanced_groups_and_keeps_every_rating(nb):
    """Item groups get ~1/B of the items and of the ratings (on Zipf-like data; a plain
    random deal does not), blocks hold each rating once, in the right block."""
    data = make_synthetic(4000, 3000, 200_000, implicit=True, seed=0).interactions
    st = stratify(data, nb, seed=5)
    assert st.block_ptr[-1] == len(data)
    assert np.array_equal(np.sort(st.user_new), np.arange(data.n_users))
    assert np.array_equal(np.sort(st.item_new), np.arange(data.n_items))
    sizes = np.diff(st.item_group_ptr)
    assert sizes.max() - sizes.min() <= 1
    counts = np.bincount(data.item_ids, minlength=data.n_items)
    igroup = np.searchsorted(st.item_group_ptr, st.items, side="right") - 1
    load = np.bincount(igroup, minlength=nb)
    assert load.max() - load.min() <= counts.max()  # the snake draft's guarantee
    random_deal = np.random.default_rng(0).permutation(data.n_items) * nb // data.n_items
    random_load = np.bincount(random_deal[data.item_ids], minlength=nb)
    if nb == 20:
        assert random_load.max() - random_load.min() > counts.max()  # the problem it solves
    # every rating survives, in the block of its (user group, item group)
    got = set(zip(st.user_order[st.users].tolist(), st.item_order[st.items].tolist()))
    assert got == set(zip(data.user_ids.tolist(), data.item_ids.tolist()))
    blk = np.repeat(np.arange(nb * nb), np.diff(st.block_ptr))
    assert np.array_equal(blk % nb, igroup)
    # same seed, same deal; another seed, another deal
    assert np.array_equal(stratify(data, nb, seed=5).item_new, st.item_new)
    if nb > 1:
        assert not np.array_equal(stratify(data, nb, seed=6).item_new, st.item_new)


@pytest.mark.parametrize("ahead", [1, 4, 16])
def test_prefetching_changes_nothing(small, ahead):
    """The SGD kernels prefetch the rows of the update ``ahead`` positions on when the
    factors outgrow the cache; a prefetch is only a hint, so every bit of the result is
    the one without it (block edges, where the look-ahead stops, included)."""
    nb = 3
    st = stratify(small, nb, seed=4)
    f = {k: np.float32(v) for k, v in RATES.items()}
    g = {k: np.float32(v) for k, v in REGS.items()}
    rates = (f["bu"], f["bi"], f["pu"], f["qi"], g["bu"], g["bi"], g["pu"], g["qi"])
    mu = np.float32(small.global_mean)
    out = []
    for dist in (0, ahead):
        P, Q = factors(small, k=40, seed=3)  # rows of 160 bytes: 3 or 4 cache lines
        bu, bi = np.zeros(small.n_users, np.float32), np.zeros(small.n_items, np.float32)
        # chunks of 6: the look-ahead crosses chunk edges (into the next chunk visited)
        sse = sgd._svd_epoch(st.block_ptr, st.users, st.items, st.ratings, P, Q, bu, bi, mu,
                             *rates, True, nb, dist, 0, 1, 6)  # fmt: skip
        Z, G = factors(small, k=40, seed=5)[0], np.zeros((small.n_users, 40), np.float32)
        sse2 = sgd._svdpp_epoch(st.block_ptr, st.users, st.items, st.ratings, P, Q, Z, G, bu,
                                bi, mu, *rates, nb, dist)  # fmt: skip
        out.append((sse, sse2, P, Q, G, bu, bi))
    for a, b in zip(*out):
        assert np.array_equal(a, b)


def test_prefetch_distance_by_size():
    from latentfactors.kernels._prefetch import AHEAD, PREFETCH_BYTES, prefetch_distance

    small = np.zeros((1000, 64), np.float32)
    big = np.zeros((PREFETCH_BYTES // 256 + 1, 64), np.float32)
    assert prefetch_distance(small, small) == 0
    assert prefetch_distance(big, small) == AHEAD
