"""Serving-path costs: one-user recommend, similar_items and fold-in at 200K-1M items.

Builds a model from random factors (no training: only the request path is timed) with
100K users, 20 seen items each, k=64, an SVD (biased scores). Runs the same calls on
whatever ``latentfactors`` the interpreter imports, so the page compares two versions
by running this script twice (``--label``), e.g. against a checkout of an older commit::

    git worktree add /tmp/lf-old <commit>
    PYTHONPATH=/tmp/lf-old/src python benchmarks/bench_serving_path.py --label before
    python benchmarks/bench_serving_path.py --label after
    python benchmarks/bench_serving_path.py --report   # writes results/serving-path.md

Each call is repeated (medians and p95 in milliseconds); fold-in adds a new user with
50 interactions each time, so its cost includes the growth of the model.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
N_USERS = 100_000
K = 64
SEEN = 20


def build(n_items: int):
    import scipy.sparse as sp

    import latentfactors as lf
    from latentfactors.data import Vocabulary

    rng = np.random.default_rng(0)
    P = (rng.standard_normal((N_USERS, K)) * 0.1).astype(np.float32)
    Q = (rng.standard_normal((n_items, K)) * 0.1).astype(np.float32)
    bu = (rng.standard_normal(N_USERS) * 0.1).astype(np.float32)
    bi = (rng.standard_normal(n_items) * 0.1).astype(np.float32)
    cols = rng.integers(0, n_items, size=(N_USERS, SEEN))
    cols.sort(axis=1)
    seen = sp.csr_matrix(
        (np.full(N_USERS * SEEN, 4.0, np.float32), cols.ravel(),
         np.arange(0, N_USERS * SEEN + 1, SEEN)),
        shape=(N_USERS, n_items),
    )  # fmt: skip
    seen.sum_duplicates()
    users = Vocabulary(np.arange(N_USERS, dtype=np.int64), name="user")
    items = Vocabulary(np.arange(n_items, dtype=np.int64), name="item")
    model = lf.SVD(n_factors=K)
    if hasattr(model, "set_state"):
        model.set_state({
            "users": users, "items": items, "user_factors": P, "item_factors": Q,
            "user_bias": bu, "item_bias": bi, "user_items": seen, "global_mean": 3.5,
            "intercept": 3.5, "rating_scale": (1.0, 5.0), "random_state": 0,
            "n_train": int(seen.nnz), "history": {},
        })  # fmt: skip
    else:  # versions before get_state / set_state
        model.users_, model.items_ = users, items
        model.user_factors_, model.item_factors_ = P, Q
        model.user_bias_, model.item_bias_ = bu, bi
        model.user_items_ = seen
        model._user_vectors = P
        model.global_mean_ = model.intercept_ = 3.5
        model.rating_scale_ = (1.0, 5.0)
        model.random_state_, model.n_train_, model.history_ = 0, int(seen.nnz), {}
        model._fitting = False
    return model


def timed(fn, reps: int) -> dict:
    fn()  # warm-up (compiles kernels, builds caches)
    out = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1e3)
    out.sort()
    return {"median_ms": statistics.median(out), "p95_ms": out[int(0.95 * (len(out) - 1))],
            "reps": reps}  # fmt: skip


def run(label: str, sizes: list[int]) -> dict:
    import latentfactors as lf

    res = {"label": label, "version": lf.__version__, "sizes": {}}
    for n_items in sizes:
        model = build(n_items)
        rng = np.random.default_rng(1)
        counter = iter(range(10**9))
        row: dict = {}
        row["recommend_one"] = timed(lambda m=model: m.recommend(7, n=10), 50)
        row["similar_items"] = timed(lambda m=model: m.similar_items(11, n=10), 30)

        def new_user(counter=counter, rng=rng, n_items=n_items):
            uid = f"new{next(counter)}"
            items = rng.choice(n_items, 50, replace=False)
            return lf.Interactions.from_arrays([uid] * 50, items, ratings=np.full(50, 4.0))

        row["fold_in_update"] = timed(lambda m=model: m.fold_in(new_user()), 30)
        row["fold_in_then_recommend"] = timed(
            lambda m=model: m.recommend(m.fold_in(new_user()).users[0], n=10), 20
        )
        if hasattr(model, "recommend_for"):
            row["fold_in_no_update_recommend_for"] = timed(
                lambda m=model: m.recommend_for(m.fold_in(new_user(), update=False), n=10), 20
            )
        res["sizes"][str(n_items)] = row
        del model
    return res


def report() -> Path:
    runs = {p.stem.split("-")[-1]: json.loads(p.read_text())
            for p in sorted(RESULTS.glob("serving-path-*.json"))}  # fmt: skip
    before, after = runs.get("before"), runs.get("after")
    lines = [
        "# Serving-path costs",
        "",
        f"`python benchmarks/bench_serving_path.py` ({platform.machine()}, "
        f"{__import__('os').cpu_count()} cores; SVD from random factors, {N_USERS:,} users, "
        f"k={K}, {SEEN} seen items per user; medians of repeated calls, ms).",
        "",
        "| items | call | before (ms) | after (ms) | speed-up |",
        "|---|---|---|---|---|",
    ]
    names = {
        "recommend_one": "recommend(user, n=10)",
        "similar_items": "similar_items(item, n=10)",
        "fold_in_update": "fold_in(new user, 50 items), remembered",
        "fold_in_then_recommend": "fold_in + recommend(new user)",
        "fold_in_no_update_recommend_for": "fold_in(update=False) + recommend_for",
    }
    for size in (after or before or {"sizes": {}})["sizes"]:
        for key, title in names.items():
            a = (after or {}).get("sizes", {}).get(size, {}).get(key)
            b = (before or {}).get("sizes", {}).get(size, {}).get(key)
            bt = f"{b['median_ms']:.2f}" if b else "n/a"
            at = f"{a['median_ms']:.2f}" if a else "n/a"
            sp = f"{b['median_ms'] / a['median_ms']:.1f}x" if a and b else ""
            lines.append(f"| {int(size):,} | {title} | {bt} | {at} | {sp} |")
    for name, r in runs.items():
        lines.append("")
        lines.append(f"- {name}: latentfactors {r['version']} ({r['label']})")
    out = RESULTS / "serving-path.md"
    out.write_text("\n".join(lines) + "\n")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--label", default="after")
    ap.add_argument("--sizes", default="200000,1000000")
    ap.add_argument("--report", action="store_true")
    args = ap.parse_args()
    if args.report:
        print(report())
        return
    res = run(args.label, [int(s) for s in args.sizes.split(",")])
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"serving-path-{args.label}.json"
    path.write_text(json.dumps(res, indent=1))
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
