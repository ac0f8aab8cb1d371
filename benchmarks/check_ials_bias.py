"""ImplicitALS with item biases (``item_bias=True``) against the default (none), and the
popularity floor, on every implicit set of the defaults study.

    python benchmarks/check_ials_bias.py            # six sets
    python benchmarks/check_ials_bias.py --large    # + 10M

Same 80/20 split (seed 0), k and epochs as ``study_lodo.py`` (15 epochs on the synthetic
sets, 20 on the real ones), seed 0, two threads; NDCG@10 with training items excluded,
and the standard error of each row's per-user difference from the popularity row (the
items with most training interactions). Three rows per set: the default (``reg="auto"``,
no bias), ``item_bias=True`` with its own ``reg="auto"`` search, and ``item_bias=True`` at
the reg the default chose (the bias's own effect, apart from the search's choice). Fit
times are of the same run (nothing else ran on the machine). Writes
``results/ials-bias.md`` and ``.json``.
"""

from __future__ import annotations

import bench_implicit as bi
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

    args = check_args(__doc__, "ials-bias", render)
    if args is None:
        return
    rows = []
    for name, k, train, tm, base in implicit_sets(args.large):
        epochs = S.epochs_of(name, "ALS")
        found = [("popularity (training counts)", base, None, None, None)]

        def fit(label, k=k, epochs=epochs, train=train, tm=tm, found=found, **kw):
            model, fit_s, _ = timed_fit(
                lambda: lf.ImplicitALS(n_factors=k, n_epochs=epochs, n_threads=THREADS,
                                       random_state=0, **kw),
                lambda m: m.fit(train),
            )  # fmt: skip
            found.append((label, per_user_ndcg(bi.ours_top(model)[0], tm), fit_s,
                          float(model.reg_), getattr(model, "reg_search_", None)))  # fmt: skip
            return model

        default = fit('default (no bias, reg="auto")')
        fit('item_bias=True, reg="auto"', item_bias=True)
        fit("item_bias=True, the default's reg", item_bias=True, reg=float(default.reg_))
        for label, v, fit_s, reg, search in found:
            row = {"set": name, "setting": label, **versus(v, base), "fit_s": fit_s,
                   "reg": reg, "search": search}  # fmt: skip
            rows.append(row)
            print(name, label, round(row["ndcg@10"], 4), round(row["vs_popularity"], 4),
                  round(row["se"], 4), fit_s and round(fit_s, 2), reg,
                  search and [round(x, 4) for x in search["scores"]], flush=True)  # fmt: skip
    meta = {"machine": machine(), "commit": git_rev(), "command": command_line()}
    write_json("ials-bias", {"rows": rows, "meta": meta})
    render(rows, meta)


def render(rows: list[dict], meta: dict) -> None:
    """The page, from the run's rows and its machine, commit and command."""
    lines = [
        "# ImplicitALS: item biases (item_bias=True) against the default",
        "",
        f"Machine: {meta['machine']}. Libraries: "
        f"{versions('latentfactors', 'numpy', 'numba')}. Commit {meta['commit']}. "
        f"Command: `{meta['command']}`.",
        "",
        "NDCG@10 (training items excluded) on the study's 80/20 split (seed 0), k and "
        "epochs as in `study_lodo.py`, two threads, seed 0. `vs popularity`: the mean "
        "per-user difference from the popularity row, with its standard error. "
        '`reg="auto"` chooses the penalty on a validation slice of the training split '
        "(candidates 10-1000, three epochs each; the test split is never seen by it); its "
        "fit time includes the search. The last row of each set fits the biased model at "
        "the reg the default chose, so it shows the bias apart from the search.",
        "",
        "| set | model | NDCG@10 | vs popularity | s.e. | fit s | reg (slice NDCG@10 of "
        "10 / 30 / 100 / 300 / 1000) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        fit = "" if r["fit_s"] is None else f"{r['fit_s']:.2f}"
        s = r["search"]
        reg = "" if r["reg"] is None else f"{r['reg']:g}"
        if s is not None:
            reg += f" ({' / '.join(f'{x:.4f}' for x in s['scores'])})"
        lines.append(f"| {r['set']} | {r['setting']} | {r['ndcg@10']:.4f} | "
                     f"{r['vs_popularity']:+.4f} | {r['se']:.4f} | {fit} | {reg} |")  # fmt: skip
    (RESULTS / "ials-bias.md").write_text("\n".join(lines) + "\n")
    print(f"written to {RESULTS / 'ials-bias.md'}")


if __name__ == "__main__":
    main()
