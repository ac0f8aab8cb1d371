"""Milvus Lite (embedded, a local .db file): export and search agree with exact recommend."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import latentfactors as lf
from latentfactors.index import augment_queries, build_index, recall_at, retrieve

pytest.importorskip("pymilvus", reason="Milvus support needs pymilvus (extra 'milvus')")
pytest.importorskip("milvus_lite", reason="Milvus Lite (milvus-lite) is not installed here")


@pytest.fixture(scope="module")
def model(ml100k):
    return lf.SVD(n_factors=16, n_epochs=10, random_state=0).fit(ml100k.interactions)


@pytest.fixture(scope="module")
def exported(model, tmp_path_factory):
    from latentfactors.index import export_vectors

    uri = tmp_path_factory.mktemp("milvus") / "factors.db"
    info = export_vectors(model, uri, users=True)
    return uri, info


def test_export_then_query_milvus_directly(model, exported):
    """What a user of Milvus does: take the user's vector from the user collection, search
    the item collection with metric IP, add the offset: the model's top-10 and scores."""
    from latentfactors.index.milvus import open_client

    uri, info = exported
    assert info["n_items"] == len(model.items_) and info["dim"] == 17
    assert info["n_users"] == len(model.users_)
    client = open_client(uri)
    try:
        users = [1, 196, 943]
        rows = client.query(
            info["user_collection"],
            filter=f"user in {[str(u) for u in users]}",
            output_fields=["user", "vector", "offset"],
        )
        assert len(rows) == 3
        for row in rows:
            res = client.search(
                info["collection"],
                data=[row["vector"]],
                limit=10,
                anns_field="vector",
                search_params={"metric_type": "IP"},
                output_fields=["item", "bias"],
            )[0]
            items = [int(h["entity"]["item"]) for h in res]
            scores = [h["distance"] + row["offset"] for h in res]
            ref_items, ref_scores = model.recommend(int(row["user"]), 10, exclude_seen=False)
            assert items == ref_items.tolist()
            np.testing.assert_allclose(scores, ref_scores, rtol=1e-5)
    finally:
        client.close()


def test_milvus_index_in_retrieve_matches_recommend(model, tmp_path):
    lay = model._items
    idx = build_index("milvus", lay.factors, lay.bias, uri=tmp_path / "idx.db")
    try:
        assert recall_at(idx, lay, model.user_vectors_[:50], 10) == 1.0  # Lite: a flat index
        st = model._users_state()
        rows = np.arange(20)
        ti, tv, exact = retrieve(
            idx, lay, model.intercept_, st.vectors[rows], st.bias[rows], 10, st.seen_of(rows)
        )
        ref_items, ref_scores = model.recommend(users=model.users_.ids(rows), n=10, as_frame=False)
        assert (model.items_.ids(ti.ravel()).reshape(ti.shape) == ref_items).all()
        np.testing.assert_allclose(tv, ref_scores, rtol=1e-5)
        assert (~exact).any()
        got, _ = idx.search(augment_queries(st.vectors[:1]), 5, exclude=[ti[0, :2]])
        assert not set(ti[0, :2]) & set(got[0])
    finally:
        idx.close()


def test_second_process_gets_a_clear_lock_error(exported):
    from latentfactors.index.milvus import open_client

    uri, _ = exported
    client = open_client(uri)  # this process owns the file now
    try:
        code = (
            "from latentfactors.index.milvus import open_client\n"
            f"try:\n    open_client({str(uri)!r})\n"
            "except Exception as e:\n    print(type(e).__name__, e)\n"
        )
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
        )
        assert "InvalidParameterError" in out.stdout, out.stdout + out.stderr
        assert "in use by another process" in out.stdout
    finally:
        client.close()


def test_bad_uri_and_existing_collection(model, tmp_path):
    from latentfactors.index import export_vectors

    with pytest.raises(lf.InvalidParameterError, match="ending in .db"):
        export_vectors(model, tmp_path / "x.sqlite")
    uri = tmp_path / "twice.db"
    export_vectors(model, uri)
    with pytest.raises(lf.InvalidParameterError, match="exists; pass overwrite=True"):
        export_vectors(model, uri, overwrite=False)
