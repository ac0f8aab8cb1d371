"""Distributed training on Dask vs the single-machine models, same data, same cores.

    python benchmarks/bench_dask.py                          # 10M synthetic ratings, k=32
    python benchmarks/bench_dask.py --n 1000000 --results-dir /tmp/r   # quick, kept apart
    python benchmarks/bench_dask.py --n 100000000 --models ALS,ImplicitALS \\
        --spark-python benchmarks/.venv-peers/bin/python     # 100M (see below)
    python benchmarks/bench_dask.py --render                 # rebuild dask.md only

The ratings are generated once (``make_synthetic``: a few GB at 100M), written as
Parquet partitions of 1M rows and read back with ``dd.read_parquet`` (the path a cluster
user takes); the same rows go to the single-machine fits as ``.npy`` arrays. Dask runs a
LocalCluster of 2 worker processes x 1 thread; the single-machine model gets 2 numba
threads, each model in a process of its own (so its peak RSS is its own: the data, the
fit's layouts and the kernels' buffers). Reported per model: seconds per iteration
(median over the measured epochs, after a warm-up fit that compiles numba in every
process), peak RSS (single-machine process; each Dask worker, sampled every 0.5 s and
after every epoch; the Dask client), bytes shipped per iteration, and the measured cost
per task, from which ``projection()`` extrapolates to 1B and 10B ratings on 8, 32 and
128 workers (assumptions in the output).

Spark ALS (local[2], ``spark_als.py``) is compared when ``--spark-python`` names a
Python with pyspark and java is on the PATH; it reads the same Parquet folder. Seconds
per iteration = (fit with 1 + N iterations - fit with 1) / N, N = ``--spark-iters``
(default: ``--epochs`` below 50M ratings, 1 from there, to bound the time); the driver
gets ``--spark-driver-memory`` (default 12g from 50M ratings, else 6g); its JVM's peak
RSS is recorded.

Each run writes ``results/dask-<n>.json`` (``--results-dir``); ``results/dask.md`` is
rendered from every ``dask-*.json`` there (10M and 100M side by side), and ``--render``
only re-renders it.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import RESULTS, machine, versions  # noqa: E402

MODELS = ("ALS", "ALS-cg", "ImplicitALS", "SVD")
SPARK_KEYS = {"ALS": "explicit", "ImplicitALS": "implicit"}


def _rss(dask_worker=None) -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def _peak_rss_mb(dask_worker=None) -> float:
    """This process's own peak RSS in MiB: ``VmHWM`` on Linux (``ru_maxrss`` is inherited
    across fork + exec, so a child would report its parent's peak if that was higher)."""
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


def label(n: int) -> str:
    return f"{n // 1_000_000}M" if n >= 1_000_000 and n % 1_000_000 == 0 else str(n)


def make_models(k: int, epochs: int, names) -> dict:
    from latentfactors.models import ALS, SVD, ImplicitALS

    every = {
        # exact row solves, as Spark's ALS does; "ALS-cg" is ALS's default (3 CG steps)
        "ALS": ALS(n_factors=k, n_epochs=epochs, reg=0.1, random_state=0, solver="exact"),
        "ALS-cg": ALS(n_factors=k, n_epochs=epochs, reg=0.1, random_state=0),
        "ImplicitALS": ImplicitALS(n_factors=k, n_epochs=epochs, reg=30.0, random_state=0),
        "SVD": SVD(n_factors=k, n_epochs=epochs, random_state=0),
    }
    return {name: every[name] for name in names}


def _warm_data():
    from latentfactors.data import make_synthetic

    return make_synthetic(2000, 500, 20_000, seed=1).interactions


# ---------------------------------------------------------------------- data


def generate(n: int, workdir: Path) -> dict:
    """Synthetic ratings -> ``workdir/parquet`` (1M-row partitions, shuffled rows) and
    ``workdir/arrays`` (the container's inner ids, for the single-machine fits)."""
    import pandas as pd

    from latentfactors.data import make_synthetic

    n_users, n_items = max(1000, n // 100), max(500, n // 1000)
    t0 = time.perf_counter()
    inter = make_synthetic(n_users, n_items, n, seed=0).interactions
    gen_s = time.perf_counter() - t0
    arrays = workdir / "arrays"
    arrays.mkdir(parents=True, exist_ok=True)
    u, i, v = inter.coo()
    for name, arr in (("user_ids", u), ("item_ids", i), ("values", v),
                      ("users", inter.users.raw), ("items", inter.items.raw)):  # fmt: skip
        np.save(arrays / f"{name}.npy", arr)
    scale = inter._declared_scale
    (arrays / "meta.json").write_text(json.dumps({"kind": inter.kind, "rating_scale": scale}))
    folder = workdir / "parquet"
    folder.mkdir(exist_ok=True)
    n_parts = max(4, n // 1_000_000)
    order = np.random.default_rng(0).permutation(len(u))  # partitions not sorted by user
    for p, rows in enumerate(np.array_split(order, n_parts)):  # one partition at a time
        pd.DataFrame({"user": u[rows], "item": i[rows], "rating": v[rows]}).to_parquet(
            folder / f"part-{p:04d}.parquet", index=False
        )
    out = {"n": len(inter), "n_users": inter.n_users, "n_items": inter.n_items,
           "generate_s": gen_s, "n_parquet_parts": n_parts}  # fmt: skip
    del inter, u, i, v, order
    gc.collect()
    out["generate_write_peak_rss_mb"] = _peak_rss_mb()
    return out


def load_arrays(arrays: Path):
    from latentfactors.data import Interactions
    from latentfactors.data.vocabulary import Vocabulary

    meta = json.loads((arrays / "meta.json").read_text())
    ld = {name: np.load(arrays / f"{name}.npy", allow_pickle=False)
          for name in ("user_ids", "item_ids", "values", "users", "items")}  # fmt: skip
    return Interactions(
        ld["user_ids"], ld["item_ids"], ld["values"],
        users=Vocabulary(ld["users"], name="user"), items=Vocabulary(ld["items"], name="item"),
        kind=meta["kind"], rating_scale=meta["rating_scale"],
    )  # fmt: skip


# ---------------------------------------------------------------------- single machine


def single_only(arrays: Path, name: str, k: int, epochs: int, threads: int) -> dict:
    """One single-machine fit in this process (run as a subprocess): s/iter, peak RSS."""
    model = make_models(k, epochs, [name])[name].set_params(n_threads=threads)
    model.clone().set_params(n_epochs=1).fit(_warm_data())
    inter = load_arrays(arrays)
    t0 = time.perf_counter()
    fitted = model.clone().fit(inter)
    fit_s = time.perf_counter() - t0
    sec = fitted.history_["seconds"][1:] or fitted.history_["seconds"]
    return {"single_s_per_iter": statistics.median(sec), "single_fit_s": fit_s,
            "single_peak_rss_mb": _peak_rss_mb()}  # fmt: skip


def _child(args: list[str], marker: str, python: str | None = None) -> dict:
    proc = subprocess.run([python or sys.executable, __file__, *args], capture_output=True,
                          text=True)  # fmt: skip
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    line = next(x for x in proc.stdout.splitlines() if x.startswith(marker + " "))
    return json.loads(line.split(" ", 1)[1])


# ---------------------------------------------------------------------- Dask


class _Sampler:
    """Peak RSS of every worker and of this process, every ``every`` seconds."""

    def __init__(self, client, every: float = 0.5) -> None:
        self.client, self.every = client, every
        self.workers: dict[str, float] = {}
        self.client_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def sample(self) -> None:
        try:
            for addr, mb in self.client.run(_rss).items():
                self.workers[addr] = max(self.workers.get(addr, 0.0), mb)
        except Exception:  # a sample lost to a busy comm is skipped
            pass
        self.client_mb = max(self.client_mb, _rss())

    def _run(self) -> None:
        while not self._stop.wait(self.every):  # ends when stop() is called
            self.sample()

    def __enter__(self) -> _Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()


def run_dask(folder: Path, models: dict, k: int, epochs: int) -> dict:
    import dask.dataframe as dd
    from distributed import Client, LocalCluster, get_task_stream

    from latentfactors import distributed as lfd

    out: dict = {"models": {}}
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                           host="127.0.0.1", dashboard_address=":0")  # fmt: skip
    try:
        with Client(cluster) as client:
            limits = [w["memory_limit"] for w in client.scheduler_info(n_workers=-1)["workers"]
                      .values()]  # fmt: skip
            out["worker_memory_limit_mb"] = min(limits) / 2**20 if limits else None
            warm = _warm_data()
            warm_d = lfd.from_dask_dataframe(dd.from_pandas(warm.to_dataframe(), npartitions=2),
                                             client, rating="rating")  # fmt: skip
            for model in models.values():
                lfd.fit(model.clone().set_params(n_epochs=1), warm_d)
            del warm_d
            with _Sampler(client) as ingest:
                t0 = time.perf_counter()
                data = lfd.from_dask_dataframe(dd.read_parquet(folder), client, rating="rating")
                out["dask_ingest_s"] = time.perf_counter() - t0
            out["ingest_peak_worker_rss_mb"] = max(ingest.workers.values())
            for name, model in models.items():
                with _Sampler(client) as sampler, get_task_stream(client=client) as ts:
                    fitted = lfd.fit(model.clone(), data,
                                     callbacks=[lambda m, info, s=sampler: s.sample()])  # fmt: skip
                sec = fitted.history_["seconds"][1:] or fitted.history_["seconds"]
                del fitted
                out["models"][name] = {
                    "dask_s_per_iter": statistics.median(sec),
                    "peak_worker_rss_mb": max(sampler.workers.values()),
                    "peak_client_rss_mb": sampler.client_mb,
                    "bytes_per_iter": _moved(name, data, k),
                    "tasks": _task_costs(ts.data),
                }
                gc.collect()
            out["worker_lifetime_peak_rss_mb"] = max(client.run(_peak_rss_mb).values())
    finally:
        cluster.close()
    return out


def _task_costs(events) -> dict:
    durations: dict[str, list[float]] = {}
    for ev in events:
        key = ev["key"][0] if isinstance(ev["key"], tuple) else str(ev["key"])
        prefix = key.rsplit("-", 1)[0]
        for s in ev["startstops"]:
            if s["action"] == "compute":
                durations.setdefault(prefix, []).append(s["stop"] - s["start"])
    return {p: {"count": len(v), "mean_s": float(np.mean(v)), "total_s": float(np.sum(v))}
            for p, v in durations.items()}  # fmt: skip


def _moved(name: str, data, k: int) -> int:
    """Bytes the client ships out and gathers back per iteration (factors, float32):
    ALS per half-step the fixed side out once and the solved side back; SVD every epoch
    both sides out and back once (the checkpoint). The same count either way."""
    return 2 * (data.n_users + data.n_items) * (k + 1) * 4


# ---------------------------------------------------------------------- Spark


def spark_only(folder: Path, k: int, iters: int, which: list[str], driver_memory: str) -> dict:
    """Spark ALS seconds per iteration on the Parquet folder (run with pyspark's Python)."""
    import spark_als

    spark_als.session(2, driver_memory)
    frame = spark_als.read_folder(folder, 2)
    out: dict = {"iters": iters, "driver_memory": driver_memory}
    for key in which:
        implicit = key == "implicit"
        one = spark_als.fit_frame(frame, k, 1, 2, implicit=implicit)
        many = spark_als.fit_frame(frame, k, 1 + iters, 2, implicit=implicit)
        out[key] = (many - one) / iters
    out["jvm_peak_rss_mb"] = spark_als.jvm_peak_rss_mb()
    spark_als.stop()
    return out


# ---------------------------------------------------------------------- run


def run(args) -> dict:
    names = args.models
    workdir_ctx = tempfile.TemporaryDirectory(dir=args.workdir, prefix="lf-bench-dask-")
    with workdir_ctx as tmp:
        work = Path(tmp)
        res = generate(args.n, work)
        res.update(k=args.k, epochs=args.epochs, machine=machine(),
                   versions=versions("numpy", "numba", "dask", "distributed"),
                   conditions=args.conditions, models={})  # fmt: skip
        for name in names:
            print(f"single machine: {name}", file=sys.stderr, flush=True)
            res["models"][name] = _child(
                ["--single-only", name, "--arrays", str(work / "arrays"), "--k", str(args.k),
                 "--epochs", str(args.epochs)], "SINGLE_JSON",
            )  # fmt: skip
        print("dask", file=sys.stderr, flush=True)
        dask_res = run_dask(work / "parquet", make_models(args.k, args.epochs, names), args.k,
                            args.epochs)  # fmt: skip
        for name, r in dask_res.pop("models").items():
            res["models"][name].update(r)
        res.update(dask_res)
        spark_names = args.spark_models if args.spark_models is not None else names
        which = [SPARK_KEYS[m] for m in names if m in SPARK_KEYS and m in spark_names]
        if args.spark_python and which:
            iters = args.spark_iters or (args.epochs if args.n < 50_000_000 else 1)
            mem = args.spark_driver_memory or ("12g" if args.n >= 50_000_000 else "6g")
            print(f"spark ({', '.join(which)}, N={iters}, driver {mem})", file=sys.stderr,
                  flush=True)  # fmt: skip
            res["spark"] = _child(
                ["--spark-only", "--parquet", str(work / "parquet"), "--k", str(args.k),
                 "--spark-iters", str(iters), "--spark-which", ",".join(which),
                 "--spark-driver-memory", mem], "SPARK_JSON", python=args.spark_python,
            )  # fmt: skip
    for r in res["models"].values():
        r["ratio_dask_over_single"] = r["dask_s_per_iter"] / r["single_s_per_iter"]
    if "ImplicitALS" in res["models"]:
        res["projection"] = projection(res)
    return res


def projection(res: dict) -> list[dict]:
    """Time per ALS iteration at 1B / 10B ratings on 8 / 32 / 128 workers, from the
    measured compute per rating and the bytes moved per iteration."""
    als = res["models"]["ImplicitALS"]
    compute = sum(t["total_s"] for p, t in als["tasks"].items() if p.startswith("ials_half"))
    per_rating = compute / (res["epochs"] * res["n"])  # seconds of one core per rating
    k = res["k"]
    rows = []
    bw = 1.25e9  # bytes/s per NIC (10 Gbit/s)
    cores = 8  # per worker
    eff = 0.8  # parallel efficiency of numba within a worker
    for n in (1e9, 1e10):
        n_users, n_items = n / 100, n / 1000  # the benchmark's shape
        factor_bytes = (n_users + n_items) * (k + 1) * 4
        for w in (8, 32, 128):
            t_compute = per_rating * n / (w * cores * eff)
            # client: sends each fixed side once, gathers each solved side once (its NIC);
            # workers fetch the fixed side from peers (log2 w rounds of the full side)
            t_client = 2 * factor_bytes / bw
            t_spread = np.log2(max(w, 2)) * factor_bytes / bw
            rows.append({"ratings": n, "workers": w, "compute_s": t_compute,
                         "client_io_s": t_client, "spread_s": t_spread,
                         "total_s": t_compute + t_client + t_spread})  # fmt: skip
    return rows


# ---------------------------------------------------------------------- page

SOLVE_TASKS = ("als_half", "ials_half", "sgd_block")
UNDER_LOAD = ("measured while other work (tests of other sessions) ran on the same 2 cores: "
              "absolute times are inflated and noisy; the ratios are the useful part")  # fmt: skip


def _mb(x) -> str:
    return "-" if x is None else f"{x:,.0f}"


def section(res: dict) -> list[str]:
    cond = res.get("conditions") or "not recorded"
    lines = [
        f"## {res['n']:,} ratings", "",
        f"Data: {res['n']:,} synthetic ratings ({res['n_users']:,} users, "
        f"{res['n_items']:,} items) as Parquet partitions; k = {res['k']}, "
        f"{res['epochs']} iterations; Dask ingest (validate, vocabularies, inner ids): "
        f"{res['dask_ingest_s']:.1f} s. Conditions: **{cond}**.",
    ]  # fmt: skip
    if res.get("machine"):
        lines[-1] += f" Machine: {res['machine']}; {res['versions']}."
    extra = []
    if res.get("generate_write_peak_rss_mb"):
        extra.append(f"generating and writing the data peaked at "
                     f"{_mb(res['generate_write_peak_rss_mb'])} MB")  # fmt: skip
    if res.get("ingest_peak_worker_rss_mb"):
        extra.append(f"Dask ingest peaked at {_mb(res['ingest_peak_worker_rss_mb'])} MB "
                     "per worker")  # fmt: skip
    if res.get("worker_memory_limit_mb"):
        extra.append(f"worker memory limit {_mb(res['worker_memory_limit_mb'])} MB")
    if extra:
        lines[-1] += " Memory: " + "; ".join(extra) + "."
    lines += [
        "",
        "| model | single machine (2 threads) s/iter | Dask (2 workers x 1 thread) s/iter "
        "| Dask / single | single-machine peak RSS (MB) | peak RSS per worker (MB) "
        "| client bytes / iter (MB) | solve tasks / iter | mean solve task s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in res["models"].items():
        solve = next(t for p, t in r["tasks"].items() if p in SOLVE_TASKS)
        lines.append(
            f"| {name} | {r['single_s_per_iter']:.2f} | {r['dask_s_per_iter']:.2f} | "
            f"{r['ratio_dask_over_single']:.2f} | {_mb(r.get('single_peak_rss_mb'))} | "
            f"{r['peak_worker_rss_mb']:.0f} | {r['bytes_per_iter'] / 2**20:.0f} | "
            f"{solve['count'] / res['epochs']:.0f} | {solve['mean_s']:.4f} |"
        )
    spark = res.get("spark")
    if spark:
        iters = spark.get("iters", res["epochs"])
        lines += ["", f"Spark MLlib ALS, local[2] (same data, k, reg 0.1; seconds per "
                  f"iteration = (fit with 1 + N iterations - fit with 1) / N, N = {iters}, so "
                  "Spark's job setup is left out as our warm-up is). pip's pyspark found no "
                  "native BLAS here and used its Java fallback, as a default install does. "
                  + (f"Driver memory {spark['driver_memory']}; the JVM's peak RSS "
                     f"{_mb(spark.get('jvm_peak_rss_mb'))} MB. " if "driver_memory" in spark
                     else "")
                  + res.get("spark_note", ""), "",
                  "| model | Spark s/iter | Dask s/iter | Dask / Spark |",
                  "|---|---|---|---|"]  # fmt: skip
        for name, key in SPARK_KEYS.items():
            if key in spark and name in res["models"]:
                d = res["models"][name]["dask_s_per_iter"]
                lines.append(f"| {name} | {spark[key]:.2f} | {d:.2f} | {d / spark[key]:.2f} |")
    else:
        lines += ["", "Spark ALS (local[2]) was not run: give `--spark-python` a Python "
                  "with pyspark (and java on the PATH); see `spark_als.py`."]  # fmt: skip
    return [*lines, ""]


def markdown(results: list[dict]) -> str:
    results = sorted(results, key=lambda r: r["n"])
    lines = [
        "# Dask vs single machine", "",
        f"Machine: {machine()}. {versions('numpy', 'numba', 'dask', 'distributed')} "
        "(a run that recorded its own machine and versions says so in its section).", "",
        "Each section is one run of `benchmarks/bench_dask.py` (its JSON: "
        "`results/dask-<n>.json`). Peak RSS per worker is sampled every 0.5 s and after "
        "every epoch; the single-machine peak is that of a process holding the data and "
        "fitting one model.", "",
    ]  # fmt: skip
    for res in results:
        lines += section(res)
    lines += [
        "SVD (DSGD) runs the single-machine SVD's own blocks (20 x 20 at 10M ratings): 400 "
        "tasks of a few ms per epoch, in 20 dependent sub-epochs, so at this size Dask's "
        "per-task cost (about 1 ms, plus a round trip per sub-epoch) dominates. Each block "
        "grows with the data (32 x 32 blocks of ~1M ratings at 1B), where the overhead is "
        "amortised; on small data use the single-machine SVD.", "",
    ]  # fmt: skip
    proj = [r for r in results if r.get("projection")]
    if proj:
        base = proj[-1]
        lines += ["## Projected time per ImplicitALS iteration", "",
                  f"From the measured compute per rating of the `ials_half` tasks (one core) "
                  f"in the {base['n']:,}-rating run, assuming 8 cores per worker at 80% "
                  "parallel efficiency, 10 Gbit/s NICs, users = ratings / 100, items = "
                  "ratings / 1000, k as above; the client sends each fixed side once and "
                  "gathers each solved side once per iteration (its own NIC), workers spread "
                  "the fixed side among themselves (log2(workers) rounds).", "",
                  "| ratings | workers | compute s | client I/O s | spread s | total s |",
                  "|---|---|---|---|---|---|"]  # fmt: skip
        for p in base["projection"]:
            lines.append(
                f"| {p['ratings']:.0e} | {p['workers']} | {p['compute_s']:.1f} | "
                f"{p['client_io_s']:.1f} | {p['spread_s']:.1f} | {p['total_s']:.1f} |"
            )
        lines += ["", "At 10B ratings the factors (10^8 users x k) pass through the client's "
                  "NIC twice per iteration: that, not compute, bounds the speed-up from more "
                  "workers. Keeping solved blocks on the workers (peer-to-peer only) is the "
                  "next step for that scale.", ""]  # fmt: skip
    for res in results:
        lines += [f"<details><summary>raw results, {res['n']:,} ratings (JSON)</summary>", "",
                  "```json", json.dumps(res, indent=1, default=float), "```", "</details>",
                  ""]  # fmt: skip
    return "\n".join(lines)


def render(folder: Path) -> Path:
    results = [json.loads(p.read_text()) for p in sorted(folder.glob("dask-*.json"))]
    if not results:
        raise SystemExit(f"no dask-*.json in {folder}")
    page = folder / "dask.md"
    page.write_text(markdown(results))
    return page


def _model_list(text: str) -> list[str]:
    names = [x.strip() for x in text.split(",") if x.strip()]
    bad = [x for x in names if x not in MODELS]
    if bad or not names:
        raise argparse.ArgumentTypeError(f"--models takes some of {','.join(MODELS)}; got {text!r}")
    return names


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=10_000_000)
    ap.add_argument("--k", type=int, default=32)
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument(
        "--models",
        type=_model_list,
        default=list(MODELS),
        help=f"comma-separated, some of {','.join(MODELS)} (default: all)",
    )
    ap.add_argument(
        "--results-dir",
        type=Path,
        default=RESULTS,
        help="where dask-<n>.json and dask.md go (default: benchmarks/results)",
    )
    ap.add_argument("--workdir", help="folder for the temporary Parquet and arrays "
                    "(needs ~25 bytes per rating of disk)")  # fmt: skip
    ap.add_argument(
        "--conditions", default="", help="how the machine was during the run, e.g. 'idle machine'"
    )
    ap.add_argument(
        "--render",
        action="store_true",
        help="only rebuild dask.md from the dask-*.json in --results-dir",
    )
    ap.add_argument("--spark-python", help="a Python with pyspark: also time Spark ALS")
    ap.add_argument("--spark-iters", type=int, help="N in (fit(1+N) - fit(1)) / N")
    ap.add_argument("--spark-models", type=_model_list, default=None,
                    help="which of --models Spark times too (default: all of them)")  # fmt: skip
    ap.add_argument("--spark-driver-memory", help="spark.driver.memory (default 12g from "
                    "50M ratings, else 6g)")  # fmt: skip
    ap.add_argument("--spark-from", type=Path, help="reuse the Spark numbers of a saved JSON")
    # the child processes
    ap.add_argument("--single-only", choices=MODELS, help=argparse.SUPPRESS)
    ap.add_argument("--arrays", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--spark-only", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--parquet", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--spark-which", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.single_only:
        res = single_only(args.arrays, args.single_only, args.k, args.epochs, threads=2)
        print("SINGLE_JSON " + json.dumps(res))
        return
    if args.spark_only:
        res = spark_only(args.parquet, args.k, args.spark_iters, args.spark_which.split(","),
                         args.spark_driver_memory)  # fmt: skip
        print("SPARK_JSON " + json.dumps(res))
        return
    out_dir = args.results_dir
    if not args.render:
        if args.spark_from:
            args.spark_python = None
        res = run(args)
        if args.spark_from:
            res["spark"] = json.loads(args.spark_from.read_text())["spark"]
            res["spark_note"] = "Spark's numbers come from an earlier run on the same data."
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / f"dask-{label(res['n'])}.json"
        path.write_text(json.dumps(res, indent=1, default=float) + "\n")
        print(f"wrote {path}", file=sys.stderr)
    print(f"wrote {render(out_dir)}", file=sys.stderr)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
