"""Scale: 100 million synthetic ratings on this machine, SVD and ImplicitALS with k=64.

Run inside the peers' environment (``benchmarks/setup_peers.sh``)::

    benchmarks/.venv-peers/bin/python benchmarks/bench_scale.py            # 100M, 3 epochs
    benchmarks/.venv-peers/bin/python benchmarks/bench_scale.py --quick    # 10M, 2 epochs

The data (``make_synthetic``: 1M users, 100K items, rank 16, Zipf-like popularity) is
generated once and written to a temporary ``.npy`` folder; every model then trains in its
own process, which loads the arrays, builds the ``Interactions`` container and fits, so
the peak RSS reported for each is that process's own high-water mark (data, container,
model and training state together), not a number polluted by an earlier fit.

Peers: implicit's ALS takes a scipy CSR and runs at this size, so it runs here on the same
data (ratings as confidences, k=64, same iterations, 2 threads). Surprise and cornac are
not attempted at 100M (Surprise's trainset dicts and cornac's triple list hold per-rating
Python objects), nor LightFM (already left out of the 10M implicit scenario for time).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from common import command_line, git_rev, machine, versions, write_json, write_results

THREADS = 2
K = 64


def peak_rss_mb() -> float:
    # VmHWM: this process's own high-water mark. ru_maxrss is inherited across
    # fork + exec, so a child started by a parent holding the data reported the parent's
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(kind: str, folder: Path, epochs: int) -> dict:
    """Load the arrays, build the container, fit one model; runs in its own process."""
    t0 = time.perf_counter()
    users = np.load(folder / "users.npy")
    items = np.load(folder / "items.npy")
    ratings = np.load(folder / "ratings.npy")
    if kind == "implicit-ALS":
        import scipy.sparse as sp
        from implicit.cpu.als import AlternatingLeastSquares
        from threadpoolctl import threadpool_limits

        mat = sp.csr_matrix((ratings, (users, items)))
        del users, items, ratings
        load_s = time.perf_counter() - t0
        model = AlternatingLeastSquares(factors=K, iterations=epochs, num_threads=THREADS,
                                        random_state=0, calculate_training_loss=False)  # fmt: skip
        model.fit(mat[:1000, :], show_progress=False)  # compile-free; warms the thread pool
        model = AlternatingLeastSquares(factors=K, iterations=epochs, num_threads=THREADS,
                                        random_state=0)  # fmt: skip
        t = time.perf_counter()
        with threadpool_limits(1, "blas"):  # implicit asks for single-threaded BLAS
            model.fit(mat, show_progress=False)
        fit_s = time.perf_counter() - t
        return {"library": "implicit", "model": "ALS", "rows": int(mat.nnz), "load_s": load_s,
                "fit_s": fit_s, "epoch_s": [fit_s / epochs] * epochs, "setup_s": 0.0,
                "peak_rss_mb": peak_rss_mb()}  # fmt: skip

    import latentfactors as lf

    if kind == "build":  # the container against SciPy's CSR, same arrays, same process
        import scipy.sparse as sp

        warm = lf.Interactions.from_arrays(users[:2_000_000], items[:2_000_000],
                                           ratings=ratings[:2_000_000])  # fmt: skip
        warm.to_csc()  # JIT (cached)
        out: dict = {"library": "build", "model": "container", "rows": len(users)}
        for _ in range(2):
            t = time.perf_counter()
            mat = sp.csr_matrix((ratings, (users, items)))
            scipy_s = time.perf_counter() - t
            del mat
            t = time.perf_counter()
            data = lf.Interactions.from_arrays(users, items, ratings=ratings, rating_scale=(1, 5))
            _ = data.csr
            ours_s = time.perf_counter() - t
            t = time.perf_counter()
            csc = data.to_csc()
            csc_s = time.perf_counter() - t
            del data, csc
            out.setdefault("scipy_csr_s", []).append(scipy_s)
            out.setdefault("ours_s", []).append(ours_s)
            out.setdefault("csc_s", []).append(csc_s)
        out["peak_rss_mb"] = peak_rss_mb()
        return out

    data = lf.Interactions.from_arrays(users, items, ratings=ratings, rating_scale=(1, 5))
    del users, items, ratings
    _ = data.csr  # the CSC is built by the trainer that needs it, and freed after the fit
    load_s = time.perf_counter() - t0
    warm = lf.make_synthetic(300, 200, 5000, seed=0).interactions
    cls = {"SVD": lf.SVD, "ImplicitALS": lf.ImplicitALS, "ImplicitALS-auto": lf.ImplicitALS}[kind]
    # a fixed amount of work: ImplicitALS at a fixed reg (its value before the search; the
    # peer's is fixed too), and once more with the default reg="auto", whose search on a
    # validation slice is the setup time of that row
    kw = {"reg": 30.0} if kind == "ImplicitALS" else {}
    cls(n_factors=K, n_epochs=1, n_threads=THREADS, random_state=0, **kw).fit(warm)  # JIT
    model = cls(n_factors=K, n_epochs=epochs, n_threads=THREADS, random_state=0, **kw)
    t = time.perf_counter()
    model.fit(data)
    fit_s = time.perf_counter() - t
    epoch_s = [float(s) for s in model.history_["seconds"]]
    loss = {k: v[-1] for k, v in model.history_.items() if k not in ("epoch", "seconds")}
    label = kind
    if kind == "ImplicitALS":
        label = "ImplicitALS, reg=30"
    elif kind == "ImplicitALS-auto":
        label = f'ImplicitALS, reg="auto" (chose {model.reg_:g})'
    return {"library": "ours", "model": label, "rows": len(data), "load_s": load_s,
            "fit_s": fit_s, "epoch_s": epoch_s, "setup_s": fit_s - sum(epoch_s),
            "peak_rss_mb": peak_rss_mb(), "final": loss,
            "container_mb": data.nbytes / 1e6 if hasattr(data, "nbytes") else None}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="10M ratings, 2 epochs")
    ap.add_argument(
        "--child", nargs=3, metavar=("KIND", "FOLDER", "EPOCHS"), help=argparse.SUPPRESS
    )
    args = ap.parse_args()
    if args.child:
        kind, folder, epochs = args.child
        print(json.dumps(child(kind, Path(folder), int(epochs))))
        return

    import latentfactors as lf

    n = 10_000_000 if args.quick else 100_000_000
    epochs = 2 if args.quick else 3
    rows = []
    with tempfile.TemporaryDirectory(prefix="lf-scale-") as tmp:
        folder = Path(tmp)
        t = time.perf_counter()
        syn = lf.make_synthetic(n // 100, n // 1000, n, rank=16, seed=0)
        gen_s = time.perf_counter() - t
        data = syn.interactions
        # in a random order, as files and tables arrive (not already grouped by user)
        perm = np.random.default_rng(1).permutation(len(data))
        np.save(folder / "users.npy", data.user_ids[perm])
        np.save(folder / "items.npy", data.item_ids[perm])
        np.save(folder / "ratings.npy", data.values[perm].astype(np.float32))
        shape = (data.n_users, data.n_items, len(data))
        del syn, data, perm
        print(f"generated {shape[2]:,} ratings ({shape[0]:,} users x {shape[1]:,} items) "
              f"in {gen_s:.1f}s", flush=True)  # fmt: skip
        for kind in ("build", "SVD", "ImplicitALS", "ImplicitALS-auto", "implicit-ALS"):
            proc = subprocess.run(
                [sys.executable, __file__, "--child", kind, str(folder), str(epochs)],
                capture_output=True, text=True,
            )  # fmt: skip
            if proc.returncode != 0:
                tail = (proc.stderr.strip().splitlines() or ["?"])[-1]
                print(f"  {kind}: failed ({tail})", flush=True)
                rows.append({"library": "implicit" if kind == "implicit-ALS" else "ours",
                             "model": kind, "error": tail})  # fmt: skip
                continue
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            rows.append(r)
            print(f"  {kind}: {r}", flush=True)
    report(rows, shape, gen_s, epochs, args)


def report(rows, shape, gen_s, epochs, args) -> None:
    n_users, n_items, n = shape
    lines = [
        "# Scale benchmark",
        "",
        f"Machine: {machine()}, {_mem_gib():.0f} GiB RAM. Libraries: "
        f"{versions('latentfactors', 'implicit', 'numpy', 'numba')}. Commit {git_rev()}. "
        f"Command: `{command_line()}`.",
        "",
        f"Synthetic explicit ratings from `make_synthetic` (rank 16): {n:,} ratings, "
        f"{n_users:,} users x {n_items:,} items, generated in {gen_s:.0f} s. k={K}, "
        f"{epochs} epochs, {THREADS} threads. Each model in its own process; peak RSS is that "
        "process's high-water mark (arrays, container and its CSR, the item side a trainer "
        "builds, model, training state). ImplicitALS and implicit's ALS read the ratings as "
        "confidences; ImplicitALS runs at a fixed reg (implicit's ALS has a fixed one) and "
        'with its default reg="auto", whose search (15 epochs on the training data less a '
        "validation slice) is that row's setup time.",
        "",
        "| library | model | load + container s | setup s | s / epoch | fit s | peak RSS GB |",
        "|---|---|---|---|---|---|---|",
    ]
    build = next((r for r in rows if r.get("library") == "build" and "error" not in r), None)
    for r in rows:
        if r.get("library") == "build":
            continue
        if "error" in r:
            lines.append(f"| {r['library']} | {r['model']} | failed: {r['error']} | | | | |")
            continue
        per = np.mean(r["epoch_s"])
        lines.append(
            f"| {r['library']} | {r['model']} | {r['load_s']:.1f} | {r['setup_s']:.1f} | "
            f"{per:.1f} | {r['fit_s']:.1f} | {r['peak_rss_mb'] / 1024:.2f} |"
        )
    if build is not None:
        sp_s, ours_s, csc_s = (min(build[k]) for k in ("scipy_csr_s", "ours_s", "csc_s"))
        lines += [
            "",
            "## Building the container",
            "",
            "The same shuffled arrays (int32 ids, float32 ratings) in one process, best of 2: "
            "`scipy.sparse.csr_matrix((r, (u, i)))` (SciPy converts the triples and sums "
            "duplicates, which sorts the column indices of every row) against "
            "`Interactions.from_arrays(...)` plus its `.csr` (validated, raw ids mapped to "
            "inner ids, sorted by (user, item), duplicates refused with examples). The CSC is "
            "not part of the container: a trainer that needs the item side builds it (the "
            "last column) and frees it after the fit.",
            "",
            "| SciPy CSR s | ours s | ours / SciPy | CSC when needed s |",
            "|---|---|---|---|",
            f"| {sp_s:.2f} | {ours_s:.2f} | {ours_s / sp_s:.2f} | {csc_s:.2f} |",
        ]
    lines += [
        "",
        "Not attempted at this size: Surprise and cornac, whose inputs are per-rating Python "
        "objects (Surprise's trainset dicts, cornac's list of triples; at 10M ratings in "
        "`explicit.md` they ran, single-threaded), and LightFM (an implicit model, already "
        "left out of the 10M implicit scenario for time).",
    ]
    name = "scale" + ("-quick" if args.quick else "")
    write_json(name, {"shape": shape, "generate_s": gen_s, "epochs": epochs, "rows": rows})
    path = write_results(name, "\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"written to {path}")


def _mem_gib() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal"):
            return int(line.split()[1]) / 1024**2
    return float("nan")


if __name__ == "__main__":
    main()
