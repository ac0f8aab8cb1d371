"""Explicit ALS: how many conjugate-gradient steps per row the default needs.

    python benchmarks/check_als_cg_steps.py           # the study's six explicit sets
    python benchmarks/check_als_cg_steps.py --large   # + the benchmarks' 10M synthetic set

ALS's CG solves are warm-started from the previous epoch's factors, so a step spent
early is not lost; this measures held-out RMSE and fit time of ``cg_steps`` 1, 2 and 3
and of the exact solve on every explicit set of ``study_lodo.py`` (same 80/20 split,
seed 0, k), at ALS's default 10 epochs and at the benchmarks' 20, and SVD at the same
epochs for the fit-time ratio (issue 16's target: ALS within 3x of SVD). Two threads;
each fit timed once after a warm-up fit, so small-set times are noisy to about 10%.
Writes ``results/als-cg-steps.md`` and ``.json``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import study_lodo as S
from common import RESULTS, command_line, git_rev, machine, split, versions, write_json

THREADS = 2
VARIANTS = [("cg, 1 step", dict(cg_steps=1)), ("cg, 2 steps", dict(cg_steps=2)),
            ("cg, 3 steps", dict(cg_steps=3)), ("exact", dict(solver="exact"))]  # fmt: skip


def rmse(model, test) -> float:
    pred = model.predict(test.users.ids(test.user_ids), test.items.ids(test.item_ids))
    return float(np.sqrt(np.mean((pred - test.values) ** 2)))


def timed(make, train):
    t0 = time.perf_counter()
    model = make().fit(train)
    return model, time.perf_counter() - t0


def main() -> None:
    import latentfactors as lf

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--large", action="store_true", help="add the 10M synthetic set")
    args = ap.parse_args()
    warm = lf.make_synthetic(300, 200, 5000, seed=0).interactions
    for kw in [{}] + [v for _, v in VARIANTS]:
        lf.ALS(n_factors=4, n_epochs=1, **kw).fit(warm)
    lf.SVD(n_factors=4, n_epochs=1).fit(warm)
    sets = [s for s in S.SETS + (S.LARGE if args.large else []) if s[1] == "explicit"]
    rows = []
    for name, _, k, build in sets:
        train, test = split(build())
        for epochs in (10, 20):
            base = dict(n_factors=k, n_epochs=epochs, n_threads=THREADS, random_state=0)
            als = dict(base, reg=0.1)  # the fixed default of the time (no reg search)
            svd, svd_s = timed(lambda base=base: lf.SVD(**base), train)
            row = {"set": name, "k": k, "epochs": epochs, "n_train": len(train),
                   "SVD": {"rmse": rmse(svd, test), "fit_s": svd_s}}  # fmt: skip
            for label, kw in VARIANTS:
                m, sec = timed(lambda kw=kw, als=als: lf.ALS(**als, **kw), train)
                row[label] = {"rmse": rmse(m, test), "fit_s": sec}
            rows.append(row)
            print(name, epochs, {key: (round(v["rmse"], 4), round(v["fit_s"], 3))
                                 for key, v in row.items() if isinstance(v, dict)},
                  flush=True)  # fmt: skip
    write_json("als-cg-steps", {"rows": rows})
    labels = [label for label, _ in VARIANTS]
    lines = [
        "# Explicit ALS: conjugate-gradient steps per row",
        "",
        f"Machine: {machine()}. Libraries: {versions('latentfactors', 'numpy', 'numba')}. "
        f"Commit {git_rev()}. Command: `{command_line()}`.",
        "",
        "Held-out RMSE on the study's 80/20 split (seed 0) of every explicit set of "
        "`study_lodo.py`, k as there, ALS at reg=0.1 (its default when this ran, before "
        'reg="auto"), its other parameters at their defaults, '
        f"{THREADS} threads; fit seconds (one timed fit after a warm-up, so small-set "
        "times are noisy to about 10%) and their ratio to SVD's at the same epochs.",
        "",
        "| set | epochs | SVD RMSE | "
        + " | ".join(f"ALS {x} RMSE" for x in labels)
        + " | SVD s | "
        + " | ".join(f"{x} s (/ SVD)" for x in labels)
        + " |",
        "|---|---|" + "---|" * (2 * len(labels) + 2),
    ]
    for r in rows:
        svd_s = r["SVD"]["fit_s"]
        lines.append(
            f"| {r['set']} | {r['epochs']} | {r['SVD']['rmse']:.4f} | "
            + " | ".join(f"{r[x]['rmse']:.4f}" for x in labels)
            + f" | {svd_s:.3f} | "
            + " | ".join(f"{r[x]['fit_s']:.3f} ({r[x]['fit_s'] / svd_s:.1f}x)" for x in labels)
            + " |"
        )
    (RESULTS / "als-cg-steps.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
