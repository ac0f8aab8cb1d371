import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from latentfactors.data import interactions as inter
from latentfactors.data.interactions import Interactions
from latentfactors.kernels.sorting import block_layout, counting_order


@given(st.lists(st.integers(0, 9), max_size=300), st.integers(0, 5))
def test_counting_order_is_numpys_stable_argsort(keys, extra):
    keys = np.array(keys, dtype=np.int32)
    want = np.argsort(keys, kind="stable")
    got = counting_order(keys, 10 + extra)
    assert got.dtype == np.int64
    assert np.array_equal(got, want)


@pytest.mark.parametrize("policy", ["first", "last", "mean", "sum"])
def test_large_data_path_matches_small_data_path(monkeypatch, policy):
    """Above _COUNTING_SORT_ROWS the (user, item) order comes from two counting passes;
    the container must come out identical, duplicates policies included."""
    rng = np.random.default_rng(0)
    u = rng.integers(0, 50, 3000)
    i = rng.integers(0, 40, 3000)
    r = rng.integers(1, 6, 3000).astype(float)
    small = Interactions.from_arrays(u, i, ratings=r, duplicates=policy)
    monkeypatch.setattr(inter, "_COUNTING_SORT_ROWS", 10)
    large = Interactions.from_arrays(u, i, ratings=r, duplicates=policy)
    for name in ("user_ids", "item_ids", "values"):
        assert np.array_equal(getattr(small, name), getattr(large, name)), name
    assert (small.csc != large.csc).nnz == 0


def block_layout_numpy(u, i, r, ugroup, igroup, unew, inew, nb):
    """NumPy twin: stable argsort of the block numbers, then three gathers."""
    block = ugroup[u].astype(np.int64) * nb + igroup[i]
    order = np.argsort(block, kind="stable")
    ptr = np.zeros(nb * nb + 1, dtype=np.int64)
    np.cumsum(np.bincount(block, minlength=nb * nb), out=ptr[1:])
    return ptr, unew[u[order]], inew[i[order]], r[order]


@given(
    st.sampled_from([(1, np.int16), (4, np.int16), (6, np.int16), (200, np.int32)]),
    st.integers(0, 400),
    st.integers(0, 2**31 - 1),
)
def test_block_layout_is_argsort_and_gathers(nb_dtype, n, seed):
    """Both group dtypes that stratify uses (int32 from 182 groups on: 182**2 > 2**15)."""
    nb, dtype = nb_dtype
    rng = np.random.default_rng(seed)
    n_users, n_items = 300, 250
    u = rng.integers(0, n_users, n).astype(np.int32)
    i = rng.integers(0, n_items, n).astype(np.int32)
    r = rng.random(n).astype(np.float32)
    ugroup = rng.integers(0, nb, n_users).astype(dtype)
    igroup = rng.integers(0, nb, n_items).astype(dtype)
    unew = rng.permutation(n_users).astype(np.int32)
    inew = rng.permutation(n_items).astype(np.int32)
    got = block_layout(u, i, r, ugroup, igroup, unew, inew, nb)
    want = block_layout_numpy(u, i, r, ugroup, igroup, unew, inew, nb)
    for g, w in zip(got, want):
        assert g.dtype == w.dtype and np.array_equal(g, w)
