"""The reg searches stop once a candidate is clearly past the best (``past_the_best``):
the rule itself, the loop's record and log, and on MovieLens 100K for each model that
searches, the same choice and the same model as the full grid."""

from __future__ import annotations

import logging
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from latentfactors import load, save
from latentfactors.models import ALS, BPR, ImplicitALS
from latentfactors.models import _regsearch as R


def _per(means, n=400, noise=0.05, seed=0):
    """Per-user values around ``means``, the same noise for every candidate (as one
    slice's users scored by nearby models)."""
    base = np.random.default_rng(seed).normal(0.0, noise, n)
    return [m + base + np.random.default_rng(seed + 1 + j).normal(0.0, noise / 10, n)
            for j, m in enumerate(means)]  # fmt: skip


# ------------------------------------------------------------------ the rule
def test_a_clear_drop_after_the_best_stops_and_a_small_one_does_not():
    assert R.past_the_best(_per([0.20, 0.30, 0.10]))
    assert not R.past_the_best(_per([0.20, 0.30, 0.2999]))  # within the noise
    assert not R.past_the_best(_per([0.20, 0.30, 0.40]))  # still rising: the best is last
    assert not R.past_the_best(_per([0.30]))
    # lower is better (ALS's squared errors): a rise after the lowest stops
    assert R.past_the_best(_per([0.9, 0.8, 1.1]), higher_is_better=False)
    assert not R.past_the_best(_per([0.9, 0.8, 0.7]), higher_is_better=False)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-1.0, 1.0), min_size=2, max_size=6),
       st.floats(1e-4, 0.5), st.integers(0, 2**16))  # fmt: skip
def test_the_rule_is_symmetric_and_only_stops_below_the_best(means, noise, seed):
    per = _per(means, n=50, noise=noise, seed=seed)
    stop = R.past_the_best(per)
    assert stop == R.past_the_best([-p for p in per], higher_is_better=False)
    if stop:
        best = max(float(p.mean()) for p in per[:-1])
        assert per[-1].mean() < best


def test_the_search_loop_skips_the_rest_and_records_none(caplog):
    scores = dict(zip((1.0, 2.0, 3.0, 4.0, 5.0), _per([0.2, 0.3, 0.1, 0.5, 0.6])))
    fitted: list[float] = []

    def choose(candidates, per):
        assert list(candidates) == [1.0, 2.0, 3.0] and len(per) == 3
        return 2.0, [0.01, 0.0, 0.02]

    with caplog.at_level(logging.INFO, logger="latentfactors.search"):
        record = R.run_search("M", (1.0, 2.0, 3.0, 4.0, 5.0), fitted.append,
                              lambda: scores[fitted[-1]], np.mean, choose, "NDCG@10", 400,
                              400)  # fmt: skip
    assert fitted == [1.0, 2.0, 3.0]  # 4 and 5 would have scored higher: unimodality is
    # the rule's assumption, and this shows it is one
    assert record["scores"][3:] == [None, None] and record["standard_errors"][3:] == [None, None]
    assert record["scores"][:3] == pytest.approx([0.2, 0.3, 0.1], abs=0.01)
    assert record["chosen"] == 2.0 and record["standard_errors"][:3] == [0.01, 0.0, 0.02]
    lines = [r.getMessage() for r in caplog.records]
    assert "M reg search: reg=3 is clearly past the best, 4, 5 not fitted" in lines


# ------------------------------------------------------------------ the models
def _full_grid(monkeypatch):
    monkeypatch.setattr(R, "STOP_SE", math.inf)


@pytest.mark.parametrize(
    ("make", "skipped"),
    [
        (lambda: ImplicitALS(n_factors=50, n_epochs=5, random_state=0), [300.0, 1000.0]),
        (lambda: ALS(n_factors=20, n_epochs=5, random_state=0), [0.05]),
        (lambda: BPR(n_factors=32, n_epochs=30, reg="auto", random_state=0), [0.5]),
    ],
    ids=["ImplicitALS", "ALS", "BPR"],
)
def test_a_stopped_search_chooses_as_the_full_grid_does(ml100k, monkeypatch, tmp_path, make,
                                                        skipped):  # fmt: skip
    data = ml100k.interactions
    stopped = make().fit(data)
    search = stopped.reg_search_
    fitted = [s is not None for s in search["scores"]]
    assert [c for c, f in zip(search["candidates"], fitted) if not f] == skipped
    assert fitted == [e is not None for e in search["standard_errors"]]
    _full_grid(monkeypatch)
    full = make().fit(data)
    assert None not in full.reg_search_["scores"]
    assert stopped.reg_ == full.reg_
    for a, b, f in zip(search["scores"], full.reg_search_["scores"], fitted):
        assert a == b if f else a is None
    np.testing.assert_array_equal(stopped.item_factors_, full.item_factors_)
    # the record with its gaps goes through a model file
    save(stopped, tmp_path / "m.lfm")
    assert load(tmp_path / "m.lfm").reg_search_ == search
