import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from latentfactors.data import interactions as inter
from latentfactors.data.interactions import Interactions
from latentfactors.exceptions import DataError
from latentfactors.kernels.sorting import block_layout, transpose


@given(
    st.lists(st.tuples(st.integers(0, 6), st.integers(0, 9)), max_size=300),
    st.integers(0, 5),
)
def test_transpose_is_a_stable_argsort_and_two_gathers(pairs, extra):
    """NumPy twin of ``transpose`` (a CSR in, its CSC out): ``np.argsort(cols,
    kind="stable")``, then gathers of the row numbers and values; any number of tasks."""
    pairs = sorted(set(pairs))
    rows = np.array([p[0] for p in pairs], dtype=np.int32)
    cols = np.array([p[1] for p in pairs], dtype=np.int32)
    indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=7))]).astype(np.int64)
    vals = np.linspace(0, 1, len(cols)).astype(np.float32)
    order = np.argsort(cols, kind="stable")
    want_ptr = np.concatenate([[0], np.cumsum(np.bincount(cols, minlength=10 + extra))])
    for tasks in (1, 3, 8, 400):
        ptr, r, v = transpose(indptr, cols, vals, 10 + extra, tasks)
        assert ptr.dtype == np.int64 and r.dtype == np.int32 and v.dtype == np.float32
        assert np.array_equal(ptr, want_ptr), tasks
        assert np.array_equal(r, rows[order]) and np.array_equal(v, vals[order]), tasks


@pytest.mark.parametrize("policy", ["first", "last", "mean", "sum"])
def test_large_data_path_matches_small_data_path(monkeypatch, policy):
    """Above _COUNTING_SORT_ROWS the (user, item) order comes from ``sorted_pairs`` and the
    CSC from ``transpose`` (numba); the container must come out identical, duplicates
    policies included, already-sorted input too."""
    rng = np.random.default_rng(0)
    u = rng.integers(0, 50, 3000)
    i = rng.integers(0, 40, 3000)
    r = rng.integers(1, 6, 3000).astype(float)
    ts = rng.integers(0, 10**9, 3000)
    small = Interactions.from_arrays(u, i, ratings=r, duplicates=policy)
    small_ts = Interactions.from_arrays(u, i, ratings=r, timestamps=ts, duplicates=policy)
    monkeypatch.setattr(inter, "_COUNTING_SORT_ROWS", 10)
    large = Interactions.from_arrays(u, i, ratings=r, duplicates=policy)
    large_ts = Interactions.from_arrays(u, i, ratings=r, timestamps=ts, duplicates=policy)
    for name in ("user_ids", "item_ids", "values"):
        assert np.array_equal(getattr(small, name), getattr(large, name)), name
        assert np.array_equal(getattr(small_ts, name), getattr(large_ts, name)), name
    assert np.array_equal(small_ts.timestamps, large_ts.timestamps)
    assert (small.csc != large.csc).nnz == 0  # numba's transpose against argsort + gathers
    keep = np.unique(u.astype(np.int64) * 40 + i, return_index=True)[1]  # no repeats
    r32 = r.astype(np.float32)  # float32 ratings: validated without a float64 copy
    a = Interactions.from_arrays(u[keep[::-1]], i[keep[::-1]], ratings=r32[keep[::-1]])
    again = Interactions.from_arrays(a.user_ids, a.item_ids, ratings=a.values)  # sorted input
    for name in ("user_ids", "item_ids", "values"):
        assert np.array_equal(getattr(again, name), getattr(a, name)), name
    monkeypatch.setattr(inter, "_COUNTING_SORT_ROWS", 10**9)
    b = Interactions.from_arrays(u[keep[::-1]], i[keep[::-1]], ratings=r32[keep[::-1]])
    for name in ("user_ids", "item_ids", "values"):  # scatter + per-row sort vs argsort
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    with pytest.raises(
        DataError, match=r"transpose needs one value per interaction \(\d+\), got 2"
    ):
        large.transpose(np.zeros(2))


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
    want = block_layout_numpy(u, i, r, ugroup, igroup, unew, inew, nb)
    for chunk in (1 << 20, 7, 1):  # one chunk, several, one entry each (parallel scatter)
        got = block_layout(u, i, r, ugroup, igroup, unew, inew, nb, chunk)
        for g, w in zip(got, want):
            assert g.dtype == w.dtype and np.array_equal(g, w)


@given(
    st.lists(st.tuples(st.integers(0, 7), st.integers(0, 5)), max_size=200),
    st.sampled_from([np.int32, np.int64]),
)
def test_sorted_pairs_of_positions_is_numpys_stable_lexsort(pairs, order_dtype):
    """``sorted_pairs`` carrying positions against its NumPy twin ``np.lexsort((cols,
    rows))`` (stable), with the CSR row starts and the count of repeated pairs;
    ``pairs_sorted_unique`` against the strictly-increasing check on int64 keys."""
    from latentfactors.kernels.sorting import pairs_sorted_unique, sorted_pairs

    rows = np.array([p[0] for p in pairs], dtype=np.int32)
    cols = np.array([p[1] for p in pairs], dtype=np.int32)
    want = np.lexsort((cols, rows))
    for tasks in (1, 3, 8, 300):  # the parallel scatter's stretches: same result for any
        ptr, _, order, repeats = sorted_pairs(rows, cols, np.arange(len(rows), dtype=order_dtype),
                                              8, 6, tasks)  # fmt: skip
        assert np.array_equal(order, want), tasks
    assert np.array_equal(ptr, np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=8))]))
    key = rows[want].astype(np.int64) * 6 + cols[want]
    assert repeats == int((key[1:] == key[:-1]).sum())
    flat = rows.astype(np.int64) * 6 + cols
    assert pairs_sorted_unique(rows, cols) == bool(np.all(flat[1:] > flat[:-1]))


@given(
    st.lists(st.tuples(st.integers(0, 7), st.integers(0, 5)), max_size=200),
    st.sampled_from([8, 2]),
    st.sampled_from([6, 90]),
)
def test_sorted_pairs_is_lexsort_and_gathers(pairs, n_rows, n_cols):
    """NumPy twin of ``sorted_pairs``: ``np.lexsort((cols, rows))`` then gathers; few rows
    and many columns give runs past the insertion-sort length (the merge-sort path)."""
    from latentfactors.kernels.sorting import sorted_pairs

    rows = np.array([p[0] % n_rows for p in pairs], dtype=np.int32)
    cols = np.array([(p[1] * 17 + p[0] * 31 + i) % n_cols for i, p in enumerate(pairs)],
                    dtype=np.int32)  # fmt: skip
    vals = np.arange(len(rows), dtype=np.float32)
    want = np.lexsort((cols, rows))
    key = rows[want].astype(np.int64) * n_cols + cols[want]
    for tasks in (1, 5, 8):
        ptr, c, v, repeats = sorted_pairs(rows, cols, vals, n_rows, n_cols, tasks)
        assert np.array_equal(c, cols[want]) and np.array_equal(v, vals[want]), tasks
        assert np.array_equal(
            ptr, np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=n_rows))])
        )
        assert repeats == int((key[1:] == key[:-1]).sum())


def test_row_starts_container_matches_one_built_with_user_ids(monkeypatch):
    """A container from the parallel sort holds CSR row starts, not user ids: with a given
    vocabulary whose first and last users have no rows, everything read from it (user
    ids, counts, CSR, CSC, subsets, frames, nbytes) equals the small-data container's,
    and reading those does not leave a per-row user array on it."""
    from latentfactors.data.vocabulary import Vocabulary

    rng = np.random.default_rng(5)
    keys = rng.choice(30 * 25, 400, replace=False)
    u, i = keys // 25 + 2, keys % 25  # raw users 2..31
    r = rng.random(400).astype(np.float32)
    vocab = Vocabulary(np.arange(40, dtype=np.int64), name="user")  # users 0, 1, 32.. empty
    small = Interactions.from_arrays(u, i, ratings=r, user_vocab=vocab)
    monkeypatch.setattr(inter, "_COUNTING_SORT_ROWS", 10)
    large = Interactions.from_arrays(u, i, ratings=r, user_vocab=vocab)
    assert large._user_ids is None and small._user_ids is not None
    rows = np.array([0, 5, 6, 399])
    assert np.array_equal(large.subset(rows).user_ids, small.subset(rows).user_ids)
    assert large.to_dataframe().equals(small.to_dataframe())
    assert np.array_equal(large.coo()[0], small.user_ids)
    assert np.array_equal(large.user_counts, small.user_counts)
    assert (large.csr != small.csr).nnz == 0 and (large.to_csc() != small.to_csc()).nnz == 0
    assert large._user_ids is None  # none of that kept a per-row user array
    assert large.nbytes == small.nbytes - small.user_ids.nbytes  # both hold row starts
    assert np.array_equal(large.user_ids, small.user_ids)  # asked for: derived and kept
    assert large._user_ids is not None


def test_constructor_refuses_bad_row_starts():
    from latentfactors.data.vocabulary import Vocabulary

    users = Vocabulary(np.arange(3, dtype=np.int64), name="user")
    items = Vocabulary(np.arange(2, dtype=np.int64), name="item")
    i, v = np.array([0, 1, 0], np.int32), np.ones(3, np.float32)
    ok = Interactions(None, i, v, users=users, items=items, indptr=[0, 2, 2, 3])
    assert np.array_equal(ok.user_ids, [0, 0, 2])
    for bad in ([0, 2, 3], [1, 2, 2, 3], [0, 3, 2, 3], [0, 2, 2, 4]):
        with pytest.raises(DataError, match="indptr must hold n_users \\+ 1 = 4 non-decreasing"):
            Interactions(None, i, v, users=users, items=items, indptr=bad)
    with pytest.raises(DataError, match="give either user_ids or indptr"):
        Interactions([0, 0, 2], i, v, users=users, items=items, indptr=[0, 2, 2, 3])
    with pytest.raises(DataError, match="give either user_ids or indptr"):
        Interactions(None, i, v, users=users, items=items)


def test_scatter_counters_are_int32_until_slots_need_64_bits():
    from latentfactors.kernels.sorting import _counters

    small, big = _counters(8, 10, 2**31 - 1), _counters(8, 10, 2**31)
    assert small.dtype == np.int32 and big.dtype == np.int64
    assert small.shape == big.shape == (8, 10) and not small.any() and not big.any()
