import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from latentfactors import UnknownIdError
from latentfactors.data import Vocabulary


def test_encode_sorted_and_round_trip_ints():
    vocab, codes = Vocabulary.encode([30, 10, 20, 10], name="user")
    assert vocab.raw.tolist() == [10, 20, 30]
    assert codes.dtype == np.int32
    assert codes.tolist() == [2, 0, 1, 0]
    assert vocab.ids(codes).tolist() == [30, 10, 20, 10]


def test_encode_strings_round_trip():
    vocab, _ = Vocabulary.encode(np.array(["b", "a", "b"]), name="item")
    assert vocab.raw.tolist() == ["a", "b"]
    assert vocab.index(["b", "a"]).tolist() == [1, 0]
    assert "a" in vocab and "z" not in vocab


def test_unknown_id_message_names_ids():
    vocab = Vocabulary([1, 2, 3], name="user")
    with pytest.raises(
        UnknownIdError, match=r"2 unknown user id\(s\): 7, 9 \(the vocabulary has 3"
    ):
        vocab.index([1, 7, 9])
    assert vocab.index([1, 7], missing="ignore").tolist() == [0, -1]


def test_extend_keeps_prefix():
    vocab = Vocabulary(["a", "b"], name="item")
    bigger = vocab.extend(["c", "a", "d", "c"])
    assert bigger.raw.tolist() == ["a", "b", "c", "d"]
    assert vocab.extend(["a"]) is vocab


def test_duplicate_ids_rejected():
    with pytest.raises(ValueError, match="unique"):
        Vocabulary([1, 1])


def test_inner_out_of_range():
    with pytest.raises(UnknownIdError, match=r"inner user ids must lie in \[0, 2\)"):
        Vocabulary([5, 6], name="user").ids([2])


@given(st.lists(st.one_of(st.integers(-(2**40), 2**40)), min_size=1, max_size=60))
def test_round_trip_property_ints(raw):
    vocab, codes = Vocabulary.encode(raw)
    assert vocab.ids(codes).tolist() == raw
    assert np.array_equal(vocab.index(raw), codes)
    assert len(vocab) == len(set(raw))


@given(st.lists(st.text(min_size=0, max_size=5), min_size=1, max_size=60))
def test_round_trip_property_strings(raw):
    vocab, codes = Vocabulary.encode(raw)
    assert vocab.ids(codes).tolist() == raw
    assert np.array_equal(vocab.index(raw), codes)


@given(
    st.lists(st.integers(0, 3000), min_size=1, max_size=300),
    st.sampled_from(["int32", "int64", "uint16", "uint64"]),
)
def test_dense_integer_path_is_the_sorting_factorize(ids, dtype):
    """Small-span non-negative integer ids take a presence-mask path; it must give exactly
    what the sorting factorize gives (sorted uniques, int32 codes)."""
    import pandas as pd

    from latentfactors.data import vocabulary as voc

    arr = np.array(ids, dtype=dtype)
    got = voc._dense_codes(arr)
    assert got is not None
    codes, uniques = pd.factorize(arr, sort=True)
    assert np.array_equal(got[0], uniques) and got[0].dtype == arr.dtype
    assert np.array_equal(got[1], codes) and got[1].dtype == np.int32
    vocab, inner = Vocabulary.encode(arr, name="user")
    assert np.array_equal(inner, codes) and vocab.ids(inner).tolist() == arr.tolist()


def test_dense_path_declines_what_it_cannot_take():
    from latentfactors.data import vocabulary as voc

    assert voc._dense_codes(np.array([-1, 2])) is None  # negative ids
    assert voc._dense_codes(np.array([0, 10**12])) is None  # span too wide for a mask
    assert voc._dense_codes(np.array(["a", "b"], dtype=object)) is None
    assert voc._dense_codes(np.array([], dtype=np.int64)) is None
    vocab, codes = Vocabulary.encode(np.array([10**12, 3, 3]), name="item")
    assert codes.tolist() == [1, 0, 0] and vocab.ids([1]).tolist() == [10**12]


def test_ids_that_are_already_inner_ids_are_not_shared_with_the_caller():
    """Ids 0..n-1, all present and already in (user, item) order take the fastest path
    (no factorize, no sort); the container must still own its arrays."""
    from latentfactors import Interactions

    u = np.array([0, 0, 1, 2], dtype=np.int32)
    i = np.array([0, 1, 1, 0], dtype=np.int32)
    r = np.array([1.0, 2.0, 3.0, 4.0], dtype=np.float32)
    ts = np.array([10, 20, 30, 40], dtype=np.int64)
    data = Interactions.from_arrays(u, i, ratings=r, timestamps=ts)
    assert data.users.ids([0, 1, 2]).tolist() == [0, 1, 2]
    u[:] = 9
    i[:] = 9
    r[:] = 9
    ts[:] = 9
    assert data.user_ids.tolist() == [0, 0, 1, 2] and data.item_ids.tolist() == [0, 1, 1, 0]
    assert data.values.tolist() == [1.0, 2.0, 3.0, 4.0]
    assert data.timestamps.tolist() == [10, 20, 30, 40]
