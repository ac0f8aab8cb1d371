"""``latentfactors quickstart``: renders what ``latentfactors._quickstart`` computes."""

from __future__ import annotations

import click

from ._app import main
from ._output import ProgressCallback, console, emit_json, esc, table


@main.command()
@click.option(
    "--data",
    "data_path",
    type=click.Path(),
    default=None,
    help="MovieLens 100K folder (default: $LATENTFACTORS_DATA, the cache, "
    "../shared/data, or a download).",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(),
    default="latentfactors-quickstart",
    show_default=True,
    help="Folder for the model files and the report.",
)
@click.option("--no-download", is_flag=True, help="Never try the network.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
def quickstart(data_path, out_dir, no_download, as_json):
    """The tour: fit an explicit and an implicit model on MovieLens 100K and show them."""
    from .._quickstart import run

    c = console()

    def header(out: dict) -> None:
        if as_json:
            return
        if out["synthetic"]:
            c.print(f"[bold yellow]{esc(out['data'])}[/]")
            c.print("Point --data or $LATENTFACTORS_DATA at a MovieLens 100K folder for the "
                    "real tour.")  # fmt: skip
        c.print(f"[bold]latentfactors quickstart[/]: {esc(out['data'])}")
        c.print(esc(out["split"]))

    out = run(data_path, out_dir, not no_download,
              progress=lambda label: ProgressCallback(label, enabled=not as_json),
              on_data=header)  # fmt: skip
    if as_json:
        emit_json(out)
        return
    render(c, out)


def render(c, out: dict) -> None:
    """Print the tour's results (computed by ``latentfactors._quickstart.run``)."""
    h = out["held_out"]
    c.print(f"\n[bold]Held-out[/]: SVD RMSE {h['svd_rmse']:.4f}, MAE {h['svd_mae']:.4f} "
            f"(biases alone: RMSE {h['baseline_rmse']:.4f}); ImplicitALS NDCG@10 "
            f"{h['als_ndcg@10']:.4f}, recall@10 {h['als_recall@10']:.4f} (most popular "
            f"unseen items: NDCG@10 {h['popularity_ndcg@10']:.4f})")  # fmt: skip
    su = out["sample_user"]
    c.print(table(f"\nTop 10 for user {su['user']} ({su['n_train_ratings']} ratings in train; "
                  "ImplicitALS, already-rated excluded)", ["#", "title", "score"],
                  [[r + 1, e["title"], e["score"]]
                   for r, e in enumerate(su["recommendations"])]))  # fmt: skip
    c.print(table(f"\nMost similar to {out['similar']['title']} (SVD item factors, cosine; "
                  "items with >= 20 ratings)",
                  ["#", "title", "similarity"],
                  [[r + 1, e["title"], e["similarity"]]
                   for r, e in enumerate(out["similar"]["neighbours"])]))  # fmt: skip
    c.print("\n[bold]What the leading factor axes capture[/] (principal axes of SVD's item "
            "factors, items with >= 50 ratings):")  # fmt: skip
    for e in out["factors"]:
        c.print(f"  axis {e['axis']} ({e['variance_share']:.0%} of variance)")
        c.print(f"    + {esc('; '.join(e['positive']))}")
        c.print(f"    - {esc('; '.join(e['negative']))}")
        if "genres" in e:
            c.print("    strongest genre correlations: "
                    + esc(", ".join(f"{k} {v:+.2f}" for k, v in e["genres"].items())))  # fmt: skip
    strongest = max((abs(v) for e in out["factors"] for v in e.get("genres", {}).values()),
                    default=None)  # fmt: skip
    if strongest is not None:
        verdict = (
            "genres explain part of an axis; it also carries taste, era and popularity"
            if strongest >= 0.25
            else "genres explain little of these axes; read them as taste patterns, not labels"
        )
        c.print(f"  (strongest |r| with a genre: {strongest:.2f}; {verdict})")
    if out["saved"]:
        c.print(f"\nSaved {esc(', '.join(out['saved']))}")
    c.print(esc(f"Report: {out['report']}" if out["report"] else out.get("report_note", "")))
    c.print(f"Done in {out['seconds']:.1f} s. Next, try:")
    for cmd in out["next"]:
        c.print(f"  {esc(cmd)}")
