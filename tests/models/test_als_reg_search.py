"""Explicit ALS's ``reg="auto"``: the slice out of both sides while the candidates are
fitted, the choice and its record, the refit at the choice, files, fold-in, refusals."""

from __future__ import annotations

import numpy as np
import pytest

from latentfactors import Interactions, InvalidParameterError, load, save
from latentfactors.data import make_synthetic
from latentfactors.models import ALS
from latentfactors.models._regsearch import slice_rng, validation_slice


@pytest.fixture(scope="module")
def small():
    return make_synthetic(400, 150, 12_000, rank=4, noise=0.3, seed=3).interactions


def _rmse_on(model_or_arrays, users, items, truth, mu=None):
    m = model_or_arrays
    pred = (m.global_mean_ + m.user_bias_[users] + m.item_bias_[items]
            + np.einsum("ij,ij->i", m.user_factors_[users], m.item_factors_[items]))  # fmt: skip
    return float(np.sqrt(np.mean((pred - truth) ** 2)))


def test_auto_chooses_the_lowest_validation_rmse_and_refits_from_the_seed(small):
    auto = ALS(n_factors=8, random_state=0).fit(small)
    search = auto.reg_search_
    assert search["candidates"] == list(ALS.AUTO_REG[True])
    assert search["metric"] == "rmse" and len(search["scores"]) == 5
    best = int(np.argmin(search["scores"]))
    assert search["chosen"] == search["candidates"][best] == auto.reg_
    assert search["standard_errors"][best] == 0.0
    assert all(e > 0 for j, e in enumerate(search["standard_errors"]) if j != best)
    assert (
        search["validation_users"] == int((np.diff(small.csr.indptr) >= 3).sum())
        and search["validation_interactions"] > 2000
    )
    # the slice goes back and the fit restarts from the initial factors: exactly the
    # model of the chosen value
    fixed = ALS(n_factors=8, reg=auto.reg_, random_state=0).fit(small)
    for name in ("user_factors_", "item_factors_", "user_bias_", "item_bias_"):
        np.testing.assert_array_equal(getattr(auto, name), getattr(fixed, name))
    assert auto.history_["train_rmse"] == fixed.history_["train_rmse"]
    assert not hasattr(fixed, "reg_search_") and fixed.reg_ == auto.reg_


def test_the_slice_is_out_of_both_sides_while_the_candidates_train(small):
    """The search's score of its first (strongest) candidate is that of a 2-epoch fit,
    from the same initial factors, on the data without the slice: the held-out ratings
    reach neither the user nor the item solves. A fit that saw them scores far lower."""
    csr = small.csr
    rows, pos = validation_slice(csr.indptr.astype(np.int64), slice_rng(0))
    items = csr.indices[pos]
    truth = csr.data[pos].astype(np.float64)
    key = small.user_ids.astype(np.int64) * small.n_items + small.item_ids
    held = np.isin(key, rows * small.n_items + items)
    assert held.sum() == len(pos)
    rest = small.subset(~held)
    assert (rest.n_users, rest.n_items) == (small.n_users, small.n_items)
    strongest = ALS.AUTO_REG[True][-1]
    search = ALS(n_factors=8, random_state=0).fit(small).reg_search_
    alone = ALS(n_factors=8, n_epochs=2, reg=strongest, random_state=0).fit(rest)
    seen = ALS(n_factors=8, n_epochs=2, reg=strongest, random_state=0).fit(small)
    # the same up to the global mean (the search centres on the full data's)
    assert search["scores"][-1] == pytest.approx(_rmse_on(alone, rows, items, truth), abs=2e-3)
    assert _rmse_on(seen, rows, items, truth) < search["scores"][-1] - 0.02


def test_a_list_unweighted_ladder_and_a_number(small):
    m = ALS(n_factors=4, n_epochs=2, reg=[0.3, 0.03, 0.3], random_state=0).fit(small)
    assert m.reg_search_["candidates"] == [0.03, 0.3] and m.reg_ in (0.03, 0.3)
    u = ALS(n_factors=4, n_epochs=2, weighted=False, random_state=0).fit(small)
    assert u.reg_search_["candidates"] == list(ALS.AUTO_REG[False])
    lam, _ = u._penalties(np.array([7, 1]))
    np.testing.assert_allclose(lam, [u.reg_, u.reg_])  # unweighted: not scaled by counts
    n = ALS(n_factors=4, n_epochs=2, reg=0.2, random_state=0).fit(small)
    assert n.reg_ == 0.2 and not hasattr(n, "reg_search_")


def test_search_is_the_same_on_one_and_two_threads(small):
    one = ALS(n_factors=8, n_epochs=2, n_threads=1, random_state=1).fit(small)
    two = ALS(n_factors=8, n_epochs=2, n_threads=2, random_state=1).fit(small)
    assert one.reg_search_ == two.reg_search_
    np.testing.assert_array_equal(one.item_factors_, two.item_factors_)


def test_exact_solver_searches_too(small):
    m = ALS(n_factors=8, n_epochs=3, solver="exact", random_state=0).fit(small)
    fixed = ALS(n_factors=8, n_epochs=3, solver="exact", reg=m.reg_, random_state=0).fit(small)
    np.testing.assert_array_equal(m.user_factors_, fixed.user_factors_)


def test_too_little_data_falls_back_to_0_1():
    tiny = Interactions.from_arrays(["a", "a", "b"], ["x", "y", "y"], ratings=[4.0, 2.0, 5.0])
    m = ALS(n_factors=2, n_epochs=1, random_state=0).fit(tiny)
    assert m.reg_ == 0.1 and m.reg_search_["scores"] == [None] * 5
    assert m.reg_search_["validation_users"] == 0


def test_record_survives_a_file_and_fold_in_uses_the_choice(small, tmp_path):
    m = ALS(n_factors=6, n_epochs=4, solver="exact", random_state=0).fit(small)
    assert m.reg_ != 0.1  # the fallback, which a fold-in must not use
    save(m, tmp_path / "m.lfm")
    back = load(tmp_path / "m.lfm")
    assert back.reg_search_ == m.reg_search_ and back.reg_ == m.reg_
    row = 9
    sub = small.subset(small.user_ids == row)
    fold = back.fold_in(sub, update=False)
    # the exact solver's last user half-step is what fold-in computes, at the chosen reg
    np.testing.assert_allclose(fold.factors[0], m.user_vectors_[row], rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize(
    ("reg", "message"),
    [
        ("fast", r"ALS\(reg='fast'\) is not valid: pass a number > 0, 'auto'"),
        ([], r"ALS\(reg=\[\]\) is not valid: give at least one value"),
        ([0.1, 0.0], r"ALS: reg=0.0 is invalid; expected a number > 0"),
        (0.0, r"ALS: reg=0.0 is invalid; expected a number > 0"),
        (
            np.array([0.1, 0.2]),
            r"ALS\(reg=<array>\) is not valid: pass the candidates as a "
            r"list \(reg=\[0.05, 0.07, 0.1\]\)",
        ),
    ],
)
def test_bad_reg_is_refused_with_its_message(small, reg, message):
    with pytest.raises(InvalidParameterError, match=message):
        ALS(reg=reg).fit(small)
