"""Vectorised mapping between raw ids (any hashable: int or str) and contiguous int32 ids."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from ..exceptions import DataError, UnknownIdError

__all__ = ["Vocabulary"]


_INT64_MAX = 2**63 - 1


def show_id(value: Any) -> str:
    """An id as people write it: ``5`` or ``'alice'``, not ``np.uint64(5)``."""
    if isinstance(value, np.generic):
        value = value.item()
    return repr(value)


def _exact_ints(items: list) -> np.ndarray | None:
    """Python / NumPy integers as int64 when they fit, else as an object array of exact
    Python ints (never wrapped, never turned into floats); None if not all integers."""
    if not all(isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))
               for v in items):  # fmt: skip
        return None
    values = [int(v) for v in items]
    if all(-(2**63) <= v <= _INT64_MAX for v in values):
        return np.array(values, dtype=np.int64)
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def _as_id_array(values: Any, what: str = "ids") -> np.ndarray:
    """Turn raw ids (list, numpy, pandas, pyarrow, polars, scalar) into a 1-D numpy array,
    keeping every id exactly as given (big integers stay exact, mixed types stay mixed)."""
    if isinstance(values, np.ndarray):
        arr = values
    elif isinstance(values, (pd.Series, pd.Index)):
        arr = values.to_numpy()
    elif hasattr(values, "to_numpy") and not isinstance(values, (str, bytes)):
        try:
            arr = np.asarray(values.to_numpy(zero_copy_only=False))
        except TypeError:  # polars and others take no zero_copy_only
            arr = np.asarray(values.to_numpy())
    elif isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        items = [values]
        arr = _exact_ints(items)
        if arr is None:
            arr = np.empty(1, dtype=object)
            arr[0] = values
    else:
        items = list(values)
        arr = _exact_ints(items) if items else None
        if arr is None:
            try:
                arr = np.asarray(items)
            except ValueError:  # ragged nesting
                raise DataError(f"{what} must be a flat list of ids") from None
            has_int = arr.dtype.kind == "f" and any(
                isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in items
            )
            if arr.ndim == 1 and (arr.dtype.kind in "US" or has_int):
                # keep the ids as given: numpy strips trailing NULs from strings, turns
                # [1, "a"] into strings and [1, 2.5] into floats
                arr = np.empty(len(items), dtype=object)
                arr[:] = items
    if arr.ndim != 1:
        raise DataError(
            f"{what} must be one-dimensional (one id per interaction), got an array of shape "
            f"{arr.shape}; flatten it yourself if that is what you mean"
        )
    if arr.dtype.kind == "u" and len(arr) and int(arr.max()) > _INT64_MAX:
        exact = np.empty(len(arr), dtype=object)
        exact[:] = [int(v) for v in arr.tolist()]
        arr = exact
    if arr.dtype.kind == "U":  # numpy fixed-width strings behave badly in pandas indexes
        arr = arr.astype(object)
    return arr


#: integer ids up to this many times the number of rows (or 2^20) take the dense path
_DENSE_SPAN = 4


def _dense_codes(arr: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Sorted unique ids and int32 codes of non-negative integer ids with a small span,
    by a presence mask and a lookup table (O(n + max id), several times faster than a
    sorting factorize); None when the ids are not of that kind."""
    if arr.dtype.kind not in "iu" or len(arr) == 0:
        return None
    lo, hi = int(arr.min()), int(arr.max())
    if lo < 0 or hi >= max(_DENSE_SPAN * len(arr), 1 << 20):
        return None
    present = np.zeros(hi + 1, dtype=bool)
    present[arr] = True
    if lo == 0 and hi < np.iinfo(np.int32).max and present.all():
        # already inner ids (0 .. n-1, all present): the codes are the ids themselves
        return np.arange(hi + 1).astype(arr.dtype), arr.astype(np.int32, copy=False)
    uniques = np.flatnonzero(present).astype(arr.dtype, copy=False)
    if len(uniques) > np.iinfo(np.int32).max:
        return None
    lookup = np.cumsum(present, dtype=np.int32)  # fits: len(uniques) <= int32 max
    lookup -= 1
    return uniques, lookup[arr]


class Vocabulary:
    """An ordered set of raw ids with vectorised lookups both ways.

    Inner ids are ``0 .. len(vocab) - 1`` as int32. Raw ids may be integers or strings.
    :meth:`extend` (folding in new users) is amortised O(new ids): the added ids live in
    an append-only overlay next to the indexed base, merged into it when it grows as
    large as the base, so adding one user to a million costs microseconds, not a rebuild.

    Parameters
    ----------
    ids : array-like
        The raw ids, unique, in inner-id order.
    name : str
        What the ids are ("user" or "item"); used in error messages.

    Examples
    --------
    >>> vocab = Vocabulary(["alice", "bob"], name="user")
    >>> vocab.index(["bob", "alice"]).tolist()
    [1, 0]
    >>> vocab.ids([0]).tolist()
    ['alice']
    >>> vocab.extend(["carol"]).index(["carol"]).tolist()
    [2]
    """

    __slots__ = ("_added", "_base", "_cache", "_claim", "_index", "_n_added", "name")

    def __init__(self, ids: Any, name: str = "id") -> None:
        arr = _as_id_array(ids)
        if arr.dtype.kind in "iu":  # _as_id_array left only values that fit
            arr = arr.astype(np.int64, copy=False)
        arr.setflags(write=False)
        self._base = arr
        self.name = name
        self._index: pd.Index | None = None
        # overlay: raw id -> inner id and the raw ids in order, both append-only and
        # shared by the vocabularies extended from one another; this one sees the first
        # _n_added of them (as UserState's buffers, _claim says how many are taken)
        self._added: dict = {}
        self._claim: list = [[], 0]  # [raw ids in order, how many taken]
        self._n_added = 0
        self._cache: np.ndarray | None = arr
        if len(self._index_()) != len(arr) or not self._index_().is_unique:
            raise DataError(f"{name} vocabulary ids must be unique")

    # construction -----------------------------------------------------------------
    @classmethod
    def encode(cls, raw: Any, name: str = "id", sort: bool = True) -> tuple[Vocabulary, np.ndarray]:
        """Build a vocabulary from raw ids (with repeats) and return it with the inner codes.

        With ``sort=True`` (the default) inner ids follow the sorted order of the raw
        ids, so the mapping does not depend on row order; ids of mixed types that cannot
        be sorted fall back to order of first appearance.
        """
        arr = _as_id_array(raw)
        dense = _dense_codes(arr) if sort else None
        if dense is not None:
            uniques, codes = dense
            return cls(uniques, name=name), codes
        try:
            codes, uniques = pd.factorize(arr, sort=sort)
        except TypeError:
            codes, uniques = pd.factorize(arr, sort=False)
        if (codes < 0).any():
            bad = np.flatnonzero(codes < 0)[:5].tolist()
            raise DataError(
                f"{name} column has {int((codes < 0).sum())} missing ids (rows {bad}); "
                "drop or fill them first"
            )
        uniques = np.asarray(uniques, dtype=object if arr.dtype == object else None)
        return cls(uniques, name=name), codes.astype(np.int32, copy=False)

    # lookups ----------------------------------------------------------------------
    def _index_(self) -> pd.Index:
        if self._index is None:
            self._index = pd.Index(self._base)
        return self._index

    def _overlay(self, values: np.ndarray) -> np.ndarray:
        """Inner ids of ``values`` in the overlay this vocabulary sees (-1 if absent)."""
        limit = len(self._base) + self._n_added
        added = self._added
        out = np.full(len(values), -1, dtype=np.int64)
        for k, v in enumerate(values.tolist()):
            try:
                j = added.get(v, -1)
            except TypeError:  # unhashable
                continue
            if 0 <= j < limit:
                out[k] = j
        return out

    def index(self, raw: Any, missing: str = "raise") -> np.ndarray:
        """Inner ids (int32) of raw ids.

        Parameters
        ----------
        raw : scalar or array-like
            Raw ids.
        missing : {"raise", "ignore"}
            ``"raise"`` raises :class:`UnknownIdError` naming the unknown ids;
            ``"ignore"`` returns -1 for them.
        """
        arr = _as_id_array(raw)
        if len(arr) == 0:
            return np.empty(0, dtype=np.int32)
        idx = self._index_()
        if self._base.dtype.kind in "iu" and arr.dtype == object:
            # integer base, mixed query (after folding string users into an int-id
            # model): look the integers up as int64, the rest cannot be in the base
            is_int = np.fromiter(
                (isinstance(x, (int, np.integer)) and not isinstance(x, bool)
                 and -(2**63) <= x <= _INT64_MAX for x in arr),
                dtype=bool, count=len(arr),
            )  # fmt: skip
            out = np.full(len(arr), -1, dtype=np.int32)
            if is_int.any():
                out[is_int] = idx.get_indexer(arr[is_int].astype(np.int64))
        else:
            try:
                out = idx.get_indexer(arr)
            except (TypeError, ValueError):  # incomparable types
                out = np.array([idx.get_loc(x) if x in idx else -1 for x in arr])
        out = np.asarray(out, dtype=np.int32)
        if self._n_added:
            miss = np.flatnonzero(out < 0)
            if len(miss):
                out[miss] = self._overlay(arr[miss])
        if missing == "raise":
            unknown = out < 0
            if unknown.any():
                examples = ", ".join(show_id(x) for x in arr[unknown][:5].tolist())
                raise UnknownIdError(
                    f"{int(unknown.sum())} unknown {self.name} id(s): {examples}"
                    f" (the vocabulary has {len(self)} {self.name}s)"
                )
        elif missing != "ignore":
            raise ValueError("missing must be 'raise' or 'ignore'")
        return out

    def ids(self, inner: Any) -> np.ndarray:
        """Raw ids of inner ids."""
        inner = np.asarray(inner)
        if inner.size and (inner.min() < 0 or inner.max() >= len(self)):
            raise UnknownIdError(
                f"inner {self.name} ids must lie in [0, {len(self)}); got "
                f"[{inner.min()}, {inner.max()}]"
            )
        if self._n_added == 0 or (inner.size and inner.max() < len(self._base)):
            return self._base[inner]
        return self.raw[inner]

    def extend(self, raw: Any) -> Vocabulary:
        """A new vocabulary: this one, then the ids of ``raw`` it lacks (first-seen order).

        This one is left as it was; the new one shares its base and overlay."""
        arr = _as_id_array(raw)
        known = self.index(arr, missing="ignore") >= 0
        new = pd.unique(pd.Series(arr[~known], dtype=object if arr.dtype == object else None))
        if len(new) == 0:
            return self
        new_list = np.asarray(new, dtype=object).tolist()
        total = self._n_added + len(new_list)
        if total > max(1024, len(self._base)):  # merge into a new base: amortised O(1)
            merged = np.concatenate([self.raw.astype(object), np.asarray(new_list, dtype=object)])
            if all(isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                   for v in new_list) and self._base.dtype.kind in "iu":  # fmt: skip
                exact = _exact_ints(merged.tolist())
                merged = merged if exact is None else exact
            return Vocabulary(merged, name=self.name)
        out = Vocabulary.__new__(Vocabulary)
        out._base, out._index, out.name = self._base, self._index, self.name
        ids_list, taken = self._claim
        if taken == self._n_added and self._added is not None:  # append in place
            out._added, out._claim = self._added, self._claim
        else:  # another vocabulary extended past this one: copy the overlay first
            kept = ids_list[: self._n_added]
            out._claim = [list(kept), self._n_added]
            out._added = {v: len(self._base) + k for k, v in enumerate(kept)}
        start = len(self._base) + self._n_added
        for k, v in enumerate(new_list):
            out._added[v] = start + k
        out._claim[0].extend(new_list)
        out._claim[1] = total
        out._n_added = total
        out._cache = None
        return out

    # container protocol -------------------------------------------------------------
    @property
    def raw(self) -> np.ndarray:
        """The raw ids in inner-id order (read-only array)."""
        if self._cache is None:
            extra = self._claim[0][: self._n_added]
            ints = _exact_ints(extra) if self._base.dtype.kind in "iu" else None
            if ints is not None and ints.dtype == np.int64:
                arr = np.concatenate([self._base, ints])
            else:
                arr = np.empty(len(self._base) + len(extra), dtype=object)
                arr[: len(self._base)] = self._base.tolist() if self._base.dtype != object \
                    else self._base  # fmt: skip
                arr[len(self._base) :] = extra
            arr.setflags(write=False)
            self._cache = arr
        return self._cache

    def __len__(self) -> int:
        return len(self._base) + self._n_added

    def __contains__(self, raw: Any) -> bool:
        try:
            if raw in self._index_():
                return True
        except TypeError:
            return False
        return bool(self._n_added) and self._overlay(np.array([raw], dtype=object))[0] >= 0

    def __iter__(self):
        return iter(self.raw.tolist())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Vocabulary):
            return NotImplemented
        return other is self or (len(self) == len(other) and bool(np.all(self.raw == other.raw)))

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        head = ", ".join(repr(x) for x in self.raw[:3].tolist())
        more = ", ..." if len(self) > 3 else ""
        return f"Vocabulary({self.name}: {len(self)} ids [{head}{more}])"
