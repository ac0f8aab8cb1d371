"""Roofline: what this machine can do, and where each kernel stands under it.

    python benchmarks/roofline.py            # ~3 minutes; writes results/roofline.md + .json
    python benchmarks/roofline.py --quick    # small sizes, a smoke run (not written)

1. Peaks, measured here in numba: a fused multiply-add loop (16 independent chains per
   vector lane group, the inner recurrence unrolled so the element loop vectorizes) for
   the compute peak, and STREAM's copy and triad for memory bandwidth, on 1 and 2 threads.
2. Every training kernel (SGD for SVD, SVD++, BPR; ALS's conjugate-gradient and exact
   row solves; ImplicitALS's CG and Cholesky steps) and top-n scoring, timed on one
   thread at k = 32, 64, 128 on cache-resident data (factor rows in L2) and on large data
   (factor rows far beyond the last-level cache, uniformly random ids: the worst case
   for locality). For each: the floating-point operations and the bytes of factor rows
   each unit of work touches (counted from the kernel's source, one multiply or add =
   one flop), the achieved GFLOP/s, the fraction of the measured compute peak, and the
   roofline bound ``min(peak, intensity x bandwidth)`` with the fraction of it reached.

Timings are the best of several runs (after a compile run) on one thread; nothing else
should run on the machine meanwhile.
"""

from __future__ import annotations

import argparse

import numba
import numpy as np
from common import best_of, command_line, git_rev, machine, versions, write_json, write_results
from numba import prange

#: FMAs per element in the peak loop's inner recurrence (unrolled by LLVM: a constant)
_CHAIN = 32
#: ratings the exact solvers are timed on in the large case (their cost is O(n k^2))
_EXACT_RATINGS = 100_000


@numba.njit(parallel=True, fastmath=True, nogil=True)
def _fma_loop(x, reps, a, b):
    # two halves of the row per iteration: with LLVM's 16 lanes x 4 interleaved vectors
    # that is 8 independent FMA chains, enough to cover the FMA latency on two pipes
    n_t, n = x.shape
    h = n // 2
    for t in prange(n_t):
        for _ in range(reps):
            for j in range(h):
                v = x[t, j]
                w = x[t, j + h]
                for _r in range(_CHAIN):
                    v = v * a + b
                    w = w * a + b
                x[t, j] = v
                x[t, j + h] = w
    return x.sum()


@numba.njit(parallel=True, fastmath=True, nogil=True)
def _copy(a, b):
    for j in prange(a.shape[0]):
        a[j] = b[j]


@numba.njit(parallel=True, fastmath=True, nogil=True)
def _triad(a, b, c, s):
    for j in prange(a.shape[0]):
        a[j] = b[j] + s * c[j]


def _stream(n: int) -> dict:
    a, b, c = (np.ones(n, dtype=np.float32) for _ in range(3))
    copy_s = best_of(lambda: _copy(a, b), 5)
    triad_s = best_of(lambda: _triad(a, b, c, np.float32(3.0)), 5)
    return {"copy": 8 * n / copy_s / 1e9, "triad": 12 * n / triad_s / 1e9}


def _fma(threads: int, reps: int) -> float:
    x = np.full((threads, 512), 0.5, dtype=np.float32)
    a, b = np.float32(0.999), np.float32(0.0005)
    sec = best_of(lambda: _fma_loop(x, reps, a, b), 3)
    return 2 * _CHAIN * x.size * reps / sec / 1e9


def peaks(quick: bool) -> dict:
    out: dict = {}
    n_stream = 2_000_000 if quick else 50_000_000  # 200 MB per array: far beyond the LLC
    for threads in (1, 2):
        numba.set_num_threads(threads)
        out[f"gflops_{threads}t"] = _fma(threads, 2000 if quick else 20_000)
        bw = _stream(n_stream)
        out[f"copy_gbs_{threads}t"] = bw["copy"]
        out[f"triad_gbs_{threads}t"] = bw["triad"]
    numba.set_num_threads(1)
    m = 1024 if quick else 2048
    g = np.random.default_rng(0).random((m, m), dtype=np.float32)
    out["sgemm_gflops_blas"] = 2 * m**3 / best_of(lambda: g @ g, 3) / 1e9
    # the compute peak the kernels are held to: the faster of the FMA loop and BLAS
    out["peak_1t"] = max(out["gflops_1t"], out["sgemm_gflops_blas"])
    return out


# ------------------------------------------------------------------------ the kernels
def _problem(n_users: int, n_items: int, n: int, seed: int = 0):
    """Uniformly random distinct (user, item) pairs, sorted by user: CSR and the triples."""
    rng = np.random.default_rng(seed)
    key = np.unique(rng.integers(0, n_users * n_items, int(n * 1.05)))
    rng.shuffle(key)  # then keep n of them at random (not the n smallest)
    key = np.sort(key[:n])
    u = (key // n_items).astype(np.int32)
    i = (key % n_items).astype(np.int32)
    r = rng.integers(1, 6, len(u)).astype(np.float32)
    ptr = np.zeros(n_users + 1, dtype=np.int64)
    np.cumsum(np.bincount(u, minlength=n_users), out=ptr[1:])
    order = np.argsort(i, kind="stable")
    iptr = np.zeros(n_items + 1, dtype=np.int64)
    np.cumsum(np.bincount(i, minlength=n_items), out=iptr[1:])
    return {"u": u, "i": i, "r": r, "ptr": ptr, "iptr": iptr, "iu": u[order], "ir": r[order],
            "n_users": n_users, "n_items": n_items, "n": len(u)}  # fmt: skip


def _factors(n: int, k: int, seed: int) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal((n, k)) * 0.1).astype(np.float32)


def measure(name, data, k, repeats):
    """(seconds per run, units of work per run, flops per unit, factor bytes per unit)."""
    from latentfactors.kernels import bpr, ials, ridge, sgd

    f32 = np.float32
    nu, ni, n = data["n_users"], data["n_items"], data["n"]
    P, Q = _factors(nu, k, 1), _factors(ni, k, 2)
    bu, bi = np.zeros(nu, f32), np.zeros(ni, f32)
    one_block = np.array([0, n], dtype=np.int64)
    u, i, r = data["u"].copy(), data["i"].copy(), data["r"].copy()
    perm = np.random.default_rng(3).permutation(n)  # SGD visits ratings in random order
    u, i, r = u[perm], i[perm], r[perm]
    rates = (f32(0.005),) * 4 + (f32(0.02),) * 4
    if name == "SGD (SVD)":

        def run():
            sgd.svd_epoch(one_block, u, i, r, P, Q, bu, bi, f32(3.0), *rates, True, 1, 0, 0)

        # dot 2k; per factor of each side: err*q, reg*p, subtract, times lr, add: 5k each
        return best_of(run, repeats), n, 12 * k + 12, 16 * k
    if name == "SGD (SVD), prefetch off":

        def run():
            sgd._svd_epoch(one_block, u, i, r, P, Q, bu, bi, f32(3.0), *rates, True, 1, 0, 0,
                           0, sgd.ORDER_CHUNK)  # fmt: skip

        return best_of(run, repeats), n, 12 * k + 12, 16 * k
    if name == "SGD (SVD++)":
        Z, G = _factors(nu, k, 4), np.zeros((nu, k), f32)

        def run():
            sgd.svdpp_epoch(one_block, u, i, r, P, Q, Z, G, bu, bi, f32(3.0), *rates, 1)

        # dot over p+z 3k; G += e*q 2k; p 5k; q 6k (p + z first)
        return best_of(run, repeats), n, 16 * k + 12, 28 * k
    if name == "SGD (BPR)":
        gptr = np.array([0, ni], dtype=np.int64)
        gitems = np.arange(ni, dtype=np.int32)
        sptr, sidx = data["ptr"], data["i"]
        state = {"epoch": 0}

        def run():
            state["epoch"] += 1
            bpr.bpr_epoch(one_block, u, i, P, Q, bi, gptr, gitems, sptr, sidx, f32(0.05),
                          f32(0.01), f32(0.01), f32(0.01), 1, 0, state["epoch"], 10)  # fmt: skip

        # x = p.(q_i - q_j) 3k; p 5k; q_i 5k; q_j 5k
        return best_of(run, repeats), n, 18 * k + 20, 24 * k
    ptr, idx, vals = data["ptr"], data["i"], data["r"].astype(np.float64) - 3.0
    counts = np.diff(ptr).astype(np.float64)
    lam = 0.1 * np.maximum(counts, 1)
    steps = 3
    if name == "ALS CG (3 steps)":
        X, B = P.copy(), bu.copy()
        vals32 = vals.astype(f32)
        offset = (np.random.default_rng(5).standard_normal(ni) * 0.1).astype(f32)

        def run():  # what ALS's half-step calls: float32 targets, the other side's biases
            ridge.ridge_cg_rows_offset(ptr, idx, vals32, offset, True, Q, X, B, lam, lam, True,
                                       steps)  # fmt: skip

        # per rating and pass: dot 2k + axpy 2k; 1 + steps passes. Bytes: the item row
        # once (a row's few items stay in cache over its passes), the own row once per row
        return best_of(run, repeats), n, 4 * k * (steps + 1), 4 * k + 8 * k * nu / n
    # the exact solvers cost O(n k^2): on large data they run over the first rows only
    m = int(np.searchsorted(ptr, _EXACT_RATINGS)) if n > _EXACT_RATINGS else nu
    sub, n_sub = ptr[: m + 1], int(ptr[m])
    if name == "ALS exact":

        def run():
            ridge.ridge_rows(sub, idx, vals, Q, lam, lam, True)

        d = k + 1
        mean_m = n_sub / max(m, 1)
        # Z^T Z (2 m d^2), Z^T t (2 m d), LU solve (2/3 d^3) per row; per rating:
        per = 2 * d * d + 2 * d + (2 / 3) * d**3 / mean_m
        return best_of(run, repeats), n_sub, per, 4 * k
    conf = (1.0 + 10.0 * np.log1p(data["r"])).astype(f32)
    YtY = (Q.T @ Q + 0.1 * np.eye(k, dtype=f32)).astype(f32)
    mean_m = n / nu
    if name == "iALS CG (3 steps)":
        X = P.copy()

        def run():
            ials.ials_cg_step(ptr, idx, conf, X, Q, YtY, steps)

        # per rating and pass 4k; per row and pass a k x k matvec 2k^2. Bytes as ALS CG
        per = 4 * k * (steps + 1) + 2 * k * k * (steps + 1) / mean_m
        return best_of(run, repeats), n, per, 4 * k + 8 * k * nu / n
    if name == "iALS Cholesky":
        X = P[:m].copy()
        mean_m = n_sub / max(m, 1)

        def run():
            ials.ials_cholesky_step(sub, idx, conf, X, Q, YtY)

        # per rating: a rank-1 update of the k x k system 2k^2, rhs 2k; per row: k^3 / 3
        per = 2 * k * k + 2 * k + (k**3 / 3) / mean_m
        return best_of(run, repeats), n_sub, per, 4 * k
    if name == "top-n (batch of 256 users)":
        from latentfactors.models.scoring import top_n

        U = P[:256].copy()
        QT = np.ascontiguousarray(Q.T)

        def run():
            top_n(U, np.zeros(256, f32), 0.0, Q, QT, bi, 10)

        # a score 2k per (user, item); bytes: the item factors once per batch of 256 users
        return best_of(run, repeats), 256 * ni, 2 * k, 4 * k / 256
    raise ValueError(name)


def simd_census() -> dict:
    """Fused multiply-adds in each kernel's generated machine code, by width: packed
    float32 on 512-bit (zmm, 16 lanes), 256-bit (ymm, 8) or 128-bit (xmm, 4) registers,
    and scalar (ss / sd). Read from numba's ``inspect_asm`` in a child process with an
    empty numba cache (code loaded from the cache cannot be inspected), at k = 64."""
    import json
    import os
    import subprocess
    import sys
    import tempfile

    with tempfile.TemporaryDirectory() as cache:
        proc = subprocess.run(
            [sys.executable, "-c", "import roofline; roofline._census_child()"],
            capture_output=True, text=True, check=True, cwd=os.path.dirname(__file__),
            env={**os.environ, "NUMBA_CACHE_DIR": cache},
        )  # fmt: skip
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _census_child() -> None:
    import json
    import re

    from latentfactors.kernels import bpr, ials, ridge, sgd

    data = _problem(200, 100, 4000)
    for name in KERNELS:
        if not name.startswith("top-n"):
            measure(name, data, 64, 1)
    pattern = re.compile(r"\bvf(?:n?m(?:add|sub))\d{3}(ps|pd|ss|sd)\s+[^\n]*?%([xyz])mm")
    kernels = {"SGD (SVD)": sgd._svd_epoch, "SGD (SVD++)": sgd._svdpp_epoch,
               "SGD (BPR)": bpr.bpr_epoch, "ALS CG": ridge.ridge_cg_rows_offset,
               "iALS CG": ials._cg_rows, "ALS residual": ridge.residual_sse}  # fmt: skip
    packed = re.compile(r"\bv(?:mul|add|sub)p[sd]\s+[^\n]*?%[yz]mm")
    out = {}
    for name, disp in kernels.items():
        counts = {"zmm": 0, "ymm": 0, "xmm": 0, "scalar": 0, "packed_mul_add": 0}
        for sig in disp.signatures:
            asm = disp.inspect_asm(sig)
            for kind, reg in pattern.findall(asm):
                counts["scalar" if kind in ("ss", "sd") else f"{reg}mm"] += 1
            counts["packed_mul_add"] += len(packed.findall(asm))
        out[name] = counts
    print(json.dumps(out))


KERNELS = ["SGD (SVD)", "SGD (SVD), prefetch off", "SGD (SVD++)", "SGD (BPR)",
           "ALS CG (3 steps)", "ALS exact", "iALS CG (3 steps)", "iALS Cholesky",
           "top-n (batch of 256 users)"]  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="small sizes; nothing written")
    args = ap.parse_args()
    peak = peaks(args.quick)
    print(peak, flush=True)
    numba.set_num_threads(1)
    sizes = {
        # 1,500 rows of at most 512 bytes: 768 KB, inside one core's L2 at k = 128
        "cache-resident": (1000, 500, 60_000),
        # 1M rows of up to 512 bytes: 128-512 MB of user factors, far beyond the 32 MB L3
        "large": (200_000, 20_000, 600_000) if args.quick else (1_000_000, 200_000, 5_000_000),
    }
    rows = []
    for where, (nu, ni, n) in sizes.items():
        data = _problem(nu, ni, n)
        for k in (32, 64, 128):
            for name in KERNELS:
                if where == "cache-resident" and name in (
                    "top-n (batch of 256 users)",
                    "SGD (SVD), prefetch off",
                ):
                    continue  # 500 items say nothing about scoring; no prefetch in cache
                reps = 2 if where == "large" else 7
                sec, units, flops, nbytes = measure(name, data, k, reps)
                gflops = units * flops / sec / 1e9
                intensity = flops / nbytes
                bw = peak["triad_gbs_1t"] if where == "large" else float("inf")
                bound = min(peak["peak_1t"], intensity * bw)
                rows.append({"data": where, "kernel": name, "k": k, "seconds": sec,
                             "units": units, "ns_per_unit": sec / units * 1e9,
                             "flops_per_unit": flops, "bytes_per_unit": nbytes,
                             "gflops": gflops, "of_peak": gflops / peak["peak_1t"],
                             "bound_gflops": bound, "of_bound": gflops / bound})  # fmt: skip
                print(rows[-1], flush=True)
    simd = simd_census()
    print(simd, flush=True)
    if args.quick:
        return
    report(peak, rows, sizes, simd)


def report(peak, rows, sizes, simd) -> None:
    lines = [
        "# Roofline",
        "",
        f"Machine: {machine()}. Libraries: {versions('numpy', 'numba')}. Commit {git_rev()}. "
        f"Command: `{command_line()}`.",
        "",
        "## What the machine can do (measured in numba)",
        "",
        "| | 1 thread | 2 threads |",
        "|---|---|---|",
        f"| FMA loop, float32 GFLOP/s | {peak['gflops_1t']:.1f} | {peak['gflops_2t']:.1f} |",
        f"| STREAM copy GB/s | {peak['copy_gbs_1t']:.1f} | {peak['copy_gbs_2t']:.1f} |",
        f"| STREAM triad GB/s | {peak['triad_gbs_1t']:.1f} | {peak['triad_gbs_2t']:.1f} |",
        "",
        f"NumPy's BLAS sgemm (2048 x 2048, one thread) reached "
        f"{peak['sgemm_gflops_blas']:.1f} GFLOP/s. The compute peak below is the faster of "
        f"the two on one thread, {peak['peak_1t']:.1f} GFLOP/s.",
        "",
        "## Each kernel on one thread",
        "",
        "Unit of work: one rating (SGD, ALS, iALS: per half-step for the solvers), one "
        "(user, positive, negative) triple for BPR, one (user, item) score for top-n. "
        "Flops and bytes per unit are counted from each kernel's source (one multiply or add "
        "= one flop; bytes = the factor rows read and written: for the CG solvers each item "
        "row once per rating and the row's own factors once per row, since a row's few "
        "items stay in cache over its passes; the item block once per 256 users for top-n). "
        "SGD prefetches the rows of the update 16 ahead when the factors "
        'outgrow the cache (large data); the "prefetch off" row is the same kernel '
        "without. Cache-resident: "
        f"{sizes['cache-resident'][0]:,} users x {sizes['cache-resident'][1]:,} items, "
        f"{sizes['cache-resident'][2]:,} ratings; large: {sizes['large'][0]:,} x "
        f"{sizes['large'][1]:,}, {sizes['large'][2]:,} ratings at uniformly random positions. "
        "Bound: the compute peak on cache-resident data; on large data "
        "min(peak, flops/byte x triad bandwidth). The exact solvers (ALS exact, iALS "
        "Cholesky) compute in float64, so their fraction of the float32 peak understates "
        "them by about 2x; on large data they are timed on the first rows holding "
        f"{_EXACT_RATINGS:,} ratings.",
        "",
        "| data | kernel | k | ns / unit | flops / unit | bytes / unit | GFLOP/s | "
        "of peak | of bound |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['data']} | {r['kernel']} | {r['k']} | {r['ns_per_unit']:.2f} | "
            f"{r['flops_per_unit']:.0f} | {r['bytes_per_unit']:.0f} | {r['gflops']:.1f} | "
            f"{r['of_peak']:.0%} | {r['of_bound']:.0%} |"
        )
    lines += [
        "",
        "## What LLVM emitted",
        "",
        "Fused multiply-add instructions in each kernel's compiled code (numba "
        "`inspect_asm`, every compiled signature, k = 64), by register width: zmm = 16 "
        "float32 lanes, ymm = 8, xmm = 4; scalar = one value; and the packed (ymm/zmm) "
        "multiplies and adds that were not fused.",
        "",
        "| kernel | FMA zmm | FMA ymm | FMA xmm | FMA scalar | packed mul/add |",
        "|---|---|---|---|---|---|",
    ]
    for name, c in simd.items():
        lines.append(f"| {name} | {c['zmm']} | {c['ymm']} | {c['xmm']} | {c['scalar']} | "
                     f"{c['packed_mul_add']} |")  # fmt: skip
    write_json("roofline", {"peak": peak, "rows": rows, "sizes": sizes, "simd": simd})
    path = write_results("roofline", "\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"written to {path}")


if __name__ == "__main__":
    main()
