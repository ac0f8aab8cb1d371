"""Plots, tables, the HTML report (also in a headless browser) and the report command."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import latentfactors as lf
from latentfactors.data import make_synthetic
from latentfactors.exceptions import InvalidParameterError
from latentfactors.inspection import (
    explanation_table,
    factor_correlation,
    factor_heatmap,
    map_2d,
    neighbours_table,
    training_curves,
    write_report,
)

pytest.importorskip("matplotlib")
pytest.importorskip("sklearn")

CHROMIUM = "/usr/bin/chromium"


def _saved_png(fig, path: Path) -> Path:
    from matplotlib.figure import Figure

    assert isinstance(fig, Figure)
    fig.savefig(path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5000
    return path


@pytest.fixture(scope="module")
def small():
    """A small synthetic explicit model with hostile titles and genres."""
    syn = make_synthetic(300, 120, 6000, rank=3, seed=0)
    ids = syn.interactions.items.raw
    items = pd.DataFrame(
        {"title": [f"<script>alert({i})</script> & film {i}" for i in ids],
         "genres": [["A"] if i % 3 else ["B", "<b>C</b>"] for i in ids]},
        index=ids,
    )  # fmt: skip
    model = lf.SVD(n_factors=4, n_epochs=5, random_state=0).fit(syn.interactions)
    return model, items


# ---------------------------------------------------------------------- plots
def test_plots_return_figures_and_save(ml_fit, tmp_path):
    model, items, _, _ = ml_fit
    fig = map_2d(model, items, labels=[50, 181, 1])
    ax = fig.axes[0]
    assert "PCA" in ax.get_title() and len(ax.texts) == 3
    assert "Star Wars (1977)" in [t.get_text() for t in ax.texts]
    _saved_png(fig, tmp_path / "map.png")
    fig = map_2d(model, items, color_by="Horror", n_labels=5, min_count=50)
    assert any("Horror (" in t.get_text() for t in fig.axes[0].get_legend().get_texts())
    _saved_png(fig, tmp_path / "map_horror.png")
    fig = map_2d(model, items, method="tsne", color_by="popularity", n_labels=0, min_count=150)
    assert "TSNE" in fig.axes[0].get_title()
    _saved_png(fig, tmp_path / "tsne.png")
    fig = factor_heatmap(model, items, n_items=30)
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert len(labels) == 30 and labels[0] == "Star Wars (1977)"  # the most-rated film
    _saved_png(fig, tmp_path / "heatmap.png")
    raw = factor_heatmap(model, items, n_items=10, n_factors=None, rotate=False)
    assert raw.axes[0].images[0].get_array().shape == (10, 100)
    fig = factor_correlation(model)
    C = fig.axes[0].images[0].get_array()
    assert C.shape == (100, 100) and np.allclose(np.diag(C), 1.0)
    _saved_png(fig, tmp_path / "corr.png")
    fig = training_curves(model)
    assert {ln.get_label() for ln in fig.axes[0].get_lines()} == {"train_rmse", "val_rmse"}
    _saved_png(fig, tmp_path / "curves.png")


def test_plot_errors(ml_fit):
    model, items, _, _ = ml_fit
    with pytest.raises(InvalidParameterError, match="Western"):
        map_2d(model, items, color_by="Space Opera")
    with pytest.raises(InvalidParameterError, match="'pca', 'umap' or 'tsne'"):
        map_2d(model, items, method="mds")
    try:
        import umap  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="pip install umap-learn"):
            map_2d(model, items, method="umap")
    baseline = lf.Baseline().fit(make_synthetic(50, 20, 300).interactions)
    with pytest.raises(InvalidParameterError):
        map_2d(baseline, min_count=0)


def test_implicit_training_curves_use_a_second_axis():
    syn = make_synthetic(200, 80, 3000, implicit=True, seed=0)
    train, val = lf.random_split(syn.interactions, 0.2, seed=0)
    model = lf.ImplicitALS(n_factors=4, n_epochs=3, compute_loss=True, random_state=0)
    fig = training_curves(model.fit(train, validation=val))
    assert len(fig.axes) == 2 and fig.axes[1].get_ylabel() == "val_ndcg@10"


# ---------------------------------------------------------------------- tables
def test_neighbours_and_explanation_tables(ml_fit):
    model, items, _, _ = ml_fit
    nb = neighbours_table(model, 50, n=10, items=items)
    assert list(nb.columns) == ["rank", "item", "title", "similarity", "n_train", "genres"]
    assert nb.attrs["title"] == "Star Wars (1977)"
    assert "Empire Strikes Back, The (1980)" in nb["title"].tolist()
    assert nb["similarity"].is_monotonic_decreasing
    ex = explanation_table(model, 1, 50, items)
    assert ex["contribution"].sum() == pytest.approx(ex.attrs["score"], abs=1e-6)
    assert ex.attrs["title"] == "Star Wars (1977)" and len(ex) == 3 + 100
    assert explanation_table(model, 1, 50, items, n=4).shape[0] == 4


def test_item_based_explanations_get_titles():
    syn = make_synthetic(200, 80, 3000, implicit=True, seed=0)
    items = pd.DataFrame({"title": [f"film {i}" for i in range(80)]})
    model = lf.ImplicitALS(n_factors=4, n_epochs=3, random_state=0).fit(syn.interactions)
    user = model.users_.raw[0]
    ex = explanation_table(model, user, model.items_.raw[0], items)
    assert (ex["kind"] == "item").all()
    assert ex["title"].tolist() == [f"film {i}" for i in ex["name"]]


# ---------------------------------------------------------------------- report
@pytest.fixture(scope="module")
def ml_report(ml_fit, tmp_path_factory):
    model, items, train, test = ml_fit
    path = tmp_path_factory.mktemp("report") / "report.html"
    assert write_report(model, path, items, test=test, train=train) == path
    return path


def test_report_is_self_contained(ml_report):
    text = ml_report.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    assert not re.search(r"https?://", text), "the report must not reference the network"
    assert "<script" not in text.lower() and "<link" not in text.lower()
    assert "src=" not in text.replace('src="data:image/png;base64,', "")  # inline images only
    assert text.count('src="data:image/png;base64,') >= 4
    for heading in ("Held-out metrics", "Training curves", "What the principal axes capture",
                    "Axes and genres", "Item clusters", "Map of the items",
                    "Item x factor heatmap", "Factor correlations", "Sample recommendations",
                    "How far to trust"):  # fmt: skip
        assert f">{heading}" in text, heading
    assert "Skipped" not in text
    assert "Star Wars (1977)" in text and "rmse" in text
    assert "for random clusters of the same sizes" in text and "shuffled" in text
    assert "Wallace &amp; Gromit" in text  # escaped


def test_report_escapes_text_and_survives_missing_parts(small, tmp_path):
    model, items = small
    path = write_report(model, tmp_path / "small.html", items, min_count=5)
    text = path.read_text(encoding="utf-8")
    assert "<script" not in text and "&lt;script&gt;alert(" in text
    assert "<b>C</b>" not in text
    # no metadata at all, and a model with no factors: sections say why they are skipped
    bare = write_report(model, tmp_path / "bare.html", min_count=5).read_text(encoding="utf-8")
    assert "Axes and genres" not in bare and "Item clusters" in bare
    base = lf.Baseline().fit(make_synthetic(100, 40, 1500, seed=0).interactions)
    text = write_report(base, tmp_path / "base.html").read_text(encoding="utf-8")
    assert "Skipped: InvalidParameterError" in text and "Sample recommendations" in text


def test_report_includes_a_sweep(tmp_path):
    from latentfactors.evaluation import factor_sweep

    syn = make_synthetic(200, 80, 4000, rank=2, seed=0)
    train, val = lf.random_split(syn.interactions, 0.2, seed=0)
    sweep = factor_sweep(lf.SVD(n_epochs=5, random_state=0), train, val, n_factors=[1, 2, 4])
    model = lf.SVD(n_factors=2, n_epochs=5, random_state=0).fit(train)
    text = write_report(model, tmp_path / "s.html", sweep=sweep, min_count=5).read_text()
    assert "Sweep over n_factors" in text
    assert text.count("data:image/png;base64,") >= 5


def test_report_renders_in_headless_chromium(ml_report, tmp_path):
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        pytest.skip("Chromium not installed (apt-get install chromium)")
    exe = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    shot = tmp_path / "shot.png"
    cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--no-first-run", f"--user-data-dir={tmp_path / 'prof'}",
           "--enable-logging=stderr", "--v=0", f"--screenshot={shot}",
           "--window-size=1280,2000", ml_report.resolve().as_uri()]  # fmt: skip
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=90)
    except subprocess.TimeoutExpired:
        pytest.fail("chromium did not finish within 90 s")
    log = res.stdout + res.stderr
    assert shot.is_file() and shot.stat().st_size > 20_000, log[-2000:]
    import matplotlib.image as mpimg

    pixels = mpimg.imread(shot)
    assert pixels.shape[:2] == (2000, 1280)
    assert float(pixels[..., :3].std()) > 0.05, "the screenshot is blank"
    bad = [ln for ln in log.splitlines() if "Uncaught" in ln or "ERROR:CONSOLE" in ln]
    assert not bad, bad


# ---------------------------------------------------------------------- command line
def test_report_command(ml_fit, tmp_path):
    from click.testing import CliRunner

    from latentfactors.cli import main

    model, items, _, test = ml_fit
    model_file = tmp_path / "svd.lfm"
    lf.save(model, model_file, items=items)
    test_csv = tmp_path / "test.csv"
    test.to_dataframe().to_csv(test_csv, index=False)
    out = tmp_path / "r.html"
    res = CliRunner().invoke(main, ["report", str(model_file), "-o", str(out), "--test",
                                    str(test_csv), "--json"])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["report"] == str(out)
    text = out.read_text(encoding="utf-8")
    assert "Held-out metrics" in text and "Star Wars (1977)" in text and "Horror" in text
    res = CliRunner().invoke(main, ["report", str(tmp_path / "nope.lfm")])
    assert res.exit_code == 4


def test_quickstart_report_is_skipped_without_plotting(monkeypatch, tmp_path):
    import latentfactors.inspection as inspection
    from latentfactors._quickstart import _report

    def missing(*args, **kwargs):
        raise ImportError("write_report needs matplotlib and scikit-learn")

    monkeypatch.setattr(inspection, "write_report", missing)
    path, note = _report(str(tmp_path), None, None, None)
    assert path is None and "matplotlib" in note


def test_factor_correlation_leaves_constant_factors_blank():
    """A constant factor (NMF can zero one out) has no correlation: its row and column
    stay blank and the other factors keep their positions; fewer than 2 varying factors
    is an error (it used to draw a 2 x 2 identity)."""
    import copy

    model = lf.SVD(n_factors=4, n_epochs=5, random_state=0)
    model.fit(make_synthetic(200, 80, 4000, seed=0).interactions)
    some = copy.copy(model)
    some.item_factors_ = model.item_factors_.copy()
    some.item_factors_[:, 1] = 0.0
    C = np.ma.filled(factor_correlation(some).axes[0].images[0].get_array(), np.nan)
    assert C.shape == (4, 4)
    assert np.isnan(C[1]).all() and np.isnan(C[:, 1]).all()
    keep = [0, 2, 3]
    want = np.corrcoef(model.item_factors_[:, keep].astype(np.float64), rowvar=False)
    np.testing.assert_allclose(C[np.ix_(keep, keep)], want, atol=1e-12)
    some.item_factors_[:, 2:] = 0.5
    with pytest.raises(InvalidParameterError, match=r"only 1 of the 4 factors vary over the 80 "
                       r"items used \(the others are constant\); correlations need 2: "
                       r"lower min_count"):  # fmt: skip
        factor_correlation(some)
    with pytest.raises(InvalidParameterError, match=r"min_count=100000 leaves 0 items; "
                       r"correlations need at least 3: lower min_count"):  # fmt: skip
        factor_correlation(model, min_count=100_000)
