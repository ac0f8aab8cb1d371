"""Tokens: a read token guards reads; without a write token writes are refused."""

from __future__ import annotations

from .conftest import READ_TOKEN, TOKEN, auth


def test_read_token(svd_path, server_factory, tmp_path):
    rt = tmp_path / "read-token"
    rt.write_text(READ_TOKEN)
    # the write token from the environment, the read token from a file
    s = server_factory(svd_path, "--read-token-file", str(rt), env={"LATENTFACTORS_TOKEN": TOKEN})
    c = s.client
    r = c.get("/users/1/recommendations")
    assert r.status_code == 401 and "missing bearer token" in r.json()["error"]
    assert c.get("/users/1/recommendations", headers=auth("nope")).status_code == 401
    assert c.get("/users/1/recommendations", headers=auth(READ_TOKEN)).status_code == 200
    assert c.get("/users/1/recommendations", headers=auth(TOKEN)).status_code == 200
    assert c.post("/predict", json={"users": [1], "items": [2]}).status_code == 401
    assert c.get("/model").status_code == 401
    for open_path in ("/healthz", "/readyz", "/metrics"):
        assert c.get(open_path).status_code == 200
    body = {"items": [50], "ratings": [5]}
    r = c.post("/users/a/interactions", json=body, headers=auth(READ_TOKEN))
    assert r.status_code == 401 and r.json()["error"] == "wrong bearer token"
    r = c.post("/users/a/interactions", json=body, headers=auth(TOKEN))
    assert r.status_code == 201, (r.text, s.output())


def test_no_token_disables_writes(svd_path, server_factory):
    s = server_factory(svd_path, env={"LATENTFACTORS_TOKEN": ""})
    r = s.client.post("/users/a/interactions", json={"items": [50], "ratings": [5]})
    assert r.status_code == 403 and "started without a token" in r.json()["error"]
    assert s.client.post("/admin/reload", headers=auth()).status_code == 403
    assert s.client.get("/users/1/recommendations").status_code == 200
