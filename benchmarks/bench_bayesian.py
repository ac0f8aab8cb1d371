"""BayesianMF against myFM (Gibbs-sampled factorization machines) on the same splits.

Accuracy first: the same train / test rows for both libraries, the same rank, the same
number of Gibbs sweeps and of kept samples, seeds fixed. myFM runs in its own
environment (``benchmarks/.venv-bayes``, ``pip install myfm``); this script writes the
splits once, runs latentfactors here and myFM there (``--only myfm``) on the same files.

    python benchmarks/bench_bayesian.py                      # every scenario
    python benchmarks/bench_bayesian.py --scenarios u3 --iters 100

Scenarios: ``u3`` (MovieLens 100K, the published fold u3: myFM's docs report RMSE 0.8944
at rank 8 there), ``small`` (ml-latest-small, a seeded random 80/20 split), ``cv5``
(MovieLens 100K, five random folds as Surprise's protocol). Variants: ``plain`` (biased
BPMF / an FM on user and item one-hots) and ``implicit`` (plus the SVD++ term / myFM's
normalised "items this user rated" group, as a relation block). Seconds are wall-clock of
``fit`` + predict after a warm-up fit that compiles our kernels, on whatever machine runs
this; on a shared machine they are not a benchmark (an oversubscribed machine slows numba's
OpenMP barriers several-fold: compare ``--threads 1``, since myFM's sampler is
single-threaded).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("LATENTFACTORS_TEST_DATA", ROOT.parent / "shared" / "data"))
PEER_PYTHON = ROOT / "benchmarks" / ".venv-bayes" / "bin" / "python"


# ---------------------------------------------------------------------- splits
def _read_100k(name: str) -> np.ndarray:
    return np.loadtxt(DATA / "ml-100k" / name, dtype=np.float64, usecols=(0, 1, 2))


def write_splits(out: Path, scenarios: list[str]) -> dict[str, list[str]]:
    """Each scenario's (train, test) files as .npy arrays of (user, item, rating) rows."""
    made: dict[str, list[str]] = {}
    for sc in scenarios:
        pairs = []
        if sc == "u3":
            pairs = [(_read_100k("u3.base"), _read_100k("u3.test"))]
        elif sc == "small":
            import pandas as pd

            df = pd.read_csv(DATA / "ml-latest-small" / "ratings.csv")
            rows = df[["userId", "movieId", "rating"]].to_numpy(np.float64)
            perm = np.random.default_rng(0).permutation(len(rows))
            cut = int(0.8 * len(rows))
            pairs = [(rows[perm[:cut]], rows[perm[cut:]])]
        elif sc == "cv5":
            rows = _read_100k("u.data")
            perm = np.random.default_rng(0).permutation(len(rows))
            folds = np.array_split(perm, 5)
            for f in range(5):
                test = folds[f]
                train = np.concatenate([folds[g] for g in range(5) if g != f])
                pairs.append((rows[train], rows[test]))
        else:
            raise SystemExit(f"unknown scenario {sc!r}; use u3, small, cv5")
        made[sc] = []
        for n, (tr, te) in enumerate(pairs):
            stem = out / f"{sc}-{n}"
            np.save(f"{stem}-train.npy", tr)
            np.save(f"{stem}-test.npy", te)
            made[sc].append(str(stem))
    return made


def _rmse(pred: np.ndarray, train: np.ndarray, test: np.ndarray) -> float:
    """Test RMSE with predictions clipped to the training ratings' range (both libraries)."""
    pred = np.clip(pred, train[:, 2].min(), train[:, 2].max())
    return float(np.sqrt(np.mean((pred - test[:, 2]) ** 2)))


# ---------------------------------------------------------------------- the two libraries
def run_latentfactors(
    stem: str, rank: int, iters: int, kept: int, implicit: bool, seed: int
) -> dict:
    threads = int(os.environ["BENCH_THREADS"]) if os.environ.get("BENCH_THREADS") else None
    from latentfactors import Interactions
    from latentfactors.models import BayesianMF

    tr, te = np.load(f"{stem}-train.npy"), np.load(f"{stem}-test.npy")
    train = Interactions.from_arrays(tr[:, 0].astype(np.int64), tr[:, 1].astype(np.int64),
                                     ratings=tr[:, 2])  # fmt: skip
    t0 = time.perf_counter()
    model = BayesianMF(n_factors=rank, n_epochs=iters, burn_in=iters - kept, implicit=implicit,
                       n_threads=threads, random_state=seed).fit(train)  # fmt: skip
    pred = model.predict(te[:, 0].astype(np.int64), te[:, 1].astype(np.int64))
    return {"rmse": _rmse(pred, tr, te), "seconds": time.perf_counter() - t0}


def _warm_up() -> None:
    """Compile (or load from numba's cache) every kernel before the timed fits: myFM is
    ahead-of-time compiled C++, so a first-call JIT in our seconds would time the compiler."""
    from latentfactors import Interactions
    from latentfactors.models import BayesianMF

    rng = np.random.default_rng(0)
    cells = rng.choice(20 * 30, 200, replace=False)
    u, i = cells // 30, cells % 30
    tiny = Interactions.from_arrays(u, i, ratings=rng.integers(1, 6, 200).astype(np.float64))
    for implicit in (False, True):
        m = BayesianMF(n_factors=2, n_epochs=3, burn_in=1, implicit=implicit, random_state=0)
        m.fit(tiny).predict(u[:5], i[:5])


def run_myfm(stem: str, rank: int, iters: int, kept: int, implicit: bool, seed: int) -> dict:
    import myfm
    import scipy.sparse as sps

    tr, te = np.load(f"{stem}-train.npy"), np.load(f"{stem}-test.npy")
    users = {u: n for n, u in enumerate(np.unique(tr[:, 0]))}
    items = {i: n for n, i in enumerate(np.unique(tr[:, 1]))}
    nu, ni = len(users), len(items)
    # the user side as a relation block (myFM's way for repeated per-user features): row
    # u is the user's one-hot (and, with implicit, the normalised items they rated); the
    # extra last row, all zeros, stands for users unknown in training
    block = [
        sps.identity(nu, format="csr"),
    ]
    groups = [ni, nu]
    if implicit:
        ut = np.array([users[x] for x in tr[:, 0]])
        it = np.array([items[x] for x in tr[:, 1]])
        rated = sps.csr_matrix((np.ones(len(tr)), (ut, it)), shape=(nu, ni))
        norm = 1.0 / np.sqrt(np.maximum(np.asarray(rated.sum(axis=1)).ravel(), 1))
        block.append(sps.csr_matrix(sps.diags(norm) @ rated))
        groups.append(ni)
    data = sps.vstack([sps.hstack(block, format="csr"),
                       sps.csr_matrix((1, sum(groups[1:])))], format="csr")  # fmt: skip

    def encode(rows: np.ndarray):
        u = np.array([users.get(x, nu) for x in rows[:, 0]])
        i = np.array([items.get(x, -1) for x in rows[:, 1]])
        r = np.arange(len(rows))
        ok = i >= 0
        X = sps.csr_matrix((np.ones(ok.sum()), (r[ok], i[ok])), shape=(len(rows), ni))
        return X, [myfm.RelationBlock(u.tolist(), data)]

    X_tr, rel_tr = encode(tr)
    X_te, rel_te = encode(te)
    t0 = time.perf_counter()
    fm = myfm.MyFMRegressor(rank=rank, random_seed=seed)
    fm.fit(X_tr, tr[:, 2], X_rel=rel_tr, n_iter=iters, n_kept_samples=kept, group_shapes=groups)
    pred = fm.predict(X_te, rel_te)
    return {"rmse": _rmse(pred, tr, te), "seconds": time.perf_counter() - t0}


# ---------------------------------------------------------------------- driver
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenarios", default="u3,small,cv5")
    ap.add_argument("--variants", default="plain,implicit")
    ap.add_argument("--rank", type=int, default=8)
    ap.add_argument("--iters", type=int, default=200)
    ap.add_argument("--kept", type=int, default=160, help="samples kept (the rest: burn-in)")
    ap.add_argument(
        "--threads",
        type=int,
        help="latentfactors' kernel threads (default: all; myFM's sampler is single-threaded)",
    )
    ap.add_argument("--seeds", default="0,1,2", help="each library runs once per seed")
    ap.add_argument("--only", choices=("latentfactors", "myfm"))
    ap.add_argument("--split-dir")
    ap.add_argument("--no-write", action="store_true", help="print the page, write nothing")
    args = ap.parse_args()
    scenarios = args.scenarios.split(",")
    variants = args.variants.split(",")
    if args.only:  # one library on splits already written (used for the peer's venv)
        run = run_latentfactors if args.only == "latentfactors" else run_myfm
        if args.only == "latentfactors":
            _warm_up()
        out = {}
        seeds = [int(x) for x in args.seeds.split(",")]
        for sc in scenarios:
            for v in variants:
                stems = sorted(str(p)[: -len("-train.npy")]
                               for p in Path(args.split_dir).glob(f"{sc}-*-train.npy"))  # fmt: skip
                # per seed: the mean RMSE over the folds and the seconds summed over them
                rmse, secs = [], []
                for seed in seeds:
                    res = [run(s, args.rank, args.iters, args.kept, v == "implicit", seed)
                           for s in stems]  # fmt: skip
                    rmse.append(float(np.mean([r["rmse"] for r in res])))
                    secs.append(float(np.sum([r["seconds"] for r in res])))
                out[f"{sc}/{v}"] = {
                    "rmse": float(np.mean(rmse)), "rmse_sd": float(np.std(rmse, ddof=1))
                    if len(rmse) > 1 else 0.0, "rmse_per_seed": rmse,
                    "seconds": float(np.median(secs)), "folds": len(stems), "seeds": seeds,
                }  # fmt: skip
        print(json.dumps(out))
        return
    threads = [args.threads] if args.threads else [1, os.cpu_count() or 1]
    runs = [(f"latentfactors, {t} thread{'s' * (t > 1)}", sys.executable, t) for t in threads]
    runs.append(("myFM (1 thread)", str(PEER_PYTHON), None))
    with tempfile.TemporaryDirectory() as tmp:
        write_splits(Path(tmp), scenarios)
        common = ["--scenarios", args.scenarios, "--variants", args.variants, "--rank",
                  str(args.rank), "--iters", str(args.iters), "--kept", str(args.kept),
                  "--seeds", args.seeds, "--split-dir", tmp]  # fmt: skip
        results = {}
        for label, python, t in runs:
            lib = "myfm" if t is None else "latentfactors"
            if lib == "myfm" and not PEER_PYTHON.exists():
                print("myFM skipped: create benchmarks/.venv-bayes and pip install myfm")
                continue
            env = dict(os.environ, BENCH_THREADS=str(t or ""))
            proc = subprocess.run([python, __file__, "--only", lib, *common], check=True,
                                  capture_output=True, text=True, env=env)  # fmt: skip
            results[label] = json.loads(proc.stdout.strip().splitlines()[-1])
            print(label, results[label], flush=True)
    report(results, args)


def report(results: dict, args) -> None:
    """The results page (``results/bayesian.md``) and its JSON twin."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from common import command_line, git_rev, machine, versions, write_json, write_results

    head = (
        f"rank {args.rank}, {args.iters} sweeps, {args.kept} samples kept, seeds "
        f"{args.seeds}. RMSE: the mean over seeds of the mean over a scenario's folds, +- the "
        "standard deviation across seeds; seconds: fit + predict summed over the folds, the "
        "median over seeds; per sweep = seconds / (sweeps x folds)"
    )
    lines = [
        "# BayesianMF against myFM",
        "",
        f"Machine: {machine()}. Libraries: "
        f"{versions('latentfactors', 'numpy', 'numba')}, myFM in `benchmarks/.venv-bayes`. "
        f"Commit {git_rev()}. Command: `{command_line()}`.",
        "",
        head + ". Same train/test rows for both libraries (see the script's docstring).",
        "",
        "| scenario | library | RMSE | +- sd | seconds | ms per sweep |",
        "|---|---|---|---|---|---|",
    ]
    first = next(iter(results.values()), {})
    for key in first:
        for label, res in results.items():
            r = res[key]
            per = 1e3 * r["seconds"] / (args.iters * r["folds"])
            lines.append(f"| {key} | {label} | {r['rmse']:.4f} | {r['rmse_sd']:.4f} | "
                         f"{r['seconds']:.2f} | {per:.1f} |")  # fmt: skip
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.no_write:
        write_results("bayesian", text)
        write_json("bayesian", {"settings": vars(args), "results": results})


if __name__ == "__main__":
    main()
