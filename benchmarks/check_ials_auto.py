"""ImplicitALS's ``reg="auto"`` against the fixed ``reg=30`` it replaced and the
popularity floor, on the leave-one-dataset-out study's implicit sets.

    python benchmarks/check_ials_auto.py            # the study's six implicit sets
    python benchmarks/check_ials_auto.py --large    # + the benchmarks' 10M synthetic set

Same 80/20 split (seed 0), k and epochs as ``study_lodo.py``; one thread per fit;
accuracy only. Writes ``results/ials-auto.md`` and ``.json``.
"""

from __future__ import annotations

import argparse

import study_lodo as S
from common import RESULTS, command_line, git_rev, machine, split, versions, write_json


def main() -> None:
    import latentfactors as lf

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--large", action="store_true", help="add the 10M synthetic set")
    args = ap.parse_args()
    sets = [s for s in S.SETS + (S.LARGE if args.large else []) if s[1] == "implicit"]
    rows = []
    for name, _, k, build in sets:
        train, test = split(build())
        epochs = S.epochs_of(name, "ALS")
        kw = dict(n_factors=k, n_epochs=epochs, n_threads=1, random_state=0)
        auto = lf.ImplicitALS(**kw).fit(train)
        fixed = lf.ImplicitALS(reg=30.0, **kw).fit(train)
        row = {"set": name, "k": k, "epochs": epochs, "chosen": auto.reg_,
               "search": auto.reg_search_, "auto": S.ndcg_of(auto, train, test),
               "reg=30": S.ndcg_of(fixed, train, test),
               "popularity": S.ndcg_of(lf.Popularity().fit(train), train, test)}  # fmt: skip
        rows.append(row)
        print(
            name,
            row["chosen"],
            round(row["auto"], 4),
            round(row["reg=30"], 4),
            round(row["popularity"], 4),
            flush=True,
        )
    write_json("ials-auto", {"rows": rows})
    lines = [
        "# ImplicitALS: reg chosen on a validation slice",
        "",
        f"Machine: {machine()}. Libraries: {versions('latentfactors', 'numpy', 'numba')}. "
        f"Commit {git_rev()}. Command: `{command_line()}`.",
        "",
        "NDCG@10 (training items excluded) on the study's 80/20 split (seed 0), k and "
        'epochs as in `study_lodo.py`, one thread. `auto`: the default `reg="auto"` '
        "(candidates 10-1000 fitted three epochs each on the training split less a "
        "validation slice, then the model of the smallest one within one standard error "
        "of the best); `reg=30`: the fixed default "
        "it replaced; popularity: the most interacted-with unseen items.",
        "",
        "| set | chosen reg | validation NDCG@10 per candidate (10, 30, 100, 300, 1000) "
        "| auto | reg=30 | popularity | auto vs popularity |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        val = ", ".join("-" if s is None else f"{s:.4f}" for s in r["search"]["scores"])
        verdict = "above" if r["auto"] > r["popularity"] else "**not above**"
        lines.append(
            f"| {r['set']} | {r['chosen']:g} | {val} | {r['auto']:.4f} | "
            f"{r['reg=30']:.4f} | {r['popularity']:.4f} | {verdict} |"
        )
    (RESULTS / "ials-auto.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
