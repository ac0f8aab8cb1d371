"""How much a factor model can gain over popularity on the synthetic implicit sets: the
generator's own choice probabilities (an oracle that knows the planted factors and
popularity) against the most popular items, ImplicitALS and BPR.

    python benchmarks/check_oracle.py            # the study's four synthetic implicit sets
    python benchmarks/check_oracle.py --large    # + the benchmarks' 10M set (~10 minutes)

Issue 15 asks every factor model to rank above the popularity floor on every scenario.
On synthetic data the ceiling is known: ``make_synthetic(implicit=True)`` lets a user
pick, among 4 items drawn by popularity, the one with the highest ``p_u . q_i`` plus
Gumbel noise, so one draw yields item ``i`` with probability
``4 pop_i E[e^s_i / (e^s_i + Z)]`` (``Z`` the other three candidates' ``e^s``), here
with ``Z`` at its mean (``3 sum_j pop_j e^s_uj``). Ranking by it is close to the best
any model can do on the held-out items. On the pop-exposure set (the quickstart's
earlier fallback) items were drawn by popularity alone, so true popularity is the
oracle there and no model can beat the floor except by chance.

Same 80/20 split (seed 0), k and epochs as ``study_lodo.py`` (ImplicitALS 15, BPR 20
on synthetic sets), defaults otherwise; NDCG@10 with training items excluded, and the
standard error of each row's per-user difference from the popularity row. Writes
``results/oracle.md`` and ``.json``.
"""

from __future__ import annotations

import argparse

import numpy as np
import study_lodo as S
from common import RESULTS, command_line, git_rev, machine, split, test_csr, versions, write_json

THREADS = 2
#: (name in study_lodo, make_synthetic arguments): the same sets as study_lodo.SETS /
#: LARGE (checked against them below, so the two cannot drift apart)
SPECS = [
    ("syn 100K", dict(n_users=2_000, n_items=1_000, n_interactions=100_000, seed=1)),
    ("syn 300K weak-pop",
     dict(n_users=6_000, n_items=1_500, n_interactions=300_000, zipf=0.1, seed=2)),
    ("syn 1M (bench)", dict(n_users=20_000, n_items=5_000, n_interactions=1_000_000, seed=0)),
    ("syn 100K pop-exposure", dict(n_users=943, n_items=1_682, n_interactions=100_000, rank=8,
                                   noise=0.8, round_to=1.0, seed=0, implicit=False,
                                   affinity_exposure=False)),
]  # fmt: skip
LARGE = [
    ("syn 10M (bench)",
     dict(n_users=200_000, n_items=50_000, n_interactions=10_000_000, seed=0)),
]  # fmt: skip


def per_user_ndcg(top: np.ndarray, tm, k: int = 10) -> np.ndarray:
    """NDCG@k of each user with held-out items (the library's, which ``common.ranking``
    averages)."""
    from latentfactors._metrics import ndcg_per_user

    return ndcg_per_user(np.asarray(top), tm.indptr, tm.indices, k)


def top_by(score_rows, seen, n_users: int, k: int = 10, chunk: int = 2_000) -> np.ndarray:
    """Top-k unseen items of every user under ``score_rows(start, stop)`` (dense)."""
    out = np.empty((n_users, k), dtype=np.int64)
    for s in range(0, n_users, chunk):
        e = min(n_users, s + chunk)
        sc = np.array(score_rows(s, e), dtype=np.float32)
        sub = seen[s:e]
        sc[np.repeat(np.arange(e - s), np.diff(sub.indptr)), sub.indices] = -np.inf
        part = np.argpartition(-sc, k, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(sc, part, 1), axis=1, kind="stable")
        out[s:e] = np.take_along_axis(part, order, 1)
    return out


def popularity_top(train, k: int = 10) -> np.ndarray:
    """Top-k unseen items of every user by the items' training counts (the floor)."""
    counts = np.bincount(train.item_ids, minlength=train.shape[1]).astype(np.float32)
    return top_by(lambda s, e: np.broadcast_to(counts, (e - s, len(counts))), train.csr,
                  train.shape[0], k)  # fmt: skip


def versus(v: np.ndarray, base: np.ndarray) -> dict:
    """Mean per-user NDCG ``v``, its mean per-user difference from ``base`` (the
    popularity row) and that difference's standard error."""
    d = v - base
    return {"ndcg@10": float(v.mean()), "vs_popularity": float(d.mean()),
            "se": float(d.std(ddof=1) / np.sqrt(len(d))), "users": len(d)}  # fmt: skip


def check_args(doc: str, page: str, render) -> argparse.Namespace | None:
    """The implicit check scripts' command line: ``--large`` adds the 10M set;
    ``--render`` rebuilds ``results/<page>.md`` from its JSON with ``render(rows, meta)``
    and returns None (nothing to run)."""
    import json

    ap = argparse.ArgumentParser(description=doc)
    ap.add_argument("--large", action="store_true", help="add the 10M synthetic set")
    ap.add_argument("--render", action="store_true", help="rebuild the page from its JSON")
    args = ap.parse_args()
    if not args.render:
        return args
    saved = json.loads((RESULTS / f"{page}.json").read_text())
    render(saved["rows"], saved["meta"])
    return None


def implicit_sets(large: bool):
    """The study's implicit sets on its 80/20 split: ``(name, k, train, test matrix,
    the popularity floor's per-user NDCG@10)`` for each, built one at a time."""
    for name, kind, k, build in S.SETS + (S.LARGE if large else []):
        if kind != "implicit":
            continue
        train, test = split(build())
        tm = test_csr(train, test)
        yield name, k, train, tm, per_user_ndcg(popularity_top(train), tm)


def oracle_scores(syn, train, affinity: bool):
    """Per-user score rows of the generator's choice probability (log scale)."""
    ru = train.users.raw.astype(np.int64)
    ri = train.items.raw.astype(np.int64)
    pop = syn.item_popularity[ri]
    logpop = np.log(pop).astype(np.float32)
    if not affinity:
        return lambda s, e: np.broadcast_to(logpop, (e - s, len(logpop)))
    P, Q = syn.user_factors[ru], syn.item_factors[ri]
    w = syn.item_popularity / syn.item_popularity.sum()  # over every item, drawn or not

    def rows(s, e):
        es = np.exp(P[s:e] @ Q.T)
        z = 3.0 * (np.exp(P[s:e] @ syn.item_factors.T) @ w)[:, None]
        return logpop + np.log(es / (es + z))

    return rows


def main() -> None:
    import latentfactors as lf

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--large", action="store_true", help="add the 10M synthetic set")
    args = ap.parse_args()
    builders = {name: (k, build) for name, kind, k, build in S.SETS + S.LARGE
                if kind == "implicit"}  # fmt: skip
    rows = []
    for name, spec in SPECS + (LARGE if args.large else []):
        k, build = builders[name]
        affinity = spec.get("affinity_exposure", True)
        syn = lf.make_synthetic(**{"implicit": True, **spec})
        data = syn.interactions
        if "10M" not in name:  # cheap enough to build twice
            ref = build()
            if not (np.array_equal(ref.item_ids, data.item_ids) and len(ref) == len(data)):
                raise RuntimeError(f"{name}: the spec here no longer matches study_lodo's set")
            del ref
        train, test = split(data)
        tm = test_csr(train, test)
        lists = {
            "popularity (training counts)": popularity_top(train),
            "oracle": top_by(oracle_scores(syn, train, affinity), train.csr, train.shape[0]),
        }
        kw = dict(n_factors=k, n_threads=THREADS, random_state=0)
        als = lf.ImplicitALS(n_epochs=S.epochs_of(name, "ALS"), **kw).fit(train)
        lists[f'ImplicitALS (reg="auto": {als.reg_:g})'] = S.bi.ours_top(als)[0]
        bpr = lf.BPR(n_epochs=S.epochs_of(name, "BPR"), **kw).fit(train)
        lists["BPR"] = S.bi.ours_top(bpr)[0]
        per = {label: per_user_ndcg(top, tm) for label, top in lists.items()}
        base = per["popularity (training counts)"]
        gap = per["oracle"].mean() - base.mean()
        for label, v in per.items():
            row = {"set": name, "model": label, **versus(v, base)}
            row["share_of_gap"] = row["vs_popularity"] / gap if gap > 0 else None
            rows.append(row)
            print(name, label, round(row["ndcg@10"], 4), round(row["vs_popularity"], 4),
                  round(row["se"], 4), flush=True)  # fmt: skip
    write_json("oracle", {"rows": rows})
    lines = [
        "# Synthetic implicit sets: the popularity floor, the oracle ceiling, and our models",
        "",
        f"Machine: {machine()}. Libraries: {versions('latentfactors', 'numpy', 'numba')}. "
        f"Commit {git_rev()}. Command: `{command_line()}`.",
        "",
        "NDCG@10 (training items excluded) on the study's 80/20 split (seed 0). `oracle`: "
        "items ranked by the generator's own probability of yielding them (the planted "
        "factors and popularity, the other candidates at their mean; on pop-exposure, true "
        "popularity), about the best any model can do. ImplicitALS and BPR with their "
        "defaults, k and epochs as in `study_lodo.py`. `vs popularity`: the mean per-user "
        "difference from the popularity row, with its standard error; `share of gap`: that "
        "difference over the oracle's.",
        "",
        "| set | model | NDCG@10 | vs popularity | s.e. | share of gap |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        share = "-" if r["share_of_gap"] is None else f"{r['share_of_gap']:.0%}"
        lines.append(
            f"| {r['set']} | {r['model']} | {r['ndcg@10']:.4f} | {r['vs_popularity']:+.4f} | "
            f"{r['se']:.4f} | {share} |"
        )
    (RESULTS / "oracle.md").write_text("\n".join(lines) + "\n")
    print(f"written to {RESULTS / 'oracle.md'}")


if __name__ == "__main__":
    main()
