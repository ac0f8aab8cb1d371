"""An implicit-feedback model served: weights (or nothing) instead of ratings."""

from __future__ import annotations

import numpy as np

import latentfactors as lf

from .conftest import auth


def test_implicit_model(ials_path, token_file, server_factory, tmp_path):
    s = server_factory(
        ials_path, "--state", str(tmp_path / "state"), "--token-file", str(token_file)
    )
    c = s.client
    model = lf.load(ials_path)
    r = c.get("/users/1/recommendations", params={"n": 10}).json()
    items, scores = model.recommend(1, 10)
    assert r["items"] == items.tolist()
    np.testing.assert_allclose(r["scores"], scores, rtol=1e-4, atol=1e-6)
    r = c.post("/users/i1/interactions", json={"items": [50, 181, 172]}, headers=auth())
    assert r.status_code == 201 and r.json()["live"], r.text
    r = c.post(
        "/users/i2/interactions", json={"items": [50, 181], "weights": [3, 1]}, headers=auth()
    )
    assert r.status_code == 201, r.text
    rec = c.get("/users/i1/recommendations", params={"n": 10}).json()
    fold = model.fold_in(lf.Interactions.from_arrays(["i1"] * 3, [50, 181, 172]), update=False)
    items, scores = model.recommend_for(fold, 10)
    assert rec["source"] == "live" and rec["items"] == items.tolist()
    r = c.post("/users/i3/interactions", json={"items": [50], "ratings": [5]}, headers=auth())
    assert r.status_code == 422 and "send 'weights'" in r.json()["error"]
    r = c.post("/users/i3/interactions", json={"items": [50], "weights": [-1]}, headers=auth())
    assert r.status_code == 422 and "weights must be >= 0" in r.json()["error"]
    r = c.post("/recommendations/basket", json={"items": [50, 181], "n": 5}).json()
    assert len(r["items"]) == 5 and not {50, 181} & set(r["items"])
