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


class Vocabulary:
    """An ordered set of raw ids with vectorised lookups both ways.

    Inner ids are ``0 .. len(vocab) - 1`` as int32. Raw ids may be integers or strings.

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
    """

    __slots__ = ("_ids", "_index", "name")

    def __init__(self, ids: Any, name: str = "id") -> None:
        arr = _as_id_array(ids)
        if arr.dtype.kind in "iu":  # _as_id_array left only values that fit
            arr = arr.astype(np.int64, copy=False)
        self._ids = arr
        self._ids.setflags(write=False)
        self.name = name
        self._index: pd.Index | None = None
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
            self._index = pd.Index(self._ids)
        return self._index

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
        try:
            out = idx.get_indexer(arr)
        except (TypeError, ValueError):  # incomparable types
            out = np.array([idx.get_loc(x) if x in idx else -1 for x in arr])
        out = np.asarray(out, dtype=np.int32)
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
        if inner.size and (inner.min() < 0 or inner.max() >= len(self._ids)):
            raise UnknownIdError(
                f"inner {self.name} ids must lie in [0, {len(self._ids)}); got "
                f"[{inner.min()}, {inner.max()}]"
            )
        return self._ids[inner]

    def extend(self, raw: Any) -> Vocabulary:
        """A new vocabulary: this one, then the ids of ``raw`` it lacks (first-seen order)."""
        arr = _as_id_array(raw)
        known = self.index(arr, missing="ignore") >= 0
        new = pd.unique(pd.Series(arr[~known], dtype=object if arr.dtype == object else None))
        if len(new) == 0:
            return self
        merged = np.concatenate([self._ids.astype(object), np.asarray(new, dtype=object)])
        if self._ids.dtype.kind in "iu" and np.asarray(new).dtype.kind in "iu":
            merged = merged.astype(np.int64)
        return Vocabulary(merged, name=self.name)

    # container protocol -------------------------------------------------------------
    @property
    def raw(self) -> np.ndarray:
        """The raw ids in inner-id order (read-only array)."""
        return self._ids

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, raw: Any) -> bool:
        try:
            return raw in self._index_()
        except TypeError:
            return False

    def __iter__(self):
        return iter(self._ids.tolist())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Vocabulary):
            return NotImplemented
        return other is self or (len(self) == len(other) and bool(np.all(self._ids == other._ids)))

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        head = ", ".join(repr(x) for x in self._ids[:3].tolist())
        more = ", ..." if len(self) > 3 else ""
        return f"Vocabulary({self.name}: {len(self)} ids [{head}{more}])"
