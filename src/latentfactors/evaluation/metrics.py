"""Rating and ranking metrics, vectorised over users.

Ranking metrics at ``k`` compare each user's top-``k`` list (training items excluded)
with the user's held-out items, every held-out item counting as relevant (binary
relevance). Users without held-out items are left out of every average. Definitions:

* ``precision@k = hits / k`` (a list shorter than ``k`` still divides by ``k``);
* ``recall@k = hits / |test_u|``;
* ``ndcg@k = DCG / IDCG`` with ``DCG = sum_{r < k, hit at rank r} 1 / log2(r + 2)`` and
  ``IDCG`` the DCG of ``min(k, |test_u|)`` hits at the top;
* ``map@k = (1 / min(k, |test_u|)) * sum_{r < k, hit at r} precision@(r + 1)``;
* ``hit_rate@k``: 1 if any hit; ``mrr@k``: 1 / rank of the first hit (0 if none);
* ``auc``: the probability that a held-out item outscores an item the user never
  interacted with, ties counting 1/2 (all items, no cut-off);
* ``coverage@k``: the fraction of the catalogue that appears in at least one top-k list;
* ``mean_popularity@k``: the mean number of training interactions of recommended items.

``implicit``'s ``precision_at_k`` divides by ``min(k, |test_u|)`` instead of ``k``;
its ``ndcg_at_k`` and ``mean_average_precision_at_k`` match the definitions here.
"""

from __future__ import annotations

import numpy as np

__all__ = ["auc_scores", "ranking_from_lists", "ranking_metrics", "rmse_mae"]


def rmse_mae(predicted: np.ndarray, actual: np.ndarray) -> tuple[float, float]:
    """Root mean squared error and mean absolute error."""
    err = np.asarray(predicted, dtype=np.float64) - np.asarray(actual, dtype=np.float64)
    return float(np.sqrt(np.mean(err**2))), float(np.mean(np.abs(err)))


def ranking_from_lists(
    top: np.ndarray, test_indptr: np.ndarray, test_indices: np.ndarray, k: int
) -> dict[str, float]:
    """Ranking metrics from top lists (inner item ids, -1 padded; one row per user) and
    each user's held-out items (CSR rows aligned with ``top``)."""
    top = top[:, :k]
    n_users = top.shape[0]
    n_test = np.diff(test_indptr)
    has_test = n_test > 0
    # hit matrix: is top[u, r] among u's test items? (vectorised membership on keys)
    width = int(max(test_indices.max(initial=0), top.max(initial=0))) + 1
    test_keys = np.repeat(np.arange(n_users, dtype=np.int64), n_test) * width + test_indices
    order = np.argsort(test_keys, kind="stable")
    test_keys = test_keys[order]
    query = np.arange(n_users, dtype=np.int64)[:, None] * width + top
    pos = np.minimum(np.searchsorted(test_keys, query), max(len(test_keys) - 1, 0))
    hits = (top >= 0) & (len(test_keys) > 0)
    if len(test_keys):
        hits &= test_keys[pos] == query
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


def ranking_metrics(model, test, k: int = 10, exclude_seen: bool = True) -> dict[str, float]:
    """Ranking metrics of a fitted model on held-out interactions.

    Test rows whose user or item the model does not know are skipped (counted in
    ``n_skipped_rows``); ``n_users`` users with at least one test item are scored.
    """
    import scipy.sparse as sp

    u = model.users_.index(test.users.ids(test.user_ids), missing="ignore")
    i = model.items_.index(test.items.ids(test.item_ids), missing="ignore")
    keep = (u >= 0) & (i >= 0)
    mat = sp.csr_matrix(
        (np.ones(int(keep.sum()), dtype=np.float32), (u[keep], i[keep])),
        shape=(len(model.users_), len(model.items_)),
    )
    mat.sum_duplicates()
    mat.sort_indices()
    rows = np.flatnonzero(np.diff(mat.indptr) > 0)
    top, _ = model._top_n(rows, k, exclude_seen, None, None)
    sub = mat[rows]
    out = ranking_from_lists(top, sub.indptr, sub.indices, k)
    out["n_users"] = len(rows)
    out["n_skipped_rows"] = int((~keep).sum())
    return out


def auc_scores(model, rows: np.ndarray, test_rows, seen, block: int = 512) -> np.ndarray:
    """Per-user AUC: the probability that a held-out item outscores an item the user never
    interacted with (neither in ``seen`` nor held out); ties count 1/2.

    ``rows`` are inner user ids, ``test_rows`` the CSR of their held-out items (aligned
    with ``rows``), ``seen`` the users x items CSR of training items. Scores every item
    for every user, in blocks of ``block`` users.
    """
    from scipy.stats import rankdata

    out = np.empty(len(rows))
    Q, bi = model.item_factors_, model.item_bias_
    U = model._user_vectors
    for s in range(0, len(rows), block):
        r = rows[s : s + block]
        scores = (U[r] @ Q.T + bi).astype(np.float64)
        tr = test_rows[s : s + block]
        sn = seen[r]
        for j in range(len(r)):
            pos = tr.indices[tr.indptr[j] : tr.indptr[j + 1]]
            excluded = np.zeros(scores.shape[1], dtype=bool)
            excluded[sn.indices[sn.indptr[j] : sn.indptr[j + 1]]] = True
            excluded[pos] = True
            neg = ~excluded
            n_pos, n_neg = len(pos), int(neg.sum())
            if n_pos == 0 or n_neg == 0:
                out[s + j] = np.nan
                continue
            # rank among positives and negatives only
            rr = rankdata(np.concatenate([scores[j, pos], scores[j, neg]]))
            out[s + j] = (rr[:n_pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    return out[~np.isnan(out)]
