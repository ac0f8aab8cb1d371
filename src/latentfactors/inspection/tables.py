"""Readable tables: an item's neighbours, the parts of a score, and how strongly the
factor axes track genres compared with chance."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..exceptions import InvalidParameterError
from .clusters import _is_list, _item_metadata, _list_column, _one_thread
from .factors import genre_association

__all__ = ["GenreSignal", "explanation_table", "genre_signal", "neighbours_table"]


def _title_map(items: pd.DataFrame | None) -> pd.Series | None:
    if items is None:
        return None
    col = "title" if "title" in items.columns else ("name" if "name" in items.columns else None)
    return None if col is None else items[col]


def _titles_of(items: pd.DataFrame | None, raw: Any) -> list[str]:
    titles = _title_map(items)
    raw = list(raw)
    if titles is None:
        return [str(r) for r in raw]
    found = titles.reindex(raw)
    return [str(t) if isinstance(t, str) else str(r) for t, r in zip(found, raw)]


def neighbours_table(
    model: Any, item: Any, n: int = 10, items: pd.DataFrame | None = None, *,
    metric: str = "cosine",
) -> pd.DataFrame:  # fmt: skip
    """The ``n`` items closest to ``item`` in the latent space, with titles.

    Parameters
    ----------
    model : fitted model
    item : raw item id
    n : int
        How many neighbours.
    items : DataFrame, optional
        Item metadata indexed by raw id; default: the metadata saved with the model.
    metric : {"cosine", "dot"}
        As :meth:`similar_items`.

    Returns
    -------
    DataFrame
        Columns ``rank``, ``item``, ``title``, ``similarity``, ``n_train`` (training
        interactions of the neighbour) and, when the metadata has a list column such as
        ``genres``, that column joined into a string. ``attrs["title"]`` is the query
        item's title.

    Examples
    --------
    >>> from latentfactors.data import make_synthetic
    >>> from latentfactors.models import SVD
    >>> model = SVD(n_factors=4, random_state=0).fit(make_synthetic(200, 80, 4000).interactions)
    >>> neighbours_table(model, 0, n=3)[["rank", "item"]].shape
    (3, 2)
    """
    items = _item_metadata(model, items)
    ids, sims = model.similar_items(item, n=n, metric=metric)
    counts = model.item_counts_
    inner = model.items_.index(ids)
    out = pd.DataFrame({
        "rank": np.arange(1, len(ids) + 1), "item": ids, "title": _titles_of(items, ids),
        "similarity": sims, "n_train": counts[inner],
    })  # fmt: skip
    col = _list_column(items)
    if col is not None:
        vals = items[col].reindex(ids)
        out[col] = [", ".join(map(str, v)) if _is_list(v) else "" for v in vals]
    out.attrs["title"] = _titles_of(items, [item])[0]
    return out


def explanation_table(
    model: Any, user: Any, item: Any, items: pd.DataFrame | None = None, *, n: int | None = None
) -> pd.DataFrame:
    """The parts that add up to ``model``'s score of ``item`` for ``user``, with titles.

    Wraps :meth:`explain`: SGD-trained models split the score into the intercept, the
    biases and one product per factor; ALS-type models into contributions of the
    user's past items, which get their titles here.

    Parameters
    ----------
    model : fitted model
    user, item : raw ids
    items : DataFrame, optional
        Item metadata; default: the metadata saved with the model.
    n : int, optional
        Keep only the ``n`` largest parts (by magnitude).

    Returns
    -------
    DataFrame
        Columns ``kind``, ``name``, ``title`` (for past-item parts), ``contribution``
        and ``share`` (contribution over the sum of absolute contributions), largest
        first. ``attrs`` holds ``user``, ``item``, ``title``, ``score`` and ``note``.

    Examples
    --------
    >>> from latentfactors.data import make_synthetic
    >>> from latentfactors.models import SVD
    >>> model = SVD(n_factors=4, random_state=0).fit(make_synthetic(200, 80, 4000).interactions)
    >>> t = explanation_table(model, 0, 1)
    >>> bool(round(t["contribution"].sum(), 6) == round(t.attrs["score"], 6))
    True
    """
    items = _item_metadata(model, items)
    exp = model.explain(user, item)
    parts = exp.parts.copy()
    titles = [""] * len(parts)
    is_item = (parts["kind"] == "item").to_numpy()
    if is_item.any():
        found = _titles_of(items, parts.loc[is_item, "name"])
        for j, t in zip(np.flatnonzero(is_item), found):
            titles[j] = t
    parts.insert(2, "title", titles)
    total = float(np.abs(parts["contribution"]).sum())
    parts["share"] = parts["contribution"] / (total if total > 0 else 1.0)
    if n is not None:
        parts = parts.head(int(n))
    parts.attrs = {"user": user, "item": item, "title": _titles_of(items, [item])[0],
                   "score": exp.score, "note": exp.note}  # fmt: skip
    return parts


@dataclass
class GenreSignal:
    """How strongly the principal axes track a genre, next to shuffled factors.

    Attributes
    ----------
    strongest : float
        The largest ``|r|`` between an axis and a genre indicator.
    axis : int
    genre : str
    r : float
        The signed correlation behind ``strongest``.
    shuffled : ndarray
        The same maximum for each shuffle of the items' factor rows (which keeps the
        factors' distribution and breaks their link with the items).
    table : DataFrame
        Per genre: ``axis`` and ``r`` of its strongest correlation, ``abs_r``, and
        ``shuffled_max`` (the largest ``|r|`` of that genre over all shuffles); strongest
        first.
    """

    strongest: float
    axis: int
    genre: str
    r: float
    shuffled: np.ndarray = field(repr=False)
    table: pd.DataFrame = field(repr=False)

    @property
    def shuffled_mean(self) -> float:
        return float(np.mean(self.shuffled))

    @property
    def shuffled_max(self) -> float:
        return float(np.max(self.shuffled))

    def describe(self) -> str:
        """One honest sentence about the comparison."""
        head = (f"The strongest genre correlation is {self.genre} on axis {self.axis} "
                f"(r = {self.r:+.2f}); with the items' factor rows shuffled, the strongest "
                f"|r| averages {self.shuffled_mean:.2f} (max {self.shuffled_max:.2f} over "
                f"{len(self.shuffled)} shuffles).")  # fmt: skip
        if self.strongest > 1.5 * self.shuffled_max:
            tail = (f" So the axes do track genre beyond chance, yet that genre explains only "
                    f"{self.strongest**2:.0%} of the axis' variance.")  # fmt: skip
        elif self.strongest > self.shuffled_max:
            tail = " That is only a little above chance: read the axes as taste, not genre."
        else:
            tail = " That is no stronger than chance: these axes do not encode genre."
        return head + tail


def genre_signal(
    model: Any, items: pd.DataFrame | None = None, n_axes: int = 5, min_count: int = 20, *,
    column: str | None = None, n_shuffles: int = 20, seed: int = 0,
) -> GenreSignal:  # fmt: skip
    """The strongest axis-genre correlation (:func:`genre_association`) against chance.

    Chance is measured by shuffling which item owns which factor row (among the items
    with at least ``min_count`` training interactions) and recomputing the strongest
    ``|r|``: with many axes and genres some correlation is always found, and this says
    how large it gets by accident.

    Examples
    --------
    >>> import pandas as pd
    >>> from latentfactors.data import make_synthetic
    >>> from latentfactors.models import SVD
    >>> model = SVD(n_factors=4, random_state=0).fit(make_synthetic(200, 80, 4000).interactions)
    >>> meta = pd.DataFrame({"genres": [["a"] if i % 2 else ["b"] for i in range(80)]})
    >>> sig = genre_signal(model, meta, n_axes=2, min_count=5, n_shuffles=3)
    >>> len(sig.shuffled)
    3
    """
    items = _item_metadata(model, items)
    if items is None:
        raise InvalidParameterError("genre_signal needs item metadata (items=...)")
    col = _list_column(items, column)
    if col is None:
        raise InvalidParameterError(
            f"item metadata has no list-valued column such as 'genres'; columns: "
            f"{list(items.columns)}"
        )
    counts = model.item_counts_
    rows = np.flatnonzero(counts >= min_count)
    rng = np.random.default_rng(seed)
    fake = copy.copy(model)  # shares everything but the item factors
    shuffled, per_genre = [], []
    with _one_thread():
        observed = genre_association(model, items, n_axes=n_axes, min_count=min_count,
                                     column=col)  # fmt: skip
        for _ in range(max(1, int(n_shuffles))):
            Q = np.array(model.item_factors_, copy=True)
            Q[rows] = Q[rng.permutation(rows)]
            fake.item_factors_ = Q
            s = genre_association(fake, items, n_axes=n_axes, min_count=min_count, column=col)
            s = s.abs().reindex(columns=observed.columns)
            shuffled.append(float(np.nanmax(s.to_numpy())))
            per_genre.append(s.max(axis=0))
    absr = observed.abs()
    flat = absr.stack()
    (axis, genre) = flat.idxmax()
    best_axis = absr.idxmax(axis=0)
    table = pd.DataFrame({
        "axis": best_axis.astype(int),
        "r": [observed.loc[best_axis[g], g] for g in observed.columns],
        "abs_r": absr.max(axis=0),
        "shuffled_max": pd.concat(per_genre, axis=1).max(axis=1),
    }, index=pd.Index(observed.columns, name=col))  # fmt: skip
    table = table.sort_values("abs_r", ascending=False)
    return GenreSignal(strongest=float(flat.max()), axis=int(axis), genre=str(genre),
                       r=float(observed.loc[axis, genre]), shuffled=np.array(shuffled),
                       table=table)  # fmt: skip
