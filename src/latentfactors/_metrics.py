"""Metric names and the array-level metric arithmetic shared by models (validation
scores during fit) and ``evaluation`` (which re-exports these). Pure NumPy, no models."""

from __future__ import annotations

import numpy as np

from .exceptions import InvalidParameterError

__all__ = [
    "LOWER_IS_BETTER",
    "RANKING_METRICS",
    "RATING_METRICS",
    "parse_metric",
    "ranking_from_lists",
    "rmse_mae",
]

RATING_METRICS = ("rmse", "mae")
RANKING_METRICS = (
    "precision", "recall", "ndcg", "map", "mrr", "hit_rate", "auc", "coverage",
    "mean_popularity",
)  # fmt: skip
LOWER_IS_BETTER = ("rmse", "mae", "mean_popularity")


def parse_metric(name: str, k: int) -> tuple[str, int | None]:
    """``"ndcg@20"`` -> ("ndcg", 20); ``"ndcg"`` -> ("ndcg", k); ``"rmse"`` -> ("rmse", None)."""
    if not isinstance(name, str):
        raise InvalidParameterError(f"metric names are strings, got {name!r}")
    base, sep, at = name.lower().strip().partition("@")
    if sep and not (base and at):
        example = base or "ndcg"
        raise InvalidParameterError(
            f"metric {name!r}: a metric name and k go on either side of '@'; write "
            f"{example}@10 for k=10, or {example} alone for k={k}"
        )
    if base in RATING_METRICS:
        if at:
            raise InvalidParameterError(f"metric {name!r}: {base} takes no @k")
        return base, None
    if base not in RANKING_METRICS:
        valid = ", ".join(
            RATING_METRICS + tuple(m if m == "auc" else f"{m}@k" for m in RANKING_METRICS)
        )
        raise InvalidParameterError(f"unknown metric {name!r}; valid metrics: {valid}")
    if base == "auc":
        if at:
            raise InvalidParameterError(f"metric {name!r}: auc ranks all items and takes no @k")
        return base, None
    if at:
        if not at.isdigit() or int(at) < 1:
            raise InvalidParameterError(f"metric {name!r}: k must be a positive integer")
        return base, int(at)
    return base, k


def rmse_mae(predicted: np.ndarray, actual: np.ndarray) -> tuple[float, float]:
    """Root mean squared error and mean absolute error."""
    err = np.asarray(predicted, dtype=np.float64) - np.asarray(actual, dtype=np.float64)
    return float(np.sqrt(np.mean(err**2))), float(np.mean(np.abs(err)))


def _hits(top: np.ndarray, test_indptr: np.ndarray, test_indices: np.ndarray) -> np.ndarray:
    """Is ``top[u, r]`` among row ``u``'s test items? (vectorised membership on keys)"""
    n_users = top.shape[0]
    n_test = np.diff(test_indptr)
    width = int(max(test_indices.max(initial=0), top.max(initial=0))) + 1
    test_keys = np.repeat(np.arange(n_users, dtype=np.int64), n_test) * width + test_indices
    order = np.argsort(test_keys, kind="stable")
    test_keys = test_keys[order]
    query = np.arange(n_users, dtype=np.int64)[:, None] * width + top
    pos = np.minimum(np.searchsorted(test_keys, query), max(len(test_keys) - 1, 0))
    hits = (top >= 0) & (len(test_keys) > 0)
    if len(test_keys):
        hits &= test_keys[pos] == query
    return hits


def ndcg_per_user(
    top: np.ndarray, test_indptr: np.ndarray, test_indices: np.ndarray, k: int
) -> np.ndarray:
    """NDCG@k of each row that has test items (the rows ``ranking_from_lists`` averages)."""
    top = top[:, :k]
    n_test = np.diff(test_indptr)
    hits = _hits(top, test_indptr, test_indices)
    discount = 1.0 / np.log2(np.arange(2, top.shape[1] + 2))
    idcg = np.concatenate(([0.0], np.cumsum(discount)))[np.minimum(n_test, top.shape[1])]
    m = n_test > 0
    return (hits[m] * discount).sum(axis=1) / idcg[m]


def ranking_from_lists(
    top: np.ndarray, test_indptr: np.ndarray, test_indices: np.ndarray, k: int
) -> dict[str, float]:
    """Ranking metrics from top lists (inner item ids, -1 padded; one row per user) and
    each user's held-out items (CSR rows aligned with ``top``)."""
    top = top[:, :k]
    n_users = top.shape[0]
    n_test = np.diff(test_indptr)
    has_test = n_test > 0
    hits = _hits(top, test_indptr, test_indices)
    discount = 1.0 / np.log2(np.arange(2, top.shape[1] + 2))
    dcg = (hits * discount).sum(axis=1)
    ideal_len = np.minimum(n_test, top.shape[1])
    idcg = np.concatenate(([0.0], np.cumsum(discount)))[ideal_len]
    n_hits = hits.sum(axis=1)
    prec_at = np.cumsum(hits, axis=1) / np.arange(1, top.shape[1] + 1)
    ap = (prec_at * hits).sum(axis=1) / np.maximum(ideal_len, 1)
    first = np.where(hits.any(axis=1), hits.argmax(axis=1) + 1, 0)
    rr = np.where(first > 0, 1.0 / np.maximum(first, 1), 0.0)
    m = has_test
    if not m.any():
        return {f"{name}@{k}": float("nan") for name in
                ("precision", "recall", "ndcg", "map", "hit_rate", "mrr")}  # fmt: skip
    del n_users
    return {
        f"precision@{k}": float((n_hits[m] / k).mean()),
        f"recall@{k}": float((n_hits[m] / n_test[m]).mean()),
        f"ndcg@{k}": float((dcg[m] / idcg[m]).mean()),
        f"map@{k}": float(ap[m].mean()),
        f"hit_rate@{k}": float((n_hits[m] > 0).mean()),
        f"mrr@{k}": float(rr[m].mean()),
    }
