"""`FactorModel`: the estimator contract every model follows.

``__init__`` only stores keyword arguments; ``fit`` validates them, builds a trainer
that holds the training-only state, runs one kernel call per epoch (so callbacks,
early stopping and progress bars work), then keeps only what inference needs:
``user_factors_``, ``item_factors_``, ``user_bias_``, ``item_bias_``, ``global_mean_``
(the mean rating, used for fallbacks), ``intercept_`` (the constant in a score)
and the id vocabularies ``users_`` / ``items_``.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import json
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, ClassVar

import numpy as np

from ..data.interactions import Interactions
from ..data.vocabulary import Vocabulary, _as_id_array
from ..exceptions import DataError, DivergenceError, InvalidParameterError, NotFittedError
from .callbacks import Callback, as_callbacks
from .foldin import FoldInMixin
from .recommend import RecommendMixin

__all__ = ["FactorModel", "Trainer"]

_PREDICT_CHUNK = 1 << 18


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


class Trainer:
    """Training-only state of one ``fit`` call; discarded afterwards.

    Subclasses implement :meth:`epoch` (one kernel call; returns the training RMSE),
    :meth:`arrays` (the current learned arrays) and optionally :meth:`finish`.
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


@functools.cache
def _blas_controller() -> Any:
    """A cached ``ThreadpoolController``: building one scans the loaded libraries
    (about 1 ms, as long as a whole small fit's epoch). The scan only sees libraries
    already loaded, so SciPy's BLAS and LAPACK (which numba's ``np.linalg`` calls in the
    ALS kernels) are loaded first, next to NumPy's."""
    import scipy.linalg.cython_blas
    import scipy.linalg.cython_lapack  # noqa: F401
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


_BLAS_LOCK = threading.Lock()
_BLAS_HOLD: dict[str, Any] = {"fits": 0, "limiter": None}


@contextlib.contextmanager
def _limit_threads(n_threads: int | None) -> Iterator[None]:
    """Run numba kernels on ``n_threads`` threads and keep BLAS single-threaded meanwhile.

    BLAS limits are process-wide: with fits running in several threads (searches with
    ``n_jobs > 1``) the first fit to start sets the limit and the last to end restores
    it, so no fit restores it under another one.
    """
    import numba

    before = numba.get_num_threads()  # numba's setting is per thread
    if n_threads is not None:
        numba.set_num_threads(min(n_threads, numba.config.NUMBA_NUM_THREADS))
    with _BLAS_LOCK:
        if _BLAS_HOLD["fits"] == 0:
            _BLAS_HOLD["limiter"] = _blas_controller().limit(limits=1, user_api="blas")
        _BLAS_HOLD["fits"] += 1
    try:
        yield
    finally:
        with _BLAS_LOCK:
            _BLAS_HOLD["fits"] -= 1
            if _BLAS_HOLD["fits"] == 0:
                _BLAS_HOLD["limiter"].restore_original_limits()
                _BLAS_HOLD["limiter"] = None
        numba.set_num_threads(before)


def rowwise_dot(A: np.ndarray, B: np.ndarray, rows_a: np.ndarray, rows_b: np.ndarray) -> np.ndarray:
    """``(A[rows_a] * B[rows_b]).sum(1)`` in chunks, accumulated in float64."""
    out = np.empty(len(rows_a), dtype=np.float64)
    for s in range(0, len(rows_a), _PREDICT_CHUNK):
        e = min(len(rows_a), s + _PREDICT_CHUNK)
        out[s:e] = np.einsum("ij,ij->i", A[rows_a[s:e]], B[rows_b[s:e]], dtype=np.float64)
    return out


class FactorModel(RecommendMixin, FoldInMixin):
    """Base class of every latentfactors model (scikit-learn's estimator contract).

    Subclasses declare their hyperparameters as keyword arguments of ``__init__``, store
    them unchanged, and implement ``_check_params`` and ``_make_trainer``.
    """

    #: the kind of data the model learns from ("explicit" or "implicit")
    data_kind: ClassVar[str] = "explicit"
    #: whether the model trains in epochs (and so supports callbacks / early stopping)
    iterative: ClassVar[bool] = True

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
        cbs = as_callbacks(callbacks)
        val_metric = self._parse_validation_metric(validation_metric)
        seed = self.random_state if getattr(self, "random_state", None) is not None else None
        if seed is None:
            seed = int(np.random.SeedSequence().entropy % (2**63))
        try:
            self._fit(data, validation, cbs, val_metric, seed)
        except BaseException:
            # no half-fitted model: an earlier fit's arrays must not meet this fit's ids
            self._discard_fit()
            raise
        finally:
            self._fitting = False
            self.__dict__.pop("_trainer", None)
        return self

    def _discard_fit(self) -> None:
        """Forget every learned attribute (item metadata, which is not learned, stays)."""
        for attr in [a for a in vars(self) if a.endswith("_") and a[0] != "_"]:
            if attr != "item_metadata_":
                delattr(self, attr)
        self.__dict__.pop("_user_vectors", None)

    def _fit(self, data, validation, cbs, val_metric, seed) -> None:
        self.random_state_ = seed
        self.users_: Vocabulary = data.users
        self.items_: Vocabulary = data.items
        self.global_mean_ = float(data.global_mean)
        self.intercept_ = self.global_mean_
        self.rating_scale_ = data.rating_scale
        self.n_train_ = len(data)
        self.user_items_ = data.csr  # what each user interacted with (shares data's arrays)
        self._val_metric = val_metric
        val = self._validation_rows(validation)
        n_epochs = int(getattr(self, "n_epochs", 1)) if self.iterative else 1
        loss_key, val_key = self._history_keys()
        self.history_: dict[str, list[Any]] = {
            "epoch": [], loss_key: [], val_key: [], "seconds": [],
        }  # fmt: skip
        self._fitting = True
        with _limit_threads(getattr(self, "n_threads", None)):
            self._trainer = self._make_trainer(data, seed)
            for cb in cbs:
                cb.on_fit_start(self, n_epochs)
            for epoch in range(n_epochs):
                t0 = time.perf_counter()
                loss = float(self._trainer.epoch(epoch))
                seconds = time.perf_counter() - t0
                if self._trainer.reports_loss and not np.isfinite(loss):
                    raise DivergenceError(
                        self._divergence_message(epoch + 1, f"{loss_key} is {loss}")
                    )
                val_score = self._validation_score(val) if val is not None else None
                info = {
                    "epoch": epoch + 1, "n_epochs": n_epochs, loss_key: loss,
                    val_key: val_score, "seconds": seconds,
                }  # fmt: skip
                for key in self.history_:
                    self.history_[key].append(info[key])
                stop = [bool(cb.on_epoch_end(self, info)) for cb in cbs]
                if any(stop):
                    break
            for cb in cbs:
                cb.on_fit_end(self)
            self._adopt(self._trainer)
        # the loss is measured before each update, so the last updates (or a model that
        # does not compute its loss) can still overflow unseen: check what was learned
        learned = (self.user_factors_, self.item_factors_, self.user_bias_, self.item_bias_)
        if not all(np.isfinite(a).all() for a in learned):
            raise DivergenceError(
                self._divergence_message(len(self.history_["epoch"]), "its factors hold NaN")
            )

    def _divergence_message(self, epoch: int, what: str) -> str:
        params = self.get_params()
        hints = [f"{p}={params[p]!r}" for p in ("lr", "reg", "init_std") if p in params]
        hint = f" (now {', '.join(hints)})" if hints else ""
        fix = "lower lr or raise reg" if "lr" in params else "raise reg"
        return (
            f"{type(self).__name__} diverged in epoch {epoch}: {what} (the factors "
            f"overflowed); {fix}{hint} and fit again"
        )

    def _adopt(self, trainer: Trainer) -> None:
        """Keep the learned arrays of a finished trainer."""
        arr = trainer.arrays()
        self.user_factors_ = arr["user_factors"]
        self.item_factors_ = arr["item_factors"]
        self.user_bias_ = arr["user_bias"]
        self.item_bias_ = arr["item_bias"]
        vectors = trainer.user_vectors()
        self._user_vectors = self.user_factors_ if vectors is None else vectors
        if trainer.intercept is not None:
            self.intercept_ = float(trainer.intercept)

    # hooks for callbacks such as EarlyStopping
    def _snapshot(self) -> dict[str, Any]:
        return self._trainer.snapshot()

    def _restore(self, snap: dict[str, Any]) -> None:
        self._trainer.restore(snap)

    def _parse_validation_metric(self, name: str | None) -> tuple[str, int | None]:
        from ..evaluation.evaluate import parse_metric

        if name is None:
            name = "rmse" if self.data_kind == "explicit" else "ndcg@10"
        base, k = parse_metric(name, 10)
        if base in ("rmse", "mae") and self.data_kind != "explicit":
            raise InvalidParameterError(
                f"{type(self).__name__} scores preferences, not ratings; validate it with a "
                "ranking metric such as 'ndcg@10'"
            )
        if base in ("auc", "coverage", "mean_popularity"):
            raise InvalidParameterError(
                f"validation_metric={name!r} is not available per epoch; use rmse, mae, or "
                "precision / recall / ndcg / map / mrr / hit_rate at k"
            )
        return base, k

    def _history_keys(self) -> tuple[str, str]:
        """Names of the per-epoch training loss and validation metric."""
        base, k = getattr(self, "_val_metric", ("rmse", None))
        loss = "train_rmse" if self.data_kind == "explicit" else "train_loss"
        return loss, "val_" + (base if k is None else f"{base}@{k}")

    def _validation_rows(self, validation: Interactions | None):
        """Validation rows in the model's inner ids (unknown users / items dropped)."""
        if validation is None:
            return None
        if not isinstance(validation, Interactions):
            raise DataError(
                f"validation must be an Interactions container, got {type(validation).__name__}"
            )
        if validation.users is self.users_ and validation.items is self.items_:
            u, i, r = validation.user_ids, validation.item_ids, validation.values
        else:
            u = self.users_.index(validation.users.raw, missing="ignore")[validation.user_ids]
            i = self.items_.index(validation.items.raw, missing="ignore")[validation.item_ids]
            keep = (u >= 0) & (i >= 0)
            if not keep.any():
                raise DataError("no validation row has a user and an item seen in training")
            u, i, r = u[keep], i[keep], validation.values[keep]
        if self._val_metric[0] in ("rmse", "mae"):
            return u, i, r
        import scipy.sparse as sp

        mat = sp.csr_matrix(
            (np.ones(len(u), dtype=np.float32), (u, i)), shape=(len(self.users_), len(self.items_))
        )
        mat.sum_duplicates()
        rows = np.flatnonzero(np.diff(mat.indptr) > 0)
        sub = mat[rows]
        sub.sort_indices()
        return rows, sub.indptr, sub.indices

    def _trainer_state(self) -> dict[str, Any]:
        arr = self._trainer.arrays()
        vectors = self._trainer.user_vectors()
        return {
            "U": arr["user_factors"] if vectors is None else vectors, "Q": arr["item_factors"],
            "bu": arr["user_bias"], "bi": arr["item_bias"],
            "mu": self.intercept_ if self._trainer.intercept is None else self._trainer.intercept,
        }  # fmt: skip

    def _validation_score(self, val) -> float:
        state = self._trainer_state()
        base, k = self._val_metric
        if base in ("rmse", "mae"):
            u, i, r = val
            err = self._score_inner(u, i, state) - r
            return float(np.sqrt(np.mean(err**2)) if base == "rmse" else np.mean(np.abs(err)))
        from ..evaluation.metrics import ranking_from_lists

        rows, indptr, indices = val
        top, _ = self._top_n(rows, k, True, None, None, state=state)
        return ranking_from_lists(top, indptr, indices, k)[f"{base}@{k}"]

    # ------------------------------------------------------------------ prediction
    def _check_fitted(self, method: str) -> None:
        if not hasattr(self, "item_factors_") or getattr(self, "_fitting", False):
            raise NotFittedError(
                f"this {type(self).__name__} is not fitted yet; call fit(train) before {method}()"
            )

    def _score_inner(self, u, i, state: dict[str, Any]) -> np.ndarray:
        """Clipped predictions for inner ids from a state dict (see ``_trainer_state``)."""
        pred = rowwise_dot(state["U"], state["Q"], u, i)
        pred += state["mu"]
        pred += state["bu"][u]
        pred += state["bi"][i]
        if self.rating_scale_ is not None:
            np.clip(pred, self.rating_scale_[0], self.rating_scale_[1], out=pred)
        return pred

    def predict(
        self, users: Any, items: Any, *, clip: bool = True, return_mask: bool = False
    ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """Predicted ratings for pairs of raw user and item ids (vectorised).

        Unknown users or items fall back to the global mean plus whichever bias is
        known; ``return_mask=True`` also returns a boolean array that is True where a
        prediction is such a fallback. With ``clip=True`` (default) predictions are
        clipped to the training data's rating scale.

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
        u = self.users_.index(_as_id_array(users), missing="ignore")
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
        pred[known_u] += self.user_bias_[u[known_u]]
        pred[known_i] += self.item_bias_[i[known_i]]
        if known.any():
            pred[known] += self.intercept_ - self.global_mean_
            pred[known] += rowwise_dot(self._user_vectors, self.item_factors_, u[known], i[known])
        if clip and self.rating_scale_ is not None:
            np.clip(pred, self.rating_scale_[0], self.rating_scale_[1], out=pred)
        if return_mask:
            return pred, ~known
        return pred

    def save(self, path: Any, *, items: Any = None) -> Any:
        """Write the fitted model to a safe model file; see :func:`latentfactors.save`."""
        from ..persistence import save

        return save(self, path, items=items)

    def predict_one(self, user: Any, item: Any, *, clip: bool = True) -> float:
        """Predicted rating of one (user, item) pair; see :meth:`predict`."""
        return float(self.predict([user], [item], clip=clip)[0])

    @property
    def n_factors_(self) -> int:
        self._check_fitted("n_factors_")
        return int(self.item_factors_.shape[1])
