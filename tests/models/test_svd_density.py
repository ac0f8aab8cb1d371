"""SVD / SVD++'s ``reg_density``: the factor penalties shrink as ``sqrt(reg_density / m)``
above ``reg_density`` training ratings per item, the same rule in training, fold-in and
a loaded model file."""

from __future__ import annotations

import numpy as np
import pytest

import latentfactors as lf
from latentfactors import InvalidParameterError
from latentfactors.data import make_synthetic
from latentfactors.models import SVD, SVDpp


@pytest.fixture(scope="module")
def dense():
    """400 users, 50 items, 8000 ratings: 160 per item."""
    return make_synthetic(400, 50, 8000, rank=3, seed=0).interactions


@pytest.fixture(scope="module")
def sparse():
    """300 users, 200 items, 4000 ratings: 20 per item."""
    return make_synthetic(300, 200, 4000, rank=3, seed=1).interactions


def _m(data):
    return len(data) / data.n_items


@pytest.mark.parametrize("cls", [SVD, SVDpp])
def test_dense_data_gets_the_scaled_penalty(cls, dense):
    model = cls(n_factors=4, n_epochs=2, random_state=0).fit(dense)
    scale = np.sqrt(100.0 / _m(dense))
    rates = model._resolved_rates()
    terms = ("pu", "qi", "yj") if cls is SVDpp else ("pu", "qi")
    for term in terms:
        assert rates[f"reg_{term}"] == pytest.approx(0.08 * scale)
    assert rates["reg_bu"] == rates["reg_bi"] == 0.02  # the biases keep theirs


def test_training_uses_the_rule(dense):
    """reg_density=100 on 160 ratings per item is the fixed-reg model at reg * scale."""
    scale = float(np.sqrt(100.0 / _m(dense)))
    got = SVD(n_factors=4, n_epochs=3, random_state=0).fit(dense)
    ref = SVD(n_factors=4, n_epochs=3, random_state=0, reg_density=None,
              reg_pu=0.08 * scale, reg_qi=0.08 * scale).fit(dense)  # fmt: skip
    np.testing.assert_allclose(got.item_factors_, ref.item_factors_, atol=1e-6)
    other = SVD(n_factors=4, n_epochs=3, random_state=0, reg_density=None).fit(dense)
    assert np.abs(other.item_factors_ - got.item_factors_).max() > 1e-3


def test_sparse_data_and_none_keep_reg(sparse, dense):
    assert SVD(n_factors=4, n_epochs=1).fit(sparse)._resolved_rates()["reg_pu"] == 0.08
    assert SVD(n_factors=4, n_epochs=1, reg_density=None).fit(dense)._resolved_rates()[
        "reg_qi"
    ] == pytest.approx(0.08)
    # set by hand: used as given
    rates = SVD(n_factors=4, n_epochs=1, reg_qi=0.5).fit(dense)._resolved_rates()
    assert rates["reg_qi"] == 0.5 and rates["reg_pu"] < 0.08
    assert SVD()._resolved_rates()["reg_pu"] == 0.08  # before any fit: as given


def test_fold_in_and_model_file_use_the_fitted_rule(dense, tmp_path):
    model = SVD(n_factors=4, n_epochs=3, random_state=0).fit(dense)
    lam_f, _, _ = model._fold_in_penalties(np.array([10]))
    assert lam_f[0] == pytest.approx(10 * 0.08 * np.sqrt(100.0 / _m(dense)))
    lf.save(model, tmp_path / "svd.lfm")
    loaded = lf.load(tmp_path / "svd.lfm")
    assert loaded.get_params()["reg_density"] == 100.0
    assert loaded._resolved_rates() == model._resolved_rates()
    frame = dense.to_dataframe()
    row = frame[frame["user"] == dense.users.raw[0]]
    new = lf.Interactions.from_arrays(["new"] * len(row), row["item"].to_numpy(),
                                      ratings=row["rating"].to_numpy())  # fmt: skip
    a = model.fold_in(new, update=False)
    b = loaded.fold_in(new, update=False)
    np.testing.assert_allclose(a.user_factors, b.user_factors, atol=1e-6)


@pytest.mark.parametrize("bad", [0, -1.0, "auto", float("inf"), True])
def test_bad_reg_density_names_the_parameter_and_the_fix(bad, sparse):
    with pytest.raises(InvalidParameterError, match=rf"SVD: reg_density={bad!r} is invalid; "
                       r"expected a number > 0 .* or None to keep reg fixed"):  # fmt: skip
        SVD(reg_density=bad).fit(sparse)
    with pytest.raises(InvalidParameterError, match="SVDpp: reg_density="):
        SVDpp(reg_density=bad).fit(sparse)
