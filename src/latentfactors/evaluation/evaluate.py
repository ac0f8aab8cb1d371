"""`evaluate`: every metric of a fitted model on held-out interactions, with skips explained."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._metrics import (
    LOWER_IS_BETTER,
    RANKING_METRICS,
    RATING_METRICS,
    parse_metric,
    ranking_from_lists,
    rmse_mae,
)
from ..exceptions import DataError, InvalidParameterError
from .metrics import auc_scores, coverage, mean_popularity

__all__ = ["RANKING_METRICS", "RATING_METRICS", "EvaluationResult", "evaluate", "parse_metric"]


def metric_key(base: str, k: int | None) -> str:
    return base if k is None else f"{base}@{k}"


def higher_is_better(name: str) -> bool:
    return name.split("@")[0] not in LOWER_IS_BETTER


@dataclass
class EvaluationResult:
    """Metrics of one evaluation, and what was left out and why.

    ``metrics`` maps names such as ``"rmse"`` or ``"ndcg@10"`` to values;
    ``skipped`` maps reasons (``"unknown user"``, ``"unknown item"``) to test-row counts.
    """

    metrics: dict[str, float]
    n_rows: int
    n_users: int
    skipped: dict[str, int] = field(default_factory=dict)

    @property
    def n_skipped_rows(self) -> int:
        return int(sum(self.skipped.values()))

    def __getitem__(self, name: str) -> float:
        return self.metrics[name]

    def to_dict(self) -> dict[str, Any]:
        return {**self.metrics, "n_rows": self.n_rows, "n_users": self.n_users,
                "n_skipped_rows": self.n_skipped_rows,
                **{f"skipped ({k})": v for k, v in self.skipped.items()}}  # fmt: skip

    def to_frame(self):
        import pandas as pd

        return pd.DataFrame([self.to_dict()])


def _default_metrics(model, test, k: int) -> list[str]:
    ranking = [f"precision@{k}", f"recall@{k}", f"ndcg@{k}", f"map@{k}"]
    rated = model.data_kind == "explicit" and test.kind == "explicit"
    return (["rmse", "mae"] if rated else []) + ranking


def evaluate(model: Any, test: Any, train: Any = None, k: int = 10,
             metrics: list[str] | None = None) -> EvaluationResult:  # fmt: skip
    """Evaluate a fitted model on held-out interactions.

    Parameters
    ----------
    model : fitted model
    test : Interactions
        Held-out rows. Rows whose user or item the model does not know are skipped and
        counted by reason in ``skipped`` (a row whose user and item are both unknown
        counts as ``"unknown user"``). Users with no scorable test row do not count in
        any ranking average.
    train : Interactions, optional
        The training rows, excluded from every user's candidates and used for item
        popularity. Default: what the model remembers (``model.user_items_``).
    k : int
        Cut-off for ranking metrics given without ``@k``.
    metrics : list of str, optional
        Names like ``"rmse"``, ``"mae"``, ``"ndcg"`` (at ``k``), ``"recall@20"``,
        ``"auc"``, ``"coverage@10"``, ``"mean_popularity@10"``. Default: RMSE and MAE
        for rating models on rated test data, and precision, recall, NDCG and MAP at
        ``k`` for all.

    Returns
    -------
    EvaluationResult

    Examples
    --------
    >>> from latentfactors.data import make_synthetic, random_split
    >>> from latentfactors.models import SVD
    >>> train, test = random_split(make_synthetic(200, 100, 5000, seed=0).interactions)
    >>> result = evaluate(SVD(n_factors=8, random_state=0).fit(train), test, k=5)
    >>> list(result.metrics)
    ['rmse', 'mae', 'precision@5', 'recall@5', 'ndcg@5', 'map@5']
    >>> result.n_skipped_rows, result.skipped
    (0, {})
    """
    import scipy.sparse as sp

    from ..data.interactions import Interactions

    model._check_fitted("evaluate")
    if not isinstance(test, Interactions):
        raise DataError(f"test must be an Interactions container, got {type(test).__name__}")
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise InvalidParameterError(f"k={k!r} is invalid; expected an integer >= 1")
    wanted = [parse_metric(m, k) for m in (metrics or _default_metrics(model, test, k))]
    u = model.users_.index(test.users.ids(test.user_ids), missing="ignore")
    i = model.items_.index(test.items.ids(test.item_ids), missing="ignore")
    skipped = {}
    if (u < 0).any():
        skipped["unknown user"] = int((u < 0).sum())
    if ((i < 0) & (u >= 0)).any():
        skipped["unknown item"] = int(((i < 0) & (u >= 0)).sum())
    keep = (u >= 0) & (i >= 0)
    uk, ik, rk = u[keep], i[keep], test.values[keep]
    out: dict[str, float] = {}
    if any(b in RATING_METRICS for b, _ in wanted):
        if model.data_kind != "explicit":
            raise InvalidParameterError(
                f"{type(model).__name__} predicts preference scores, not ratings; use ranking "
                "metrics (ndcg, recall, ...) for implicit-feedback models"
            )
        if test.kind != "explicit":
            raise DataError(
                "the test data has no ratings (it was read as implicit feedback), so RMSE and "
                "MAE cannot be computed; read it with its rating column (rating=... or "
                "--rating-col), or ask for ranking metrics only"
            )
        pred = model.predict(model.users_.ids(uk), model.items_.ids(ik)) if len(uk) else []
        rmse, mae = rmse_mae(pred, rk) if len(uk) else (float("nan"), float("nan"))
        out.update({"rmse": rmse, "mae": mae})
    n_users = len(np.unique(uk))
    ranking = [(b, kk) for b, kk in wanted if b in RANKING_METRICS]
    if ranking:
        shape = (len(model.users_), len(model.items_))
        truth = sp.csr_matrix((np.ones(len(uk), np.float32), (uk, ik)), shape=shape)
        truth.sum_duplicates()
        truth.sort_indices()
        rows = np.flatnonzero(np.diff(truth.indptr) > 0)
        sub = truth[rows]
        seen = model.user_items_
        if train is not None:
            tu = model.users_.index(train.users.ids(train.user_ids), missing="ignore")
            ti = model.items_.index(train.items.ids(train.item_ids), missing="ignore")
            ok = (tu >= 0) & (ti >= 0)
            seen = sp.csr_matrix((np.ones(int(ok.sum()), np.float32), (tu[ok], ti[ok])),
                                 shape=shape)  # fmt: skip
            seen.sum_duplicates()
        popularity = np.bincount(seen.indices, minlength=shape[1])
        cutoffs = sorted({kk for b, kk in ranking if kk is not None})
        lists = {}
        if cutoffs:
            top, _ = model._top_n(rows, max(cutoffs), True, None, None, seen=seen.tocsr())
            lists = {kk: top[:, :kk] for kk in cutoffs}
        for base, kk in ranking:
            key = metric_key(base, kk)
            if base == "auc":
                per_user = auc_scores(model, rows, sub, seen.tocsr())
                out[key] = float(per_user.mean()) if len(per_user) else float("nan")
            elif base == "coverage":
                out[key] = coverage(lists[kk], shape[1])
            elif base == "mean_popularity":
                out[key] = mean_popularity(lists[kk], popularity)
            else:
                out[key] = ranking_from_lists(lists[kk], sub.indptr, sub.indices, kk)[key]
    ordered = {metric_key(b, kk): out[metric_key(b, kk)] for b, kk in wanted}
    return EvaluationResult(ordered, n_rows=int(keep.sum()), n_users=n_users, skipped=skipped)
