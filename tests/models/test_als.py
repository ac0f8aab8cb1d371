"""ALS (explicit, biased, ALS-WR option): accuracy on planted factors, parameter errors,
reproducibility. Shared behaviour (predict, callbacks, params round trip) is in
test_common.py."""

import numpy as np
import pytest

from latentfactors import InvalidParameterError
from latentfactors.data import make_synthetic, random_split
from latentfactors.models.als import ALS

NOISE = 0.3


@pytest.fixture(scope="module")
def planted():
    syn = make_synthetic(600, 400, 30_000, rank=5, noise=NOISE, seed=0)
    return random_split(syn.interactions, 0.2, seed=0)


def rmse(model, data):
    pred = model.predict(data.users.ids(data.user_ids), data.items.ids(data.item_ids))
    return float(np.sqrt(np.mean((pred - data.values) ** 2)))


@pytest.mark.parametrize(
    "params",
    [dict(reg=0.02, weighted=True), dict(reg=0.05, weighted=False)],
    ids=["ALS-WR", "unweighted"],
)
def test_reaches_the_noise_level_on_planted_factors(planted, params):
    # exact row solves of the right rank: held-out error within 25% of the noise
    train, test = planted
    model = ALS(n_factors=5, n_epochs=10, random_state=0, **params).fit(train)
    assert rmse(model, test) < 1.25 * NOISE
    hist = model.history_["train_rmse"]
    assert len(hist) == 10 and hist[-1] < hist[0]


def test_unbiased_has_zero_biases_and_still_learns(planted):
    # without biases rank-5 factors must also carry the planted biases, so the error
    # stays above the noise level; it must still clearly beat the global mean
    train, test = planted
    model = ALS(n_factors=5, n_epochs=10, reg=0.02, biased=False, random_state=0).fit(train)
    assert not model.user_bias_.any() and not model.item_bias_.any()
    global_mean = float(np.sqrt(np.mean((test.values - train.global_mean) ** 2)))
    assert rmse(model, test) < 0.75 * global_mean


@pytest.mark.parametrize(
    ("param", "value", "match"),
    [
        ("n_factors", 0, r"ALS: n_factors=0 is invalid; expected an integer >= 1"),
        ("n_epochs", 2.5, r"ALS: n_epochs=2.5 is invalid; expected an integer >= 1"),
        ("reg", -1.0, r"ALS: reg=-1.0 is invalid; expected a number > 0.0"),
        ("reg", 0.0, r"ALS: reg=0.0 is invalid; expected a number > 0.0"),
        ("reg_bias", -0.5, r"ALS: reg_bias=-0.5 is invalid; expected a number >= 0.0"),
        ("weighted", "yes", r"ALS: weighted='yes' is invalid; expected True or False"),
        ("biased", 1, r"ALS: biased=1 is invalid; expected True or False"),
        ("init_std", float("nan"), r"ALS: init_std=nan is invalid; expected a number >= 0.0"),
        ("n_threads", 0, r"ALS: n_threads=0 is invalid; expected an integer >= 1"),
        ("random_state", -1, r"ALS: random_state=-1 is invalid; expected an integer in"),
    ],
)
def test_bad_parameters_name_the_value(planted, param, value, match):
    with pytest.raises(InvalidParameterError, match=match):
        ALS(**{param: value}).fit(planted[0])


@pytest.mark.parametrize("weighted", [True, False])
def test_zero_reg_is_refused_weighted_or_not(weighted):
    # reg * n_u is 0 too, and a user with fewer ratings than factors has singular
    # normal equations; this used to surface as a numba SystemError when weighted
    data = make_synthetic(60, 40, 500, rank=3, seed=1).interactions
    with pytest.raises(InvalidParameterError, match=r"ALS: reg=0 is invalid"):
        ALS(n_factors=10, reg=0, weighted=weighted).fit(data)


def test_same_seed_same_factors_other_seed_other_factors(planted):
    train, _ = planted
    a = ALS(n_factors=6, n_epochs=3, random_state=7).fit(train)
    b = ALS(n_factors=6, n_epochs=3, random_state=7).fit(train)
    c = ALS(n_factors=6, n_epochs=3, random_state=8).fit(train)
    assert np.array_equal(a.user_factors_, b.user_factors_)
    assert np.array_equal(a.item_factors_, b.item_factors_)
    assert np.array_equal(a.user_bias_, b.user_bias_)
    assert not np.array_equal(a.item_factors_, c.item_factors_)
