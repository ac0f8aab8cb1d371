"""BPR's popular negatives: what the trainer draws from, what the model reports, what
fold-in draws, what an older file keeps, and the errors a user can cause."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import latentfactors as lf
from latentfactors.data import make_synthetic
from latentfactors.exceptions import InvalidParameterError
from latentfactors.kernels import bpr as bpr_kernels
from latentfactors.models import BPR
from latentfactors.models.bpr import _BPRTrainer, negative_table

LEGACY = Path(__file__).resolve().parents[1] / "legacy"


@pytest.fixture(scope="module")
def data():
    return make_synthetic(300, 900, 9000, implicit=True, seed=4).interactions


@pytest.mark.parametrize("bad", [1.0, 1.5, -0.1, float("nan"), "half"])
def test_popular_negatives_out_of_range_is_refused(data, bad):
    with pytest.raises(InvalidParameterError, match="popular_negatives"):
        BPR(popular_negatives=bad, n_epochs=1).fit(data)


def test_item_bias_carries_the_draws_log_odds_and_restore_undoes_it(data):
    model = BPR(n_factors=8, n_epochs=3, random_state=0, n_threads=1)
    trainer = _BPRTrainer(model, data, data, 0)
    counts = np.bincount(trainer.s.items, minlength=data.n_items)
    items, ptr, offset = negative_table(trainer.s.item_group_ptr, counts, 0.5)
    assert np.array_equal(trainer.group_items, items) and np.array_equal(trainer.group_ptr, ptr)
    for epoch in range(2):
        trainer.epoch(epoch)
    reported = trainer.arrays()["item_bias"]
    np.testing.assert_array_equal(reported, trainer.s.items_out(trainer.bi + offset))
    # popular items are drawn more often, so their reported bias is raised more
    popular = counts > np.median(counts)  # both in training ids
    assert offset.max() > 0 > offset.min()
    assert offset[popular].mean() > offset[~popular].mean()
    snap = trainer.snapshot()
    inner = trainer.bi.copy()
    trainer.epoch(2)
    trainer.restore(snap)
    np.testing.assert_allclose(trainer.bi, inner, rtol=0, atol=1e-6)


def test_uniform_negatives_report_the_trained_bias(data):
    model = BPR(n_factors=8, n_epochs=2, popular_negatives=0.0, random_state=0, n_threads=1)
    trainer = _BPRTrainer(model, data, data, 0)
    assert np.array_equal(trainer.group_items, np.arange(data.n_items))
    trainer.epoch(0)
    np.testing.assert_array_equal(trainer.arrays()["item_bias"], trainer.s.items_out(trainer.bi))


def test_fold_in_draws_as_training_did(data, monkeypatch):
    model = BPR(n_factors=8, n_epochs=3, random_state=0).fit(data)
    seen = {}
    real = bpr_kernels.bpr_fold_in

    def spy(indptr, indices, Q, bi, neg_items, *rest):
        seen.update(bi=bi.copy(), neg=neg_items.copy())
        return real(indptr, indices, Q, bi, neg_items, *rest)

    monkeypatch.setattr(bpr_kernels, "bpr_fold_in", spy)
    new = lf.Interactions.from_arrays(
        np.full(5, 10_000), data.items.ids(np.arange(5)), weights=np.ones(5)
    )
    vec = model.fold_in(new, update=False).factors
    assert np.isfinite(vec).all() and np.abs(vec).max() > 0
    counts = np.asarray(model.item_counts_)
    items, _, offset = negative_table(np.array([0, data.n_items]), counts, 0.5)
    assert np.array_equal(seen["neg"], items)
    np.testing.assert_allclose(seen["bi"], model.item_bias_ - offset, rtol=0, atol=1e-6)
    # the most popular item is in the table far more often than the least popular
    share = np.bincount(seen["neg"], minlength=data.n_items)
    assert share[np.argmax(counts)] > 5 * share[np.argmin(counts)]


def test_fold_in_table_is_built_once_per_fit(data):
    model = BPR(n_factors=8, n_epochs=2, random_state=0).fit(data)
    first = model._fold_in_negatives()
    assert model._fold_in_negatives()[0] is first[0]
    model.set_params(popular_negatives=0.25)  # a changed share is a new table
    quarter = model._fold_in_negatives()
    assert not np.array_equal(quarter[1], first[1])  # other log-odds taken off
    model.fit(data)  # a refit forgets it
    assert model._fold_in_negatives()[1] is not quarter[1]


def test_older_file_keeps_uniform_negatives(tmp_path):
    """A file saved before the parameter was trained with uniform negatives: it loads
    with popular_negatives=0, so fold-in draws as it was trained (and saving it again
    keeps that)."""
    old = lf.load(LEGACY / "bpr.lfm")
    assert old.popular_negatives == 0.0
    again = lf.load(old.save(tmp_path / "again.lfm"))
    assert again.popular_negatives == 0.0
    assert BPR().popular_negatives == 0.5  # a new model gets the current default
