"""The fit loop, separate from any one trainer.

A :class:`Trainer` holds one fit's training-only state and runs one kernel call per
epoch. :func:`fit_loop` drives any trainer: callbacks, validation scoring, early
stopping, divergence checks, the thread limiter, and on success one swap of the learned
state into the model (on failure the model is left unfitted). The single-machine models
build their trainer from an ``Interactions``; ``latentfactors.distributed`` passes its
own trainers (and a :class:`FitData` built without gathering the rows) to the same loop.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .._metrics import parse_metric, ranking_from_lists
from .._runtime import limit_threads
from ..data.interactions import Interactions
from ..data.vocabulary import Vocabulary
from ..exceptions import DataError, DivergenceError, InvalidParameterError
from .callbacks import Callback

if TYPE_CHECKING:  # pragma: no cover
    from .base import FactorModel

__all__ = ["FitData", "Trainer", "fit_loop"]


class Trainer:
    """Training-only state of one ``fit`` call; discarded afterwards.

    Subclasses implement :meth:`epoch` (one kernel call; returns the training loss),
    :meth:`arrays` (the current learned arrays) and optionally :meth:`user_vectors` and
    :meth:`extra_state` (a model's own learned arrays, such as SVD++'s implicit factors).
    """

    #: the constant term of a score; None means the training data's global mean
    intercept: float | None = None
    #: whether :meth:`epoch` returns the loss (False: it returns NaN, not computed)
    reports_loss: bool = True

    def epoch(self, epoch: int) -> float:
        raise NotImplementedError

    def arrays(self) -> dict[str, Any]:
        """Current ``user_factors``, ``item_factors``, ``user_bias``, ``item_bias`` (arrays)."""
        raise NotImplementedError

    def snapshot(self) -> dict[str, Any]:
        return {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in self.arrays().items()}

    def restore(self, snap: dict[str, Any]) -> None:
        for k, v in snap.items():
            cur = self.arrays()[k]
            if isinstance(cur, np.ndarray):
                cur[...] = v

    def user_vectors(self) -> np.ndarray | None:
        """Vectors that multiply item factors in a score when they differ from the user
        factors (SVD++ adds its implicit term); None means the user factors themselves."""
        return None

    def extra_state(self) -> dict[str, np.ndarray]:
        """The model's own learned arrays beyond the core four (state keys, no ``_``)."""
        return {}

    def fitted_scalars(self) -> dict[str, Any]:
        """Optional learned scalars of the state (``_state.OPTIONAL_SCALARS``), such as
        ImplicitALS's ``reg_search``."""
        return {}


@dataclass
class FitData:
    """What the fit loop keeps from the training data: ids, counts, scale, seen items."""

    users: Vocabulary
    items: Vocabulary
    global_mean: float
    rating_scale: tuple[float, float] | None
    n_train: int
    user_counts: np.ndarray
    item_counts: np.ndarray
    seen: Any = None  # CSR users x items, or None when not kept

    @classmethod
    def from_interactions(cls, data: Interactions) -> FitData:
        return cls(
            data.users, data.items, float(data.global_mean), data.rating_scale, len(data),
            data.user_counts, data.item_counts, data.csr,
        )  # fmt: skip


def parse_validation_metric(model: FactorModel, name: str | None) -> tuple[str, int | None]:
    if name is None:
        name = "rmse" if model.data_kind == "explicit" else "ndcg@10"
    base, k = parse_metric(name, 10)
    if base in ("rmse", "mae") and model.data_kind != "explicit":
        raise InvalidParameterError(
            f"{type(model).__name__} scores preferences, not ratings; validate it with a "
            "ranking metric such as 'ndcg@10'"
        )
    if base in ("auc", "coverage", "mean_popularity"):
        raise InvalidParameterError(
            f"validation_metric={name!r} is not available per epoch; use rmse, mae, or "
            "precision / recall / ndcg / map / mrr / hit_rate at k"
        )
    return base, k


def history_keys(model: FactorModel, val_metric: tuple[str, int | None]) -> tuple[str, str]:
    """Names of the per-epoch training loss and validation metric."""
    base, k = val_metric
    loss = "train_rmse" if model.data_kind == "explicit" else "train_loss"
    return loss, "val_" + (base if k is None else f"{base}@{k}")


def validation_rows(meta: FitData, validation: Interactions | None, metric: str):
    """Validation rows in the model's inner ids (unknown users / items dropped)."""
    if validation is None:
        return None
    if not isinstance(validation, Interactions):
        raise DataError(
            f"validation must be an Interactions container, got {type(validation).__name__}"
        )
    if validation.users is meta.users and validation.items is meta.items:
        u, i, r = validation.user_ids, validation.item_ids, validation.values
    else:
        u = meta.users.index(validation.users.raw, missing="ignore")[validation.user_ids]
        i = meta.items.index(validation.items.raw, missing="ignore")[validation.item_ids]
        keep = (u >= 0) & (i >= 0)
        if not keep.any():
            raise DataError("no validation row has a user and an item seen in training")
        u, i, r = u[keep], i[keep], validation.values[keep]
    if metric in ("rmse", "mae"):
        return u, i, r
    import scipy.sparse as sp

    mat = sp.csr_matrix(
        (np.ones(len(u), dtype=np.float32), (u, i)), shape=(len(meta.users), len(meta.items))
    )
    mat.sum_duplicates()
    rows = np.flatnonzero(np.diff(mat.indptr) > 0)
    sub = mat[rows]
    sub.sort_indices()
    return rows, sub.indptr, sub.indices


def _validation_score(model, trainer: Trainer, meta: FitData, val, val_metric) -> float:
    from .scoring import rowwise_dot, top_n

    arr = trainer.arrays()
    vectors = trainer.user_vectors()
    U = arr["user_factors"] if vectors is None else vectors
    mu = meta.global_mean if trainer.intercept is None else trainer.intercept
    if model.data_kind != "explicit":
        mu = 0.0
    base, k = val_metric
    if base in ("rmse", "mae"):
        u, i, r = val
        pred = rowwise_dot(U, arr["item_factors"], u, i)
        pred += mu + arr["user_bias"][u] + arr["item_bias"][i]
        if meta.rating_scale is not None:
            np.clip(pred, meta.rating_scale[0], meta.rating_scale[1], out=pred)
        err = pred - r
        return float(np.sqrt(np.mean(err**2)) if base == "rmse" else np.mean(np.abs(err)))
    rows, indptr, indices = val
    seen = meta.seen[rows] if meta.seen is not None else None
    seen_rows = (seen.indptr.astype(np.int64), seen.indices.astype(np.int32)) if seen is not None \
        else None  # fmt: skip
    Q = arr["item_factors"]
    top, _ = top_n(
        U[rows], arr["user_bias"][rows], mu, Q, np.ascontiguousarray(Q.T),
        arr["item_bias"], k, seen_rows,
    )  # fmt: skip
    return ranking_from_lists(top, indptr, indices, k)[f"{base}@{k}"]


def divergence_message(model: FactorModel, epoch: int, what: str) -> str:
    params = model.get_params()
    hints = [f"{p}={params[p]!r}" for p in ("lr", "reg", "init_std") if p in params]
    hint = f" (now {', '.join(hints)})" if hints else ""
    fix = "lower lr or raise reg" if "lr" in params else "raise reg"
    k = params.get("n_factors")
    sizes = getattr(model, "_fit_sizes", None)
    if isinstance(k, int) and sizes and k > min(sizes):
        fix = (f"use fewer factors: n_factors={k} exceeds the {min(sizes)} "
               f"{'users' if sizes[0] <= sizes[1] else 'items'} of the data; or {fix}")  # fmt: skip
    return (
        f"{type(model).__name__} diverged in epoch {epoch}: {what} (the factors "
        f"overflowed); {fix}{hint} and fit again"
    )


def guarded_fit(
    model: FactorModel,
    meta: FitData,
    make_trainer: Callable[[], Trainer],
    **loop: Any,
) -> None:
    """:func:`fit_loop` with the model unfitted on any failure (an earlier fit's arrays
    must not meet this fit's ids) and the fitting flag and trainer cleared after."""
    try:
        model._discard_fit(keep_metadata=True)
        model._fitting = True
        fit_loop(model, meta, make_trainer, **loop)
    except BaseException:
        model._discard_fit(keep_metadata=True)
        raise
    finally:
        model._fitting = False
        model.__dict__.pop("_trainer", None)
        model.__dict__.pop("_fit_meta", None)


def fit_loop(
    model: FactorModel,
    meta: FitData,
    make_trainer: Callable[[], Trainer],
    *,
    validation: Interactions | None,
    callbacks: list[Callback],
    val_metric: tuple[str, int | None],
    seed: int,
) -> None:
    """Train ``model`` with the trainer ``make_trainer()`` builds, then adopt its state.

    Raises with the model left unfitted (the caller discards learned state on any
    exception)."""
    val = validation_rows(meta, validation, val_metric[0])
    n_epochs = int(getattr(model, "n_epochs", 1)) if model.iterative else 1
    loss_key, val_key = history_keys(model, val_metric)
    history: dict[str, list[Any]] = {"epoch": [], loss_key: [], val_key: [], "seconds": []}
    model.history_ = history  # callbacks may read it during the fit
    with limit_threads(getattr(model, "n_threads", None)):
        # what the data looks like, for parameters that adapt to it (SVD's reg_density)
        model._fit_meta = meta
        trainer = model._trainer = make_trainer()
        for cb in callbacks:
            cb.on_fit_start(model, n_epochs)
        for epoch in range(n_epochs):
            t0 = time.perf_counter()
            loss = float(trainer.epoch(epoch))
            seconds = time.perf_counter() - t0
            if trainer.reports_loss and not np.isfinite(loss):
                raise DivergenceError(divergence_message(model, epoch + 1, f"{loss_key} is {loss}"))
            score = _validation_score(model, trainer, meta, val, val_metric) if val else None
            info = {"epoch": epoch + 1, "n_epochs": n_epochs, loss_key: loss, val_key: score,
                    "seconds": seconds}  # fmt: skip
            for key in history:
                history[key].append(info[key])
            if any([bool(cb.on_epoch_end(model, info)) for cb in callbacks]):
                break
        for cb in callbacks:
            cb.on_fit_end(model)
    arr = trainer.arrays()
    vectors = trainer.user_vectors()
    extra = trainer.extra_state()
    learned = [arr[k] for k in ("user_factors", "item_factors", "user_bias", "item_bias")]
    learned += [a for a in (vectors, *extra.values()) if a is not None]
    # the loss is measured before each update, so the last updates (or a model that does
    # not compute its loss) can still overflow unseen: check what was learned
    if not all(np.isfinite(a).all() for a in learned):
        raise DivergenceError(
            divergence_message(model, len(history["epoch"]), "its factors hold NaN")
        )
    implicit = model.data_kind != "explicit"
    intercept = meta.global_mean if trainer.intercept is None else float(trainer.intercept)
    state = {
        "users": meta.users, "items": meta.items,
        **arr, "user_vectors": vectors, **extra,
        "user_counts": meta.user_counts, "item_counts": meta.item_counts,
        "user_items": meta.seen,
        "global_mean": 0.0 if implicit else meta.global_mean,
        "intercept": 0.0 if implicit else intercept,
        "rating_scale": None if implicit else meta.rating_scale,
        "random_state": seed, "n_train": meta.n_train, "history": history,
        "best_epoch": getattr(model, "best_epoch_", None),
        **trainer.fitted_scalars(),
    }  # fmt: skip
    # the seen items are the training container's own CSR (or one the Dask backend
    # built from validated partitions): its entries are not re-checked one by one
    model._adopt_state(state, trusted_seen=True)
