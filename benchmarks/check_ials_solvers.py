"""ImplicitALS's row solvers at large k: CG (the default), iALS++ subspace blocks and
the exact Cholesky solve, in fit time, training objective and NDCG@10.

    python benchmarks/check_ials_solvers.py

Issue 15 asks for iALS++-style subspace solves (Rendle, Krichene, Zhang and Koren
2021) if they are faster at k >= 128. On MovieLens 100K, Last.fm 2K and the benchmarks'
1M synthetic set (the 80/20 split of ``study_lodo.py``, seed 0), at k = 64, 128 and
256, each solver fits ImplicitALS at the reg its search chooses there (30, 30, 100; a
fixed value, so no search is timed) for the study's epochs; two threads, one timed fit
after a warm-up. Writes ``results/ials-solvers.md`` and ``.json``.
"""

from __future__ import annotations

import time

import study_lodo as S
from common import RESULTS, command_line, git_rev, machine, split, versions, write_json

THREADS = 2
KS = (64, 128, 256)
#: (set name in study_lodo.SETS, kind, reg chosen there by reg="auto")
SETS = [("ml-100k", "implicit", 30.0), ("lastfm", "implicit", 30.0),
        ("syn 1M (bench)", "implicit", 100.0)]  # fmt: skip
VARIANTS = [("cg, 3 steps (default)", dict(solver="cg", cg_steps=3)),
            ("cg, 6 steps", dict(solver="cg", cg_steps=6))] + [
    (f"block {b}", dict(solver="block", block_size=b)) for b in (8, 16, 32, 64)
] + [("cholesky", dict(solver="cholesky"))]  # fmt: skip


def objective(model, train) -> float:
    """The training objective (per observed entry) of the fitted factors."""
    import numpy as np

    from latentfactors.kernels.ials import ials_loss

    csr = model._implicit_view(train).csr
    ptr, conf = csr.indptr.astype(np.int64), model._conf(csr.data)
    X, Y = model.user_factors_, model.item_factors_
    return float(ials_loss(ptr, csr.indices, conf, X, Y, float(model.reg_)))


def main() -> None:
    import latentfactors as lf

    warm = lf.make_synthetic(300, 200, 5000, implicit=True, seed=0).interactions
    for _, kw in VARIANTS:
        lf.ImplicitALS(n_factors=8, n_epochs=1, reg=30.0, **kw).fit(warm)
    builds = {(name, kind): build for name, kind, _, build in S.SETS}
    rows = []
    for name, kind, reg in SETS:
        train, test = split(builds[name, kind]())
        epochs = S.epochs_of(name, "ALS")
        for k in KS:
            row = {"set": name, "k": k, "epochs": epochs, "reg": reg, "variants": {}}
            for label, kw in VARIANTS:
                if kw.get("block_size", 0) > k:
                    continue
                model = lf.ImplicitALS(n_factors=k, n_epochs=epochs, reg=reg,
                                       n_threads=THREADS, random_state=0, **kw)  # fmt: skip
                t0 = time.perf_counter()
                model.fit(train)
                sec = time.perf_counter() - t0
                row["variants"][label] = {"fit_s": sec, "objective": objective(model, train),
                                          "ndcg@10": S.ndcg_of(model, train, test)}  # fmt: skip
                v = row["variants"][label]
                print(f"{name} k={k} {label}: {sec:.2f} s, objective {v['objective']:.5f}, "
                      f"NDCG@10 {v['ndcg@10']:.4f}", flush=True)  # fmt: skip
            rows.append(row)
    write_json("ials-solvers", {"rows": rows})
    lines = [
        "# ImplicitALS: CG, iALS++ subspace blocks and the exact solve",
        "",
        f"Machine: {machine()}. Libraries: {versions('latentfactors', 'numpy', 'numba')}. "
        f"Commit {git_rev()}. Command: `{command_line()}`.",
        "",
        "The 80/20 split (seed 0) of `study_lodo.py`; ImplicitALS at a fixed reg (the "
        "value its search chooses on that set), the study's epochs (20 on the real sets, "
        f"15 on the synthetic one), {THREADS} threads, one timed fit after a warm-up. "
        '`block b`: `solver="block", block_size=b`, one pass of iALS++ subspace descent '
        "per row and epoch. Objective: the training loss per observed entry at the end "
        "(lower is better; the cholesky row is the exact solve's); NDCG@10 on the test "
        "split, training items excluded.",
        "",
        "| set | k | solver | fit s | / cg default | objective | NDCG@10 |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        base = r["variants"]["cg, 3 steps (default)"]["fit_s"]
        for label, v in r["variants"].items():
            lines.append(
                f"| {r['set']} | {r['k']} | {label} | {v['fit_s']:.2f} | "
                f"{v['fit_s'] / base:.1f}x | {v['objective']:.5f} | {v['ndcg@10']:.4f} |"
            )
    (RESULTS / "ials-solvers.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
