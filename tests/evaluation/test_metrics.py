"""Metric values computed by hand, and against an independent plain-Python computation."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from latentfactors.evaluation.metrics import (
    auc,
    coverage,
    mean_popularity,
    ranking_from_lists,
    rmse_mae,
)


def csr_rows(rows):
    indptr = np.concatenate(([0], np.cumsum([len(r) for r in rows])))
    indices = np.array([c for r in rows for c in sorted(r)], dtype=np.int64)
    return indptr, indices


def test_hand_computed_three_users():
    # user 0: top [1, 2, 3], relevant {2, 9}; user 1: top [4, 5, 6], relevant {4};
    # user 2: top [7, 8, -1] (only two candidates), relevant {} -> left out
    top = np.array([[1, 2, 3], [4, 5, 6], [7, 8, -1]])
    indptr, indices = csr_rows([{2, 9}, {4}, set()])
    m = ranking_from_lists(top, indptr, indices, 3)
    assert m["precision@3"] == pytest.approx((1 / 3 + 1 / 3) / 2)
    assert m["recall@3"] == pytest.approx((1 / 2 + 1) / 2)
    dcg0 = 1 / math.log2(3)
    idcg0 = 1 + 1 / math.log2(3)
    assert m["ndcg@3"] == pytest.approx((dcg0 / idcg0 + 1.0) / 2)
    assert m["map@3"] == pytest.approx(((1 / 2) / 2 + 1.0) / 2)
    assert m["mrr@3"] == pytest.approx((1 / 2 + 1) / 2)
    assert m["hit_rate@3"] == pytest.approx(1.0)


def test_k_larger_than_catalogue_and_no_test_users():
    top = np.array([[0, 1, -1, -1, -1]])
    indptr, indices = csr_rows([{1}])
    m = ranking_from_lists(top, indptr, indices, 5)
    assert m["precision@5"] == pytest.approx(1 / 5)  # divides by k, as documented
    assert m["recall@5"] == 1.0 and m["ndcg@5"] == pytest.approx(1 / math.log2(3))
    empty = ranking_from_lists(top, *csr_rows([set()]), 5)
    assert all(math.isnan(v) for v in empty.values())


def test_rmse_mae():
    rmse, mae = rmse_mae([1, 2, 3], [1, 3, 5])
    assert rmse == pytest.approx(math.sqrt(5 / 3)) and mae == pytest.approx(1.0)


def plain(top, relevant, k):
    """An independent, obvious computation of the same definitions."""
    out = {"precision": [], "recall": [], "ndcg": [], "map": []}
    for items, rel in zip(top, relevant):
        if not rel:
            continue
        items = [x for x in items[:k]]
        hits = [1 if (x >= 0 and x in rel) else 0 for x in items]
        out["precision"].append(sum(hits) / k)
        out["recall"].append(sum(hits) / len(rel))
        dcg = sum(h / math.log2(r + 2) for r, h in enumerate(hits))
        idcg = sum(1 / math.log2(r + 2) for r in range(min(k, len(rel))))
        out["ndcg"].append(dcg / idcg)
        ap, seen = 0.0, 0
        for r, h in enumerate(hits):
            if h:
                seen += 1
                ap += seen / (r + 1)
        out["map"].append(ap / min(k, len(rel)))
    return {f"{name}@{k}": float(np.mean(v)) for name, v in out.items() if v}


@settings(max_examples=80, deadline=None)
@given(st.data())
def test_vectorised_equals_plain_python(data):
    n_users = data.draw(st.integers(1, 6))
    k = data.draw(st.integers(1, 6))
    n_items = data.draw(st.integers(k, 12))
    top, relevant = [], []
    for _ in range(n_users):
        length = data.draw(st.integers(0, k))
        items = data.draw(st.permutations(range(n_items)))[:length]
        top.append(list(items) + [-1] * (k - length))
        relevant.append(set(data.draw(st.lists(st.integers(0, n_items - 1), max_size=5))))
    if not any(relevant):
        relevant[0] = {0}
    got = ranking_from_lists(np.array(top), *csr_rows(relevant), k)
    want = plain(top, relevant, k)
    for key, value in want.items():
        assert got[key] == pytest.approx(value), key


def test_agrees_with_implicit_definitions():
    """implicit's ndcg_at_k and mean_average_precision_at_k use these definitions; its
    precision_at_k divides by min(k, |test_u|) instead of k (documented difference)."""
    top = np.array([[3, 1, 0]])
    indptr, indices = csr_rows([{1}])
    m = ranking_from_lists(top, indptr, indices, 3)
    implicit_precision = 1 / min(3, 1)
    assert m["precision@3"] == pytest.approx(implicit_precision / 3)


def test_auc_hand_computed_three_users():
    scores = np.array(
        [
            [0.9, 0.5, 0.5, 0.1, 0.3],  # held out {1}, trained on {0}: negatives 2, 3, 4
            [0.2, 0.8, 0.4, 0.6, 0.0],  # held out {0, 3}, nothing trained: negatives 1, 2, 4
            [1.0, 2.0, 3.0, 4.0, 5.0],  # nothing held out: no AUC, left out of the mean
        ]
    )
    test_ptr, test_idx = csr_rows([{1}, {0, 3}, set()])
    train_ptr, train_idx = csr_rows([{0}, set(), {4}])
    per_user = auc(scores, test_ptr, test_idx, train_ptr, train_idx, per_user=True)
    # user 0: item 1 (0.5) ties item 2 (1/2), beats items 3 and 4 -> 2.5 / 3
    # user 1: item 0 (0.2) beats item 4 only; item 3 (0.6) beats 2 and 4 -> 3 / 6
    assert per_user[0] == pytest.approx(2.5 / 3)
    assert per_user[1] == pytest.approx(0.5)
    assert math.isnan(per_user[2])
    assert auc(scores, test_ptr, test_idx, train_ptr, train_idx) == pytest.approx(2 / 3)
    # without the training exclusion item 0 (0.9) is a negative that beats user 0's item
    assert auc(scores[:1], *csr_rows([{1}]), per_user=True)[0] == pytest.approx(2.5 / 4)


def test_auc_without_negatives_is_left_out():
    scores = np.array([[1.0, 2.0], [1.0, 2.0]])
    # user 0: every other item was trained on, so nothing to compare with
    got = auc(scores, *csr_rows([{0}, {1}]), *csr_rows([{1}, set()]), per_user=True)
    assert math.isnan(got[0]) and got[1] == 1.0
    assert math.isnan(auc(scores[:1], *csr_rows([{0}]), *csr_rows([{1}])))


def test_auc_stays_in_range_with_infinite_and_nan_scores():
    # a trained item (non-candidate) must not tie with a held-out item scored +inf,
    # and a NaN score must not outrank real ones: both used to push AUC above 1
    scores = np.array([[np.inf, np.inf, 0.0, np.nan]])
    got = auc(scores, *csr_rows([{1}]), *csr_rows([{0}]), per_user=True)
    assert got[0] == 1.0
    got = auc(scores, *csr_rows([{3}]), *csr_rows([{0}]), per_user=True)
    assert got[0] == 0.0


def test_coverage_and_mean_popularity_hand_computed():
    top = np.array([[0, 1, 2], [1, 2, -1], [-1, -1, -1]])
    assert coverage(top, 6) == pytest.approx(3 / 6)
    popularity = np.array([5, 3, 1, 0, 0, 0])
    # filled slots: 0, 1, 2, 1, 2 -> (5 + 3 + 1 + 3 + 1) / 5
    assert mean_popularity(top, popularity) == pytest.approx(13 / 5)
    assert math.isnan(mean_popularity(top[2:], popularity))
    assert coverage(top[2:], 6) == 0.0


def plain_auc(scores, positives, trained):
    out = []
    scores = np.where(np.isnan(scores), -np.inf, scores)  # NaN ranks below every score
    for row, pos, seen in zip(scores, positives, trained):
        neg = [j for j in range(len(row)) if j not in pos and j not in seen]
        if not pos or not neg:
            out.append(math.nan)
            continue
        wins = sum((row[p] > row[n]) + 0.5 * (row[p] == row[n]) for p in pos for n in neg)
        out.append(wins / (len(pos) * len(neg)))
    return out


@settings(max_examples=80, deadline=None)
@given(st.data())
def test_auc_equals_pairwise_count(data):
    n_users = data.draw(st.integers(1, 5))
    n_items = data.draw(st.integers(1, 10))
    # few distinct values, so ties are common; infinities and NaN (a diverged model) too
    value = st.sampled_from([0.0, 1.0, 2.0, 3.0, np.inf, -np.inf, np.nan])
    row = st.lists(value, min_size=n_items, max_size=n_items)
    scores = np.array([data.draw(row) for _ in range(n_users)], dtype=float)
    item_sets = st.sets(st.integers(0, n_items - 1), max_size=4)
    positives = [data.draw(item_sets) for _ in range(n_users)]
    trained = [data.draw(item_sets) for _ in range(n_users)]
    got = auc(scores, *csr_rows(positives), *csr_rows(trained), per_user=True)
    np.testing.assert_allclose(got, plain_auc(scores, positives, trained), equal_nan=True)
