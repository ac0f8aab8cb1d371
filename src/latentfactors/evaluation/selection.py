"""Model selection: cross-validation and searches over hyperparameters."""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..exceptions import DivergenceError, InvalidParameterError
from .evaluate import evaluate, higher_is_better, metric_key, parse_metric

__all__ = ["CVResult", "GridSearch", "OptunaSearch", "RandomSearch", "cross_validate"]


def _n_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


def _threads_per_job(model: Any, n_jobs: int) -> Any:
    """Share the cores between parallel fits (numba kernels release the GIL): each of
    ``n_jobs`` concurrent fits gets ``max(1, cores // n_jobs)`` threads, unless the model's
    ``n_threads`` is already set."""
    if n_jobs > 1 and "n_threads" in model.get_params() and model.n_threads is None:
        model.set_params(n_threads=max(1, _n_cores() // n_jobs))
    return model


def _plain(value: Any) -> Any:
    """NumPy scalars as Python ones, so parameters round-trip through JSON (``clone``)."""
    from ..models.base import _plain as plain

    return plain(value)


def _map(fn, items: list, n_jobs: int) -> list:
    if n_jobs == 1 or len(items) <= 1:
        return [fn(x) for x in items]
    with ThreadPoolExecutor(max_workers=n_jobs) as pool:
        return list(pool.map(fn, items))


def _check_jobs(n_jobs: Any) -> int:
    if not isinstance(n_jobs, (int, np.integer)) or n_jobs < 1:
        raise InvalidParameterError(f"n_jobs={n_jobs!r} is invalid; expected an integer >= 1")
    return int(n_jobs)


@dataclass
class CVResult:
    """Per-fold metrics and times (``folds``), and their mean and std (``summary``)."""

    folds: Any
    summary: Any
    models: list | None = None

    def mean(self, metric: str) -> float:
        return float(self.folds[metric].mean())


def cross_validate(
    model: Any, data: Any, cv: int = 5, metrics: list[str] | None = None, k: int = 10,
    seed: int = 0, n_jobs: int = 1, return_models: bool = False,
) -> CVResult:  # fmt: skip
    """K-fold cross-validation: each interaction is in exactly one test fold.

    Every fold fits a clone of ``model`` on the other folds and evaluates it with
    :func:`evaluate`. ``n_jobs`` folds run at once in threads, the cores shared between
    them. Returns a :class:`CVResult` whose ``folds`` DataFrame has one row per fold
    (metrics, ``fit_time``, ``test_time``, ``n_test``) and ``summary`` the mean and std.

    Examples
    --------
    >>> from latentfactors.data import make_synthetic
    >>> from latentfactors.models import Baseline
    >>> res = cross_validate(Baseline(), make_synthetic(100, 50, 2000).interactions, cv=3,
    ...                      metrics=["rmse"])
    >>> len(res.folds)
    3
    """
    import pandas as pd

    from ..data.splits import kfold

    n_jobs = _check_jobs(n_jobs)
    if isinstance(cv, bool) or not isinstance(cv, (int, np.integer)) or cv < 2:
        raise InvalidParameterError(f"cv={cv!r} is invalid; expected an integer >= 2 (folds)")
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise InvalidParameterError(f"k={k!r} is invalid; expected an integer >= 1")
    for name in metrics or ():
        parse_metric(name, k)  # a bad name fails before any fit
    folds = list(kfold(data, cv, seed=seed))

    def run(fold):
        train, test = fold
        m = _threads_per_job(model.clone(), n_jobs)
        t = time.perf_counter()
        m.fit(train)
        fit_time = time.perf_counter() - t
        t = time.perf_counter()
        res = evaluate(m, test, k=k, metrics=metrics)
        row = {**res.metrics, "fit_time": fit_time, "test_time": time.perf_counter() - t,
               "n_test": res.n_rows, "n_skipped": res.n_skipped_rows + fold.n_dropped}  # fmt: skip
        return row, m

    out = _map(run, folds, n_jobs)
    table = pd.DataFrame([r for r, _ in out])
    table.index = pd.RangeIndex(1, len(table) + 1, name="fold")
    summary = table.agg(["mean", "std"])
    return CVResult(table, summary, [m for _, m in out] if return_models else None)


class _Search:
    """Shared machinery of the searches: score settings, keep a table, refit the best."""

    def __init__(self, model, metric, cv, validation, k, seed, refit, n_jobs) -> None:
        self.model = model
        self.metric = metric
        self.cv = cv
        self.validation = validation
        self.k = k
        self.seed = seed
        self.refit = refit
        self.n_jobs = n_jobs

    def _settings(self) -> list[dict[str, Any]]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _score(self, params: dict[str, Any], data, split) -> dict[str, Any]:
        key = self._key
        m = _threads_per_job(self.model.clone().set_params(**params), self.n_jobs)
        t = time.perf_counter()
        try:
            if self.cv:
                res = cross_validate(m, data, cv=self.cv, metrics=[key], k=self.k, seed=self.seed)
                scores = res.folds[key].to_numpy()
                fit_time = float(res.folds["fit_time"].mean())
            else:
                train, val = split
                m.fit(train)
                fit_time = time.perf_counter() - t
                scores = np.array([evaluate(m, val, k=self.k, metrics=[key]).metrics[key]])
        except DivergenceError:  # this setting's training blew up: no score, ranked last
            scores, fit_time = np.array([np.nan]), time.perf_counter() - t
        return {**params, "mean_score": float(np.mean(scores)),
                "std_score": float(np.std(scores)), "fit_time": fit_time,
                "seconds": time.perf_counter() - t}  # fmt: skip

    def fit(self, data: Any) -> _Search:
        """Score every setting on ``data``; refit the best on all of it; returns self."""
        import pandas as pd

        from ..data.splits import random_split

        self.n_jobs = _check_jobs(self.n_jobs)
        base, kk = parse_metric(self.metric, self.k)
        self._key = metric_key(base, kk)
        settings = self._settings()
        if not settings:
            raise InvalidParameterError("the search has no settings to try")
        valid = set(self.model.get_params())
        for s in settings:
            bad = set(s) - valid
            if bad:
                raise InvalidParameterError(
                    f"{type(self.model).__name__} has no parameter(s) {sorted(bad)}; valid "
                    f"parameters: {', '.join(sorted(valid))}"
                )
        split = None if self.cv else random_split(data, self.validation, seed=self.seed)
        rows = _map(lambda p: self._score(p, data, split), settings, self.n_jobs)
        return self._choose(pd.DataFrame(rows), settings, data)

    def _choose(self, results, settings: list[dict[str, Any]], data: Any) -> _Search:
        """Rank the scored settings, keep the best, refit it on ``data``."""
        import pandas as pd

        self.results_ = results
        better = higher_is_better(self._key)
        scores = self.results_["mean_score"].to_numpy()
        if np.isnan(scores).all():
            raise InvalidParameterError(
                f"no setting has a {self._key} score (every one is NaN): every fit diverged "
                "(lower lr or raise reg), or no test row has a user and an item the models know"
            )
        best = int(np.nanargmax(scores) if better else np.nanargmin(scores))
        self.results_["rank"] = (
            pd.Series(-scores if better else scores)
            .rank(method="min", na_option="bottom")
            .astype(int)
        )
        self.best_index_ = best
        self.best_params_ = settings[best]
        self.best_score_ = float(scores[best])
        if self.refit:
            self.best_model_ = self.model.clone().set_params(**self.best_params_).fit(data)
        return self


class GridSearch(_Search):
    """Try every combination of ``param_grid`` and keep the best by ``metric``.

    Parameters
    ----------
    model : model
        The template; each setting is ``model.clone().set_params(**setting)``.
    param_grid : dict of name -> list of values
    metric : str, default "rmse"
        Any name :func:`evaluate` knows (``"rmse"``, ``"ndcg@10"`` ...). Lower is better
        for rmse, mae and mean_popularity; higher for the rest.
    cv : int, optional
        Folds of cross-validation per setting; None scores on one validation split.
    validation : float, default 0.2
        Fraction held out when ``cv`` is None.
    refit : bool, default True
        Fit the best setting on all the data (``best_model_``).
    n_jobs : int, default 1
        Settings scored at once, in threads.

    Attributes
    ----------
    results_ : DataFrame
        One row per setting: the parameters, ``mean_score`` and ``std_score`` (over folds;
        std 0 on one validation split), ``fit_time`` (seconds per fit), ``seconds`` (the
        setting's whole time, scoring included) and ``rank`` (1 = best).
    best_params_, best_score_, best_model_

    Examples
    --------
    >>> from latentfactors.data import make_synthetic
    >>> from latentfactors.models import Baseline
    >>> search = GridSearch(Baseline(), {"reg_u": [1, 10]}).fit(
    ...     make_synthetic(100, 50, 2000).interactions)
    >>> list(search.results_.columns)
    ['reg_u', 'mean_score', 'std_score', 'fit_time', 'seconds', 'rank']
    >>> search.best_params_ in ({"reg_u": 1}, {"reg_u": 10})
    True
    """

    def __init__(self, model: Any, param_grid: dict[str, Iterable[Any]], metric: str = "rmse",
                 *, cv: int | None = None, validation: float = 0.2, k: int = 10, seed: int = 0,
                 refit: bool = True, n_jobs: int = 1) -> None:  # fmt: skip
        super().__init__(model, metric, cv, validation, k, seed, refit, n_jobs)
        if not isinstance(param_grid, dict) or not param_grid:
            raise InvalidParameterError("param_grid must be a non-empty dict of name -> values")
        for name, values in param_grid.items():
            if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
                raise InvalidParameterError(
                    f"param_grid[{name!r}] = {values!r} is not a list of values; write "
                    f"{{{name!r}: [{values!r}]}} to try one value"
                )
        self.param_grid = {name: list(values) for name, values in param_grid.items()}
        empty = [name for name, values in self.param_grid.items() if not values]
        if empty:
            raise InvalidParameterError(f"param_grid has no values for {empty}")

    def _settings(self) -> list[dict[str, Any]]:
        names = list(self.param_grid)
        return [
            {name: _plain(v) for name, v in zip(names, combo)}
            for combo in itertools.product(*self.param_grid.values())
        ]


class RandomSearch(_Search):
    """Try ``n_iter`` settings drawn from ``param_distributions`` (lists are sampled
    uniformly; scipy.stats frozen distributions by their ``rvs(random_state=)``), seeded
    by ``seed``.

    Other parameters and attributes as :class:`GridSearch`.

    Examples
    --------
    >>> from scipy.stats import loguniform
    >>> from latentfactors.data import make_synthetic
    >>> from latentfactors.models import Baseline
    >>> search = RandomSearch(Baseline(), {"reg_u": loguniform(0.1, 100), "reg_i": [1, 10]},
    ...                       n_iter=4, seed=0).fit(make_synthetic(100, 50, 2000).interactions)
    >>> len(search.results_)
    4
    """

    def __init__(self, model: Any, param_distributions: dict[str, Any], n_iter: int = 10,
                 metric: str = "rmse", *, cv: int | None = None, validation: float = 0.2,
                 k: int = 10, seed: int = 0, refit: bool = True,
                 n_jobs: int = 1) -> None:  # fmt: skip
        super().__init__(model, metric, cv, validation, k, seed, refit, n_jobs)
        if not isinstance(param_distributions, dict) or not param_distributions:
            raise InvalidParameterError(
                "param_distributions must be a non-empty dict of name -> list or distribution"
            )
        for name, dist in param_distributions.items():
            if not hasattr(dist, "rvs") and (
                isinstance(dist, (str, bytes)) or not isinstance(dist, Iterable) or not list(dist)
            ):
                raise InvalidParameterError(
                    f"param_distributions[{name!r}] = {dist!r} is neither a non-empty list of "
                    "values nor a scipy.stats distribution (with .rvs)"
                )
        if isinstance(n_iter, bool) or not isinstance(n_iter, (int, np.integer)) or n_iter < 1:
            raise InvalidParameterError(f"n_iter={n_iter!r} is invalid; expected an integer >= 1")
        self.param_distributions = param_distributions
        self.n_iter = n_iter

    def _settings(self) -> list[dict[str, Any]]:
        rng = np.random.default_rng(self.seed)
        out = []
        for _ in range(self.n_iter):
            setting = {}
            for name, dist in self.param_distributions.items():
                if hasattr(dist, "rvs"):
                    value = dist.rvs(random_state=rng)
                else:
                    values = list(dist)
                    value = values[int(rng.integers(len(values)))]
                setting[name] = _plain(value)
            out.append(setting)
        return out


class OptunaSearch(_Search):
    """Bayesian search with Optuna's TPE sampler, when Optuna is installed.

    ``space`` maps names to ``(low, high)`` (ints or floats), ``(low, high, "log")``, or a
    list of choices. Other parameters as :class:`GridSearch`; ``n_trials`` settings are
    tried, seeded by ``seed``. Optuna is optional: without it the constructor raises
    :class:`~latentfactors.InvalidParameterError` saying ``pip install optuna``.

    Examples
    --------
    >>> from latentfactors.data import make_synthetic
    >>> from latentfactors.models import Baseline
    >>> space = {"reg_u": (0.1, 100.0, "log"), "reg_i": [1, 10]}
    >>> search = OptunaSearch(Baseline(), space, n_trials=5)  # doctest: +SKIP
    >>> search.fit(make_synthetic(100, 50, 2000).interactions).best_params_  # doctest: +SKIP
    """

    def __init__(self, model: Any, space: dict[str, Any], n_trials: int = 20,
                 metric: str = "rmse", *, cv: int | None = None, validation: float = 0.2,
                 k: int = 10, seed: int = 0, refit: bool = True) -> None:  # fmt: skip
        super().__init__(model, metric, cv, validation, k, seed, refit, 1)
        try:
            import optuna  # noqa: F401
        except ImportError:
            raise InvalidParameterError(
                "OptunaSearch needs Optuna: pip install optuna (or use GridSearch / RandomSearch)"
            ) from None
        self.space = space
        self.n_trials = n_trials

    def fit(self, data: Any) -> OptunaSearch:
        import optuna
        import pandas as pd

        from ..data.splits import random_split

        base, kk = parse_metric(self.metric, self.k)
        self._key = metric_key(base, kk)
        split = None if self.cv else random_split(data, self.validation, seed=self.seed)
        rows: list[dict[str, Any]] = []

        def objective(trial):
            params = {}
            for name, spec in self.space.items():
                if isinstance(spec, list):
                    params[name] = trial.suggest_categorical(name, spec)
                elif isinstance(spec[0], int) and isinstance(spec[1], int):
                    params[name] = trial.suggest_int(name, spec[0], spec[1], log="log" in spec)
                else:
                    params[name] = trial.suggest_float(name, spec[0], spec[1], log="log" in spec)
            row = self._score(params, data, split)
            rows.append(row)
            return row["mean_score"]

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        direction = "maximize" if higher_is_better(self._key) else "minimize"
        study = optuna.create_study(
            direction=direction, sampler=optuna.samplers.TPESampler(seed=self.seed)
        )
        study.optimize(objective, n_trials=self.n_trials)
        names = list(self.space)
        settings = [{n: row[n] for n in names} for row in rows]
        return self._choose(pd.DataFrame(rows), settings, data)
