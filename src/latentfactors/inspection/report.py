"""`write_report`: everything the inspection tools show, in one self-contained HTML file.

The file needs nothing else to be read: images are inline base64 PNGs, the style sheet
is inline, there is no JavaScript and no reference to the network. Every piece of text
that comes from data (titles, ids, parameter values) is HTML-escaped.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import io
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._version import __version__
from ..exceptions import LatentFactorsError
from .clusters import (
    ClusterResult,
    _item_metadata,
    _list_column,
    _one_thread,
    _require_sklearn,
    cluster_items,
)
from .factors import factor_table, genre_association, principal_item_axes
from .plots import factor_correlation, factor_heatmap, map_2d, training_curves
from .tables import GenreSignal, _titles_of, explanation_table, genre_signal

__all__ = ["write_report"]

log = logging.getLogger("latentfactors")

_CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 0;
       color: #1f2328; background: #fff; line-height: 1.45; }
main { max-width: 1100px; margin: 0 auto; padding: 24px 32px 64px; }
h1 { font-size: 1.7em; margin-bottom: 0.2em; }
h2 { font-size: 1.3em; border-bottom: 1px solid #d0d7de; padding-bottom: 4px; margin-top: 2em; }
h3 { font-size: 1.05em; margin-bottom: 0.3em; }
.sub { color: #59636e; margin-top: 0; }
table { border-collapse: collapse; margin: 8px 0 16px; font-size: 0.88em; display: block;
        max-width: 100%; overflow-x: auto; }
th, td { border: 1px solid #d0d7de; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f6f8fa; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
img { max-width: 100%; height: auto; border: 1px solid #eaeef2; }
.note { background: #fff8c5; border: 1px solid #d4a72c; padding: 10px 14px; border-radius: 6px; }
.skip { color: #8c959f; font-style: italic; }
nav a { margin-right: 12px; color: #0969da; text-decoration: none; }
ul.tight li { margin: 2px 0; }
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _fmt(value: Any) -> str:
    if isinstance(value, (float, np.floating)):
        return f"{value:.4g}" if np.isfinite(value) else str(value)
    if isinstance(value, (list, tuple)):
        return "; ".join(str(v) for v in value)
    return str(value)


def _table(rows: list[list[Any]], columns: list[str]) -> str:
    head = "".join(f"<th>{_e(c)}</th>" for c in columns)
    body = []
    for r in rows:
        cells = []
        for v in r:
            num = isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
            cls = ' class="num"' if num else ""
            cells.append(f"<td{cls}>{_e(_fmt(v))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _img(fig: Any, alt: str) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, metadata={"Software": None})
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:  # figures made through pyplot (SweepResult.plot) are released
        pyplot.close(fig)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f'<img alt="{_e(alt)}" src="data:image/png;base64,{data}">'


def _p(text: str, cls: str | None = None) -> str:
    return f'<p class="{cls}">{_e(text)}</p>' if cls else f"<p>{_e(text)}</p>"


class _Sections:
    """Collects (anchor, heading, html) sections; a failing section becomes a note."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str, str]] = []

    def add(self, anchor: str, heading: str, build: Callable[[], str]) -> None:
        try:
            body = build()
        except (LatentFactorsError, ValueError) as exc:
            log.warning("report section %r skipped: %s", heading, exc)
            body = _p(f"Skipped: {type(exc).__name__}: {exc}", "skip")
        self.items.append((anchor, heading, body))


def _summary(model: Any) -> str:
    params = model.get_params()
    Q = model.item_factors_
    rows = [
        ["model", type(model).__name__],
        ["data", getattr(model, "data_kind", "")],
        ["users", len(model.users_)],
        ["items", len(model.items_)],
        ["latent factors", int(Q.shape[1])],
        ["training interactions", int(getattr(model, "n_train_", model.user_items_.nnz))],
        ["global mean", float(model.global_mean_)],
        ["epochs run", len(getattr(model, "history_", {}).get("epoch", []))],
    ]
    scale = getattr(model, "rating_scale_", None)
    if scale is not None:
        rows.append(["rating scale", f"{scale[0]:g} to {scale[1]:g}"])
    prows = [[k, json.dumps(v) if not isinstance(v, str) else v] for k, v in params.items()]
    return _table(rows, ["", "value"]) + "<h3>Parameters</h3>" + _table(prows, ["name", "value"])


def _metrics(model: Any, test: Any, train: Any, k: int) -> str:
    from ..evaluation import evaluate

    res = evaluate(model, test, train=train, k=k)
    rows = [[name, float(v)] for name, v in res.metrics.items()]
    out = _table(rows, ["metric", "value"])
    out += _p(f"{res.n_rows:,} held-out rows of {res.n_users:,} users.")
    for reason, n in res.skipped.items():
        out += _p(f"Skipped {n:,} rows: {reason}.")
    return out


def _covariates(model: Any, items: pd.DataFrame | None, min_count: int) -> pd.DataFrame:
    """Correlation of each principal axis with log training count (and release year)."""
    with _one_thread():
        coords, _, rows = principal_item_axes(model, min_count)
    coords = coords[:, :5]
    cols = {"log count": np.log1p(model.item_counts_[rows])}  # fmt: skip
    if items is not None and "year" in items.columns:
        cols["year"] = pd.to_numeric(items["year"].reindex(model.items_.ids(rows)),
                                     errors="coerce").to_numpy(dtype=np.float64)  # fmt: skip
    out = {}
    for name, y in cols.items():
        ok = np.isfinite(y)
        r = []
        for a in range(coords.shape[1]):
            x = coords[ok, a]
            good = ok.sum() > 2 and x.std() > 0 and y[ok].std() > 0
            r.append(float(np.corrcoef(x, y[ok])[0, 1]) if good else float("nan"))
        out[f"r with {name}"] = r
    return pd.DataFrame(out, index=pd.Index(np.arange(1, coords.shape[1] + 1), name="axis"))


def _axes(model: Any, items: pd.DataFrame | None, min_count: int, cov: pd.DataFrame) -> str:
    with _one_thread():
        ft = factor_table(model, items, n_axes=5, n_items=6, min_count=min_count)
    rows = []
    for r in ft.itertuples():
        extra = [f"{cov.loc[r.axis, c]:+.2f}" if r.axis in cov.index else "" for c in cov.columns]
        rows.append([int(r.axis), f"{r.variance_share:.1%}", *extra, "; ".join(r.positive),
                     "; ".join(r.negative)])  # fmt: skip
    return (_p("The item factors rotated to their principal axes (ordered by the share of "
               f"variance; items with at least {min_count} training interactions). Raw "
               "factors are only defined up to a rotation, these axes are not; each row shows "
               "the items at the two ends of an axis, and how the axis correlates with "
               "popularity (log training count) and, where known, release year.")
            + _table(rows, ["axis", "variance", *cov.columns, "+ end", "- end"]))  # fmt: skip


def _genres(model: Any, items: pd.DataFrame, min_count: int, signal: GenreSignal | None) -> str:
    col = _list_column(items)
    with _one_thread():
        ga = genre_association(model, items, n_axes=5, min_count=min_count, column=col)
    head = "".join(f"<th>{_e(g)}</th>" for g in ga.columns)
    body = []
    for axis, row in ga.iterrows():
        cells = []
        for v in row:
            alpha = min(1.0, abs(float(v)) / 0.4)
            color = f"rgba(214,39,40,{alpha:.2f})" if v > 0 else f"rgba(31,119,180,{alpha:.2f})"
            cells.append(f'<td class="num" style="background:{color}">{float(v):+.2f}</td>')
        body.append(f"<tr><th>axis {int(axis)}</th>{''.join(cells)}</tr>")
    out = _p(f"Pearson correlation of each principal axis with each {col} indicator (red "
             "positive, blue negative, full colour at |r| = 0.4).")  # fmt: skip
    out += f"<table><thead><tr><th></th>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    if signal is not None:
        out += f'<p class="note">{_e(signal.describe())}</p>'
        t = signal.table.head(8)
        out += _table([[g, int(r.axis), float(r.r), float(r.shuffled_max)]
                       for g, r in t.iterrows()],
                      [col, "axis", "r", "shuffled max |r|"])  # fmt: skip
    return out


def _clusters(cl: ClusterResult, purity: tuple[float, float] | None) -> str:
    out = _p(
        f"k-means on the L2-normalised item factors; k = {cl.k} chosen by silhouette "
        f"(silhouette {cl.silhouette:.3f}; tried "
        + ", ".join(f"k={k}: {s:.3f}" for k, s in cl.silhouette_by_k.items())
        + ")."
    )
    if cl.silhouette < 0.1:
        out += _p("A silhouette this low means the items do not form well-separated groups: "
                  "the clusters cut a continuum into regions, useful for browsing, not as "
                  "natural categories.", "note")  # fmt: skip
    if purity is not None:
        out += _p(f"Genre purity (mean share of each cluster's most common {cl.attribute}): "
                  f"{purity[0]:.3f}, against {purity[1]:.3f} for random clusters of the same "
                  "sizes (mean of 20 shuffles).")  # fmt: skip
    summ = cl.summary(n_attributes=3, n_members=5)
    cols = ["cluster", "size", f"over-represented {cl.attribute or ''}".strip(),
            "closest to the centre"]  # fmt: skip
    rows = [[int(r.cluster), int(r.size), "; ".join(r.top) or "-", "; ".join(r.members)]
            for r in summ.itertuples()]  # fmt: skip
    return out + _table(rows, cols)


def _pick_users(model: Any, n: int) -> list[Any]:
    counts = model.user_counts_
    order = np.argsort(counts, kind="stable")
    picks: list[int] = []
    for q in (0.5, 0.9, 0.2, 0.7, 0.35)[: max(0, n)]:
        row = int(order[min(len(order) - 1, int(q * len(order)))])
        if row not in picks and counts[row] > 0:
            picks.append(row)
    return list(model.users_.ids(np.array(picks, dtype=np.int64)))


def _recommendations(model: Any, items: pd.DataFrame | None, n_users: int) -> str:
    out = _p("Top 5 for a few users (already-seen items excluded), and why the model "
             "scores its first pick as it does: the parts add up to the score.")  # fmt: skip
    counts = model.user_counts_
    for user in _pick_users(model, n_users):
        n_seen = int(counts[model.users_.index([user])[0]])
        recs, scores = model.recommend(user, n=5)
        out += f"<h3>User {_e(user)} ({n_seen} training interactions)</h3>"
        row = model.user_items_[model.users_.index([user])[0]]
        top = row.indices[np.argsort(-row.data, kind="stable")[:5]]
        liked = _titles_of(items, model.items_.ids(top))
        out += _p("Their top training items (by rating or count): " + "; ".join(liked))
        titles = _titles_of(items, recs)
        out += _table([[r + 1, i, t, float(s)] for r, (i, t, s) in
                       enumerate(zip(recs, titles, scores))],
                      ["#", "item", "title", "score"])  # fmt: skip
        if len(recs):
            full = explanation_table(model, user, recs[0], items)
            ex = full.head(6)
            out += _p(f"Why {full.attrs['title']} (score {full.attrs['score']:.3f}):")
            if (full["kind"] == "factor").any():
                total = float(full.loc[full["kind"] == "factor", "contribution"].sum())
                out += _p(f"All {int((full['kind'] == 'factor').sum())} factor parts together "
                          f"(the personal part of the score): {total:+.3f}.")  # fmt: skip
            out += _table([[k, nm, t, float(c)] for k, nm, t, c in
                           zip(ex["kind"], ex["name"], ex["title"], ex["contribution"])],
                          ["kind", "part", "title", "contribution"])  # fmt: skip
            if full.attrs.get("note"):
                out += _p(str(full.attrs["note"]), "skip")
    return out


def _honest_note(model: Any, signal: GenreSignal | None, purity: tuple[float, float] | None,
                 cl: ClusterResult | None, cov: pd.DataFrame | None) -> str:  # fmt: skip
    points = [
        'Single raw factors ("factor 7") mean nothing on their own: any rotation of the '
        "factors gives the same predictions, and a new training run picks another one. "
        "Read the principal axes, the neighbours and the clusters instead; per-factor parts "
        "of an explanation add up to the score but are not individually nameable.",
    ]
    if signal is not None:
        points.append(signal.describe())
    if purity is not None and cl is not None:
        gain = purity[0] - purity[1]
        points.append(
            f"Clusters are {'purer' if gain > 0 else 'not purer'} in {cl.attribute} than "
            f"chance ({purity[0]:.3f} vs {purity[1]:.3f} for random groups of the same "
            f"sizes; silhouette {cl.silhouette:.3f})."
        )
    if cov is not None and len(cov):
        found = []
        for col in cov.columns:
            a = cov[col].abs()
            if a.notna().any():
                best = int(a.idxmax())
                found.append(f"axis {best} correlates {col.removeprefix('r ')} at "
                             f"r = {cov.loc[best, col]:+.2f}")  # fmt: skip
        if found:
            points.append(
                "Genre is not the only thing the factors encode: "
                + "; ".join(found)
                + f" (strongest of the first {len(cov)} axes)."
            )
    try:
        Q = np.asarray(model.item_factors_, dtype=np.float64)
        counts = model.item_counts_
        norms = np.linalg.norm(Q, axis=1)
        ok = counts > 0
        if ok.sum() > 2 and norms[ok].std() > 0:
            r = float(np.corrcoef(np.log1p(counts[ok]), norms[ok])[0, 1])
            points.append(f"The length of an item's factor vector correlates with its "
                          f"log training count at r = {r:+.2f}: rarely seen items stay near "
                          "the origin (regularisation), so their neighbours and positions are "
                          "the least reliable.")  # fmt: skip
    except (ValueError, FloatingPointError):  # pragma: no cover - degenerate factors
        pass
    return '<ul class="tight">' + "".join(f"<li>{_e(p)}</li>" for p in points) + "</ul>"


def write_report(
    model: Any, path: str | Path, items: pd.DataFrame | None = None, test: Any = None,
    train: Any = None, *, sweep: Any = None, title: str | None = None, k: int = 10,
    min_count: int = 20, n_users: int = 3, seed: int = 0,
) -> Path:  # fmt: skip
    """Write one self-contained HTML report about a fitted model.

    Sections: model summary; held-out metrics (when ``test`` is given); training
    curves; a sweep's curves (when ``sweep`` is given); the principal axes with the
    items at their ends; genre associations and how they compare with shuffled
    factors; item clusters with their over-represented genres and purity against random
    clusters; a 2-D map; an item x factor heatmap; factor correlations; sample
    recommendations with explanations; and a note on what can and cannot be read from
    the factors. Sections that do not apply (no metadata, no factors) say so.

    Parameters
    ----------
    model : fitted model
    path : str or Path
        The HTML file to write (its folder must exist).
    items : DataFrame, optional
        Item metadata (``title``, ``genres`` ...); default: the metadata saved with the
        model (``model.item_metadata_``), if any.
    test : Interactions, optional
        Held-out interactions to score with :func:`latentfactors.evaluation.evaluate`.
    train : Interactions, optional
        Training interactions excluded from ranking candidates (default: what the
        model remembers).
    sweep : SweepResult, optional
        A factor or regularization sweep whose curves to include.
    title : str, optional
    k : int
        Cut-off of ranking metrics.
    min_count : int
        Items with fewer training interactions are left out of axes, clusters and maps.
    n_users : int
        Users shown with recommendations (up to 5).
    seed : int
        Seed of the clustering and the shuffled baselines.

    Returns
    -------
    Path
        The written file.

    Raises
    ------
    ImportError
        Without matplotlib or scikit-learn (``pip install 'latentfactors[report]'``).

    Examples
    --------
    >>> from latentfactors.data import make_synthetic
    >>> from latentfactors.models import SVD
    >>> model = SVD(n_factors=4, random_state=0).fit(make_synthetic(300, 100, 6000).interactions)
    >>> path = write_report(model, "/tmp/report.html", min_count=5)  # doctest: +SKIP
    """
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ImportError(
            "write_report needs matplotlib and scikit-learn: pip install 'latentfactors[report]'"
        ) from None
    _require_sklearn("write_report")
    model._check_fitted("write_report")
    items = _item_metadata(model, items)
    name = type(model).__name__
    sec = _Sections()
    sec.add("summary", "Model", lambda: _summary(model))
    if test is not None:
        sec.add("metrics", "Held-out metrics", lambda: _metrics(model, test, train, k))
    sec.add("training", "Training curves",
            lambda: _img(training_curves(model), "training curves"))  # fmt: skip
    if sweep is not None:
        sec.add("sweep", f"Sweep over {getattr(sweep, 'param', 'a parameter')}",
                lambda: _img(sweep.plot(), "sweep curves"))  # fmt: skip
    cov: pd.DataFrame | None = None
    try:
        cov = _covariates(model, items, min_count)
    except (LatentFactorsError, ValueError) as exc:
        log.warning("axis covariates skipped: %s", exc)
    sec.add(
        "axes",
        "What the principal axes capture",
        lambda: _axes(model, items, min_count, cov if cov is not None else pd.DataFrame()),
    )

    has_genres = items is not None and _list_column(items) is not None
    signal: GenreSignal | None = None
    if has_genres:
        try:
            signal = genre_signal(model, items, n_axes=5, min_count=min_count, seed=seed)
        except (LatentFactorsError, ValueError) as exc:
            log.warning("genre baseline skipped: %s", exc)
        sec.add("genres", "Axes and genres", lambda: _genres(model, items, min_count, signal))

    cl: ClusterResult | None = None
    purity: tuple[float, float] | None = None
    try:
        cl = cluster_items(model, items, min_count=min_count, seed=seed)
        if cl.enrichment is not None:
            purity = (cl.genre_purity(), cl.random_purity(seed=seed, n_shuffles=20))
    except (LatentFactorsError, ValueError) as exc:
        log.warning("clusters skipped: %s", exc)
        why = f"Skipped: {type(exc).__name__}: {exc}"
        sec.add("clusters", "Item clusters", lambda: _p(why, "skip"))
    if cl is not None:
        sec.add("clusters", "Item clusters", lambda: _clusters(cl, purity))
    sec.add("map", "Map of the items",
            lambda: _img(map_2d(model, items, method="pca", clusters=cl, min_count=min_count,
                                color_by="cluster" if cl is not None else "popularity",
                                seed=seed), "2-D map of the items"))  # fmt: skip
    sec.add("heatmap", "Item x factor heatmap",
            lambda: _p("The 30 most-rated items on the first 20 principal axes.")
            + _img(factor_heatmap(model, items, n_items=30, min_count=min_count),
                   "item x factor heatmap"))  # fmt: skip
    sec.add("correlation", "Factor correlations",
            lambda: _img(factor_correlation(model), "factor correlation matrix"))  # fmt: skip
    sec.add("recommendations", "Sample recommendations",
            lambda: _recommendations(model, items, n_users))  # fmt: skip
    sec.add("honesty", "How far to trust a reading of the factors",
            lambda: _honest_note(model, signal, purity, cl, cov))  # fmt: skip

    heading = title or f"{name}: what the latent factors capture"
    stamp = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    nav = "".join(f'<a href="#{a}">{_e(h)}</a>' for a, h, _ in sec.items)
    body = "".join(f'<section id="{a}"><h2>{_e(h)}</h2>{b}</section>' for a, h, b in sec.items)
    doc = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{_e(heading)}</title><style>{_CSS}</style></head><body><main>"
        f"<h1>{_e(heading)}</h1>"
        f'<p class="sub">{_e(f"latentfactors {__version__}, written {stamp}")}</p>'
        f"<nav>{nav}</nav>{body}</main></body></html>\n"
    )
    out = Path(path)
    out.write_text(doc, encoding="utf-8")
    return out
