"""The recommendation API on every model: checkerboard data where the answer is known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from latentfactors import Interactions, InvalidParameterError, UnknownIdError
from latentfactors.testing import checkerboard as _checkerboard

from .test_common import ALL, ALL_NAMES

N = 40
# models without a user-item interaction term: they cannot learn the checkerboard
NO_FACTORS = ("Baseline", "Popularity")


def checkerboard(kind: str, seed: int = 0) -> Interactions:
    """The shipped checkerboard (latentfactors.testing): users like items of their parity."""
    return _checkerboard(kind, n=N, seed=seed)


def fit_on_checkerboard(name):
    factory, kind = ALL[name]
    model = factory()
    params = model.get_params()
    if "n_factors" in params:
        model.set_params(n_factors=4)
    if name.startswith("BPR"):
        model.set_params(n_epochs=60)
    if kind == "explicit" and "n_epochs" in params and name != "Baseline":
        model.set_params(n_epochs=max(params["n_epochs"], 40))
    data = checkerboard(kind)
    return model.fit(data), data


@pytest.fixture(scope="module", params=ALL_NAMES)
def case(request):
    return request.param, *fit_on_checkerboard(request.param)


def parity(raw: str) -> int:
    return int(raw[1:]) % 2


def test_checkerboard_recommends_the_right_parity(case):
    name, model, data = case
    if name in NO_FACTORS:
        pytest.skip(f"{name} has no user-item interaction term; it cannot learn parity")
    wrong = 0
    for user in data.users.raw[:20]:
        items, scores = model.recommend(user, n=5)
        assert np.all(np.diff(scores) <= 1e-6), "scores must come best first"
        wrong += sum(parity(it) != parity(user) for it in items)
    assert wrong <= 2, f"{name}: {wrong} of 100 recommendations have the wrong parity"


def test_seen_items_never_come_back(case):
    _, model, data = case
    seen = data.csr
    for row, user in enumerate(data.users.raw[:15]):
        items, _ = model.recommend(user, n=N)
        got = set(data.items.index(items).tolist())
        assert not got & set(seen[row].indices.tolist())
        assert len(items) == N - seen[row].nnz
    everything, _ = model.recommend(data.users.raw[0], n=N, exclude_seen=False)
    assert len(everything) == N


def test_batch_equals_single(case):
    _, model, data = case
    users = list(data.users.raw[:7])
    frame = model.recommend(users=users, n=4)
    assert list(frame.columns) == ["user", "item", "score", "rank"]
    for user in users:
        items, scores = model.recommend(user, n=4)
        sub = frame[frame.user == user]
        assert sub["item"].tolist() == list(items)
        np.testing.assert_allclose(sub["score"], scores, rtol=1e-6)
        assert sub["rank"].tolist() == list(range(1, len(items) + 1))
    everyone = model.recommend_all(n=4)
    assert len(everyone) == 4 * data.n_users
    pd.testing.assert_frame_equal(
        everyone[everyone.user.isin(users)].reset_index(drop=True),
        frame.sort_values(
            ["user", "rank"],
            key=lambda c: (
                c.map({u: k for k, u in enumerate(data.users.raw)}) if c.name == "user" else c
            ),
        ).reset_index(drop=True),
        check_dtype=False,
    )
    raw, scores = model.recommend(users=users[:2], n=3, as_frame=False)
    assert raw.shape == (2, 3) and scores.shape == (2, 3)


def test_candidates_and_exclusions(case):
    _, model, data = case
    user = data.users.raw[3]
    pool = [f"i{k}" for k in range(N)]
    items, _ = model.recommend(user, n=3, items=pool[:10], exclude_seen=False)
    assert set(items) <= set(pool[:10]) and len(items) == 3
    items, _ = model.recommend(user, n=N, exclude=pool[:20], exclude_seen=False)
    assert not set(items) & set(pool[:20])
    assert len(items) == N - 20
    # unknown candidates are ignored, but none known at all is a mistake worth saying
    items, _ = model.recommend(user, n=3, items=[*pool[:3], "zz"], exclude_seen=False)
    assert set(items) == set(pool[:3])
    with pytest.raises(UnknownIdError, match=r"none of the 2 candidate items is known to this "
                       r"model \(first: \['zz', 'yy'\]\); pass raw item ids"):  # fmt: skip
        model.recommend(user, items=["zz", "yy"])


def test_scores_match_predict_for_explicit(case):
    name, model, data = case
    if ALL[name][1] != "explicit":
        pytest.skip("implicit scores are preferences, compared in test_explain")
    user = data.users.raw[1]
    items, scores = model.recommend(user, n=5)
    pred = model.predict([user] * len(items), items, clip=False)
    np.testing.assert_allclose(scores, pred, rtol=1e-5)


def test_unknown_user_mentions_fold_in(case):
    _, model, _ = case
    with pytest.raises(UnknownIdError, match=r"user 'stranger' is not known .* model\.fold_in"):
        model.recommend("stranger")
    with pytest.raises(UnknownIdError, match=r"1 user\(s\) not known .*fold_in"):
        model.recommend(users=["u1", "stranger"])
    with pytest.raises(InvalidParameterError, match="either one user or users="):
        model.recommend()
    with pytest.raises(InvalidParameterError, match=r"n=0 is invalid; expected an integer >= 1"):
        model.recommend("u1", n=0)


def test_similar_items_and_users(case):
    name, model, _ = case
    if name in NO_FACTORS:
        with pytest.raises(InvalidParameterError, match="has no latent factors"):
            model.similar_items("i0")
        return
    items, sims = model.similar_items("i0", n=5)
    assert "i0" not in items and len(items) == 5
    assert np.all(np.diff(sims) <= 1e-6) and sims.max() <= 1 + 1e-5
    assert sum(parity(it) == 0 for it in items) >= 4, f"{name}: {items}"
    users, _ = model.similar_users("u0", n=5, metric="dot")
    assert "u0" not in users
    with pytest.raises(UnknownIdError, match="item 'nope' is not known"):
        model.similar_items("nope")
    with pytest.raises(InvalidParameterError, match="metric='l2' is invalid"):
        model.similar_items("i0", metric="l2")
    # min_count keeps only neighbours with at least that many training interactions
    counts = np.bincount(model.user_items_.indices, minlength=len(model.items_))
    cut = int(np.median(counts)) + 1
    items, _ = model.similar_items("i0", n=len(model.items_), min_count=cut)
    own = counts[model.items_.index(["i0"])[0]]
    assert len(items) == int((counts >= cut).sum()) - int(own >= cut)
    assert all(counts[model.items_.index([it])[0]] >= cut for it in items)
    users, _ = model.similar_users("u0", n=3, min_count=10**9)
    assert len(users) == 0
    with pytest.raises(InvalidParameterError, match="min_count=-1 is invalid"):
        model.similar_items("i0", min_count=-1)


def test_explain_parts_sum_to_score(case):
    name, model, _ = case
    exp = model.explain("u2", "i4")
    assert exp.parts["contribution"].sum() == pytest.approx(exp.score, rel=1e-6, abs=1e-9)
    if ALL[name][1] == "explicit":
        assert exp.score == pytest.approx(model.predict_one("u2", "i4", clip=False), rel=1e-5)
        assert {"baseline"} <= set(exp.parts["kind"])
    elif name.startswith("ImplicitALS"):
        assert set(exp.parts["kind"]) == {"item"}  # contributions of past items
        own = model.predict(["u2"], ["i4"])[0]
        tol = 1e-3 if name == "ImplicitALS-cholesky" else 0.1
        assert exp.score == pytest.approx(own, rel=tol, abs=1e-4)
    else:  # BPR: per-factor products and the item bias
        assert exp.score == pytest.approx(model.predict(["u2"], ["i4"])[0], rel=1e-5)
    assert "Explanation(user='u2'" in repr(exp)


def test_fold_in_reproduces_a_training_user(case):
    name, model, data = case
    row = 6
    user = data.users.raw[row]
    sub = data.subset(data.user_ids == row)
    fold = model.fold_in(sub, update=False)
    assert fold.users.tolist() == [user]
    trained = model.user_vectors_[row]
    got = fold.factors[0]
    if name == "ALS":
        # its default CG solver leaves the trained row a couple of warm-started steps
        # from the exact solve fold-in computes: close; with solver="exact", equal
        cos = got @ trained / (np.linalg.norm(got) * np.linalg.norm(trained))
        assert cos > 0.995, f"{name}: cosine {cos:.4f}"
        exact = model.clone().set_params(solver="exact").fit(data)
        fold = exact.fold_in(sub, update=False)
        np.testing.assert_allclose(fold.factors[0], exact.user_vectors_[row], rtol=1e-3,
                                   atol=1e-4)  # fmt: skip
        np.testing.assert_allclose(fold.bias[0], exact.user_bias_[row], rtol=1e-3, atol=1e-4)
    elif name == "ImplicitALS-cholesky":
        # items then users each epoch: the trained row is this exact solve
        np.testing.assert_allclose(got, trained, rtol=1e-3, atol=1e-4)
    elif name in NO_FACTORS:
        assert fold.bias[0] == pytest.approx(model.user_bias_[row], rel=1e-4, abs=1e-5)
    else:
        cos = got @ trained / (np.linalg.norm(got) * np.linalg.norm(trained))
        assert cos > 0.8, f"{name}: cosine {cos:.3f}"


def test_fold_in_new_user_then_recommend(case):
    name, model, _ = case
    kind = ALL[name][1]
    items = ["i0", "i2", "i4", "i6", "i8", "i10", "unknown-item"]
    if kind == "explicit":
        new = Interactions.from_arrays(
            ["newbie"] * 9, [*items, "i1", "i3"], ratings=[5, 5, 5, 5, 5, 5, 5, 1, 1]
        )
    else:
        new = Interactions.from_arrays(["newbie"] * len(items), items)
    n_users = len(model.users_)
    fold = model.fold_in(new)
    assert len(model.users_) == n_users + 1
    recs, _ = model.recommend("newbie", n=5)
    assert not set(recs) & set(items)
    if name not in NO_FACTORS:
        assert sum(parity(it) == 0 for it in recs) >= 4, f"{name}: {recs}"
    # refresh the same user: no new row
    model.fold_in(new)
    assert len(model.users_) == n_users + 1
    assert fold.factors.shape == (1, model.item_factors_.shape[1])
