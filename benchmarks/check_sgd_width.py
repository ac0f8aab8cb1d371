"""How SGD's time per update depends on the number of factors, and what padding the rows
to the kernel's vector width (``models/_strata.py::padded_width``) buys.

    python benchmarks/check_sgd_width.py

1. The SVD kernel (``_svd_epoch``, prefetch off) on MovieLens 100K's training split in
   the SVD's own layout (4 x 4 blocks), one thread: nanoseconds per rating at each width
   from 16 to 200, the best of 15 epochs. The vector loops take 32 floats per pass and the
   rest of a row one float at a time, so the widths that are not multiples of 32 pay for
   their remainder.
2. Whole SVD fits (k=50, 20 epochs, as ``bench_speed.py`` times them) with the rows
   padded (the default) and not (``padded_width`` replaced by the identity), on one and
   two threads: the best of 7 fits each, and the held-out RMSE of both.

Writes ``results/sgd-width.md`` and ``.json``.
"""

from __future__ import annotations

import time

import numpy as np
from common import RESULTS, command_line, dataset, git_rev, machine, split, versions, write_json

WIDTHS = [16, 24, 31, 32, 33, 40, 48, 50, 56, 63, 64, 65, 80, 96, 100, 112, 128, 160, 200, 224]


def kernel_ns(train, width: int, repeats: int = 15) -> float:
    from latentfactors.kernels import sgd
    from latentfactors.models._strata import stratify

    f32 = np.float32
    s = stratify(train, 4, 0)
    rng = np.random.default_rng(0)
    P = (rng.standard_normal((train.n_users, width)) * 0.1).astype(f32)
    Q = (rng.standard_normal((train.n_items, width)) * 0.1).astype(f32)
    bu, bi = np.zeros(train.n_users, f32), np.zeros(train.n_items, f32)
    rates = (f32(0.005),) * 4 + (f32(0.02),) * 4
    # prefetch off (0); seed 0, epoch 0, chunked as in a fit
    args = (s.block_ptr, s.users, s.items, s.ratings, P, Q, bu, bi, f32(3.5), *rates, True, 4, 0,
            0, 0, sgd.ORDER_CHUNK)  # fmt: skip
    sgd._svd_epoch(*args)
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        sgd._svd_epoch(*args)
        best = min(best, time.perf_counter() - t0)
    return best / len(s.users) * 1e9


def fit_times(train, test, threads: int, padded: bool, repeats: int = 7):
    import latentfactors as lf
    from latentfactors.models import svd as svd_mod

    saved = svd_mod.padded_width
    if not padded:
        svd_mod.padded_width = lambda k: k
    try:
        best, model = np.inf, None
        for seed in range(repeats):
            t0 = time.perf_counter()
            model = lf.SVD(n_factors=50, n_epochs=20, n_threads=threads, random_state=0).fit(train)
            best = min(best, time.perf_counter() - t0)
            del seed
        rmse = lf.evaluate(model, test, metrics=["rmse"]).metrics["rmse"]
    finally:
        svd_mod.padded_width = saved
    return best, rmse


def main() -> None:
    import numba

    import latentfactors as lf
    from latentfactors.models._strata import padded_width

    train, test = split(dataset("ml-100k").interactions)
    lf.SVD(n_factors=8, n_epochs=1).fit(train)  # compile
    before = numba.get_num_threads()
    numba.set_num_threads(1)
    rows = []
    try:
        for k in WIDTHS:
            ns = kernel_ns(train, k)
            rows.append({"k": k, "ns": ns, "padded_width": padded_width(k)})
            print(k, round(ns, 1), flush=True)
    finally:
        numba.set_num_threads(before)
    by_k = {r["k"]: r["ns"] for r in rows}
    for r in rows:
        r["ns_at_padded"] = by_k.get(r["padded_width"])
    fits = []
    for threads in (1, 2):
        for padded in (True, False):
            s, rmse = fit_times(train, test, threads, padded)
            fits.append({"threads": threads, "padded": padded, "seconds": s, "rmse": rmse})
            print(threads, padded, round(s, 4), round(rmse, 5), flush=True)
    write_json("sgd-width", {"kernel": rows, "fits": fits})
    lines = [
        "# SGD's time per update by number of factors, and padding to the vector width",
        "",
        f"Machine: {machine()}. Libraries: {versions('latentfactors', 'numpy', 'numba')}. "
        f"Commit {git_rev()}. Command: `{command_line()}`.",
        "",
        "## The SVD kernel, one thread, MovieLens 100K's training split (80,000 ratings "
        "in the SVD's 4 x 4 blocks)",
        "",
        "ns per rating, the best of 15 epochs at each width (`_svd_epoch`, prefetch off). "
        "`trains at`: the width `padded_width(k)` stores the rows at (zero columns up to a "
        "multiple of 32 where 8 or more factors would be left over, for k > 24), and the "
        "time measured at that width.",
        "",
        "| k | ns / rating | trains at | ns / rating there |",
        "|---|---|---|---|",
    ]
    for r in rows:
        there = (
            "-"
            if r["padded_width"] == r["k"]
            else (f"{r['ns_at_padded']:.1f}" if r["ns_at_padded"] is not None else "not measured")
        )
        lines.append(f"| {r['k']} | {r['ns']:.1f} | {r['padded_width']} | {there} |")
    lines += [
        "",
        "## Whole SVD fits, k=50, 20 epochs",
        "",
        "The best of 7 fits; RMSE on the held-out 20% (seed 0).",
        "",
        "| threads | rows | fit s | held-out RMSE |",
        "|---|---|---|---|",
    ]
    for f in fits:
        label = "padded to 64 (default)" if f["padded"] else "50 wide"
        lines.append(f"| {f['threads']} | {label} | {f['seconds']:.4f} | {f['rmse']:.5f} |")
    (RESULTS / "sgd-width.md").write_text("\n".join(lines) + "\n")
    print(f"written to {RESULTS / 'sgd-width.md'}")


if __name__ == "__main__":
    main()
