"""One behavioural suite that every model passes (later models join through MODELS)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from latentfactors import (
    DataError,
    DivergenceError,
    Interactions,
    InvalidParameterError,
    NotFittedError,
)
from latentfactors.data import make_synthetic, random_split
from latentfactors.evaluation import ranking_metrics
from latentfactors.models import (
    ALS,
    BPR,
    NMF,
    SVD,
    Baseline,
    Callback,
    EarlyStopping,
    ImplicitALS,
    Popularity,
    SVDpp,
    TruncatedSVD,
)
from latentfactors.testing import registered_models, small_model

# Every registered model is in this suite: tuned small configurations for the models we
# ship (with the test RMSE / noise each must reach on planted data, None where a model
# cannot reach the noise level); a model without one here runs with small_model().
_TUNED = {
    "SVD": (lambda: SVD(n_factors=8, n_epochs=30, lr=0.02, reg=0.02, random_state=0), 1.25),
    "SVDpp": (lambda: SVDpp(n_factors=8, n_epochs=30, lr=0.02, reg=0.02, random_state=0), 1.3),
    "Baseline": (lambda: Baseline(random_state=0), None),
    "ALS": (lambda: ALS(n_factors=8, n_epochs=10, reg=0.02, random_state=0), 1.25),
    "NMF": (lambda: NMF(n_factors=8, n_epochs=60, random_state=0), None),
    "TruncatedSVD": (lambda: TruncatedSVD(n_factors=5, random_state=0), None),
    "ImplicitALS": (lambda: ImplicitALS(n_factors=8, n_epochs=8, random_state=0), None),
    "BPR": (lambda: BPR(n_factors=8, n_epochs=10, random_state=0), None),
    "Popularity": (lambda: Popularity(), None),
}
MODELS: dict = {}  # explicit models: name -> (factory, RMSE limit / noise or None)
IMPLICIT: dict = {}  # implicit models: name -> factory
for _name, _cls in registered_models().items():
    _factory, _limit = _TUNED.get(_name, (lambda c=_cls: small_model(c), None))
    if _cls.data_kind == "explicit":
        MODELS[_name] = (_factory, _limit)
    else:
        IMPLICIT[_name] = _factory
IMPLICIT["ImplicitALS-cholesky"] = lambda: ImplicitALS(
    n_factors=8, n_epochs=8, solver="cholesky", random_state=0
)
NAMES = sorted(MODELS)
NOISE = 0.3
# every model, with the data it learns from
ALL = {**{n: (f, "explicit") for n, (f, _) in MODELS.items()},
       **{n: (f, "implicit") for n, f in IMPLICIT.items()}}  # fmt: skip
ALL_NAMES = sorted(ALL)


@pytest.fixture(scope="module")
def implicit_data():
    syn = make_synthetic(400, 250, 12_000, rank=5, implicit=True, signal_std=2.0, seed=1)
    return random_split(syn.interactions, 0.2, seed=0)


def data_for(name, planted, implicit_data):
    if ALL[name][1] == "explicit":
        return planted[1], planted[2]
    return implicit_data


@pytest.fixture(scope="module")
def planted():
    syn = make_synthetic(500, 300, 30_000, rank=5, noise=NOISE, seed=0)
    train, test = random_split(syn.interactions, 0.2, seed=0)
    return syn, train, test


@pytest.fixture(scope="module")
def fitted(planted):
    _, train, _ = planted
    return {name: MODELS[name][0]().fit(train) for name in NAMES}


def rmse(model, data):
    pred = model.predict(data.users.ids(data.user_ids), data.items.ids(data.item_ids))
    return float(np.sqrt(np.mean((pred - data.values) ** 2)))


@pytest.mark.parametrize("name", NAMES)
def test_learned_state(name, fitted, planted):
    _, train, _ = planted
    model = fitted[name]
    assert model.users_ is train.users and model.items_ is train.items
    k = model.item_factors_.shape[1]
    assert model.user_factors_.shape == (train.n_users, k)
    assert model.item_factors_.shape == (train.n_items, k)
    for attr in ("user_factors_", "item_factors_", "user_bias_", "item_bias_"):
        arr = getattr(model, attr)
        assert arr.dtype == np.float32 and arr.flags.c_contiguous, attr
        assert np.isfinite(arr).all(), attr
    assert model.user_bias_.shape == (train.n_users,)
    assert model.global_mean_ == pytest.approx(train.global_mean)
    assert len(model.history_["epoch"]) >= 1
    assert model.random_state_ == 0


@pytest.mark.parametrize("name", NAMES)
def test_accuracy_on_planted_factors(name, fitted, planted):
    _, train, test = planted
    model = fitted[name]
    limit = MODELS[name][1]
    got = rmse(model, test)
    global_mean = float(np.sqrt(np.mean((test.values - train.global_mean) ** 2)))
    assert got < 0.95 * global_mean, f"{name}: {got:.3f} vs global mean {global_mean:.3f}"
    if limit is not None:
        assert got < limit * NOISE, f"{name}: test RMSE {got:.3f} vs noise {NOISE}"


@pytest.mark.parametrize("name", NAMES)
def test_predict_raw_ids_clip_and_fallback(name, fitted, planted):
    _, train, _ = planted
    model = fitted[name]
    users = train.users.raw[:5]
    items = train.items.raw[:5]
    pred = model.predict(users, items)
    assert pred.shape == (5,) and pred.dtype == np.float64
    lo, hi = train.rating_scale
    assert (pred >= lo).all() and (pred <= hi).all()
    assert model.predict_one(users[0], items[0]) == pytest.approx(pred[0])
    # unknown ids fall back to mean + known bias (or the model's prior for unseen rows:
    # the unknown side's bias and factors at the prior mean), and say so
    pred2, fallback = model.predict([users[0], -1, -1], [-7, items[0], -7], return_mask=True)
    assert fallback.tolist() == [True, True, True]
    mu = model.global_mean_
    want = [mu + model.user_bias_[0], mu + model.item_bias_[0], mu]
    cold = model._cold_priors()
    if cold is not None:
        v = model.user_vectors_[0].astype(np.float64)
        q = model.item_factors_[0].astype(np.float64)
        uv, iv = cold["user_vector"], cold["item_vector"]
        want[0] += model.intercept_ - mu + cold["item_bias"] + v @ iv
        want[1] += model.intercept_ - mu + cold["user_bias"] + q @ uv
        want[2] += model.intercept_ - mu + cold["user_bias"] + cold["item_bias"] + uv @ iv
    np.testing.assert_allclose(pred2, np.clip(want, lo, hi), atol=1e-5)
    # scalar broadcast
    assert model.predict(users[0], items[:3]).shape == (3,)
    with pytest.raises(DataError, match="same length: 2 != 3"):
        model.predict(users[:2], items[:3])


@pytest.mark.parametrize("name", ALL_NAMES)
def test_not_fitted(name):
    model = ALL[name][0]()
    with pytest.raises(
        NotFittedError,
        match=f"this {type(model).__name__} is not fitted yet; "
        r"call fit\(train\) before predict\(\)",
    ):
        model.predict([1], [1])


@pytest.mark.parametrize("name", ALL_NAMES)
def test_params_round_trip(name):
    model = ALL[name][0]()
    params = model.get_params()
    assert json.loads(json.dumps(params)) == params
    clone = model.clone()
    assert type(clone) is type(model) and clone.get_params() == params
    assert not hasattr(clone, "item_factors_")
    assert model.set_params(random_state=5) is model and model.random_state == 5
    with pytest.raises(
        InvalidParameterError,
        match=f"{type(model).__name__} has no parameter 'bogus'; valid parameters: ",
    ):
        model.set_params(bogus=1)
    assert type(model).__name__ in repr(model)
    # NumPy scalars (a grid from np.arange, a value read from a DataFrame) round-trip too
    model.set_params(random_state=np.int64(3))
    assert model.get_params()["random_state"] == 3
    assert type(model.get_params()["random_state"]) is int
    assert model.clone().random_state == 3


@pytest.mark.parametrize("name", ALL_NAMES)
def test_bad_parameter_values(name, planted, implicit_data):
    train, _ = data_for(name, planted, implicit_data)
    model = ALL[name][0]()
    params = model.get_params()
    bad = next((p for p in ("n_factors", "n_epochs") if p in params), "n_threads")
    model.set_params(**{bad: -3})
    with pytest.raises(
        InvalidParameterError,
        match=f"{type(model).__name__}: {bad}=-3 is invalid; expected an integer",
    ):
        model.fit(train)
    model = ALL[name][0]().set_params(random_state="seed")
    with pytest.raises(InvalidParameterError, match="random_state='seed' is invalid"):
        model.fit(train)


@pytest.mark.parametrize("name", NAMES)
def test_bad_data(name):
    model = MODELS[name][0]()
    with pytest.raises(DataError, match=r"fit expects an Interactions container, got DataFrame"):
        import pandas as pd

        model.fit(pd.DataFrame({"user": [1], "item": [1]}))
    implicit = Interactions.from_arrays([1, 2], [1, 2])
    with pytest.raises(DataError, match="learns from explicit ratings but the data is implicit"):
        model.fit(implicit)
    empty = Interactions.from_arrays([1], [1], ratings=[3.0]).subset(np.array([], dtype=int))
    with pytest.raises(DataError, match=r"got empty training data \(0 interactions\)"):
        model.fit(empty)


@pytest.mark.parametrize("name", ALL_NAMES)
def test_same_seed_same_model(name, planted, implicit_data):
    train, _ = data_for(name, planted, implicit_data)
    a = ALL[name][0]().fit(train)
    b = ALL[name][0]().fit(train)
    assert np.array_equal(a.user_factors_, b.user_factors_)
    assert np.array_equal(a.item_bias_, b.item_bias_)


@pytest.mark.parametrize("name", ALL_NAMES)
def test_fit_does_not_mutate_input(name, planted, implicit_data):
    train, _ = data_for(name, planted, implicit_data)
    before = (train.user_ids.copy(), train.item_ids.copy(), train.values.copy())
    ALL[name][0]().fit(train)
    assert all(np.array_equal(x, y) for x, y in zip(before, train.coo()))


@pytest.mark.parametrize("name", ALL_NAMES)
def test_callbacks_and_history(name, planted, implicit_data):
    train, test = data_for(name, planted, implicit_data)
    model = ALL[name][0]()
    seen = []

    class Recorder(Callback):
        def on_fit_start(self, model, n_epochs):
            seen.append(("start", n_epochs))

        def on_epoch_end(self, model, info):
            val = next(v for key, v in info.items() if key.startswith("val_"))
            seen.append(("epoch", info["epoch"], val is not None))

        def on_fit_end(self, model):
            seen.append(("end",))

    model.fit(train, validation=test, callbacks=[Recorder()])
    n = len(model.history_["epoch"])
    assert seen[0][0] == "start" and seen[-1] == ("end",)
    assert [s[1] for s in seen if s[0] == "epoch"] == list(range(1, n + 1))
    assert all(s[2] for s in seen if s[0] == "epoch")
    if ALL[name][1] == "explicit":
        assert model.history_["val_rmse"][-1] == pytest.approx(rmse(model, test), rel=1e-3)
    else:
        ndcg = ranking_metrics(model, test, 10)["ndcg@10"]
        assert model.history_["val_ndcg@10"][-1] == pytest.approx(ndcg, rel=1e-6)
    if model.iterative:
        stopped = ALL[name][0]().fit(train, callbacks=lambda m, info: info["epoch"] == 2)
        assert len(stopped.history_["epoch"]) == 2


@pytest.mark.parametrize("name", [n for n in ALL_NAMES if ALL[n][0]().iterative])
def test_early_stopping_restores_best(name, planted, implicit_data):
    train, test = data_for(name, planted, implicit_data)
    model = ALL[name][0]().set_params(n_epochs=60)
    early = EarlyStopping(patience=2)
    model.fit(train, validation=test, callbacks=[early])
    if ALL[name][1] == "explicit":
        hist = model.history_["val_rmse"]
        best = int(np.argmin(hist))
        assert rmse(model, test) == pytest.approx(hist[best], rel=1e-3)
    else:
        hist = model.history_["val_ndcg@10"]
        best = int(np.argmax(hist))
        assert ranking_metrics(model, test, 10)["ndcg@10"] == pytest.approx(hist[best], rel=1e-6)
    assert model.best_epoch_ == best + 1
    assert len(hist) < 60 or best == 59
    with pytest.raises(InvalidParameterError, match="pass validation= to fit"):
        ALL[name][0]().fit(train, callbacks=[EarlyStopping()])


@pytest.mark.parametrize(
    ("name", "metric", "mode"),
    [("SVD", "mae", "min"), ("SVD", "recall@5", "max"), ("ImplicitALS", "recall@20", "max"),
     ("BPR", "map@10", "max")],
)  # fmt: skip
def test_early_stopping_on_any_metric(name, metric, mode, planted, implicit_data):
    train, test = data_for(name, planted, implicit_data)
    model = ALL[name][0]().set_params(n_epochs=40)
    model.fit(train, validation=test, validation_metric=metric,
              callbacks=[EarlyStopping(patience=2)])  # fmt: skip
    hist = model.history_[f"val_{metric}"]
    best = int(np.argmin(hist) if mode == "min" else np.argmax(hist))
    assert model.best_epoch_ == best + 1
    from latentfactors.evaluation import evaluate

    assert evaluate(model, test, metrics=[metric]).metrics[metric] == pytest.approx(
        hist[best], rel=1e-6
    )


def test_bad_validation_metric(implicit_data):
    train, test = implicit_data
    with pytest.raises(InvalidParameterError, match="scores preferences, not ratings"):
        ImplicitALS(n_epochs=1).fit(train, validation=test, validation_metric="rmse")
    with pytest.raises(InvalidParameterError, match="not available per epoch"):
        ImplicitALS(n_epochs=1).fit(train, validation=test, validation_metric="auc")


@pytest.mark.parametrize(
    "factory, loss",
    [
        (lambda: SVD(n_factors=4, n_epochs=3, lr=5.0), "train_rmse"),
        (lambda: SVDpp(n_factors=4, n_epochs=3, lr=5.0), "train_rmse"),
        (lambda: BPR(n_factors=4, n_epochs=3, lr=1e4), "train_loss"),
    ],
)
def test_divergence_is_an_error_not_nan_factors(factory, loss, planted, implicit_data):
    """An lr far too large overflows the factors: fit says so (it used to return NaNs)."""
    model = factory()
    train = planted[1] if model.data_kind == "explicit" else implicit_data[0]
    name = type(model).__name__
    model.set_params(lr=0.01).fit(train)  # a fitted model, refitted with a bad lr ...
    model.set_params(lr=5.0 if model.data_kind == "explicit" else 1e4)
    with pytest.raises(
        DivergenceError,
        match=rf"{name} diverged in epoch 1: {loss} is nan \(the factors overflowed\); "
        r"lower lr or raise reg \(now lr=",
    ):
        model.fit(train)
    assert not hasattr(model, "item_factors_") and not hasattr(model, "users_")  # unfitted
    with pytest.raises(NotFittedError):
        model.recommend(1)
    assert isinstance(DivergenceError("x"), FloatingPointError)


def test_overflow_in_the_last_epoch_is_caught_too(planted):
    """The loss is measured before each update, so factors that overflow in the last
    updates would slip past it: fit checks what it learned as well."""

    def poison(model, info):
        if info["epoch"] == info["n_epochs"]:
            model._trainer.P[0, 0] = np.inf

    model = SVD(n_factors=4, n_epochs=2, random_state=0)
    with pytest.raises(DivergenceError, match=r"SVD diverged in epoch 2: its factors hold NaN"):
        model.fit(planted[1], callbacks=[poison])
    assert not hasattr(model, "users_")


def test_a_failed_refit_leaves_no_mix_of_two_fits(planted):
    """An error in the middle of a refit (here a callback's) must not leave the earlier
    fit's factors next to the new fit's ids; an error before training starts (a bad
    validation metric) leaves the earlier fit untouched."""
    train = planted[1]
    model = SVD(n_factors=4, n_epochs=2, random_state=0).fit(train)
    before = model.item_factors_.copy()
    with pytest.raises(InvalidParameterError, match="not available per epoch"):
        model.fit(planted[0].interactions, validation_metric="auc")
    assert np.array_equal(model.item_factors_, before) and model.users_ is train.users

    def boom(model, info):
        raise RuntimeError("callback failed")

    with pytest.raises(RuntimeError, match="callback failed"):
        model.fit(train, callbacks=[boom])
    assert not hasattr(model, "item_factors_") and not hasattr(model, "users_")
    assert not hasattr(model, "_trainer") and not model._fitting
    with pytest.raises(NotFittedError):
        model.predict([1], [1])
    model.fit(train)  # and it fits again
    assert model.item_factors_.shape == before.shape


def test_popularity_counts_users_or_weights():
    data = Interactions.from_arrays(
        ["a", "a", "b", "c", "c"], ["x", "y", "x", "x", "z"], weights=[1.0, 5.0, 1.0, 2.0, 9.0]
    )
    by_users = Popularity().fit(data)
    assert by_users.recommend("b", n=3)[0].tolist() == ["y", "z"]  # x is seen; y, z tie
    scores = dict(zip(data.items.raw, by_users.item_bias_))
    assert scores == {"x": 3.0, "y": 1.0, "z": 1.0}
    by_weight = Popularity(by="weight").fit(data)
    assert by_weight.recommend("b", n=2)[0].tolist() == ["z", "y"]  # 9 before 5
    assert by_weight.predict(["a"], ["x"])[0] == pytest.approx(4.0)
    ratings = Interactions.from_arrays(["a", "b", "b"], ["x", "x", "y"], ratings=[1, 5, 5])
    liked = Popularity(threshold=4).fit(ratings)
    assert dict(zip(ratings.items.raw, liked.item_bias_)) == {"x": 1.0, "y": 1.0}
    with pytest.raises(InvalidParameterError, match=r"Popularity: by='x' is invalid; "
                       r"expected one of 'users', 'weight'"):  # fmt: skip
        Popularity(by="x").fit(data)
