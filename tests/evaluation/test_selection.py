"""cross_validate, GridSearch, RandomSearch and the optional OptunaSearch."""

import sys

import numpy as np
import pytest

from latentfactors import InvalidParameterError
from latentfactors.data import kfold, make_synthetic, random_split
from latentfactors.evaluation import (
    CVResult,
    GridSearch,
    OptunaSearch,
    RandomSearch,
    cross_validate,
)
from latentfactors.evaluation.selection import _n_cores
from latentfactors.models import SVD, Baseline, ImplicitALS


@pytest.fixture(scope="module")
def explicit():
    return random_split(make_synthetic(300, 150, 9000, rank=3, noise=0.3, seed=0).interactions)


@pytest.fixture(scope="module")
def cv_data():
    return make_synthetic(200, 100, 4000, seed=1).interactions


def pairs(x):
    return set(zip(x.users.ids(x.user_ids).tolist(), x.items.ids(x.item_ids).tolist()))


def test_cross_validate_each_row_in_one_test_fold(cv_data):
    data = cv_data
    res = cross_validate(Baseline(), data, cv=4, metrics=["rmse", "mae"], seed=2)
    assert isinstance(res, CVResult)
    assert res.folds.shape == (4, 6)
    assert list(res.folds.columns) == ["rmse", "mae", "fit_time", "test_time", "n_test",
                                       "n_skipped"]  # fmt: skip
    assert list(res.folds.index) == [1, 2, 3, 4]
    assert list(res.summary.index) == ["mean", "std"]
    assert res.summary.loc["mean", "rmse"] == pytest.approx(res.folds["rmse"].mean())
    assert res.summary.loc["std", "rmse"] == pytest.approx(res.folds["rmse"].std())
    # the folds cross_validate uses: disjoint test sets that together hold every row
    tests = [pairs(test) for _, test in kfold(data, 4, seed=2, drop_unknown=False)]
    assert sum(len(t) for t in tests) == len(data) == len(set().union(*tests))
    assert (res.folds["n_test"] + res.folds["n_skipped"]).tolist() == [len(t) for t in tests]
    assert (res.folds["fit_time"] > 0).all() and (res.folds["test_time"] > 0).all()


def test_cross_validate_threads_and_models(cv_data):
    serial = cross_validate(SVD(n_factors=4, n_epochs=5, random_state=0), cv_data, cv=3,
                            metrics=["rmse", "ndcg@5"], seed=2)  # fmt: skip
    parallel = cross_validate(SVD(n_factors=4, n_epochs=5, random_state=0), cv_data, cv=3,
                              metrics=["rmse", "ndcg@5"], seed=2, n_jobs=2,
                              return_models=True)  # fmt: skip
    np.testing.assert_allclose(parallel.folds["rmse"], serial.folds["rmse"], rtol=1e-5)
    assert serial.models is None and len(parallel.models) == 3
    assert {m.n_threads for m in parallel.models} == {max(1, _n_cores() // 2)}
    implicit = make_synthetic(100, 60, 2000, implicit=True, seed=0).interactions
    res = cross_validate(ImplicitALS(n_factors=4, n_epochs=2, random_state=0), implicit, cv=2)
    assert list(res.folds.columns)[:4] == ["precision@10", "recall@10", "ndcg@10", "map@10"]


def test_cross_validate_bad_arguments(cv_data):
    with pytest.raises(InvalidParameterError, match=r"cv=1 is invalid; expected an integer >= 2"):
        cross_validate(Baseline(), cv_data, cv=1)
    with pytest.raises(InvalidParameterError, match=r"n_jobs=0 is invalid"):
        cross_validate(Baseline(), cv_data, n_jobs=0)
    with pytest.raises(InvalidParameterError, match=r"k=0 is invalid"):
        cross_validate(Baseline(), cv_data, k=0)
    with pytest.raises(InvalidParameterError, match=r"unknown metric 'rsme'"):
        cross_validate(Baseline(), cv_data, metrics=["rsme"])


def test_grid_search_finds_the_known_best(explicit):
    train, _ = explicit  # planted rank 3, little noise
    search = GridSearch(SVD(n_epochs=25, random_state=0), {"n_factors": np.array([1, 3]),
                        "reg": [0.02, 5.0]}, metric="rmse").fit(train)  # fmt: skip
    assert search.best_params_ == {"n_factors": 3, "reg": 0.02}
    assert type(search.best_params_["n_factors"]) is int  # numpy values made plain (JSON)
    assert len(search.results_) == 4
    assert list(search.results_.columns) == ["n_factors", "reg", "mean_score", "std_score",
                                             "fit_time", "seconds", "rank"]  # fmt: skip
    best = search.results_.loc[search.results_["rank"] == 1]
    assert best["mean_score"].item() == search.best_score_ == search.results_["mean_score"].min()
    assert search.best_model_.n_factors_ == 3 and search.best_model_.n_train_ == len(train)
    cv = GridSearch(Baseline(), {"reg_u": [0.1, 1000.0]}, cv=3, refit=False).fit(train)
    assert cv.best_params_ == {"reg_u": 0.1} and not hasattr(cv, "best_model_")
    assert (cv.results_["std_score"] > 0).all()


def test_grid_search_higher_is_better_for_ranking(explicit):
    train, _ = explicit
    search = GridSearch(Baseline(), {"reg_i": [1.0, 1e6]}, metric="ndcg@5").fit(train)
    scores = search.results_["mean_score"]
    assert scores.nunique() == 2 and search.best_score_ == scores.max()
    assert search.results_.loc[scores.idxmax(), "rank"] == 1


def test_search_bad_arguments(explicit):
    train, _ = explicit
    with pytest.raises(InvalidParameterError, match=r"SVD has no parameter\(s\) \['bogus'\]"):
        GridSearch(SVD(), {"bogus": [1]}).fit(train)
    with pytest.raises(InvalidParameterError, match=r"param_grid must be a non-empty dict"):
        GridSearch(SVD(), {})
    with pytest.raises(InvalidParameterError, match=r"write \{'reg': \[0.1\]\} to try one"):
        GridSearch(SVD(), {"reg": 0.1})
    with pytest.raises(InvalidParameterError, match=r"param_grid has no values for \['reg'\]"):
        GridSearch(SVD(), {"reg": []})
    with pytest.raises(InvalidParameterError, match=r"unknown metric 'ndcg10'"):
        GridSearch(SVD(), {"reg": [0.1]}, metric="ndcg10").fit(train)
    with pytest.raises(InvalidParameterError, match=r"n_iter=0 is invalid"):
        RandomSearch(Baseline(), {"reg_u": [1, 2]}, n_iter=0)
    with pytest.raises(InvalidParameterError, match=r"neither a non-empty list of values nor"):
        RandomSearch(Baseline(), {"reg_u": 3.0})


def test_random_search_runs_n_iter(explicit):
    from scipy.stats import loguniform

    train, _ = explicit
    space = {"reg_u": loguniform(0.1, 100), "reg_i": [1, 5]}
    search = RandomSearch(Baseline(), space, n_iter=5, seed=3).fit(train)
    assert len(search.results_) == 5
    assert search.results_["reg_i"].isin([1, 5]).all()
    assert search.results_["reg_u"].between(0.1, 100).all()
    assert search.results_["reg_u"].nunique() == 5
    assert search.best_params_ in search.results_[["reg_u", "reg_i"]].to_dict(orient="records")
    again = RandomSearch(Baseline(), space, n_iter=5, seed=3).fit(train)
    assert again.results_["reg_u"].tolist() == search.results_["reg_u"].tolist()


def test_optuna_search_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "optuna", None)  # as if Optuna were not installed
    with pytest.raises(InvalidParameterError, match=r"OptunaSearch needs Optuna: pip install"):
        OptunaSearch(Baseline(), {"reg_u": (0.1, 10.0)})


def test_optuna_search_runs(explicit):
    pytest.importorskip("optuna", reason="optional: Optuna is not installed")
    train, _ = explicit
    search = OptunaSearch(Baseline(), {"reg_u": (0.1, 100.0, "log"), "reg_i": [1, 5]},
                          n_trials=4).fit(train)  # fmt: skip
    assert len(search.results_) == 4 and set(search.best_params_) == {"reg_u", "reg_i"}
    # the same results table as the other searches: a rank, and the best row's index
    best = search.results_.iloc[search.best_index_]
    assert best["rank"] == 1 and best["mean_score"] == search.best_score_
    assert best["mean_score"] == search.results_["mean_score"].min()  # RMSE: lower wins
    assert {k: best[k] for k in ("reg_u", "reg_i")} == search.best_params_


def test_search_ranks_a_diverging_setting_last(explicit):
    train, _ = explicit
    grid = {"lr": [0.01, 5.0], "n_epochs": [3]}
    for cv in (None, 2):
        search = GridSearch(SVD(n_factors=4, random_state=0), grid, cv=cv).fit(train)
        t = search.results_.set_index("lr")
        assert np.isnan(t.loc[5.0, "mean_score"]) and t.loc[5.0, "rank"] == 2
        assert search.best_params_["lr"] == 0.01 and np.isfinite(search.best_score_)
    with pytest.raises(InvalidParameterError, match=r"every one is NaN\): every fit diverged"):
        GridSearch(SVD(n_factors=4), {"lr": [5.0, 9.0], "n_epochs": [3]}).fit(train)
