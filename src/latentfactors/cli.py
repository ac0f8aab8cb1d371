"""The ``latentfactors`` command line.

Exit codes: 0 success; 1 unexpected error; 2 bad usage (unknown option, missing
argument); 3 bad input (data, ids, parameters); 4 unreadable or unsafe model file.
User errors print one red line; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from .exceptions import LatentFactorsError, ModelFileError
from .models.callbacks import Callback

EXIT_INPUT = 3
EXIT_MODEL_FILE = 4

MODEL_NAMES = {
    "baseline": "Baseline",
    "svd": "SVD",
    "svdpp": "SVDpp",
    "als": "ALS",
    "nmf": "NMF",
    "truncated-svd": "TruncatedSVD",
    "implicit-als": "ImplicitALS",
    "bpr": "BPR",
    "popularity": "Popularity",
}


def model_class(name: str):
    """The model class behind a command-line name (``svd``, ``implicit-als`` ...)."""
    import importlib

    cls_name = MODEL_NAMES[name]
    for module in ("latentfactors.models", f"latentfactors.models.{name.replace('-', '_')}"):
        try:
            mod = importlib.import_module(module)
        except ImportError:
            continue
        if hasattr(mod, cls_name):
            return getattr(mod, cls_name)
    raise click.UsageError(f"model {name!r} is not available in this installation")


# ---------------------------------------------------------------------- output helpers
def console(stderr: bool = False):
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=True)


def emit_json(obj: Any) -> None:
    click.echo(json.dumps(obj, indent=2, default=_json_default))


def _json_default(o: Any) -> Any:
    import numpy as np

    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


def table(title: str, columns: list[str], rows: list[list[Any]]):
    from rich.table import Table

    t = Table(title=title, title_justify="left", show_edge=False, pad_edge=False)
    for c in columns:
        t.add_column(c, justify="right" if c in ("score", "rank", "#", "similarity") else "left")
    for r in rows:
        t.add_row(*[f"{x:.4f}" if isinstance(x, float) else str(x) for x in r])
    return t


class ProgressCallback(Callback):
    """A rich progress bar fed by the models' epoch callbacks."""

    def __init__(self, label: str, enabled: bool = True) -> None:
        self.label = label
        self.enabled = enabled

    def __enter__(self):
        if self.enabled:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            self.progress = Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("{task.fields[metric]}"), console=console(stderr=True),
                transient=False,
            )  # fmt: skip
            self.progress.start()
            self.task = None
        return self

    def __exit__(self, *exc):
        if self.enabled:
            self.progress.stop()

    # the Callback protocol
    def on_fit_start(self, model, n_epochs):
        if self.enabled:
            self.task = self.progress.add_task(self.label, total=n_epochs, metric="")

    def on_epoch_end(self, model, info):
        if self.enabled:
            metric = " ".join(
                f"{k} {v:.4f}" for k, v in info.items() if k.startswith("val_") and v is not None
            )
            self.progress.update(self.task, advance=1, metric=metric)
        return False

    def on_fit_end(self, model):
        pass


# ---------------------------------------------------------------------- errors
class Group(click.Group):
    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except LatentFactorsError as exc:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            code = EXIT_MODEL_FILE if isinstance(exc, ModelFileError) else EXIT_INPUT
            _fail(f"{type(exc).__name__}: {exc}", code)
        except (FileNotFoundError, PermissionError, IsADirectoryError) as exc:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            _fail(f"{type(exc).__name__}: {exc}", EXIT_INPUT)


def _fail(message: str, code: int) -> None:
    console(stderr=True).print(f"[bold red]error:[/] {message}", markup=True)
    sys.exit(code)


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="latentfactors")
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """Learn latent factors from user-item data, and put them to work.

    \b
    Start here:
      latentfactors quickstart
    \b
    Then, for example:
      latentfactors fit ratings.csv --model svd --factors 50 -o model.lfm
      latentfactors recommend model.lfm --user 42 -n 10
      latentfactors similar model.lfm --item 50
      latentfactors report model.lfm -o report.html
    \b
    Exit codes: 0 ok, 1 unexpected error, 2 bad usage, 3 bad input
    (data, ids, parameters), 4 unreadable or unsafe model file.
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


# ---------------------------------------------------------------------- data options
def data_options(f):
    opts = [
        click.option("--sep", default=None, help="Separator (default: sniffed; '::' works)."),
        click.option("--user-col", default=None, help="User column name or 0-based position."),
        click.option("--item-col", default=None, help="Item column name or position."),
        click.option("--rating-col", default=None, help="Rating column (explicit data)."),
        click.option("--weight-col", default=None, help="Weight / count column (implicit)."),
        click.option("--timestamp-col", default=None, help="Timestamp column."),
        click.option("--names", default=None, help="Comma-separated column names (no header)."),
        click.option("--no-header", is_flag=True, help="The file has no header line."),
        click.option("--implicit", is_flag=True, help="Treat the data as implicit feedback."),
        click.option("--encoding", default="utf-8", show_default=True),
    ]
    for opt in reversed(opts):
        f = opt(f)
    return f


_USER_NAMES = ("user", "userId", "user_id", "userID", "uid")
_ITEM_NAMES = ("item", "itemId", "item_id", "movieId", "movie_id", "artistID", "iid")
_RATING_NAMES = ("rating", "ratings", "score", "stars")
_WEIGHT_NAMES = ("weight", "count", "plays", "playcount")
_TIME_NAMES = ("timestamp", "time", "ts")


def _col(value: str | None):
    if value is None:
        return None
    return int(value) if value.isdigit() else value


def load_data(path: str, opts: dict[str, Any]):
    """Interactions (and item metadata, if any) from a MovieLens / Last.fm folder or a file."""
    from .data import load_lastfm, load_movielens, read_csv, read_parquet, sniff_separator

    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"no such file or folder: {path}")
    if p.is_dir():
        if (p / "user_artists.dat").is_file():
            return load_lastfm(p)
        return load_movielens(p)
    names = opts.get("names")
    names = [n.strip() for n in names.split(",")] if names else None
    header = False if opts.get("no_header") else None
    if p.suffix.lower() in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        columns = list(pq.read_schema(p).names)
    else:
        sep = opts.get("sep") or sniff_separator(p, encoding=opts["encoding"])
        opts["sep"] = sep
        if names is not None:
            columns = names
        elif header is False:
            columns = []
        else:
            with open(p, encoding=opts["encoding"], errors="replace") as fh:
                columns = [c.strip() for c in fh.readline().rstrip("\r\n").split(sep)]

    def pick(given, candidates, position=None):
        if given is not None:
            return _col(given)
        for c in candidates:
            if c in columns:
                return c
        return position if not columns else None

    if len(columns) == 1:  # one field per line: let the reader explain the separator
        columns = []
    user = pick(opts.get("user_col"), _USER_NAMES, 0)
    item = pick(opts.get("item_col"), _ITEM_NAMES, 1)
    weight = pick(opts.get("weight_col"), _WEIGHT_NAMES)
    rating = None if opts.get("implicit") or weight is not None else pick(
        opts.get("rating_col"), _RATING_NAMES, 2 if not columns else None
    )  # fmt: skip
    timestamp = pick(opts.get("timestamp_col"), _TIME_NAMES)
    if user is None or item is None:
        from .exceptions import DataError

        raise DataError(
            f"{p.name}: cannot tell the user and item columns among {columns}; "
            "name them with --user-col and --item-col"
        )
    kw = dict(user=user, item=item, rating=rating, timestamp=timestamp, weight=weight)
    if p.suffix.lower() in (".parquet", ".pq"):
        inter = read_parquet(p, **kw)
    else:
        inter = read_csv(p, sep=opts["sep"], names=names, header=header,
                         encoding=opts["encoding"], **kw)  # fmt: skip
    from .data import Dataset

    return Dataset(inter, None)


def parse_id(vocab, text: str):
    """A raw id from the command line, as the model's vocabulary stores it."""
    if text in vocab:
        return text
    try:
        as_int = int(text)
    except ValueError:
        return text
    return as_int if as_int in vocab else text


def _load_model(path: str):
    from .persistence import load

    return load(path)


# ---------------------------------------------------------------------- model options
def model_options(f):
    opts = [
        click.option("--model", "model_name", type=click.Choice(sorted(MODEL_NAMES)),
                     default="svd", show_default=True, help="Which model to fit."),
        click.option("--factors", type=int, default=None, help="Number of latent factors."),
        click.option("--epochs", type=int, default=None, help="Training epochs."),
        click.option("--lr", type=float, default=None, help="Learning rate (SGD models)."),
        click.option("--reg", type=float, default=None, help="L2 regularization."),
        click.option("--seed", type=int, default=0, show_default=True),
        click.option("--threads", type=int, default=None, help="Kernel threads (default all)."),
        click.option("--set", "settings", multiple=True, metavar="KEY=VALUE",
                     help="Any other model parameter, e.g. --set alpha=2 (repeatable)."),
    ]  # fmt: skip
    for opt in reversed(opts):
        f = opt(f)
    return f


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def build_model(model_name: str, factors, epochs, lr, reg, seed, threads, settings):
    cls = model_class(model_name)
    model = cls()
    params = model.get_params()
    chosen: dict[str, Any] = {"random_state": seed}
    for key, val in (("n_factors", factors), ("n_epochs", epochs), ("lr", lr), ("reg", reg),
                     ("n_threads", threads)):  # fmt: skip
        if val is not None:
            if key not in params:
                raise click.UsageError(f"model {model_name!r} has no parameter {key!r}")
            chosen[key] = val
    for item in settings:
        if "=" not in item:
            raise click.UsageError(f"--set expects KEY=VALUE, got {item!r}")
        key, val = item.split("=", 1)
        chosen[key.strip()] = _value(val.strip())
    if "random_state" not in params:
        chosen.pop("random_state")
    return model.set_params(**chosen)


# ---------------------------------------------------------------------- commands
@main.command()
@click.argument("data", type=click.Path())
@model_options
@data_options
@click.option("-o", "--output", type=click.Path(), required=True, help="Model file to write.")
@click.option(
    "--validation",
    type=float,
    default=0.0,
    show_default=True,
    help="Hold out this fraction to report a validation metric per epoch.",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary.")
def fit(data, model_name, factors, epochs, lr, reg, seed, threads, settings, output,
        validation, as_json, **data_opts):  # fmt: skip
    """Fit a model on DATA (a file or a MovieLens / Last.fm folder) and save it.

    \b
    Examples:
      latentfactors fit ../shared/data/ml-100k --model svd --factors 50 -o svd.lfm
      latentfactors fit plays.tsv --model implicit-als --implicit -o als.lfm
      latentfactors fit ratings.dat --sep :: --names user,item,rating,ts --model svdpp -o m.lfm
    """
    from .data import random_split

    ds = load_data(data, data_opts)
    model = build_model(model_name, factors, epochs, lr, reg, seed, threads, settings)
    train, val = ds.interactions, None
    if validation:
        train, val = random_split(ds.interactions, validation, seed=seed)
    with ProgressCallback(f"fit {model_name}", enabled=not as_json) as bar:
        model.fit(train, validation=val, callbacks=[bar] if model.iterative else None)
    from .persistence import save

    save(model, output, items=ds.items)
    summary = {"model": type(model).__name__, "params": model.get_params(), "output": output,
               "n_train": len(train), "history": model.history_}  # fmt: skip
    if as_json:
        emit_json(summary)
    else:
        console().print(f"saved {type(model).__name__} to {output} ({len(train):,} interactions)")


def _metrics_option(f):
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
@_metrics_option
@click.option("--json", "as_json", is_flag=True)
def evaluate(model_file, test, k, metrics, as_json, **data_opts):
    """Score a saved model on held-out interactions in TEST (rows with unknown ids skipped).

    \b
    Example:
      latentfactors evaluate svd.lfm ../shared/data/ml-100k/u1.test --names user,item,rating,ts
    """
    from .evaluation import evaluate as run_evaluate

    model = _load_model(model_file)
    ds = load_data(test, data_opts)
    res = run_evaluate(model, ds.interactions, k=k, metrics=list(metrics) or None)
    if as_json:
        emit_json(res.to_dict())
        return
    _print_metrics(f"{type(model).__name__} on {Path(test).name} ({res.n_rows:,} rows, "
                   f"{res.n_users:,} users)", res.metrics)  # fmt: skip
    for reason, n in res.skipped.items():
        console().print(f"skipped {n:,} rows: {reason}")


@main.command()
@click.argument("data", type=click.Path())
@model_options
@data_options
@click.option("--folds", type=int, default=5, show_default=True)
@click.option("-k", "k", type=int, default=10, show_default=True)
@_metrics_option
@click.option("--jobs", type=int, default=1, show_default=True, help="Folds fitted at once.")
@click.option("--json", "as_json", is_flag=True)
def cv(data, model_name, factors, epochs, lr, reg, seed, threads, settings, folds, k, metrics,
       jobs, as_json, **data_opts):  # fmt: skip
    """K-fold cross-validation of a model on DATA: per-fold metrics, mean and std.

    \b
    Example (Surprise's protocol):
      latentfactors cv ../shared/data/ml-100k --model svd --folds 5 --metric rmse
    """
    from .evaluation import cross_validate

    ds = load_data(data, data_opts)
    model = build_model(model_name, factors, epochs, lr, reg, seed, threads, settings)
    res = cross_validate(model, ds.interactions, cv=folds, metrics=list(metrics) or None, k=k,
                         seed=seed, n_jobs=jobs)  # fmt: skip
    if as_json:
        emit_json({"folds": res.folds.reset_index().to_dict(orient="records"),
                   "mean": res.summary.loc["mean"].to_dict(),
                   "std": res.summary.loc["std"].to_dict()})  # fmt: skip
        return
    cols = list(res.folds.columns)
    counts = {"n_test", "n_skipped"}

    def cells(values, exact):
        return [int(v) if (c in counts and exact) else float(v) for c, v in zip(cols, values)]

    rows = [[i, *cells(r, True)] for i, r in zip(res.folds.index, res.folds.to_numpy())]
    rows += [["mean", *cells(res.summary.loc["mean"], False)],
             ["std", *cells(res.summary.loc["std"], False)]]  # fmt: skip
    console().print(table(f"{folds}-fold cross-validation of {type(model).__name__}",
                          ["fold", *cols], rows))  # fmt: skip


@main.command()
@click.argument("data", type=click.Path())
@model_options
@data_options
@click.option(
    "--grid",
    "grid",
    multiple=True,
    metavar="NAME=V1,V2,...",
    help="Values to try for one parameter (repeatable), e.g. --grid reg=0.01,0.05",
)
@click.option(
    "--factor-sweep",
    "sweep",
    default=None,
    metavar="N1,N2,...",
    help="Instead of a grid: train/validation error for these numbers of factors.",
)
@click.option("--metric", default=None, help="What to optimise (default rmse / ndcg@10).")
@click.option("--folds", type=int, default=None, help="Cross-validate each setting.")
@click.option("--validation", type=float, default=0.2, show_default=True)
@click.option("--jobs", type=int, default=1, show_default=True)
@click.option(
    "-o",
    "--output",
    type=click.Path(),
    default=None,
    help="Save the best model (refit on all the data).",
)
@click.option("--json", "as_json", is_flag=True)
def tune(data, model_name, factors, epochs, lr, reg, seed, threads, settings, grid, sweep,
         metric, folds, validation, jobs, output, as_json, **data_opts):  # fmt: skip
    """Search hyperparameters on DATA, or sweep the number of factors.

    \b
    Examples:
      latentfactors tune ../shared/data/ml-100k --model svd --grid n_factors=16,32,64 \\
          --grid reg=0.02,0.05,0.1 -o best.lfm
      latentfactors tune ../shared/data/ml-100k --model svd --factor-sweep 2,8,32,128
    """
    from .data import random_split
    from .evaluation import GridSearch, factor_sweep

    ds = load_data(data, data_opts)
    model = build_model(model_name, factors, epochs, lr, reg, seed, threads, settings)
    if sweep:
        values = [int(v) for v in sweep.split(",") if v.strip()]
        train, val = random_split(ds.interactions, validation, seed=seed)
        res = factor_sweep(model, train, val, n_factors=values, metric=metric, n_jobs=jobs)
        out = {"metric": res.metric, "table": res.table.to_dict(orient="records"),
               "best_value": res.best_value, "stops_improving_at": res.stops_improving_at,
               "overfit_from": res.overfit_from}  # fmt: skip
        if as_json:
            emit_json(out)
            return
        rows = [[int(r.value), float(r.train), float(r.validation), int(r.best_epoch),
                 float(r.seconds)] for r in res.table.itertuples()]  # fmt: skip
        console().print(table(f"factor sweep ({res.metric})",
                              ["factors", "train", "validation", "best epoch", "seconds"],
                              rows))  # fmt: skip
        console().print(f"best: {res.best_value} factors; more stops helping at "
                        f"{res.stops_improving_at}; overfits from {res.overfit_from}")  # fmt: skip
        return
    if not grid:
        raise click.UsageError("give --grid NAME=V1,V2 (repeatable) or --factor-sweep N1,N2")
    param_grid = {}
    for g in grid:
        if "=" not in g:
            raise click.UsageError(f"--grid expects NAME=V1,V2,..., got {g!r}")
        name, values = g.split("=", 1)
        param_grid[name.strip()] = [_value(v.strip()) for v in values.split(",") if v.strip()]
    search = GridSearch(model, param_grid, metric=metric or (
        "rmse" if model.data_kind == "explicit" else "ndcg@10"), cv=folds,
        validation=validation, seed=seed, n_jobs=jobs, refit=output is not None)  # fmt: skip
    search.fit(ds.interactions)
    if output:
        from .persistence import save

        save(search.best_model_, output, items=ds.items)
    if as_json:
        emit_json({"results": search.results_.to_dict(orient="records"),
                   "best_params": search.best_params_, "best_score": search.best_score_,
                   "output": output})  # fmt: skip
        return
    res = search.results_.sort_values("rank")
    cols = [c for c in res.columns if c != "rank"]
    console().print(
        table(
            f"grid search ({search._key})",
            ["rank", *cols],
            [[int(r["rank"]), *[r[c] for c in cols]] for _, r in res.iterrows()],
        )
    )
    console().print(f"best: {search.best_params_} -> {search.best_score_:.4f}"
                    + (f"; saved to {output}" if output else ""))  # fmt: skip


@main.command()
@click.argument("model_file", type=click.Path())
@click.option("--json", "as_json", is_flag=True)
def info(model_file, as_json):
    """Describe a saved model: class, parameters, sizes, training history."""
    model = _load_model(model_file)
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
    c.print(f"[bold]{out['model']}[/] — {out['n_users']:,} users, {out['n_items']:,} items, "
            f"{out['n_factors']} factors")  # fmt: skip
    c.print(table("parameters", ["name", "value"], [[k, v] for k, v in out["params"].items()]))


@main.command()
@click.argument("model_file", type=click.Path())
@click.option("--user", required=True)
@click.option("--item", required=True)
@click.option("--json", "as_json", is_flag=True)
def predict(model_file, user, item, as_json):
    """Predict the rating (or preference score) of USER for ITEM."""
    model = _load_model(model_file)
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
@click.option("-n", "n", type=int, default=10, show_default=True)
@click.option(
    "--new-user-ratings",
    type=click.Path(),
    default=None,
    help="A file of ITEM,RATING (or ITEM) lines for a user the model has not seen.",
)
@click.option("--include-seen", is_flag=True, help="Allow items the user already has.")
@click.option("--json", "as_json", is_flag=True)
def recommend(model_file, user, n, new_user_ratings, include_seen, as_json):
    """Top-N items for a user; --new-user-ratings folds a new user in first.

    \b
    Examples:
      latentfactors recommend svd.lfm --user 1 -n 10
      latentfactors recommend svd.lfm --user newbie --new-user-ratings mine.csv
    """
    model = _load_model(model_file)
    u = parse_id(model.users_, user)
    if new_user_ratings:
        model.fold_in(_new_user(model, u, new_user_ratings))
    items, scores = model.recommend(u, n=n, exclude_seen=not include_seen)
    titles = _titles(model, items)
    if as_json:
        emit_json({"user": u, "items": [{"item": i, "score": float(s), "title": t}
                                        for i, s, t in zip(items, scores, titles)]})  # fmt: skip
        return
    rows = [[r + 1, i, t, float(s)] for r, (i, s, t) in enumerate(zip(items, scores, titles))]
    console().print(table(f"top {n} for user {u}", ["#", "item", "title", "score"], rows))


def _new_user(model, user, path):
    import numpy as np

    from .data import Interactions
    from .exceptions import DataError

    items, ratings = [], []
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            parts = [p.strip() for p in line.replace("\t", ",").split(",")]
            if lineno == 1 and parts[0].lower() in ("item", "item_id", "movieid"):
                continue
            items.append(parse_id(model.items_, parts[0]))
            if len(parts) > 1:
                try:
                    ratings.append(float(parts[1]))
                except ValueError:
                    raise DataError(
                        f"{path}: line {lineno}: rating {parts[1]!r} is not a number"
                    ) from None
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
    model = _load_model(model_file)
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
    model = _load_model(model_file)
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
        console().print(exp.note)


@main.command()
@click.argument("model_file", type=click.Path())
@click.option("-o", "--output", type=click.Path(), default="report.html", show_default=True,
              help="The HTML file to write.")  # fmt: skip
@click.option("--test", type=click.Path(), default=None,
              help="Held-out interactions (file or folder) to score in the report.")  # fmt: skip
@data_options
@click.option(
    "-k", "k", type=int, default=10, show_default=True, help="Cut-off of ranking metrics."
)
@click.option("--min-count", type=int, default=20, show_default=True,
              help="Leave out items with fewer training interactions.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True)
def report(model_file, output, test, k, min_count, as_json, **data_opts):
    """Write one self-contained HTML report on a saved model: metrics, training curves,
    principal axes, genre links against chance, clusters, a 2-D map, heatmaps and sample
    recommendations with explanations. Needs matplotlib and scikit-learn
    (pip install 'latentfactors[report]').

    \b
    Examples:
      latentfactors report svd.lfm -o report.html
      latentfactors report svd.lfm --test ../shared/data/ml-100k/u1.test \\
          --names user,item,rating,ts -o report.html
    """
    from .inspection import write_report

    model = _load_model(model_file)
    inter = load_data(test, data_opts).interactions if test else None
    try:
        path = write_report(model, output, items=getattr(model, "item_metadata_", None),
                            test=inter, k=k, min_count=min_count)  # fmt: skip
    except ImportError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        emit_json({"report": str(path), "bytes": path.stat().st_size})
    else:
        console().print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")


@main.command()
@click.option(
    "--data",
    "data_path",
    type=click.Path(),
    default=None,
    help="MovieLens 100K folder (default: $LATENTFACTORS_DATA, the cache, "
    "../shared/data, or a download).",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(),
    default="latentfactors-quickstart",
    show_default=True,
    help="Folder for the model files and the report.",
)
@click.option("--no-download", is_flag=True, help="Never try the network.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
def quickstart(data_path, out_dir, no_download, as_json):
    """The tour: fit an explicit and an implicit model on MovieLens 100K and show them."""
    from ._quickstart import run

    run(data_path, out_dir, not no_download, as_json)


if __name__ == "__main__":  # pragma: no cover
    main()
