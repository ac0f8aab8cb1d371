"""Hot swap: POST /admin/reload (and SIGHUP) under concurrent load, zero failed requests."""

from __future__ import annotations

import signal
import threading
import time

import httpx
import numpy as np

import latentfactors as lf

from .conftest import auth

N_CLIENTS = 4
MAX_REQUESTS = 400  # per client
MAX_SECONDS = 40.0


def test_reload_under_load_fails_nothing(svd_path, svd2_path, token_file, server_factory, tmp_path):
    s = server_factory(
        svd_path, "--state", str(tmp_path / "state"), "--token-file", str(token_file)
    )
    body = {"items": [50, 172, 181], "ratings": [5, 5, 4]}
    assert s.client.post("/users/fan/interactions", json=body, headers=auth()).status_code == 201

    failures: list[str] = []
    versions: set[int] = set()
    done = threading.Event()
    counts = [0] * N_CLIENTS

    def client(k: int) -> None:
        start = time.monotonic()
        with httpx.Client(base_url=s.url, timeout=30) as c:
            for j in range(MAX_REQUESTS):
                if done.is_set() or time.monotonic() - start > MAX_SECONDS:
                    return
                try:
                    if j % 10 == 9:
                        r = c.post(
                            f"/users/c{k}_{j}/interactions",
                            json={"items": [1, 2], "ratings": [4, 3]},
                            headers=auth(),
                        )
                    elif j % 3 == 0:
                        r = c.get("/users/fan/recommendations", params={"n": 10})
                    elif j % 3 == 1:
                        r = c.post("/recommendations", json={"users": [1, 2, "fan"], "n": 5})
                    else:
                        r = c.get(f"/users/{1 + j % 900}/recommendations", params={"n": 10})
                except httpx.HTTPError as exc:
                    failures.append(f"{type(exc).__name__}: {exc}")
                    continue
                counts[k] += 1
                if r.status_code not in (200, 201):
                    failures.append(f"{r.status_code} {r.text}")
                else:
                    versions.add(r.json()["model_version"])

    threads = [threading.Thread(target=client, args=(k,)) for k in range(N_CLIENTS)]
    for t in threads:
        t.start()
    try:
        reloads = []
        for path in (svd2_path, svd_path, svd2_path):
            time.sleep(0.5)
            r = s.client.post("/admin/reload", json={"path": str(path)}, headers=auth())
            assert r.status_code == 200, r.text
            reloads.append(r.json())
        time.sleep(0.5)
    finally:
        done.set()
        for t in threads:
            t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    assert not failures, failures[:5]
    assert sum(counts) > 50
    assert [x["model_version"] for x in reloads] == [2, 3, 4]
    assert versions >= {1, 4}

    # the live user was folded into the new model from the stored interactions
    new = lf.load(svd2_path)
    fold = new.fold_in(
        lf.Interactions.from_arrays(["fan"] * 3, [50, 172, 181], ratings=[5.0, 5.0, 4.0]),
        update=False,
    )
    items, scores = new.recommend_for(fold, 10)
    rec = s.client.get("/users/fan/recommendations", params={"n": 10}).json()
    assert rec["model_version"] == 4 and rec["items"] == items.tolist()
    np.testing.assert_allclose(rec["scores"], scores, rtol=1e-5)


def test_reload_errors_keep_the_old_model(svd_path, token_file, server_factory, tmp_path):
    s = server_factory(svd_path, "--token-file", str(token_file))
    r = s.client.post("/admin/reload", json={"path": str(tmp_path / "missing.lfm")}, headers=auth())
    assert r.status_code == 422 and "does not exist" in r.json()["error"]
    bad = tmp_path / "bad.lfm"
    bad.write_bytes(b"not a model file")
    r = s.client.post("/admin/reload", json={"path": str(bad)}, headers=auth())
    assert r.status_code == 422 and "could not load" in r.json()["error"]
    assert s.client.get("/readyz").json()["model_version"] == 1
    assert s.client.get("/users/1/recommendations").status_code == 200


def test_sighup_reloads(svd_path, token_file, server_factory):
    s = server_factory(svd_path, "--token-file", str(token_file))
    s.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 30
    while s.client.get("/readyz").json()["model_version"] != 2:
        assert time.monotonic() < deadline, "SIGHUP did not reload within 30 s"
        time.sleep(0.1)
    assert s.client.get("/users/1/recommendations").status_code == 200
