"""BPR's ``reg="auto"``: each candidate is a full fit of the data without the validation
slice, scored by NDCG@10 on it; the choice, its record, the refit at the choice, files,
fold-in, thresholds and refusals."""

from __future__ import annotations

import numpy as np
import pytest

from latentfactors import Interactions, InvalidParameterError, load, save
from latentfactors.data import make_synthetic
from latentfactors.models import BPR
from latentfactors.models._regsearch import slice_rng, validation_slice


@pytest.fixture(scope="module")
def small():
    return make_synthetic(400, 300, 12_000, implicit=True, seed=0).interactions


def _held_pairs(data: Interactions, positives: np.ndarray | None = None):
    """(users, items) of the validation slice of ``data``'s positives (all of its rows
    unless ``positives`` masks them), drawn as the search draws it (seed 0)."""
    pos_rows = np.arange(len(data)) if positives is None else np.flatnonzero(positives)
    counts = np.bincount(data.user_ids[pos_rows], minlength=data.n_users)
    indptr = np.r_[0, np.cumsum(counts)]
    rows, pos = validation_slice(indptr, slice_rng(0))
    return rows, data.item_ids[pos_rows][pos]


def _slice_ndcg(model, data: Interactions, users, items, seen_mask=None) -> float:
    """Mean NDCG@10 over the slice's users, ranking by ``P Q^T + b`` every item the user
    has no other interaction with (plain NumPy)."""
    scores = model.user_factors_ @ model.item_factors_.T + model.item_bias_[None, :]
    held = np.zeros(data.shape, dtype=bool)
    held[users, items] = True
    seen = np.zeros(data.shape, dtype=bool)
    keep = np.ones(len(data), dtype=bool) if seen_mask is None else seen_mask
    seen[data.user_ids[keep], data.item_ids[keep]] = True
    seen &= ~held
    out = []
    discount = 1.0 / np.log2(np.arange(2, 12))
    for u in np.unique(users):
        s = np.where(seen[u], -np.inf, scores[u])
        top = np.argsort(-s, kind="stable")[:10]
        hits = held[u, top]
        ideal = discount[: min(10, int(held[u].sum()))].sum()
        out.append(float((hits * discount).sum() / ideal))
    return float(np.mean(out))


def test_auto_is_the_model_of_the_chosen_reg(small):
    auto = BPR(n_factors=8, n_epochs=8, reg="auto", random_state=0).fit(small)
    search = auto.reg_search_
    assert search["candidates"] == list(BPR.AUTO_REG[None]) == [0.02, 0.1, 0.5]
    assert search["metric"] == "ndcg@10" and len(search["scores"]) == 3
    assert auto.reg_ == search["chosen"] in search["candidates"]
    assert search["validation_users"] == int((np.diff(small.csr.indptr) >= 3).sum())
    best = int(np.argmax(search["scores"]))
    assert search["standard_errors"][best] == 0.0
    fixed = BPR(n_factors=8, n_epochs=8, reg=auto.reg_, random_state=0).fit(small)
    for name in ("user_factors_", "item_factors_", "item_bias_", "negative_log_odds_"):
        np.testing.assert_array_equal(getattr(auto, name), getattr(fixed, name))
    assert auto.history_["train_loss"] == fixed.history_["train_loss"]
    assert not hasattr(fixed, "reg_search_") and fixed.reg_ == auto.reg_


def test_each_candidate_is_a_full_fit_without_the_slice(small):
    """The search's score of each candidate is the slice NDCG@10 of that candidate fitted,
    from the same seed, on the data less the slice (so the held-out items reach neither
    the training pairs nor the negatives' exclusions), and not that of a fit on it all."""
    users, items = _held_pairs(small)
    key = small.user_ids.astype(np.int64) * small.n_items + small.item_ids
    held = np.isin(key, users.astype(np.int64) * small.n_items + items)
    assert held.sum() == len(users)
    rest = small.subset(~held)
    search = BPR(n_factors=8, n_epochs=8, reg="auto", random_state=0).fit(small).reg_search_
    for reg, score in zip(search["candidates"], search["scores"], strict=True):
        alone = BPR(n_factors=8, n_epochs=8, reg=reg, random_state=0).fit(rest)
        assert score == pytest.approx(_slice_ndcg(alone, small, users, items), abs=1e-6)
    seen = BPR(n_factors=8, n_epochs=8, reg=0.02, random_state=0).fit(small)
    assert abs(_slice_ndcg(seen, small, users, items) - search["scores"][0]) > 1e-3


def test_with_a_threshold_the_slice_is_of_the_positives_and_ranks_out_the_rest():
    data = make_synthetic(300, 200, 9_000, rank=4, noise=0.3, seed=4).interactions
    positive = data.values >= 4.0
    users, items = _held_pairs(data, positive)
    key = data.user_ids.astype(np.int64) * data.n_items + data.item_ids
    held = np.isin(key, users.astype(np.int64) * data.n_items + items)
    assert held.sum() == len(users) and positive[held].all()
    kw = {"n_factors": 6, "n_epochs": 6, "threshold": 4.0, "random_state": 0}
    search = BPR(reg=[0.02, 0.3], **kw).fit(data).reg_search_
    for reg, score in zip(search["candidates"], search["scores"], strict=True):
        alone = BPR(reg=reg, **kw).fit(data.subset(~held))
        assert score == pytest.approx(_slice_ndcg(alone, data, users, items), abs=1e-6)


def test_popularity_alone_moves_the_choice_and_taste_keeps_the_default(ml100k):
    """Where the items were drawn by popularity alone a stronger penalty wins on the slice
    (the factors only add noise to the item biases); on MovieLens 0.02 stays."""
    pop = make_synthetic(943, 1682, 100_000, rank=8, noise=0.8, round_to=1.0, seed=0,
                         affinity_exposure=False).interactions  # fmt: skip
    assert BPR(n_factors=32, n_epochs=20, reg="auto", random_state=0).fit(pop).reg_ > 0.02
    ml = ml100k.interactions
    assert BPR(n_factors=32, n_epochs=20, reg="auto", random_state=0).fit(ml).reg_ == 0.02


def test_search_is_the_same_on_one_and_two_threads(small):
    one = BPR(n_factors=8, n_epochs=4, reg="auto", n_threads=1, random_state=1).fit(small)
    two = BPR(n_factors=8, n_epochs=4, reg="auto", n_threads=2, random_state=1).fit(small)
    assert one.reg_search_ == two.reg_search_
    np.testing.assert_array_equal(one.item_factors_, two.item_factors_)


def test_too_little_data_falls_back_to_0_02():
    tiny = Interactions.from_arrays(["a", "a", "b"], ["x", "y", "y"])
    m = BPR(n_factors=2, n_epochs=1, reg="auto", random_state=0).fit(tiny)
    assert m.reg_ == 0.02 and m.reg_search_["scores"] == [None] * 3
    assert m.reg_search_["validation_users"] == 0


def test_a_list_is_searched_and_overrides_keep_their_penalty(small):
    m = BPR(n_factors=4, n_epochs=3, reg=[0.5, 0.01, 0.5], random_state=0).fit(small)
    assert m.reg_search_["candidates"] == [0.01, 0.5] and m.reg_ in (0.01, 0.5)
    # reg_user / reg_item / reg_bias stay what they say: the search only moves the rest
    kw = {"n_factors": 4, "n_epochs": 3, "reg_user": 0.05, "reg_item": 0.05, "reg_bias": 0.05,
          "random_state": 0}  # fmt: skip
    searched = BPR(reg=[0.01, 0.5], **kw).fit(small)
    assert searched.reg_search_["scores"][0] == searched.reg_search_["scores"][1]
    np.testing.assert_array_equal(
        searched.item_factors_, BPR(reg=0.3, **kw).fit(small).item_factors_
    )
    n = BPR(n_factors=4, n_epochs=2, reg=0.2, random_state=0).fit(small)
    assert n.reg_ == 0.2 and not hasattr(n, "reg_search_")


def test_record_survives_a_file_and_fold_in_uses_the_choice(small, tmp_path):
    m = BPR(n_factors=6, n_epochs=4, reg=[0.02, 0.5, 5.0], random_state=0).fit(small)
    assert m.reg_ != m._fallback_reg() == 0.5  # the list's middle, which fold-in must not use
    save(m, tmp_path / "m.lfm")
    back = load(tmp_path / "m.lfm")
    assert back.reg_search_ == m.reg_search_ and back.reg_ == m.reg_
    sub = small.subset(small.user_ids == 9)
    folded = back.fold_in(sub, update=False).factors
    fixed = BPR(n_factors=6, n_epochs=4, reg=m.reg_, random_state=0).fit(small)
    np.testing.assert_array_equal(folded, fixed.fold_in(sub, update=False).factors)
    fixed.reg = 0.5  # the same factors, folded in at the fallback: another vector
    assert not np.array_equal(folded, fixed.fold_in(sub, update=False).factors)


@pytest.mark.parametrize(
    ("reg", "message"),
    [
        ("fast", r"BPR\(reg='fast'\) is not valid: pass a number >= 0, 'auto'"),
        ([], r"BPR\(reg=\[\]\) is not valid: give at least one value"),
        ([0.1, 0.0], r"BPR: reg=0.0 is invalid; expected a number > 0"),
        (-1.0, r"BPR: reg=-1.0 is invalid; expected a number >= 0"),
        (
            np.array([0.1, 0.2]),
            r"BPR\(reg=<array>\) is not valid: pass the candidates as a "
            r"list \(reg=\[0.02, 0.1, 0.5\]\)",
        ),
    ],
)
def test_bad_reg_is_refused_with_its_message(small, reg, message):
    with pytest.raises(InvalidParameterError, match=message):
        BPR(reg=reg).fit(small)
