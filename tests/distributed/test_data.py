"""The distributed pass over a dask DataFrame: vocabularies, counts, and bad input."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("dask.dataframe", reason="the distributed tests need latentfactors[dask]")
pytest.importorskip("distributed", reason="the distributed tests need latentfactors[dask]")

import dask.dataframe as dd

from latentfactors.data import Interactions
from latentfactors.exceptions import DataError, InvalidParameterError
from latentfactors.models import ALS, SVD, ImplicitALS, SVDpp


def _frame(n: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    users = rng.integers(0, 40, n)
    items = rng.integers(0, 30, n)
    df = pd.DataFrame({"u": [f"user{u}" for u in users], "i": items,
                       "r": rng.integers(1, 6, n).astype(float)})  # fmt: skip
    return df.drop_duplicates(["u", "i"]).reset_index(drop=True)


def test_same_vocabulary_counts_and_summary(client, ml_dask, ml_inter):
    assert ml_dask.users == ml_inter.users and ml_dask.items == ml_inter.items
    np.testing.assert_array_equal(ml_dask.user_counts, ml_inter.user_counts)
    np.testing.assert_array_equal(ml_dask.item_counts, ml_inter.item_counts)
    assert len(ml_dask) == len(ml_inter)
    assert ml_dask.global_mean == pytest.approx(ml_inter.global_mean, abs=1e-12)
    assert ml_dask.rating_scale == ml_inter.rating_scale
    assert "100,000 rows" in repr(ml_dask)


def test_string_ids_and_empty_partitions(client):
    """String ids sort as on one machine; empty partitions (after a filter) are skipped."""
    from latentfactors import distributed as lfd

    df = _frame()
    ddf = dd.from_pandas(df, npartitions=5)
    ddf = ddf[ddf.u != "nobody"].map_partitions(lambda p: p.iloc[:0] if p.index[0] == 0 else p)
    kept = ddf.compute()  # (small: the test's reference only)
    assert len(kept) < len(df)
    data = lfd.from_dask_dataframe(ddf, client, user="u", item="i", rating="r")
    ref = Interactions.from_dataframe(kept, user="u", item="i", rating="r")
    assert data.users == ref.users and data.items == ref.items
    assert len(data.parts) == 4 and data.n_input_partitions == 5
    params = dict(n_factors=4, n_epochs=3, random_state=0)
    got = lfd.fit(ALS(**params), data)
    np.testing.assert_allclose(got.item_factors_, ALS(**params).fit(ref).item_factors_, atol=1e-5)


def test_many_partitions_merge_in_a_tree(client):
    """20 partitions: the unique ids are merged 8 at a time, to the same vocabulary."""
    from latentfactors import distributed as lfd

    df = _frame(3000, seed=1)
    data = lfd.from_dask_dataframe(dd.from_pandas(df, npartitions=20), client, user="u",
                                   item="i", rating="r")  # fmt: skip
    ref = Interactions.from_dataframe(df, user="u", item="i", rating="r")
    assert len(data.parts) == 20
    assert data.users == ref.users and data.items == ref.items
    np.testing.assert_array_equal(data.user_counts, ref.user_counts)


def test_missing_column(client):
    from latentfactors import distributed as lfd

    ddf = dd.from_pandas(_frame(), npartitions=2)
    with pytest.raises(DataError, match=r"column\(s\) 'rating' not found in the dask DataFrame"):
        lfd.fit(ALS(), ddf, client, user="u", item="i", rating="rating")
    # the single-machine message, word for word but for where
    with pytest.raises(DataError) as single:
        Interactions.from_dataframe(_frame(), user="u", item="i", rating="rating")
    assert "columns found: 'u', 'i', 'r'" in str(single.value)


def test_nan_rating_names_partition_and_rows(client):
    from latentfactors import distributed as lfd

    df = _frame()
    df.loc[[3, 250], "r"] = np.nan
    ddf = dd.from_pandas(df, npartitions=2)
    with pytest.raises(DataError, match=r"column 'r' has 1 NaN value\(s\) \(partition 0, rows 3\)"):
        lfd.fit(ALS(), ddf, client, user="u", item="i", rating="r")


def test_other_bad_values(client):
    from latentfactors import distributed as lfd

    df = _frame()
    df["w"] = -1.0
    ddf = dd.from_pandas(df, npartitions=2)
    with pytest.raises(DataError, match="negative weight"):
        lfd.from_dask_dataframe(ddf, client, user="u", item="i", weight="w")
    with pytest.raises(DataError, match="outside the declared scale"):
        lfd.from_dask_dataframe(ddf, client, user="u", item="i", rating="r", rating_scale=(1, 4))
    df2 = _frame()
    df2.loc[5, "u"] = None
    missing = r"user column 'u' has 1 missing ids \(partition 0, rows 5\)"
    with pytest.raises(DataError, match=missing):
        lfd.from_dask_dataframe(dd.from_pandas(df2, npartitions=2), client, user="u", item="i")
    with pytest.raises(DataError, match="has no rows"):
        empty = dd.from_pandas(_frame().iloc[:0], npartitions=1)
        lfd.from_dask_dataframe(empty, client, user="u", item="i")
    with pytest.raises(DataError, match="either rating= .* or weight="):
        lfd.from_dask_dataframe(ddf, client, user="u", item="i", rating="r", weight="w")
    with pytest.raises(DataError, match="expected a dask DataFrame"):
        lfd.from_dask_dataframe([1, 2], client)


def test_duplicate_pairs(client):
    from latentfactors import distributed as lfd

    df = _frame()
    df = pd.concat([df, df.iloc[[7]]], ignore_index=True)
    ddf = dd.from_pandas(df, npartitions=3)
    with pytest.raises(DataError, match=r"1 duplicate \(user, item\) pair\(s\), e\.g\. \('user"):
        lfd.fit(ALS(), ddf, client, user="u", item="i", rating="r")
    with pytest.raises(DataError, match="duplicate"):
        lfd.fit(SVD(n_epochs=1), ddf, client, user="u", item="i", rating="r")


def test_model_and_parameter_checks(client):
    from latentfactors import distributed as lfd

    ddf = dd.from_pandas(_frame(), npartitions=2)
    implicit = lfd.from_dask_dataframe(ddf, client, user="u", item="i")
    with pytest.raises(DataError, match="learns from explicit ratings but the data is implicit"):
        lfd.fit(ALS(), implicit)
    with pytest.raises(InvalidParameterError, match="SVDpp cannot be trained on a Dask cluster"):
        lfd.fit(SVDpp(), ddf, client, user="u", item="i", rating="r")
    with pytest.raises(InvalidParameterError, match="n_factors"):
        lfd.fit(ALS(n_factors=0), implicit)
    with pytest.raises(InvalidParameterError, match="SVD\\(n_blocks=...\\)"):
        lfd.fit(SVD(), ddf, client, user="u", item="i", rating="r", n_blocks=3)
    with pytest.raises(DataError, match="no interaction reaches threshold=99"):
        lfd.fit(ImplicitALS(reg=30.0, threshold=99.0), ddf, client, user="u", item="i", rating="r")
    # as model.fit: a check before training keeps an earlier fit; a failure in training
    # leaves the model unfitted (never an earlier fit's arrays with this fit's ids)
    local = Interactions.from_dataframe(_frame(), user="u", item="i", rating="r")
    model = ALS(n_factors=2, n_epochs=1).fit(local)
    with pytest.raises(DataError):
        lfd.fit(model, implicit)
    assert hasattr(model, "item_factors_")
    model = ImplicitALS(n_factors=2, n_epochs=1, reg=30.0).fit(local)
    with pytest.raises(DataError, match="threshold"):
        lfd.fit(model.set_params(threshold=99.0), ddf, client, user="u", item="i", rating="r")
    assert not hasattr(model, "item_factors_")


def test_import_stays_light():
    """``import latentfactors`` (and the distributed package itself) import no dask."""
    code = (
        "import sys, latentfactors, latentfactors.distributed; "
        "bad = [m for m in ('dask', 'distributed') if m in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
