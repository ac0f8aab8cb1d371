"""Learned state: what a fitted model holds, declared once, checked once.

A fitted model's user side lives in one immutable :class:`UserState` snapshot (ids,
factors, score vectors, biases, counts, seen items). Readers take the snapshot once per
call; adding users builds a new snapshot and swaps the reference under a lock
(copy-on-write), so a reader never sees ids without their factors or a half-written
row, and concurrent ``fold_in`` calls never lose each other's users.

The item side is fixed after ``fit``; :class:`ItemLayout` holds it laid out for scoring
(item factors transposed and contiguous, the bias as float32, norms, counts), built
once per fit or load and shared by ``recommend``, ``similar_items``, the ANN indexes
and the service.

:func:`check_state` validates a state mapping (from a trainer, a model file or a
distributed fit) against a model class: dtypes, byte order, shapes, finiteness and every
scalar; a failure is a :class:`~latentfactors.exceptions.DataError` naming the key.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..data.vocabulary import Vocabulary
from ..exceptions import DataError

__all__ = ["CORE_ARRAYS", "ItemLayout", "UserState", "check_state"]

#: the learned arrays every model has (state keys; attributes add a trailing ``_``)
CORE_ARRAYS = ("user_factors", "item_factors", "user_bias", "item_bias")
#: learned scalars every model has
CORE_SCALARS = ("global_mean", "intercept", "rating_scale", "random_state", "n_train", "history")
#: optional scalars
OPTIONAL_SCALARS = ("best_epoch", "reg_search")


@dataclass(frozen=True)
class UserState:
    """One consistent snapshot of everything a model knows per user.

    The arrays are views of the first ``n`` rows of buffers that may have spare
    capacity; :meth:`with_users` writes only rows that no published snapshot shows (or
    copies first), so a snapshot never changes under its reader.
    """

    users: Vocabulary
    n: int
    f_buf: np.ndarray  # learned user factors, float32 (capacity, k)
    v_buf: np.ndarray | None  # score vectors when they differ from the factors (SVD++)
    b_buf: np.ndarray  # user biases, float32 (capacity,)
    c_buf: np.ndarray  # interactions per user, int64 (capacity,)
    seen_rows: SeenRows | None = None
    #: rows of the buffers claimed so far, shared by the snapshots that share them: a
    #: snapshot may append in place only if nobody appended past its ``n`` (a shallow
    #: copy of a model shares its snapshot, and must not write over the other's users)
    claim: list = field(default_factory=lambda: [0], compare=False, repr=False)
    _cache: dict = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def build(cls, users, factors, vectors, bias, counts, seen) -> UserState:
        return cls(
            users, len(users), factors, None if vectors is None or vectors is factors else vectors,
            bias, np.asarray(counts, np.int64), None if seen is None else SeenRows.from_csr(seen),
            [len(users)],
        )  # fmt: skip

    @property
    def factors(self) -> np.ndarray:
        return self.f_buf[: self.n]

    @property
    def vectors(self) -> np.ndarray:
        return (self.f_buf if self.v_buf is None else self.v_buf)[: self.n]

    @property
    def bias(self) -> np.ndarray:
        return self.b_buf[: self.n]

    @property
    def counts(self) -> np.ndarray:
        return self.c_buf[: self.n]

    @property
    def shared(self) -> bool:
        """Whether the score vectors are the factors themselves (all but SVD++)."""
        return self.v_buf is None

    @property
    def seen(self) -> Any:
        """Seen items as one CSR matrix (None when not kept), built once per snapshot."""
        if self.seen_rows is None:
            return None
        if "csr" not in self._cache:
            self._cache["csr"] = self.seen_rows.csr()
        return self._cache["csr"]

    def seen_of(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """``(indptr, indices)`` of the seen items of ``rows``; None when not kept."""
        return None if self.seen_rows is None else self.seen_rows.rows(rows)

    def with_users(self, raw, factors, vectors, bias, seen_csr) -> UserState:
        """A new snapshot with these users added (or refreshed, for known ids).

        New users are appended in place past ``n`` (amortised O(new rows)); refreshing a
        known user copies the arrays first, since published snapshots show that row.
        """
        pos = self.users.index(raw, missing="ignore")
        new = pos < 0
        users = self.users.extend(raw[new]) if new.any() else self.users
        n_new = len(users)
        counts = np.diff(seen_csr.indptr).astype(np.int64)
        refresh = not new.all()
        # in place only past every published row: not when refreshing a known user (its
        # row is visible) and not when another snapshot already appended past ours
        in_place = not refresh and self.claim[0] == self.n
        bufs = []
        for buf in (self.f_buf, self.v_buf, self.b_buf, self.c_buf):
            if buf is None:
                bufs.append(None)
            elif not in_place:  # copy-on-write: old snapshots keep the old rows
                out = np.zeros((max(n_new, len(buf)), *buf.shape[1:]), buf.dtype)
                out[: self.n] = buf[: self.n]
                bufs.append(out)
            else:
                bufs.append(_grow(buf, self.n, n_new))
        f, v, b, c = bufs
        same = in_place and f is self.f_buf
        claim = self.claim if same else [n_new]
        claim[0] = n_new
        pos = users.index(raw)
        f[pos] = factors
        if v is not None:
            v[pos] = vectors
        b[pos] = bias
        c[pos] = counts
        seen = self.seen_rows
        if seen is not None:
            if refresh:
                seen = SeenRows.from_csr(_replace_rows(seen.csr(), pos, seen_csr, n_new))
            else:
                seen = seen.append(seen_csr)
        return UserState(users, n_new, f, v, b, c, seen, claim)


def _replace_rows(old: Any, pos: np.ndarray, fresh: Any, n_rows: int) -> Any:
    """``old`` (padded to ``n_rows`` rows) with rows ``pos`` replaced by ``fresh``'s."""
    import scipy.sparse as sp

    pad = sp.csr_matrix((n_rows - old.shape[0], old.shape[1]), dtype=old.dtype)
    both = sp.vstack([old, pad, fresh.astype(old.dtype)], format="csr")
    order = np.arange(n_rows)
    order[pos] = n_rows + np.arange(len(pos))
    out = both[order]
    out.sort_indices()
    return out


@dataclass(frozen=True)
class ItemLayout:
    """Item factors laid out for scoring, built once per fit or load."""

    factors: np.ndarray  # (n_items, k) float32, C order
    factors_t: np.ndarray  # (k, n_items) float32, C order: ``U @ factors_t`` is a GEMM
    bias: np.ndarray  # (n_items,) float32, or empty when every bias is 0
    norms: np.ndarray  # (n_items,) float64 L2 norms (0 replaced by 1)
    counts: np.ndarray  # (n_items,) int64 training interactions per item

    @classmethod
    def build(cls, factors: np.ndarray, bias: np.ndarray, counts: np.ndarray) -> ItemLayout:
        Q = np.ascontiguousarray(factors, dtype=np.float32)
        b = np.ascontiguousarray(bias, dtype=np.float32)
        norms = np.linalg.norm(Q.astype(np.float64), axis=1) if Q.shape[1] else np.ones(len(Q))
        norms[norms == 0] = 1.0
        return cls(
            Q, np.ascontiguousarray(Q.T), b if np.any(b) else np.zeros(0, np.float32), norms,
            np.asarray(counts, dtype=np.int64),
        )  # fmt: skip


# ---------------------------------------------------------------------- validation
def _array(state: dict[str, Any], key: str, ndim: int, kind: str = "f") -> np.ndarray:
    a = state.get(key)
    if not isinstance(a, np.ndarray):
        raise DataError(f"learned state {key!r} must be a NumPy array, got {type(a).__name__}")
    if a.ndim != ndim:
        raise DataError(f"learned state {key!r} must be {ndim}-d, got shape {a.shape}")
    if kind == "f64":  # float32 or float64 kept as float64 (small, exactness matters)
        if a.dtype.kind != "f" or a.dtype.itemsize not in (4, 8):
            raise DataError(f"learned state {key!r} must be float32 or float64, got {a.dtype}")
        a = np.ascontiguousarray(a, dtype=np.float64)
        if not np.isfinite(a).all():
            raise DataError(f"learned state {key!r} holds NaN or infinite values")
    elif kind == "f":
        if a.dtype.kind != "f" or a.dtype.itemsize != 4:
            raise DataError(
                f"learned state {key!r} must be float32, got {a.dtype}; convert it with "
                ".astype(np.float32)"
            )
        a = np.ascontiguousarray(a, dtype=np.float32)  # native byte order, C order
        if not np.isfinite(a).all():
            raise DataError(f"learned state {key!r} holds NaN or infinite values")
    else:
        if a.dtype.kind not in "iu":
            raise DataError(f"learned state {key!r} must hold integers, got {a.dtype}")
        a = np.ascontiguousarray(a, dtype=np.int64)
        if len(a) and a.min() < 0:
            raise DataError(f"learned state {key!r} holds negative counts")
    return a


def _number(state: dict[str, Any], key: str) -> float:
    v = state.get(key)
    if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(float(v)):
        raise DataError(f"learned state {key!r} must be a finite number, got {v!r}")
    return float(v)


def _check_seen_entries(seen, implicit: bool):
    """Every entry of a seen-items CSR from outside (a file, a caller's state): valid
    structure, no item twice in a row, finite values (non-negative when implicit);
    returns it with sorted indices."""
    try:
        seen.check_format(full_check=True)
    except (ValueError, TypeError) as exc:
        raise DataError(f"the seen-items matrix is invalid ({exc})") from None
    if not seen.has_sorted_indices:
        seen = seen.sorted_indices()
    if len(seen.indices) > 1:
        ptr = np.asarray(seen.indptr, dtype=np.int64)
        step = np.diff(seen.indices.astype(np.int64))
        inner = np.ones(len(step), dtype=bool)
        inner[ptr[1:-1][(ptr[1:-1] > 0) & (ptr[1:-1] < len(seen.indices))] - 1] = False
        if (step[inner] == 0).any():
            raise DataError("the seen-items matrix lists an item twice in one user's row")
    if not np.isfinite(seen.data).all():
        raise DataError("the seen-items matrix holds NaN or infinite values")
    if implicit and len(seen.data) and seen.data.min() < 0:
        raise DataError("the seen-items matrix of an implicit model holds negative weights")
    return seen


def check_state(
    state: dict[str, Any], extra_arrays: dict[str, str], implicit: bool,
    trusted_seen: bool = False, optional: tuple[str, ...] = (),
) -> dict[str, Any]:  # fmt: skip
    """A checked copy of ``state`` (arrays native float32 / int64, C order).

    ``extra_arrays`` maps a class's own learned arrays to their row dimension:
    ``"items"`` (n_items x k), ``"factors"`` (k,), ``"users"`` (n_users x k) or
    ``"item"`` (one number per item, ``(n_items,)``).
    ``optional``: extra arrays a state may lack (a class's ``extra_state_added``); they
    are then zeros, as in a model file written before them.
    ``trusted_seen``: the seen-items CSR is the training container's own (sorted, unique,
    finite by construction), so only its type and shape are checked, not each entry
    (at 100M interactions those passes took 5 s and 1.6 GB of temporaries).
    """
    import scipy.sparse as sp

    if not isinstance(state, dict):
        raise DataError(f"learned state must be a dict, got {type(state).__name__}")
    out: dict[str, Any] = {}
    for what in ("users", "items"):
        vocab = state.get(what)
        if not isinstance(vocab, Vocabulary):
            raise DataError(f"learned state {what!r} must be a Vocabulary")
        out[what] = vocab
    n_users, n_items = len(out["users"]), len(out["items"])
    U = out["user_factors"] = _array(state, "user_factors", 2)
    Q = out["item_factors"] = _array(state, "item_factors", 2)
    k = Q.shape[1]
    if U.shape != (n_users, k) or Q.shape[0] != n_items:
        raise DataError(
            f"factor shapes {U.shape} (users) and {Q.shape} (items) do not match {n_users} "
            f"users, {n_items} items and one number of factors"
        )
    out["user_bias"] = _array(state, "user_bias", 1)
    out["item_bias"] = _array(state, "item_bias", 1)
    if out["user_bias"].shape != (n_users,) or out["item_bias"].shape != (n_items,):
        raise DataError(
            f"bias shapes {out['user_bias'].shape}, {out['item_bias'].shape} do not match "
            f"{n_users} users and {n_items} items"
        )
    if state.get("user_vectors") is not None:
        V = _array(state, "user_vectors", 2)
        if V.shape != U.shape:
            raise DataError(f"user_vectors {V.shape} does not match user_factors {U.shape}")
        out["user_vectors"] = V
    for key, dim in extra_arrays.items():
        ndim = 1 if dim in ("factors", "item") else 2
        want = {"items": (n_items, k), "users": (n_users, k), "factors": (k,),
                "item": (n_items,)}[dim]  # fmt: skip
        if state.get(key) is None and key in optional:
            out[key] = np.zeros(want, dtype=np.float64 if dim == "factors" else np.float32)
            continue
        a = _array(state, key, ndim, kind="f64" if dim == "factors" else "f")
        if a.shape != want:
            raise DataError(f"learned state {key!r} has shape {a.shape}, expected {want}")
        out[key] = a
    for key, n in (("user_counts", n_users), ("item_counts", n_items)):
        if state.get(key) is not None:
            c = _array(state, key, 1, kind="i")
            if c.shape != (n,):
                raise DataError(f"learned state {key!r} has shape {c.shape}, expected ({n},)")
            out[key] = c
    seen = state.get("user_items")
    if seen is not None:
        if not (sp.issparse(seen) and seen.format == "csr"):
            raise DataError(f"learned state 'user_items' must be a CSR matrix or None, got "
                            f"{type(seen).__name__}")  # fmt: skip
        if seen.shape != (n_users, n_items):
            raise DataError(
                f"the seen-items matrix is {seen.shape}, but there are {n_users} users and "
                f"{n_items} items"
            )
        if not trusted_seen:
            seen = _check_seen_entries(seen, implicit)
        elif not seen.has_sorted_indices:  # one linear pass in C; readers rely on it
            seen = seen.sorted_indices()
        out["user_items"] = seen
        # item counts are the training counts (fold-in leaves them), so only users' agree
        if "user_counts" in out and not np.array_equal(out["user_counts"], np.diff(seen.indptr)):
            raise DataError("learned state 'user_counts' disagrees with the seen-items matrix")
    elif state.get("user_counts") is None or state.get("item_counts") is None:
        raise DataError(
            "learned state without 'user_items' (seen items) needs 'user_counts' and 'item_counts'"
        )
    # scalars
    mean, intercept = _number(state, "global_mean"), _number(state, "intercept")
    if implicit and (mean != 0.0 or intercept != 0.0):
        raise DataError("an implicit model's global_mean and intercept must be 0")
    out["global_mean"], out["intercept"] = mean, intercept
    scale = state.get("rating_scale")
    if scale is not None:
        if not (
            isinstance(scale, (tuple, list))
            and len(scale) == 2
            and all(isinstance(x, numbers.Real) and not isinstance(x, bool) for x in scale)
            and all(math.isfinite(float(x)) for x in scale)
            and float(scale[0]) <= float(scale[1])
        ):
            raise DataError(
                f"learned state 'rating_scale' must be None or (low, high) with low <= high, "
                f"got {scale!r}"
            )
        scale = (scale[0], scale[1])
        if implicit:
            raise DataError("an implicit model has no rating scale")
    out["rating_scale"] = scale
    seed = state.get("random_state")
    if type(seed) is not int or not 0 <= seed < 2**63:
        raise DataError(f"learned state 'random_state' must be an integer >= 0, got {seed!r}")
    out["random_state"] = seed
    n_train = state.get("n_train")
    if type(n_train) is not int or n_train < 0:
        raise DataError(f"learned state 'n_train' must be an integer >= 0, got {n_train!r}")
    out["n_train"] = n_train
    history = state.get("history", {})
    if not (
        isinstance(history, dict)
        and all(isinstance(k_, str) and isinstance(v, list) for k_, v in history.items())
        and all(x is None or (isinstance(x, numbers.Real) and not isinstance(x, bool))
                for v in history.values() for x in v)
        and len({len(v) for v in history.values()}) <= 1
    ):  # fmt: skip
        raise DataError(
            "learned state 'history' must map names to lists of numbers (or None), one "
            "entry per epoch"
        )
    out["history"] = history
    best = state.get("best_epoch")
    if best is not None:
        n_epochs = len(history.get("epoch", []))
        if type(best) is not int or best < 0 or (n_epochs and best > n_epochs):
            raise DataError(
                f"learned state 'best_epoch' must be an epoch that ran (0..{n_epochs}), got "
                f"{best!r}"
            )
        out["best_epoch"] = best
    search = state.get("reg_search")
    if search is not None:
        out["reg_search"] = _check_reg_search(search)
    return out


def _check_reg_search(search: Any) -> dict[str, Any]:
    """ImplicitALS's record of its reg search: candidates, one score (or None) each, the
    chosen value (> 0, finite), and what it was scored on."""

    def positive(x: Any) -> bool:
        return isinstance(x, numbers.Real) and not isinstance(x, bool) and 0 < x < float("inf")

    ok = (
        isinstance(search, dict)
        and isinstance(search.get("candidates"), list) and len(search["candidates"]) > 0
        and all(positive(c) for c in search["candidates"])
        and all(isinstance(search.get(key), list) and len(search[key]) == len(search["candidates"])
                and all(x is None or (isinstance(x, numbers.Real) and not isinstance(x, bool))
                        for x in search[key])
                for key in ("scores", "standard_errors"))
        and positive(search.get("chosen"))
        and isinstance(search.get("metric"), str)
        and all(type(search.get(k)) is int and search[k] >= 0
                for k in ("validation_users", "validation_interactions"))
        and set(search) == {"candidates", "scores", "standard_errors", "chosen", "metric",
                            "validation_users", "validation_interactions"}
    )  # fmt: skip
    if not ok:
        raise DataError(
            "learned state 'reg_search' must be a dict of candidates (numbers > 0), scores "
            "and standard_errors (one number or None each), chosen (a number > 0), metric (text), "
            "validation_users and validation_interactions (integers >= 0)"
        )
    return {**search, "candidates": [float(c) for c in search["candidates"]],
            "scores": [None if x is None else float(x) for x in search["scores"]],
            "standard_errors": [None if x is None else float(x)
                                for x in search["standard_errors"]],
            "chosen": float(search["chosen"])}  # fmt: skip


# ---------------------------------------------------------------------- growing user state
def _grow(buf: np.ndarray, n: int, need: int) -> np.ndarray:
    """``buf`` when it has room for ``need`` rows, else a copy of its first ``n`` rows in a
    buffer with doubled capacity. Rows ``>= n`` of a shared buffer are invisible to every
    published snapshot (their views stop at their own ``n``), so appending there is safe."""
    if need <= len(buf):
        return buf
    cap = max(need, 2 * len(buf), 16)
    out = np.zeros((cap, *buf.shape[1:]), dtype=buf.dtype)
    out[:n] = buf[:n]
    return out


@dataclass(frozen=True)
class SeenRows:
    """Seen items per user: the training CSR plus rows appended by fold-in.

    Appended rows live in capacity buffers shared by successive snapshots (each sees only
    its own ``n_extra`` rows), so adding a user costs O(its items), not O(all items).
    """

    base: Any  # CSR (n_base, n_items)
    ptr: np.ndarray  # int64 (capacity + 1,): offsets of appended rows
    idx: np.ndarray  # int32 (capacity_nnz,)
    val: np.ndarray  # float32 (capacity_nnz,)
    n_extra: int = 0
    #: appended rows claimed in these buffers (shared, as UserState.claim)
    claim: list = field(default_factory=lambda: [0], compare=False, repr=False)

    @classmethod
    def from_csr(cls, csr: Any) -> SeenRows:
        return cls(csr, np.zeros(1, np.int64), np.zeros(0, np.int32), np.zeros(0, np.float32),
                   0, [0])  # fmt: skip

    @property
    def n_rows(self) -> int:
        return self.base.shape[0] + self.n_extra

    def append(self, csr: Any) -> SeenRows:
        """A new snapshot with the rows of ``csr`` appended (self stays valid)."""
        m, nnz = csr.shape[0], int(self.ptr[self.n_extra])
        add = int(csr.indptr[-1])
        ptr, idx, val = self.ptr, self.idx, self.val
        if self.claim[0] != self.n_extra:  # another snapshot appended past ours: copy
            ptr, idx, val = ptr[: self.n_extra + 1].copy(), idx[:nnz].copy(), val[:nnz].copy()
        ptr = _grow(ptr, self.n_extra + 1, self.n_extra + 1 + m)
        idx = _grow(idx, nnz, nnz + add)
        val = _grow(val, nnz, nnz + add)
        ptr[self.n_extra + 1 : self.n_extra + 1 + m] = nnz + np.asarray(csr.indptr[1:], np.int64)
        idx[nnz : nnz + add] = csr.indices
        val[nnz : nnz + add] = csr.data
        claim = self.claim if ptr is self.ptr else [0]
        claim[0] = self.n_extra + m
        return SeenRows(self.base, ptr, idx, val, self.n_extra + m, claim)

    def rows(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """CSR ``(indptr, indices)`` of the given user rows, in order."""
        rows = np.asarray(rows, dtype=np.int64)
        nb = self.base.shape[0]
        if self.n_extra == 0 or (len(rows) and rows.max() < nb):
            sub = self.base[rows]
            return sub.indptr.astype(np.int64), sub.indices.astype(np.int32)
        bptr = np.asarray(self.base.indptr, np.int64)
        in_base = rows < nb
        start = np.where(in_base, bptr[np.minimum(rows, nb - 1)] if nb else 0, 0)
        end = np.where(in_base, bptr[np.minimum(rows, nb - 1) + 1] if nb else 0, 0)
        er = np.maximum(rows - nb, 0)
        start = np.where(in_base, start, self.ptr[er])
        end = np.where(in_base, end, self.ptr[er + 1])
        lens = end - start
        out_ptr = np.zeros(len(rows) + 1, np.int64)
        np.cumsum(lens, out=out_ptr[1:])
        pos = np.arange(out_ptr[-1]) - np.repeat(out_ptr[:-1] - start, lens)
        src_base = np.repeat(in_base, lens)
        out = np.empty(len(pos), np.int32)
        out[src_base] = self.base.indices[pos[src_base]]
        out[~src_base] = self.idx[pos[~src_base]]
        return out_ptr, out

    def csr(self) -> Any:
        """All rows as one CSR matrix (built on demand)."""
        if self.n_extra == 0:
            return self.base
        import scipy.sparse as sp

        nnz = int(self.ptr[self.n_extra])
        extra = sp.csr_matrix(
            (self.val[:nnz], self.idx[:nnz], self.ptr[: self.n_extra + 1]),
            shape=(self.n_extra, self.base.shape[1]),
        )
        out = sp.vstack([self.base, extra], format="csr")
        out.sort_indices()
        return out
