"""The :class:`ItemIndex` protocol and the retrieval step every index shares.

An index holds the *augmented* item vectors ``[q_i, b_i]`` (see :mod:`._mips`) under
integer ids (the model's inner item ids) and answers inner-product top-k queries for
augmented user vectors ``[u, 1]``. :func:`retrieve` turns that into ``model.recommend``'s
answer: it over-fetches, drops seen and disallowed items, recomputes the exact scores of
what is left, and falls back to exact scoring for every row where too few items remain
(or where over-fetching would read a large part of the catalogue anyway).
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np

from ..exceptions import InvalidParameterError
from ._mips import augment_items, augment_queries

__all__ = [
    "INDEX_KINDS",
    "ItemIndex",
    "build_index",
    "filter_hits",
    "recall_at",
    "recommend",
    "retrieve",
]

#: index kinds the service and :func:`build_index` know
INDEX_KINDS = ("exact", "hnsw", "milvus")

#: over-fetch beyond this share of the catalogue and exact scoring is as cheap: use it
EXACT_SHARE = 0.25


@runtime_checkable
class ItemIndex(Protocol):
    """What every item index offers.

    ``build(vectors, ids)`` indexes the rows of ``vectors`` (float32, augmented) under
    the integer ``ids``; ``search(queries, k, exclude=None)`` returns ``(ids, scores)``,
    both ``(len(queries), k)``, best first, ``-1`` / ``-inf`` padded, where ``exclude``
    is one array of ids per query never to return. ``kind`` names the index; ``size``
    is the number of vectors.
    """

    kind: str

    @property
    def size(self) -> int: ...

    def build(self, vectors: np.ndarray, ids: np.ndarray) -> Any: ...

    def search(
        self, queries: np.ndarray, k: int, exclude: list[np.ndarray] | None = None
    ) -> tuple[np.ndarray, np.ndarray]: ...


def filter_hits(
    ids: np.ndarray, scores: np.ndarray, k: int, exclude: list[np.ndarray] | None
) -> tuple[np.ndarray, np.ndarray]:
    """Drop each row's excluded ids from over-fetched hits and keep the first ``k``."""
    m = ids.shape[0]
    out_i = np.full((m, k), -1, dtype=np.int64)
    out_s = np.full((m, k), -np.inf, dtype=np.float32)
    for r in range(m):
        keep = ids[r] >= 0
        if exclude is not None and len(exclude[r]):
            keep &= ~np.isin(ids[r], np.asarray(exclude[r], dtype=np.int64))
        ri, rs = ids[r][keep][:k], scores[r][keep][:k]
        out_i[r, : len(ri)] = ri
        out_s[r, : len(rs)] = rs
    return out_i, out_s


def build_index(kind: str, factors: np.ndarray, bias: np.ndarray, **options: Any) -> ItemIndex:
    """An index of kind ``"exact"``, ``"hnsw"`` or ``"milvus"`` over item factors and biases
    (ids are the row numbers, i.e. the model's inner item ids)."""
    if kind == "exact":
        from .exact import ExactIndex

        index: Any = ExactIndex()
    elif kind == "hnsw":
        from .hnsw import HNSWIndex

        index = HNSWIndex(**options)
    elif kind == "milvus":
        from .milvus import MilvusIndex

        index = MilvusIndex(**options)
    else:
        raise InvalidParameterError(
            f"unknown index kind {kind!r}; choose one of {', '.join(INDEX_KINDS)}"
        )
    vectors = augment_items(factors, bias)
    index.build(vectors, np.arange(len(vectors), dtype=np.int64))
    return index


def retrieve(
    index: ItemIndex | None,
    layout: Any,
    intercept: float,
    U: np.ndarray,
    user_bias: np.ndarray,
    n: int,
    seen: tuple[np.ndarray, np.ndarray] | None = None,
    candidates: np.ndarray | None = None,
    allowed: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Top-``n`` inner item ids (-1 padded) and scores, as :func:`scoring.top_n` returns
    them, answered from ``index`` where it can be; also a bool array, True for the rows
    that were answered exactly (no index, or the fallback).

    ``layout`` is the model's :class:`~latentfactors.models._state.ItemLayout`; the other
    arguments are those of :func:`~latentfactors.models.scoring.top_n`.
    """
    from ..models import scoring

    m = U.shape[0]
    n_items = layout.factors.shape[0]

    def exact(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        s = None
        if seen is not None:
            ptr, idx = seen
            parts = [idx[ptr[r] : ptr[r + 1]] for r in rows]
            sp = np.zeros(len(rows) + 1, dtype=np.int64)
            np.cumsum([len(p) for p in parts], out=sp[1:])
            s = (sp, np.concatenate(parts).astype(np.int32) if parts else np.zeros(0, np.int32))
        return scoring.top_n(
            U[rows],
            user_bias[rows],
            intercept,
            layout.factors,
            layout.factors_t,
            layout.bias,
            n,
            s,
            candidates,
            allowed,
        )

    all_rows = np.arange(m)
    if index is None or getattr(index, "kind", "exact") == "exact" or m == 0:
        i, v = exact(all_rows)
        return i, v, np.ones(m, dtype=bool)
    # items a row may return: in the candidates, allowed, and not seen
    ok = np.ones(n_items, dtype=bool)
    if candidates is not None:
        ok[:] = False
        ok[candidates[allowed] if allowed is not None else candidates] = True
    elif allowed is not None:
        ok &= allowed
    n_ok = int(ok.sum())
    k = min(n, n_ok)
    out_i = np.full((m, min(n, n_items if candidates is None else len(candidates))), -1, np.int32)
    out_v = np.full(out_i.shape, -np.inf, dtype=np.float32)
    if k == 0:
        return out_i, out_v, np.ones(m, dtype=bool)
    n_seen = np.zeros(m, dtype=np.int64) if seen is None else np.diff(seen[0])[:m]
    # fetch enough that, after dropping seen and disallowed items, k are left on average
    fetch = np.ceil((k + n_seen) * (n_items / n_ok) * 1.2).astype(np.int64) + 10
    use_ann = fetch <= EXACT_SHARE * n_items
    exact_rows = np.flatnonzero(~use_ann)
    ann_rows = np.flatnonzero(use_ann)
    if len(ann_rows):
        kk = int(fetch[ann_rows].max())
        hits, _ = index.search(augment_queries(U[ann_rows]), kk)
        for j, r in enumerate(ann_rows):
            h = hits[j]
            h = h[h >= 0]
            h = h[ok[h]]
            if seen is not None and len(h):
                h = h[~np.isin(h, seen[1][seen[0][r] : seen[0][r + 1]])]
            if len(h) < k:  # too few left: this row is answered exactly
                exact_rows = np.append(exact_rows, r)
                continue
            # exact scores of the survivors, best first (ties as the exact path breaks them)
            sc = layout.factors[h] @ U[r].astype(np.float32)
            if len(layout.bias):
                sc = sc + layout.bias[h]
            order = np.lexsort((h, -sc))[:k]
            out_i[r, :k] = h[order]
            out_v[r, :k] = sc[order] + np.float32(intercept) + np.float32(user_bias[r])
    exact_mask = np.zeros(m, dtype=bool)
    if len(exact_rows):
        exact_rows = np.sort(exact_rows)
        i, v = exact(exact_rows)
        out_i[exact_rows, : i.shape[1]] = i
        out_v[exact_rows, : v.shape[1]] = v
        exact_mask[exact_rows] = True
    return out_i, out_v, exact_mask


def recall_at(index: ItemIndex, layout: Any, U: np.ndarray, k: int = 10) -> float:
    """Recall@``k`` of ``index`` against exact top-``k`` for the query rows ``U`` (nothing
    excluded): the share of the exact top-k the index returns."""
    from ..models import scoring

    exact_i, _ = scoring.top_n(
        U, np.zeros(len(U), np.float32), 0.0, layout.factors, layout.factors_t, layout.bias, k
    )
    got, _ = index.search(augment_queries(U), k)
    hits = sum(len(np.intersect1d(a[a >= 0], b[b >= 0])) for a, b in zip(exact_i, got))
    total = int((exact_i >= 0).sum())
    return hits / total if total else 1.0


def recommend(
    model: Any,
    user: Any = None,
    n: int = 10,
    *,
    users: Any = None,
    index: ItemIndex | None = None,
    exclude_seen: bool = True,
    items: Any = None,
    exclude: Any = None,
) -> Any:
    """``model.recommend`` answered from ``index`` (None: exact), for one user
    (``(items, scores)``) or many (``users=[...]``: arrays of raw ids, None padded, and
    scores, one row per user). Seen items and ``items`` / ``exclude`` hold as in
    :meth:`~latentfactors.models.base.FactorModel.recommend`.

    Examples
    --------
    >>> import latentfactors as lf
    >>> from latentfactors.index import build_index, recommend
    >>> model = lf.SVD(n_factors=4, n_epochs=3, random_state=0).fit(
    ...     lf.make_synthetic(60, 40, 600, seed=0).interactions)
    >>> exact = build_index("exact", model.item_factors_, model.item_bias_)
    >>> got, _ = recommend(model, 0, 5, index=exact)
    >>> bool((got == model.recommend(0, 5)[0]).all())
    True
    """
    model._check_fitted("recommend")
    if (user is None) == (users is None):
        raise InvalidParameterError("recommend takes either one user or users=[...]")
    if not isinstance(n, (int, np.integer)) or n < 1:
        raise InvalidParameterError(f"n must be a positive int, got {n!r}")
    st = model._users_state()
    raw = [user] if users is None else list(users)
    rows = model._users_inner(raw, st)
    seen = None
    if exclude_seen:
        model._seen_or_fail(st, "exclude_seen=True")
        seen = st.seen_of(rows)
    cand, allowed = model._candidates(items, exclude)
    idx, val, _ = retrieve(
        index, model._items, model.intercept_, np.asarray(st.vectors[rows], np.float32),
        np.asarray(st.bias[rows], np.float32), int(n), seen, cand, allowed,
    )  # fmt: skip
    if users is None:
        keep = idx[0] >= 0
        return model.items_.ids(idx[0][keep]), val[0][keep].astype(np.float64)
    out = np.full(idx.shape, None, dtype=object)
    out[idx >= 0] = model.items_.ids(idx[idx >= 0])
    return out, val.astype(np.float64)
