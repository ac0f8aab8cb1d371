"""NMF: accuracy on planted non-negative factors, factors stay >= 0, data and parameter
errors, reproducibility. Shared behaviour is in test_common.py."""

import numpy as np
import pytest

from latentfactors import DataError, Interactions, InvalidParameterError
from latentfactors.data import make_synthetic, random_split
from latentfactors.models.nmf import NMF

NOISE = 0.3


@pytest.fixture(scope="module")
def planted_nonneg():
    """Ratings ``p_u . q_i + noise`` from planted rank-4 factors that are >= 0 (signal std
    about 0.9, three times the noise): the model NMF assumes."""
    rng = np.random.default_rng(0)
    n_users, n_items, k, n = 500, 300, 4, 25_000
    P = rng.uniform(0, 1.5, (n_users, k))
    Q = rng.uniform(0, 1.5, (n_items, k))
    cells = rng.choice(n_users * n_items, n, replace=False)
    u, i = cells // n_items, cells % n_items
    r = (P[u] * Q[i]).sum(1) + NOISE * rng.standard_normal(n)
    data = Interactions.from_arrays(u, i, ratings=np.clip(r, 0, None))
    return random_split(data, 0.2, seed=0)


def rmse(model, data):
    pred = model.predict(data.users.ids(data.user_ids), data.items.ids(data.item_ids))
    return float(np.sqrt(np.mean((pred - data.values) ** 2)))


def global_mean_rmse(train, test):
    return float(np.sqrt(np.mean((test.values - train.global_mean) ** 2)))


@pytest.mark.parametrize("biased", [False, True])
def test_reaches_the_noise_level_on_planted_non_negative_factors(planted_nonneg, biased):
    # a 25% margin as for ALS; multiplicative updates need ~50 epochs to get there
    train, test = planted_nonneg
    model = NMF(n_factors=4, n_epochs=60, reg=0.02, biased=biased, random_state=0).fit(train)
    assert rmse(model, test) < 1.25 * NOISE
    assert rmse(model, test) < 0.5 * global_mean_rmse(train, test)


def test_learns_signed_planted_factors_loosely():
    # make_synthetic plants *signed* factors plus biases: non-negative factors need more
    # dimensions to express them and multiplicative updates converge slowly, so NMF
    # does not reach the noise level there (0.55 vs noise 0.3 with 8 factors); it must
    # still clearly beat the global mean (0.88)
    syn = make_synthetic(600, 400, 30_000, rank=5, noise=NOISE, seed=0)
    train, test = random_split(syn.interactions, 0.2, seed=0)
    model = NMF(n_factors=8, n_epochs=100, random_state=0).fit(train)
    assert rmse(model, test) < 0.75 * global_mean_rmse(train, test)


@pytest.mark.parametrize("biased", [False, True])
@pytest.mark.parametrize("reg", [0.0, 0.06])
def test_factors_stay_non_negative(biased, reg):
    # ratings on 1..5 with many users and items of a single rating
    data = make_synthetic(300, 200, 2_500, rank=3, noise=0.8, seed=3).interactions
    for n_epochs in (1, 30):
        model = NMF(n_factors=6, n_epochs=n_epochs, reg=reg, biased=biased, random_state=0)
        model.fit(data)
        assert model.user_factors_.min() >= 0 and model.item_factors_.min() >= 0
        assert np.isfinite(model.user_factors_).all() and np.isfinite(model.item_factors_).all()


def test_unbiased_has_no_constant_term(planted_nonneg):
    train, _ = planted_nonneg
    model = NMF(n_factors=4, n_epochs=10, random_state=0).fit(train)
    assert model.intercept_ == 0.0
    assert not model.user_bias_.any() and not model.item_bias_.any()
    u, i = train.users.raw[:5], train.items.raw[:5]
    dot = (model.user_factors_[:5] * model.item_factors_[:5]).sum(1)
    np.testing.assert_allclose(model.predict(u, i, clip=False), dot, rtol=1e-5)


def test_negative_ratings_are_refused_in_fit_and_fold_in():
    # a negative rating would make a multiplicative update (and a factor) negative
    data = Interactions.from_arrays([1, 1, 2, 3], [1, 2, 1, 2], ratings=[2.0, -3.0, 1.0, -0.5])
    with pytest.raises(DataError, match=r"NMF.fit needs non-negative ratings, got 2 negative "
                       r"value\(s\) \(min -3\)"):  # fmt: skip
        NMF(n_factors=2).fit(data)
    ok = Interactions.from_arrays([1, 1, 2, 3], [1, 2, 1, 2], ratings=[2.0, 3.0, 1.0, 0.5])
    model = NMF(n_factors=2, n_epochs=5, random_state=0).fit(ok)
    new = Interactions.from_arrays(["new", "new"], [1, 2], ratings=[4.0, -1.0])
    with pytest.raises(DataError, match=r"NMF.fold_in needs non-negative ratings"):
        model.fold_in(new)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        (dict(n_factors=0), r"NMF: n_factors=0 is invalid; expected an integer >= 1"),
        (dict(n_epochs=-1), r"NMF: n_epochs=-1 is invalid; expected an integer >= 1"),
        (dict(reg=-0.1), r"NMF: reg=-0.1 is invalid; expected a number >= 0.0"),
        (dict(reg_bias="0.1"), r"NMF: reg_bias='0.1' is invalid; expected a number >= 0.0"),
        (dict(biased="no"), r"NMF: biased='no' is invalid; expected True or False"),
        (dict(init_low=-0.5), r"NMF: init_low=-0.5 is invalid; expected a number >= 0.0"),
        (dict(init_high=0.0), r"NMF: init_high=0.0 is invalid; expected a number > 0.0"),
        (dict(init_low=1.0, init_high=0.5),
         r"NMF: init_high=0.5 is invalid; expected a number > 1.0"),
        (dict(n_threads=0), r"NMF: n_threads=0 is invalid; expected an integer >= 1"),
    ],
)  # fmt: skip
def test_bad_parameters_name_the_value(planted_nonneg, params, match):
    with pytest.raises(InvalidParameterError, match=match):
        NMF(**params).fit(planted_nonneg[0])


def test_same_seed_same_factors_other_seed_other_factors(planted_nonneg):
    train, _ = planted_nonneg
    a = NMF(n_factors=4, n_epochs=5, biased=True, random_state=3).fit(train)
    b = NMF(n_factors=4, n_epochs=5, biased=True, random_state=3).fit(train)
    c = NMF(n_factors=4, n_epochs=5, biased=True, random_state=4).fit(train)
    assert np.array_equal(a.user_factors_, b.user_factors_)
    assert np.array_equal(a.item_factors_, b.item_factors_)
    assert np.array_equal(a.user_bias_, b.user_bias_)
    assert not np.array_equal(a.user_factors_, c.user_factors_)
