"""factor_sweep and regularization_sweep: overfitting shows, early stopping, plots."""

import sys

import numpy as np
import pytest

from latentfactors import DivergenceError, InvalidParameterError
from latentfactors.data import make_synthetic, random_split
from latentfactors.evaluation import SweepResult, factor_sweep, regularization_sweep
from latentfactors.models import SVD, Baseline, ImplicitALS


@pytest.fixture(scope="module")
def explicit():
    return random_split(make_synthetic(300, 150, 9000, rank=3, noise=0.3, seed=0).interactions)


@pytest.mark.parametrize("seed", [0, 7])
def test_factor_sweep_shows_overfitting(seed):
    """Too many factors on a small noisy set: validation error rises again.

    2,000 training ratings of 150 users x 100 items (planted rank 2, noise 1.0), no
    regularization, 60 epochs each, no early stopping. Validation RMSE is lowest at 1-2
    factors and rises up to ~8 factors, where the factors have about as many parameters
    as there are ratings (2000 / 250); beyond that it comes down again (double descent:
    with 64 factors, seed 7's best is 64), so the sweep stops at 16.
    """
    data = make_synthetic(150, 100, 2500, rank=2, noise=1.0, seed=seed).interactions
    train, val = random_split(data, 0.2, seed=seed)
    model = SVD(n_epochs=60, lr=0.02, reg=0.0, reg_bias=0.0, init_std=0.1, random_state=seed)
    sweep = factor_sweep(model, train, val, n_factors=[1, 2, 4, 8, 16], patience=None)
    assert isinstance(sweep, SweepResult) and sweep.metric == "rmse"
    t = sweep.table
    assert list(t.columns) == ["value", "train", "validation", "best_epoch", "seconds"]
    assert t["value"].tolist() == [1, 2, 4, 8, 16] and (t["best_epoch"] == 60).all()
    assert sweep.best_value in (1, 2)
    assert sweep.overfit_from is not None and sweep.overfit_from > sweep.best_value
    val_err = t.set_index("value")["validation"]
    assert val_err[16] > val_err[sweep.best_value] + 0.05
    assert val_err[8] > val_err[4] > val_err[2]  # rising past the best
    assert (np.diff(t["train"]) < 0).all()  # while more factors always fit train better


def test_factor_sweep_with_early_stopping_reports_best_epochs(explicit):
    train, val = explicit
    model = SVD(n_epochs=40, lr=0.02, random_state=0)
    sweep = factor_sweep(model, train, val, n_factors=[1, 3, 12], patience=2, n_jobs=2)
    t = sweep.table
    assert (t["best_epoch"] >= 1).all() and (t["best_epoch"] <= 40).all()
    assert sweep.best_value in (3, 12)
    assert t.loc[t["value"] == sweep.best_value, "validation"].item() == t["validation"].min()


def test_sweep_of_an_implicit_model_on_its_metric():
    data = make_synthetic(120, 60, 2400, implicit=True, seed=1).interactions
    train, val = random_split(data, 0.2, seed=1)
    model = ImplicitALS(n_epochs=4, random_state=0)
    sweep = factor_sweep(model, train, val, n_factors=[2, 8], metric="recall@5", patience=2)
    assert sweep.metric == "recall@5"
    t = sweep.table
    assert t["validation"].between(0, 1).all() and t["train"].between(0, 1).all()
    assert sweep.best_value == t.loc[t["validation"].idxmax(), "value"]  # higher is better


def test_regularization_sweep_and_plot(explicit, tmp_path):
    pytest.importorskip("matplotlib", reason="plots need matplotlib")
    train, val = explicit
    sweep = regularization_sweep(SVD(n_factors=8, n_epochs=15, random_state=0), train, val,
                                 values=[0.0, 0.05, 5.0], n_jobs=2)  # fmt: skip
    assert sweep.param == "reg" and sweep.best_value != 5.0
    fig = sweep.plot()
    fig.savefig(tmp_path / "sweep.png")
    assert (tmp_path / "sweep.png").stat().st_size > 1000
    from matplotlib.figure import Figure

    other = Figure()
    ax = other.add_subplot()
    assert sweep.plot(ax=ax) is other and len(ax.lines) >= 2
    baseline = regularization_sweep(Baseline(), train, val, values=[1, 10], param="reg_u")
    assert baseline.table["best_epoch"].tolist() == [10, 10]  # Baseline's n_epochs


def test_plot_without_matplotlib_says_how_to_install(explicit, monkeypatch):
    train, val = explicit
    sweep = regularization_sweep(Baseline(), train, val, values=[1, 10], param="reg_u")
    for name in ("matplotlib", "matplotlib.figure", "matplotlib.backends.backend_agg"):
        monkeypatch.setitem(sys.modules, name, None)  # as if matplotlib were not installed
    with pytest.raises(ImportError, match=r"needs matplotlib, an optional dependency: pip install"):
        sweep.plot()


def test_sweep_bad_arguments(explicit):
    train, val = explicit
    with pytest.raises(InvalidParameterError, match=r"Baseline has no parameter 'n_factors'"):
        factor_sweep(Baseline(), train, val, n_factors=[1, 2])
    with pytest.raises(InvalidParameterError, match=r"give at least one value of n_factors"):
        factor_sweep(SVD(), train, val, n_factors=[])
    with pytest.raises(InvalidParameterError, match=r"n_jobs=0 is invalid"):
        regularization_sweep(SVD(), train, val, n_jobs=0)
    with pytest.raises(InvalidParameterError, match=r"unknown metric 'rmsee'"):
        factor_sweep(SVD(), train, val, n_factors=[1], metric="rmsee")
    implicit = ImplicitALS()
    with pytest.raises(InvalidParameterError, match=r"sweep it with a ranking metric"):
        factor_sweep(implicit, train, val, n_factors=[1], metric="rmse")


def test_a_diverging_value_is_never_the_best(explicit):
    """lr=5 makes SVD's factors overflow: that row has no score and the sweep picks among
    the others (np.argmax used to pick the NaN)."""
    train, val = explicit
    model = SVD(n_factors=4, n_epochs=5, random_state=0)
    sweep = regularization_sweep(model, train, val, values=[0.1, 5.0, 0.01], param="lr")
    t = sweep.table.set_index("value")
    assert np.isnan(t.loc[5.0, "validation"]) and t.loc[5.0, "best_epoch"] == 0
    assert sweep.best_value in (0.1, 0.01) and np.isfinite(t["validation"]).sum() == 2
    assert sweep.overfit_from != 5.0  # a diverged value is no sign of overfitting
    with pytest.raises(DivergenceError, match=r"every fit of the lr sweep diverged \(the "
                       r"factors overflowed\); lower lr or raise reg"):  # fmt: skip
        regularization_sweep(model, train, val, values=[5.0, 50.0], param="lr")


def test_a_sweep_without_scorable_validation_rows_says_so(explicit):
    from latentfactors import DataError

    train, _ = explicit
    # validation rows from another id space: no user or item in common with train
    other = make_synthetic(30, 20, 200, seed=9).interactions
    strangers = type(other).from_arrays(
        other.users.ids(other.user_ids) + 10_000, other.items.ids(other.item_ids) + 10_000,
        ratings=other.values,
    )  # fmt: skip
    with pytest.raises(DataError, match=r"no validation row has a user and an item seen"):
        regularization_sweep(SVD(n_epochs=2), train, strangers, values=[0.1], patience=None)
