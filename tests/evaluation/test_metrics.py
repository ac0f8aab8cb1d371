"""Metric values computed by hand, and against an independent plain-Python computation."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from latentfactors.evaluation.metrics import ranking_from_lists, rmse_mae


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
