"""Stratified layout of the ratings for parallel, reproducible SGD.

Users and items are dealt into ``B`` groups balanced by activity (a seeded snake draft
over rows ranked by their number of ratings, see ``_groups``). Training works in
*relabelled* ids in which every group is a contiguous range of rows: a thread then
writes only its own stretch of the factor and bias arrays, never a cache line that
another thread writes too (with interleaved groups that false sharing made two threads
slower than one). Rows are mapped back to the model's ids when training ends.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..data.interactions import Interactions

__all__ = ["Strata", "StrataTrainer", "n_blocks_for", "pad_columns", "padded_width", "stratify"]

#: SGD's vector loops take 32 floats of a factor row per pass and the rest one at a time
_PAD = 32


def padded_width(k: int) -> int:
    """The width at which SGD stores ``k`` factors while it trains: ``k`` rounded up to a
    multiple of 32 when that leaves 8 or more factors for the scalar remainder (and
    ``k > 24``), else ``k``. The extra columns start at zero and stay zero (their update
    is ``0 + lr * (err * 0 - reg * 0)``), so the model is the same; only the sums of the
    dot products are taken in another order.

    Why: the kernels' loops run 32 floats per vector pass, the remainder one float at a
    time, and on ML-100K one SVD update on one core took 33.9 ns at k=50 against 26.7 ns
    at k=64, 42.0 at 63, 28.5 at 40, but 22.7 at 33 and 38.4 at 100 against 41.4 at 128
    (``benchmarks/results/sgd-width.md``).
    """
    r = k % _PAD
    return k + _PAD - r if r >= 8 and k > 24 else k


def pad_columns(A: np.ndarray, width: int) -> np.ndarray:
    """``A`` (C-contiguous) with zero columns appended up to ``width``."""
    if A.shape[1] == width:
        return np.ascontiguousarray(A)
    out = np.zeros((A.shape[0], width), dtype=A.dtype)
    out[:, : A.shape[1]] = A
    return out


def n_blocks_for(n_ratings: int, requested: int | None) -> int:
    """The number of user (and item) groups: ``requested``, or by default one that
    depends only on the data size, never on the thread count (so results don't either).

    Each of the ``B`` strata of an epoch ends with all threads meeting; few, large
    strata keep small data fast, and fast on a busy machine too, where every meeting
    can wait for a descheduled thread. Default: ``clip(n_ratings // 500_000, 4, 32)``.
    """
    if requested is not None:
        return int(requested)
    return int(min(32, max(4, n_ratings // 500_000)))


@dataclass
class Strata:
    """Ratings in ``B x B`` blocks, in relabelled ids.

    ``users``, ``items``, ``ratings`` hold the ratings sorted by block, ``block_ptr`` the
    block boundaries. ``user_new[u]`` is the training id of user ``u`` (``item_new``
    likewise); ``user_order`` / ``item_order`` are the inverse permutations. Item group
    ``g`` is the range ``item_group_ptr[g] .. item_group_ptr[g + 1]`` of training ids.
    """

    n_blocks: int
    block_ptr: np.ndarray
    users: np.ndarray
    items: np.ndarray
    ratings: np.ndarray
    user_new: np.ndarray
    item_new: np.ndarray
    user_order: np.ndarray
    item_order: np.ndarray
    item_group_ptr: np.ndarray

    # model ids <-> training ids, for arrays whose rows are users or items
    def users_in(self, A: np.ndarray) -> np.ndarray:
        """Rows of ``A`` (model order) in training order."""
        return np.ascontiguousarray(A[self.user_order])

    def items_in(self, A: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(A[self.item_order])

    def users_out(self, A: np.ndarray) -> np.ndarray:
        """Rows of ``A`` (training order) in model order."""
        return np.ascontiguousarray(A[self.user_new])

    def items_out(self, A: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(A[self.item_new])

    def csr(self, data: Interactions):
        """Users x items CSR of ``data`` in training ids (sorted indices)."""
        import scipy.sparse as sp

        m = sp.csr_matrix(
            (data.values, (self.user_new[data.user_ids], self.item_new[data.item_ids])),
            shape=data.shape,
        )
        m.sort_indices()
        return m


def _groups(
    counts: np.ndarray, n_blocks: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Deal rows into ``n_blocks`` groups balanced by activity.

    Rows are ranked by their number of ratings (ties in a seeded random order) and dealt
    like cards in a snake draft (0, 1, ..., B-1, B-1, ..., 0, ...), so every group gets
    about ``1/B`` of the rows *and* about ``1/B`` of the ratings. Balanced blocks keep
    threads from waiting for one heavy block at the end of a stratum, and they keep BPR's
    negatives (drawn from the positive's item group) close to the catalogue-wide chances
    they are meant to have (uniform, or by popularity): with a plain random deal, an
    item that shares its group with a few very popular items is drawn as a negative far
    more often than one that does not, which cost BPR a third of its NDCG on Zipf-like
    data with 20 groups (uniform negatives).

    Returns ``(order, new, group_ptr, group_of)``: training id -> model id, its inverse,
    the range of training ids of each group, and each row's group (in model ids).
    """
    n = len(counts)
    tie = rng.permutation(n)
    ranked = tie[np.argsort(-counts[tie], kind="stable")]
    rnd, pos = np.divmod(np.arange(n), n_blocks)
    group = np.where(rnd % 2 == 0, pos, n_blocks - 1 - pos).astype(_block_dtype(n_blocks))
    order = ranked[np.argsort(group, kind="stable")]  # training id -> model id
    new = np.empty(n, dtype=np.int32)
    new[order] = np.arange(n, dtype=np.int32)
    group_ptr = np.zeros(n_blocks + 1, dtype=np.int64)
    np.cumsum(np.bincount(group, minlength=n_blocks), out=group_ptr[1:])
    group_of = np.empty(n, dtype=group.dtype)
    group_of[ranked] = group
    return order, new, group_ptr, group_of


def _block_dtype(n_blocks: int) -> type:
    # block numbers below 2**15 sort by radix (numpy's stable sort of 16-bit ints): O(n)
    return np.int16 if n_blocks * n_blocks < 2**15 else np.int32


def stratify(data: Interactions, n_blocks: int, seed: int) -> Strata:
    """Lay out ``data`` for stratified SGD with ``n_blocks`` groups of users and of items."""
    rng = np.random.default_rng([seed, 7])
    user_counts = data.user_counts
    item_counts = data.item_counts
    user_order, user_new, _, user_group = _groups(user_counts, n_blocks, rng)
    item_order, item_new, item_group_ptr, item_group = _groups(item_counts, n_blocks, rng)
    from ..kernels.sorting import block_layout

    # one counting sort by block (stable): what argsort of the block numbers and three
    # gathers give, in two passes (1.7 -> 0.5 ms for ML-100K, a third of a small fit)
    block_ptr, users, items, ratings = block_layout(
        data.user_ids, data.item_ids, np.ascontiguousarray(data.values), user_group,
        item_group, user_new, item_new, n_blocks,
    )  # fmt: skip
    return Strata(
        n_blocks=n_blocks,
        block_ptr=block_ptr,
        users=users,
        items=items,
        ratings=ratings,
        user_new=user_new,
        item_new=item_new,
        user_order=user_order,
        item_order=item_order,
        item_group_ptr=item_group_ptr,
    )


class StrataTrainer:
    """Mixin for trainers whose arrays live in training order (see :class:`Strata`).

    Subclasses set ``self.s`` (the Strata) and ``self._rows``: a dict mapping each name
    that ``arrays()`` reports to ``(internal array, "user" | "item")``. A trainer whose
    factor arrays are padded (:func:`padded_width`) sets ``self.n_factors`` to the
    model's width: 2-D arrays are reported, and restored, in their first
    ``n_factors`` columns.
    """

    s: Strata
    _rows: dict[str, tuple[np.ndarray, str]]
    n_factors: int | None = None

    def _model_view(self, arr: np.ndarray) -> np.ndarray:
        return arr if arr.ndim == 1 or self.n_factors is None else arr[:, : self.n_factors]

    def arrays(self) -> dict[str, np.ndarray]:
        out = {}
        for name, (arr, kind) in self._rows.items():
            view = self._model_view(arr)
            out[name] = self.s.users_out(view) if kind == "user" else self.s.items_out(view)
        return out

    def snapshot(self) -> dict[str, np.ndarray]:
        return self.arrays()

    def restore(self, snap: dict[str, np.ndarray]) -> None:
        for name, (arr, kind) in self._rows.items():
            self._model_view(arr)[...] = (
                self.s.users_in(snap[name]) if kind == "user" else self.s.items_in(snap[name])
            )
