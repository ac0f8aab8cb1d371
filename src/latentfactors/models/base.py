"""`FactorModel`: the estimator contract every model follows.

``__init__`` only stores keyword arguments; ``fit`` validates them, builds a trainer
that holds the training-only state, runs one kernel call per epoch (the loop lives in
``_fitting``, so callbacks, early stopping and progress bars work, and other trainers
can reuse it), then keeps only what inference needs.

Learned state (see :meth:`FactorModel.get_state` / :meth:`FactorModel.set_state`):
``user_factors_``, ``item_factors_``, ``user_bias_``, ``item_bias_``, ``global_mean_``
(the mean rating, used for fallbacks), ``intercept_`` (the constant in a score), the id
vocabularies ``users_`` / ``items_``, counts per user and item, and optionally the seen
items ``user_items_``. The user side is one immutable snapshot swapped as a whole, so
readers and ``fold_in`` may run in different threads.
"""

from __future__ import annotations

import inspect
import json
import threading
from collections.abc import Callable, Iterable
from typing import Any, ClassVar

import numpy as np

from ..data.interactions import Interactions
from ..data.vocabulary import _as_id_array
from ..exceptions import DataError, InvalidParameterError, NotFittedError
from ._fitting import FitData, Trainer, guarded_fit, parse_validation_metric
from ._state import OPTIONAL_SCALARS, ItemLayout, UserState, check_state
from .callbacks import Callback, as_callbacks
from .foldin import FoldInMixin
from .recommend import RecommendMixin
from .scoring import rowwise_dot

__all__ = ["FactorModel", "Trainer", "rowwise_dot"]

#: serialises writers of any model's user state (readers never wait on it)
USERS_LOCK = threading.RLock()


def _plain(value: Any) -> Any:
    """NumPy scalars and 0-d arrays (also inside lists and tuples) as Python values, so
    parameters round-trip through JSON (``clone``, model files)."""
    if isinstance(value, np.generic) or (isinstance(value, np.ndarray) and value.ndim == 0):
        return value.item()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_plain(v) for v in value)
    return value


def _physical_memory() -> int:
    """Bytes of physical memory (0 when unknown)."""
    import os

    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return 0


def _user_attr(name: str, doc: str):
    def get(self):
        st = self.__dict__.get("_ustate")
        if st is None:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        return getattr(st, _USER_FIELDS[name])

    return property(get, doc=doc)


_USER_FIELDS = {
    "users_": "users", "user_factors_": "factors", "user_vectors_": "vectors",
    "user_bias_": "bias", "user_counts_": "counts", "user_items_": "seen",
}  # fmt: skip


class FactorModel(RecommendMixin, FoldInMixin):
    """Base class of every latentfactors model (scikit-learn's estimator contract).

    Subclasses declare their hyperparameters as keyword arguments of ``__init__``, store
    them unchanged, and implement ``_check_params`` and ``_make_trainer``.
    """

    #: the kind of data the model learns from ("explicit" or "implicit")
    data_kind: ClassVar[str] = "explicit"
    #: whether the model trains in epochs (and so supports callbacks / early stopping)
    iterative: ClassVar[bool] = True
    #: the model's own learned arrays beyond the core four, with their shape:
    #: ``"items"`` (n_items x k), ``"users"`` (n_users x k), ``"factors"`` (k,) or
    #: ``"item"`` (n_items,); each is the attribute ``<name>_`` and the state key ``<name>``
    extra_state: ClassVar[dict[str, str]] = {}
    #: extra arrays added after model files were first written: a file or state without
    #: them gets zeros
    extra_state_added: ClassVar[tuple[str, ...]] = ()
    #: parameters added after model files were first written, with the value a file
    #: without them was trained with (its model is rebuilt with that value, not the
    #: current default)
    params_added: ClassVar[dict[str, Any]] = {}

    # ------------------------------------------------------------------ parameters
    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [
            p.name
            for p in sig.parameters.values()
            if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        ]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The hyperparameters, as given to ``__init__`` (JSON-serialisable: NumPy scalars
        such as ``np.int64(64)`` come back as Python numbers)."""
        return {name: _plain(getattr(self, name)) for name in self._param_names()}

    def set_params(self, **params: Any) -> FactorModel:
        """Set hyperparameters by name; returns ``self``. Validation happens in ``fit``."""
        valid = self._param_names()
        for name, value in params.items():
            if name not in valid:
                raise InvalidParameterError(
                    f"{type(self).__name__} has no parameter {name!r}; valid parameters: "
                    f"{', '.join(valid)}"
                )
            setattr(self, name, value)
        return self

    def clone(self) -> FactorModel:
        """An unfitted copy with the same hyperparameters."""
        return type(self)(**json.loads(json.dumps(self.get_params())))

    def __repr__(self) -> str:
        defaults = {
            p.name: p.default for p in inspect.signature(type(self).__init__).parameters.values()
        }
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items() if defaults.get(k) != v)
        return f"{type(self).__name__}({args})"

    def _check_params(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _make_trainer(self, data: Interactions, seed: int) -> Trainer:  # pragma: no cover
        raise NotImplementedError

    # ------------------------------------------------------------------ learned state
    users_ = _user_attr("users_", "Vocabulary of the user ids (training users, then folded-in).")
    user_factors_ = _user_attr("user_factors_", "User factors, float32 (n_users, k).")
    user_vectors_ = _user_attr(
        "user_vectors_",
        "What multiplies the item factors in a user's score (the user factors, except for "
        "SVD++, which adds its implicit term).",
    )
    user_bias_ = _user_attr("user_bias_", "User biases, float32 (n_users,).")
    user_counts_ = _user_attr("user_counts_", "Interactions per user in training or fold-in.")
    user_items_ = _user_attr(
        "user_items_",
        "Seen items: a CSR users x items matrix, or None when the model does not keep them "
        "(``set_state`` without ``user_items``, or a file saved with ``seen=False``).",
    )

    def _users_state(self) -> UserState:
        st = self.__dict__.get("_ustate")
        if st is None:
            raise AttributeError("not fitted")
        return st

    def _swap_users(self, st: UserState) -> None:
        self.__dict__["_ustate"] = st

    @property
    def _items(self) -> ItemLayout:
        """The item side laid out for scoring; built once per fit or load."""
        layout = self.__dict__.get("_item_layout")
        if layout is None:
            layout = ItemLayout.build(self.item_factors_, self.item_bias_, self.item_counts_)
            self.__dict__["_item_layout"] = layout
        return layout

    def get_state(self) -> dict[str, Any]:
        """Everything the fitted model learned, as a dict (arrays are not copied).

        Keys: ``users``, ``items`` (Vocabulary), ``user_factors``, ``item_factors``,
        ``user_bias``, ``item_bias``, ``user_vectors`` (SVD++ only; else absent),
        ``user_counts``, ``item_counts``, ``user_items`` (CSR or None), the scalars
        ``global_mean``, ``intercept``, ``rating_scale``, ``random_state``, ``n_train``,
        ``history``, ``best_epoch`` (when early stopping ran), and the class's
        :attr:`extra_state` arrays. :meth:`set_state` takes the same dict.
        """
        self._check_fitted("get_state")
        st = self._users_state()
        state: dict[str, Any] = {
            "users": st.users, "items": self.items_,
            "user_factors": st.factors, "item_factors": self.item_factors_,
            "user_bias": st.bias, "item_bias": self.item_bias_,
            "user_counts": st.counts, "item_counts": self.item_counts_,
            "user_items": st.seen,
            "global_mean": self.global_mean_, "intercept": self.intercept_,
            "rating_scale": self.rating_scale_, "random_state": self.random_state_,
            "n_train": self.n_train_, "history": self.history_,
        }  # fmt: skip
        if not st.shared:
            state["user_vectors"] = st.vectors
        for key in OPTIONAL_SCALARS:
            if getattr(self, f"{key}_", None) is not None:
                state[key] = getattr(self, f"{key}_")
        for key in self.extra_state:
            state[key] = getattr(self, f"{key}_")
        return state

    def set_state(self, state: dict[str, Any]) -> FactorModel:
        """Make this model fitted with ``state`` (as :meth:`get_state` returns it); ``self``.

        Everything is checked first (dtypes, shapes against the vocabularies, finite
        values, scalars), and a bad state raises :class:`DataError` naming the key with
        the model left as it was. ``user_items`` may be None (a model trained elsewhere
        that keeps no seen items); ``user_counts`` and ``item_counts`` are then required.
        Use it to serve factors trained by another system or on a cluster.
        """
        self._check_params()
        checked = check_state(state, self.extra_state, self.data_kind != "explicit",
                              optional=self.extra_state_added)  # fmt: skip
        self._adopt_state(checked, checked=True)
        return self

    def _adopt_state(
        self, state: dict[str, Any], checked: bool = False, trusted_seen: bool = False
    ) -> None:
        if not checked:
            state = check_state(state, self.extra_state, self.data_kind != "explicit",
                                trusted_seen=trusted_seen,
                                optional=self.extra_state_added)  # fmt: skip
        seen = state.get("user_items")
        counts_u = state.get("user_counts")
        counts_i = state.get("item_counts")
        if counts_u is None:
            counts_u = np.diff(seen.indptr).astype(np.int64)
        if counts_i is None:
            counts_i = np.bincount(seen.indices, minlength=seen.shape[1]).astype(np.int64)
        U = state["user_factors"]
        V = state.get("user_vectors")
        with USERS_LOCK:
            self._discard_fit(keep_metadata=True)
            self.items_ = state["items"]
            self.item_factors_ = state["item_factors"]
            self.item_bias_ = state["item_bias"]
            self.item_counts_ = counts_i
            for key in self.extra_state:
                setattr(self, f"{key}_", state[key])
            self.global_mean_ = float(state["global_mean"])
            self.intercept_ = float(state["intercept"])
            self.rating_scale_ = state["rating_scale"]
            self.random_state_ = state["random_state"]
            self.n_train_ = state["n_train"]
            self.history_ = state["history"]
            for key in OPTIONAL_SCALARS:
                if state.get(key) is not None:
                    setattr(self, f"{key}_", state[key])
            self._swap_users(
                UserState.build(state["users"], U, V, state["user_bias"], counts_u, seen)
            )

    # ------------------------------------------------------------------ fitting
    def _check_data(self, train: Any) -> Interactions:
        name = type(self).__name__
        if not isinstance(train, Interactions):
            raise DataError(
                f"{name}.fit expects an Interactions container, got {type(train).__name__}; "
                "build one with Interactions.from_dataframe(...) or read_csv(...)"
            )
        if len(train) == 0:
            raise DataError(f"{name}.fit got empty training data (0 interactions)")
        if self.data_kind == "explicit" and train.kind != "explicit":
            raise DataError(
                f"{name} learns from explicit ratings but the data is implicit (no rating "
                "column); pass rating= when building the Interactions, or use an "
                "implicit-feedback model"
            )
        return train

    def _training_floats(self, k: int, n_users: int, n_items: int) -> int:
        """About how many float32 values a fit holds in factor-shaped arrays: the model's
        factors, the trainer's copy and its scratch (models that hold more say so)."""
        return 3 * k * (n_users + n_items)

    def _check_size(self, n_users: int, n_items: int) -> None:
        """Refuse factor matrices that cannot fit in memory, before allocating them."""
        k = getattr(self, "n_factors", None)
        if not isinstance(k, int):
            return
        need = 4 * self._training_floats(k, n_users, n_items)
        total = _physical_memory()
        if total and need > total:
            raise InvalidParameterError(
                f"{type(self).__name__}: n_factors={k} needs about {need / 2**30:.1f} GiB for "
                f"the factors of {n_users:,} users and {n_items:,} items, more than this "
                f"machine's {total / 2**30:.1f} GiB; use fewer factors"
            )

    def fit(
        self,
        train: Interactions,
        *,
        validation: Interactions | None = None,
        callbacks: Iterable[Callback | Callable[..., Any]] | None = None,
        validation_metric: str | None = None,
    ) -> FactorModel:
        """Learn from ``train``; returns ``self``.

        Parameters
        ----------
        train : Interactions
        validation : Interactions, optional
            Held-out rows scored after every epoch (``history_["val_<metric>"]``); rows
            whose user or item is not in ``train`` are skipped.
        callbacks : list, optional
            :class:`~latentfactors.models.callbacks.Callback` objects or plain callables
            ``f(model, info)``, called after every epoch; returning True stops training.
            :class:`~latentfactors.models.callbacks.EarlyStopping` stops on the
            validation metric.
        validation_metric : str, optional
            What to score on ``validation``: ``"rmse"`` (default for rating models),
            ``"mae"``, or a ranking metric at k such as ``"ndcg@10"`` (default for
            implicit models), ``"recall@20"``, ``"precision@5"``, ``"map@10"``,
            ``"mrr@10"``, ``"hit_rate@10"``.
        """
        self._check_params()
        data = self._check_data(train)
        self._check_size(data.n_users, data.n_items)
        self._fit_sizes = (data.n_users, data.n_items)
        cbs = as_callbacks(callbacks)
        val_metric = parse_validation_metric(self, validation_metric)
        seed = self.random_state if getattr(self, "random_state", None) is not None else None
        if seed is None:
            seed = int(np.random.SeedSequence().entropy % (2**63))
        guarded_fit(
            self, FitData.from_interactions(data), lambda: self._make_trainer(data, seed),
            validation=validation, callbacks=cbs, val_metric=val_metric, seed=seed,
        )  # fmt: skip
        return self

    def _discard_fit(self, keep_metadata: bool = True) -> None:
        """Forget every learned attribute (item metadata, which is not learned, stays)."""
        for attr in [a for a in vars(self) if a.endswith("_") and a[0] != "_"]:
            if not (keep_metadata and attr == "item_metadata_"):
                delattr(self, attr)
        for attr in ("_ustate", "_item_layout", "_gram_cache", "_neg_cache"):
            self.__dict__.pop(attr, None)

    # hooks for callbacks such as EarlyStopping
    def _snapshot(self) -> dict[str, Any]:
        return self._trainer.snapshot()

    def _restore(self, snap: dict[str, Any]) -> None:
        self._trainer.restore(snap)

    # ------------------------------------------------------------------ prediction
    def _check_fitted(self, method: str) -> None:
        if "item_factors_" not in self.__dict__ or getattr(self, "_fitting", False):
            raise NotFittedError(
                f"this {type(self).__name__} is not fitted yet; call fit(train) before {method}()"
            )

    def predict(
        self, users: Any, items: Any, *, clip: bool = True, return_mask: bool = False
    ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """Predicted ratings for pairs of raw user and item ids (vectorised).

        Unknown users or items fall back to the global mean plus whichever bias is known (in
        :class:`BayesianMF`, to the prior predictive mean: the unknown side's factors and
        bias at their learned prior means); ``return_mask=True`` also returns a boolean
        array that is True where a prediction is such a fallback. With ``clip=True``
        (default) predictions are clipped to the training data's rating scale.

        Examples
        --------
        >>> from latentfactors.data import make_synthetic
        >>> from latentfactors.models import SVD
        >>> data = make_synthetic(50, 40, 600, seed=0).interactions
        >>> model = SVD(n_factors=4, n_epochs=5, random_state=0).fit(data)
        >>> pred, fallback = model.predict([0, 0, 999], [1, 2, 1], return_mask=True)
        >>> fallback.tolist()
        [False, False, True]
        """
        self._check_fitted("predict")
        st = self._users_state()
        u = st.users.index(_as_id_array(users), missing="ignore")
        i = self.items_.index(_as_id_array(items), missing="ignore")
        if len(u) != len(i):
            if len(u) == 1:
                u = np.repeat(u, len(i))
            elif len(i) == 1:
                i = np.repeat(i, len(u))
            else:
                raise DataError(f"users and items must have the same length: {len(u)} != {len(i)}")
        known_u, known_i = u >= 0, i >= 0
        known = known_u & known_i
        pred = np.full(len(u), self.global_mean_, dtype=np.float64)
        pred[known_u] += st.bias[u[known_u]]
        pred[known_i] += self.item_bias_[i[known_i]]
        if known.any():
            pred[known] += self.intercept_ - self.global_mean_
            pred[known] += rowwise_dot(st.vectors, self.item_factors_, u[known], i[known])
        self._add_cold_priors(pred, known_u, lambda rows: st.vectors[u[rows]], i)
        if clip and self.rating_scale_ is not None:
            np.clip(pred, self.rating_scale_[0], self.rating_scale_[1], out=pred)
        if return_mask:
            return pred, ~known
        return pred

    def _cold_priors(self) -> dict[str, Any] | None:
        """``user_vector``, ``user_bias``, ``item_vector``, ``item_bias`` that a user or an
        item unseen in training scores with, or None for the plain fallback."""
        return None

    def _add_cold_priors(
        self, pred: np.ndarray, known_u: np.ndarray, vectors_of: Any, item_rows: np.ndarray
    ) -> None:
        """Add the model's prior for unseen users or items (if it has one) to the fallback
        predictions ``pred`` (in place). ``vectors_of(mask)`` gives the user vectors of the
        masked pairs, ``item_rows`` each pair's item row (-1: unknown). Shared by
        :meth:`predict` and the service, so both score an unseen row the same way."""
        known_i = item_rows >= 0
        if (known_u & known_i).all():
            return
        cold = self._cold_priors()
        if cold is None:
            return
        ci, cu, cb = known_u & ~known_i, ~known_u & known_i, ~known_u & ~known_i
        pred[~(known_u & known_i)] += self.intercept_ - self.global_mean_
        if ci.any():
            vecs = np.asarray(vectors_of(ci), np.float64)
            pred[ci] += cold["item_bias"] + vecs @ cold["item_vector"]
        if cu.any():
            Q = np.asarray(self.item_factors_[item_rows[cu]], np.float64)
            pred[cu] += cold["user_bias"] + Q @ cold["user_vector"]
        pred[cb] += cold["user_bias"] + cold["item_bias"]
        pred[cb] += float(cold["user_vector"] @ cold["item_vector"])

    def save(self, path: Any, *, items: Any = None, seen: bool = True) -> Any:
        """Write the fitted model to a safe model file; see :func:`latentfactors.save`."""
        from ..persistence import save

        return save(self, path, items=items, seen=seen)

    def predict_one(self, user: Any, item: Any, *, clip: bool = True) -> float:
        """Predicted rating of one (user, item) pair; see :meth:`predict`."""
        return float(self.predict([user], [item], clip=clip)[0])

    @property
    def n_factors_(self) -> int:
        self._check_fitted("n_factors_")
        return int(self.item_factors_.shape[1])
