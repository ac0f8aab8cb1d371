"""Groups of items (or users) in the latent space, and whether they mean anything.

k-means runs on the L2-normalised factors (so it groups by direction, i.e. by cosine
similarity, the same notion :meth:`similar_items` uses) and, unless ``k`` is given,
picks the number of clusters with the best silhouette. Item clusters are then read
against the item metadata: which attributes (genres) are over-represented in each
cluster compared with the catalogue, and whether clusters are purer in genre than
random groups of the same sizes would be. That last comparison is the honest test:
a cluster that is "40% Drama" says nothing when 40% of all films are dramas.

scikit-learn is needed (``pip install scikit-learn``); it is imported only when a
function here runs.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..exceptions import InvalidParameterError
from .factors import _is_list, _labels

__all__ = ["ClusterResult", "cluster_items", "cluster_users"]

_SILHOUETTE_SAMPLE = 3000  # rows scored when choosing k (silhouette is quadratic)


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    """BLAS and OpenMP pools on one thread while inspecting.

    The matrices here are small, and once numba's parallel kernels have run, threaded
    BLAS / OpenMP calls can be a hundred times slower on a busy machine (idle worker
    threads of one runtime spin against the other's); one thread is always quick.
    """
    from .._runtime import one_blas_thread

    with one_blas_thread():
        yield


def _require_sklearn(what: str) -> Any:
    try:
        import sklearn
    except ImportError:
        raise ImportError(
            f"{what} needs scikit-learn: pip install scikit-learn "
            "(or pip install 'latentfactors[report]')"
        ) from None
    return sklearn


def _item_metadata(model: Any, items: pd.DataFrame | None) -> pd.DataFrame | None:
    """``items`` if given, else the metadata saved with the model (``item_metadata_``)."""
    return items if items is not None else getattr(model, "item_metadata_", None)


def _list_column(items: pd.DataFrame | None, column: str | None = None) -> str | None:
    """The list-valued attribute column to use: ``column``, else ``genres``, else the first
    column whose values are all lists, not all empty."""
    if items is None:
        return None
    if column is not None:
        if column not in items.columns:
            raise InvalidParameterError(
                f"item metadata has no {column!r} column; columns: {list(items.columns)}"
            )
        return column
    candidates = (["genres"] if "genres" in items.columns else []) + [
        c for c in items.columns if c != "genres"
    ]
    for c in candidates:
        values = items[c].dropna()
        if len(values) and values.map(_is_list).all() and values.map(len).any():
            return c
    return None


def _indicator(
    items: pd.DataFrame, raw: np.ndarray, column: str
) -> tuple[np.ndarray, list[str], np.ndarray]:
    """0/1 matrix (rows x attribute values) for raw item ids, the value names, and a mask
    of the rows that have metadata (a list, possibly empty)."""
    lists = items[column].reindex(raw)
    has = np.array([_is_list(v) for v in lists], dtype=bool)
    names = sorted({str(g) for v in lists if _is_list(v) for g in v})
    pos = {g: j for j, g in enumerate(names)}
    ind = np.zeros((len(raw), len(names)), dtype=np.float64)
    for r, v in enumerate(lists):
        if _is_list(v):
            for g in v:
                ind[r, pos[str(g)]] = 1.0
    return ind, names, has


@dataclass
class ClusterResult:
    """k-means clusters of items or users in the latent space.

    Clusters are numbered by size, largest first.

    Attributes
    ----------
    kind : str
        ``"item"`` or ``"user"``.
    k : int
        Number of clusters.
    labels : Series
        Cluster of each clustered raw id (index: raw ids).
    sizes : Series
        Members per cluster.
    representatives : DataFrame
        Per cluster, the members closest to its centroid: ``cluster``, ``rank``, ``id``,
        ``label`` (title when item metadata has one), ``similarity`` (cosine).
    silhouette : float
        Mean silhouette of the clustering, with Euclidean distances between the
        normalised factors (the chord ``sqrt(2 - 2 cos)``, the geometry k-means
        optimises; it orders pairs as cosine distance does); below about 0.1 the space
        has no well-separated groups and the clusters partition a continuum.
    silhouette_by_k : dict
        Silhouette of every ``k`` tried (just ``k`` when it was given).
    centroids : ndarray
        Cluster centres in the normalised factor space (k x factors).
    attribute : str or None
        The list-valued metadata column used for enrichment (e.g. ``"genres"``).
    enrichment : DataFrame or None
        Clusters x attribute values: share of the cluster with the value divided by the
        share of all clustered items with it (1 = base rate, 2 = twice as common).
    shares : DataFrame or None
        Clusters x attribute values: share of the cluster with the value.
    base_rate : Series or None
        Share of all clustered items (with metadata) with each value.
    """

    kind: str
    k: int
    labels: pd.Series
    sizes: pd.Series
    representatives: pd.DataFrame
    silhouette: float
    silhouette_by_k: dict[int, float]
    centroids: np.ndarray = field(repr=False)
    attribute: str | None = None
    enrichment: pd.DataFrame | None = field(default=None, repr=False)
    shares: pd.DataFrame | None = field(default=None, repr=False)
    base_rate: pd.Series | None = field(default=None, repr=False)
    _indicator: np.ndarray | None = field(default=None, repr=False)
    _meta_labels: np.ndarray | None = field(default=None, repr=False)

    def _need_metadata(self, method: str) -> tuple[np.ndarray, np.ndarray]:
        if self._indicator is None or self._meta_labels is None:
            raise InvalidParameterError(
                f"{method}() needs item metadata with a list column such as 'genres'; "
                "pass items=... to cluster_items"
            )
        return self._indicator, self._meta_labels

    @staticmethod
    def _purity(ind: np.ndarray, labels: np.ndarray, k: int) -> float:
        counts = np.zeros((k, ind.shape[1]))
        np.add.at(counts, labels, ind)
        sizes = np.bincount(labels, minlength=k)
        ok = sizes > 0
        if not ok.any() or ind.shape[1] == 0:
            return float("nan")
        return float((counts[ok].max(axis=1) / sizes[ok]).mean())

    def genre_purity(self) -> float:
        """Mean over clusters of the share of the cluster's most common attribute value.

        Only members with metadata count. Compare with :meth:`random_purity`: the
        most common genre of a random group is already the catalogue's most common one.
        """
        ind, lab = self._need_metadata("genre_purity")
        return self._purity(ind, lab, self.k)

    def random_purity(self, seed: int = 0, n_shuffles: int = 20) -> float:
        """:meth:`genre_purity` of random clusters of the same sizes (mean of shuffles)."""
        ind, lab = self._need_metadata("random_purity")
        rng = np.random.default_rng(seed)
        return float(np.mean([self._purity(ind, rng.permutation(lab), self.k)
                              for _ in range(max(1, int(n_shuffles)))]))  # fmt: skip

    def summary(
        self, n_attributes: int = 3, n_members: int = 5, min_share: float = 0.1
    ) -> pd.DataFrame:
        """One row per cluster: ``cluster``, ``size``, ``top`` (the most over-represented
        attribute values held by at least ``min_share`` of the cluster, as
        ``"Horror x3.1 (45%)"`` strings; empty without metadata) and ``members``
        (representative labels)."""
        rows = []
        for c in range(self.k):
            top: list[str] = []
            if self.enrichment is not None and self.shares is not None:
                share = self.shares.loc[c]
                enr = self.enrichment.loc[c][share >= min_share].sort_values(ascending=False)
                top = [f"{g} x{enr[g]:.1f} ({share[g]:.0%})" for g in enr.index[:n_attributes]]
            rep = self.representatives
            members = rep.loc[rep["cluster"] == c, "label"].head(n_members).tolist()
            rows.append({"cluster": c, "size": int(self.sizes[c]), "top": top,
                         "members": members})  # fmt: skip
        return pd.DataFrame(rows)


def _check_k_range(k: int | None, k_range: Iterable[int], n: int) -> list[int]:
    if k is not None:
        if not isinstance(k, (int, np.integer)) or not 2 <= k < n:
            raise InvalidParameterError(f"k={k!r} must be an integer in [2, {n - 1}] here")
        return [int(k)]
    ks = sorted({int(v) for v in k_range if 2 <= int(v) < n})
    if not ks:
        raise InvalidParameterError(
            f"k_range={list(k_range)!r} has no value in [2, {n - 1}] (there are {n} rows to "
            "cluster); lower min_count or give a smaller k"
        )
    return ks


def _kmeans(
    X: np.ndarray, k: int | None, k_range: Iterable[int], seed: int
) -> tuple[np.ndarray, np.ndarray, float, dict[int, float]]:
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    ks = _check_k_range(k, k_range, len(X))
    sample = min(len(X), _SILHOUETTE_SAMPLE)
    best = None
    scores: dict[int, float] = {}
    for kk in ks:
        km = KMeans(n_clusters=kk, n_init=10, random_state=seed).fit(X)
        if len(np.unique(km.labels_)) < 2:
            score = -1.0
        else:
            score = float(silhouette_score(X, km.labels_, sample_size=sample, random_state=seed))
        scores[kk] = score
        if best is None or score > best[2]:
            best = (km.labels_, km.cluster_centers_, score)
    assert best is not None
    labels, centers, score = best
    # number clusters by size, largest first
    order = np.argsort(-np.bincount(labels, minlength=len(centers)), kind="stable")
    relabel = np.empty(len(order), dtype=np.int64)
    relabel[order] = np.arange(len(order))
    return relabel[labels], centers[order], score, scores


def _cluster(
    kind: str, vectors: np.ndarray, counts: np.ndarray, ids: Any, label_fn: Any,
    k: int | None, k_range: Iterable[int], min_count: int, seed: int, n_representatives: int,
) -> tuple[ClusterResult, np.ndarray, np.ndarray]:  # fmt: skip
    if vectors.shape[1] == 0:
        raise InvalidParameterError("the model has no latent factors to cluster")
    rows = np.flatnonzero(counts >= min_count)
    if len(rows) < 3:
        raise InvalidParameterError(
            f"only {len(rows)} {kind}s have at least min_count={min_count} training "
            "interactions; lower min_count"
        )
    X = np.asarray(vectors[rows], dtype=np.float64)
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    X = X / np.where(norms > 0, norms, 1.0)
    labels, centers, score, scores = _kmeans(X, k, k_range, seed)
    kk = len(centers)
    raw = ids(rows)
    unit = centers / np.where((n := np.linalg.norm(centers, axis=1, keepdims=True)) > 0, n, 1)
    sim = np.einsum("ij,ij->i", X, unit[labels])
    names = np.array(label_fn(rows), dtype=object)
    reps = []
    for c in range(kk):
        members = np.flatnonzero(labels == c)
        best = members[np.argsort(-sim[members], kind="stable")[:n_representatives]]
        for r, m in enumerate(best):
            reps.append({"cluster": c, "rank": r + 1, "id": raw[m], "label": names[m],
                         "similarity": float(sim[m])})  # fmt: skip
    result = ClusterResult(
        kind=kind, k=kk,
        labels=pd.Series(labels, index=pd.Index(raw, name=kind), name="cluster"),
        sizes=pd.Series(np.bincount(labels, minlength=kk), index=pd.RangeIndex(kk, name="cluster"),
                        name="size"),
        representatives=pd.DataFrame(reps, columns=["cluster", "rank", "id", "label",
                                                     "similarity"]),
        silhouette=score, silhouette_by_k=scores, centroids=centers,
    )  # fmt: skip
    return result, rows, labels


def cluster_items(
    model: Any, items: pd.DataFrame | None = None, k: int | None = None,
    k_range: Iterable[int] = range(4, 13), min_count: int = 20, seed: int = 0, *,
    column: str | None = None, n_representatives: int = 5,
) -> ClusterResult:  # fmt: skip
    """k-means clusters of the items' (L2-normalised) latent factors.

    Parameters
    ----------
    model : fitted model
    items : DataFrame, optional
        Item metadata indexed by raw item id (``title``, and a list column such as
        ``genres``). Default: the metadata saved with the model, if any.
    k : int, optional
        Number of clusters; by default the value of ``k_range`` with the best silhouette.
    k_range : iterable of int
        Values of ``k`` tried when ``k`` is None.
    min_count : int
        Only items with at least this many training interactions (rare items have
        noisy factors).
    seed : int
        Seed of k-means (and of the silhouette's sample on large data).
    column : str, optional
        The list-valued metadata column to read clusters against; default ``genres``
        if present, else the first list-valued column.
    n_representatives : int
        Members closest to each centroid to keep.

    Returns
    -------
    ClusterResult
        With ``enrichment``, :meth:`~ClusterResult.genre_purity` and
        :meth:`~ClusterResult.random_purity` when the metadata has a list column.

    Raises
    ------
    ImportError
        Without scikit-learn.

    Examples
    --------
    >>> from latentfactors.data import make_synthetic
    >>> from latentfactors.models import SVD
    >>> model = SVD(n_factors=4, random_state=0).fit(
    ...     make_synthetic(300, 100, 6000, rank=3, seed=0).interactions)
    >>> res = cluster_items(model, k=3)
    >>> res.k, int(res.sizes.sum()) == len(res.labels)
    (3, True)
    """
    _require_sklearn("cluster_items")
    model._check_fitted("cluster_items")
    items = _item_metadata(model, items)
    counts = model.item_counts_
    with _one_thread():
        result, rows, labels = _cluster(
            "item", model.item_factors_, counts, model.items_.ids,
            lambda r: _labels(model, r, items), k, k_range, min_count, seed, n_representatives,
        )  # fmt: skip
    col = _list_column(items, column)
    if col is None:
        return result
    ind, names, has = _indicator(items, model.items_.ids(rows), col)
    if not has.any() or not names:
        return result
    ind, lab = ind[has], labels[has]
    counts_c = np.zeros((result.k, len(names)))
    np.add.at(counts_c, lab, ind)
    size_c = np.bincount(lab, minlength=result.k).astype(np.float64)
    shares = counts_c / np.where(size_c > 0, size_c, 1.0)[:, None]
    base = ind.mean(axis=0)
    idx = pd.RangeIndex(result.k, name="cluster")
    result.attribute = col
    result.shares = pd.DataFrame(shares, index=idx, columns=names)
    result.base_rate = pd.Series(base, index=names, name="base_rate")
    result.enrichment = pd.DataFrame(shares / np.where(base > 0, base, np.inf), index=idx,
                                     columns=names)  # fmt: skip
    result._indicator, result._meta_labels = ind, lab
    return result


def cluster_users(
    model: Any, k: int | None = None, k_range: Iterable[int] = range(4, 13),
    min_count: int = 20, seed: int = 0, *, n_representatives: int = 5,
) -> ClusterResult:  # fmt: skip
    """k-means clusters of the users' (L2-normalised) latent vectors.

    As :func:`cluster_items`, without metadata: representatives are user ids. The
    vectors are those that multiply item factors in a score (for SVD++ they include
    the implicit term).

    Examples
    --------
    >>> from latentfactors.data import make_synthetic
    >>> from latentfactors.models import SVD
    >>> model = SVD(n_factors=4, random_state=0).fit(
    ...     make_synthetic(300, 100, 6000, rank=3, seed=0).interactions)
    >>> cluster_users(model, k=4, min_count=5).k
    4
    """
    _require_sklearn("cluster_users")
    model._check_fitted("cluster_users")
    counts = model.user_counts_
    with _one_thread():
        result, _, _ = _cluster(
            "user", model.user_vectors_, counts, model.users_.ids,
            lambda r: [str(u) for u in model.users_.ids(r)], k, k_range, min_count, seed,
            n_representatives,
        )  # fmt: skip
    return result
