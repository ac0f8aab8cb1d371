"""Load on the HTTP service: an ML-100K model served by ``latentfactors serve`` (one
process, exact retrieval), driven by a bounded asyncio + httpx load generator.

* 1, 8 and 32 concurrent clients, a read/write mix (default 95% GET recommendations of a
  random training user, 5% POST of 5 new interactions for a new user): throughput,
  p50/p95/p99 latency per kind, errors (target: 0 errors; p99 < 20 ms at 8 clients for
  recommend).
* Fold-in over HTTP: a POST of 50 interactions for a new user, then the next recommend.

The load generator runs on the same machine as the server and takes CPU from it (on a
2-core machine that is a large share): the numbers are a floor for the service alone.

    python benchmarks/bench_serve.py                 # full: 20 s per level
    python benchmarks/bench_serve.py --quick         # 4 s per level
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import DATA, RESULTS, machine, versions

TOKEN = "bench-token"


def start_server(model: Path, workdir: Path, extra: list[str]) -> tuple[subprocess.Popen, str]:
    import httpx

    port_file = workdir / "port"
    (workdir / "token").write_text(TOKEN)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "latentfactors.serving",
            str(model),
            "--port",
            "0",
            "--port-file",
            str(port_file),
            "--state",
            str(workdir / "state"),
            "--token-file",
            str(workdir / "token"),
            "--log-level",
            "warning",
            *extra,
        ],
        stdout=open(workdir / "server.log", "wb"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 120
    while not port_file.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError((workdir / "server.log").read_text())
        time.sleep(0.05)
    url = f"http://127.0.0.1:{port_file.read_text()}"
    while True:
        try:
            if httpx.get(f"{url}/readyz").status_code == 200:
                break
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("server not ready")
        time.sleep(0.1)
    return proc, url


async def run_level(
    url: str, clients: int, seconds: float, write_share: float, users, items, seed: int
) -> dict:
    import httpx

    lat: dict[str, list[float]] = {"recommend": [], "write": []}
    errors = {"n": 0, "examples": []}
    stop_at = time.monotonic() + seconds
    headers = {"Authorization": f"Bearer {TOKEN}"}
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    async def worker(k: int, client: httpx.AsyncClient) -> None:
        rng = np.random.default_rng(seed * 1000 + k)
        j = 0
        while time.monotonic() < stop_at and j < 1_000_000:  # bounded in time and count
            j += 1
            write = rng.random() < write_share
            t0 = time.perf_counter()
            try:
                if write:
                    picks = rng.choice(items, 5, replace=False).tolist()
                    r = await client.post(
                        f"/users/load{seed}_{k}_{j}/interactions",
                        json={"items": picks, "ratings": [4] * 5},
                        headers=headers,
                    )
                else:
                    u = int(users[rng.integers(len(users))])
                    r = await client.get(f"/users/{u}/recommendations", params={"n": 10})
                ok = r.status_code in (200, 201)
            except httpx.HTTPError as exc:
                ok, r = False, exc
            dt = time.perf_counter() - t0
            if ok:
                lat["write" if write else "recommend"].append(dt)
            else:
                errors["n"] += 1
                if len(errors["examples"]) < 3:
                    errors["examples"].append(str(getattr(r, "text", r))[:200])

    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as client:
        t0 = time.perf_counter()
        await asyncio.gather(*(worker(k, client) for k in range(clients)))
        wall = time.perf_counter() - t0
    out = {
        "clients": clients,
        "seconds": wall,
        "errors": errors["n"],
        "error_examples": errors["examples"],
    }
    total = 0
    for kind, values in lat.items():
        a = np.asarray(values) * 1000
        total += len(a)
        out[kind] = {
            "n": len(a),
            **({f"p{q}": float(np.percentile(a, q)) for q in (50, 95, 99)} if len(a) else {}),
        }
    out["throughput"] = total / wall
    return out


def fold_in_latency(url: str, items, repeats: int) -> dict:
    import httpx

    rng = np.random.default_rng(7)
    post, nxt = [], []
    with httpx.Client(base_url=url, timeout=30) as c:
        for j in range(repeats):
            picks = rng.choice(items, 50, replace=False).tolist()
            body = {"items": picks, "ratings": rng.integers(1, 6, 50).tolist()}
            t0 = time.perf_counter()
            r = c.post(
                f"/users/fold{j}/interactions",
                json=body,
                headers={"Authorization": f"Bearer {TOKEN}"},
            )
            t1 = time.perf_counter()
            r2 = c.get(f"/users/fold{j}/recommendations", params={"n": 10})
            t2 = time.perf_counter()
            assert r.status_code == 201 and r2.json()["source"] == "live"
            post.append((t1 - t0) * 1000)
            nxt.append((t2 - t1) * 1000)
    pct = lambda a: {f"p{q}": float(np.percentile(a, q)) for q in (50, 95, 99)}  # noqa: E731
    return {"repeats": repeats, "post_50": pct(post), "next_recommend": pct(nxt)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="4 s per level")
    ap.add_argument("--seconds", type=float, default=None)
    ap.add_argument("--clients", default="1,8,32")
    ap.add_argument("--write-share", type=float, default=0.05)
    ap.add_argument("--sync", choices=["full", "normal"], default="full")
    ap.add_argument("--workers", type=int, default=1, help="server processes (--workers N)")
    ap.add_argument("--out", default=str(RESULTS / "serve.md"))
    ap.add_argument("--note", default="", help="e.g. 'machine idle' or 'under load'")
    args = ap.parse_args()
    seconds = args.seconds or (4.0 if args.quick else 20.0)

    import latentfactors as lf

    ds = lf.load_movielens(DATA / "ml-100k")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model = lf.SVD(n_factors=50, random_state=0).fit(ds.interactions)
        path = model.save(tmp / "svd.lfm")
        users = model.users_.raw
        items = model.items_.raw
        proc, url = start_server(path, tmp, ["--sync", args.sync, "--workers", str(args.workers)])
        try:
            levels = [
                asyncio.run(run_level(url, int(c), seconds, args.write_share, users, items, seed=i))
                for i, c in enumerate(args.clients.split(","))
            ]
            fold = fold_in_latency(url, items, 10 if args.quick else 50)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    load = os.getloadavg()
    lines = [
        "# Serving benchmark (bench_serve.py)",
        "",
        f"Machine: {machine()}; {versions('fastapi', 'uvicorn', 'httpx', 'numpy')}",
        f"Load average when done: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}. {args.note}",
        "",
        f"ML-100K SVD (50 factors), {args.workers} server process(es), exact retrieval, SQLite "
        f"synchronous={args.sync.upper()}; the load generator shares the machine. "
        f"{seconds:g} s per level, {args.write_share:.0%} writes (POST 5 interactions, new "
        "user) and the rest GET /users/{u}/recommendations?n=10.",
        "",
        "| clients | req/s | errors | recommend p50 / p95 / p99 (ms) "
        "| write p50 / p95 / p99 (ms) |",
        "|---:|---:|---:|---|---|",
    ]
    for lv in levels:

        def cell(d):
            return (
                f"{d['p50']:.1f} / {d['p95']:.1f} / {d['p99']:.1f} (n={d['n']})" if d["n"] else "-"
            )

        lines.append(
            f"| {lv['clients']} | {lv['throughput']:.0f} | {lv['errors']} | "
            f"{cell(lv['recommend'])} | {cell(lv['write'])} |"
        )
    f = fold
    lines += [
        "",
        f"Fold-in over HTTP ({f['repeats']} new users): POST of 50 interactions "
        f"p50 {f['post_50']['p50']:.1f} ms, p95 {f['post_50']['p95']:.1f} ms; the next "
        f"recommend p50 {f['next_recommend']['p50']:.1f} ms, p95 "
        f"{f['next_recommend']['p95']:.1f} ms.",
        "",
    ]
    errs = [e for lv in levels for e in lv["error_examples"]]
    if errs:
        lines += ["Errors seen:", *[f"- `{e}`" for e in errs], ""]
    Path(args.out).write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
