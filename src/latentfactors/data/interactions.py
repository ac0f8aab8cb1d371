"""`Interactions`: the one container of user-item data (explicit ratings or implicit signals)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import numpy as np
import pandas as pd

from ..exceptions import DataError
from ._columns import arrow_to_numpy as _arrow_to_numpy
from ._columns import check_columns as _check_columns
from ._columns import rows_text as _rows_text
from ._columns import wanted as _wanted
from .vocabulary import Vocabulary, _as_id_array

__all__ = ["DUPLICATE_POLICIES", "Interactions"]

DUPLICATE_POLICIES = ("raise", "first", "last", "mean", "sum")
Kind = Literal["explicit", "implicit"]


def _default_locate(rows: np.ndarray) -> str:
    return f"rows {_rows_text(rows)}"


class Interactions:
    """User-item interactions with raw ids mapped to contiguous inner ids.

    Rows are stored sorted by (user, item), without duplicates, so the CSR view by
    user shares its arrays with the container. Build one with :meth:`from_dataframe`,
    :meth:`from_arrays`, :meth:`from_csv` or :meth:`from_parquet`.

    Attributes
    ----------
    user_ids, item_ids : ndarray of int32
        Inner ids of each row. Where the container was built by the parallel sort (1M
        rows or more, arriving out of order, without timestamps), ``user_ids`` is derived
        from the CSR row starts on first use and then kept, so a trainer that reads only
        the CSR never holds it.
    values : ndarray of float32
        Ratings (explicit) or weights / counts (implicit; 1.0 when none was given).
    timestamps : ndarray of int64 or None
    users, items : Vocabulary
        Raw <-> inner id mappings.
    kind : {"explicit", "implicit"}

    Examples
    --------
    >>> data = Interactions.from_arrays(["u1", "u1", "u2"], [10, 20, 10], ratings=[4, 5, 3])
    >>> data
    Interactions(explicit: 3 rows, 2 users, 2 items, ratings in [3, 5])
    >>> data.csr.toarray()
    array([[4., 5.],
           [3., 0.]], dtype=float32)
    """

    def __init__(
        self,
        user_ids: np.ndarray | None,
        item_ids: np.ndarray,
        values: np.ndarray,
        *,
        users: Vocabulary,
        items: Vocabulary,
        timestamps: np.ndarray | None = None,
        kind: Kind = "explicit",
        rating_scale: tuple[float, float] | None = None,
        indptr: np.ndarray | None = None,
    ) -> None:
        """Low-level constructor from inner ids that are already sorted by (user, item) and unique.

        Give ``user_ids``, or ``user_ids=None`` and ``indptr`` (the CSR row starts,
        ``n_users + 1`` of them): the user of each row is then derived when first asked
        for. Most callers want one of the ``from_*`` constructors instead.
        """
        if (user_ids is None) == (indptr is None):
            raise DataError("give either user_ids or indptr (the CSR row starts), not both")
        if user_ids is None:
            self._indptr: np.ndarray | None = np.ascontiguousarray(indptr, dtype=np.int64)
            ptr = self._indptr
            if (
                len(ptr) != len(users) + 1
                or ptr[0] != 0
                or ptr[-1] != len(item_ids)
                or (np.diff(ptr) < 0).any()
            ):
                raise DataError(
                    f"indptr must hold n_users + 1 = {len(users) + 1} non-decreasing row "
                    f"starts from 0 to the number of rows ({len(item_ids)}); got "
                    f"{len(ptr)} from {ptr[0] if len(ptr) else None} to "
                    f"{ptr[-1] if len(ptr) else None}"
                )
            self._user_ids: np.ndarray | None = None
        else:
            self._user_ids = np.ascontiguousarray(user_ids, dtype=np.int32)
            self._indptr = None
        self.item_ids = np.ascontiguousarray(item_ids, dtype=np.int32)
        self.values = np.ascontiguousarray(values, dtype=np.float32)
        self.timestamps = (
            None if timestamps is None else np.ascontiguousarray(timestamps, dtype=np.int64)
        )
        self.users = users
        self.items = items
        if kind not in ("explicit", "implicit"):
            raise DataError(f"kind must be 'explicit' or 'implicit', got {kind!r}")
        self.kind: Kind = kind
        self._declared_scale = None if rating_scale is None else tuple(map(float, rating_scale))
        n = len(self.item_ids)
        if (
            (self._user_ids is not None and len(self._user_ids) != n)
            or len(self.values) != n
            or (self.timestamps is not None and len(self.timestamps) != n)
        ):
            raise DataError("user, item, value and timestamp arrays must have the same length")
        self._csr = None
        self._csc = None
        self._user_counts: np.ndarray | None = None
        self._item_counts: np.ndarray | None = None

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_arrays(
        cls,
        users: Any,
        items: Any,
        ratings: Any = None,
        *,
        timestamps: Any = None,
        weights: Any = None,
        duplicates: str = "raise",
        rating_scale: tuple[float, float] | None = None,
        user_vocab: Vocabulary | None = None,
        item_vocab: Vocabulary | None = None,
    ) -> Interactions:
        """Build from parallel arrays of raw user ids, raw item ids and optional values.

        Give ``ratings`` for explicit feedback, or ``weights`` (play counts, clicks ...)
        or neither for implicit feedback. ``user_vocab`` / ``item_vocab`` reuse an
        existing mapping (ids outside it raise :class:`UnknownIdError`).
        """
        columns = {"user": _as_id_array(users, "users"), "item": _as_id_array(items, "items")}
        if ratings is not None:
            columns["rating"] = np.asarray(ratings)
        if weights is not None:
            columns["weight"] = np.asarray(weights)
        if timestamps is not None:
            columns["timestamp"] = np.asarray(timestamps)
        for key, col in columns.items():
            if col.ndim != 1:
                raise DataError(
                    f"{key}s must be one-dimensional (one value per interaction), got shape "
                    f"{col.shape}"
                )
        lengths = {k: len(v) for k, v in columns.items()}
        if len(set(lengths.values())) > 1:
            raise DataError(f"arrays must have the same length; got {lengths}")
        return _build(
            columns,
            user="user",
            item="item",
            rating="rating" if ratings is not None else None,
            timestamp="timestamp" if timestamps is not None else None,
            weight="weight" if weights is not None else None,
            duplicates=duplicates,
            rating_scale=rating_scale,
            source="arrays",
            user_vocab=user_vocab,
            item_vocab=item_vocab,
        )

    @classmethod
    def from_columns(
        cls,
        columns: dict[str, np.ndarray],
        *,
        user: str,
        item: str,
        rating: str | None = None,
        timestamp: str | None = None,
        weight: str | None = None,
        duplicates: str = "raise",
        rating_scale: tuple[float, float] | None = None,
        source: str = "the columns",
        locate: Callable[[np.ndarray], str] | None = None,
    ) -> Interactions:
        """Build from a dict of column arrays (what the readers call); ``source`` names
        the input in error messages and ``locate(rows)`` turns data rows into a place
        ("lines 3, 9") for them."""
        return _build(
            columns, user=user, item=item, rating=rating, timestamp=timestamp, weight=weight,
            duplicates=duplicates, rating_scale=rating_scale, source=source,
            locate=locate or _default_locate,
        )  # fmt: skip

    @classmethod
    def from_dataframe(
        cls,
        df: Any,
        user: str = "user",
        item: str = "item",
        rating: str | None = None,
        *,
        timestamp: str | None = None,
        weight: str | None = None,
        duplicates: str = "raise",
        rating_scale: tuple[float, float] | None = None,
    ) -> Interactions:
        """Build from a pandas or polars DataFrame or a pyarrow Table, naming its columns.

        No ``rating`` column means implicit feedback (``weight`` optional).

        Examples
        --------
        >>> df = pd.DataFrame({"u": [1, 1, 2], "i": ["a", "b", "a"], "r": [5, 3, 4]})
        >>> Interactions.from_dataframe(df, user="u", item="i", rating="r").n_users
        2
        """
        wanted = _wanted(user, item, rating, timestamp, weight)
        if isinstance(df, pd.DataFrame):
            _check_columns(wanted, list(df.columns), "the DataFrame")
            columns = {c: df[c].to_numpy() for c in wanted}
        else:
            table = _as_arrow_table(df)
            _check_columns(wanted, list(table.column_names), f"the {type(df).__name__}")
            columns = {c: _arrow_to_numpy(table.column(c)) for c in wanted}
        return _build(
            columns,
            user=user,
            item=item,
            rating=rating,
            timestamp=timestamp,
            weight=weight,
            duplicates=duplicates,
            rating_scale=rating_scale,
            source="DataFrame",
        )

    @classmethod
    def from_csv(cls, path: Any, **kwargs: Any) -> Interactions:
        """Read delimited text; see :func:`latentfactors.data.read_csv`."""
        from .readers import read_csv

        return read_csv(path, **kwargs)

    @classmethod
    def from_parquet(cls, path: Any, **kwargs: Any) -> Interactions:
        """Read a Parquet file; see :func:`latentfactors.data.read_parquet`."""
        from .readers import read_parquet

        return read_parquet(path, **kwargs)

    # ------------------------------------------------------------------ views
    @property
    def n_users(self) -> int:
        return len(self.users)

    @property
    def n_items(self) -> int:
        return len(self.items)

    @property
    def shape(self) -> tuple[int, int]:
        return (self.n_users, self.n_items)

    @property
    def is_implicit(self) -> bool:
        return self.kind == "implicit"

    def __len__(self) -> int:
        return len(self.item_ids)

    @property
    def user_ids(self) -> np.ndarray:
        """Inner user id of each row (int32); derived from the row starts on first use
        when the container was built without it, and kept."""
        if self._user_ids is None:
            self._user_ids = self._derived_user_ids()
        return self._user_ids

    def _derived_user_ids(self, rows: np.ndarray | None = None) -> np.ndarray:
        """The users of ``rows`` (all rows when None) without keeping a per-row array on
        this container (what subset, to_dataframe and the like use)."""
        if self._user_ids is not None:
            return self._user_ids if rows is None else self._user_ids[rows]
        ptr = self._row_starts()
        if rows is None:
            return np.repeat(np.arange(self.n_users, dtype=np.int32), np.diff(ptr))
        return (np.searchsorted(ptr, rows, side="right") - 1).astype(np.int32)

    def _row_starts(self) -> np.ndarray:
        """The CSR row starts (int64, ``n_users + 1``), kept once computed."""
        if self._indptr is None:
            counts = self.user_counts  # from the user ids (there are no row starts yet)
            indptr = np.zeros(self.n_users + 1, dtype=np.int64)
            np.cumsum(counts, out=indptr[1:])
            self._indptr = indptr
        return self._indptr

    @property
    def nbytes(self) -> int:
        """Bytes held by the row arrays and cached views (vocabularies excluded)."""
        total = self.item_ids.nbytes + self.values.nbytes
        if self._user_ids is not None:
            total += self._user_ids.nbytes
        if self._indptr is not None:
            total += self._indptr.nbytes
        if self.timestamps is not None:
            total += self.timestamps.nbytes
        if self._csr is not None and self._csr.indptr is not self._indptr:
            total += self._csr.indptr.nbytes  # indices/data are shared with the rows
        if self._csc is not None:
            total += self._csc.indptr.nbytes + self._csc.indices.nbytes + self._csc.data.nbytes
        return int(total)

    def coo(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(user_ids, item_ids, values) as int32, int32, float32 arrays (no copy, except
        the user ids where they are derived from the row starts)."""
        return self._derived_user_ids(), self.item_ids, self.values

    @property
    def csr(self):
        """Users x items ``scipy.sparse.csr_matrix`` (float32), built once, sharing the rows."""
        if self._csr is None:
            import scipy.sparse as sp

            indptr = self._row_starts()
            if indptr[-1] < np.iinfo(np.int32).max:
                indptr = indptr.astype(np.int32)
            self._csr = sp.csr_matrix(
                (self.values, self.item_ids, indptr), shape=self.shape, copy=False
            )
        return self._csr

    @property
    def csc(self):
        """Users x items ``scipy.sparse.csc_matrix`` (float32), built once and kept."""
        if self._csc is None:
            self._csc = self.to_csc(keep=False)
        return self._csc

    def to_csc(self, keep: bool = False):
        """The CSC view; with ``keep=False`` (what trainers use) it is not cached, so its
        memory (as large as the rows' own) goes when the caller drops it. An already
        cached view is returned as it is."""
        if self._csc is not None:
            return self._csc
        indptr, rows, values = self.transpose(self.values)
        out = _csc(values, rows, indptr, self.shape)
        if keep:
            self._csc = out
        return out

    def transpose(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``values`` (one per interaction, in this container's (user, item) order)
        regrouped by item: ``(indptr, user_ids, values)`` of the CSC layout, users
        ascending within each item. Trainers use it to build the item side of a derived
        array (confidences, say) directly, without a CSC of the raw values first."""
        values = np.asarray(values)
        if len(values) != len(self):
            raise DataError(f"transpose needs one value per interaction ({len(self)}), got "
                            f"{len(values)}")  # fmt: skip
        if len(self) < _COUNTING_SORT_ROWS:
            order = np.argsort(self.item_ids, kind="stable")
            indptr = np.zeros(self.n_items + 1, dtype=np.int64)
            np.cumsum(self.item_counts, out=indptr[1:])
            return indptr, self._derived_user_ids()[order], values[order]
        from ..kernels.sorting import transpose  # numba only for large data

        return transpose(self._row_starts(), self.item_ids, values, self.n_items)

    @property
    def user_counts(self) -> np.ndarray:
        """Number of interactions of each user (int64, length ``n_users``)."""
        if self._user_counts is None:
            if self._indptr is not None:
                self._user_counts = np.diff(self._indptr)
            else:
                self._user_counts = np.bincount(self._user_ids, minlength=self.n_users)
        return self._user_counts

    @property
    def item_counts(self) -> np.ndarray:
        """Number of interactions of each item (int64, length ``n_items``)."""
        if self._item_counts is None:
            self._item_counts = np.bincount(self.item_ids, minlength=self.n_items)
        return self._item_counts

    @property
    def global_mean(self) -> float:
        """Mean of the values (0.0 when empty)."""
        return float(self.values.mean(dtype=np.float64)) if len(self) else 0.0

    @property
    def rating_scale(self) -> tuple[float, float] | None:
        """Declared rating scale, or (min, max) of the ratings; None for implicit data."""
        if self._declared_scale is not None:
            return self._declared_scale
        if self.kind == "implicit" or len(self) == 0:
            return None
        return (float(self.values.min()), float(self.values.max()))

    @property
    def density(self) -> float:
        cells = self.n_users * self.n_items
        return len(self) / cells if cells else 0.0

    def to_dataframe(self) -> pd.DataFrame:
        """Rows with raw ids: columns user, item, rating (or weight) and timestamp if present."""
        out = {
            "user": self.users.ids(self._derived_user_ids()),
            "item": self.items.ids(self.item_ids),
            ("rating" if self.kind == "explicit" else "weight"): self.values,
        }
        if self.timestamps is not None:
            out["timestamp"] = self.timestamps
        return pd.DataFrame(out)

    def subset(self, rows: np.ndarray) -> Interactions:
        """A new container of the given rows (bool mask or positions), same vocabularies."""
        rows = np.asarray(rows)
        if rows.dtype == bool:
            rows = np.flatnonzero(rows)
        elif len(rows) > 1 and np.any(np.diff(rows) <= 0):
            rows = np.unique(rows)
        return Interactions(
            self._derived_user_ids(rows),
            self.item_ids[rows],
            self.values[rows],
            users=self.users,
            items=self.items,
            timestamps=None if self.timestamps is None else self.timestamps[rows],
            kind=self.kind,
            rating_scale=self._declared_scale,
        )

    def with_vocabularies(self, users: Vocabulary, items: Vocabulary) -> Interactions:
        """Re-express the rows against other vocabularies that contain all of their ids.

        Raises :class:`~latentfactors.exceptions.UnknownIdError` if one is missing.
        """
        if users is self.users and items is self.items:
            return self
        own_u = self._derived_user_ids()
        u = users.index(self.users.raw, missing="ignore")[own_u] if len(self) else []
        i = items.index(self.items.raw, missing="ignore")[self.item_ids] if len(self) else []
        u, i = np.asarray(u, np.int32), np.asarray(i, np.int32)
        if len(self) and (u.min() < 0 or i.min() < 0):
            missing = self.users.raw[own_u[u < 0]] if (u < 0).any() else []
            missing_items = self.items.raw[self.item_ids[i < 0]] if (i < 0).any() else []
            raise DataError(
                f"{len(np.unique(missing))} user id(s) and {len(np.unique(missing_items))} item"
                " id(s) are not in the target vocabularies"
            )
        order = np.lexsort((i, u))
        return Interactions(
            u[order],
            i[order],
            self.values[order],
            users=users,
            items=items,
            timestamps=None if self.timestamps is None else self.timestamps[order],
            kind=self.kind,
            rating_scale=self._declared_scale,
        )

    def __repr__(self) -> str:
        desc = f"{self.kind}: {len(self):,} rows, {self.n_users:,} users, {self.n_items:,} items"
        scale = self.rating_scale
        if scale is not None:
            desc += f", ratings in [{scale[0]:g}, {scale[1]:g}]"
        return f"Interactions({desc})"


# ---------------------------------------------------------------------- building


def _numeric(values: np.ndarray, column: str, locate: Callable[[np.ndarray], str]) -> np.ndarray:
    """Convert a column to float64 (float32 stays float32: no copy), reporting unparsable
    entries and NaN / inf values."""
    if values.dtype == np.float32:
        out = values
    elif values.dtype.kind in "fiub":
        out = values.astype(np.float64, copy=False)
    else:
        out = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=np.float64)
        orig_missing = pd.isna(pd.Series(values)).to_numpy()
        bad = np.flatnonzero(np.isnan(out) & ~orig_missing)
        if len(bad):
            example = values[bad[0]]
            raise DataError(
                f"column {column!r} has {len(bad)} non-numeric value(s) ({locate(bad)}), "
                f"e.g. {example!r}; fix the file or choose the right column/separator"
            )
    nonfinite = ~np.isfinite(out)
    if nonfinite.any():
        rows = np.flatnonzero(nonfinite)
        n_nan = int(np.isnan(out).sum())
        what = "NaN" if n_nan == len(rows) else ("inf" if n_nan == 0 else "NaN/inf")
        raise DataError(
            f"column {column!r} has {len(rows)} {what} value(s) ({locate(rows)}); "
            "drop or fill them first"
        )
    return out


def _build(
    columns: dict[str, np.ndarray],
    *,
    user: str,
    item: str,
    rating: str | None,
    timestamp: str | None,
    weight: str | None,
    duplicates: str,
    rating_scale: tuple[float, float] | None,
    source: str,
    locate: Callable[[np.ndarray], str] = _default_locate,
    user_vocab: Vocabulary | None = None,
    item_vocab: Vocabulary | None = None,
) -> Interactions:
    """Validate raw columns and turn them into a sorted, de-duplicated `Interactions`."""
    if duplicates not in DUPLICATE_POLICIES:
        raise DataError(
            f"duplicates={duplicates!r} is not a policy; choose one of {DUPLICATE_POLICIES}"
        )
    if rating is not None and weight is not None:
        raise DataError(
            "give either rating= (explicit feedback) or weight= (implicit feedback), not both"
        )
    n = len(columns[user])
    if n == 0:
        raise DataError(f"the {source} has no rows; interactions need at least one")

    if rating_scale is not None:
        lo, hi = (float(x) for x in rating_scale)
        if not lo < hi:
            raise DataError(f"rating_scale must be (low, high) with low < high, got {rating_scale}")
        rating_scale = (lo, hi)
    if rating is not None:
        kind: Kind = "explicit"
        vals = _numeric(columns[rating], rating, locate)
        if rating_scale is not None:
            rows = _flagged((vals < rating_scale[0]) | (vals > rating_scale[1]))
            if len(rows):
                raise DataError(
                    f"column {rating!r} has {len(rows)} rating(s) outside the declared scale "
                    f"{rating_scale} ({locate(rows)}), e.g. {vals[rows[0]]:g}; fix them or "
                    "declare a wider rating_scale"
                )
    else:
        kind = "implicit"
        if weight is not None:
            vals = _numeric(columns[weight], weight, locate)
            rows = _flagged(vals < 0)
            if len(rows):
                raise DataError(
                    f"column {weight!r} has {len(rows)} negative weight(s) ({locate(rows)}), "
                    f"e.g. {vals[rows[0]]:g}; implicit weights must be >= 0"
                )
        else:
            vals = np.ones(n, dtype=np.float64)
    rows = _flagged(np.abs(vals) > _FLOAT32_MAX) if vals.dtype != np.float32 else []
    if len(rows):
        col = rating if rating is not None else weight
        raise DataError(
            f"column {col!r} has {len(rows)} value(s) too large for float32 ({locate(rows)}), "
            f"e.g. {vals[rows[0]]:g}; values are stored as float32 (|x| <= 3.4e38): rescale "
            "them (a log of play counts, say) first"
        )
    ts = None
    if timestamp is not None:
        ts = _timestamps(columns[timestamp], timestamp, locate)

    if user_vocab is None:
        users, u = Vocabulary.encode(columns[user], name="user")
    else:
        users, u = user_vocab, user_vocab.index(columns[user])
    if item_vocab is None:
        items, i = Vocabulary.encode(columns[item], name="item")
    else:
        items, i = item_vocab, item_vocab.index(columns[item])

    u, i, vals, ts, indptr = _sort_dedupe(
        u, i, vals, ts, len(items), duplicates, users, items, locate
    )
    # ids that were already inner ids (and already in order) come back as the caller's
    # own arrays: the container keeps copies, never the caller's memory
    if u is not None and np.may_share_memory(u, columns[user]):
        u = u.copy()
    i = i.copy() if np.may_share_memory(i, columns[item]) else i
    given = rating if rating is not None else weight
    if given is not None and np.may_share_memory(vals, columns[given]):
        vals = vals.copy()
    if ts is not None and np.may_share_memory(ts, columns[timestamp]):
        ts = ts.copy()
    return Interactions(
        u, i, vals, users=users, items=items, timestamps=ts, kind=kind,
        rating_scale=rating_scale, indptr=indptr,
    )  # fmt: skip


_FLOAT32_MAX = float(np.finfo(np.float32).max)


def _flagged(mask: np.ndarray) -> np.ndarray:
    """The rows a check flags (usually none). The mask, one byte per interaction, dies
    here instead of living on in the caller through the sort (100 MB at 100M
    interactions, at the build's peak)."""
    return np.flatnonzero(mask) if mask.any() else np.zeros(0, dtype=np.int64)


def _int64_times(num: np.ndarray, column: str, locate: Callable[[np.ndarray], str]) -> np.ndarray:
    """Float timestamps as int64, refusing what int64 cannot hold (it would wrap)."""
    bad = ~(np.abs(num) < 2.0**63)
    if bad.any():
        rows = np.flatnonzero(bad)
        raise DataError(
            f"column {column!r} has {len(rows)} timestamp(s) outside the int64 range "
            f"({locate(rows)}), e.g. {num[rows[0]]:g}; timestamps are seconds (or any "
            "integer clock) that fit in 64 bits"
        )
    return num.astype(np.int64)


def _timestamps(values: np.ndarray, column: str, locate: Callable[[np.ndarray], str]) -> np.ndarray:
    if values.dtype.kind == "M":
        return values.astype("datetime64[s]").astype(np.int64)
    if values.dtype.kind in "iu":
        if values.dtype.kind == "u" and len(values) and int(values.max()) > 2**63 - 1:
            return _int64_times(values.astype(np.float64), column, locate)
        return values.astype(np.int64, copy=False)
    if values.dtype.kind == "f":
        return _int64_times(_numeric(values, column, locate), column, locate)
    # strings: numbers first, then dates
    num = pd.to_numeric(pd.Series(values), errors="coerce")
    if not num.isna().any():
        num = num.to_numpy()
        if num.dtype.kind == "f":
            return _int64_times(num, column, locate)
        return _timestamps(num, column, locate)
    dt = pd.to_datetime(pd.Series(values), errors="coerce", utc=True)
    bad = np.flatnonzero(dt.isna().to_numpy())
    if len(bad):
        raise DataError(
            f"column {column!r} has {len(bad)} value(s) that are neither numbers nor dates "
            f"({locate(bad)}), e.g. {values[bad[0]]!r}"
        )
    return dt.dt.tz_localize(None).to_numpy().astype("datetime64[s]").astype(np.int64)


# above this many rows, sort ids by counting (numba, O(n)) rather than np.argsort
_COUNTING_SORT_ROWS = 1_000_000


def _sort_dedupe(u, i, vals, ts, n_items, policy, users, items, locate):
    """``(u, i, vals, ts, indptr)`` sorted by (user, item) with duplicates merged by
    ``policy``; ``u`` is None when ``indptr`` (the CSR row starts) stands for it."""
    n_items = max(n_items, 1)
    if len(u) < _COUNTING_SORT_ROWS:
        key = u.astype(np.int64) * np.int64(n_items) + i
        if len(key) > 1 and np.all(key[1:] > key[:-1]):
            return u, i, vals, ts, None
        order = np.argsort(key, kind="stable")
        key = key[order]
    else:  # O(n) passes in numba, no int64 key array unless there are repeated pairs
        from ..kernels.sorting import pairs_sorted_unique, sorted_pairs

        if pairs_sorted_unique(u, i):
            return u, i, vals, ts, None
        n_users = len(users)  # every inner id is below it (a given vocabulary may have more)
        if ts is None:  # the common case: one scatter carrying the values, like a CSR build
            ptr, cols, sorted_vals, repeats = sorted_pairs(u, i, vals, n_users, n_items)
            if repeats == 0:  # the users come as CSR row starts, not one id per row
                return None, cols, sorted_vals, None, ptr
            del ptr, cols, sorted_vals  # repeated pairs: the order-based path below
        # the same sort carrying the positions gives the (user, item) order itself
        positions = np.arange(len(u), dtype=np.int32 if len(u) < 2**31 else np.int64)
        _, _, order, repeats = sorted_pairs(u, i, positions, n_users, n_items)
        del positions
        if repeats == 0:
            return u[order], i[order], vals[order], None if ts is None else ts[order], None
        key = u[order].astype(np.int64) * np.int64(n_items) + i[order]
    same = key[1:] == key[:-1]
    if not same.any():
        return u[order], i[order], vals[order], None if ts is None else ts[order], None
    if policy == "raise":
        dup_keys = np.unique(key[1:][same])
        rows_first = order[np.searchsorted(key, dup_keys[:3])]
        pairs = ", ".join(
            f"({a!r}, {b!r})"
            for a, b in zip(users.raw[u[rows_first]].tolist(), items.raw[i[rows_first]].tolist())
        )
        raise DataError(
            f"{len(dup_keys)} duplicate (user, item) pair(s), e.g. {pairs}; choose how to "
            "merge them with duplicates='last', 'first', 'mean' or 'sum' (--duplicates on "
            "the command line)"
        )
    starts = np.flatnonzero(np.concatenate(([True], ~same)))
    ends = np.concatenate((starts[1:], [len(key)])) - 1
    if policy == "first":
        pick = order[starts]
        return u[pick], i[pick], vals[pick], None if ts is None else ts[pick], None
    if policy == "last":
        pick = order[ends]
        return u[pick], i[pick], vals[pick], None if ts is None else ts[pick], None
    sums = np.add.reduceat(vals[order].astype(np.float64), starts)
    if policy == "mean":
        sums = sums / (ends - starts + 1)
    pick = order[starts]
    new_ts = None if ts is None else np.maximum.reduceat(ts[order], starts)
    return u[pick], i[pick], sums, new_ts, None


def _csc(values: np.ndarray, rows: np.ndarray, indptr: np.ndarray, shape: tuple[int, int]):
    import scipy.sparse as sp

    if indptr[-1] < np.iinfo(np.int32).max:
        indptr = indptr.astype(np.int32)
    return sp.csc_matrix((values, rows, indptr), shape=shape, copy=False)


def _as_arrow_table(df: Any) -> Any:
    """A pyarrow Table from a pyarrow Table or a polars (or other Arrow-exporting) frame."""
    import pyarrow as pa

    if isinstance(df, pa.Table):
        return df
    if hasattr(df, "to_arrow"):  # polars DataFrame
        table = df.to_arrow()
        if isinstance(table, pa.Table):
            return table
    if hasattr(df, "__arrow_c_stream__"):
        return pa.table(df)
    raise DataError(
        f"expected a pandas or polars DataFrame or a pyarrow Table, got {type(df).__name__}"
    )
