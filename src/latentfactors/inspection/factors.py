"""What the item factors capture: principal directions, their poles, and metadata links.

Raw factors from SGD or ALS are only defined up to a rotation, so reading factor 7 of
one run means nothing in the next. These tools first rotate the item factors to their
principal axes (PCA of the centred item factors), ordered by the share of variance each
explains; those axes are stable across runs and seeds when the data supports them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..exceptions import InvalidParameterError

__all__ = ["factor_table", "genre_association", "principal_item_axes"]


def principal_item_axes(
    model: Any, min_count: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Item coordinates on the principal axes of the item factors.

    Returns ``(coords, share, rows)``: coordinates (items x axes, sign chosen so the
    largest loading is positive), the share of variance of each axis, and the inner ids
    of the items used (those with at least ``min_count`` training interactions).
    """
    model._check_fitted("principal_item_axes")
    Q = np.asarray(model.item_factors_, dtype=np.float64)
    if Q.shape[1] == 0:
        raise InvalidParameterError(f"{type(model).__name__} has no latent factors to inspect")
    counts = model.item_counts_
    rows = np.flatnonzero(counts >= min_count)
    if len(rows) < 2:
        raise InvalidParameterError(
            f"min_count={min_count} leaves {len(rows)} item(s) (the most seen item has "
            f"{int(counts.max(initial=0))} training interactions); lower min_count"
        )
    X = Q[rows] - Q[rows].mean(axis=0)
    # A small matrix: one BLAS thread is fastest, and threaded BLAS right after a numba
    # fit fights numba's idle worker threads on small machines (1.7 s instead of 5 ms).
    from .._runtime import one_blas_thread

    with one_blas_thread():
        _, s, vt = np.linalg.svd(X, full_matrices=False)
        coords = X @ vt.T
    flip = np.sign(coords[np.abs(coords).argmax(axis=0), np.arange(coords.shape[1])])
    flip[flip == 0] = 1
    coords *= flip
    var = s**2
    return coords, var / var.sum() if var.sum() > 0 else var, rows


def _labels(model: Any, rows: np.ndarray, items: pd.DataFrame | None) -> list[str]:
    raw = model.items_.ids(rows)
    if items is None:
        return [str(r) for r in raw]
    col = "title" if "title" in items.columns else ("name" if "name" in items.columns else None)
    if col is None:
        return [str(r) for r in raw]
    found = items[col].reindex(raw)
    return [str(t) if isinstance(t, str) else str(r) for t, r in zip(found, raw)]


def factor_table(
    model: Any, items: pd.DataFrame | None = None, n_axes: int = 5, n_items: int = 5,
    min_count: int = 20,
) -> pd.DataFrame:  # fmt: skip
    """The items at both poles of the leading principal axes of the item factors.

    Parameters
    ----------
    model : fitted model
    items : DataFrame, optional
        Item metadata indexed by raw item id, with a ``title`` (or ``name``) column.
    n_axes, n_items : int
        How many axes, and how many items at each pole.
    min_count : int
        Only items with at least this many training interactions (rare items have
        noisy factors).

    Returns
    -------
    DataFrame
        One row per axis: ``axis``, ``variance_share``, ``positive`` and ``negative``
        (lists of item labels, strongest first).
    """
    coords, share, rows = principal_item_axes(model, min_count)
    labels = np.array(_labels(model, rows, items), dtype=object)
    out = []
    for a in range(min(n_axes, coords.shape[1])):
        order = np.argsort(coords[:, a])
        out.append(
            {
                "axis": a + 1,
                "variance_share": float(share[a]),
                "positive": labels[order[::-1][:n_items]].tolist(),
                "negative": labels[order[:n_items]].tolist(),
            }
        )
    return pd.DataFrame(out)


def _is_list(value: Any) -> bool:
    return isinstance(value, (list, tuple, np.ndarray))


def genre_association(
    model: Any, items: pd.DataFrame, n_axes: int = 5, min_count: int = 20,
    column: str = "genres",
) -> pd.DataFrame:  # fmt: skip
    """Correlation of each principal axis with each genre (or any list-valued attribute).

    Returns a DataFrame (axes x attributes) of Pearson correlations between the items'
    coordinate on the axis and the 0/1 indicator of the attribute.
    """
    if column not in items.columns:
        raise InvalidParameterError(
            f"item metadata has no {column!r} column; columns: {list(items.columns)}"
        )
    coords, _, rows = principal_item_axes(model, min_count)
    raw = model.items_.ids(rows)
    lists = items[column].reindex(raw)
    # lists, tuples or arrays (a genres column read back from Parquet holds arrays)
    names = sorted({g for gs in lists if _is_list(gs) for g in gs}, key=str)
    ind = np.zeros((len(rows), len(names)))
    pos = {g: j for j, g in enumerate(names)}
    for r, gs in enumerate(lists):
        if _is_list(gs):
            for g in gs:
                ind[r, pos[g]] = 1.0
    A = coords[:, :n_axes]
    A = (A - A.mean(0)) / np.where(A.std(0) > 0, A.std(0), 1)
    G = ind - ind.mean(0)
    sd = ind.std(0)
    corr = (A.T @ G) / len(rows) / np.where(sd > 0, sd, np.inf)
    return pd.DataFrame(corr, index=pd.Index(np.arange(1, A.shape[1] + 1), name="axis"),
                        columns=names)  # fmt: skip
