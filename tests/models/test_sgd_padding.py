"""SVD trains its factor rows padded with zero columns up to the SGD kernel's vector
width (``_strata.padded_width``). The padding must stay zero, never reach the model, and
leave the model what the unpadded rows give (up to the order of the dot products'
sums)."""

from __future__ import annotations

import numpy as np
import pytest

from latentfactors import evaluate, random_split
from latentfactors.data import make_synthetic
from latentfactors.models import ALS, SVD, EarlyStopping, SVDpp, _strata
from latentfactors.models import svd as svd_mod


@pytest.fixture(scope="module")
def data():
    return make_synthetic(120, 90, 3000, rank=4, seed=3).interactions


@pytest.mark.parametrize(
    ("k", "width"),
    [(1, 1), (16, 16), (24, 24), (25, 32), (31, 32), (32, 32), (33, 33), (39, 39), (40, 64),
     (50, 64), (63, 64), (64, 64), (65, 65), (80, 96), (100, 100), (112, 128), (200, 224)],
)  # fmt: skip
def test_padded_width(k, width):
    assert _strata.padded_width(k) == width


def test_pad_columns_appends_zeros():
    A = np.arange(6, dtype=np.float32).reshape(3, 2)
    out = _strata.pad_columns(A, 5)
    assert out.shape == (3, 5) and out.flags["C_CONTIGUOUS"] and out.dtype == np.float32
    assert np.array_equal(out[:, :2], A) and not out[:, 2:].any()
    same = _strata.pad_columns(A, 2)
    assert np.array_equal(same, A)


def test_padding_stays_zero_and_stays_inside(data):
    model = SVD(n_factors=50, n_epochs=4, random_state=0, n_threads=1)
    trainer = model._make_trainer(data, 0)
    assert trainer.P.shape[1] == 64 and trainer.Q.shape[1] == 64
    for epoch in range(4):
        trainer.epoch(epoch)
    assert not trainer.P[:, 50:].any() and not trainer.Q[:, 50:].any()
    arr = trainer.arrays()
    assert arr["user_factors"].shape == (data.n_users, 50)
    assert arr["item_factors"].flags["C_CONTIGUOUS"]
    # a snapshot restored is the snapshot (what early stopping does with the best epoch)
    snap = trainer.snapshot()
    trainer.epoch(4)
    trainer.restore(snap)
    again = trainer.arrays()
    assert all(np.array_equal(again[name], snap[name]) for name in snap)
    assert not trainer.P[:, 50:].any()


def test_padded_model_matches_unpadded(data, monkeypatch):
    padded = SVD(n_factors=50, n_epochs=8, random_state=0, n_threads=1).fit(data)
    monkeypatch.setattr(svd_mod, "padded_width", lambda k: k)
    plain = SVD(n_factors=50, n_epochs=8, random_state=0, n_threads=1).fit(data)
    assert padded.user_factors_.shape == plain.user_factors_.shape == (data.n_users, 50)
    np.testing.assert_allclose(padded.user_factors_, plain.user_factors_, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(padded.item_factors_, plain.item_factors_, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(padded.history_["train_rmse"], plain.history_["train_rmse"],
                               rtol=1e-6)  # fmt: skip


def test_padded_fit_is_thread_count_independent(data):
    one = SVD(n_factors=50, n_epochs=5, random_state=1, n_threads=1).fit(data)
    two = SVD(n_factors=50, n_epochs=5, random_state=1, n_threads=2).fit(data)
    assert np.array_equal(one.user_factors_, two.user_factors_)
    assert np.array_equal(one.item_factors_, two.item_factors_)


def test_early_stopping_restores_through_the_padding(data):
    """The best epoch's factors come back whole through the padded rows."""
    train, test = random_split(data, 0.2, seed=0)
    model = SVD(n_factors=50, n_epochs=60, lr=0.05, reg=0.0, random_state=0, n_threads=1)
    model.fit(train, validation=test, callbacks=[EarlyStopping(patience=2)])
    hist = model.history_["val_rmse"]
    best = int(np.argmin(hist))
    assert len(hist) < 60 and model.best_epoch_ == best + 1
    assert model.user_factors_.shape == (train.n_users, 50)
    assert evaluate(model, test, metrics=["rmse"]).metrics["rmse"] == pytest.approx(
        hist[best], rel=1e-3
    )


# ALS's CG solver pads its rows the same way (the exact solver does not)


def test_als_cg_padding_stays_zero_and_matches_unpadded(data, monkeypatch):
    from latentfactors.models import ALS
    from latentfactors.models import als as als_mod

    kw = dict(n_factors=50, n_epochs=6, reg=0.1, random_state=0, n_threads=1)
    trainer = ALS(**kw)._make_trainer(data, 0)
    assert trainer.P.shape[1] == 64 and trainer.Q.shape[1] == 64
    for epoch in range(3):
        trainer.epoch(epoch)
    assert not trainer.P[:, 50:].any() and not trainer.Q[:, 50:].any()
    snap = trainer.snapshot()
    assert snap["user_factors"].shape == (data.n_users, 50)
    assert snap["item_factors"].flags["C_CONTIGUOUS"]
    trainer.epoch(3)
    trainer.restore(snap)
    assert all(np.array_equal(trainer.arrays()[n], snap[n]) for n in snap)
    exact = ALS(solver="exact", **kw)._make_trainer(data, 0)
    assert exact.P.shape[1] == 50
    padded = ALS(**kw).fit(data)
    searched = ALS(**{**kw, "reg": "auto"}).fit(data)  # the search restarts the padded rows
    monkeypatch.setattr(als_mod, "padded_width", lambda k: k)
    plain = ALS(**kw).fit(data)
    plain_searched = ALS(**{**kw, "reg": "auto"}).fit(data)
    for a, b in ((padded, plain), (searched, plain_searched)):
        assert a.user_factors_.shape == b.user_factors_.shape == (data.n_users, 50)
        np.testing.assert_allclose(a.user_factors_, b.user_factors_, rtol=1e-3, atol=1e-5)
        np.testing.assert_allclose(a.item_factors_, b.item_factors_, rtol=1e-3, atol=1e-5)
    assert padded.history_["train_rmse"] == pytest.approx(plain.history_["train_rmse"], rel=1e-5)


@pytest.mark.parametrize(
    "make",
    [lambda: SVD(n_factors=50), lambda: SVDpp(n_factors=50),
     lambda: ALS(n_factors=50, reg=0.1), lambda: ALS(n_factors=50, reg=0.1, solver="exact")],
)  # fmt: skip
def test_size_check_covers_what_the_trainer_allocates(data, make):
    """The memory guard (``_check_size``) counts the factor-shaped arrays a fit holds:
    the trainer's (padded ones included) and the model's own factors."""
    model = make()
    trainer = model._make_trainer(data, 0)
    held = sum(a.nbytes for a in vars(trainer).values()
               if isinstance(a, np.ndarray) and a.ndim == 2 and a.dtype == np.float32)  # fmt: skip
    k = model.n_factors
    item_sides = 2 if isinstance(model, SVDpp) else 1  # SVD++ keeps its implicit factors too
    final = 4 * k * (data.n_users + item_sides * data.n_items)
    assert held + final <= 4 * model._training_floats(k, data.n_users, data.n_items)
