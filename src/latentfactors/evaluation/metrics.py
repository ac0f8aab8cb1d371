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
* ``auc``: per user, the probability that a held-out item outscores an item the user
  has not interacted with (neither trained on nor held out), ties counting 1/2; all items,
  no cut-off. Averaged over users with at least one held-out item and one such negative;
* ``coverage@k``: the number of distinct catalogue items that appear in at least one
  user's top-k list, divided by the catalogue size;
* ``mean_popularity@k``: the mean training count (number of training interactions) of
  the recommended items, pooled over every slot of every top-k list.

A list can be shorter than ``k`` when fewer than ``k`` candidates remain (``k`` larger
than the catalogue, or most items already seen): missing slots are misses.

``implicit``'s ``precision_at_k`` divides by ``min(k, |test_u|)`` instead of ``k``;
its ``ndcg_at_k`` and ``mean_average_precision_at_k`` match the definitions here.
"""

from __future__ import annotations

import numpy as np

from .._metrics import ranking_from_lists, rmse_mae

__all__ = [
    "auc",
    "auc_scores",
    "coverage",
    "mean_popularity",
    "ranking_from_lists",
    "ranking_metrics",
    "rmse_mae",
]


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


def _csr_mask(indptr: np.ndarray, indices: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    mask = np.zeros(shape, dtype=bool)
    indptr = np.asarray(indptr, dtype=np.int64)
    rows = np.repeat(np.arange(shape[0]), np.diff(indptr))
    mask[rows, np.asarray(indices, dtype=np.int64)] = True
    return mask


def auc(
    scores: np.ndarray,
    test_indptr: np.ndarray,
    test_indices: np.ndarray,
    train_indptr: np.ndarray | None = None,
    train_indices: np.ndarray | None = None,
    *,
    per_user: bool = False,
) -> float | np.ndarray:
    """Area under the ROC curve of each user's scores, held-out items against the rest.

    For user ``u`` with held-out items ``P`` and negatives ``N`` (every item neither in
    ``P`` nor among the user's training items)::

        auc_u = (#{(p, n): s_p > s_n} + 0.5 * #{(p, n): s_p == s_n}) / (|P| * |N|)

    computed without the pairs, from the average ranks of ``P`` among ``P + N``
    (Mann-Whitney U), vectorised over all users of the block. Users without held-out
    items, or without a single negative, have no AUC (NaN per user) and are left out of
    the mean.

    Parameters
    ----------
    scores : ndarray of shape (n_users, n_items)
        Every item's score for each user (a block of users).
    test_indptr, test_indices : ndarray
        CSR rows (aligned with ``scores``) of each user's held-out items.
    train_indptr, train_indices : ndarray, optional
        CSR rows of each user's training items, left out of the negatives. A held-out
        item that is also a training item stays a positive.
    per_user : bool, default False
        Return the per-user values (NaN where undefined) instead of their mean.

    Returns
    -------
    float or ndarray
        The mean AUC over users that have one (NaN if none), or the per-user array.

    Examples
    --------
    >>> import numpy as np
    >>> scores = np.array([[0.9, 0.5, 0.5, 0.1]])
    >>> auc(scores, np.array([0, 1]), np.array([1]))  # beats 1 of 3, ties 1
    0.5
    >>> auc(scores, np.array([0, 1]), np.array([1]), np.array([0, 1]), np.array([0]))
    0.75
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 2:
        raise ValueError(f"scores must be 2-D (users x items), got shape {scores.shape}")
    n_rows, n_items = scores.shape
    pos = _csr_mask(test_indptr, test_indices, scores.shape)
    cand = np.ones(scores.shape, dtype=bool)
    if train_indptr is not None:
        cand &= ~_csr_mask(train_indptr, train_indices, scores.shape)
    cand |= pos
    n_pos = pos.sum(axis=1)
    n_neg = cand.sum(axis=1) - n_pos
    # a NaN score (a diverged model) ranks below every real score; non-candidates sort
    # after every candidate (the primary key), so they change no candidate's rank, even
    # next to a real +inf score
    vals = np.where(np.isnan(scores), -np.inf, scores)
    order = np.lexsort((vals, ~cand), axis=1)
    sv = np.take_along_axis(vals, order, axis=1)
    sc = np.take_along_axis(cand, order, axis=1)
    cols = np.arange(n_items)
    new_group = np.ones(scores.shape, dtype=bool)
    new_group[:, 1:] = (sv[:, 1:] != sv[:, :-1]) | (sc[:, 1:] != sc[:, :-1])
    start = np.maximum.accumulate(np.where(new_group, cols, 0), axis=1)
    last = np.ones(scores.shape, dtype=bool)
    last[:, :-1] = new_group[:, 1:]
    end = np.minimum.accumulate(np.where(last, cols, n_items)[:, ::-1], axis=1)[:, ::-1]
    ranks = np.empty(scores.shape)
    np.put_along_axis(ranks, order, (start + end) / 2.0 + 1.0, axis=1)  # 1-based, ties averaged
    rank_sum = np.where(pos, ranks, 0.0).sum(axis=1)
    ok = (n_pos > 0) & (n_neg > 0)
    out = np.full(n_rows, np.nan)
    out[ok] = (rank_sum[ok] - n_pos[ok] * (n_pos[ok] + 1) / 2.0) / (n_pos[ok] * n_neg[ok])
    if per_user:
        return out
    return float(out[ok].mean()) if ok.any() else float("nan")


def auc_scores(model, rows: np.ndarray, test_rows, seen, block: int | None = None) -> np.ndarray:
    """Per-user :func:`auc` of a fitted model (users without an AUC dropped).

    ``rows`` are inner user ids, ``test_rows`` the CSR of their held-out items (aligned
    with ``rows``), ``seen`` the users x items CSR of training items. Scores every item
    for ``block`` users at a time (default: about two million scores per block; a user's
    own bias and the intercept do not change the order of their items, so they are left
    out).
    """
    out = np.empty(len(rows))
    Q, bi = model.item_factors_, model.item_bias_
    if block is None:
        block = max(1, (1 << 21) // max(1, Q.shape[0]))
    U = model.user_vectors_
    for s in range(0, len(rows), block):
        r = rows[s : s + block]
        scores = (U[r] @ Q.T + bi).astype(np.float64)
        tr = test_rows[s : s + block]
        sn = seen[r]
        out[s : s + len(r)] = auc(
            scores, tr.indptr, tr.indices, sn.indptr, sn.indices, per_user=True
        )
    return out[~np.isnan(out)]


def coverage(top: np.ndarray, n_items: int) -> float:
    """Catalogue coverage: the fraction of the ``n_items`` catalogue items that appear in at
    least one top-k list.

    Parameters
    ----------
    top : ndarray of shape (n_users, k)
        Inner item ids of each user's list, ``-1`` for empty slots.
    n_items : int
        The catalogue size.

    Examples
    --------
    >>> import numpy as np
    >>> coverage(np.array([[0, 1], [1, -1]]), 4)
    0.5
    """
    if n_items < 1:
        raise ValueError(f"n_items={n_items} must be >= 1")
    top = np.asarray(top)
    return float(len(np.unique(top[top >= 0])) / n_items)


def mean_popularity(top: np.ndarray, popularity: np.ndarray) -> float:
    """Mean popularity of recommendations: the mean training count of the recommended
    items, over every filled slot of every list (NaN if no list has an item).

    Parameters
    ----------
    top : ndarray of shape (n_users, k)
        Inner item ids of each user's list, ``-1`` for empty slots.
    popularity : ndarray of shape (n_items,)
        Each item's number of training interactions.

    Examples
    --------
    >>> import numpy as np
    >>> mean_popularity(np.array([[0, 1], [1, -1]]), np.array([10, 4, 0]))
    6.0
    """
    top = np.asarray(top)
    filled = top[top >= 0]
    if len(filled) == 0:
        return float("nan")
    return float(np.asarray(popularity, dtype=np.float64)[filled].mean())
