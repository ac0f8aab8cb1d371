"""SVD's reg_density on a Dask cluster: the rule sees the same data sizes as on one
machine (the fit loop hands both the counts), so DSGD on dense data gives the same model."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("dask.dataframe", reason="the distributed tests need latentfactors[dask]")
pytest.importorskip("distributed", reason="the distributed tests need latentfactors[dask]")

from latentfactors.data import make_synthetic
from latentfactors.models import SVD

from .conftest import assert_same_model


def test_dense_svd_matches_single_machine(client):
    import dask.dataframe as dd

    from latentfactors import distributed as lfd

    data = make_synthetic(600, 40, 12_000, rank=3, seed=3).interactions  # 300 per item
    frame = data.to_dataframe()[["user", "item", "rating"]]
    ddf = dd.from_pandas(frame, npartitions=3)
    params = dict(n_factors=8, n_epochs=4, random_state=1)
    ref = SVD(**params).fit(data)
    assert ref._resolved_rates()["reg_pu"] == pytest.approx(0.08 * np.sqrt(100 / 300))
    got = lfd.fit(SVD(**params), ddf, client, user="user", item="item", rating="rating")
    assert got._resolved_rates() == ref._resolved_rates()
    assert_same_model(got, ref, atol=1e-5)
