"""``latentfactors report``: the HTML report of a saved model."""

from __future__ import annotations

import click

from ._app import data_options, load_data, load_model, main
from ._output import console, emit_json, esc


@main.command()
@click.argument("model_file", type=click.Path())
@click.option("-o", "--output", type=click.Path(), default="report.html", show_default=True,
              help="The HTML file to write.")  # fmt: skip
@click.option("--test", type=click.Path(), default=None,
              help="Held-out interactions (file or folder) to score in the report.")  # fmt: skip
@data_options
@click.option(
    "-k", "k", type=int, default=10, show_default=True, help="Cut-off of ranking metrics."
)
@click.option("--min-count", type=int, default=20, show_default=True,
              help="Leave out items with fewer training interactions.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True)
def report(model_file, output, test, k, min_count, as_json, **data_opts):
    """Write one self-contained HTML report on a saved model: metrics, training curves,
    principal axes, genre links against chance, clusters, a 2-D map, heatmaps and sample
    recommendations with explanations. Needs matplotlib and scikit-learn
    (pip install 'latentfactors[report]').

    \b
    Examples:
      latentfactors report svd.lfm -o report.html
      latentfactors report svd.lfm --test ../shared/data/ml-100k/u1.test \\
          --names user,item,rating,ts -o report.html
    """
    from ..inspection import write_report

    model = load_model(model_file)
    inter = load_data(test, {**data_opts, "quiet": as_json}).interactions if test else None
    try:
        path = write_report(model, output, items=getattr(model, "item_metadata_", None),
                            test=inter, k=k, min_count=min_count)  # fmt: skip
    except ImportError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        emit_json({"report": str(path), "bytes": path.stat().st_size})
    else:
        console().print(f"wrote {esc(path)} ({path.stat().st_size / 1e6:.1f} MB)")
