"""BPR's ``reg="auto"`` (the penalty chosen on a validation slice of the training data)
against its default ``reg=0.02``, implicit's BPR and the popularity floor, on every
implicit set of the defaults study.

    benchmarks/.venv-peers/bin/python benchmarks/check_bpr_auto.py            # six sets
    benchmarks/.venv-peers/bin/python benchmarks/check_bpr_auto.py --large    # + 10M

Same 80/20 split (seed 0), k and epochs as ``study_lodo.py`` (BPR 50 epochs on the real
sets, 20 on the synthetic ones), seed 0, two threads for ours and for implicit's; NDCG@10
with training items excluded, and the standard error of each row's per-user difference
from the popularity row (the items with most training interactions). Fit times are of
the same run (the search's cost; nothing else ran on the machine). Writes
``results/bpr-auto.md`` and ``.json``.
"""

from __future__ import annotations

import bench_implicit as bi
import numpy as np
import study_lodo as S
from check_oracle import check_args, implicit_sets, per_user_ndcg, versus
from common import (
    RESULTS,
    command_line,
    git_rev,
    machine,
    timed_fit,
    versions,
    write_json,
)

THREADS = 2


def main() -> None:
    import latentfactors as lf

    args = check_args(__doc__, "bpr-auto", render)
    if args is None:
        return
    bi.THREADS = THREADS
    rows = []
    for name, k, train, tm, base in implicit_sets(args.large):
        epochs = S.epochs_of(name, "BPR")
        found = [("popularity (training counts)", base, None, None)]
        for label, kw in (("ours, reg=0.02 (default)", {}), ('ours, reg="auto"', {"reg": "auto"})):
            model, fit_s, _ = timed_fit(
                lambda kw=kw, k=k, e=epochs: lf.BPR(
                    n_factors=k, n_epochs=e, n_threads=THREADS, random_state=0, **kw
                ),
                lambda m, t=train: m.fit(t),
            )  # the rule implicit's fit is timed by: the fastest of up to 3 under 1 s
            found.append((label, per_user_ndcg(bi.ours_top(model)[0], tm), fit_s,
                          getattr(model, "reg_search_", None)))  # fmt: skip
        csr = train.csr.astype(np.float32)
        peer, fit_s = bi.implicit_fit("bpr", csr, k, epochs)
        found.append(("implicit BPR", per_user_ndcg(bi.implicit_top(peer, csr)[0], tm), fit_s,
                      None))  # fmt: skip
        for label, v, fit_s, search in found:
            row = {"set": name, "setting": label, **versus(v, base), "fit_s": fit_s,
                   "search": search}  # fmt: skip
            rows.append(row)
            print(name, label, round(row["ndcg@10"], 4), round(row["vs_popularity"], 4),
                  round(row["se"], 4), fit_s and round(fit_s, 2),
                  search and (search["chosen"], [round(x, 4) for x in search["scores"]]),
                  flush=True)  # fmt: skip
    meta = {"machine": machine(), "commit": git_rev(), "command": command_line()}
    write_json("bpr-auto", {"rows": rows, "meta": meta})
    render(rows, meta)


def render(rows: list[dict], meta: dict) -> None:
    """The page, from the run's rows and its machine, commit and command."""
    lines = [
        '# BPR: reg="auto" against the default reg=0.02',
        "",
        f"Machine: {meta['machine']}. Libraries: "
        f"{versions('latentfactors', 'numpy', 'numba', 'implicit')}. Commit {meta['commit']}. "
        f"Command: `{meta['command']}`.",
        "",
        "NDCG@10 (training items excluded) on the study's 80/20 split (seed 0), k and "
        "epochs as in `study_lodo.py`, two threads, seed 0. `vs popularity`: the mean "
        "per-user difference from the popularity row, with its standard error. "
        '`reg="auto"` trains each candidate (0.02, 0.1, 0.5) in full on the training split '
        "less its validation slice, scores them on the slice by NDCG@10, keeps the smallest "
        "within one standard error of the best and trains at it on the whole split; its fit "
        "time includes the search. The test split is never seen by it.",
        "",
        "| set | model | NDCG@10 | vs popularity | s.e. | fit s | chosen reg (slice NDCG@10 "
        "of 0.02 / 0.1 / 0.5) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        fit = "" if r["fit_s"] is None else f"{r['fit_s']:.2f}"
        s = r["search"]
        chosen = "" if s is None else (
            f"{s['chosen']:g} ({' / '.join('-' if x is None else f'{x:.4f}' for x in s['scores'])})"
        )  # fmt: skip
        lines.append(f"| {r['set']} | {r['setting']} | {r['ndcg@10']:.4f} | "
                     f"{r['vs_popularity']:+.4f} | {r['se']:.4f} | {fit} | {chosen} |")  # fmt: skip
    (RESULTS / "bpr-auto.md").write_text("\n".join(lines) + "\n")
    print(f"written to {RESULTS / 'bpr-auto.md'}")


if __name__ == "__main__":
    main()
