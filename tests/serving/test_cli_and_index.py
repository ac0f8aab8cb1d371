"""The commands (serve / export / refit through the main CLI) and serving with an ANN index."""

from __future__ import annotations

import json
import sqlite3

import numpy as np
import pytest
from click.testing import CliRunner

import latentfactors as lf

from .conftest import auth


@pytest.fixture(scope="module")
def cli():
    from latentfactors.cli import main

    return main


def test_commands_registered(cli):
    for name in ("serve", "export", "refit"):
        assert name in cli.commands
    r = CliRunner().invoke(cli, ["serve", "--help"])
    assert r.exit_code == 0 and "--token-file" in r.output and "--index" in r.output


def test_serve_refuses_bad_settings(cli, svd_path, tmp_path):
    r = CliRunner().invoke(cli, ["serve", str(svd_path), "--workers", "2"])
    assert r.exit_code == 2 and "--workers 2" in r.output and "Traceback" not in r.output
    r = CliRunner().invoke(cli, ["serve", str(svd_path), "--token-file", str(tmp_path / "no")])
    assert r.exit_code == 2 and "cannot read the token file" in r.output
    empty = tmp_path / "empty"
    empty.write_text("  \n")
    r = CliRunner().invoke(cli, ["serve", str(svd_path), "--token-file", str(empty)])
    assert r.exit_code == 2 and "is empty" in r.output


def test_serve_with_hnsw(svd_path, token_file, server_factory, tmp_path):
    pytest.importorskip("faiss")
    state = tmp_path / "state"
    s = server_factory(
        svd_path, "--index", "hnsw", "--state", str(state), "--token-file", str(token_file)
    )
    model = lf.load(svd_path)
    info = s.client.get("/model").json()["index"]
    assert info["kind"] == "hnsw" and info["recall_at_10"] >= 0.95
    assert (state / f"{svd_path.name}.hnsw").is_file()  # persisted next to the state
    agree = []
    for user in range(1, 41):
        got = s.client.get(f"/users/{user}/recommendations", params={"n": 10}).json()["items"]
        agree.append(len(set(got) & set(model.recommend(user, 10)[0].tolist())) / 10)
    assert np.mean(agree) >= 0.95
    s.client.post(
        "/users/z/interactions", json={"items": [50, 181], "ratings": [5, 5]}, headers=auth()
    )
    rec = s.client.get("/users/z/recommendations", params={"n": 5}).json()
    assert rec["source"] == "live" and not {50, 181} & set(rec["items"])
    text = s.client.get("/metrics").text
    assert 'latentfactors_index_info{kind="hnsw"} 1.0' in text


def test_serve_with_milvus_lite(svd_path, server_factory, tmp_path):
    pytest.importorskip("milvus_lite")
    s = server_factory(svd_path, "--index", "milvus", "--state", str(tmp_path / "state"))
    model = lf.load(svd_path)
    assert s.client.get("/model").json()["index"]["recall_at_10"] == 1.0
    for user in (1, 2, 3):
        got = s.client.get(f"/users/{user}/recommendations", params={"n": 10}).json()
        items, scores = model.recommend(user, 10)
        assert got["items"] == items.tolist()
        np.testing.assert_allclose(got["scores"], scores, rtol=1e-5)


def test_export_command(cli, svd_path, tmp_path):
    pytest.importorskip("milvus_lite")
    uri = f"milvus://{tmp_path / 'f.db'}"
    r = CliRunner().invoke(cli, ["export", str(svd_path), "--to", uri, "--users"])
    assert r.exit_code == 0, r.output
    info = json.loads(r.output)
    assert info["n_items"] == 1682 and info["n_users"] == 943
    r = CliRunner().invoke(cli, ["export", str(svd_path), "--to", str(tmp_path / "f.txt")])
    assert r.exit_code == 2 and "ending in .db" in r.output


def test_refit_with_state(cli, svd_path, ml100k_path, token_file, server_factory, tmp_path):
    state = tmp_path / "state"
    s = server_factory(svd_path, "--state", str(state), "--token-file", str(token_file))
    s.client.post(
        "/users/newcomer/interactions",
        json={"items": [50, 172, 181, "new-item"], "ratings": [5, 5, 4, 5]},
        headers=auth(),
    )
    s.client.delete("/users/3", headers=auth())
    s.stop()
    with sqlite3.connect(state / "live_users.sqlite") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    out = tmp_path / "refit.lfm"
    r = CliRunner().invoke(
        cli,
        [
            "refit",
            str(svd_path),
            str(ml100k_path / "u.data"),
            "--state",
            str(state),
            "-o",
            str(out),
        ],
    )
    assert r.exit_code == 0, r.output
    summary = json.loads(r.output)
    assert summary["stored"] == 4 and summary["deleted_users"] == 1
    new = lf.load(out)
    assert "newcomer" in new.users_ and "new-item" in new.items_ and 3 not in new.users_
    assert new.get_params() == lf.load(svd_path).get_params()
    # the refit model has mixed ids (integers and text): "196" in a URL is still user 196
    s2 = server_factory(out)
    r = s2.client.get("/users/196/recommendations", params={"n": 3}).json()
    assert r["user"] == 196 and r["items"] == new.recommend(196, 3)[0].tolist()
    assert s2.client.get("/users/newcomer/recommendations").json()["source"] == "model"
    assert s2.client.get("/items/new-item/similar", params={"n": 2}).status_code == 200
    r = CliRunner().invoke(
        cli,
        [
            "refit",
            str(svd_path),
            str(ml100k_path / "u.data"),
            "--state",
            str(tmp_path),
            "-o",
            str(out),
        ],
    )
    assert r.exit_code == 2 and "no service state" in r.output


def test_model_file_without_seen_items(ml100k, server_factory, tmp_path):
    model = lf.SVD(n_factors=8, n_epochs=3, random_state=0).fit(ml100k.interactions)
    path = model.save(tmp_path / "noseen.lfm", seen=False)
    s = server_factory(path)
    r = s.client.get("/users/1/recommendations")
    assert r.status_code == 422 and "keeps no seen items" in r.json()["error"]
    r = s.client.get("/users/1/recommendations", params={"exclude_seen": "false", "n": 5})
    assert r.json()["items"] == model.recommend(1, 5, exclude_seen=False)[0].tolist()
