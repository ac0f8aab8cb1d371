"""Item indexes: the bias folded in, HNSW recall on real data, filtering, files."""

from __future__ import annotations

import numpy as np
import pytest

import latentfactors as lf
from latentfactors.index import (
    ExactIndex,
    augment_items,
    augment_queries,
    build_index,
    recall_at,
    retrieve,
)

faiss = pytest.importorskip("faiss", reason="the HNSW index needs faiss-cpu (extra 'ann')")

RECALL_FLOOR = 0.95  # recall@10 of HNSW (M=32, ef=128) against exact on ML-latest-small


@pytest.fixture(scope="module")
def model(ml_small_path):
    """SVD on MovieLens latest-small (~9.7k items, uneven item norms and biases)."""
    data = lf.load_movielens(ml_small_path).interactions
    return lf.SVD(n_factors=32, n_epochs=10, random_state=0).fit(data)


def _overlap(a, b) -> float:
    return np.mean([len(set(x) & set(y)) / max(len(y), 1) for x, y in zip(a, b)])


def test_augmentation_ranks_as_the_model(model):
    lay = model._items
    V = augment_items(lay.factors, lay.bias)
    U = augment_queries(model.user_vectors_[:5])
    ip = U @ V.T
    st_scores = model.user_vectors_[:5] @ lay.factors.T + lay.bias
    np.testing.assert_allclose(ip, st_scores, rtol=1e-5, atol=1e-5)


def test_exact_index_is_the_oracle(model):
    lay = model._items
    idx = build_index("exact", lay.factors, lay.bias)
    assert isinstance(idx, ExactIndex) and idx.size == len(lay.factors)
    assert recall_at(idx, lay, model.user_vectors_[:100]) == 1.0
    rows = np.arange(30)
    ti, tv, exact = retrieve(
        idx,
        lay,
        model.intercept_,
        model.user_vectors_[rows],
        model.user_bias_[rows],
        10,
        model._users_state().seen_of(rows),
    )
    ref_items, ref_scores = model.recommend(users=model.users_.ids(rows), n=10, as_frame=False)
    assert exact.all()
    assert (model.items_.ids(ti.ravel()).reshape(ti.shape) == ref_items).all()
    np.testing.assert_allclose(tv, ref_scores, rtol=1e-5)
    got, _ = idx.search(augment_queries(model.user_vectors_[:2]), 5, exclude=[ti[0, :3], []])
    assert not set(ti[0, :3]) & set(got[0])


def test_hnsw_recall_on_real_data(model):
    lay = model._items
    idx = build_index("hnsw", lay.factors, lay.bias, M=32, ef_search=128)
    rng = np.random.default_rng(0)
    users = rng.choice(len(model.users_), 300, replace=False)
    recall = recall_at(idx, lay, model.user_vectors_[users], 10)
    assert recall >= RECALL_FLOOR, f"HNSW recall@10 {recall:.3f} under the floor {RECALL_FLOOR}"


def test_hnsw_retrieve_matches_recommend_with_seen_and_allow_lists(model):
    lay = model._items
    idx = build_index("hnsw", lay.factors, lay.bias)
    st = model._users_state()
    rows = np.arange(100)
    ti, _tv, exact = retrieve(
        idx, lay, model.intercept_, st.vectors[rows], st.bias[rows], 10, st.seen_of(rows)
    )
    ref_items, _ref_scores = model.recommend(users=model.users_.ids(rows), n=10, as_frame=False)
    got = model.items_.ids(ti.ravel()).reshape(ti.shape)
    assert _overlap(got, ref_items) >= RECALL_FLOOR
    for r in range(len(rows)):  # never a seen item
        seen = st.seen_of(np.array([r]))[1]
        assert not set(ti[r]) & set(seen)
    assert (~exact).sum() > 50  # most rows answered by the index
    # an allow-list too narrow for over-fetching falls back to exact: same answer
    allow = model.items_.ids(np.arange(0, len(lay.factors), 97))
    cand = model.items_.index(allow).astype(np.int32)
    ti2, _tv2, exact2 = retrieve(
        idx,
        lay,
        model.intercept_,
        st.vectors[:5],
        st.bias[:5],
        5,
        st.seen_of(np.arange(5)),
        np.sort(cand),
    )
    ref2, _ = model.recommend(
        users=model.users_.ids(np.arange(5)), n=5, items=allow, as_frame=False
    )
    assert exact2.all() and (model.items_.ids(ti2.ravel()).reshape(ti2.shape) == ref2).all()
    # a wide allow-list (excluding a tenth) is filtered from over-fetched hits
    allowed = np.ones(len(lay.factors), bool)
    allowed[::10] = False
    ti3, _, _ = retrieve(
        idx,
        lay,
        model.intercept_,
        st.vectors[:20],
        st.bias[:20],
        10,
        st.seen_of(np.arange(20)),
        None,
        allowed,
    )
    assert allowed[ti3[ti3 >= 0]].all()


FAST = {"M": 8, "ef_construction": 40, "threads": 1}  # small graphs: this test is about files


def test_hnsw_file_is_reused_and_rebuilt_when_stale(model, tmp_path):
    from latentfactors.index.hnsw import HNSWIndex

    lay = model._items
    V = augment_items(lay.factors, lay.bias)
    path = tmp_path / "m.lfm.hnsw"
    a, rebuilt = HNSWIndex.load_or_build(path, V, {"model_sha256": "abc"}, **FAST)
    assert rebuilt and path.is_file() and (tmp_path / "m.lfm.hnsw.json").is_file()
    b, rebuilt = HNSWIndex.load_or_build(path, V, {"model_sha256": "abc"}, **FAST)
    assert not rebuilt and b.size == a.size
    q = augment_queries(model.user_vectors_[:3])
    assert (a.search(q, 10)[0] == b.search(q, 10)[0]).all()
    _, rebuilt = HNSWIndex.load_or_build(path, V, {"model_sha256": "other model"}, **FAST)
    assert rebuilt
    _, rebuilt = HNSWIndex.load_or_build(
        path, V, {"model_sha256": "other model"}, M=12, ef_construction=40
    )
    assert rebuilt
    path.write_bytes(b"garbage")
    _, rebuilt = HNSWIndex.load_or_build(
        path, V, {"model_sha256": "other model"}, M=12, ef_construction=40
    )
    assert rebuilt


def test_unknown_kind_and_bad_params():
    with pytest.raises(lf.InvalidParameterError, match="unknown index kind 'annoy'"):
        build_index("annoy", np.zeros((2, 2), np.float32), np.zeros(2, np.float32))
    from latentfactors.index.hnsw import HNSWIndex

    with pytest.raises(lf.InvalidParameterError, match="M must be an int >= 2"):
        HNSWIndex(M=1)


def test_import_stays_light():
    import subprocess
    import sys

    code = (
        "import sys, latentfactors.index; "
        "print(any(m in sys.modules for m in ('faiss', 'pymilvus', 'fastapi')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_recommend_with_an_index_object(model):
    from latentfactors.index import recommend

    lay = model._items
    hnsw = build_index("hnsw", lay.factors, lay.bias)
    user = model.users_.ids([0])[0]
    items, _scores = recommend(model, user, 10, index=hnsw)
    ref, _ref_scores = model.recommend(user, 10)
    assert len(set(items) & set(ref)) >= 9
    got, _ = recommend(
        model, users=model.users_.ids([0, 1, 2]), n=5, index=None, items=ref[:3], exclude_seen=False
    )
    assert got.shape == (3, 3) and set(got[0]) == set(ref[:3])  # at most the 3 candidates
    with pytest.raises(lf.UnknownIdError):
        recommend(model, "nobody", 5, index=hnsw)
    with pytest.raises(lf.InvalidParameterError, match="n must be a positive int"):
        recommend(model, user, 0, index=hnsw)
