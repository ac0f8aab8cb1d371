"""ImplicitALS(item_bias=True): scores ``x_u . y_i + b_i``. The kernels' held coordinates
against NumPy twins, then training, the loss, fold-in, explain, the reg search, model
files and the shared behaviour suite."""

from __future__ import annotations

import numpy as np
import pytest

from latentfactors import Interactions, InvalidParameterError
from latentfactors.data import make_synthetic
from latentfactors.kernels import ials
from latentfactors.models import ImplicitALS
from latentfactors.persistence import load
from latentfactors.testing import check_model


@pytest.fixture(scope="module")
def small():
    return make_synthetic(40, 30, 400, rank=3, implicit=True, signal_std=2.0, seed=4).interactions


def _augmented(data, k=4):
    """User rows ``[x, 1]`` and item rows ``[y, b]`` (the trainer's layout)."""
    rng = np.random.default_rng(0)
    X = np.ones((data.n_users, k + 1), np.float32)
    X[:, :k] = rng.standard_normal((data.n_users, k)) * 0.1
    Y = (rng.standard_normal((data.n_items, k + 1)) * 0.1).astype(np.float32)
    Y[:, k] = rng.uniform(-0.3, 0.5, data.n_items)
    csr = data.csr
    conf = (1 + np.log1p(csr.data)).astype(np.float32)
    return X, Y, csr.indptr.astype(np.int64), csr.indices, conf


def _dense(ptr, idx, conf, u, n_items):
    c, p = np.ones(n_items), np.zeros(n_items)
    cols = idx[ptr[u] : ptr[u + 1]]
    c[cols] = conf[ptr[u] : ptr[u + 1]]
    p[cols] = 1.0
    return c, p


def _exact_biased(ptr, idx, conf, Ya, lam):
    """Row u: argmin_x sum_i c_ui (p_ui - x . y_i - b_i)^2 + lam_u |x|^2 over all items,
    densely: (Y^T C Y + lam I)^-1 Y^T C (p - b)."""
    Ya = Ya.astype(np.float64)
    Y, b = Ya[:, :-1], Ya[:, -1]
    k = Y.shape[1]
    out = np.zeros((len(ptr) - 1, k))
    for u in range(len(ptr) - 1):
        c, p = _dense(ptr, idx, conf, u, len(Y))
        out[u] = np.linalg.solve((Y.T * c) @ Y + lam[u] * np.eye(k), (Y.T * c) @ (p - b))
    return out


def _cg_twin(ptr, idx, conf, Xa, Ya, lam, steps):
    """Plain CG, ``steps`` steps from the current rows, on the free block's dense system."""
    Ya = Ya.astype(np.float64)
    Y, b = Ya[:, :-1], Ya[:, -1]
    k = Y.shape[1]
    out = Xa[:, :k].astype(np.float64)
    for u in range(len(ptr) - 1):
        c, p = _dense(ptr, idx, conf, u, len(Y))
        A = (Y.T * c) @ Y + lam[u] * np.eye(k)
        x = out[u]
        r = (Y.T * c) @ (p - b) - A @ x
        d = r.copy()
        for _ in range(steps):
            if r @ r < 1e-20:
                break
            Ad = A @ d
            a = (r @ r) / (d @ Ad)
            x = x + a * d
            r_new = r - a * Ad
            d = r_new + (r_new @ r_new) / (r @ r) * d
            r = r_new
        out[u] = x
    return out


@pytest.mark.parametrize("per_row", [False, True])
def test_held_column_kernels_match_numpy(small, one_thread, per_row):
    Xa, Ya, ptr, idx, conf = _augmented(small)
    k = Xa.shape[1] - 1
    lam = (np.linspace(0.05, 2.0, small.n_users) if per_row
           else np.full(small.n_users, 0.3)).astype(np.float32)  # fmt: skip
    gram = Ya.T @ Ya + (0.0 if per_row else 0.3) * np.eye(k + 1)
    gram = gram.astype(np.float32)
    lam_arg = lam if per_row else None
    exact = _exact_biased(ptr, idx, conf, Ya, lam)
    for solver, steps, want, tol in (("cholesky", 3, exact, 1e-4), ("block", 3, exact, 1e-3),
                                     ("cg", 3, _cg_twin(ptr, idx, conf, Xa, Ya, lam, 3), 1e-3),
                                     ("cg", 12, exact, 1e-3)):  # fmt: skip
        got = Xa.copy()
        ials.ials_update(ptr, idx, conf, got, Ya, gram, lam_arg, solver, steps, k + 7, k)
        assert np.all(got[:, k] == 1.0), solver  # the held column stays
        np.testing.assert_allclose(got[:, :k], want, rtol=tol, atol=tol, err_msg=solver)
    # the block solver two coordinates at a time (a shorter last block): repeated passes
    # reach the exact solve of the free block
    got = Xa.copy()
    for _ in range(30):
        ials.ials_update(ptr, idx, conf, got, Ya, gram, lam_arg, "block", 3, 2, k)
    np.testing.assert_allclose(got[:, :k], exact, rtol=1e-3, atol=1e-3)
    # every coordinate free (-1, the item side's call): the whole row's exact solve,
    # the held column moving too
    full = Xa.copy()
    ials.ials_update(ptr, idx, conf, full, Ya, gram, lam_arg, "cholesky", 3, 2, -1)
    want = np.zeros_like(full, dtype=np.float64)
    Y64 = Ya.astype(np.float64)
    for u in range(small.n_users):
        c, p = _dense(ptr, idx, conf, u, small.n_items)
        want[u] = np.linalg.solve((Y64.T * c) @ Y64 + lam[u] * np.eye(k + 1), (Y64.T * c) @ p)
    np.testing.assert_allclose(full, want, rtol=1e-4, atol=1e-5)
    assert not np.allclose(full[:, k], 1.0)


def test_fit_scores_fold_in_explain_and_loss(small):
    kw = dict(n_factors=4, n_epochs=6, reg=0.5, solver="cholesky", item_bias=True,
              compute_loss=True, random_state=3)  # fmt: skip
    one = ImplicitALS(n_threads=1, **kw).fit(small)
    two = ImplicitALS(n_threads=2, **kw).fit(small)
    assert np.array_equal(one.user_factors_, two.user_factors_)
    assert np.array_equal(one.item_bias_, two.item_bias_)
    X, Y, b = (one.user_factors_.astype(np.float64), one.item_factors_.astype(np.float64),
               one.item_bias_.astype(np.float64))  # fmt: skip
    assert one.user_factors_.shape == (small.n_users, 4) and np.abs(b).max() > 0.01
    assert one.user_factors_.flags.c_contiguous and one.item_factors_.flags.c_contiguous
    # the score is x . y + b
    u0, items = small.users.raw[0], small.items.raw[:5]
    np.testing.assert_allclose(one.predict([u0] * 5, items), X[0] @ Y[:5].T + b[:5],
                               rtol=1e-5, atol=1e-6)  # fmt: skip
    # the loss: every cell's c (p - x.y - b)^2, with the penalty on x, y and b
    csr = small.csr
    conf = one._conf(csr.data)
    C, P = np.ones((small.n_users, small.n_items)), np.zeros((small.n_users, small.n_items))
    for u in range(small.n_users):
        C[u], P[u] = _dense(csr.indptr, csr.indices, conf, u, small.n_items)
    want = np.sum(C * (P - X @ Y.T - b) ** 2) + 0.5 * ((X**2).sum() + (Y**2).sum() + b @ b)
    loss = one.history_["train_loss"]
    assert loss[-1] == pytest.approx(want / csr.nnz, rel=1e-4)
    assert np.all(np.diff(loss) <= 1e-6 * loss[0])  # exact ALS never goes up
    # the last user step is the exact solve against the final items, as fold-in's
    Ya = np.column_stack([Y, b])
    exact = _exact_biased(csr.indptr, csr.indices, conf, Ya, np.full(small.n_users, 0.5))
    np.testing.assert_allclose(X, exact, rtol=1e-3, atol=1e-5)
    row = int(np.argmax(small.user_counts))
    mask = small.user_ids == row
    new = Interactions.from_arrays(["copy"] * int(mask.sum()),
                                   small.items.ids(small.item_ids[mask]),
                                   weights=small.values[mask])  # fmt: skip
    fold = one.fold_in(new, update=False)
    np.testing.assert_allclose(fold.factors[0], exact[row], rtol=1e-3, atol=1e-5)
    got, _ = one.recommend_for(fold, n=3)
    want_items, _ = one.recommend(small.users.raw[row], n=3)
    assert list(np.ravel(got)) == list(want_items)
    # explain: the past items' parts and the two bias parts add up to the score
    ex = one.explain(small.users.raw[row], small.items.raw[0])
    assert ex.score == pytest.approx(float(exact[row] @ Y[0] + b[0]), rel=1e-4, abs=1e-6)
    kinds = ex.parts.groupby("kind")["contribution"].count().to_dict()
    assert kinds == {"item": int(mask.sum()), "bias": 2}
    assert ex.parts.loc[ex.parts.name == "item bias", "contribution"].item() == pytest.approx(b[0])


def test_per_row_penalties_reach_the_bias(small):
    """Frequency-scaled penalties: the objective charges each item's penalty on its
    bias as on its factors, training's last user step and fold-in are the exact solve
    with the user's penalty, and the block solver trains the same kind of model."""
    kw = dict(n_factors=4, n_epochs=4, reg=0.05, reg_scaling="frequency", item_bias=True,
              compute_loss=True, random_state=0)  # fmt: skip
    m = ImplicitALS(solver="cholesky", **kw).fit(small)
    csr = small.csr
    conf = m._conf(csr.data)
    lam_u = m._row_reg(np.diff(csr.indptr), small.n_items)
    lam_i = m._row_reg(np.diff(small.csc.indptr), small.n_users)
    X, Y, b = (m.user_factors_.astype(np.float64), m.item_factors_.astype(np.float64),
               m.item_bias_.astype(np.float64))  # fmt: skip
    C, P = np.ones((small.n_users, small.n_items)), np.zeros((small.n_users, small.n_items))
    for u in range(small.n_users):
        C[u], P[u] = _dense(csr.indptr, csr.indices, conf, u, small.n_items)
    want = (np.sum(C * (P - X @ Y.T - b) ** 2) + lam_u @ (X**2).sum(1)
            + lam_i @ ((Y**2).sum(1) + b**2))  # fmt: skip
    assert m.history_["train_loss"][-1] == pytest.approx(want / csr.nnz, rel=1e-4)
    exact = _exact_biased(csr.indptr, csr.indices, conf, np.column_stack([Y, b]), lam_u)
    np.testing.assert_allclose(X, exact, rtol=1e-3, atol=1e-5)
    fold = m.fold_in(Interactions.from_arrays(*_rows_of(small, [0, 1])), update=False)
    np.testing.assert_allclose(fold.factors, exact[:2], rtol=1e-3, atol=1e-5)
    block = ImplicitALS(solver="block", block_size=2, **kw).fit(small)
    assert np.corrcoef(block.item_bias_, m.item_bias_)[0, 1] > 0.99
    loss = block.history_["train_loss"]  # exact block minimizations: never goes up
    assert np.all(np.diff(loss) <= 1e-6 * loss[0]) and loss[-1] < 0.9 * loss[0]


def test_fold_in_and_explain_follow_the_learned_biases(small):
    """A state with biases set on a model whose item_bias is False (factors trained
    elsewhere), or item_bias switched after a fit: fold-in and explain use what the
    state holds."""
    kw = dict(n_factors=4, n_epochs=4, reg=0.5, solver="cholesky", random_state=0)
    biased = ImplicitALS(item_bias=True, **kw).fit(small)
    served = ImplicitALS(**kw).set_state(biased.get_state())
    new = Interactions.from_arrays(*_rows_of(small, [2]))
    want = biased.fold_in(new, update=False).factors
    np.testing.assert_array_equal(served.fold_in(new, update=False).factors, want)
    u, i = small.users.raw[2], small.items.raw[1]
    ex = served.explain(u, i)
    assert ex.score == pytest.approx(float(served.predict([u], [i])[0]), rel=1e-4, abs=1e-6)
    assert "bias" in set(ex.parts.kind)
    plain = ImplicitALS(**kw).fit(small)
    before = plain.fold_in(new, update=False).factors
    plain.set_params(item_bias=True)  # a setting for the next fit, not the fitted state
    assert np.array_equal(plain.fold_in(new, update=False).factors, before)


def _rows_of(data, rows):
    mask = np.isin(data.user_ids, rows)
    users = np.array([f"new{u}" for u in data.user_ids[mask]])
    return users, data.items.ids(data.item_ids[mask]), data.values[mask]


def test_reg_search_model_files_and_params(small, tmp_path):
    auto = ImplicitALS(n_factors=4, n_epochs=4, reg=[0.3, 3.0], item_bias=True,
                       random_state=1).fit(small)  # fmt: skip
    fixed = ImplicitALS(n_factors=4, n_epochs=4, reg=auto.reg_, item_bias=True,
                        random_state=1).fit(small)  # fmt: skip
    assert np.array_equal(auto.user_factors_, fixed.user_factors_)
    assert np.array_equal(auto.item_bias_, fixed.item_bias_)
    plain = ImplicitALS(n_factors=4, n_epochs=4, reg=auto.reg_, random_state=1).fit(small)
    assert not np.any(plain.item_bias_) and not np.array_equal(plain.item_factors_,
                                                                fixed.item_factors_)  # fmt: skip
    path = tmp_path / "m.lfm"
    fixed.save(path)
    back = load(path)
    assert back.item_bias is True and np.array_equal(back.item_bias_, fixed.item_bias_)
    u = small.users.raw[3]
    assert list(back.recommend(u, n=5)[0]) == list(fixed.recommend(u, n=5)[0])
    with pytest.raises(InvalidParameterError, match=r"item_bias='yes'.*True or False"):
        ImplicitALS(item_bias="yes").fit(small)


def test_snapshot_and_restore_write_the_columns_back(small):
    """Early stopping restores its best epoch through these: arrays() are copies of the
    trainer's columns, so restore must write them back, bias column included."""
    from latentfactors.models.implicit_als import _IALSTrainer

    m = ImplicitALS(n_factors=4, n_epochs=2, reg=0.5, item_bias=True)
    trainer = _IALSTrainer(m, small, 0)
    trainer.epoch(0)
    snap = trainer.snapshot()
    trainer.epoch(1)
    assert not np.array_equal(trainer.arrays()["item_bias"], snap["item_bias"])
    trainer.restore(snap)
    for name, value in trainer.arrays().items():
        assert np.array_equal(value, snap[name]), name
    assert np.all(trainer.X[:, 4] == 1.0)


def test_passes_the_behaviour_suite():
    check_model(ImplicitALS(n_factors=8, n_epochs=8, item_bias=True, random_state=0))
