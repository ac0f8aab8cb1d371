"""Every endpoint of a real server, against the Python API on the same model file."""

from __future__ import annotations

import numpy as np
import pytest

import latentfactors as lf

from .conftest import TOKEN, auth


@pytest.fixture(scope="module")
def server(svd_path, token_file, tmp_path_factory):
    from .conftest import Server

    wd = tmp_path_factory.mktemp("endpoints")
    s = Server(
        svd_path,
        wd,
        "--state",
        str(wd / "state"),
        "--token-file",
        str(token_file),
        "--max-n",
        "500",
        "--max-ids",
        "50",
        "--max-body-bytes",
        "20000",
    )
    s.start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def model(svd_path):
    return lf.load(svd_path)


def err(resp, status: int) -> str:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"error", "status"} and body["status"] == status
    assert "Traceback" not in body["error"]
    return body["error"]


# ---------------------------------------------------------------------- operations
def test_health_ready_model(server, model):
    c = server.client
    assert c.get("/healthz").json()["status"] == "ok"
    ready = c.get("/readyz").json()
    assert ready["status"] == "ready" and ready["model_version"] == 1
    info = c.get("/model").json()
    assert info["model_class"] == "SVD" and info["n_items"] == len(model.items_)
    assert info["n_users"] == len(model.users_) and info["n_factors"] == 16
    assert info["index"]["kind"] == "exact" and info["settings"]["token"] == "set"
    assert TOKEN not in str(info)


def test_openapi_documents_every_endpoint_with_examples(server):
    spec = server.client.get("/openapi.json").json()
    paths = spec["paths"]
    for p in [
        "/users/{user}/recommendations",
        "/recommendations",
        "/recommendations/basket",
        "/items/{item}/similar",
        "/users/{user}/similar",
        "/predict",
        "/users/{user}/items/{item}/explain",
        "/users/{user}/interactions",
        "/users/{user}",
        "/model",
        "/healthz",
        "/readyz",
        "/metrics",
        "/admin/reload",
    ]:
        assert p in paths, p
    assert "examples" in str(spec["components"]["schemas"]["InteractionsRequest"])
    assert server.client.get("/docs").status_code == 200


# ---------------------------------------------------------------------- recommend
def test_recommend_matches_python_api(server, model):
    for user in (1, 196, 943):
        r = server.client.get(f"/users/{user}/recommendations", params={"n": 10}).json()
        items, scores = model.recommend(user, 10)
        assert r["items"] == items.tolist()
        np.testing.assert_allclose(r["scores"], scores, rtol=1e-5)
        assert r["fallback"] is None and r["source"] == "model" and r["user"] == user


def test_recommend_options(server, model):
    c = server.client
    seen = set(model.items_.ids(model.user_items_[0].indices).tolist())
    with_seen = c.get("/users/1/recommendations", params={"n": 50, "exclude_seen": "false"}).json()
    assert seen & set(with_seen["items"])
    allow = [50, 172, 181, 1, 2, 3]
    r = c.get(
        "/users/1/recommendations",
        params={"n": 10, "items": allow, "exclude_seen": "false", "exclude": [50]},
    ).json()
    items, _ = model.recommend(1, 10, exclude_seen=False, items=allow, exclude=[50])
    assert r["items"] == items.tolist() and 50 not in r["items"]
    msg = err(c.get("/users/1/recommendations", params={"items": ["nope", "never"]}), 404)
    assert "none of the 2 candidate items" in msg


def test_unknown_user_and_popular_fallback(server, model):
    c = server.client
    msg = err(c.get("/users/nobody/recommendations"), 404)
    assert "user 'nobody' is not known" in msg and "fallback=popular" in msg
    r = c.get("/users/nobody/recommendations", params={"n": 5, "fallback": "popular"}).json()
    assert r["fallback"] == "popular" and r["source"] == "popular"
    top = np.argsort(-model.item_counts_, kind="stable")[:5]
    assert r["items"] == model.items_.ids(top).tolist()


def test_bad_n(server):
    c = server.client
    assert "query parameter 'n'" in err(c.get("/users/1/recommendations", params={"n": 0}), 422)
    assert "greater than or equal to 1" in err(c.get("/users/1/recommendations?n=-3"), 422)
    assert "valid integer" in err(c.get("/users/1/recommendations?n=ten"), 422)
    assert "limit of 500" in err(c.get("/users/1/recommendations?n=501"), 422)
    msg = err(c.get("/users/1/recommendations?fallback=maybe"), 422)
    assert "query parameter 'fallback'" in msg


def test_batch_recommendations(server, model):
    c = server.client
    r = c.post("/recommendations", json={"users": [1, 2, 3], "n": 5}).json()
    df = model.recommend(users=[1, 2, 3], n=5)
    for res, (u, g) in zip(r["results"], df.groupby("user", sort=False)):
        assert res["user"] == u and res["items"] == g["item"].tolist()
    msg = err(c.post("/recommendations", json={"users": [1, "ghost", "ghost2"]}), 404)
    assert "2 user(s) are not known" in msg and "ghost" in msg
    r = c.post("/recommendations", json={"users": [1, "ghost"], "fallback": "popular"}).json()
    assert [x["fallback"] for x in r["results"]] == [None, "popular"]
    assert "'users' has 51 ids" in err(
        c.post("/recommendations", json={"users": list(range(51))}), 422
    )


def test_basket(server, model):
    body = {"items": [50, 172, 181, "unknown-item"], "ratings": [5, 5, 4, 3], "n": 5}
    r = server.client.post("/recommendations/basket", json=body).json()
    fold = model.fold_in(
        lf.Interactions.from_arrays(["b"] * 3, [50, 172, 181], ratings=[5.0, 5.0, 4.0]),
        update=False,
    )
    items, scores = model.recommend_for(fold, 5)
    assert r["items"] == items.tolist() and r["unknown_items"] == ["unknown-item"]
    np.testing.assert_allclose(r["scores"], scores, rtol=1e-5)
    assert not {50, 172, 181} & set(r["items"])
    c = server.client
    assert "learns from ratings" in err(
        c.post("/recommendations/basket", json={"items": [50]}), 422
    )
    msg = err(c.post("/recommendations/basket", json={"items": ["x"], "ratings": [3]}), 404)
    assert "none of the 1 basket items" in msg
    msg = err(c.post("/recommendations/basket", json={"items": [50, 1], "ratings": [3]}), 422)
    assert "one value per item" in msg
    assert "at least 1 item" in err(c.post("/recommendations/basket", json={"items": []}), 422)


# ---------------------------------------------------------------------- neighbours, predict
def test_similar(server, model):
    c = server.client
    r = c.get("/items/50/similar", params={"n": 5, "min_count": 20}).json()
    items, sims = model.similar_items(50, 5, min_count=20)
    assert r["items"] == items.tolist()
    np.testing.assert_allclose(r["similarities"], sims, rtol=1e-5)
    assert "item 99999 is not known" in err(c.get("/items/99999/similar"), 404)
    assert "query parameter 'metric'" in err(c.get("/items/50/similar?metric=l2"), 422)
    r = c.get("/users/1/similar", params={"n": 5}).json()
    users, _ = model.similar_users(1, 5)
    assert r["users"] == users.tolist()
    assert "is not known" in err(c.get("/users/ghost/similar"), 404)


def test_predict_and_explain(server, model):
    c = server.client
    r = c.get("/predict", params={"user": 1, "item": 50}).json()
    assert r["score"] == pytest.approx(float(model.predict([1], [50])[0]), rel=1e-6)
    assert r["fallback"] is False
    r = c.post("/predict", json={"users": [1, 2, "ghost"], "items": [50, "x", 50]}).json()
    pred, mask = model.predict([1, 2, "ghost"], [50, "x", 50], return_mask=True)
    np.testing.assert_allclose(r["scores"], pred, rtol=1e-6)
    assert r["fallback"] == mask.tolist()
    msg = err(c.post("/predict", json={"users": [1, 2], "items": [50]}), 422)
    assert "same length: 2 != 1" in msg
    ex = c.get("/users/1/items/50/explain").json()
    assert sum(p["contribution"] for p in ex["parts"]) == pytest.approx(ex["score"], rel=1e-6)
    assert ex["score"] == pytest.approx(model.explain(1, 50).score, rel=1e-6)
    assert "item 'zz' is not known" in err(c.get("/users/1/items/zz/explain"), 404)
    assert "user 'zz' is not known" in err(c.get("/users/zz/items/50/explain"), 404)


# ---------------------------------------------------------------------- bad requests
def test_bad_bodies(server):
    c = server.client
    h = {"content-type": "application/json"}
    assert "not valid JSON" in err(c.post("/recommendations", content=b"{bad", headers=h), 400)
    msg = err(c.post("/recommendations", json={"users": "1"}), 422)
    assert "body field 'users'" in msg
    msg = err(c.post("/recommendations", json={"users": [1], "n": "many"}), 422)
    assert "body field 'n'" in msg
    msg = err(c.post("/recommendations", json={"users": [1], "colour": "red"}), 422)
    assert "'colour' is not accepted" in msg
    msg = err(c.post("/recommendations", json={"users": [1.5]}), 422)
    assert msg == "body field 'users.0': ids must be JSON strings or integers (got 1.5)"
    assert "JSON request body is required" in err(c.post("/recommendations", headers=h), 422)
    assert "must be a JSON object" in err(c.post("/recommendations", json=[1, 2]), 422)
    big = {"users": list(range(5000))}
    assert "at most 20000" in err(c.post("/recommendations", json=big), 413)
    assert "no endpoint GET /nowhere" in err(c.get("/nowhere"), 404)
    assert "PUT is not allowed" in err(c.put("/recommendations", json={}), 405)


# ---------------------------------------------------------------------- live users
def test_interactions_need_the_token(server):
    c = server.client
    body = {"items": [50], "ratings": [5]}
    assert "missing bearer token" in err(c.post("/users/u1/interactions", json=body), 401)
    r = c.post("/users/u1/interactions", json=body, headers=auth("wrong"))
    assert "wrong bearer token" in err(r, 401) and r.headers["www-authenticate"] == "Bearer"
    assert "missing bearer" in err(c.delete("/users/1"), 401)
    assert "missing bearer" in err(c.post("/admin/reload"), 401)


def test_post_interactions_then_recommend(server, model):
    c = server.client
    body = {"items": [50, 172, 181, "brand-new-item"], "ratings": [5, 5, 4, 2]}
    r = c.post("/users/newbie/interactions", json=body, headers=auth())
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["accepted"] == 4 and out["unknown_items"] == ["brand-new-item"] and out["live"]
    rec = c.get("/users/newbie/recommendations", params={"n": 10}).json()
    fold = model.fold_in(
        lf.Interactions.from_arrays(["newbie"] * 3, [50, 172, 181], ratings=[5.0, 5.0, 4.0]),
        update=False,
    )
    items, scores = model.recommend_for(fold, 10)
    assert rec["source"] == "live" and rec["items"] == items.tolist()
    np.testing.assert_allclose(rec["scores"], scores, rtol=1e-5)
    # more interactions: folded in from everything stored
    c.post("/users/newbie/interactions", json={"items": [1], "ratings": [1]}, headers=auth())
    rec2 = c.get("/users/newbie/recommendations", params={"n": 10}).json()
    assert 1 not in rec2["items"] and rec2["items"] != rec["items"]
    assert c.get("/users/newbie/similar", params={"n": 3}).status_code == 200
    ex = c.get("/users/newbie/items/100/explain").json()
    assert sum(p["contribution"] for p in ex["parts"]) == pytest.approx(ex["score"], rel=1e-6)
    assert c.get("/predict", params={"user": "newbie", "item": 100}).json()["fallback"] is False


def test_known_user_posting_keeps_their_history(server, model):
    c = server.client
    before = c.get("/users/5/recommendations", params={"n": 20}).json()
    assert before["source"] == "model"
    c.post(
        "/users/5/interactions",
        json={"items": [before["items"][0]], "ratings": [1]},
        headers=auth(),
    )
    after = c.get("/users/5/recommendations", params={"n": 20}).json()
    assert after["source"] == "live" and before["items"][0] not in after["items"]
    seen = set(model.items_.ids(model.user_items_[model.users_.index([5])[0]].indices).tolist())
    assert not seen & set(after["items"])  # training history still excluded


def test_bad_interactions(server):
    c = server.client

    def post(body):
        return c.post("/users/x/interactions", json=body, headers=auth())

    assert "one value per item" in err(post({"items": [50, 51], "ratings": [5]}), 422)
    assert "send 'ratings'" in err(post({"items": [50], "weights": [1]}), 422)
    assert "either 'ratings' or 'weights'" in err(
        post({"items": [50], "ratings": [1], "weights": [1]}), 422
    )
    assert "outside the model's rating scale 1..5" in err(
        post({"items": [50], "ratings": [9]}), 422
    )
    assert "at least 1 item" in err(post({"items": [], "ratings": []}), 422)
    assert "'items' has 51 ids" in err(post({"items": list(range(51)), "ratings": [3] * 51}), 422)
    assert "body field 'ratings.0': Input should be a valid number" in err(
        post({"items": [50], "ratings": ["x"]}), 422
    )


def test_delete_user(server):
    c = server.client
    c.post("/users/gone/interactions", json={"items": [50], "ratings": [4]}, headers=auth())
    assert c.get("/users/gone/recommendations").status_code == 200
    r = c.delete("/users/gone", headers=auth()).json()
    assert r["deleted"] and r["deleted_interactions"] == 1
    assert "user 'gone' was deleted" in err(c.get("/users/gone/recommendations"), 404)
    # a training user: hidden from the loaded model too
    assert c.delete("/users/7", headers=auth()).json()["deleted"]
    assert "user 7 was deleted" in err(c.get("/users/7/recommendations"), 404)
    assert 7 not in c.get("/users/1/similar", params={"n": 200}).json()["users"]
    assert c.get("/predict", params={"user": 7, "item": 50}).json()["fallback"] is True
    assert "is not known" in err(c.delete("/users/never-was", headers=auth()), 404)


def test_metrics(server):
    server.client.get("/users/1/recommendations")
    text = server.client.get("/metrics").text
    assert (
        'latentfactors_http_requests_total{method="GET",route="/users/{user}/recommendations",status="200"}'
        in text
    )
    assert "latentfactors_http_request_duration_seconds_bucket" in text
    assert 'latentfactors_index_info{kind="exact"} 1.0' in text
    assert 'latentfactors_index_recall_at_10{kind="exact"} 1.0' in text
    assert "latentfactors_fold_ins" in text and "latentfactors_live_users" in text


def test_bayesian_prior_predictive_over_http(ml100k, server_factory, tmp_path):
    """BayesianMF scores a user or an item unseen in training with its prior predictive;
    the service's scoring path gives the same numbers as the library."""
    from latentfactors.models import BayesianMF

    model = BayesianMF(n_factors=4, n_epochs=6, burn_in=3, random_state=0)
    path = model.fit(ml100k.interactions).save(tmp_path / "bmf.lfm")
    s = server_factory(path, env={"LATENTFACTORS_TOKEN": TOKEN})
    users, items = [1, "ghost", "ghost", 2], ["x", 50, "x", 50]
    r = s.client.post("/predict", json={"users": users, "items": items}).json()
    pred, mask = model.predict(users, items, return_mask=True)
    ub = model.user_bias_[model.users_.index([1])[0]]
    plain = model.global_mean_ + np.array([ub, model.item_bias_[model.items_.index([50])[0]]])
    assert np.abs(pred[:2] - plain).min() > 1e-4  # not the plain mean + bias fallback
    np.testing.assert_allclose(r["scores"], pred, rtol=1e-6)
    assert r["fallback"] == mask.tolist() == [True, True, True, False]
