"""evaluate, cross_validate, the searches and the sweeps."""

import numpy as np
import pytest

from latentfactors import DataError, Interactions, InvalidParameterError
from latentfactors.data import make_synthetic, random_split
from latentfactors.evaluation import (
    GridSearch,
    RandomSearch,
    cross_validate,
    evaluate,
    factor_sweep,
    regularization_sweep,
)
from latentfactors.models import SVD, Baseline, ImplicitALS


@pytest.fixture(scope="module")
def explicit():
    return random_split(make_synthetic(300, 150, 9000, rank=3, noise=0.3, seed=0).interactions)


def test_evaluate_reports_metrics_and_skips(explicit):
    train, test = explicit
    model = SVD(n_factors=4, n_epochs=10, random_state=0).fit(train)
    extra = Interactions.from_arrays(
        np.concatenate([test.users.ids(test.user_ids).astype(object), ["ghost", "ghost"]]),
        np.concatenate([test.items.ids(test.item_ids), [0, 1]]),
        ratings=np.concatenate([test.values, [3, 4]]),
    )
    res = evaluate(model, extra, k=5, metrics=["rmse", "ndcg", "recall@10", "auc",
                                                "coverage@5", "mean_popularity@5"])  # fmt: skip
    assert list(res.metrics) == ["rmse", "ndcg@5", "recall@10", "auc", "coverage@5",
                                 "mean_popularity@5"]  # fmt: skip
    assert res.skipped == {"unknown user": 2} and res.n_skipped_rows == 2
    assert res.n_rows == len(test)
    assert 0.5 < res["auc"] <= 1 and 0 < res["coverage@5"] <= 1
    assert res.to_frame().shape[0] == 1
    pred = model.predict(test.users.ids(test.user_ids), test.items.ids(test.item_ids))
    assert res["rmse"] == pytest.approx(np.sqrt(np.mean((pred - test.values) ** 2)))


def test_evaluate_bad_arguments(explicit):
    train, test = explicit
    model = Baseline().fit(train)
    with pytest.raises(InvalidParameterError, match=r"unknown metric 'f1'; valid metrics: rmse"):
        evaluate(model, test, metrics=["f1"])
    with pytest.raises(InvalidParameterError, match=r"k=0 is invalid"):
        evaluate(model, test, k=0)
    with pytest.raises(DataError, match="test must be an Interactions container"):
        evaluate(model, [1, 2])
    implicit = ImplicitALS(n_factors=4, n_epochs=2).fit(train)
    with pytest.raises(InvalidParameterError, match="predicts preference scores, not ratings"):
        evaluate(implicit, test, metrics=["rmse"])


def test_cross_validate_folds(explicit):
    data = make_synthetic(200, 100, 4000, seed=1).interactions
    res = cross_validate(Baseline(), data, cv=4, metrics=["rmse", "mae"], seed=2)
    assert list(res.folds.index) == [1, 2, 3, 4]
    assert {"rmse", "mae", "fit_time", "test_time", "n_test"} <= set(res.folds.columns)
    assert (res.folds["n_test"] + res.folds["n_skipped"]).sum() == len(data)
    assert res.summary.loc["mean", "rmse"] == pytest.approx(res.folds["rmse"].mean())
    parallel = cross_validate(Baseline(), data, cv=4, metrics=["rmse"], seed=2, n_jobs=2)
    np.testing.assert_allclose(parallel.folds["rmse"], res.folds["rmse"])


def test_grid_search_finds_the_known_best(explicit):
    train, _ = explicit
    search = GridSearch(SVD(n_epochs=25, random_state=0), {"n_factors": [1, 3],
                        "reg": [0.02, 5.0]}, metric="rmse").fit(train)  # fmt: skip
    assert search.best_params_ == {"n_factors": 3, "reg": 0.02}
    assert len(search.results_) == 4 and search.results_["rank"].min() == 1
    assert search.best_model_.n_factors_ == 3
    cv = GridSearch(Baseline(), {"reg_u": [0.1, 1000.0]}, cv=3, refit=False).fit(train)
    assert cv.best_params_ == {"reg_u": 0.1} and not hasattr(cv, "best_model_")
    with pytest.raises(InvalidParameterError, match=r"SVD has no parameter\(s\) \['bogus'\]"):
        GridSearch(SVD(), {"bogus": [1]}).fit(train)


def test_random_search_runs_n_iter(explicit):
    from scipy.stats import loguniform

    train, _ = explicit
    search = RandomSearch(Baseline(), {"reg_u": loguniform(0.1, 100), "reg_i": [1, 5]},
                          n_iter=5, seed=3).fit(train)  # fmt: skip
    assert len(search.results_) == 5
    assert search.results_["reg_i"].isin([1, 5]).all()
    again = RandomSearch(Baseline(), {"reg_u": loguniform(0.1, 100), "reg_i": [1, 5]},
                         n_iter=5, seed=3).fit(train)  # fmt: skip
    assert again.results_["reg_u"].tolist() == search.results_["reg_u"].tolist()


def test_optuna_search_needs_optuna():
    pytest.importorskip("optuna", reason="optional: Optuna is not installed")


def test_factor_sweep_shows_overfitting():
    """Too many factors on a small noisy set: validation error rises again."""
    data = make_synthetic(150, 100, 2500, rank=2, noise=1.0, seed=0).interactions
    train, val = random_split(data, 0.2, seed=0)
    model = SVD(n_epochs=60, lr=0.02, reg=0.0, reg_bias=0.0, init_std=0.1, random_state=0)
    sweep = factor_sweep(model, train, val, n_factors=[1, 2, 4, 16, 64], patience=None)
    t = sweep.table
    assert list(t["value"]) == [1, 2, 4, 16, 64]
    assert sweep.best_value in (1, 2, 4)
    assert sweep.overfit_from is not None
    assert t["validation"].iloc[-1] > t["validation"].min() + 0.05
    assert t["train"].iloc[-1] < t["train"].iloc[0]  # more factors always fit train better


def test_regularization_sweep_and_plot(explicit, tmp_path):
    pytest.importorskip("matplotlib", reason="plots need matplotlib")
    train, val = explicit
    sweep = regularization_sweep(SVD(n_factors=8, n_epochs=15, random_state=0), train, val,
                                 values=[0.0, 0.05, 5.0], n_jobs=2)  # fmt: skip
    assert sweep.best_value != 5.0
    fig = sweep.plot()
    fig.savefig(tmp_path / "sweep.png")
    assert (tmp_path / "sweep.png").stat().st_size > 1000
