"""How many latent factors (and how much regularization)? Train and validation error
side by side over a list of values, and where more stops helping."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..exceptions import InvalidParameterError
from .evaluate import evaluate, higher_is_better, metric_key, parse_metric
from .selection import _check_jobs, _map, _threads_per_job

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

    def plot(self, ax: Any = None):
        """Train and validation curves (matplotlib Figure; needs ``pip install matplotlib``)."""
        try:
            import matplotlib

            if ax is None:
                matplotlib.use("Agg", force=False)
            import matplotlib.pyplot as plt
        except ImportError:
            raise ImportError("SweepResult.plot needs matplotlib: pip install matplotlib") from None
        if ax is None:
            fig, ax = plt.subplots(figsize=(6, 4))
        else:
            fig = ax.figure
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
    values = list(values)
    if not values:
        raise InvalidParameterError(f"give at least one value of {param}")
    if param not in model.get_params():
        raise InvalidParameterError(f"{type(model).__name__} has no parameter {param!r}")
    if metric is None:
        metric = "rmse" if model.data_kind == "explicit" else f"ndcg@{k}"
    base, kk = parse_metric(metric, k)
    key = metric_key(base, kk)

    def run(value):
        m = _threads_per_job(model.clone().set_params(**{param: value}), n_jobs)
        t = time.perf_counter()
        callbacks = None
        if m.iterative and patience:
            callbacks = [EarlyStopping(patience=patience, restore_best=True)]
        m.fit(train, validation=validation if callbacks else None, callbacks=callbacks)
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

    rows = _map(run, values, n_jobs)
    table = pd.DataFrame(rows)
    better = higher_is_better(key)
    val = table["validation"].to_numpy()
    score = val if better else -val  # higher is better from here on
    best = int(np.argmax(score))
    scale = np.abs(val).max() or 1.0
    stops = None
    for j in range(len(values) - 1):
        if score[j + 1] - score[j] <= tol * scale:
            stops = values[j]
            break
    overfit = None
    for j in range(best + 1, len(values)):
        if score[best] - score[j] > tol * scale:
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
    fits run ``n_jobs`` at a time in threads (numba releases the GIL), and iterative
    models stop early on ``validation`` (``patience`` epochs, best epoch restored), so
    each point costs only the epochs it needs and reports its best epoch; there is no
    warm start across sizes, since factors of one size are not a start for another.

    Parameters
    ----------
    metric : str, optional
        Default: RMSE for rating models, NDCG@k for implicit ones.
    tol : float
        Relative change below which validation is "no longer improving".

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
    """As :func:`factor_sweep`, over a regularization parameter (``reg`` by default)."""
    return _sweep(model, train, validation, param, values, metric, k, patience, n_jobs, tol)
