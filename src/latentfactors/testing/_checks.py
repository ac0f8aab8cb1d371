"""The checks of the behaviour suite (plain asserts: no pytest needed to run them)."""

from __future__ import annotations

import functools
import json
import re
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from .._registry import MODELS, is_registered, model_class
from ..data.interactions import Interactions
from ..data.splits import random_split
from ..data.synthetic import make_synthetic
from ..exceptions import (
    DataError,
    InvalidParameterError,
    LatentFactorsError,
    NotFittedError,
    UnknownIdError,
)

__all__ = [
    "CHECKS",
    "check_model",
    "checkerboard",
    "model_checks",
    "planted",
    "registered_models",
    "small_model",
]

Check = Callable[[Any], None]


# ---------------------------------------------------------------------- data
@functools.cache
def planted(kind: str = "explicit", seed: int = 0) -> tuple[Interactions, Interactions]:
    """A train / test split of planted rank-5 data (explicit ratings or implicit counts)."""
    if kind == "explicit":
        syn = make_synthetic(400, 250, 20_000, rank=5, noise=0.3, seed=seed)
    else:
        syn = make_synthetic(400, 250, 12_000, rank=5, implicit=True, signal_std=2.0, seed=seed)
    return random_split(syn.interactions, 0.2, seed=0)


@functools.cache
def checkerboard(kind: str = "explicit", n: int = 40, seed: int = 0) -> Interactions:
    """Users like items of their own parity (``"u3"`` likes ``"i1"``, ``"i3"`` ...).

    Explicit: half the cells observed, 5 for the same parity and 1 otherwise. Implicit:
    60% of the same-parity cells observed.
    """
    rng = np.random.default_rng(seed)
    u, i = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    u, i = u.ravel(), i.ravel()
    same = (u + i) % 2 == 0
    if kind == "explicit":
        obs = rng.random(len(u)) < 0.5
        r = np.where(same, 5.0, 1.0)
        return Interactions.from_arrays(
            [f"u{x}" for x in u[obs]], [f"i{x}" for x in i[obs]], ratings=r[obs]
        )
    obs = same & (rng.random(len(u)) < 0.6)
    return Interactions.from_arrays([f"u{x}" for x in u[obs]], [f"i{x}" for x in i[obs]])


def _kind(model: Any) -> str:
    return "explicit" if model.data_kind == "explicit" else "implicit"


def _fresh(model: Any) -> Any:
    return model.clone()


def registered_models() -> dict[str, type]:
    """The registry's model classes that import here: class name -> class."""
    out = {}
    for entry in MODELS:
        try:
            out[entry.class_name] = model_class(entry.class_name)
        except (ImportError, AttributeError):
            continue
    return out


def small_model(cls: type) -> Any:
    """A small, fast, seeded instance of ``cls`` for the checks (8 factors, <= 20 epochs)."""
    model = cls()
    params = model.get_params()
    chosen: dict[str, Any] = {}
    if "n_factors" in params:
        chosen["n_factors"] = 8
    if "n_epochs" in params:
        chosen["n_epochs"] = min(int(params["n_epochs"]), 20)
    if "random_state" in params:
        chosen["random_state"] = 0
    return model.set_params(**chosen)


def _raises(exc: type, pattern: str, fn: Callable[[], Any]) -> None:
    try:
        fn()
    except exc as err:
        assert re.search(pattern, str(err)), f"{exc.__name__} message {str(err)!r} !~ {pattern!r}"
        return
    raise AssertionError(f"expected {exc.__name__} matching {pattern!r}; nothing was raised")


# ---------------------------------------------------------------------- checks
def check_params_round_trip(model: Any) -> None:
    """get_params is JSON, clone copies it unfitted, set_params refuses unknown names."""
    params = model.get_params()
    assert json.loads(json.dumps(params)) == params, "get_params() must round-trip JSON"
    clone = model.clone()
    assert type(clone) is type(model) and clone.get_params() == params
    assert not hasattr(clone, "item_factors_"), "clone() must be unfitted"
    name = type(model).__name__
    _raises(InvalidParameterError, rf"{name} has no parameter 'bogus'",
            lambda: model.clone().set_params(bogus=1))  # fmt: skip
    assert name in repr(model)


def check_not_fitted(model: Any) -> None:
    """Every method of an unfitted model raises NotFittedError naming the method."""
    m = _fresh(model)
    name = type(m).__name__
    calls = {
        "predict": lambda: m.predict([1], [1]),
        "recommend": lambda: m.recommend(1),
        "similar_items": lambda: m.similar_items(1),
        "explain": lambda: m.explain(1, 1),
        "get_state": lambda: m.get_state(),
    }
    for method, call in calls.items():
        _raises(NotFittedError, rf"this {name} is not fitted yet; call fit\(train\) before "
                rf"{method}\(\)", call)  # fmt: skip


def check_bad_parameter(model: Any) -> None:
    """A bad parameter value is an InvalidParameterError naming it, raised by fit."""
    train, _ = planted(_kind(model))
    params = model.get_params()
    bad = next((p for p in ("n_factors", "n_epochs", "n_threads") if p in params), None)
    if bad is None:
        return
    m = _fresh(model).set_params(**{bad: -3})
    _raises(InvalidParameterError, rf"{bad}=-3 is invalid; expected", lambda: m.fit(train))


def check_bad_data(model: Any) -> None:
    """fit refuses what is not Interactions, empty data and (for rating models) implicit data."""
    m = _fresh(model)
    _raises(DataError, "fit expects an Interactions container", lambda: m.fit([[1, 2, 3]]))
    empty = Interactions.from_arrays([1], [1], ratings=[3.0]).subset(np.array([], dtype=int))
    _raises(DataError, r"got empty training data \(0 interactions\)", lambda: m.fit(empty))
    if model.data_kind == "explicit":
        implicit = Interactions.from_arrays([1, 2], [1, 2])
        _raises(DataError, "learns from explicit ratings but the data is implicit",
                lambda: m.fit(implicit))  # fmt: skip


def check_learned_state(model: Any) -> None:
    """Learned arrays: float32, C order, finite, shaped by the vocabularies; get_state and
    set_state round-trip into an equal model."""
    train, _ = planted(_kind(model))
    m = _fresh(model).fit(train)
    k = m.item_factors_.shape[1]
    assert m.users_ is train.users and m.items_ is train.items
    assert m.user_factors_.shape == (train.n_users, k)
    assert m.item_factors_.shape == (train.n_items, k)
    for attr in ("user_factors_", "item_factors_", "user_bias_", "item_bias_", "user_vectors_"):
        a = getattr(m, attr)
        assert a.dtype == np.float32 and a.flags.c_contiguous, f"{attr}: {a.dtype}"
        assert np.isfinite(a).all(), f"{attr} holds NaN/inf"
    assert len(m.history_["epoch"]) >= 1
    state = m.get_state()
    other = _fresh(model).set_state(state)
    users = train.users.raw[:5]
    assert np.array_equal(other.predict(users, train.items.raw[:5]),
                          m.predict(users, train.items.raw[:5]))  # fmt: skip
    assert other.recommend(users[0], n=5)[0].tolist() == m.recommend(users[0], n=5)[0].tolist()
    bad = dict(state, item_factors=state["item_factors"][:-1])
    _raises(DataError, "factor shapes", lambda: _fresh(model).set_state(bad))


def check_same_seed_same_model(model: Any) -> None:
    """The same parameters and seed give the same model."""
    train, _ = planted(_kind(model))
    a, b = _fresh(model).fit(train), _fresh(model).fit(train)
    assert np.array_equal(a.user_factors_, b.user_factors_)
    assert np.array_equal(a.item_factors_, b.item_factors_)
    assert np.array_equal(a.item_bias_, b.item_bias_)


def check_fit_does_not_mutate_input(model: Any) -> None:
    train, _ = planted(_kind(model))
    before = [a.copy() for a in train.coo()]
    _fresh(model).fit(train)
    assert all(np.array_equal(x, y) for x, y in zip(before, train.coo())), "fit changed its input"


def check_callbacks(model: Any) -> None:
    """Callbacks see every epoch with the validation metric; returning True stops."""
    train, test = planted(_kind(model))
    seen: list[int] = []

    def record(m: Any, info: dict) -> bool:
        assert any(k.startswith("val_") and v is not None for k, v in info.items())
        seen.append(info["epoch"])
        return False

    m = _fresh(model).fit(train, validation=test, callbacks=[record])
    assert seen == list(range(1, len(m.history_["epoch"]) + 1))
    if m.iterative and int(m.get_params().get("n_epochs", 1)) > 2:
        stopped = _fresh(model).fit(train, callbacks=lambda m, info: info["epoch"] == 2)
        assert len(stopped.history_["epoch"]) == 2


def check_predict(model: Any) -> None:
    """predict takes raw ids, broadcasts a scalar, and flags fallbacks for unknown ids."""
    train, _ = planted(_kind(model))
    m = _fresh(model).fit(train)
    users, items = train.users.raw[:4], train.items.raw[:4]
    pred, fallback = m.predict(users, items, return_mask=True)
    assert pred.shape == (4,) and pred.dtype == np.float64 and not fallback.any()
    pred, fallback = m.predict([users[0], -99], [-99, items[0]], return_mask=True)
    assert fallback.tolist() == [True, True]
    assert m.predict(users[0], items[:3]).shape == (3,)
    _raises(DataError, "same length", lambda: m.predict(users[:2], items[:3]))


def check_recommend(model: Any) -> None:
    """Top-n raw ids, best first, seen items excluded, unknown users refused clearly."""
    data = checkerboard(_kind(model))
    m = _fresh(model).fit(data)
    seen = data.csr
    for row, user in enumerate(data.users.raw[:5]):
        items, scores = m.recommend(user, n=10)
        assert len(items) == min(10, data.n_items - seen[row].nnz)
        assert np.all(np.diff(scores) <= 1e-6), "scores must come best first"
        assert not set(data.items.index(items).tolist()) & set(seen[row].indices.tolist())
    frame = m.recommend(users=data.users.raw[:3], n=4)
    assert list(frame.columns) == ["user", "item", "score", "rank"] and len(frame) == 12
    _raises(UnknownIdError, "not known to this model", lambda: m.recommend("no such user"))


def check_fold_in(model: Any) -> None:
    """fold_in(update=False) changes nothing; add_users then remembers the users."""
    data = checkerboard(_kind(model))
    m = _fresh(model).fit(data)
    n_users = len(m.users_)
    items = data.items.raw[:6].tolist()
    if model.data_kind == "explicit":
        new = Interactions.from_arrays(["new"] * 6, items, ratings=[5, 1, 5, 1, 5, 1])
    else:
        new = Interactions.from_arrays(["new"] * 6, items)
    fold = m.fold_in(new, update=False)
    assert len(m.users_) == n_users and "new" not in m.users_, "fold_in(update=False) mutated"
    assert fold.users.tolist() == ["new"] and fold.factors.shape == (1, m.item_factors_.shape[1])
    got, _ = m.recommend_for(fold, n=5)
    assert not set(got.tolist()) & set(items), "recommend_for returned seen items"
    m.add_users(fold)
    assert "new" in m.users_ and len(m.users_) == n_users + 1
    assert m.recommend("new", n=5)[0].tolist() == got.tolist()


def check_save_load(model: Any) -> None:
    """A model file round-trips exactly (registered classes only)."""
    if not is_registered(type(model)):
        return
    from ..persistence import load, save

    train, _ = planted(_kind(model))
    m = _fresh(model).fit(train)
    with tempfile.TemporaryDirectory() as tmp:
        again = load(save(m, Path(tmp) / "m.lfm"))
    users, items = train.users.raw[:6], train.items.raw[:6]
    assert type(again) is type(m) and again.get_params() == m.get_params()
    assert np.array_equal(again.predict(users, items), m.predict(users, items))
    assert again.recommend(users[0], n=5)[0].tolist() == m.recommend(users[0], n=5)[0].tolist()


def check_learns(model: Any) -> None:
    """Beats the global mean on held-out planted ratings (rating models), or random
    ranking on held-out implicit data (NDCG@10)."""
    from .._metrics import ranking_from_lists

    train, test = planted(_kind(model))
    m = _fresh(model).fit(train)
    if model.data_kind == "explicit":
        pred = m.predict(test.users.ids(test.user_ids), test.items.ids(test.item_ids))
        rmse = float(np.sqrt(np.mean((pred - test.values) ** 2)))
        base = float(np.sqrt(np.mean((test.values - train.global_mean) ** 2)))
        assert rmse < 0.95 * base, f"test RMSE {rmse:.3f} vs global mean {base:.3f}"
        return
    import scipy.sparse as sp

    u = m.users_.index(test.users.ids(test.user_ids), missing="ignore")
    i = m.items_.index(test.items.ids(test.item_ids), missing="ignore")
    ok = (u >= 0) & (i >= 0)
    truth = sp.csr_matrix((np.ones(int(ok.sum())), (u[ok], i[ok])),
                          shape=(len(m.users_), len(m.items_)))  # fmt: skip
    truth.sum_duplicates()
    rows = np.flatnonzero(np.diff(truth.indptr) > 0)
    sub = truth[rows]
    top, _ = m._top_n(rows, 10, True)
    got = ranking_from_lists(top, sub.indptr, sub.indices, 10)["ndcg@10"]
    rng = np.random.default_rng(0)
    rand = np.argsort(rng.random((len(rows), len(m.items_))), axis=1)[:, :10].astype(np.int32)
    chance = ranking_from_lists(rand, sub.indptr, sub.indices, 10)["ndcg@10"]
    assert got > 1.5 * chance, f"NDCG@10 {got:.3f} vs random {chance:.3f}"


CHECKS: tuple[Check, ...] = (
    check_params_round_trip,
    check_not_fitted,
    check_bad_parameter,
    check_bad_data,
    check_learned_state,
    check_same_seed_same_model,
    check_fit_does_not_mutate_input,
    check_callbacks,
    check_predict,
    check_recommend,
    check_fold_in,
    check_save_load,
    check_learns,
)


def model_checks(model: Any) -> Iterator[tuple[str, Callable[[], None]]]:
    """``(check name, zero-argument callable)`` for every check, to parametrize tests."""
    for check in CHECKS:
        yield check.__name__, functools.partial(check, model)


def check_model(model: Any) -> None:
    """Run every check on ``model`` (unfitted; it is cloned, never changed)."""
    for name, run in model_checks(model):
        try:
            run()
        except AssertionError as exc:
            raise AssertionError(f"{type(model).__name__} fails {name}: {exc}") from exc
        except LatentFactorsError as exc:
            raise AssertionError(
                f"{type(model).__name__} fails {name}: {type(exc).__name__}: {exc}"
            ) from exc
