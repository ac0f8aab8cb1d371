"""Under numba's workqueue threading layer (used where neither OpenMP nor TBB is
available), a parallel kernel launched from two threads at once aborts the process. The
service serialises its parallel calls there; concurrent requests (a basket's fold-in and
retrieval on the request path, similar items and users, and the fold-in of a write)
must not take the server down."""

from __future__ import annotations

import threading
import time

import pytest

from latentfactors.models import BPR

from .conftest import TOKEN, auth

THREADS, PER_THREAD, DEADLINE_S = 4, 15, 120.0


@pytest.fixture(scope="module")
def bpr_path(ml100k, tmp_path_factory):
    """BPR's fold-in is a parallel kernel."""
    model = BPR(n_factors=16, n_epochs=5, random_state=0).fit(ml100k.interactions)
    return model.save(tmp_path_factory.mktemp("models") / "bpr.lfm")


def _request(client, kind: int, j: int):
    """One request of each kind the service answers (kinds 0-6 read, 7 writes)."""
    user, item = 1 + (kind * 31 + j) % 900, 1 + (kind * 17 + j) % 1000
    if kind == 0:
        items = [50 + j % 40, 172, 181]
        return client.post("/recommendations/basket", json={"items": items, "n": 5})
    if kind == 1:
        return client.get(f"/users/{user}/recommendations", params={"n": 5})
    if kind == 2:
        return client.post("/recommendations", json={"users": [user, user + 1], "n": 5})
    if kind == 3:
        return client.get(f"/items/{item}/similar", params={"n": 5})
    if kind == 4:
        return client.get(f"/users/{user}/similar", params={"n": 5})
    if kind == 5:
        return client.post("/predict", json={"users": [user], "items": [item]})
    if kind == 6:
        return client.get(f"/users/{user}/items/{item}/explain")
    # a write: the interactions are logged and the user folded in again
    return client.post(f"/users/live-{j % 5}/interactions",
                       json={"items": [50 + j % 40, 172]}, headers=auth())  # fmt: skip


@pytest.mark.parametrize("mixed", [False, True], ids=["baskets", "every-endpoint"])
def test_concurrent_requests_under_workqueue(bpr_path, server_factory, tmp_path, mixed):
    server = server_factory(bpr_path, "--state", str(tmp_path / "state"),
                            env={"NUMBA_THREADING_LAYER": "workqueue",
                                 "LATENTFACTORS_TOKEN": TOKEN})  # fmt: skip
    deadline = time.monotonic() + DEADLINE_S
    codes: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker(seed: int) -> None:
        import httpx

        with httpx.Client(base_url=server.url, timeout=30.0) as client:
            for j in range(PER_THREAD):  # bounded in count and in time
                if time.monotonic() > deadline:
                    return
                kind = (seed + j) % 8 if mixed else 0
                try:
                    r = _request(client, kind, seed * PER_THREAD + j)
                except httpx.HTTPError as exc:
                    with lock:
                        errors.append(exc)
                    return
                with lock:
                    codes.append(r.status_code)

    threads = [threading.Thread(target=worker, args=(s,)) for s in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(DEADLINE_S)
    assert server.proc.poll() is None, f"the server died:\n{server.output()[-2000:]}"
    assert not errors, f"{errors[:2]}\n{server.output()[-2000:]}"
    assert codes and set(codes) <= {200, 201, 404}, codes  # 201: a write; 404: an unknown id
    assert codes.count(200) > len(codes) // 2
    assert len(codes) == THREADS * PER_THREAD
