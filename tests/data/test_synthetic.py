import numpy as np
import pytest

from latentfactors import DataError
from latentfactors.data import make_synthetic


def test_exact_count_truth_and_determinism():
    a = make_synthetic(400, 150, 8000, rank=4, noise=0.3, seed=7)
    b = make_synthetic(400, 150, 8000, rank=4, noise=0.3, seed=7)
    data = a.interactions
    assert len(data) == 8000
    assert np.array_equal(data.values, b.interactions.values)
    assert np.array_equal(data.user_ids, b.interactions.user_ids)
    assert a.user_factors.shape == (400, 4) and a.item_factors.shape == (150, 4)
    lo, hi = data.rating_scale
    assert lo >= 1 and hi <= 5
    # ratings are truth + noise: residual std close to the noise level (clipping shrinks it)
    users = data.users.ids(data.user_ids)
    items = data.items.ids(data.item_ids)
    truth = np.clip(a.true_scores(users, items), 1, 5)
    resid = data.values - truth
    assert 0.2 < resid.std() < 0.35
    assert abs(resid.mean()) < 0.05


def test_popularity_is_skewed():
    syn = make_synthetic(2000, 500, 40_000, zipf=1.0, seed=1)
    counts = np.sort(syn.interactions.item_counts)[::-1]
    assert counts[:50].sum() > 0.3 * counts.sum()


def test_implicit_follows_factors():
    syn = make_synthetic(1000, 200, 20_000, rank=4, implicit=True, signal_std=2.0, seed=2)
    data = syn.interactions
    assert data.kind == "implicit" and data.values.min() >= 1
    users = data.users.ids(data.user_ids)
    items = data.items.ids(data.item_ids)
    observed = syn.true_scores(users, items).mean()
    rng = np.random.default_rng(0)
    random_pairs = syn.true_scores(rng.integers(0, 1000, 20000), rng.integers(0, 200, 20000)).mean()
    assert observed > random_pairs + 0.5


def test_explicit_exposure_by_affinity_or_popularity():
    """Explicit ratings land on popularity-drawn items by default (which items a user has
    is then impersonal); ``affinity_exposure=True`` lets the factors pick them too."""
    kw = dict(rank=4, signal_std=2.0, seed=3)
    pop = make_synthetic(1000, 200, 20_000, **kw)
    aff = make_synthetic(1000, 200, 20_000, affinity_exposure=True, **kw)
    assert np.array_equal(pop.user_factors, aff.user_factors)  # same truth, other exposure

    def dot_of_observed(syn):
        d = syn.interactions
        u, i = d.users.ids(d.user_ids), d.items.ids(d.item_ids)
        return float(np.einsum("ij,ij->i", syn.user_factors[u], syn.item_factors[i]).mean())

    assert abs(dot_of_observed(pop)) < 0.1 < 0.5 < dot_of_observed(aff)
    assert aff.interactions.kind == "explicit" and aff.interactions.values.min() >= 1


def test_rounding_and_timestamps():
    syn = make_synthetic(100, 50, 1000, round_to=0.5, with_timestamps=True, seed=0)
    v = syn.interactions.values
    assert np.all(np.mod(v * 2, 1) == 0)
    assert syn.interactions.timestamps is not None


def test_bad_arguments():
    with pytest.raises(DataError, match=r"n_interactions=0 must lie in \[1, n_users \* n_items"):
        make_synthetic(10, 10, 0)
    with pytest.raises(DataError, match="would fill over half"):
        make_synthetic(10, 10, 60)
    with pytest.raises(DataError, match="rank=0 must be >= 1"):
        make_synthetic(10, 10, 5, rank=0)
