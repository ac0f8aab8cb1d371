"""Real servers in subprocesses (uvicorn on 127.0.0.1, a free port), talked to over HTTP.

Every server is stopped by the fixture's finalizer, also when a test fails; every wait
is bounded in time.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
pytest.importorskip("prometheus_client")

TOKEN = "write-token-0123456789"
READ_TOKEN = "read-token-abcdef"
START_TIMEOUT = 90.0


class Server:
    """One ``python -m latentfactors.serving`` process."""

    def __init__(self, model: Path, workdir: Path, *args: str, env: dict | None = None) -> None:
        self.model, self.workdir, self.args = model, workdir, list(args)
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen | None = None
        self.port: int | None = None
        self.log = workdir / "server.log"
        self._client: httpx.Client | None = None

    def start(self, wait_ready: bool = True) -> Server:
        port_file = self.workdir / "port"
        port_file.unlink(missing_ok=True)
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "latentfactors.serving",
                    str(self.model),
                    "--host",
                    "127.0.0.1",
                    "--port",
                    "0",
                    "--port-file",
                    str(port_file),
                    "--log-level",
                    "warning",
                    *self.args,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=self.workdir,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while not port_file.exists():
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.output()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"server did not bind within {START_TIMEOUT}s:\n{self.output()}")
            time.sleep(0.05)
        self.port = int(port_file.read_text())
        self._client = httpx.Client(base_url=self.url, timeout=30.0)
        if wait_ready:
            self.wait_ready(deadline)
        return self

    def wait_ready(self, deadline: float | None = None) -> None:
        deadline = deadline or time.monotonic() + START_TIMEOUT
        while True:
            try:
                r = self.client.get("/readyz")
                if r.status_code == 200:
                    return
                if "could not be loaded" in r.text:
                    raise RuntimeError(f"server failed to load: {r.text}\n{self.output()}")
            except httpx.TransportError:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.output()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"server not ready within {START_TIMEOUT}s:\n{self.output()}")
            time.sleep(0.1)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def client(self) -> httpx.Client:
        assert self._client is not None, "server not started"
        return self._client

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-5000:] if self.log.exists() else ""

    def kill9(self) -> None:
        """SIGKILL: no shutdown code runs."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)
        self._close_client()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=20)
        self._close_client()

    def _close_client(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


@pytest.fixture
def server_factory(tmp_path_factory):
    """``start(model, *args, env=None, workdir=None)`` -> a started :class:`Server`;
    every one is stopped at the end of the test."""
    servers: list[Server] = []

    def start(
        model: Path,
        *args: str,
        env: dict | None = None,
        workdir: Path | None = None,
        wait_ready: bool = True,
    ) -> Server:
        wd = workdir or tmp_path_factory.mktemp("server")
        s = Server(model, wd, *args, env=env)
        servers.append(s)
        return s.start(wait_ready=wait_ready)

    yield start
    for s in servers:
        s.stop()


@pytest.fixture(scope="session")
def token_file(tmp_path_factory) -> Path:
    p = tmp_path_factory.mktemp("tokens") / "token"
    p.write_text(TOKEN + "\n")
    return p


@pytest.fixture(scope="session")
def svd_path(ml100k, tmp_path_factory) -> Path:
    """A small SVD on ML-100K, saved."""
    from latentfactors.models import SVD

    model = SVD(n_factors=16, n_epochs=10, random_state=0).fit(ml100k.interactions)
    return model.save(tmp_path_factory.mktemp("models") / "svd.lfm")


@pytest.fixture(scope="session")
def svd2_path(ml100k, tmp_path_factory) -> Path:
    """Another SVD (other seed and size): the model a reload swaps in."""
    from latentfactors.models import SVD

    model = SVD(n_factors=8, n_epochs=8, random_state=1).fit(ml100k.interactions)
    return model.save(tmp_path_factory.mktemp("models") / "svd2.lfm")


@pytest.fixture(scope="session")
def ials_path(ml100k, tmp_path_factory) -> Path:
    """A small ImplicitALS on ML-100K (ratings read as implicit interactions), saved."""
    import numpy as np

    import latentfactors as lf
    from latentfactors.models import ImplicitALS

    inter = ml100k.interactions
    implicit = lf.Interactions.from_arrays(
        inter.users.ids(inter.user_ids),
        inter.items.ids(inter.item_ids),
        weights=np.ones(len(inter)),
    )
    model = ImplicitALS(n_factors=16, n_epochs=5, random_state=0).fit(implicit)
    return model.save(tmp_path_factory.mktemp("models") / "ials.lfm")


def auth(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
