"""How many latent factors (and how much regularization)? Train and validation error
side by side over a list of values, and where more stops helping."""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..exceptions import DataError, DivergenceError, InvalidParameterError
from .evaluate import evaluate, higher_is_better, metric_key, parse_metric
from .selection import _check_jobs, _map, _plain, _threads_per_job

__all__ = ["SweepResult", "factor_sweep", "regularization_sweep"]


@dataclass
class SweepResult:
    """Train and validation scores for each value of one parameter.

    Attributes
    ----------
    param, metric : str
    table : DataFrame
        Columns ``value``, ``train``, ``validation``, ``best_epoch``, ``seconds``.
    best_value
        The value with the best validation score.
    stops_improving_at
        The first value after which the next value improves validation by no more than
        ``tol`` (relative): where more stops helping.
    overfit_from
        The first value after ``best_value`` whose validation score is worse than the
        best by more than ``tol``; None if validation never gets worse.
    """

    param: str
    metric: str
    table: Any
    best_value: Any
    stops_improving_at: Any
    overfit_from: Any

    def plot(self, ax: Any = None) -> Any:
        """Train and validation curves against the swept value, the best value marked.

        Parameters
        ----------
        ax : matplotlib Axes, optional
            Draw there; by default on a new Figure with a non-interactive Agg canvas
            (pyplot's global state and backend are left alone).

        Returns
        -------
        matplotlib.figure.Figure
            Save it with ``fig.savefig("sweep.png")`` or let Jupyter display it.

        Raises
        ------
        ImportError
            Without matplotlib, an optional dependency (``pip install matplotlib``).

        Examples
        --------
        >>> fig = sweep.plot()  # doctest: +SKIP
        >>> fig.savefig("factor_sweep.png")  # doctest: +SKIP
        """
        if ax is not None:
            fig = ax.figure
        else:
            try:
                from matplotlib.backends.backend_agg import FigureCanvasAgg
                from matplotlib.figure import Figure
            except ImportError:
                raise ImportError(
                    "SweepResult.plot needs matplotlib, an optional dependency: "
                    "pip install matplotlib"
                ) from None
            fig = Figure(figsize=(6, 4), layout="constrained")
            FigureCanvasAgg(fig)
            ax = fig.add_subplot()
        t = self.table
        ax.plot(t["value"], t["train"], "o-", label="train")
        ax.plot(t["value"], t["validation"], "o-", label="validation")
        ax.axvline(self.best_value, color="grey", ls="--", lw=1, label=f"best = {self.best_value}")
        if self.param == "n_factors" or all(v > 0 for v in t["value"]):
            ax.set_xscale("log", base=2 if self.param == "n_factors" else 10)
        ax.set_xlabel(self.param)
        ax.set_ylabel(self.metric)
        ax.legend()
        ax.set_title(f"{self.metric} against {self.param}")
        return fig


def _sweep(model, train, validation, param, values, metric, k, patience, n_jobs, tol):
    import pandas as pd

    from ..models.callbacks import EarlyStopping

    n_jobs = _check_jobs(n_jobs)
    values = [_plain(v) for v in values]
    if not values:
        raise InvalidParameterError(f"give at least one value of {param}")
    if param not in model.get_params():
        raise InvalidParameterError(
            f"{type(model).__name__} has no parameter {param!r}; valid parameters: "
            f"{', '.join(model.get_params())}"
        )
    if metric is None:
        metric = "rmse" if model.data_kind == "explicit" else f"ndcg@{k}"
    base, kk = parse_metric(metric, k)
    key = metric_key(base, kk)
    if base in ("rmse", "mae") and model.data_kind != "explicit":
        raise InvalidParameterError(
            f"{type(model).__name__} predicts preference scores, not ratings; sweep it with a "
            "ranking metric such as 'ndcg@10'"
        )
    per_epoch = base not in ("auc", "coverage", "mean_popularity")  # what fit can monitor

    def run(value):
        m = _threads_per_job(model.clone().set_params(**{param: value}), n_jobs)
        t = time.perf_counter()
        try:
            if m.iterative and patience:
                # early stopping on the sweep's own metric when fit can score it per epoch
                m.fit(train, validation=validation, callbacks=[EarlyStopping(patience=patience)],
                      validation_metric=key if per_epoch else None)  # fmt: skip
            else:
                m.fit(train)
        except DivergenceError:  # a value too far out (a large lr): no score, not the best
            diverged.append(value)
            return {"value": value, "train": np.nan, "validation": np.nan, "best_epoch": 0,
                    "seconds": time.perf_counter() - t}  # fmt: skip
        seconds = time.perf_counter() - t
        # training score: ranking metrics on train rows would exclude those very rows,
        # so they are scored without exclusions
        if base in ("rmse", "mae"):
            tr = evaluate(m, train, metrics=[key]).metrics[key]
        else:
            tr = _train_ranking(m, train, key, kk or k)
        va = evaluate(m, validation, k=kk or k, metrics=[key]).metrics[key]
        return {"value": value, "train": tr, "validation": va,
                "best_epoch": getattr(m, "best_epoch_", len(m.history_["epoch"])),
                "seconds": seconds}  # fmt: skip

    diverged: list[Any] = []
    rows = _map(run, values, n_jobs)
    table = pd.DataFrame(rows)
    better = higher_is_better(key)
    val = table["validation"].to_numpy(dtype=np.float64)
    if len(diverged) == len(values):
        fix = "lower lr or raise reg" if "lr" in model.get_params() else "raise reg"
        raise DivergenceError(
            f"every fit of the {param} sweep diverged (the factors overflowed); {fix}"
        )
    if np.isnan(val).all():
        raise DataError(
            f"no fit of the {param} sweep has a {key} score: no validation row has a user "
            "and an item seen in train; split the data so that they overlap"
        )
    # higher is better from here on; a NaN (a diverged fit) is the worst score and takes
    # no part in finding where the curve flattens or turns
    score = np.nan_to_num(val if better else -val, nan=-np.inf)
    best = int(np.argmax(score))
    scale = np.nanmax(np.abs(val)) or 1.0
    ok = [j for j in range(len(values)) if np.isfinite(val[j])]
    stops = None
    for a, b in itertools.pairwise(ok):
        if score[b] - score[a] <= tol * scale:
            stops = values[a]
            break
    overfit = None
    for j in ok:
        if j > best and score[best] - score[j] > tol * scale:
            overfit = values[j]
            break
    return SweepResult(param, key, table, values[best], stops, overfit)


def _train_ranking(model, train, key, k):
    import scipy.sparse as sp

    from .metrics import ranking_from_lists

    u = model.users_.index(train.users.ids(train.user_ids), missing="ignore")
    i = model.items_.index(train.items.ids(train.item_ids), missing="ignore")
    ok = (u >= 0) & (i >= 0)
    shape = (len(model.users_), len(model.items_))
    truth = sp.csr_matrix((np.ones(int(ok.sum()), np.float32), (u[ok], i[ok])), shape=shape)
    truth.sum_duplicates()
    truth.sort_indices()
    rows = np.flatnonzero(np.diff(truth.indptr) > 0)
    top, _ = model._top_n(rows, k, False, None, None)
    sub = truth[rows]
    return ranking_from_lists(top, sub.indptr, sub.indices, k).get(key, float("nan"))


def factor_sweep(
    model: Any, train: Any, validation: Any, n_factors: Sequence[int] = (2, 4, 8, 16, 32, 64),
    *, metric: str | None = None, k: int = 10, patience: int | None = 3, n_jobs: int = 1,
    tol: float = 1e-3,
) -> SweepResult:  # fmt: skip
    """Train and validation error for each number of factors: the data's answer to "how
    many latent factors?".

    Each value fits a clone of ``model`` on ``train``. Work is reused where it can be:
    the fits run ``n_jobs`` at a time in threads (numba releases the GIL), each with
    ``cores // n_jobs`` kernel threads; iterative models are scored on ``validation``
    after every epoch inside ``fit`` and stop early (:class:`EarlyStopping`, ``patience``
    epochs, best epoch restored), so each point costs only the epochs it needs and
    reports its best epoch; the train / test split and the id vocabularies are shared by
    every fit. Nothing is warm-started across sizes: factors of one size are no start
    for another.

    Early stopping also curbs overfitting, so a sweep with it shows mostly what the extra
    factors cost once training is stopped well; ``patience=None`` trains every size for
    the model's full ``n_epochs`` and shows the bare effect of size. With no
    regularization, validation error then typically rises up to about
    ``n_train / (n_users + n_items)`` factors (as many parameters as ratings) and may
    come down again beyond it ("double descent").

    Parameters
    ----------
    model : model
        The template; each point is ``model.clone().set_params(n_factors=value)``.
    train, validation : Interactions
        Rows to fit on, and held-out rows to score (and to early-stop on).
    n_factors : sequence of int
        The sizes to try, in the order they are reported.
    metric : str, optional
        Default: RMSE for rating models, NDCG@k for implicit ones; any name
        :func:`~latentfactors.evaluation.evaluate` knows. Training scores of ranking
        metrics rank the training items themselves (nothing excluded).
    k : int, default 10
        Cut-off of ranking metrics given without ``@k``.
    patience : int or None, default 3
        Early-stopping patience in epochs; None trains every point for ``n_epochs``.
    n_jobs : int, default 1
        Points fitted at once, in threads.
    tol : float, default 1e-3
        Relative change (of the largest validation score) below which validation is
        "no longer improving" or "worse".

    Returns
    -------
    SweepResult
        ``table`` (value, train, validation, best_epoch, seconds), ``best_value``,
        ``stops_improving_at``, ``overfit_from`` and ``plot()``.

    Examples
    --------
    >>> from latentfactors.data import make_synthetic, random_split
    >>> from latentfactors.models import SVD
    >>> train, val = random_split(make_synthetic(300, 200, 6000, rank=3, seed=0).interactions)
    >>> sweep = factor_sweep(SVD(random_state=0), train, val, n_factors=[1, 3, 9])
    >>> list(sweep.table.columns)
    ['value', 'train', 'validation', 'best_epoch', 'seconds']
    """
    return _sweep(model, train, validation, "n_factors", n_factors, metric, k, patience,
                  n_jobs, tol)  # fmt: skip


def regularization_sweep(
    model: Any, train: Any, validation: Any, values: Sequence[float] = (0.001, 0.01, 0.1, 1.0),
    *, param: str = "reg", metric: str | None = None, k: int = 10, patience: int | None = 3,
    n_jobs: int = 1, tol: float = 1e-3,
) -> SweepResult:  # fmt: skip
    """Train and validation error for each value of a regularization parameter.

    As :func:`factor_sweep` (same reuse of work, same result), over ``param`` (``"reg"``
    by default; e.g. ``"reg_u"`` for :class:`~latentfactors.models.Baseline`).

    Examples
    --------
    >>> from latentfactors.data import make_synthetic, random_split
    >>> from latentfactors.models import SVD
    >>> train, val = random_split(make_synthetic(300, 200, 6000, rank=3, seed=0).interactions)
    >>> sweep = regularization_sweep(SVD(n_factors=8, random_state=0), train, val,
    ...                              values=[0.001, 0.1, 10.0])
    >>> sweep.best_value != 10.0
    True
    """
    return _sweep(model, train, validation, param, values, metric, k, patience, n_jobs, tol)
