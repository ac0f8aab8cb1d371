"""Implicit ALS, BPR, top-k and fold-in kernels against their NumPy twins."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from latentfactors.data import make_synthetic
from latentfactors.kernels import bpr, ials, ridge, topk
from latentfactors.models._strata import stratify

from . import reference_implicit as ref


@pytest.fixture(scope="module")
def small():
    return make_synthetic(30, 25, 300, rank=3, implicit=True, signal_std=2.0, seed=4).interactions


def setup_ials(data, k=5, reg=0.1):
    rng = np.random.default_rng(0)
    X = (rng.standard_normal((data.n_users, k)) * 0.1).astype(np.float32)
    Y = (rng.standard_normal((data.n_items, k)) * 0.1).astype(np.float32)
    csr = data.csr
    conf = (1 + np.log1p(csr.data)).astype(np.float32)
    YtY = (Y.T @ Y + reg * np.eye(k)).astype(np.float32)
    return X, Y, csr.indptr.astype(np.int64), csr.indices, conf, YtY


def test_cholesky_step_matches_reference(small, one_thread):
    X, Y, ptr, idx, conf, YtY = setup_ials(small)
    ials.ials_cholesky_step(ptr, idx, conf, X, Y, YtY)
    np.testing.assert_allclose(X, ref.ials_exact(ptr, idx, conf, Y, 0.1), rtol=1e-4, atol=1e-5)
    again = ials.ials_solve_rows(ptr, idx, conf, Y, YtY)
    np.testing.assert_allclose(again, X, rtol=1e-5, atol=1e-6)


def test_cg_converges_to_cholesky(small, one_thread):
    X, Y, ptr, idx, conf, YtY = setup_ials(small)
    exact = ref.ials_exact(ptr, idx, conf, Y, 0.1)
    errors = []
    for steps in (1, 3, 10):
        Xc = X.copy()
        ials.ials_cg_step(ptr, idx, conf, Xc, Y, YtY, steps)
        errors.append(np.abs(Xc - exact).max())
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < 1e-3


def test_cg_and_cholesky_models_agree(small):
    from latentfactors.models import ImplicitALS

    a = ImplicitALS(n_factors=5, n_epochs=10, solver="cg", cg_steps=6, random_state=1).fit(small)
    b = ImplicitALS(n_factors=5, n_epochs=10, solver="cholesky", random_state=1).fit(small)
    c = ImplicitALS(n_factors=5, n_epochs=10, solver="block", block_size=2,
                    random_state=1).fit(small)  # fmt: skip
    sa = a.user_factors_ @ a.item_factors_.T
    sb = b.user_factors_ @ b.item_factors_.T
    sc = c.user_factors_ @ c.item_factors_.T
    assert np.abs(sa - sb).max() < 0.02 * np.abs(sb).max()
    assert np.abs(sc - sb).max() < 0.02 * np.abs(sb).max()


def test_block_solver_parameters_are_checked(small):
    from latentfactors import InvalidParameterError
    from latentfactors.models import ImplicitALS

    with pytest.raises(InvalidParameterError, match=r"ImplicitALS: block_size=0 is invalid"):
        ImplicitALS(solver="block", block_size=0).fit(small)
    with pytest.raises(InvalidParameterError, match=r"solver='iALS\+\+' is invalid.*'block'"):
        ImplicitALS(solver="iALS++").fit(small)


@pytest.mark.parametrize("block", [1, 2, 3, 5, 8])
@pytest.mark.parametrize("per_row", [False, True])
def test_block_step_matches_reference(small, one_thread, block, per_row):
    """The iALS++ subspace kernel against its NumPy twin (blocks that divide k, that do
    not, and one wider than k), with a shared and with per-row penalties."""
    X, Y, ptr, idx, conf, YtY = setup_ials(small)
    lam = None
    if per_row:
        lam = np.random.default_rng(3).uniform(0.05, 2.0, len(ptr) - 1).astype(np.float32)
        YtY = (Y.T @ Y).astype(np.float32)
    want = ref.ials_block(ptr, idx, conf, X, Y, YtY, block, lam)
    got = X.copy()
    if lam is None:
        ials.ials_block_step(ptr, idx, conf, got, Y, YtY, block)
    else:
        ials.ials_block_step_rows(ptr, idx, conf, got, Y, YtY, lam, block)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    assert not np.allclose(got, X)


def test_block_step_of_full_width_is_the_exact_solve(small, one_thread):
    """One block of all k coordinates is the exact row solve, from any starting point;
    narrower blocks converge to it pass by pass."""
    X, Y, ptr, idx, conf, YtY = setup_ials(small)
    exact = ref.ials_exact(ptr, idx, conf, Y, 0.1)
    full = X.copy()
    ials.ials_block_step(ptr, idx, conf, full, Y, YtY, 5)
    np.testing.assert_allclose(full, exact, rtol=1e-4, atol=1e-5)
    narrow, errors = X.copy(), []
    for _ in range(4):
        ials.ials_block_step(ptr, idx, conf, narrow, Y, YtY, 2)
        errors.append(np.abs(narrow - exact).max())
    assert errors[0] > errors[1] > errors[2] > errors[3]
    assert errors[3] < 0.1 * errors[0]


def test_block_step_leaves_out_negative_confidences(small, one_thread):
    """A negative confidence (the reg search's held-out cells) counts as unobserved: the
    same rows as with those entries removed from the CSR."""
    X, Y, ptr, idx, conf, YtY = setup_ials(small)
    drop = np.zeros(len(idx), dtype=bool)
    drop[::4] = True
    marked = conf.copy()
    marked[drop] = -1.0
    a = X.copy()
    ials.ials_block_step(ptr, idx, marked, a, Y, YtY, 2)
    rows = np.repeat(np.arange(len(ptr) - 1), np.diff(ptr))
    kept_ptr = np.r_[0, np.cumsum(np.bincount(rows[~drop], minlength=len(ptr) - 1))]
    b = X.copy()
    ials.ials_block_step(kept_ptr.astype(np.int64), idx[~drop], conf[~drop], b, Y, YtY, 2)
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_loss_matches_dense_objective(small):
    X, Y, ptr, idx, conf, _ = setup_ials(small)
    got = ials.ials_loss(ptr, idx, conf, X, Y, 0.1)
    assert got == pytest.approx(ref.ials_loss(ptr, idx, conf, X, Y, 0.1), rel=1e-5)


def test_loss_by_blocks_of_rows_is_the_same_number(small):
    """ials_loss_rows fills a block of rows at a time (the trainer's blocked user side):
    the rows' parts do not depend on the blocks, so the total is the same float."""
    X, Y, ptr, idx, conf, _ = setup_ials(small)
    gram = ials.ials_gram64(Y)
    parts = np.zeros(len(X))
    cuts = [0, 1, 7, 19, 20, len(X)]
    for s, e in itertools.pairwise(cuts):
        a, b = ptr[s], ptr[e]
        ials.ials_loss_rows(ptr[s : e + 1] - a, idx[a:b], conf[a:b], X[s:e], Y, gram, 0.1,
                            parts[s:e])  # fmt: skip
    total = ials.ials_loss_total(parts, Y, 0.1) / len(idx)
    assert total == ials.ials_loss(ptr, idx, conf, X, Y, 0.1)


@settings(max_examples=30, deadline=None)
@given(
    arrays(np.float32, st.integers(0, 300), elements=st.floats(0, 1e6, width=32)),
    st.sampled_from([True, False]),
    st.floats(0.01, 100),
    st.floats(0.01, 10),
)
def test_confidence_matches_numpy(values, log, alpha, eps):
    v = values.astype(np.float64)
    want = (1.0 + alpha * (np.log1p(v / eps) if log else v)).astype(np.float32)
    out = np.empty(len(values), dtype=np.float32)
    ials.confidence_into(values, log, alpha, eps, out)
    np.testing.assert_allclose(out, want, rtol=1e-6)
    ials.confidence_into(values, log, alpha, eps, values)  # in place
    np.testing.assert_array_equal(values, out)


@pytest.mark.parametrize("solver", ["cg", "block", "cholesky"])
def test_ials_threads_do_not_change_results(small, solver):
    """On ``small`` (one task per side) and on a set whose sides are cut into many tasks."""
    from latentfactors.models import ImplicitALS

    many = make_synthetic(700, 400, 9000, rank=3, implicit=True, seed=5).interactions
    for data in (small, many):
        kw = dict(n_factors=6, n_epochs=3, solver=solver, block_size=4, random_state=2)
        one = ImplicitALS(n_threads=1, **kw).fit(data)
        two = ImplicitALS(n_threads=2, **kw).fit(data)
        assert np.array_equal(one.user_factors_, two.user_factors_)
        assert np.array_equal(one.item_factors_, two.item_factors_)


@pytest.mark.parametrize("share", [0.0, 0.5])
def test_bpr_epoch_matches_reference(one_thread, share):
    """Uniform negatives, and popular ones (a table of repeated items per group)."""
    from latentfactors.models.bpr import negative_table

    data = make_synthetic(60, 50, 600, implicit=True, seed=3).interactions
    nb = 3
    st = stratify(data, nb, seed=5)
    block_ptr, users, items = st.block_ptr, st.users, st.items
    counts = np.bincount(items, minlength=data.n_items)
    group_items, group_ptr, _ = negative_table(st.item_group_ptr, counts, share)
    if share == 0.0:
        assert np.array_equal(group_items, np.arange(data.n_items))
    else:
        assert len(group_items) > 10 * data.n_items
    csr = st.csr(data)
    rng = np.random.default_rng(1)
    P = (rng.standard_normal((data.n_users, 4)) * 0.1).astype(np.float32)
    Q = (rng.standard_normal((data.n_items, 4)) * 0.1).astype(np.float32)
    bi = np.zeros(data.n_items, np.float32)
    P2, Q2, bi2 = P.copy(), Q.copy(), bi.copy()
    lr, ru, ri, rb = (np.float32(v) for v in (0.05, 0.01, 0.02, 0.03))
    args = (group_ptr, group_items, csr.indptr.astype(np.int64), csr.indices)
    loss, pairs, _ = bpr.bpr_epoch(block_ptr, users, items, P, Q, bi, *args, lr, ru, ri, rb,
                                   nb, 9, 1, 10)  # fmt: skip
    loss2, pairs2 = ref.bpr_epoch(block_ptr, users, items, P2, Q2, bi2, *args, lr, ru, ri, rb,
                                  nb, 9, 1, 10)  # fmt: skip
    assert pairs == pairs2 and loss == pytest.approx(loss2, rel=1e-4)
    np.testing.assert_allclose(P, P2, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(Q, Q2, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(bi, bi2, rtol=1e-4, atol=1e-6)


def test_bpr_threads_do_not_change_results():
    from latentfactors.models import BPR

    data = make_synthetic(
        500, 1600, 12000, implicit=True, seed=3
    ).interactions  # several item groups
    one = BPR(n_factors=6, n_epochs=3, n_threads=1, random_state=4).fit(data)
    two = BPR(n_factors=6, n_epochs=3, n_threads=2, random_state=4).fit(data)
    assert np.array_equal(one.item_factors_, two.item_factors_)
    assert np.array_equal(one.item_bias_, two.item_bias_)


def test_bpr_learning_rate_schedule():
    """Constant for the first lr_decay_start of the epochs, then linear to lr * lr_decay_to
    at the last epoch; the kernel gets the scheduled rate."""
    from latentfactors.models import BPR
    from latentfactors.models.bpr import _BPRTrainer

    data = make_synthetic(200, 500, 4000, implicit=True, seed=3).interactions
    model = BPR(n_epochs=11, lr=0.1, lr_decay_start=0.5, lr_decay_to=0.2)
    trainer = _BPRTrainer(model, data, data, 0)
    got = [trainer.lr_at(e) for e in range(11)]
    # x = e / 10: constant up to x = 0.5 (epoch 5), then down by 0.8 * 0.1 / 0.5 per epoch
    want = [0.1] * 6 + [0.1 * (1 - 0.8 * (e / 10 - 0.5) / 0.5) for e in range(6, 11)]
    np.testing.assert_allclose(got, want, rtol=1e-12)
    assert got[-1] == pytest.approx(0.02)
    single = _BPRTrainer(model.clone().set_params(n_epochs=1), data, data, 0)
    assert single.lr_at(0) == 0.1
    # no decay either way gives the same model, and the default schedule another one
    fit = lambda **kw: BPR(n_factors=4, n_epochs=6, random_state=1, **kw).fit(data)  # noqa: E731
    flat = fit(lr_decay_to=1.0).item_factors_
    assert np.array_equal(flat, fit(lr_decay_start=1.0).item_factors_)
    assert not np.array_equal(flat, fit().item_factors_)
    from latentfactors import InvalidParameterError

    with pytest.raises(InvalidParameterError, match=r"BPR: lr_decay_start=1.5 is invalid; "
                       r"expected a number in \[0.0, 1.0\]"):  # fmt: skip
        fit(lr_decay_start=1.5)
    with pytest.raises(InvalidParameterError, match=r"BPR: lr_decay_to=0.0 is invalid; "
                       r"expected a number in \(0.0, 1.0\]"):  # fmt: skip
        fit(lr_decay_to=0.0)


def test_ridge_rows_match_reference(one_thread):
    rng = np.random.default_rng(0)
    Q = rng.standard_normal((20, 4)).astype(np.float32)
    indptr = np.array([0, 3, 3, 9], dtype=np.int64)
    indices = np.array([1, 5, 7, 0, 2, 4, 6, 8, 19], dtype=np.int32)
    targets = rng.standard_normal(9)
    lam_f, lam_b = np.array([0.1, 0.2, 0.5]), np.array([1.0, 2.0, 0.3])
    for fit_bias in (True, False):
        X, b = ridge.ridge_rows(indptr, indices, targets, Q, lam_f, lam_b, fit_bias)
        X2, b2 = ref.ridge_rows(indptr, indices, targets, Q, lam_f, lam_b, fit_bias)
        np.testing.assert_allclose(X, X2, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(b, b2, rtol=1e-4, atol=1e-5)
    assert not X[1].any()  # a row without observations stays zero


@settings(max_examples=60, deadline=None)
@given(
    arrays(
        np.float32,
        st.tuples(st.integers(1, 5), st.integers(1, 30)),
        elements=st.sampled_from([-1.0, 0.0, 0.5, 1.0, 2.0, -np.inf]),
    ),
    st.integers(1, 35),
    st.data(),
)
def test_topk_matches_sort(scores, k, data):  # small rows: column by column
    n_rows, n_cols = scores.shape
    allowed = np.array(data.draw(st.lists(st.booleans(), min_size=n_cols, max_size=n_cols)))
    excl = [
        sorted(set(data.draw(st.lists(st.integers(0, n_cols - 1), max_size=4))))
        for _ in range(n_rows)
    ]
    indptr = np.concatenate(([0], np.cumsum([len(e) for e in excl]))).astype(np.int64)
    indices = np.array([c for e in excl for c in e], dtype=np.int32)
    want_idx, want_val = ref.topk(scores.copy(), k, indptr, indices, allowed)
    none = np.zeros(0, dtype=np.float32)
    got_idx, got_val = topk.topk_rows(scores.copy(), k, indptr, indices, allowed, none)
    assert np.array_equal(got_idx, want_idx)
    assert np.array_equal(got_val, want_val)
    # with an item bias added on the fly, and with the "all allowed" fast path
    values = st.sampled_from([-1.0, 0.0, 0.25, 3.0])
    bias = np.array(data.draw(st.lists(values, min_size=n_cols, max_size=n_cols)), np.float32)
    want_idx, want_val = ref.topk(scores.copy(), k, indptr, indices, allowed, bias)
    got_idx, got_val = topk.topk_rows(scores.copy(), k, indptr, indices, allowed, bias)
    assert np.array_equal(got_idx, want_idx)
    assert np.array_equal(got_val, want_val)
    everything = np.zeros(0, dtype=np.bool_)
    want_idx, want_val = ref.topk(scores.copy(), k, indptr, indices, everything, bias)
    got_idx, got_val = topk.topk_rows(scores.copy(), k, indptr, indices, everything, bias)
    assert np.array_equal(got_idx, want_idx)
    assert np.array_equal(got_val, want_val)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("k", [1, 10, 70])
def test_topk_matches_sort_on_long_rows(seed, k):
    """Rows long enough for the chunked skip-ahead scan, with ties, NaN, -inf, a bias,
    exclusions and a mask, against the sorting twin."""
    rng = np.random.default_rng(seed)
    n_rows, n_cols = 7, 1000 + seed * 37
    scores = rng.choice([-1.0, 0.0, 0.5, 1.0, 2.0], (n_rows, n_cols)).astype(np.float32)
    scores += rng.standard_normal((n_rows, n_cols)).astype(np.float32) * (seed % 2)
    scores[rng.random((n_rows, n_cols)) < 0.01] = -np.inf
    scores[rng.random((n_rows, n_cols)) < 0.01] = np.nan
    scores[0, -5:] = 50.0  # late winners, in the partial last chunk
    bias = rng.choice([-1.0, 0.0, 0.25, 3.0], n_cols).astype(np.float32)
    allowed = rng.random(n_cols) > 0.1
    excl = [np.sort(rng.choice(n_cols, 30, replace=False)) for _ in range(n_rows)]
    indptr = np.concatenate(([0], np.cumsum([len(e) for e in excl]))).astype(np.int64)
    indices = np.concatenate(excl).astype(np.int32)
    for b, a in ((np.zeros(0, np.float32), allowed), (bias, allowed), (bias, np.zeros(0, bool))):
        want_idx, want_val = ref.topk(scores.copy(), k, indptr, indices, a, b)
        got_idx, got_val = topk.topk_rows(scores.copy(), k, indptr, indices, a, b)
        assert np.array_equal(got_idx, want_idx)
        assert np.array_equal(got_val, want_val)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 3), st.integers(1, 12), st.lists(st.integers(1, 400), min_size=1, max_size=6))
def test_topk_tiles_left_to_right_match_whole_rows(seed, k, widths):
    """Rows offered a tile at a time (any widths, the heaps carried between tiles) give
    what the sorting twin gives on the whole rows: ties, NaN, -inf, a bias, a mask and
    exclusions anywhere in the row."""
    rng = np.random.default_rng(seed)
    n_rows, n_cols = 5, sum(widths)
    scores = rng.choice([-1.0, 0.0, 0.5, 1.0, 2.0], (n_rows, n_cols)).astype(np.float32)
    scores += rng.standard_normal((n_rows, n_cols)).astype(np.float32) * (seed % 2)
    scores[rng.random((n_rows, n_cols)) < 0.02] = -np.inf
    scores[rng.random((n_rows, n_cols)) < 0.02] = np.nan
    bias = rng.choice([-1.0, 0.0, 0.25, 3.0], n_cols).astype(np.float32)
    allowed = rng.random(n_cols) > 0.1
    excl = [rng.choice(n_cols, min(n_cols, 9), replace=False) for _ in range(n_rows)]  # unsorted
    indptr = np.concatenate(([0], np.cumsum([len(e) for e in excl]))).astype(np.int64)
    indices = np.concatenate(excl).astype(np.int32)
    for b, a in ((np.zeros(0, np.float32), allowed), (bias, np.zeros(0, bool))):
        want_idx, want_val = ref.topk(scores.copy(), k, indptr, indices, a, b)
        heaps = topk.topk_heaps(n_rows, min(k, n_cols))
        c0 = 0
        for w in widths:
            tile = np.ascontiguousarray(scores[:, c0 : c0 + w])
            topk.topk_tile(tile, c0, *heaps, indptr, indices, a, b)
            c0 += w
        got_idx, got_val = topk.topk_finish(*heaps)
        assert np.array_equal(got_idx, want_idx)
        assert np.array_equal(got_val, want_val)


@pytest.mark.parametrize("share", [0.0, 0.5])
def test_bpr_fold_in_matches_reference(share):
    from latentfactors.kernels.bpr import bpr_fold_in
    from latentfactors.models.bpr import negative_table

    data = make_synthetic(40, 30, 400, implicit=True, seed=2).interactions
    csr = data.csr
    counts = np.bincount(data.item_ids, minlength=data.n_items)
    neg, _, _ = negative_table(np.array([0, data.n_items]), counts, share)
    rng = np.random.default_rng(0)
    Q = (rng.standard_normal((data.n_items, 5)) * 0.3).astype(np.float32)
    bi = (rng.standard_normal(data.n_items) * 0.2).astype(np.float32)
    args = (csr.indptr.astype(np.int64), csr.indices.astype(np.int32), Q, bi, neg,
            np.float32(0.05), np.float32(0.01), 3, 7, 20)  # fmt: skip
    got = bpr_fold_in(*args)
    want = ref.bpr_fold_in(*args)
    assert np.abs(got).max() > 0
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)


def test_negative_table():
    """Each group's table holds its own items only, each at least once and in
    proportion to (1 - share) / size + share * count / total; offsets are the logs of
    those chances over uniform (0 for share 0)."""
    from latentfactors.models.bpr import negative_table

    counts = np.array([0, 1, 9, 90, 5, 5, 0, 40], dtype=np.int64)
    gptr = np.array([0, 4, 4, 8], dtype=np.int64)  # group 1 is empty
    items, ptr, offset = negative_table(gptr, counts, 0.5)
    assert ptr[0] == 0 and ptr[1] == ptr[2] and ptr[-1] == len(items)
    for g in range(3):
        lo, hi = gptr[g], gptr[g + 1]
        part = items[ptr[g] : ptr[g + 1]]
        assert set(part.tolist()) == set(range(lo, hi))
        if hi == lo:
            continue
        size = hi - lo
        c = counts[lo:hi] / counts[lo:hi].sum()
        want = 0.5 / size + 0.5 * c
        got = np.bincount(part - lo, minlength=size) / len(part)
        np.testing.assert_allclose(got, want, atol=0.5 / (20 * size))
        np.testing.assert_allclose(np.exp(offset[lo:hi]) / size, got, rtol=1e-6)
    items0, ptr0, offset0 = negative_table(gptr, counts, 0.0)
    assert np.array_equal(items0, np.arange(8)) and np.array_equal(ptr0, gptr)
    assert not offset0.any()
