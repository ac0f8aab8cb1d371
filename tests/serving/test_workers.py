"""--workers 2: the processes share posted interactions through the SQLite log."""

from __future__ import annotations

import time

import httpx

from .conftest import auth


def _fresh(url: str, path: str, **kw) -> httpx.Response:
    """A request on a new connection (the kernel spreads connections over the workers)."""
    with httpx.Client(base_url=url, timeout=30) as c:
        return c.get(path, **kw)


def test_two_workers_share_live_users(svd_path, svd2_path, token_file, server_factory, tmp_path):
    s = server_factory(
        svd_path,
        "--workers",
        "2",
        "--state",
        str(tmp_path / "state"),
        "--token-file",
        str(token_file),
    )
    pids: set[int] = set()
    deadline = time.monotonic() + 60
    for _ in range(200):  # both workers up and answering
        r = _fresh(s.url, "/readyz")
        assert r.status_code == 200, r.text  # a worker accepts connections once loaded
        pids.add(r.json()["pid"])
        if len(pids) == 2 or time.monotonic() > deadline:
            break
    assert len(pids) == 2, "connections never reached a second worker"
    for j in range(6):
        with httpx.Client(base_url=s.url, timeout=30) as c:
            r = c.post(
                f"/users/mw{j}/interactions",
                json={"items": [50, 172], "ratings": [5, 4]},
                headers=auth(),
            )
            assert r.status_code == 201, r.text
    for j in range(6):  # every worker sees every write
        for _ in range(4):
            r = _fresh(s.url, f"/users/mw{j}/recommendations")
            assert r.status_code == 200 and r.json()["source"] == "live", r.text
    with httpx.Client(base_url=s.url, timeout=30) as c:
        assert c.delete("/users/mw0", headers=auth()).status_code == 200
    for _ in range(6):
        assert _fresh(s.url, "/users/mw0/recommendations").status_code == 404
    # reload: a rolling restart; every new worker serves the new file, live users refolded
    with httpx.Client(base_url=s.url, timeout=30) as c:
        r = c.post("/admin/reload", json={"path": str(svd2_path)}, headers=auth())
        assert r.status_code == 200 and "rolling restart" in r.json()["note"], r.text
    deadline = time.monotonic() + 90
    seen_new = 0
    while seen_new < 6:
        assert time.monotonic() < deadline, "workers not reloaded within 90 s"
        try:
            r = _fresh(s.url, "/model")
        except httpx.TransportError:
            continue
        if r.status_code == 200 and r.json()["path"] == str(svd2_path.resolve()):
            seen_new += 1
        else:
            seen_new = 0
            time.sleep(0.2)
    r = _fresh(s.url, "/users/mw1/recommendations")
    assert r.json()["source"] == "live" and r.json()["model_version"] == 2


def test_workers_need_state_and_no_milvus_lite(svd_path, tmp_path):
    import pytest

    from latentfactors.exceptions import InvalidParameterError
    from latentfactors.serving.settings import Settings

    with pytest.raises(InvalidParameterError, match="needs --state DIR"):
        Settings(str(svd_path), workers=2)
    with pytest.raises(InvalidParameterError, match="Milvus Lite lets one process own"):
        Settings(str(svd_path), workers=2, state_dir=str(tmp_path), index="milvus")
