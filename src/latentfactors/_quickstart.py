"""``latentfactors quickstart``: the main job, end to end on MovieLens 100K."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np


def find_movielens(data_path: str | None, download: bool) -> tuple[Any, str]:
    """(Dataset or None, where it came from / why it was not found)."""
    from .data import DATA_ENV, fetch_movielens, get_data_home, load_movielens
    from .exceptions import DataError

    if data_path is not None:
        return load_movielens(data_path), str(data_path)
    candidates = []
    if os.environ.get(DATA_ENV):
        candidates.append(Path(os.environ[DATA_ENV]) / "ml-100k")
    candidates += [get_data_home() / "ml-100k", Path("ml-100k"), Path("../shared/data/ml-100k")]
    for c in candidates:
        if (c / "u.data").is_file():
            return load_movielens(c), str(c)
    if download:
        try:
            return fetch_movielens("ml-100k", timeout=5.0), "downloaded to " + str(
                get_data_home() / "ml-100k"
            )
        except DataError as exc:
            return None, f"no MovieLens 100K found ({exc})"
    tried = ", ".join(str(c) for c in candidates)
    return None, f"no MovieLens 100K found (looked in {tried}; downloads disabled)"


def synthetic_dataset():
    import pandas as pd

    from .data import Dataset, make_synthetic

    # users rate what their factors draw them to (as on MovieLens), so which items a user
    # has is personal too and a recommender can beat "most popular"
    syn = make_synthetic(943, 1682, 100_000, rank=8, noise=0.8, round_to=1.0, seed=0,
                         affinity_exposure=True)  # fmt: skip
    ids = syn.interactions.items.raw
    items = pd.DataFrame(
        {"title": [f"synthetic item {i}" for i in ids], "year": pd.NA,
         "genres": [[] for _ in ids]},
        index=pd.Index(ids, name="item"),
    )  # fmt: skip
    return Dataset(syn.interactions, items)


def _no_progress(label: str) -> Any:
    return contextlib.nullcontext(None)


def run(
    data_path: str | None,
    out_dir: str,
    download: bool,
    *,
    progress: Callable[[str], Any] = _no_progress,
    on_data: Callable[[dict], None] = lambda out: None,
) -> dict:
    """Compute the tour; returns everything it found as a JSON-ready dict.

    ``progress(label)`` returns a context manager giving an epoch callback (or None);
    ``on_data(out)`` is called once the data is loaded (``out`` then holds ``data``,
    ``split`` and ``synthetic``), so a caller can say what is being fitted. Rendering is
    the command line's job (``latentfactors.cli.quickstart``).
    """
    from . import SVD, Baseline, ImplicitALS, Popularity, random_split
    from .evaluation.metrics import ranking_metrics, rmse_mae
    from .inspection import factor_table, genre_association

    t_start = time.perf_counter()
    out: dict[str, Any] = {}
    ds, source = find_movielens(data_path, download)
    synthetic = ds is None
    if synthetic:
        ds = synthetic_dataset()
        out["data"] = f"SYNTHETIC data (planted factors), because {source}"
        out["synthetic"] = True
    else:
        out["data"] = f"MovieLens 100K from {source}"
        out["synthetic"] = False
    data, items = ds
    train, test = random_split(data, test_size=0.2, seed=0)
    out["split"] = (f"{len(data):,} ratings, {data.n_users:,} users, {data.n_items:,} items; "
                    f"80/20 split (seed 0): {len(train):,} train, {len(test):,} test")  # fmt: skip
    on_data(out)

    svd = SVD(n_factors=50, n_epochs=20, random_state=0)
    with progress("SVD, 50 factors") as bar:
        svd.fit(train, validation=test, callbacks=[bar] if bar else None)
    pred = svd.predict(test.users.ids(test.user_ids), test.items.ids(test.item_ids))
    rmse, mae = rmse_mae(pred, test.values)
    als = ImplicitALS(n_factors=64, n_epochs=15, random_state=0)
    with progress("ImplicitALS, 64 factors") as bar:
        als.fit(train, validation=test, callbacks=[bar] if bar else None)
    rank = ranking_metrics(als, test, k=10)
    # the floors each model has to clear: biases alone, and the most popular unseen items
    base = Baseline().fit(train)
    base_rmse, _ = rmse_mae(
        base.predict(test.users.ids(test.user_ids), test.items.ids(test.item_ids)), test.values
    )
    pop = ranking_metrics(Popularity().fit(train), test, k=10)
    out["held_out"] = {"svd_rmse": rmse, "svd_mae": mae, "als_ndcg@10": rank["ndcg@10"],
                       "als_recall@10": rank["recall@10"],
                       "als_precision@10": rank["precision@10"], "baseline_rmse": base_rmse,
                       "popularity_ndcg@10": pop["ndcg@10"]}  # fmt: skip

    def title(i):
        return str(items["title"].get(i, i)) if items is not None else str(i)

    counts = train.user_counts
    sample_user = train.users.raw[int(np.argsort(-counts)[len(counts) // 2])]
    recs, scores = als.recommend(sample_user, n=10)
    out["sample_user"] = {"user": sample_user, "n_train_ratings": int(
        counts[train.users.index([sample_user])[0]]),
        "recommendations": [{"item": i, "title": title(i), "score": float(s)}
                            for i, s in zip(recs, scores)]}  # fmt: skip
    famous = _famous_item(train, items)
    sims, sim_scores = svd.similar_items(famous, n=10, min_count=20)
    out["similar"] = {"item": famous, "title": title(famous),
                      "neighbours": [{"item": i, "title": title(i), "similarity": float(s)}
                                     for i, s in zip(sims, sim_scores)]}  # fmt: skip
    axes = factor_table(svd, items, n_axes=3, n_items=4, min_count=50)
    genre = None
    if items is not None and "genres" in items.columns and not synthetic:
        genre = genre_association(svd, items, n_axes=3, min_count=50)
    out["factors"] = []
    for _, row in axes.iterrows():
        entry = {"axis": int(row.axis), "variance_share": float(row.variance_share),
                 "positive": row.positive, "negative": row.negative}  # fmt: skip
        if genre is not None:
            g = genre.loc[int(row.axis)]
            top = g.abs().sort_values(ascending=False).index[:2]
            entry["genres"] = {k: round(float(g[k]), 3) for k in top}
        out["factors"].append(entry)

    saved = _save(out_dir, {"svd.lfm": svd, "implicit-als.lfm": als}, items)
    out["saved"] = saved
    out["report"], report_note = _report(out_dir, svd, items, test)
    if report_note:
        out["report_note"] = report_note
    out["seconds"] = time.perf_counter() - t_start
    nxt = [
        f"latentfactors recommend {out_dir}/implicit-als.lfm --user {sample_user} -n 10",
        f"latentfactors similar {out_dir}/svd.lfm --item {famous} --min-count 20",
        f"latentfactors explain {out_dir}/svd.lfm --user {sample_user} --item {recs[0]}",
        f"latentfactors info {out_dir}/svd.lfm",
        "latentfactors fit ../shared/data/ml-100k --model svdpp -o svdpp.lfm",
    ]
    out["next"] = nxt if saved else nxt[-1:]
    return out


def _famous_item(train, items) -> Any:
    if items is not None and "title" in items.columns:
        hits = items.index[items["title"].astype(str).str.startswith("Star Wars (1977)")]
        for h in hits:
            if h in train.items:
                return h
    return train.items.raw[int(np.argmax(train.item_counts))]


def _report(out_dir: str, model, items, test) -> tuple[str | None, str]:
    """Write ``<out_dir>/report.html``; (None, why) when matplotlib / scikit-learn are missing."""
    try:
        from .inspection import write_report

        Path(out_dir).mkdir(parents=True, exist_ok=True)
        return str(write_report(model, Path(out_dir) / "report.html", items, test=test)), ""
    except ImportError as exc:
        return None, f"report not written: {exc}"


def _save(out_dir: str, models: dict, items) -> list[str]:
    try:
        from .persistence import save
    except ImportError:
        return []
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, model in models.items():
        save(model, folder / name, items=items)
        paths.append(str(folder / name))
    return paths
