"""evaluate(): metrics of a fitted model, skipped rows by reason, against plain Python."""

import math

import numpy as np
import pytest

from latentfactors import DataError, Interactions, InvalidParameterError
from latentfactors.data import make_synthetic, random_split
from latentfactors.evaluation import EvaluationResult, evaluate
from latentfactors.models import BPR, SVD, Baseline, ImplicitALS


@pytest.fixture(scope="module")
def explicit():
    return random_split(make_synthetic(300, 150, 9000, rank=3, noise=0.3, seed=0).interactions)


@pytest.fixture(scope="module")
def small():
    """A small catalogue (25 items), so that lists can be checked item by item."""
    data = make_synthetic(40, 25, 500, rank=2, noise=0.3, seed=3).interactions
    train, test = random_split(data, 0.25, seed=3)
    return train, test, SVD(n_factors=3, n_epochs=15, random_state=0).fit(train)


def test_evaluate_reports_metrics_and_skips(explicit):
    train, test = explicit
    model = SVD(n_factors=4, n_epochs=10, random_state=0).fit(train)
    extra = Interactions.from_arrays(
        np.concatenate([test.users.ids(test.user_ids).astype(object), ["ghost", "ghost"]]),
        np.concatenate([test.items.ids(test.item_ids), [0, 1]]),
        ratings=np.concatenate([test.values, [3, 4]]),
    )
    res = evaluate(model, extra, k=5, metrics=["rmse", "ndcg", "recall@10", "auc",
                                                "coverage@5", "mean_popularity@5"])  # fmt: skip
    assert isinstance(res, EvaluationResult)
    assert list(res.metrics) == ["rmse", "ndcg@5", "recall@10", "auc", "coverage@5",
                                 "mean_popularity@5"]  # fmt: skip
    assert res.skipped == {"unknown user": 2} and res.n_skipped_rows == 2
    assert res.n_rows == len(test)
    assert 0.5 < res["auc"] <= 1 and 0 < res["coverage@5"] <= 1
    frame = res.to_frame()
    assert frame.shape[0] == 1 and frame.loc[0, "n_skipped_rows"] == 2
    assert frame.loc[0, "skipped (unknown user)"] == 2
    pred = model.predict(test.users.ids(test.user_ids), test.items.ids(test.item_ids))
    assert res["rmse"] == pytest.approx(np.sqrt(np.mean((pred - test.values) ** 2)))


def test_evaluate_counts_unknown_items_separately(small):
    _, test, model = small
    users = test.users.ids(test.user_ids)
    items = test.items.ids(test.item_ids).astype(object)
    extra = Interactions.from_arrays(
        np.concatenate([users, [users[0], users[1], users[2]]]),
        np.concatenate([items, ["new film", "other film", "third film"]]),
        ratings=np.concatenate([test.values, [1, 2, 3]]),
    )
    res = evaluate(model, extra, metrics=["rmse", "mae"])
    assert res.skipped == {"unknown item": 3}
    assert res.n_rows == len(test)
    assert res["rmse"] == pytest.approx(evaluate(model, test, metrics=["rmse"])["rmse"])
    # the fallback predictions (global mean + user bias) would have been counted otherwise
    _, fallback = model.predict(extra.users.ids(extra.user_ids), extra.items.ids(extra.item_ids),
                                return_mask=True)  # fmt: skip
    assert int(fallback.sum()) == res.n_skipped_rows


def plain_ranking(model, train, test, k):
    """Each user's list from model.recommend, scored with the obvious loops."""
    relevant: dict = {}
    for u, i in zip(test.users.ids(test.user_ids), test.items.ids(test.item_ids)):
        relevant.setdefault(u, set()).add(i)
    seen: dict = {}
    for u, i in zip(train.users.ids(train.user_ids), train.items.ids(train.item_ids)):
        seen.setdefault(u, set()).add(i)
    counts = dict(zip(*np.unique(train.items.ids(train.item_ids), return_counts=True)))
    all_items = list(model.items_.ids(np.arange(len(model.items_))))
    out: dict = {m: [] for m in ("precision", "recall", "ndcg", "map", "mrr", "hit_rate", "auc")}
    shown, pops = set(), []
    for u, rel in relevant.items():
        items = list(model.recommend(u, n=k)[0])
        shown.update(items)
        pops += [counts[i] for i in items]
        hits = [int(i in rel) for i in items] + [0] * (k - len(items))
        out["precision"].append(sum(hits) / k)
        out["recall"].append(sum(hits) / len(rel))
        idcg = sum(1 / math.log2(r + 2) for r in range(min(k, len(rel))))
        out["ndcg"].append(sum(h / math.log2(r + 2) for r, h in enumerate(hits)) / idcg)
        precisions = [sum(hits[: r + 1]) / (r + 1) for r, h in enumerate(hits) if h]
        out["map"].append(sum(precisions) / min(k, len(rel)))
        out["mrr"].append(1 / (hits.index(1) + 1) if 1 in hits else 0.0)
        out["hit_rate"].append(float(any(hits)))
        scores = dict(zip(all_items, model.predict([u], all_items, clip=False)))
        neg = [i for i in all_items if i not in rel and i not in seen.get(u, ())]
        pairs = [(scores[p] > scores[n]) + 0.5 * (scores[p] == scores[n]) for p in rel for n in neg]
        if pairs:  # no AUC for a user who has every untrained item held out
            out["auc"].append(sum(pairs) / len(pairs))
    res = {f"{m}@{k}": float(np.mean(v)) for m, v in out.items() if m != "auc"}
    res["auc"] = float(np.mean(out["auc"]))
    res[f"coverage@{k}"] = len(shown) / len(all_items)
    res[f"mean_popularity@{k}"] = float(np.mean(pops))
    return res, len(relevant)


@pytest.mark.parametrize("k", [3, 40])  # 40 is more than the 25 items of the catalogue
def test_evaluate_equals_plain_python(small, k):
    train, test, model = small
    want, n_users = plain_ranking(model, train, test, k)
    names = ["precision", "recall", "ndcg", "map", "mrr", "hit_rate", "auc", "coverage",
             "mean_popularity"]  # fmt: skip
    res = evaluate(model, test, k=k, metrics=names)
    assert res.n_users == n_users
    for key, value in want.items():
        assert res[key] == pytest.approx(value), key
    if k > len(model.items_):
        # every item not trained on is listed, so every held-out item is found
        assert res[f"recall@{k}"] == 1.0 and res[f"hit_rate@{k}"] == 1.0
        assert res[f"precision@{k}"] < len(model.items_) / k


def test_users_without_test_items_do_not_count(small):
    train, test, model = small
    first = test.users.ids(test.user_ids[:1])[0]
    keep = test.users.ids(test.user_ids) == first
    one_user = Interactions.from_arrays(
        test.users.ids(test.user_ids)[keep], test.items.ids(test.item_ids)[keep],
        ratings=test.values[keep],
    )  # fmt: skip
    res = evaluate(model, one_user, k=5, metrics=["recall@5"])
    assert res.n_users == 1
    want, _ = plain_ranking(model, train, one_user, 5)
    assert res["recall@5"] == pytest.approx(want["recall@5"])


def test_evaluate_train_argument_and_implicit_models():
    data = make_synthetic(120, 60, 2400, implicit=True, seed=1).interactions
    train, test = random_split(data, 0.2, seed=1)
    for model in (ImplicitALS(n_factors=8, n_epochs=3, random_state=0),
                  BPR(n_factors=8, n_epochs=5, random_state=0)):  # fmt: skip
        model.fit(train)
        res = evaluate(model, test, k=5)
        assert list(res.metrics) == ["precision@5", "recall@5", "ndcg@5", "map@5"]
        assert evaluate(model, test, train=train, k=5).metrics == res.metrics
        assert 0 <= res["ndcg@5"] <= 1
    # excluding more (train and test) leaves fewer candidates: the held-out items vanish
    both = evaluate(model, test, train=data, k=5, metrics=["recall@5"])
    assert both["recall@5"] == 0.0


def test_evaluate_bad_arguments(explicit):
    train, test = explicit
    model = Baseline().fit(train)
    with pytest.raises(InvalidParameterError, match=r"unknown metric 'f1'; valid metrics: rmse"):
        evaluate(model, test, metrics=["f1"])
    with pytest.raises(InvalidParameterError, match=r"mean_popularity@k$"):
        evaluate(model, test, metrics=["ndgc"])
    with pytest.raises(InvalidParameterError, match=r"'auc@10': auc ranks all items"):
        evaluate(model, test, metrics=["auc@10"])
    with pytest.raises(InvalidParameterError, match=r"'ndcg@x': k must be a positive integer"):
        evaluate(model, test, metrics=["ndcg@x"])
    with pytest.raises(InvalidParameterError, match=r"'ndcg@': a metric name and k go on "
                       r"either side of '@'; write ndcg@10 for k=10, or ndcg alone"):  # fmt: skip
        evaluate(model, test, metrics=["ndcg@"])
    with pytest.raises(InvalidParameterError, match=r"'@5': .* write ndcg@10 for k=10"):
        evaluate(model, test, metrics=["@5"])
    with pytest.raises(InvalidParameterError, match=r"'rmse@5': rmse takes no @k"):
        evaluate(model, test, metrics=["rmse@5"])
    with pytest.raises(InvalidParameterError, match=r"k=0 is invalid"):
        evaluate(model, test, k=0)
    with pytest.raises(DataError, match="test must be an Interactions container"):
        evaluate(model, [1, 2])
    implicit = ImplicitALS(n_factors=4, n_epochs=2).fit(train)
    with pytest.raises(InvalidParameterError, match="predicts preference scores, not ratings"):
        evaluate(implicit, test, metrics=["rmse"])
