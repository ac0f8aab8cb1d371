"""scoring.top_n: users in blocks, items in tiles, blocks spread over threads of our own."""

import numba
import numpy as np
import pytest

from latentfactors._runtime import numba_threading_layer
from latentfactors.models import scoring


def _reference(U, user_bias, mu, Q, item_bias, n, seen, candidates, allowed):
    """Sort every user's scores in NumPy (ties: the smaller item first)."""
    scores = U.astype(np.float64) @ Q.T.astype(np.float64) + item_bias
    cols = np.arange(len(Q)) if candidates is None else np.asarray(candidates)
    ok_all = np.ones(len(Q), bool) if allowed is None else np.zeros(len(Q), bool)
    if allowed is not None:
        ok_all[cols[allowed]] = True
    idx = np.full((len(U), min(n, len(cols))), -1)
    for r in range(len(U)):
        ok = ok_all.copy()
        ok[seen[1][seen[0][r] : seen[0][r + 1]]] = False
        c = cols[ok[cols]]
        order = c[np.lexsort((c, -scores[r, c]))][: idx.shape[1]]
        idx[r, : len(order)] = order
    return idx


@pytest.fixture
def small_tiles(monkeypatch):
    """Blocks of 7 users and tiles of 50 items, so a small case has many of both."""
    monkeypatch.setattr(scoring, "USER_BLOCK", 7)
    monkeypatch.setattr(scoring, "MIN_TILE_COLS", 50)
    monkeypatch.setattr(scoring, "TILE_CELLS", 7 * 50)
    monkeypatch.setattr(scoring, "POOL_CELLS", 0)  # threads of our own for any batch


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("kind", ["plain", "bias", "candidates"])
def test_top_n_in_blocks_and_tiles_matches_sorting(small_tiles, threads, kind):
    rng = np.random.default_rng(3)
    m, n_items, k = 40, 333, 4
    # scores on a coarse grid, so that ties are common
    U = rng.integers(-2, 3, (m, k)).astype(np.float32)
    Q = rng.integers(-2, 3, (n_items, k)).astype(np.float32)
    bias = rng.choice([0.0, 0.5, 1.0], n_items).astype(np.float32) if kind == "bias" else \
        np.zeros(n_items, np.float32)  # fmt: skip
    seen_lists = [np.sort(rng.choice(n_items, rng.integers(0, 30), replace=False))
                  for _ in range(m)]  # fmt: skip
    seen = (np.concatenate(([0], np.cumsum([len(s) for s in seen_lists]))).astype(np.int64),
            np.concatenate(seen_lists).astype(np.int32))  # fmt: skip
    candidates = allowed = None
    if kind == "candidates":
        candidates = np.sort(rng.choice(n_items, 120, replace=False)).astype(np.int32)
        allowed = rng.random(120) > 0.2
    before = numba.get_num_threads()
    numba.set_num_threads(threads)
    try:
        idx, val = scoring.top_n(U, np.zeros(m, np.float32), 0.0, Q, np.ascontiguousarray(Q.T),
                                 bias, 10, seen, candidates, allowed)  # fmt: skip
    finally:
        numba.set_num_threads(before)
    want = _reference(U, 0, 0.0, Q, bias, 10, seen, candidates, allowed)
    assert np.array_equal(idx, want)
    ok = idx >= 0
    rows = np.nonzero(ok)[0]
    np.testing.assert_allclose(val[ok], (U[rows] * Q[idx[ok]]).sum(1) + bias[idx[ok]])


def test_top_n_on_our_threads_gives_the_inline_result(small_tiles, monkeypatch):
    """The same users scored by threads of our own (blocks shared out) and inline."""
    import concurrent.futures

    pools = []

    class Counting(concurrent.futures.ThreadPoolExecutor):
        def __init__(self, *a, **kw):
            pools.append(a)
            super().__init__(*a, **kw)

    monkeypatch.setattr(concurrent.futures, "ThreadPoolExecutor", Counting)
    rng = np.random.default_rng(5)
    U = rng.standard_normal((90, 8)).astype(np.float32)
    Q = rng.standard_normal((500, 8)).astype(np.float32)
    seen = (np.arange(91, dtype=np.int64) * 3, rng.integers(0, 500, 270).astype(np.int32))
    out = {}
    before = numba.get_num_threads()
    try:
        for threads in (1, 2):
            numba.set_num_threads(threads)
            out[threads] = scoring.top_n(U, np.zeros(90, np.float32), 0.5, Q,
                                         np.ascontiguousarray(Q.T), np.zeros(0, np.float32),
                                         25, seen)  # fmt: skip
    finally:
        numba.set_num_threads(before)
    assert np.array_equal(out[1][0], out[2][0])
    assert np.array_equal(out[1][1], out[2][1])
    if numba_threading_layer() in ("omp", "tbb"):  # workqueue: inline only
        assert pools == [(2,)]
