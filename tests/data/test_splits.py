import numpy as np
import pytest

from latentfactors import DataError, Interactions
from latentfactors.data import (
    kfold,
    leave_last_n,
    make_synthetic,
    random_split,
    time_split,
    user_split,
)


@pytest.fixture(scope="module")
def data():
    return make_synthetic(300, 120, 6000, seed=3, with_timestamps=True).interactions


def pairs(inter):
    return set(
        zip(inter.users.ids(inter.user_ids).tolist(), inter.items.ids(inter.item_ids).tolist())
    )


def check_split(data, split):
    train, test = split
    assert train.users is test.users and train.items is test.items
    p_train, p_test = pairs(train), pairs(test)
    assert not p_train & p_test
    assert len(p_train) + len(p_test) + split.n_dropped == len(data)
    assert p_train | p_test <= pairs(data)
    # every test user and item occurs in train (dropped otherwise)
    assert set(np.unique(test.user_ids)) <= set(np.unique(train.user_ids))
    assert set(np.unique(test.item_ids)) <= set(np.unique(train.item_ids))
    assert train.user_counts.min() >= 1 and train.item_counts.min() >= 1  # vocab compacted
    return p_train, p_test


def test_random_split(data):
    split = random_split(data, 0.25, seed=1)
    check_split(data, split)
    assert len(split.test) + split.n_dropped == 1500
    again = random_split(data, 0.25, seed=1)
    assert pairs(again.test) == pairs(split.test)
    assert pairs(random_split(data, 0.25, seed=2).test) != pairs(split.test)
    assert len(random_split(data, 10, seed=1).test) + random_split(data, 10, seed=1).n_dropped == 10


def test_drop_unknown_false_extends_vocab():
    data = Interactions.from_arrays(["a", "a", "b", "c"], [1, 2, 1, 3], ratings=[1, 2, 3, 4])
    mask_split = random_split(data, 2, seed=0, drop_unknown=False)
    train, test = mask_split
    assert mask_split.n_dropped == 0 and len(train) + len(test) == 4
    assert test.users.raw[: train.n_users].tolist() == train.users.raw.tolist()


def test_dropped_rows_are_reported():
    data = Interactions.from_arrays(["a", "a", "b"], [1, 2, 3], ratings=[1, 2, 3])
    # with 2 test rows of 3, at least the row of item 3 or user b is unseen somewhere
    total = 0
    for seed in range(5):
        split = random_split(data, 1, seed=seed)
        total += split.n_dropped
        assert len(split.train) + len(split.test) + split.n_dropped == 3
    assert total > 0


def test_user_split_fraction_and_count(data):
    split = user_split(data, 0.2, seed=0)
    test = split.test
    check_split(data, split)
    counts = data.user_counts
    tc = np.bincount(data.users.index(test.users.ids(test.user_ids)), minlength=data.n_users)
    expected = np.minimum(np.floor(0.2 * counts + 0.5), counts - 1)
    # dropped rows only come from items unseen in train
    assert np.all(tc <= expected)
    assert abs(tc.sum() + split.n_dropped - expected.sum()) == 0
    split2 = user_split(data, 2, min_interactions=5, seed=0)
    tc2 = np.bincount(
        data.users.index(split2.test.users.ids(split2.test.user_ids)), minlength=data.n_users
    )
    assert np.all(tc2[counts < 5] == 0)
    assert np.all(tc2 <= 2)


def test_user_split_small_users_stay_whole():
    data = Interactions.from_arrays(["a", "b", "b", "b", "b"], [1, 1, 2, 3, 4])
    train, test = user_split(data, 0.5, min_interactions=3, seed=0)
    assert "a" not in set(test.users.ids(test.user_ids).tolist())
    assert train.user_counts[train.users.index(["a"])[0]] == 1


def test_leave_last_n_takes_latest(data):
    split = leave_last_n(data, n=2)
    check_split(data, split)
    df = data.to_dataframe()
    test_df = split.test.to_dataframe()
    for user, rows in test_df.groupby("user"):
        later = df[df.user == user].timestamp.nlargest(2).min()
        assert rows.timestamp.min() >= later
    assert split.test.n_users == split.train.n_users
    with pytest.raises(DataError, match="leave_last_n needs timestamps"):
        leave_last_n(make_synthetic(50, 20, 200, seed=1).interactions)


def test_time_split(data):
    split = time_split(data, test_size=0.1)
    cut = split.test.timestamps.min()
    assert split.train.timestamps.max() < cut
    check_split(data, split)
    split2 = time_split(data, at=int(cut))
    assert pairs(split2.test) == pairs(split.test)
    split3 = time_split(data, at="2020-06-01")
    assert split3.train.timestamps.max() < 1590969600 <= split3.test.timestamps.min()
    with pytest.raises(DataError, match="exactly one of at="):
        time_split(data)
    with pytest.raises(DataError, match="leaves no test rows"):
        time_split(data, at=2_000_000_000)


def test_kfold_each_row_in_one_test_fold(data):
    seen = []
    dropped = 0
    folds = list(kfold(data, 5, seed=4))
    assert len(folds) == 5
    for split in folds:
        check_split(data, split)
        seen.extend(pairs(split.test))
        dropped += split.n_dropped
    assert len(seen) == len(set(seen)) == len(data) - dropped
    again = [pairs(s.test) for s in kfold(data, 5, seed=4)]
    assert again == [pairs(s.test) for s in folds]


def test_bad_split_arguments(data):
    with pytest.raises(
        DataError, match=r"test_size=1.5 must be a fraction in \(0, 1\) or a row count"
    ):
        random_split(data, 1.5)
    with pytest.raises(DataError, match=r"n_splits=1 must be an integer in \[2, 6000\]"):
        list(kfold(data, 1))
    with pytest.raises(DataError, match="splits take an Interactions container, got list"):
        random_split([1, 2])
