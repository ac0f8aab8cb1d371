"""Commands that use a saved model: info, predict, recommend, similar, explain, evaluate."""

from __future__ import annotations

from pathlib import Path

import click

from ._app import data_options, load_data, load_model, main, parse_id
from ._output import console, emit_json, esc, table


def metrics_option(f):
    return click.option("--metric", "metrics", multiple=True,
                        help="Metric to report (repeatable): rmse, mae, ndcg@10, recall@20, "
                             "auc ... Default: the usual ones for the model.")(f)  # fmt: skip


def _print_metrics(title: str, metrics: dict[str, float]) -> None:
    console().print(table(title, ["metric", "value"], [[k, float(v)] for k, v in metrics.items()]))


@main.command()
@click.argument("model_file", type=click.Path())
@click.argument("test", type=click.Path())
@data_options
@click.option(
    "-k", "k", type=int, default=10, show_default=True, help="Cut-off of ranking metrics."
)
@metrics_option
@click.option("--json", "as_json", is_flag=True)
def evaluate(model_file, test, k, metrics, as_json, **data_opts):
    """Score a saved model on held-out interactions in TEST (rows with unknown ids skipped).

    \b
    Example:
      latentfactors evaluate svd.lfm ../shared/data/ml-100k/u1.test --names user,item,rating,ts
    """
    from ..evaluation import evaluate as run_evaluate

    model = load_model(model_file)
    ds = load_data(test, {**data_opts, "quiet": as_json})
    res = run_evaluate(model, ds.interactions, k=k, metrics=list(metrics) or None)
    if as_json:
        emit_json(res.to_dict())
        return
    _print_metrics(f"{type(model).__name__} on {Path(test).name} ({res.n_rows:,} rows, "
                   f"{res.n_users:,} users)", res.metrics)  # fmt: skip
    for reason, n in res.skipped.items():
        console().print(f"skipped {n:,} rows: {esc(reason)}")


@main.command()
@click.argument("model_file", type=click.Path())
@click.option("--json", "as_json", is_flag=True)
def info(model_file, as_json):
    """Describe a saved model: class, parameters, sizes, training history."""
    model = load_model(model_file)
    out = {
        "model": type(model).__name__,
        "params": model.get_params(),
        "n_users": len(model.users_),
        "n_items": len(model.items_),
        "n_factors": int(model.item_factors_.shape[1]),
        "global_mean": model.global_mean_,
        "epochs_run": len(model.history_.get("epoch", [])),
        "history": model.history_,
    }
    if as_json:
        emit_json(out)
        return
    c = console()
    c.print(f"[bold]{esc(out['model'])}[/] — {out['n_users']:,} users, {out['n_items']:,} items, "
            f"{out['n_factors']} factors")  # fmt: skip
    c.print(table("parameters", ["name", "value"], [[k, v] for k, v in out["params"].items()]))


@main.command()
@click.argument("model_file", type=click.Path())
@click.option("--user", required=True)
@click.option("--item", required=True)
@click.option("--json", "as_json", is_flag=True)
def predict(model_file, user, item, as_json):
    """Predict the rating (or preference score) of USER for ITEM."""
    model = load_model(model_file)
    u, i = parse_id(model.users_, user), parse_id(model.items_, item)
    pred, fallback = model.predict([u], [i], return_mask=True)
    out = {"user": u, "item": i, "prediction": float(pred[0]), "fallback": bool(fallback[0])}
    if as_json:
        emit_json(out)
    else:
        note = " (fallback: unknown user or item)" if out["fallback"] else ""
        console().print(f"{out['prediction']:.4f}{note}")


def _titles(model, items):
    meta = getattr(model, "item_metadata_", None)
    if meta is None:
        return [""] * len(items)
    col = "title" if "title" in meta.columns else ("name" if "name" in meta.columns else None)
    if col is None:
        return [""] * len(items)
    return [str(meta[col].get(i, "")) for i in items]


@main.command()
@click.argument("model_file", type=click.Path())
@click.option("--user", required=True, help="A user id known to the model (or the new user's).")
@click.option("-n", "n", type=click.IntRange(min=1), default=10, show_default=True)
@click.option(
    "--new-user-ratings",
    type=click.Path(),
    default=None,
    help="A file of ITEM,RATING (or ITEM) lines for a user the model has not seen.",
)
@click.option("--replace-history", is_flag=True,
              help="With --new-user-ratings for a known user: fold in these ratings in place "
                   "of the user's training history.")  # fmt: skip
@click.option("--include-seen", is_flag=True, help="Allow items the user already has.")
@click.option("--json", "as_json", is_flag=True)
def recommend(model_file, user, n, new_user_ratings, replace_history, include_seen, as_json):
    """Top-N items for a user; --new-user-ratings folds a new user in first.

    \b
    Examples:
      latentfactors recommend svd.lfm --user 1 -n 10
      latentfactors recommend svd.lfm --user newbie --new-user-ratings mine.csv
    """
    model = load_model(model_file)
    u = parse_id(model.users_, user)
    if new_user_ratings:
        if u in model.users_ and not replace_history:
            raise click.UsageError(
                f"user {user} is already known to the model; --new-user-ratings would replace "
                "their training history: pass --replace-history to do that, or use a new id"
            )
        model.fold_in(_new_user(model, u, new_user_ratings))
    if model.user_items_ is None and not include_seen:
        raise click.UsageError(
            "this model keeps no record of seen items (trained on a cluster, or saved with "
            "seen=False), so it cannot leave them out; pass --include-seen"
        )
    items, scores = model.recommend(u, n=n, exclude_seen=not include_seen)
    titles = _titles(model, items)
    if as_json:
        emit_json({"user": u, "items": [{"item": i, "score": float(s), "title": t}
                                        for i, s, t in zip(items, scores, titles)]})  # fmt: skip
        return
    rows = [[r + 1, i, t, float(s)] for r, (i, s, t) in enumerate(zip(items, scores, titles))]
    console().print(table(f"top {n} for user {u}", ["#", "item", "title", "score"], rows))


def _new_user(model, user, path):
    import math

    import numpy as np

    from ..data import Interactions
    from ..exceptions import DataError

    raw = Path(path).read_bytes()
    if b"\x00" in raw[: 1 << 16]:
        raise DataError(f"{path} looks binary (it holds NUL bytes); give ITEM[,RATING] lines")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
    items, ratings = [], []
    for lineno, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = [p.strip() for p in line.replace("\t", ",").split(",")]
        if not items and parts[0].lower() in ("item", "item_id", "itemid", "movieid"):
            continue
        items.append(parse_id(model.items_, parts[0]))
        if len(parts) > 1:
            try:
                value = float(parts[1])
            except ValueError:
                raise DataError(
                    f"{path}: line {lineno}: rating {parts[1]!r} is not a number"
                ) from None
            if not math.isfinite(value):
                raise DataError(f"{path}: line {lineno}: rating {parts[1]!r} is not finite")
            ratings.append(value)
    if not items:
        raise DataError(f"{path}: no ITEM[,RATING] lines found")
    if model.data_kind == "explicit":
        if len(ratings) != len(items):
            raise DataError(f"{path}: {type(model).__name__} needs ITEM,RATING on every line")
        return Interactions.from_arrays([user] * len(items), items, ratings=np.array(ratings),
                                        duplicates="last")  # fmt: skip
    weights = np.array(ratings) if len(ratings) == len(items) else None
    return Interactions.from_arrays([user] * len(items), items, weights=weights,
                                    duplicates="sum")  # fmt: skip


@main.command()
@click.argument("model_file", type=click.Path())
@click.option("--item", required=True)
@click.option("-n", "n", type=int, default=10, show_default=True)
@click.option("--metric", type=click.Choice(["cosine", "dot"]), default="cosine")
@click.option("--min-count", type=int, default=0, show_default=True,
              help="Leave out neighbours with fewer training interactions.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True)
def similar(model_file, item, n, metric, min_count, as_json):
    """Items whose factors are closest to ITEM's."""
    model = load_model(model_file)
    i = parse_id(model.items_, item)
    items, sims = model.similar_items(i, n=n, metric=metric, min_count=min_count)
    titles = _titles(model, items)
    if as_json:
        emit_json({"item": i, "similar": [{"item": a, "similarity": float(s), "title": t}
                                          for a, s, t in zip(items, sims, titles)]})  # fmt: skip
        return
    label = _titles(model, [i])[0] or i
    rows = [[r + 1, a, t, float(s)] for r, (a, s, t) in enumerate(zip(items, sims, titles))]
    console().print(table(f"most similar to {label}", ["#", "item", "title", "similarity"], rows))


@main.command()
@click.argument("model_file", type=click.Path())
@click.option("--user", required=True)
@click.option("--item", required=True)
@click.option("-n", "n", type=int, default=10, show_default=True, help="Parts to show.")
@click.option("--json", "as_json", is_flag=True)
def explain(model_file, user, item, n, as_json):
    """Why the model scores ITEM for USER as it does: the parts that add up to the score."""
    model = load_model(model_file)
    exp = model.explain(parse_id(model.users_, user), parse_id(model.items_, item))
    parts = exp.parts.head(n)
    if as_json:
        emit_json({"user": exp.user, "item": exp.item, "score": exp.score,
                   "parts": parts.to_dict(orient="records"), "note": exp.note})  # fmt: skip
        return
    names = parts["name"].tolist()
    if (parts["kind"] == "item").all():
        names = [f"{a} {t}".strip() for a, t in zip(names, _titles(model, names))]
    rows = [[k, nm, float(c)] for k, nm, c in zip(parts["kind"], names, parts["contribution"])]
    console().print(table(f"score {exp.score:.4f} for user {exp.user}, item {exp.item}",
                          ["kind", "part", "score"], rows))  # fmt: skip
    if exp.note:
        console().print(esc(exp.note))
