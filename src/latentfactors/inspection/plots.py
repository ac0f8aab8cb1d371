"""Pictures of the latent factors: a 2-D map of the items, an item x factor heatmap, the
factors' correlations and the training curves.

Every function returns a matplotlib ``Figure`` drawn on the non-interactive Agg canvas
(no window opens, nothing is shown, pyplot's global state is left alone): save it with
``fig.savefig("map.png")`` or let Jupyter display it. matplotlib is needed
(``pip install matplotlib``) and imported only when a function here runs. For the
train / validation curves of a factor or regularization sweep use
:meth:`latentfactors.evaluation.SweepResult.plot`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..exceptions import InvalidParameterError
from .clusters import (
    ClusterResult,
    _indicator,
    _item_metadata,
    _list_column,
    _one_thread,
    cluster_items,
)
from .factors import _labels, principal_item_axes

__all__ = ["factor_correlation", "factor_heatmap", "map_2d", "training_curves"]


def _figure(width: float, height: float, ax: Any = None) -> tuple[Any, Any]:
    """A new Figure on an Agg canvas (or the figure of ``ax``), and its axes."""
    if ax is not None:
        return ax.figure, ax
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError(
            "plots need matplotlib: pip install matplotlib (or pip install 'latentfactors[report]')"
        ) from None
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def _short(text: str, width: int = 32) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _counts(model: Any) -> np.ndarray:
    return model.item_counts_


def _embed(model: Any, method: str, min_count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """2-D coordinates of the items with at least ``min_count`` interactions, and their rows."""
    if method == "pca":
        coords, _, rows = principal_item_axes(model, min_count)
        if coords.shape[1] < 2:
            coords = np.column_stack([coords[:, 0], np.zeros(len(coords))])
        return coords[:, :2], rows
    rows = np.flatnonzero(_counts(model) >= min_count)
    X = np.asarray(model.item_factors_[rows], dtype=np.float64)
    if len(rows) < 5:
        raise InvalidParameterError(f"only {len(rows)} items pass min_count={min_count}")
    if method == "umap":
        try:
            import umap
        except ImportError:
            raise ImportError("method='umap' needs umap-learn: pip install umap-learn") from None
        reducer = umap.UMAP(n_components=2, metric="cosine", random_state=seed)
        return np.asarray(reducer.fit_transform(X)), rows
    if method == "tsne":
        try:
            from sklearn.manifold import TSNE
        except ImportError:
            raise ImportError(
                "method='tsne' needs scikit-learn: pip install scikit-learn"
            ) from None
        perplexity = float(min(30.0, (len(rows) - 1) / 3))
        tsne = TSNE(n_components=2, metric="cosine", init="pca", perplexity=perplexity,
                    random_state=seed)  # fmt: skip
        return np.asarray(tsne.fit_transform(X)), rows
    raise InvalidParameterError(f"method={method!r}; expected 'pca', 'umap' or 'tsne'")


def map_2d(
    model: Any, items: pd.DataFrame | None = None, method: str = "pca",
    color_by: str | None = "cluster", labels: Sequence[Any] | None = None, n_labels: int = 12,
    min_count: int = 20, *, clusters: ClusterResult | None = None, seed: int = 0,
    ax: Any = None,
) -> Any:  # fmt: skip
    """The items as points in two dimensions.

    Parameters
    ----------
    model : fitted model
    items : DataFrame, optional
        Item metadata (titles, genres); default: the metadata saved with the model.
    method : {"pca", "umap", "tsne"}
        ``"pca"``: the first two principal axes of the item factors (NumPy, exact, the
        axes of :func:`factor_table`). ``"umap"`` (needs ``umap-learn``) and ``"tsne"``
        (scikit-learn) embed the cosine geometry non-linearly: neighbourhoods are kept,
        distances between far groups are not.
    color_by : str or None
        ``"cluster"`` (:func:`cluster_items`), ``"popularity"`` (log training count), a
        genre name such as ``"Horror"`` (items with it highlighted), or None.
    labels : list of raw ids, optional
        Items to label with their title; default the ``n_labels`` most-rated items.
    n_labels : int
        How many of the most-rated items to label when ``labels`` is not given.
    min_count : int
        Only items with at least this many training interactions.
    clusters : ClusterResult, optional
        Reuse clusters already computed (for ``color_by="cluster"``).
    seed : int
        Seed of clustering, UMAP and t-SNE.
    ax : matplotlib Axes, optional
        Draw here instead of on a new figure.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from latentfactors.data import make_synthetic
    >>> from latentfactors.models import SVD
    >>> model = SVD(n_factors=4, random_state=0).fit(make_synthetic(300, 100, 6000).interactions)
    >>> fig = map_2d(model, color_by="popularity", min_count=5)
    >>> type(fig).__name__
    'Figure'
    """
    items = _item_metadata(model, items)
    model._check_fitted("map_2d")
    with _one_thread():
        coords, rows = _embed(model, method, min_count, seed)
    fig, ax = _figure(9, 7.5, ax)
    raw = model.items_.ids(rows)
    counts = _counts(model)[rows]
    if color_by == "cluster":
        if clusters is None:
            clusters = cluster_items(model, items, min_count=min_count, seed=seed)
        lab = clusters.labels.reindex(raw).to_numpy(dtype=np.float64)
        none = np.isnan(lab)
        if none.any():
            ax.scatter(*coords[none].T, s=6, c="#cccccc", label="not clustered")
        cmap = _cmap("tab20" if clusters.k > 10 else "tab10")
        summary = clusters.summary(n_attributes=1, min_share=0.2)
        for c in range(clusters.k):
            sel = lab == c
            top = summary.loc[c, "top"]
            name = f"{c}: {top[0].split(' x')[0]}" if top else f"cluster {c}"
            ax.scatter(*coords[sel].T, s=10, color=cmap(c % cmap.N), alpha=0.8,
                       label=f"{name} ({int(sel.sum())})")  # fmt: skip
        ax.legend(fontsize=7, markerscale=1.5, loc="best", title="cluster", title_fontsize=8)
    elif color_by == "popularity":
        sc = ax.scatter(*coords.T, s=10, c=np.log10(counts + 1), cmap="viridis", alpha=0.8)
        fig.colorbar(sc, ax=ax, label="log10(training interactions + 1)")
    elif color_by is None:
        ax.scatter(*coords.T, s=8, alpha=0.7)
    else:
        col = _list_column(items)
        if col is None:
            raise InvalidParameterError(
                f"color_by={color_by!r} needs item metadata with a list column such as "
                "'genres'; use 'cluster', 'popularity' or None"
            )
        ind, names, _ = _indicator(items, raw, col)
        if color_by not in names:
            raise InvalidParameterError(
                f"color_by={color_by!r} is not 'cluster', 'popularity' or a value of "
                f"{col!r}: {', '.join(names)}"
            )
        has = ind[:, names.index(color_by)] > 0
        ax.scatter(*coords[~has].T, s=6, c="#cccccc", label="other")
        ax.scatter(*coords[has].T, s=12, c="#d62728", label=f"{color_by} ({int(has.sum())})")
        ax.legend(fontsize=8)
    if labels is None:
        pick = np.argsort(-counts, kind="stable")[: max(0, int(n_labels))]
    else:
        pos = pd.Series(np.arange(len(raw)), index=raw)
        pick = pos.reindex(list(labels)).dropna().astype(int).to_numpy()
    names_all = _labels(model, rows[pick], items)
    for j, text in zip(pick, names_all):
        ax.annotate(_short(text), coords[j], fontsize=7, alpha=0.9, xytext=(3, 3),
                    textcoords="offset points")  # fmt: skip
    axis = {"pca": "principal axis", "umap": "UMAP", "tsne": "t-SNE"}[method]
    ax.set_xlabel(f"{axis} 1")
    ax.set_ylabel(f"{axis} 2")
    ax.set_title(f"{type(model).__name__} item factors, {len(rows)} items "
                 f"(>= {min_count} interactions), {method.upper()}")  # fmt: skip
    return fig


def _cmap(name: str) -> Any:
    import matplotlib

    return matplotlib.colormaps[name]


def factor_heatmap(
    model: Any, items: pd.DataFrame | None = None, n_items: int = 30, *,
    n_factors: int | None = 20, rotate: bool = True, min_count: int = 20, ax: Any = None,
) -> Any:  # fmt: skip
    """Heatmap of the item x factor matrix for the most-rated items, titles on the axis.

    Parameters
    ----------
    model : fitted model
    items : DataFrame, optional
        Item metadata for titles; default: the metadata saved with the model.
    n_items : int
        How many of the most-rated items (rows).
    n_factors : int or None
        How many factors (columns); None for all.
    rotate : bool
        True (default): coordinates on the principal axes of the item factors (ordered
        by variance and comparable across runs); False: the raw factors, which are
        only defined up to a rotation.
    min_count : int
        Items used to find the principal axes.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from latentfactors.data import make_synthetic
    >>> from latentfactors.models import SVD
    >>> model = SVD(n_factors=4, random_state=0).fit(make_synthetic(300, 100, 6000).interactions)
    >>> fig = factor_heatmap(model, n_items=10, min_count=5)
    """
    items = _item_metadata(model, items)
    model._check_fitted("factor_heatmap")
    counts = _counts(model)
    if rotate:
        with _one_thread():
            M, _, rows = principal_item_axes(model, min_count)
        label = "principal axis"
        first = 1
    else:
        rows = np.arange(len(counts))
        M = np.asarray(model.item_factors_, dtype=np.float64)
        label = "factor"
        first = 0
    top = np.argsort(-counts[rows], kind="stable")[: int(n_items)]
    M = M[top][:, : (M.shape[1] if n_factors is None else int(n_factors))]
    names = [_short(t, 40) for t in _labels(model, rows[top], items)]
    fig, ax = _figure(max(6.0, 0.28 * M.shape[1] + 4), max(4.0, 0.26 * len(top) + 1.5), ax)
    lim = float(np.abs(M).max()) or 1.0
    im = ax.imshow(M, aspect="auto", cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest")
    ax.set_yticks(np.arange(len(names)), labels=names, fontsize=7)
    step = max(1, M.shape[1] // 20)
    ticks = np.arange(0, M.shape[1], step)
    ax.set_xticks(ticks, labels=[str(t + first) for t in ticks], fontsize=7)
    ax.set_xlabel(label)
    ax.set_title(f"{len(top)} most-rated items x {M.shape[1]} {label.replace('axis', 'axe')}s")
    fig.colorbar(im, ax=ax, shrink=0.8)
    return fig


def factor_correlation(
    model: Any, which: str = "items", *, min_count: int = 0, ax: Any = None
) -> Any:
    """Factor x factor correlation matrix of the item (or user) factors.

    Strongly correlated factors carry the same information twice; with SGD and ALS
    most off-diagonal correlations should be small. (Principal axes are uncorrelated
    by construction, so this looks at the raw factors.)

    Parameters
    ----------
    model : fitted model
    which : {"items", "users"}
    min_count : int
        Only rows with at least this many training interactions.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
        The title gives the mean absolute off-diagonal correlation.

    Examples
    --------
    >>> from latentfactors.data import make_synthetic
    >>> from latentfactors.models import SVD
    >>> model = SVD(n_factors=4, random_state=0).fit(make_synthetic(300, 100, 6000).interactions)
    >>> fig = factor_correlation(model)
    """
    model._check_fitted("factor_correlation")
    if which == "items":
        V, counts = model.item_factors_, _counts(model)
    elif which == "users":
        V, counts = model.user_vectors_, model.user_counts_
    else:
        raise InvalidParameterError(f"which={which!r}; expected 'items' or 'users'")
    V = np.asarray(V, dtype=np.float64)[counts >= min_count]
    if V.shape[1] < 2:
        raise InvalidParameterError(
            f"factor_correlation needs at least 2 factors; this model has {V.shape[1]}"
        )
    if len(V) < 3:
        raise InvalidParameterError(
            f"min_count={min_count} leaves {len(V)} {which}; correlations need at least 3: "
            "lower min_count"
        )
    varies = V.std(axis=0) > 0
    if varies.sum() < 2:
        raise InvalidParameterError(
            f"only {int(varies.sum())} of the {V.shape[1]} factors vary over the "
            f"{len(V)} {which} used (the others are constant); correlations need 2: lower "
            "min_count to include more rows, or fit with more factors"
        )
    # a constant factor (NMF can zero one out) has no correlation: left blank, so the
    # other factors keep their numbers on the axes
    C = np.full((V.shape[1], V.shape[1]), np.nan)
    with _one_thread():
        C[np.ix_(varies, varies)] = np.corrcoef(V[:, varies], rowvar=False)
    off = np.abs(C[~np.eye(len(C), dtype=bool)])
    off = off[~np.isnan(off)]
    fig, ax = _figure(6.5, 5.5, ax)
    im = ax.imshow(C, cmap="RdBu_r", vmin=-1, vmax=1, interpolation="nearest")
    ax.set_xlabel("factor")
    ax.set_ylabel("factor")
    ax.set_title(f"correlation of {which[:-1]} factors (mean |r| off-diagonal "
                 f"{off.mean():.3f}, max {off.max():.2f})", fontsize=9)  # fmt: skip
    fig.colorbar(im, ax=ax, shrink=0.8)
    return fig


def training_curves(model: Any, *, ax: Any = None) -> Any:
    """Training loss and validation metric per epoch, from ``model.history_``.

    The validation curve exists when the model was fitted with ``validation=...``.
    When the two measure different things (a loss and a ranking metric) the
    validation metric gets its own axis on the right.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    InvalidParameterError
        When the history holds nothing to plot.

    Examples
    --------
    >>> from latentfactors.data import make_synthetic, random_split
    >>> from latentfactors.models import SVD
    >>> train, val = random_split(make_synthetic(300, 100, 6000).interactions)
    >>> model = SVD(n_factors=4, n_epochs=5, random_state=0).fit(train, validation=val)
    >>> fig = training_curves(model)
    """
    model._check_fitted("training_curves")
    hist = getattr(model, "history_", None) or {}
    epochs = np.asarray(hist.get("epoch", []), dtype=np.float64)
    series = []
    for key in hist:
        if key.startswith("train_") or key.startswith("val_"):
            y = np.array([np.nan if v is None else float(v) for v in hist[key]])
            if len(y) == len(epochs) and np.isfinite(y).any():
                series.append((key, y))
    if not series:
        raise InvalidParameterError(
            f"{type(model).__name__}.history_ has no training or validation values to plot"
        )
    fig, ax = _figure(6.5, 4, ax)
    base = series[0][0].split("_", 1)[1]
    lines = []
    twin = None
    for j, (key, y) in enumerate(series):
        ok = np.isfinite(y)
        same = key.split("_", 1)[1] == base
        target = ax if same else (twin := twin or ax.twinx())
        lines += target.plot(epochs[ok], y[ok], "o-", ms=3, color=f"C{j}", label=key)
        if not same:
            target.set_ylabel(key)
    ax.set_xlabel("epoch")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_ylabel(base if all(k.split("_", 1)[1] == base for k, _ in series) else series[0][0])
    ax.legend(lines, [ln.get_label() for ln in lines], fontsize=8)
    ax.set_title(f"{type(model).__name__} training curves")
    return fig
