"""Data-layer benchmark: reading 10M ratings from CSV, and generating synthetic data.

Each measurement runs in a fresh subprocess so peak RSS belongs to it alone.

    python benchmarks/bench_io.py                  # 10M-row CSV read + 10M synthetic
    python benchmarks/bench_io.py --synthetic 100000000   # add a 100M synthetic run

Results are appended as Markdown to benchmarks/results/io.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

CHILD_CSV = r"""
import json, resource, sys, time
import numpy as np
import latentfactors as lf
path = sys.argv[1]
t = time.perf_counter()
data = lf.read_csv(path, sep=",", user="user", item="item", rating="rating", timestamp="ts")
_ = data.csr
secs = time.perf_counter() - t
n = len(data)
# the raw arrays a user would hold: int64 user/item ids, float64 ratings, int64 timestamps
raw = n * (8 + 8 + 8 + 8)
print(json.dumps({"rows": n, "seconds": secs, "container_bytes": data.nbytes, "raw_bytes": raw,
                  "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
"""

CHILD_SYN = r"""
import json, resource, sys, time
import latentfactors as lf
n = int(sys.argv[1])
t = time.perf_counter()
syn = lf.make_synthetic(max(n // 100, 1000), max(n // 1000, 1000), n, rank=16, seed=0)
secs = time.perf_counter() - t
print(json.dumps({"rows": len(syn.interactions), "seconds": secs,
                  "container_bytes": syn.interactions.nbytes,
                  "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
"""


def run(code: str, *args: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


def write_csv(path: Path, n: int) -> float:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    n_items = 50_000
    key = np.unique(rng.integers(0, 200_000 * n_items, int(n * 1.01)))[:n]
    rng.shuffle(key)
    df = pd.DataFrame(
        {
            "user": key // n_items,
            "item": key % n_items,
            "rating": rng.integers(1, 11, n) / 2,
            "ts": rng.integers(1_000_000_000, 1_600_000_000, n),
        }
    )
    t = time.perf_counter()
    df.to_csv(path, index=False)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--synthetic", type=int, nargs="*", default=[10_000_000])
    args = ap.parse_args()
    lines = [
        f"## {time.strftime('%Y-%m-%d')} on {platform.machine()}, "
        f"{platform.python_version()}, {subprocess.getoutput('nproc')} cores",
        "",
        f"Command: `python benchmarks/bench_io.py --rows {args.rows} --synthetic "
        f"{' '.join(map(str, args.synthetic))}`",
        "",
        "| task | rows | seconds | container MB | raw arrays MB | container / raw | peak RSS MB |",
        "|---|---|---|---|---|---|---|",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ratings.csv"
        write_csv(path, args.rows)
        size = path.stat().st_size
        r = run(CHILD_CSV, str(path))
        lines.append(
            f"| read_csv ({size / 1e6:.0f} MB file) + CSR | {r['rows']:,} | {r['seconds']:.2f} | "
            f"{r['container_bytes'] / 1e6:.0f} | {r['raw_bytes'] / 1e6:.0f} | "
            f"{r['container_bytes'] / r['raw_bytes']:.2f} | {r['peak_rss'] / 1e6:.0f} |"
        )
    for n in args.synthetic:
        r = run(CHILD_SYN, str(n))
        lines.append(
            f"| make_synthetic (rank 16) | {r['rows']:,} | {r['seconds']:.1f} | "
            f"{r['container_bytes'] / 1e6:.0f} | - | - | {r['peak_rss'] / 1e6:.0f} |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    out = HERE / "results" / "io.md"
    out.parent.mkdir(exist_ok=True)
    with open(out, "a") as fh:
        fh.write(text + "\n")


if __name__ == "__main__":
    main()
