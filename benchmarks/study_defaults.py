"""Why the defaults are what they are, and why some targets are missed: a study.

Run inside the peers' environment (Surprise is needed for part 3)::

    benchmarks/.venv-peers/bin/python benchmarks/study_defaults.py           # ~6 minutes
    benchmarks/.venv-peers/bin/python benchmarks/study_defaults.py --quick   # no 10M set

1. ImplicitALS: confidence (log / linear) x reg on ML-100K, Last.fm 2K (k=50, 20
   iterations) and synthetic implicit sets (k=64, 15 iterations), NDCG@10 on the
   benchmark's 80/20 split.
2. BPR: learning rate on the same sets (50 epochs on the real sets, 20 on the synthetic
   ones, as in ``bench_implicit.py``); two seeds on the small sets.
3. SVD speed per core: ours on one thread against Surprise (single-threaded) on ML-100K,
   k=50, 20 epochs; how far two cores can take the ratio.

Writes ``results/defaults-study.md`` and ``.json``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from common import command_line, dataset, git_rev, machine, split, versions, write_json
from common import write_results as write_page


def ndcg(model, train, test) -> float:
    import latentfactors as lf

    res = lf.evaluate(model, test, train=train, k=10, metrics=["ndcg@10"])
    return float(res.metrics["ndcg@10"])


def sets(quick: bool):
    import latentfactors as lf

    out = []
    for name in ("ml-100k", "lastfm"):
        train, test = split(dataset(name).interactions)
        out.append((name, train, test, 50, 20, 50, (0, 1)))
    sizes = (1_000_000,) if quick else (1_000_000, 10_000_000)
    for n in sizes:
        syn = lf.make_synthetic(n // 50, n // 200, n, implicit=True, seed=0)
        train, test = split(syn.interactions)
        out.append((f"synthetic {n // 1_000_000}M", train, test, 64, 15, 20, (0,)))
    return out


def ials_grid(cases, rows):
    import latentfactors as lf

    for name, train, test, k, iters, _, _ in cases:
        for conf in ("log", "linear"):
            for reg in (1.0, 10.0, 30.0):
                if name == "synthetic 10M" and reg != 30.0:
                    continue  # time; reg 30 is best for both on the 1M set
                m = lf.ImplicitALS(n_factors=k, n_epochs=iters, confidence=conf, reg=reg,
                                   n_threads=2, random_state=0).fit(train)  # fmt: skip
                rows.append({"data": name, "confidence": conf, "reg": reg,
                             "ndcg": ndcg(m, train, test)})  # fmt: skip
                print("  ials", rows[-1], flush=True)


#: BPR learning-rate settings: constant rates, then schedules at the default lr 0.05
BPR_SETTINGS = {
    "lr 0.005": {"lr": 0.005, "lr_decay_to": 1.0},
    "lr 0.01": {"lr": 0.01, "lr_decay_to": 1.0},
    "lr 0.02": {"lr": 0.02, "lr_decay_to": 1.0},
    "lr 0.05": {"lr": 0.05, "lr_decay_to": 1.0},
    "0.05, decay from the start": {"lr_decay_start": 0.0},
    "0.05, decay after 70% (default)": {},
}


def bpr_grid(cases, rows):
    import latentfactors as lf

    for name, train, test, k, _, epochs, seeds in cases:
        for label, kw in BPR_SETTINGS.items():
            scores = []
            for seed in seeds:
                m = lf.BPR(n_factors=k, n_epochs=epochs, n_threads=2, random_state=seed,
                           **kw).fit(train)  # fmt: skip
                scores.append(ndcg(m, train, test))
            rows.append({"data": name, "setting": label, "epochs": epochs,
                         "ndcg": float(np.mean(scores)), "seeds": len(seeds)})  # fmt: skip
            print("  bpr", rows[-1], flush=True)


def svd_per_core(rows):
    import latentfactors as lf

    train, _ = split(dataset("ml-100k").interactions)

    def best(fit, repeats=5):
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            fit()
            times.append(time.perf_counter() - t)
        return min(times)

    for threads in (1, 2):

        def fit(threads=threads):
            return lf.SVD(n_factors=50, n_epochs=20, n_threads=threads, random_state=0).fit(train)

        fit()
        fit_s = best(fit)
        epochs_s = float(np.sum(fit().history_["seconds"]))
        rows.append({"library": "ours", "threads": threads, "fit_s": fit_s,
                     "epochs_s": epochs_s, "setup_s": fit_s - epochs_s})  # fmt: skip
        print("  svd", rows[-1], flush=True)
    try:
        import surprise as sp
    except ImportError:
        return
    frame = train.to_dataframe()[["user", "item", "rating"]]
    trainset = sp.Dataset.load_from_df(frame, sp.Reader(rating_scale=(1, 5))).build_full_trainset()
    fit_s = best(lambda: sp.SVD(n_factors=50, n_epochs=20, random_state=0).fit(trainset))
    rows.append({"library": "surprise", "threads": 1, "fit_s": fit_s, "epochs_s": None,
                 "setup_s": None})  # fmt: skip
    print("  svd", rows[-1], flush=True)


def _larger_sets() -> str:
    """The synthetic SVD-vs-Surprise ratios of the last explicit benchmark, if any."""
    import json

    from common import RESULTS

    path = RESULTS / "explicit.json"
    if not path.exists():
        return ""
    rows = json.loads(path.read_text()).get("synthetic", [])
    out = []
    for r in rows:
        if r["library"] == "surprise" and r["model"] == "SVD":
            ours = [o for o in rows if o["scenario"] == r["scenario"] and o["library"] == "ours"
                    and o["model"] == "SVD"]  # fmt: skip
            if ours:
                out.append(f"{r['scenario']}: {r['fit_s'] / ours[0]['fit_s']:.1f}x")
    return f" (results/explicit.md, {', '.join(out)})" if out else ""


def report(ials, bpr, svd, quick, meta=None) -> None:
    """Write the page (and, for a fresh run, its JSON; ``meta`` is a past run's)."""
    import pandas as pd

    if meta is None:
        run = (f"{machine()}. Libraries: {versions('latentfactors', 'surprise', 'numba')}. "
               f"Commit {git_rev()}. Command: `{command_line()}`")  # fmt: skip
    else:
        run = (f"{meta['machine']}. Libraries: {meta['versions']}. Commit {meta['commit']}. "
               f"Command: `{meta['command']}`")  # fmt: skip
    lines = [
        "# Defaults study",
        "",
        f"Machine: {run}.",
        "",
        "NDCG@10 on the benchmarks' 80/20 split (seed 0), training items excluded.",
        "",
        "## ImplicitALS: confidence x reg (alpha 1)",
        "",
    ]
    t = pd.DataFrame(ials).pivot_table(index=["data", "reg"], columns="confidence",
                                        values="ndcg", sort=False)  # fmt: skip
    lines += ["| data | reg | log | linear |", "|---|---|---|---|"]
    for (data, reg), r in t.iterrows():
        lines.append(f"| {data} | {reg:g} | {r['log']:.4f} | {r['linear']:.4f} |")
    lines += [
        "",
        "Log confidence (the default) wins by 2x on Last.fm, whose play counts run to the "
        "hundreds of thousands; linear confidence wins on the synthetic sets, whose counts "
        "are drawn as 1 + Poisson(exp(p_u . q_i)), so a raw count is a direct measure of "
        "the planted preference by construction.",
        "",
        "## BPR: learning rate, constant and decayed",
        "",
        "Constant rates first; then the default lr 0.05 decayed linearly to a tenth by the "
        "last epoch, from the first epoch or (the default) after 70% of them.",
        "",
        "| data | epochs | seeds | " + " | ".join(BPR_SETTINGS) + " |",
        "|---|---|---|" + "---|" * len(BPR_SETTINGS),
    ]
    b = pd.DataFrame(bpr)
    for data, g in b.groupby("data", sort=False):
        cells = " | ".join(f"{g.set_index('setting').loc[s, 'ndcg']:.4f}" for s in BPR_SETTINGS)
        lines.append(f"| {data} | {g['epochs'].iloc[0]} | {g['seeds'].iloc[0]} | {cells} |")
    default = "0.05, decay after 70% (default)"
    constant = [s for s in BPR_SETTINGS if s.startswith("lr ")]
    gaps = []
    for data, g in b.groupby("data", sort=False):
        nd = g.set_index("setting")["ndcg"]
        best = nd[constant].idxmax()
        gaps.append(f"{data} {nd[default] - nd[best]:+.4f} (best constant: {best})")
    lines += [
        "",
        "A small constant rate never leaves the tiny initial factors on Last.fm within 50 "
        "epochs; a large one keeps jittering on the large synthetic set, so the best "
        "constant rate depends on the data. The default schedule against the best constant "
        "rate of each set: " + "; ".join(gaps) + ".",
    ]
    lines += ["", "## SVD speed per core (ML-100K, k=50, 20 epochs, best of 5)", "",
              "| library | threads | fit s | of which epochs s | setup s |",
              "|---|---|---|---|---|"]  # fmt: skip
    for r in svd:
        ep = "-" if r["epochs_s"] is None else f"{r['epochs_s']:.4f}"
        su = "-" if r["setup_s"] is None else f"{r['setup_s']:.4f}"
        lines.append(f"| {r['library']} | {r['threads']} | {r['fit_s']:.4f} | {ep} | {su} |")
    by = {(r["library"], r["threads"]): r["fit_s"] for r in svd}
    if ("surprise", 1) in by:
        one, two, sur = by[("ours", 1)], by[("ours", 2)], by[("surprise", 1)]
        lines += ["", f"One core: {sur / one:.1f}x Surprise; two cores: {sur / two:.1f}x. "
                  "Reaching 10x on ML-100K takes the per-core ratio times the cores used: "
                  "out of reach on this 2-core machine unless each update gets faster "
                  "still. On larger sets the fixed setup weighs less"
                  + _larger_sets() + "."]  # fmt: skip
    name = "defaults-study" + ("-quick" if quick else "")
    if meta is None:
        write_json(name, {"ials": ials, "bpr": bpr, "svd": svd})
    path = write_page(name, "\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"written to {path}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="leave out the 10M set")
    ap.add_argument("--report-only", action="store_true",
                    help="rewrite the page from the last run's JSON, running nothing")  # fmt: skip
    args = ap.parse_args()
    if args.report_only:
        import json

        from common import RESULTS

        name = "defaults-study" + ("-quick" if args.quick else "")
        last = json.loads((RESULTS / f"{name}.json").read_text())
        report(last["ials"], last["bpr"], last["svd"], args.quick, meta=last["meta"])
        return
    import latentfactors as lf

    warm = lf.make_synthetic(300, 200, 5000, implicit=True, seed=0).interactions
    lf.ImplicitALS(n_factors=4, n_epochs=1).fit(warm)
    lf.BPR(n_factors=4, n_epochs=1).fit(warm)
    svd: list[dict] = []
    svd_per_core(svd)
    cases = sets(args.quick)
    ials: list[dict] = []
    ials_grid(cases, ials)
    bpr: list[dict] = []
    bpr_grid(cases, bpr)
    report(ials, bpr, svd, args.quick)


if __name__ == "__main__":
    main()
