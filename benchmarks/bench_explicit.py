"""Explicit-rating benchmark: our models against Surprise and cornac, same data, same run.

Run inside the peers' environment (``benchmarks/setup_peers.sh``)::

    benchmarks/.venv-peers/bin/python benchmarks/bench_explicit.py --quick
    benchmarks/.venv-peers/bin/python benchmarks/bench_explicit.py          # full

Scenarios:

1. MovieLens 100K and ML latest-small, 80/20 random split (seed 0), k=50, 20 epochs for
   every library (each library's own learning rates and regularization otherwise).
2. Surprise's published protocol: 5-fold cross-validation on ML-100K with each model's
   defaults (ours vs Surprise's published table, and Surprise measured here in --full).
3. Synthetic ratings (1M with --quick, 1M and 10M otherwise), k=64, 20 epochs: fit time,
   updates per second per core (not for Baseline, fitted by its own sweeps), peak memory.

Fit times exclude numba compilation (a warm-up fit runs first; Spark's JVM is warmed the
same way) and data conversion. A fit under a second is repeated (three fits at most, the
same rule for every library) and the fastest is kept.
"""

from __future__ import annotations

import argparse
import importlib

import numpy as np
import spark_als
from common import (
    command_line,
    dataset,
    git_rev,
    machine,
    split,
    timed_fit,
    versions,
    write_json,
    write_results,
)

THREADS = 2
SURPRISE_PUBLISHED = {"SVD": 0.934, "SVDpp": 0.919, "NMF": 0.963, "Baseline": 0.944}


def rmse_mae(pred, truth):
    err = np.asarray(pred, dtype=np.float64) - truth
    return float(np.sqrt(np.mean(err**2))), float(np.mean(np.abs(err)))


def to_frame(data):
    return data.to_dataframe()[["user", "item", "rating"]]


# ---------------------------------------------------------------------------- ours
def our_model(name, **kw):
    import latentfactors as lf

    optional = {"ALS": "latentfactors.models.als", "NMF": "latentfactors.models.nmf"}
    if name in optional:
        cls = getattr(importlib.import_module(optional[name]), name)
    else:
        cls = getattr(lf, name)
    return cls(n_threads=THREADS, random_state=0, **kw)


def ours(name, train, test, **kw):
    model, fit_s, mem_mb = timed_fit(lambda: our_model(name, **kw), lambda m: m.fit(train))
    pred = model.predict(test.users.ids(test.user_ids), test.items.ids(test.item_ids))
    rmse, mae = rmse_mae(pred, test.values)
    return {"library": "ours", "model": name, "fit_s": fit_s, "rmse": rmse, "mae": mae,
            "mem_mb": mem_mb}  # fmt: skip


def bayesian(train, test):
    """BayesianMF with its own defaults (rank 10, 100 Gibbs sweeps, a fifth burn-in): a
    sampler's sweeps are not SGD epochs, so it does not take the table's k and epochs."""
    r = ours("BayesianMF", train, test)
    r["model"] = "BayesianMF (defaults: rank 10, 100 sweeps)"
    return r


# ---------------------------------------------------------------------------- peers
def surprise(name, train, test, k, epochs):
    import surprise as sp

    reader = sp.Reader(rating_scale=train.rating_scale)
    trainset = sp.Dataset.load_from_df(to_frame(train), reader).build_full_trainset()
    testset = list(to_frame(test).itertuples(index=False, name=None))
    make = {
        "SVD": lambda: sp.SVD(n_factors=k, n_epochs=epochs, random_state=0),
        "SVDpp": lambda: sp.SVDpp(n_factors=k, n_epochs=epochs, random_state=0),
        "NMF": lambda: sp.NMF(n_factors=k, n_epochs=epochs, random_state=0),
        "Baseline": lambda: sp.BaselineOnly(verbose=False),
    }[name]
    algo, fit_s, mem_mb = timed_fit(make, lambda a: a.fit(trainset))
    pred = [p.est for p in algo.test(testset)]
    rmse, mae = rmse_mae(pred, test.values)
    return {"library": "surprise", "model": name, "fit_s": fit_s, "rmse": rmse, "mae": mae,
            "mem_mb": mem_mb}  # fmt: skip


def cornac_mf(train, test, k, epochs):
    from cornac.data import Dataset
    from cornac.models import MF

    triples = list(to_frame(train).itertuples(index=False, name=None))
    ds = Dataset.from_uir(triples, seed=0)
    model, fit_s, mem_mb = timed_fit(
        lambda: MF(k=k, max_iter=epochs, learning_rate=0.01, lambda_reg=0.02, use_bias=True,
                   early_stop=False, verbose=False, seed=0),
        lambda m: m.fit(ds),
    )  # fmt: skip
    lo, hi = train.rating_scale
    users = test.users.ids(test.user_ids)
    items = test.items.ids(test.item_ids)
    mean = ds.global_mean
    pred = np.empty(len(users))
    for n, (u, i) in enumerate(zip(users, items)):
        uu, ii = ds.uid_map.get(u), ds.iid_map.get(i)
        pred[n] = mean if uu is None or ii is None else model.score(uu, ii)
    rmse, mae = rmse_mae(np.clip(pred, lo, hi), test.values)
    return {"library": "cornac", "model": "MF", "fit_s": fit_s, "rmse": rmse, "mae": mae,
            "mem_mb": mem_mb}  # fmt: skip


def spark(train, test, k, epochs):
    """Spark MLlib ALS (explicit, no biases; regParam 0.1 scaled by counts like ours)."""
    U, V, fit_s = spark_als.fit(train, k, epochs, THREADS)
    pred = np.einsum("ij,ij->i", U[test.user_ids], V[test.item_ids])
    rmse, mae = rmse_mae(np.clip(pred, *train.rating_scale), test.values)
    # Spark's memory is the JVM's, outside this process
    return {"library": "spark", "model": "ALS", "fit_s": fit_s, "rmse": rmse, "mae": mae,
            "mem_mb": None}  # fmt: skip


def have(module):
    try:
        importlib.import_module(module)
        return True
    except ImportError:
        return False


# ---------------------------------------------------------------------------- scenarios
def holdout(name, data, rows, quick):
    train, test = split(data)
    print(name, flush=True)
    for model in ("SVD", "SVDpp", "ALS", "NMF", "Baseline"):
        kw = {} if model == "Baseline" else {"n_factors": 50, "n_epochs": 20}
        try:
            r = ours(model, train, test, **kw)
        except ImportError:
            continue
        rows.append({"scenario": name, **r})
        print(f"  ours     {model:8s} {r['fit_s']:7.3f}s rmse {r['rmse']:.4f}", flush=True)
    r = bayesian(train, test)
    rows.append({"scenario": name, **r})
    print(f"  ours     {r['model']} {r['fit_s']:7.3f}s rmse {r['rmse']:.4f}", flush=True)
    if have("surprise"):
        for model in ("SVD", "SVDpp", "NMF", "Baseline"):
            if model == "SVDpp" and quick and name != "ml-100k":
                continue
            r = surprise(model, train, test, 50, 20)
            rows.append({"scenario": name, **r})
            print(f"  surprise {model:8s} {r['fit_s']:7.3f}s rmse {r['rmse']:.4f}", flush=True)
    if have("cornac"):
        r = cornac_mf(train, test, 50, 20)
        rows.append({"scenario": name, **r})
        print(f"  cornac   MF       {r['fit_s']:7.3f}s rmse {r['rmse']:.4f}", flush=True)
    if spark_als.available():
        try:
            r = spark(train, test, 50, 20)
        except Exception as exc:  # a peer's failure is reported, not fatal
            print(f"  spark    ALS      failed: {str(exc).splitlines()[0][:200]}", flush=True)
        else:
            rows.append({"scenario": name, **r})
            print(f"  spark    ALS      {r['fit_s']:7.3f}s rmse {r['rmse']:.4f}", flush=True)


def surprise_protocol(data, rows, measure_surprise):
    import latentfactors as lf

    folds = list(lf.kfold(data, 5, seed=0))
    print("5-fold CV, defaults", flush=True)
    for model in ("SVD", "SVDpp", "ALS", "NMF", "Baseline"):
        scores, secs = [], []
        try:
            for train, test in folds:
                r = ours(model, train, test)
                scores.append(r["rmse"])
                secs.append(r["fit_s"])
        except ImportError:
            continue
        entry = {"model": model, "ours_rmse": float(np.mean(scores)),
                 "ours_std": float(np.std(scores)), "ours_fit_s": float(np.mean(secs)),
                 "published": SURPRISE_PUBLISHED.get(model)}  # fmt: skip
        if measure_surprise and have("surprise") and model in SURPRISE_PUBLISHED:
            import surprise as sp

            algo = {"SVD": sp.SVD, "SVDpp": sp.SVDpp, "NMF": sp.NMF,
                    "Baseline": sp.BaselineOnly}[model]  # fmt: skip
            kwargs = {"verbose": False} if model == "Baseline" else {"random_state": 0}
            measured = []
            for train, test in folds:
                trainset = sp.Dataset.load_from_df(
                    to_frame(train), sp.Reader(rating_scale=(1, 5))
                ).build_full_trainset()
                a = algo(**kwargs)
                a.fit(trainset)
                pred = [p.est for p in a.test(list(to_frame(test).itertuples(False, None)))]
                measured.append(rmse_mae(pred, test.values)[0])
            entry["surprise_measured"] = float(np.mean(measured))
        rows.append(entry)
        print(f"  {entry}", flush=True)


def synthetic(n, rows, quick):
    import latentfactors as lf

    syn = lf.make_synthetic(n // 100, n // 500, n, rank=16, seed=0)
    train, test = split(syn.interactions)
    label = f"synthetic {n / 1e6:g}M"
    print(label, flush=True)
    for model in ("SVD", "SVDpp", "ALS", "NMF", "Baseline"):
        kw = {} if model == "Baseline" else {"n_factors": 64, "n_epochs": 20}
        try:
            r = ours(model, train, test, **kw)
        except ImportError:
            continue
        # passes over the ratings per second per core (Baseline: its own sweeps, not counted)
        per_s = len(train) * 20 / r["fit_s"] / THREADS
        r["updates_per_s_core"] = None if model == "Baseline" else per_s
        rows.append({"scenario": label, **r})
        print(f"  ours {model} {r}", flush=True)
    if not quick:
        r = bayesian(train, test)
        r["updates_per_s_core"] = None  # sweeps of a sampler, not SGD passes
        rows.append({"scenario": label, **r})
        print(f"  ours {r}", flush=True)
    if have("cornac"):
        r = cornac_mf(train, test, 64, 20)
        r["updates_per_s_core"] = len(train) * 20 / r["fit_s"]  # cornac MF is single-threaded
        rows.append({"scenario": label, **r})
        print(f"  cornac {r}", flush=True)
    if have("surprise"):
        # Surprise's SVD++ would take hours here (18 s on 80K ratings); its NMF and
        # Baseline only on the smaller set
        models = ("SVD",) if quick else ("SVD", "NMF", "Baseline") if n <= 1e6 else ("SVD",)
        for model in models:
            r = surprise(model, train, test, 64, 20)
            per_s = len(train) * 20 / r["fit_s"]
            r["updates_per_s_core"] = None if model == "Baseline" else per_s
            rows.append({"scenario": label, **r})
            print(f"  surprise {r}", flush=True)
    if spark_als.available():
        try:
            r = spark(train, test, 64, 20)
        except Exception as exc:  # a peer's failure is reported, not fatal
            print(f"  spark failed: {str(exc).splitlines()[0][:200]}", flush=True)
        else:
            r["updates_per_s_core"] = len(train) * 20 / r["fit_s"] / THREADS
            rows.append({"scenario": label, **r})
            print(f"  spark {r}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    import latentfactors as lf

    warm = lf.make_synthetic(300, 200, 5000, seed=0).interactions
    for name in ("SVD", "SVDpp", "ALS", "NMF", "Baseline"):
        try:
            our_model(name, **({} if name == "Baseline" else {"n_epochs": 1})).fit(warm)
        except ImportError:
            pass
    holdout_rows: list[dict] = []
    holdout("ml-100k", dataset("ml-100k").interactions, holdout_rows, args.quick)
    holdout("ml-latest-small", dataset("ml-latest-small").interactions, holdout_rows, args.quick)
    cv_rows: list[dict] = []
    surprise_protocol(dataset("ml-100k").interactions, cv_rows, not args.quick)
    syn_rows: list[dict] = []
    for n in (1_000_000,) if args.quick else (1_000_000, 10_000_000):
        synthetic(n, syn_rows, args.quick)
    report(holdout_rows, cv_rows, syn_rows, args)


def report(holdout_rows, cv_rows, syn_rows, args) -> None:
    import pandas as pd

    lines = [
        "# Explicit-rating benchmark",
        "",
        f"Machine: {machine()}. Libraries: "
        f"{versions('latentfactors', 'surprise', 'cornac', 'numpy', 'numba')}, "
        f"pyspark {spark_als.version()}. "
        f"Commit {git_rev()}. Command: `{command_line()}`.",
        "",
        "## Hold-out (80/20, seed 0), k=50, 20 epochs, 2 threads for ours",
        "",
        "| data | library | model | fit s | ours / this (fit) | RMSE | MAE |",
        "|---|---|---|---|---|---|---|",
    ]
    df = pd.DataFrame(holdout_rows)
    for _, r in df.iterrows():
        twin = {"MF": "SVD"}.get(r.model, r.model)  # Spark's ALS against our ALS
        ours_row = df[(df.scenario == r.scenario) & (df.library == "ours") & (df.model == twin)]
        ratio = ""
        if r.library != "ours" and not ours_row.empty:
            mine = ours_row.fit_s.iloc[0]
            ratio = f"{mine / r.fit_s:.3f} ({r.fit_s / mine:.1f}x faster)"
        lines.append(f"| {r.scenario} | {r.library} | {r.model} | {r.fit_s:.3f} | {ratio} | "
                     f"{r.rmse:.4f} | {r.mae:.4f} |")  # fmt: skip
    lines += ["", "## Surprise's protocol: 5-fold CV on ML-100K, each model's defaults", "",
              "| model | ours RMSE (std) | ours fit s / fold | Surprise published | "
              "Surprise measured here |", "|---|---|---|---|---|"]  # fmt: skip
    for r in cv_rows:
        pub = f"{r['published']:.3f}" if r.get("published") else "-"
        meas = f"{r['surprise_measured']:.4f}" if "surprise_measured" in r else "-"
        lines.append(f"| {r['model']} | {r['ours_rmse']:.4f} ({r['ours_std']:.4f}) | "
                     f"{r['ours_fit_s']:.3f} | {pub} | {meas} |")  # fmt: skip
    lines += ["", "## Synthetic ratings, k=64, 20 epochs (Baseline: its defaults)", "",
              "Peak memory: growth of this process's resident memory during `fit`, sampled "
              "every 20 ms (Spark's is the JVM's, not measured).", "",
              "| data | library | model | fit s | ours / this (fit) | updates / s / core | "
              "RMSE | MAE | peak RSS growth MB |",
              "|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    by = {(r["scenario"], r["library"], r["model"]): r for r in syn_rows}
    for r in syn_rows:
        twin = by.get((r["scenario"], "ours", {"MF": "SVD"}.get(r["model"], r["model"])))
        ratio = ""
        if r["library"] != "ours" and twin is not None:
            ratio = f"{twin['fit_s'] / r['fit_s']:.3f}"
        mem = "-" if r.get("mem_mb") is None else f"{r['mem_mb']:.0f}"
        ups = r.get("updates_per_s_core")
        ups = "-" if ups is None else f"{ups / 1e6:.2f}M"
        lines.append(f"| {r['scenario']} | {r['library']} | {r['model']} | {r['fit_s']:.2f} | "
                     f"{ratio} | {ups} | {r['rmse']:.4f} | "
                     f"{r['mae']:.4f} | {mem} |")  # fmt: skip
    name = "explicit" + ("-quick" if args.quick else "")
    write_json(name, {"holdout": holdout_rows, "cv": cv_rows, "synthetic": syn_rows})
    path = write_results(name, "\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"written to {path}")


if __name__ == "__main__":
    main()
