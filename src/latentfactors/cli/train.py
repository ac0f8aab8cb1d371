"""Commands that train: fit, cv, tune."""

from __future__ import annotations

import click

from ._app import build_model, data_options, load_data, main, model_options, value
from ._output import ProgressCallback, console, emit_json, esc, table
from .query import metrics_option


@main.command()
@click.argument("data", type=click.Path())
@model_options
@data_options
@click.option("-o", "--output", type=click.Path(), required=True, help="Model file to write.")
@click.option(
    "--validation",
    type=click.FloatRange(0.0, 1.0, max_open=True),
    default=0.0,
    show_default=True,
    help="Hold out this fraction to report a validation metric per epoch.",
)
@click.option(
    "--dask",
    "dask_spec",
    default=None,
    metavar="ADDRESS|local:N",
    help="Train on a Dask cluster (tcp://host:8786) or on N local worker processes "
    "(local:N): als, implicit-als and svd; DATA is a Parquet file or folder, or CSV with "
    "named columns (pip install 'latentfactors[dask]').",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary.")
def fit(data, model_name, factors, epochs, lr, reg, seed, threads, settings, output,
        validation, dask_spec, as_json, **data_opts):  # fmt: skip
    """Fit a model on DATA (a file or a MovieLens / Last.fm folder) and save it.

    \b
    Examples:
      latentfactors fit ../shared/data/ml-100k --model svd --factors 50 -o svd.lfm
      latentfactors fit plays.tsv --model implicit-als --implicit -o als.lfm
      latentfactors fit ratings.dat --sep :: --names user,item,rating,ts --model svdpp -o m.lfm
      latentfactors fit ratings/ --dask local:2 --model als -o als.lfm
    """
    from ..data import random_split

    if dask_spec:
        if threads is not None:
            raise click.UsageError(
                "--threads is not used with --dask: each worker runs its kernels on its own "
                "threads (dask worker --nthreads N; local:N starts N one-thread workers)"
            )
        model = build_model(model_name, factors, epochs, lr, reg, seed, None, settings)
        _fit_on_dask(model, model_name, data, dask_spec, output, validation, as_json,
                     data_opts)  # fmt: skip
        return

    ds = load_data(data, {**data_opts, "quiet": as_json})
    model = build_model(model_name, factors, epochs, lr, reg, seed, threads, settings)
    train, val = ds.interactions, None
    if validation:
        train, val = random_split(ds.interactions, validation, seed=seed)
    with ProgressCallback(f"fit {model_name}", enabled=not as_json) as bar:
        model.fit(train, validation=val, callbacks=[bar] if model.iterative else None)
    from ..persistence import save

    save(model, output, items=ds.items)
    summary = {"model": type(model).__name__, "params": model.get_params(), "output": output,
               "n_train": len(train), "history": model.history_}  # fmt: skip
    if as_json:
        emit_json(summary)
    else:
        console().print(
            f"saved {type(model).__name__} to {esc(output)} ({len(train):,} interactions)"
        )


def _fit_on_dask(model, model_name, data, spec, output, validation, as_json, opts) -> None:
    """``fit --dask``: read DATA as a dask DataFrame and train on the cluster."""
    if validation:
        raise click.UsageError(
            "--validation is not available with --dask; evaluate the saved model on a "
            "held-out file with 'latentfactors evaluate'"
        )
    if model_name not in ("als", "implicit-als", "svd"):
        raise click.UsageError(
            f"--dask trains als, implicit-als and svd; {model_name} trains on one machine"
        )
    from ..distributed import connect, read_table
    from ..distributed import fit as dask_fit
    from ..persistence import save

    ddf = read_table(data, sep=opts.get("sep"))
    columns = list(ddf.columns)
    user = opts.get("user_col") or "user"
    item = opts.get("item_col") or "item"
    weight = opts.get("weight_col")
    rating = None
    if not opts.get("implicit") and weight is None:
        rating = opts.get("rating_col") or ("rating" if "rating" in columns else None)
    with connect(spec) as client:
        if not as_json:
            console(stderr=True).print(f"Dask dashboard: {esc(client.dashboard_link)}")
        with ProgressCallback(f"fit {model_name} on Dask", enabled=not as_json) as bar:
            model = dask_fit(model, ddf, client, user=user, item=item, rating=rating,
                             weight=weight, callbacks=[bar])  # fmt: skip
    save(model, output)
    summary = {"model": type(model).__name__, "params": model.get_params(), "output": output,
               "n_train": model.n_train_, "history": model.history_, "dask": spec}  # fmt: skip
    if as_json:
        emit_json(summary)
    else:
        console().print(f"saved {type(model).__name__} to {esc(output)} "
                        f"({model.n_train_:,} interactions, trained on Dask)")  # fmt: skip


@main.command()
@click.argument("data", type=click.Path())
@model_options
@data_options
@click.option("--folds", type=int, default=5, show_default=True)
@click.option("-k", "k", type=int, default=10, show_default=True)
@metrics_option
@click.option("--jobs", type=int, default=1, show_default=True, help="Folds fitted at once.")
@click.option("--json", "as_json", is_flag=True)
def cv(data, model_name, factors, epochs, lr, reg, seed, threads, settings, folds, k, metrics,
       jobs, as_json, **data_opts):  # fmt: skip
    """K-fold cross-validation of a model on DATA: per-fold metrics, mean and std.

    \b
    Example (Surprise's protocol):
      latentfactors cv ../shared/data/ml-100k --model svd --folds 5 --metric rmse
    """
    from ..evaluation import cross_validate

    ds = load_data(data, {**data_opts, "quiet": as_json})
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
@click.option(
    "--validation",
    type=click.FloatRange(0.0, 1.0, min_open=True, max_open=True),
    default=0.2,
    show_default=True,
    help="Fraction held out to score each setting (without --folds).",
)
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
    from ..data import random_split
    from ..evaluation import GridSearch, factor_sweep

    ds = load_data(data, {**data_opts, "quiet": as_json})
    model = build_model(model_name, factors, epochs, lr, reg, seed, threads, settings)
    if sweep:
        try:
            values = [int(v) for v in sweep.split(",") if v.strip()]
        except ValueError:
            raise click.UsageError(
                f"--factor-sweep expects whole numbers separated by commas (e.g. 2,8,32), "
                f"got {sweep!r}"
            ) from None
        if not values:
            raise click.UsageError("--factor-sweep needs at least one number of factors")
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
        param_grid[name.strip()] = [value(v.strip()) for v in values.split(",") if v.strip()]
    search = GridSearch(model, param_grid, metric=metric or (
        "rmse" if model.data_kind == "explicit" else "ndcg@10"), cv=folds,
        validation=validation, seed=seed, n_jobs=jobs, refit=output is not None)  # fmt: skip
    search.fit(ds.interactions)
    if output:
        from ..persistence import save

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
    console().print(esc(f"best: {search.best_params_} -> {search.best_score_:.4f}"
                        + (f"; saved to {output}" if output else "")))  # fmt: skip
