import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from latentfactors import DataError, Interactions, UnknownIdError
from latentfactors.data import Vocabulary, read_csv


def small_df():
    return pd.DataFrame(
        {
            "u": ["bob", "alice", "alice", "carol"],
            "i": [20, 10, 30, 10],
            "r": [4.0, 5.0, 3.0, 1.0],
            "t": [3, 1, 2, 4],
        }
    )


def test_from_dataframe_views():
    data = Interactions.from_dataframe(small_df(), user="u", item="i", rating="r", timestamp="t")
    assert data.kind == "explicit" and not data.is_implicit
    assert (data.n_users, data.n_items, len(data)) == (3, 3, 4)
    assert data.users.raw.tolist() == ["alice", "bob", "carol"]
    assert data.items.raw.tolist() == [10, 20, 30]
    dense = data.csr.toarray()
    expected = np.array([[5, 0, 3], [0, 4, 0], [1, 0, 0]], dtype=np.float32)
    assert np.array_equal(dense, expected)
    assert np.array_equal(data.csc.toarray(), expected)
    assert data.csr.dtype == np.float32
    assert data.user_counts.tolist() == [2, 1, 1]
    assert data.item_counts.tolist() == [2, 1, 1]
    assert data.global_mean == pytest.approx(13 / 4)
    assert data.rating_scale == (1.0, 5.0)
    u, i, v = data.coo()
    assert u.dtype == np.int32 and i.dtype == np.int32 and v.dtype == np.float32
    # rows come out sorted by (user, item); timestamps follow their rows
    assert data.timestamps.tolist() == [1, 2, 3, 4]
    back = data.to_dataframe()
    assert set(zip(back.user, back.item, back.rating)) == set(
        zip(small_df().u, small_df().i, small_df().r)
    )


def test_csr_shares_row_arrays():
    data = Interactions.from_arrays([1, 1, 2], [1, 2, 1], ratings=[1, 2, 3])
    assert np.shares_memory(data.csr.indices, data.item_ids)
    assert np.shares_memory(data.csr.data, data.values)
    assert data.csr is data.csr  # cached


def test_implicit_without_rating_column():
    data = Interactions.from_arrays([1, 2], ["a", "b"])
    assert data.kind == "implicit"
    assert data.values.tolist() == [1.0, 1.0]
    assert data.rating_scale is None
    w = Interactions.from_arrays([1, 2], ["a", "b"], weights=[3, 0])
    assert w.values.tolist() == [3.0, 0.0]


def test_declared_scale_kept():
    data = Interactions.from_arrays([1, 2], [1, 1], ratings=[2, 3], rating_scale=(1, 5))
    assert data.rating_scale == (1.0, 5.0)


@pytest.mark.parametrize(
    ("policy", "expected"),
    [("first", [1.0, 9.0]), ("last", [3.0, 9.0]), ("mean", [2.0, 9.0]), ("sum", [6.0, 9.0])],
)
def test_duplicate_policies(policy, expected):
    data = Interactions.from_arrays(
        [1, 1, 1, 2], [5, 5, 5, 5], ratings=[1, 2, 3, 9], duplicates=policy
    )
    assert data.values.tolist() == expected


def test_duplicates_raise_by_default_with_examples():
    with pytest.raises(
        DataError,
        match=r"2 duplicate \(user, item\) pair\(s\), e\.g\. "
        r"\('a', 10\), \('b', 20\); choose how to merge them with "
        r"duplicates='last'",
    ):
        Interactions.from_arrays(["a", "a", "b", "b", "c"], [10, 10, 20, 20, 1], ratings=[1] * 5)


def test_unknown_duplicate_policy():
    with pytest.raises(DataError, match=r"duplicates='max' is not a policy; choose one of"):
        Interactions.from_arrays([1], [1], duplicates="max")


def test_nan_and_inf_ratings_reported_with_rows():
    df = pd.DataFrame(
        {"user": range(6), "item": range(6), "rating": [1, np.nan, 2, np.inf, 3, np.nan]}
    )
    with pytest.raises(
        DataError,
        match=r"column 'rating' has 3 NaN/inf value\(s\) \(rows 1, 3, 5\); "
        r"drop or fill them first",
    ):
        Interactions.from_dataframe(df, rating="rating")
    df2 = pd.DataFrame({"user": [1, 2], "item": [1, 2], "rating": [np.nan, 1.0]})
    with pytest.raises(DataError, match=r"has 1 NaN value\(s\) \(rows 0\)"):
        Interactions.from_dataframe(df2, rating="rating")


def test_out_of_scale_ratings():
    with pytest.raises(
        DataError,
        match=r"column 'rating' has 1 rating\(s\) outside the declared "
        r"scale \(1.0, 5.0\) \(rows 1\), e\.g\. 6; fix them or declare a wider",
    ):
        Interactions.from_arrays([1, 2], [1, 2], ratings=[5, 6], rating_scale=(1, 5))


def test_missing_columns_listed():
    with pytest.raises(
        DataError,
        match=r"column\(s\) 'rating' not found in the DataFrame; columns "
        r"found: 'u', 'i', 'r', 't'",
    ):
        Interactions.from_dataframe(small_df(), user="u", item="i", rating="rating")


def test_empty_input():
    with pytest.raises(DataError, match="the DataFrame has no rows"):
        Interactions.from_dataframe(small_df().iloc[:0], user="u", item="i", rating="r")


def test_negative_weights():
    with pytest.raises(
        DataError,
        match=r"column 'weight' has 1 negative weight\(s\) \(rows 1\), "
        r"e\.g\. -2; implicit weights must be >= 0",
    ):
        Interactions.from_arrays([1, 2], [1, 2], weights=[1, -2])


def test_missing_ids():
    with pytest.raises(DataError, match=r"user column has 1 missing ids \(rows \[1\]\)"):
        Interactions.from_arrays(np.array([1.0, np.nan]), [1, 2])


def test_not_a_dataframe():
    msg = "expected a pandas or polars DataFrame or a pyarrow Table, got list"
    with pytest.raises(DataError, match=msg):
        Interactions.from_dataframe([1, 2])


def test_rating_and_weight_together():
    df = pd.DataFrame({"user": [1], "item": [1], "r": [1], "w": [1]})
    with pytest.raises(DataError, match="either rating= .* or weight="):
        Interactions.from_dataframe(df, rating="r", weight="w")


def test_arrays_of_different_lengths():
    with pytest.raises(DataError, match="arrays must have the same length"):
        Interactions.from_arrays([1, 2], [1])


def test_given_vocabularies():
    users = Vocabulary(["x", "y"], name="user")
    items = Vocabulary([1, 2, 3], name="item")
    data = Interactions.from_arrays(["y"], [3], user_vocab=users, item_vocab=items)
    assert data.shape == (2, 3) and data.user_ids.tolist() == [1]
    with pytest.raises(UnknownIdError, match="unknown user id"):
        Interactions.from_arrays(["z"], [3], user_vocab=users, item_vocab=items)


def test_subset_and_with_vocabularies():
    data = Interactions.from_dataframe(small_df(), user="u", item="i", rating="r")
    sub = data.subset(np.array([True, False, True, False]))
    assert len(sub) == 2 and sub.users is data.users
    bigger = data.with_vocabularies(
        data.users.extend(["zed"]), Vocabulary([30, 20, 10], name="item")
    )
    assert bigger.n_users == 4
    assert np.array_equal(bigger.csr.toarray()[:3, ::-1], data.csr.toarray())


def test_timestamps_as_datetimes_and_strings():
    df = small_df()
    df["t"] = pd.to_datetime(["2020-01-01", "2020-01-02", "2020-01-03", "2020-01-04"])
    data = Interactions.from_dataframe(df, user="u", item="i", rating="r", timestamp="t")
    assert data.timestamps.min() == 1577836800
    df["t"] = ["2020-01-01", "2020-01-02", "oops", "2020-01-04"]
    with pytest.raises(
        DataError,
        match=r"column 't' has 1 value\(s\) that are neither numbers nor "
        r"dates \(rows 2\), e\.g\. 'oops'",
    ):
        Interactions.from_dataframe(df, user="u", item="i", rating="r", timestamp="t")


# ------------------------------------------------------------------ text and parquet


@pytest.mark.parametrize("sep", [",", "\t", "::", ";", "|", " "])
def test_read_csv_any_separator(tmp_path, sep):
    rows = [("u1", 10, 4.5, 100), ("u2", 10, 3.0, 101), ("u1", 20, 1.0, 102)]
    path = tmp_path / "r.txt"
    path.write_text("\n".join(sep.join(map(str, r)) for r in rows) + "\n")
    data = read_csv(
        path, sep=sep, names=["user", "item", "rating", "ts"], rating="rating", timestamp="ts"
    )
    assert (len(data), data.n_users, data.n_items) == (3, 2, 2)
    assert sorted(data.values.tolist()) == [1.0, 3.0, 4.5]


def test_read_csv_header_and_positions(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("userId,movieId,rating\n1,2,3\n1,3,4\n")
    data = Interactions.from_csv(path, user="userId", item="movieId", rating="rating")
    assert len(data) == 2
    path2 = tmp_path / "noheader.tsv"
    path2.write_text("1\t2\t3\n1\t3\t4\n")
    data2 = read_csv(path2, sep="\t", header=False, user=0, item=1, rating=2)
    assert np.array_equal(data2.values, data.values)
    with pytest.raises(DataError, match="has no header line: name columns by position"):
        read_csv(path2, sep="\t", header=False, user="user", item="item")


def test_read_csv_sniffs_separator(tmp_path):
    path = tmp_path / "r.dat"
    path.write_text("1::2::5\n2::2::4\n")
    data = read_csv(path, sep=None, names=["user", "item", "rating"], rating="rating")
    assert data.values.tolist() == [5.0, 4.0]


def test_read_csv_unparsable_line_number(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("user,item,rating\n1,2,3\n1,3\n2,2,5\n")
    with pytest.raises(
        DataError,
        match=r"bad.csv: 1 unparsable line\(s\); line 3 has 2 field\(s\) "
        r"where 3 were expected: '1,3'",
    ):
        read_csv(path, rating="rating")


def test_read_csv_non_numeric_rating_line(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("user,item,rating\n1,2,3\n\n1,3,five\n2,2,5\n")
    with pytest.raises(
        DataError,
        match=r"column 'rating' has 1 non-numeric value\(s\) \(lines 4\), "
        r"e\.g\. 'five'",
    ):
        read_csv(path, rating="rating")


def test_read_csv_nan_rating_line(tmp_path):
    path = tmp_path / "nan.csv"
    path.write_text("user,item,rating\n1,2,3\n1,3,\n2,2,5\n")
    with pytest.raises(DataError, match=r"column 'rating' has 1 NaN value\(s\) \(lines 3\)"):
        read_csv(path, rating="rating")


def test_read_csv_wrong_separator_and_columns(tmp_path):
    path = tmp_path / "r.tsv"
    path.write_text("user\titem\trating\n1\t2\t3\n")
    with pytest.raises(
        DataError,
        match=r"r.tsv: every line has one field with sep=',' .*; pass the "
        r"file's separator; it looks like sep='\\t'",
    ):
        read_csv(path, sep=",", rating="rating")
    with pytest.raises(
        DataError,
        match=r"column\(s\) 'stars' not found in r.tsv; columns found: "
        r"'user', 'item', 'rating'",
    ):
        read_csv(path, sep="\t", rating="stars")


def test_read_csv_missing_and_empty_file(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        read_csv(tmp_path / "nope.csv")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(DataError, match="empty.csv is empty"):
        read_csv(empty)
    header_only = tmp_path / "h.csv"
    header_only.write_text("user,item\n")
    with pytest.raises(DataError, match="has no rows"):
        read_csv(header_only)


def test_read_csv_latin1(tmp_path):
    path = tmp_path / "l.dat"
    path.write_bytes("caf\xe9::1::5\n".encode("latin-1"))
    data = read_csv(
        path, sep="::", names=["user", "item", "rating"], rating="rating", encoding="latin-1"
    )
    assert data.users.raw.tolist() == ["café"]


def test_parquet_round_trip(tmp_path):
    df = small_df()
    path = tmp_path / "r.parquet"
    df.to_parquet(path)
    data = Interactions.from_parquet(path, user="u", item="i", rating="r", timestamp="t")
    ref = Interactions.from_dataframe(df, user="u", item="i", rating="r", timestamp="t")
    assert np.array_equal(data.csr.toarray(), ref.csr.toarray())
    with pytest.raises(DataError, match=r"column\(s\) 'x' not found in r.parquet; columns found"):
        Interactions.from_parquet(path, user="x", item="i")
    junk = tmp_path / "junk.parquet"
    junk.write_bytes(b"not parquet")
    with pytest.raises(DataError, match="junk.parquet is not a readable Parquet file"):
        Interactions.from_parquet(junk)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 6), st.sampled_from("abcde"), st.integers(1, 5)),
        min_size=1,
        max_size=50,
    ),
    st.sampled_from(["first", "last", "mean", "sum"]),
)
def test_dense_matrix_matches_pandas_groupby(rows, policy):
    df = pd.DataFrame(rows, columns=["user", "item", "rating"]).astype({"rating": float})
    data = Interactions.from_dataframe(df, rating="rating", duplicates=policy)
    agg = df.groupby(["user", "item"], sort=True)["rating"].agg(policy)
    assert len(data) == len(agg)
    got = pd.Series(
        data.values.astype(float),
        index=pd.MultiIndex.from_arrays(
            [data.users.ids(data.user_ids), data.items.ids(data.item_ids)]
        ),
    )
    np.testing.assert_allclose(got.sort_index().to_numpy(), agg.sort_index().to_numpy(), rtol=1e-6)
    assert np.all(np.diff(data.user_ids.astype(np.int64) * data.n_items + data.item_ids) > 0)
