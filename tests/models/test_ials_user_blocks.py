"""ImplicitALS on large data keeps no array of the user side's confidences: it
recomputes them a block of users at a time. The blocked path must give the very model
the kept path gives, with every solver, penalty and the reg search (whose held-out
entries fall in every block)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from latentfactors.data import Interactions, make_synthetic
from latentfactors.data.vocabulary import Vocabulary
from latentfactors.models import ImplicitALS
from latentfactors.models import implicit_als as mod


@pytest.fixture(scope="module")
def data():
    """Play counts with users of no interactions among them (the first, and two between
    any two users with some), so blocks hold empty rows too."""
    syn = make_synthetic(300, 200, 6000, implicit=True, seed=0).interactions
    raw_users = syn.users.ids(syn.user_ids) * 3 + 2  # ids 0, 1, 3, 4, ... have no rows
    vocab = Vocabulary(np.arange(0, 3 * 300 + 3))
    return Interactions.from_arrays(
        raw_users, syn.items.ids(syn.item_ids), weights=syn.values, user_vocab=vocab
    )


def _fit(data, **kw):
    return ImplicitALS(n_factors=6, n_epochs=3, compute_loss=True, random_state=0, **kw).fit(data)


@pytest.mark.parametrize(
    "kw",
    [
        {"reg": 30.0},
        {"reg": 30.0, "solver": "cholesky"},
        {"reg": 30.0, "solver": "block", "block_size": 4},
        {"reg": 0.05, "reg_scaling": "frequency"},
        {},  # reg="auto": the search holds out entries of many blocks
        {"reg_scaling": "frequency", "solver": "cholesky"},
    ],
)
def test_blocked_user_side_gives_the_kept_sides_model(data, kw, monkeypatch):
    kept = _fit(data, **kw)
    monkeypatch.setattr(mod, "_USER_CONF_KEPT", 0)
    monkeypatch.setattr(mod, "_USER_BLOCK", 97)  # about 60 blocks
    blocked = _fit(data, **kw)
    assert np.array_equal(kept.user_factors_, blocked.user_factors_)
    assert np.array_equal(kept.item_factors_, blocked.item_factors_)
    assert kept.history_["train_loss"] == blocked.history_["train_loss"]
    assert np.isfinite(kept.history_["train_loss"]).all()
    if "reg" not in kw:
        assert kept.reg_search_ == blocked.reg_search_


def test_blocks_cover_every_user_once(data, monkeypatch):
    monkeypatch.setattr(mod, "_USER_CONF_KEPT", 0)
    monkeypatch.setattr(mod, "_USER_BLOCK", 97)
    trainer = mod._IALSTrainer(ImplicitALS(n_factors=4, reg=30.0), data, seed=0)
    blocks = list(trainer._user_blocks())
    assert len(blocks) > 10
    assert blocks[0][0] == 0 and blocks[-1][1] == data.n_users
    assert all(a[1] == b[0] for a, b in itertools.pairwise(blocks))
    conf = np.concatenate([b[4] for b in blocks])
    assert np.array_equal(conf, ImplicitALS(reg=30.0)._conf(data.csr.data))
    assert trainer.u_conf is None


def test_blocks_smaller_than_a_user(data, monkeypatch):
    """A user with more interactions than a block still gets one block of its own."""
    kept = _fit(data, reg=30.0)
    monkeypatch.setattr(mod, "_USER_CONF_KEPT", 0)
    monkeypatch.setattr(mod, "_USER_BLOCK", 13)
    assert np.diff(data.csr.indptr).max() > 13
    blocked = _fit(data, reg=30.0)
    assert np.array_equal(kept.user_factors_, blocked.user_factors_)
    assert kept.history_["train_loss"] == blocked.history_["train_loss"]


def test_confidence_gives_the_same_numbers_in_numpy_and_in_parallel(monkeypatch):
    """Short inputs (fold-in, a request) stay in NumPy, long ones go to the parallel
    kernel: the two give the same float32 numbers."""
    from latentfactors.models import implicit

    values = (np.random.default_rng(0).random(5000) * 300).astype(np.float32)
    for scheme in ("log", "linear"):
        numpy_ = implicit.confidence(values, scheme, 3.0, 0.5)
        monkeypatch.setattr(implicit, "_PARALLEL_FROM", 100)
        parallel = implicit.confidence(values, scheme, 3.0, 0.5)
        monkeypatch.undo()
        assert np.array_equal(numpy_, parallel)
    with pytest.raises(ValueError, match="out must be float32 of shape"):
        implicit.confidence(values, "log", 1.0, 1.0, out=np.empty(3, dtype=np.float32))
