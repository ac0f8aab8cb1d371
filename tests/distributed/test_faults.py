"""Partitioned Parquet input, workers killed in the middle of a fit, small workers."""

from __future__ import annotations

import os
import signal
import threading
import time

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("dask.dataframe", reason="the distributed tests need latentfactors[dask]")
pytest.importorskip("distributed", reason="the distributed tests need latentfactors[dask]")

import dask.dataframe as dd

from latentfactors.models import ALS, SVD, ImplicitALS

from .conftest import assert_same_model


@pytest.fixture(scope="module")
def parquet_dir(ml_frame, tmp_path_factory):
    """ML-100K as a folder of 6 Parquet files (as a data lake holds it)."""
    path = tmp_path_factory.mktemp("ratings")
    dd.from_pandas(ml_frame, npartitions=6).to_parquet(path, write_index=False)
    assert len(list(path.glob("*.parquet"))) == 6
    return path


@pytest.fixture
def fresh():
    """A cluster of its own for a test that kills workers: (client, cluster)."""
    from distributed import Client, LocalCluster

    cl = LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
        dashboard_address=":0", memory_limit="4GiB",
    )  # fmt: skip
    try:
        with Client(cl) as c:
            yield c, cl
    finally:
        cl.close()


def _kill_one_worker(cluster) -> int:
    """SIGKILL one worker process (its nanny starts a fresh one); the killed pid."""
    nanny = next(iter(cluster.workers.values()))
    pid = nanny.process.pid
    os.kill(pid, signal.SIGKILL)
    return pid


def test_partitioned_parquet(client, parquet_dir, ml_inter):
    from latentfactors import distributed as lfd

    ddf = dd.read_parquet(parquet_dir)
    assert ddf.npartitions == 6
    params = dict(n_factors=8, n_epochs=3, reg=30.0, random_state=4)
    got = lfd.fit(ImplicitALS(**params), ddf, client, rating="rating")
    assert_same_model(got, ImplicitALS(**params).fit(ml_inter), atol=1e-5)


def test_worker_killed_between_steps(fresh, parquet_dir, ml_inter):
    """The killed worker's blocks are recomputed from the Parquet files: same model."""
    from latentfactors import distributed as lfd

    client, cluster = fresh
    data = lfd.from_dask_dataframe(dd.read_parquet(parquet_dir), client, rating="rating")
    killed = []

    def kill_after_epoch_2(model, info):
        if info["epoch"] == 2:
            killed.append(_kill_one_worker(cluster))

    params = dict(n_factors=8, n_epochs=5, random_state=7)
    got = lfd.fit(ALS(**params), data, callbacks=[kill_after_epoch_2])
    assert killed
    assert_same_model(got, ALS(**params).fit(ml_inter))


@pytest.mark.parametrize("model", [SVD(n_factors=16, n_epochs=12, random_state=1),
                                   ImplicitALS(n_factors=16, n_epochs=12, reg=30.0,
                                               random_state=1)],
                         ids=["svd", "implicit_als"])  # fmt: skip
def test_worker_killed_during_a_step(fresh, parquet_dir, ml_inter, model):
    """A worker killed while tasks run: the step is re-run (or Dask reschedules it) and
    the fit ends with exactly the model an undisturbed fit gives (whether or not the
    nanny's replacement worker joins in time)."""
    from latentfactors import distributed as lfd

    client, cluster = fresh
    data = lfd.from_dask_dataframe(dd.read_parquet(parquet_dir), client, rating="rating")
    started = threading.Event()
    killed: list[int] = []

    def on_epoch(m, info):
        started.set()

    def killer():
        if started.wait(60):
            time.sleep(0.1)
            killed.append(_kill_one_worker(cluster))

    thread = threading.Thread(target=killer)
    thread.start()
    try:
        got = lfd.fit(model.clone(), data, callbacks=[on_epoch])
    finally:
        thread.join()
    assert killed
    assert len(got.history_["epoch"]) == model.n_epochs
    assert_same_model(got, model.clone().fit(ml_inter), atol=1e-5)


def test_worker_killed_during_the_reg_search(fresh, parquet_dir, ml_inter):
    """reg="auto": a worker killed between two candidates of the search loses the blocks
    with the slice taken out; they are rebuilt from their lineage and the search ends
    with the single-machine scores, choice and model."""
    import logging

    from latentfactors import distributed as lfd

    client, cluster = fresh
    data = lfd.from_dask_dataframe(dd.read_parquet(parquet_dir), client, rating="rating")
    killed: list[int] = []

    class KillAfterFirstCandidate(logging.Handler):
        def emit(self, record):
            if "reg search: reg=" in record.getMessage() and not killed:
                killed.append(_kill_one_worker(cluster))

    handler = KillAfterFirstCandidate(logging.INFO)
    log = logging.getLogger("latentfactors")
    level = log.level
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    params = dict(n_factors=8, n_epochs=3, random_state=3)
    try:
        got = lfd.fit(ImplicitALS(**params), data)
    finally:
        log.removeHandler(handler)
        log.setLevel(level)
    assert killed
    ref = ImplicitALS(**params).fit(ml_inter)
    assert got.reg_ == ref.reg_
    np.testing.assert_allclose(got.reg_search_["scores"], ref.reg_search_["scores"], atol=1e-4)
    assert_same_model(got, ref, atol=1e-5)


ROWS_PER_PART = 50_000
N_PARTS = 60  # 3M rows, about 1.8 GB as pandas holds them


def _ids(prefix: str, nums: np.ndarray, width: int, tail: str):
    import pyarrow as pa
    import pyarrow.compute as pc

    digits = pc.utf8_lpad(pc.cast(pa.array(nums), pa.string()), width, "0")
    return pd.Series(pc.binary_join_element_wise(prefix, digits, tail, "").to_pandas())


def _long_id_rows(p: int) -> pd.DataFrame:
    """One partition of synthetic ratings, generated on a worker: 50K rows with long
    string ids (about 300-character customer keys and item URLs, so the data are large
    in bytes at few rows: the test's time goes with the rows), 20 items per user."""
    row = np.arange(p * ROWS_PER_PART, (p + 1) * ROWS_PER_PART)
    u, j = row // 20, row % 20
    i = (u * 7919 + j * 104729) % 2000
    return pd.DataFrame({
        "user": _ids("customer/", u, 10, "/" + "k" * 290),
        "item": _ids("https://shop.example.com/catalogue/item/", i, 8, "/" + "p" * 250),
        "rating": np.random.default_rng(p).integers(1, 6, len(row)).astype(np.float32),
    })  # fmt: skip


def _frame_bytes(df: pd.DataFrame) -> pd.Series:
    return pd.Series([int(df.memory_usage(deep=True).sum())])


def _worker_memory(dask_worker) -> tuple[int, int]:
    import psutil

    nbytes = dask_worker.state.nbytes
    managed = nbytes if isinstance(nbytes, int) else sum(nbytes.values())
    return psutil.Process().memory_info().rss, managed


def _rss(dask_worker=None) -> int:
    import psutil

    return psutil.Process().memory_info().rss


def _small_cluster(limit):
    """2 worker processes x 1 thread whose nanny kills a worker above 95% of ``limit``
    (no spilling to disk, no pausing: the limit is a hard one)."""
    import dask
    from distributed import LocalCluster

    with dask.config.set({"distributed.worker.memory.pause": False,
                          "distributed.worker.memory.spill": False,
                          "distributed.worker.memory.target": False}):  # fmt: skip
        return LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
            dashboard_address=":0", memory_limit=limit,
        )  # fmt: skip


def _warm_worker_rss() -> int:
    """The RSS of a worker that has run a (tiny) distributed fit: its imports and
    compiled kernels, before any real data."""
    from distributed import Client

    from latentfactors import distributed as lfd

    cluster = _small_cluster(None)
    try:
        with Client(cluster) as client:
            tiny = pd.DataFrame({"user": np.arange(400) % 40, "item": np.arange(400) // 40,
                                 "rating": np.ones(400, np.float32)})  # fmt: skip
            lfd.fit(ALS(n_factors=4, n_epochs=1, random_state=0),
                    dd.from_pandas(tiny, npartitions=2), client, rating="rating")  # fmt: skip
            return max(client.run(_rss).values())
    finally:
        cluster.close()


def test_worker_memory_limit_below_the_data_size():
    """Workers whose hard memory limit is below the size of the data (1.5x and more)
    train on it: the rows are generated on the workers (the client never has them),
    the fit completes, no worker is killed or replaced, no worker holds much more than
    its share of what the fit keeps on the cluster, and the client's memory grows by
    far less than the data. The limit is the measured RSS of a warm worker plus 640 MiB
    (a worker peaked about 410 MiB above it in this test)."""
    from distributed import Client

    from latentfactors import distributed as lfd

    limit = _warm_worker_rss() + 640 * 2**20
    client_rss0 = _rss()
    cluster = _small_cluster(limit)
    try:
        with Client(cluster) as client:
            workers = set(client.scheduler_info(n_workers=-1)["workers"])
            assert len(workers) == 2
            ddf = dd.from_map(_long_id_rows, range(N_PARTS))
            data_bytes = int(ddf.map_partitions(_frame_bytes).sum().compute())
            assert data_bytes > 1.5 * limit, (data_bytes, limit)  # the point of the test
            data = lfd.from_dask_dataframe(ddf, client, rating="rating")
            assert len(data) == N_PARTS * ROWS_PER_PART and data.n_items == 2000
            snaps: list[dict] = []
            client_peak = [_rss()]

            def watch(model, info):
                snaps.append(client.run(_worker_memory))
                client_peak.append(_rss())

            model = lfd.fit(ALS(n_factors=4, n_epochs=2, random_state=0), data, callbacks=[watch])
            assert model.user_factors_.shape == (data.n_users, 4)
            assert np.isfinite(model.history_["train_rmse"]).all()
            # the same two worker processes throughout: none was killed and restarted
            assert set(client.scheduler_info(n_workers=-1)["workers"]) == workers
            for snap in snaps:
                assert set(snap) == workers
                on_cluster = sum(m for _, m in snap.values())
                for rss, managed in snap.values():
                    assert rss < 0.95 * limit
                    assert managed < 0.7 * on_cluster
            assert max(client_peak) - client_rss0 < 0.25 * data_bytes
    finally:
        cluster.close()


def test_same_model_on_one_worker(ml_dask, ml_inter, tmp_path, ml_frame):
    """The model does not depend on the number of workers: one worker process (started by
    ``connect("local:1")``, reading a CSV file) gives bit for bit what two give."""
    from latentfactors import distributed as lfd

    path = tmp_path / "ratings.csv"
    ml_frame.to_csv(path, index=False)
    models = [SVD(n_factors=8, n_epochs=3, random_state=0),
              ImplicitALS(n_factors=8, n_epochs=3, reg=30.0, random_state=0)]  # fmt: skip
    two = [lfd.fit(m.clone(), ml_dask) for m in models]
    with lfd.connect("local:1") as one_client:
        ddf = lfd.read_table(path)
        assert one_client.scheduler_info()["workers"].__len__() == 1
        one = [lfd.fit(m.clone(), ddf, one_client, rating="rating") for m in models]
    for a, b in zip(one, two):
        for name in ("user_factors_", "item_factors_", "user_bias_", "item_bias_"):
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name),
                                          err_msg=f"{type(a).__name__}.{name}")  # fmt: skip


def test_connect_and_read_errors(tmp_path):
    from latentfactors import distributed as lfd
    from latentfactors.exceptions import DataError, InvalidParameterError

    with pytest.raises(InvalidParameterError, match="local:N with N >= 1"):
        with lfd.connect("local:zero"):
            pass
    with pytest.raises(InvalidParameterError, match="expected a scheduler address"):
        with lfd.connect("nowhere"):
            pass
    with pytest.raises(DataError, match="no such file or folder"):
        lfd.read_table(tmp_path / "missing.parquet")


def _die() -> None:
    os._exit(1)  # the worker process dies in the middle of its task


def test_lost_too_often_is_one_clear_error():
    """A step whose workers keep dying fails with DistributedFitError after max_retries
    re-runs (here Dask gives up on a task at its first lost worker)."""
    import dask
    from distributed import Client, LocalCluster

    from latentfactors.distributed import DistributedFitError
    from latentfactors.distributed._engine import run_step

    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        cluster = LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                               host="127.0.0.1", dashboard_address=":0")  # fmt: skip
    try:
        with Client(cluster) as client:
            attempts = []

            def make():
                attempts.append(1)
                return [client.submit(_die, pure=False)]

            with pytest.raises(DistributedFitError, match=r"test step failed 2 times because "
                               r"workers were lost .*no model was kept"):  # fmt: skip
                run_step(client, make, "test step", max_retries=1)
            assert len(attempts) == 2
    finally:
        cluster.close()
