"""A real Dask cluster for the distributed tests: two worker processes, one thread each."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

# each test module skips itself when dask is missing (pytest.importorskip at its top)


@pytest.fixture(scope="module")
def cluster():
    """A LocalCluster of 2 worker processes x 1 thread on 127.0.0.1, closed at the end."""
    from distributed import LocalCluster

    cl = LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
        dashboard_address=":0", memory_limit="4GiB",
    )  # fmt: skip
    try:
        yield cl
    finally:
        cl.close()


@pytest.fixture(scope="module")
def client(cluster):
    from distributed import Client

    c = Client(cluster)
    try:
        yield c
    finally:
        c.close()


def read_ml100k(path: Path) -> pd.DataFrame:
    """ML-100K's u.data as a frame, rows shuffled (so partitions are not sorted by user)."""
    df = pd.read_csv(path / "u.data", sep="\t", names=["user", "item", "rating", "ts"])
    df = df.drop(columns="ts")
    return df.sample(frac=1.0, random_state=0).reset_index(drop=True)


@pytest.fixture(scope="module")
def ml_frame(ml100k_path) -> pd.DataFrame:
    return read_ml100k(ml100k_path)


@pytest.fixture(scope="module")
def ml_ddf(ml_frame):
    import dask.dataframe as dd

    return dd.from_pandas(ml_frame, npartitions=4)


@pytest.fixture(scope="module")
def ml_inter(ml_frame):
    from latentfactors.data import Interactions

    return Interactions.from_dataframe(ml_frame, rating="rating")


@pytest.fixture(scope="module")
def ml_dask(ml_ddf, client):
    from latentfactors.distributed import from_dask_dataframe

    return from_dask_dataframe(ml_ddf, client, rating="rating")


def assert_same_model(a, b, atol: float = 1e-5) -> None:
    """Same ids and (to ``atol``) the same learned arrays."""
    assert a.users_ == b.users_ and a.items_ == b.items_
    for name in ("user_factors_", "item_factors_", "user_bias_", "item_bias_"):
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), atol=atol, rtol=0)
    np.testing.assert_array_equal(a.user_counts_, b.user_counts_)
    np.testing.assert_array_equal(a.item_counts_, b.item_counts_)
    assert a.global_mean_ == pytest.approx(b.global_mean_, abs=1e-12)
    assert a.intercept_ == pytest.approx(b.intercept_, abs=1e-12)
    assert a.rating_scale_ == b.rating_scale_
