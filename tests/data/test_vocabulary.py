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
