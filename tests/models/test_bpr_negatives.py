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
    odds = model.negative_log_odds_
    np.testing.assert_array_equal(seen["bi"], model.item_bias_ - odds)
    # the table repeats each item by its chance to be drawn: popular items far more often
    share = np.bincount(seen["neg"], minlength=data.n_items) / len(seen["neg"])
    np.testing.assert_allclose(share * data.n_items, np.exp(odds), rtol=0.15, atol=0.03)
    counts = np.asarray(model.item_counts_)
    assert share[np.argmax(counts)] > 5 * share[np.argmin(counts)]


def test_log_odds_are_trainings_with_a_threshold():
    """With threshold=, training counts only the positives; the stored log-odds (and so
    fold-in's bias) are those of the draws training made, not of item_counts_."""
    data = make_synthetic(300, 900, 12000, seed=4).interactions  # ratings 1-5
    model = BPR(n_factors=6, n_epochs=2, threshold=4.0, random_state=0, n_threads=1)
    trainer = _BPRTrainer(model, model._implicit_view(data), data, 0)
    trainer.epoch(0)
    want = trainer.s.items_out(trainer.offset)
    np.testing.assert_array_equal(trainer.extra_state()["negative_log_odds"], want)
    fitted = model.fit(data)
    positives = np.bincount(data.item_ids[data.values >= 4.0], minlength=data.n_items)
    assert not np.array_equal(positives, fitted.item_counts_)  # the two counts differ
    popular = positives > np.median(positives)
    assert fitted.negative_log_odds_[popular].mean() > fitted.negative_log_odds_[~popular].mean()
    np.testing.assert_allclose(fitted.item_bias_ - fitted.negative_log_odds_,
                               fitted._fold_in_negatives()[1], rtol=0, atol=0)  # fmt: skip


def test_fold_in_table_is_built_once_per_fit(data):
    model = BPR(n_factors=8, n_epochs=2, random_state=0).fit(data)
    first = model._fold_in_negatives()
    assert model._fold_in_negatives()[0] is first[0]
    model.set_params(popular_negatives=0.0)  # fold-in keeps the draws training made
    assert model._fold_in_negatives()[0] is first[0]
    model.fit(data)  # a refit (now uniform) gives another table: the catalogue
    items, bias = model._fold_in_negatives()
    assert items is not first[0] and np.array_equal(items, np.arange(data.n_items))
    assert not model.negative_log_odds_.any()
    np.testing.assert_array_equal(bias, model.item_bias_)


def test_state_round_trip_and_a_state_without_log_odds(data):
    model = BPR(n_factors=8, n_epochs=2, random_state=0).fit(data)
    state = model.get_state()
    assert state["negative_log_odds"].shape == (data.n_items,)
    again = BPR().set_state(state)
    np.testing.assert_array_equal(again.negative_log_odds_, model.negative_log_odds_)
    # factors from elsewhere, without log-odds: uniform negatives, biases as given
    del state["negative_log_odds"]
    other = BPR().set_state(state)
    assert not other.negative_log_odds_.any()
    items, bias = other._fold_in_negatives()
    assert np.array_equal(items, np.arange(data.n_items))
    np.testing.assert_array_equal(bias, other.item_bias_)
    bad = {**model.get_state(), "negative_log_odds": np.zeros(3, np.float32)}
    with pytest.raises(lf.DataError, match="negative_log_odds"):
        BPR().set_state(bad)


def test_older_file_keeps_uniform_negatives(tmp_path):
    """A file saved before the parameter was trained with uniform negatives: it loads
    with popular_negatives=0, so fold-in draws as it was trained (and saving it again
    keeps that)."""
    old = lf.load(LEGACY / "bpr.lfm")
    assert old.popular_negatives == 0.0
    assert not old.negative_log_odds_.any()
    items, bias = old._fold_in_negatives()
    assert np.array_equal(items, np.arange(len(old.items_)))
    np.testing.assert_array_equal(bias, old.item_bias_)
    again = lf.load(old.save(tmp_path / "again.lfm"))
    assert again.popular_negatives == 0.0
    assert BPR().popular_negatives == 0.5  # a new model gets the current default
