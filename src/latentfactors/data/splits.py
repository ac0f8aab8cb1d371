"""Seeded, deterministic train/test splits of `Interactions`.

Every split returns a :class:`Split`: a ``(train, test)`` pair that unpacks like a tuple
and also says how many test rows were dropped. ``train`` keeps only the users and items
that occur in it (its vocabularies are compacted); ``test`` is expressed in the same
vocabulary objects, so inner ids agree. Test rows whose user or item never occurs in
train are dropped by default (``drop_unknown=True``); with ``drop_unknown=False`` they
are kept and the test vocabularies extend train's (train's ids first, same inner ids).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import numpy as np

from ..exceptions import DataError
from .interactions import Interactions
from .vocabulary import Vocabulary

__all__ = ["Split", "kfold", "leave_last_n", "random_split", "time_split", "user_split"]

logger = logging.getLogger("latentfactors")


class Split(tuple):
    """``(train, test)`` with ``n_dropped``: test rows removed for ids unseen in train."""

    train: Interactions
    test: Interactions
    n_dropped: int

    def __new__(cls, train: Interactions, test: Interactions, n_dropped: int) -> Split:
        self = super().__new__(cls, (train, test))
        self.train = train
        self.test = test
        self.n_dropped = n_dropped
        return self

    def __repr__(self) -> str:
        return f"Split(train={self.train!r}, test={self.test!r}, n_dropped={self.n_dropped})"


def _rng(seed: Any) -> np.random.Generator:
    return np.random.default_rng(seed)


def _compact(vocab: Vocabulary, inner: np.ndarray, n: int) -> tuple[Vocabulary, np.ndarray]:
    used = np.flatnonzero(np.bincount(inner, minlength=n))
    mapping = np.full(n, -1, dtype=np.int32)
    mapping[used] = np.arange(len(used), dtype=np.int32)
    if len(used) == n:
        return vocab, mapping
    return Vocabulary(vocab.raw[used], name=vocab.name), mapping


def _make_split(data: Interactions, test_mask: np.ndarray, drop_unknown: bool) -> Split:
    train_rows = np.flatnonzero(~test_mask)
    test_rows = np.flatnonzero(test_mask)
    if len(train_rows) == 0:
        raise DataError("the split leaves no training rows; use a smaller test size")
    users, umap = _compact(data.users, data.user_ids[train_rows], data.n_users)
    items, imap = _compact(data.items, data.item_ids[train_rows], data.n_items)
    ts = data.timestamps
    scale = data._declared_scale
    train = Interactions(
        umap[data.user_ids[train_rows]],
        imap[data.item_ids[train_rows]],
        data.values[train_rows],
        users=users,
        items=items,
        timestamps=None if ts is None else ts[train_rows],
        kind=data.kind,
        rating_scale=scale,
    )
    tu = umap[data.user_ids[test_rows]]
    ti = imap[data.item_ids[test_rows]]
    known = (tu >= 0) & (ti >= 0)
    n_dropped = int((~known).sum())
    if drop_unknown:
        keep = test_rows[known]
        test = Interactions(
            tu[known], ti[known], data.values[keep], users=users, items=items,
            timestamps=None if ts is None else ts[keep], kind=data.kind, rating_scale=scale,
        )  # fmt: skip
        if n_dropped:
            logger.info("split dropped %d test rows whose user or item is not in train", n_dropped)
    else:
        test_users = users.extend(data.users.raw[data.user_ids[test_rows]])
        test_items = items.extend(data.items.raw[data.item_ids[test_rows]])
        tu = test_users.index(data.users.raw[data.user_ids[test_rows]])
        ti = test_items.index(data.items.raw[data.item_ids[test_rows]])
        order = np.lexsort((ti, tu))
        keep = test_rows[order]
        test = Interactions(
            tu[order], ti[order], data.values[keep], users=test_users, items=test_items,
            timestamps=None if ts is None else ts[keep], kind=data.kind, rating_scale=scale,
        )  # fmt: skip
        n_dropped = 0
    return Split(train, test, n_dropped)


def _check_data(data: Any) -> Interactions:
    if not isinstance(data, Interactions):
        raise DataError(f"splits take an Interactions container, got {type(data).__name__}")
    if len(data) < 2:
        raise DataError(f"cannot split {len(data)} interaction(s); need at least 2")
    return data


def _n_test(test_size: float | int, n: int, what: str = "test_size") -> int:
    if isinstance(test_size, (bool, np.bool_)):
        raise DataError(f"{what} must be a fraction in (0, 1) or a count, got {test_size!r}")
    if isinstance(test_size, (int, np.integer)):
        if not 0 < test_size < n:
            raise DataError(f"{what}={test_size} must lie in [1, {n - 1}] for {n} rows")
        return int(test_size)
    if not 0.0 < float(test_size) < 1.0:
        raise DataError(f"{what}={test_size!r} must be a fraction in (0, 1) or a row count")
    return round(float(test_size) * n)


def random_split(
    data: Interactions, test_size: float | int = 0.2, *, seed: Any = 0, drop_unknown: bool = True
) -> Split:
    """Hold out a uniformly random ``test_size`` (fraction or count) of the rows.

    Examples
    --------
    >>> from latentfactors.data import make_synthetic
    >>> data = make_synthetic(200, 100, 4000, seed=1).interactions
    >>> train, test = random_split(data, 0.2, seed=1)
    >>> len(train) + len(test) + random_split(data, 0.2, seed=1).n_dropped == len(data)
    True
    """
    data = _check_data(data)
    k = _n_test(test_size, len(data))
    mask = np.zeros(len(data), dtype=bool)
    mask[_rng(seed).permutation(len(data))[:k]] = True
    return _make_split(data, mask, drop_unknown)


def _rank_within_user(user_ids: np.ndarray, priority: np.ndarray, n_users: int) -> np.ndarray:
    """0-based rank of each row among its user's rows, ordered by ascending ``priority``."""
    order = np.lexsort((priority, user_ids))
    counts = np.bincount(user_ids, minlength=n_users)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    rank = np.empty(len(user_ids), dtype=np.int64)
    rank[order] = np.arange(len(user_ids)) - starts[user_ids[order]]
    return rank


def user_split(
    data: Interactions,
    test_size: float | int = 0.2,
    *,
    min_interactions: int = 2,
    seed: Any = 0,
    drop_unknown: bool = True,
) -> Split:
    """Hold out, for every user, a random fraction (float) or number (int) of their rows.

    Users with fewer than ``min_interactions`` rows stay whole in train, and every user
    keeps at least one training row. With a fraction, each user's test count is
    ``round(test_size * n_u)``.
    """
    data = _check_data(data)
    if (
        isinstance(test_size, (bool, np.bool_))
        or (isinstance(test_size, (int, np.integer)) and test_size < 1)
        or (isinstance(test_size, float) and not 0.0 < test_size < 1.0)
    ):
        raise DataError(f"test_size={test_size!r} must be a fraction in (0, 1) or a count >= 1")
    if min_interactions < 1:
        raise DataError(f"min_interactions={min_interactions} must be >= 1")
    counts = data.user_counts
    if isinstance(test_size, (int, np.integer)):
        n_test = np.full(data.n_users, int(test_size))
    else:
        n_test = np.floor(test_size * counts + 0.5).astype(np.int64)
    n_test = np.minimum(n_test, counts - 1)
    n_test[counts < min_interactions] = 0
    rank = _rank_within_user(data.user_ids, _rng(seed).random(len(data)), data.n_users)
    mask = rank < n_test[data.user_ids]
    return _make_split(data, mask, drop_unknown)


def leave_last_n(
    data: Interactions, n: int = 1, *, min_interactions: int = 2, drop_unknown: bool = True
) -> Split:
    """Temporal split: each user's ``n`` most recent rows go to test.

    Users with fewer than ``min_interactions`` rows (or no more than ``n``) stay whole in
    train. Ties in time are broken by row order (item id), so the split is deterministic.
    """
    data = _check_data(data)
    if data.timestamps is None:
        raise DataError("leave_last_n needs timestamps; build the Interactions with timestamp=")
    if n < 1:
        raise DataError(f"n={n} must be >= 1")
    counts = data.user_counts
    eligible = (counts >= min_interactions) & (counts > n)
    # rank 0 = most recent; among equal timestamps the later row (higher item id) wins
    order = np.lexsort((-np.arange(len(data)), -data.timestamps, data.user_ids))
    rank = np.empty(len(data), dtype=np.int64)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    rank[order] = np.arange(len(data)) - starts[data.user_ids[order]]
    mask = (rank < n) & eligible[data.user_ids]
    return _make_split(data, mask, drop_unknown)


def time_split(
    data: Interactions,
    *,
    at: Any = None,
    test_size: float | None = None,
    drop_unknown: bool = True,
) -> Split:
    """Global time cut: rows at or after ``at`` (a timestamp, datetime or date string) go to
    test; or give ``test_size`` to cut at the time that leaves that fraction of rows for test.
    """
    data = _check_data(data)
    if data.timestamps is None:
        raise DataError("time_split needs timestamps; build the Interactions with timestamp=")
    if (at is None) == (test_size is None):
        raise DataError("give exactly one of at= (a time) or test_size= (a fraction)")
    ts = data.timestamps
    if test_size is not None:
        if not 0.0 < float(test_size) < 1.0:
            raise DataError(f"test_size={test_size!r} must be a fraction in (0, 1)")
        k = round(float(test_size) * len(data))
        cut = np.sort(ts)[len(data) - max(k, 1)]
    elif isinstance(at, (int, np.integer, float, np.floating)):
        cut = int(at)
    else:
        import pandas as pd

        try:
            stamp = pd.Timestamp(at)
            if stamp.tzinfo is None:
                stamp = stamp.tz_localize("UTC")
            cut = int(stamp.timestamp())
        except (ValueError, TypeError):
            raise DataError(f"at={at!r} is not a time; give seconds since 1970 or a date") from None
    mask = ts >= cut
    if mask.all():
        raise DataError(f"the cut at {cut} leaves no training rows (earliest is {ts.min()})")
    if not mask.any():
        raise DataError(f"the cut at {cut} leaves no test rows (latest is {ts.max()})")
    return _make_split(data, mask, drop_unknown)


def kfold(
    data: Interactions, n_splits: int = 5, *, seed: Any = 0, drop_unknown: bool = True
) -> Iterator[Split]:
    """K-fold cross-validation folds: each row lands in exactly one test fold.

    Rows are shuffled with ``seed`` and cut into ``n_splits`` folds of nearly equal size
    (the protocol of Surprise's published benchmark).
    """
    data = _check_data(data)
    if not isinstance(n_splits, (int, np.integer)) or not 2 <= n_splits <= len(data):
        raise DataError(f"n_splits={n_splits!r} must be an integer in [2, {len(data)}]")
    perm = _rng(seed).permutation(len(data))
    folds = np.array_split(perm, n_splits)
    for fold in folds:
        mask = np.zeros(len(data), dtype=bool)
        mask[fold] = True
        yield _make_split(data, mask, drop_unknown)
