"""Retrieval at scale: exact blocked top-k vs HNSW (faiss) vs Milvus Lite, on synthetic
item factors with uneven norms and biases (default 1M items x 64 factors).

For each: build time, index size, queries per second, recall@10 against exact top-10 of
the biased score ``b_i + u . q_i``. HNSW is measured both on the augmented inner-product
vectors ``[q, b] . [u, 1]`` (what ``--index hnsw`` uses) and on the same vectors pushed
through the inner-product-to-Euclidean transform (implicit's ANN wrappers), to show why
the library does not use the transform.

    python benchmarks/bench_retrieval.py                       # 1M items (minutes)
    python benchmarks/bench_retrieval.py --items 100000 \
        --out benchmarks/results/serve-retrieval-quick.md
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, machine, peak_rss_mb, versions


def synthetic(n_items: int, dim: int, n_queries: int, seed: int = 0):
    """Item factors with log-normal norms (popular items are long), biases, user vectors."""
    rng = np.random.default_rng(seed)
    Q = rng.standard_normal((n_items, dim), dtype=np.float32) / np.sqrt(dim)
    Q *= rng.lognormal(0.0, 0.5, n_items).astype(np.float32)[:, None]
    bias = (0.3 * rng.standard_normal(n_items)).astype(np.float32)
    U = (rng.standard_normal((n_queries, dim), dtype=np.float32) / np.sqrt(dim)).astype(np.float32)
    return Q, bias, U


def recall(truth: np.ndarray, got: np.ndarray) -> float:
    return float(np.mean([len(np.intersect1d(a, b[b >= 0])) / len(a) for a, b in zip(truth, got)]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--items", type=int, default=1_000_000)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--M", type=int, default=32)
    ap.add_argument("--ef-construction", type=int, default=200)
    ap.add_argument("--ef", default="64,128,256")
    ap.add_argument("--skip-milvus", action="store_true")
    ap.add_argument("--skip-euclidean", action="store_true")
    ap.add_argument("--out", default=str(RESULTS / "serve-retrieval.md"))
    ap.add_argument("--note", default="")
    args = ap.parse_args()

    import faiss

    from latentfactors.index import augment_items, augment_queries
    from latentfactors.index._mips import euclidean_items, euclidean_queries
    from latentfactors.index.hnsw import HNSWIndex
    from latentfactors.models import scoring

    Q, bias, U = synthetic(args.items, args.dim, args.queries)
    QT = np.ascontiguousarray(Q.T)
    zeros = np.zeros(len(U), np.float32)
    rows: list[dict] = []

    # exact: batch (every core) and one query at a time (one thread, as the service does)
    import numba

    scoring.top_n(U[:2], zeros[:2], 0.0, Q, QT, bias, 10)  # load the compiled kernel
    t = time.perf_counter()
    truth, _ = scoring.top_n(U, zeros, 0.0, Q, QT, bias, 10)
    batch_s = time.perf_counter() - t
    n_single = min(100, len(U))
    numba.set_num_threads(1)
    t = time.perf_counter()
    for i in range(n_single):
        scoring.top_n(U[i : i + 1], zeros[:1], 0.0, Q, QT, bias, 10)
    single_qps = n_single / (time.perf_counter() - t)
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    exact_qps = len(U) / batch_s
    rows.append(
        {
            "method": "exact (scoring.top_n)",
            "build_s": 0.0,
            "size_mb": Q.nbytes / 2**20,
            "qps": exact_qps,
            "qps1": single_qps,
            "recall": 1.0,
        }
    )

    V = augment_items(Q, bias)
    Uq = augment_queries(U)
    t = time.perf_counter()
    index = HNSWIndex(M=args.M, ef_construction=args.ef_construction).build(
        V, np.arange(len(V), dtype=np.int64)
    )
    build_s = time.perf_counter() - t
    size_mb = len(faiss.serialize_index(index._index)) / 2**20
    for ef in [int(x) for x in args.ef.split(",")]:
        index.ef_search = ef
        t = time.perf_counter()
        got, _ = index.search(Uq, 10)
        qps = len(Uq) / (time.perf_counter() - t)
        t = time.perf_counter()
        for i in range(n_single):
            index.search(Uq[i : i + 1], 10)
        qps1 = n_single / (time.perf_counter() - t)
        rows.append(
            {
                "method": f"HNSW inner product, M={args.M}, ef={ef}",
                "build_s": build_s,
                "size_mb": size_mb,
                "qps": qps,
                "qps1": qps1,
                "recall": recall(truth, got),
            }
        )
    del index

    if not args.skip_euclidean:
        E = euclidean_items(V)
        Eq = euclidean_queries(Uq)
        t = time.perf_counter()
        eidx = faiss.IndexHNSWFlat(E.shape[1], args.M)  # L2
        eidx.hnsw.efConstruction = args.ef_construction
        eidx.add(E)
        ebuild = time.perf_counter() - t
        params = faiss.SearchParametersHNSW()
        params.efSearch = 128
        t = time.perf_counter()
        _, got = eidx.search(Eq, 10, params=params)
        qps = len(Eq) / (time.perf_counter() - t)
        rows.append(
            {
                "method": f"HNSW Euclidean transform, M={args.M}, ef=128",
                "build_s": ebuild,
                "size_mb": len(faiss.serialize_index(eidx)) / 2**20,
                "qps": qps,
                "qps1": float("nan"),
                "recall": recall(truth, got),
            }
        )
        del eidx, E

    if not args.skip_milvus:
        from latentfactors.index.milvus import MilvusIndex

        with tempfile.TemporaryDirectory() as tmp:
            m = MilvusIndex(os.path.join(tmp, "bench.db"), "items")
            t = time.perf_counter()
            m.build(V, np.arange(len(V), dtype=np.int64))
            mbuild = time.perf_counter() - t
            t = time.perf_counter()
            parts = [m.search(Uq[s : s + 100], 10)[0] for s in range(0, len(Uq), 100)]
            qps = len(Uq) / (time.perf_counter() - t)
            got = np.vstack(parts)
            t = time.perf_counter()
            for i in range(min(n_single, 50)):
                m.search(Uq[i : i + 1], 10)
            qps1 = min(n_single, 50) / (time.perf_counter() - t)
            rows.append(
                {
                    "method": "Milvus Lite (AUTOINDEX, IP)",
                    "build_s": mbuild,
                    "size_mb": float("nan"),
                    "qps": qps,
                    "qps1": qps1,
                    "recall": recall(truth, got),
                }
            )
            m.close()

    load = os.getloadavg()
    lines = [
        "# Retrieval benchmark (bench_retrieval.py)",
        "",
        f"Machine: {machine()}; {versions('numpy', 'faiss', 'pymilvus', 'milvus_lite')}",
        f"Load average when done: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}. {args.note}",
        "",
        f"{args.items:,} synthetic items x {args.dim} factors (log-normal norms, biases), "
        f"{args.queries} queries; recall@10 against exact top-10 of b_i + u.q_i. "
        f"Batch q/s: all queries in one call; single q/s: one query per call. Peak RSS "
        f"{peak_rss_mb():.0f} MB.",
        "",
        "| method | build (s) | index (MB) | batch q/s | single q/s | recall@10 |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['method']} | {r['build_s']:.1f} | {r['size_mb']:.0f} | "
            f"{r['qps']:.0f} | {r['qps1']:.0f} | {r['recall']:.3f} |"
        )
    best = max(
        (r for r in rows if r["method"].startswith("HNSW inner") and r["recall"] >= 0.95),
        key=lambda r: r["qps1"],
        default=None,
    )
    if best:
        lines += [
            "",
            f"Target (recall@10 >= 0.95 at >= 10x exact q/s, one query per call): "
            f"{best['method']}: {best['recall']:.3f} at {best['qps1'] / single_qps:.1f}x "
            f"exact's single-query rate ({best['qps'] / exact_qps:.1f}x batched).",
        ]
    lines.append("")
    Path(args.out).write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
