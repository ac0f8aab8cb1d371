"""Functions that run inside Dask tasks: plain NumPy in, plain NumPy out.

Nothing here imports dask, so a task pickles by reference to this module and a worker
only needs latentfactors installed. Every task is pure: inputs are never modified
(Dask may hand the same input object to several tasks, and re-runs a task after a
worker dies), so a retried task returns exactly what the first attempt would have.

Every task that calls a numba kernel runs it under :func:`_threads`, which sets numba's
thread count to the worker's ``nthreads`` (Dask does not) and keeps BLAS on one thread.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd

from ..data.interactions import _numeric, _rows_text
from ..data.vocabulary import Vocabulary, _as_id_array
from ..exceptions import DataError

# ---------------------------------------------------------------------- threads


def _worker_threads() -> int | None:
    try:
        from distributed import get_worker

        return int(get_worker().state.nthreads)
    except (ImportError, ValueError, AttributeError):  # not inside a worker
        return None


@contextlib.contextmanager
def _threads() -> Iterator[None]:
    """numba threads = the worker's ``nthreads``; BLAS single-threaded meanwhile."""
    from .._runtime import limit_threads

    with limit_threads(_worker_threads()):
        yield


# ---------------------------------------------------------------------- data pass 1


def _locate(p: int):
    return lambda rows: f"partition {p}, rows {_rows_text(rows)}"


def _check_ids(values: np.ndarray, column: str, name: str, p: int) -> np.ndarray:
    arr = _as_id_array(values)
    missing = pd.isna(pd.Series(arr)).to_numpy()
    if missing.any():
        rows = np.flatnonzero(missing)
        raise DataError(
            f"{name} column {column!r} has {len(rows)} missing ids (partition {p}, rows "
            f"{_rows_text(rows)}); drop or fill them first"
        )
    return arr


def partition_values(
    df: pd.DataFrame, p: int, value_col: str | None, kind: str, scale: tuple[float, float] | None
) -> np.ndarray:
    """The value column of one partition, validated as the single-machine path does."""
    if value_col is None:
        return np.ones(len(df), dtype=np.float64)
    vals = _numeric(df[value_col].to_numpy(), value_col, _locate(p))
    if kind == "explicit" and scale is not None:
        out = (vals < scale[0]) | (vals > scale[1])
        if out.any():
            rows = np.flatnonzero(out)
            raise DataError(
                f"column {value_col!r} has {len(rows)} rating(s) outside the declared scale "
                f"{scale} (partition {p}, rows {_rows_text(rows)}), e.g. {vals[rows[0]]:g}; "
                "fix them or declare a wider rating_scale"
            )
    if kind == "implicit":
        neg = vals < 0
        if neg.any():
            rows = np.flatnonzero(neg)
            raise DataError(
                f"column {value_col!r} has {len(rows)} negative weight(s) (partition {p}, rows "
                f"{_rows_text(rows)}), e.g. {vals[rows[0]]:g}; implicit weights must be >= 0"
            )
    return vals


def partition_stats(
    df: pd.DataFrame, p: int, user: str, item: str, value_col: str | None, kind: str,
    scale: tuple[float, float] | None,
) -> dict[str, Any]:  # fmt: skip
    """Validate one partition; its unique ids, row count, value sum, min and max."""
    u = _check_ids(df[user].to_numpy(), user, "user", p)
    i = _check_ids(df[item].to_numpy(), item, "item", p)
    vals = partition_values(df, p, value_col, kind, scale)
    n = len(df)
    v32 = vals.astype(np.float32)
    return {
        "n": n,
        "users": pd.unique(u),
        "items": pd.unique(i),
        # the single-machine mean is over the float32 values, in float64
        "sum": float(v32.sum(dtype=np.float64)) if n else 0.0,
        "min": float(v32.min()) if n else np.inf,
        "max": float(v32.max()) if n else -np.inf,
    }


def summary(stats: dict[str, Any]) -> tuple[int, float, float, float]:
    return stats["n"], stats["sum"], stats["min"], stats["max"]


def merge_ids(name: str, *parts: np.ndarray) -> Vocabulary:
    """The sorted union of unique ids (arrays or vocabularies): the vocabulary
    ``Vocabulary.encode`` builds from all the rows."""
    parts = tuple(p.raw if isinstance(p, Vocabulary) else p for p in parts)
    nonempty = [np.asarray(p) for p in parts if len(p)]
    if not nonempty:
        return Vocabulary(np.empty(0, dtype=np.int64), name=name)
    if any(p.dtype == object for p in nonempty):
        nonempty = [p.astype(object) for p in nonempty]
    allids = np.concatenate(nonempty)
    uniq = pd.unique(allids)
    try:
        uniq = np.sort(uniq)
    except TypeError as exc:
        raise DataError(
            f"{name} ids mix types that cannot be sorted (e.g. numbers and strings); "
            "convert the column to one type (e.g. .astype(str)) first"
        ) from exc
    return Vocabulary(uniq, name=name)


# ---------------------------------------------------------------------- data pass 2


def encode_partition(
    df: pd.DataFrame, p: int, user: str, item: str, value_col: str | None, kind: str,
    scale: tuple[float, float] | None, users: Vocabulary, items: Vocabulary,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """One partition as inner ids: ``(user int32, item int32, value float32)``."""
    u = users.index(_as_id_array(df[user].to_numpy()))
    i = items.index(_as_id_array(df[item].to_numpy()))
    v = partition_values(df, p, value_col, kind, scale).astype(np.float32)
    return u, i, v


def part_counts(part, n_users: int, n_items: int) -> tuple[np.ndarray, np.ndarray]:
    u, i, _ = part
    return np.bincount(u, minlength=n_users), np.bincount(i, minlength=n_items)


def sum_counts(*counts: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    cu = np.sum([c[0] for c in counts], axis=0, dtype=np.int64)
    ci = np.sum([c[1] for c in counts], axis=0, dtype=np.int64)
    return cu, ci


# ---------------------------------------------------------------------- layouts


def split_by_range(part, side: int, bounds: np.ndarray) -> list[tuple[np.ndarray, ...]]:
    """Rows of one partition split into blocks of contiguous user (side 0) or item
    (side 1) ranges ``bounds[b] .. bounds[b + 1]`` (row order kept)."""
    key = part[side]
    blk = np.searchsorted(bounds, key, side="right") - 1
    order = np.argsort(blk, kind="stable")
    cuts = np.searchsorted(blk[order], np.arange(len(bounds)))
    out = []
    for b in range(len(bounds) - 1):
        sel = order[cuts[b] : cuts[b + 1]]
        out.append(tuple(a[sel] for a in part))
    return out


def split_by_grid(part, groups: dict[str, np.ndarray], n_blocks: int) -> list[tuple]:
    """Rows of one partition split into the ``B x B`` blocks of stratified SGD."""
    u, i, _ = part
    blk = groups["user_group"][u].astype(np.int64) * n_blocks + groups["item_group"][i]
    order = np.argsort(blk, kind="stable")
    cuts = np.searchsorted(blk[order], np.arange(n_blocks * n_blocks + 1))
    return [tuple(a[order[cuts[b] : cuts[b + 1]]] for a in part) for b in range(n_blocks**2)]


def _sorted_unique(rows: np.ndarray, cols: np.ndarray, n_cols: int, raw_rows, raw_cols,
                   side: int, users: Vocabulary, items: Vocabulary) -> np.ndarray:  # fmt: skip
    """The order that sorts (rows, cols); raises DataError on a duplicate pair."""
    key = rows.astype(np.int64) * np.int64(max(n_cols, 1)) + cols
    order = np.argsort(key, kind="stable")
    key = key[order]
    same = np.flatnonzero(key[1:] == key[:-1])
    if len(same):
        first = order[same[:3]]
        us, its = (raw_rows, raw_cols) if side == 0 else (raw_cols, raw_rows)
        pairs = ", ".join(
            f"({a!r}, {b!r})"
            for a, b in zip(users.ids(us[first]).tolist(), items.ids(its[first]).tolist())
        )
        n_dup = len(np.unique(key[1:][key[1:] == key[:-1]]))
        raise DataError(
            f"{n_dup} duplicate (user, item) pair(s), e.g. {pairs}; the distributed fit "
            "needs unique pairs: merge them first (e.g. ddf.groupby([user, item]).last())"
        )
    return order


def build_rows(
    side: int, lo: int, hi: int, n_cols: int, users: Vocabulary, items: Vocabulary, *pieces
) -> dict[str, np.ndarray]:
    """One block of rows ``lo .. hi`` (users for side 0, items for side 1) as a CSR with
    sorted columns: ``ptr`` (int64), ``idx`` (int32 columns), ``val`` (float32)."""
    pieces = [p for p in pieces if len(p[0])]
    if pieces:
        u, i, v = (np.concatenate([p[k] for p in pieces]) for k in range(3))
    else:
        u, i, v = (np.empty(0, np.int32), np.empty(0, np.int32), np.empty(0, np.float32))
    rows, cols = (u, i) if side == 0 else (i, u)
    local = (rows - lo).astype(np.int32)
    order = _sorted_unique(local, cols, n_cols, u, i, side, users, items)
    ptr = np.zeros(hi - lo + 1, dtype=np.int64)
    np.cumsum(np.bincount(local, minlength=hi - lo), out=ptr[1:])
    return {"ptr": ptr, "idx": np.ascontiguousarray(cols[order]), "val": v[order]}


def build_grid_block(
    b: int, g: int, groups: dict[str, np.ndarray], n_items: int, users: Vocabulary,
    items: Vocabulary, *pieces,
) -> dict[str, np.ndarray]:  # fmt: skip
    """Block ``(b, g)`` for stratified SGD, in the order the single-machine layout has
    (by user, then item, as ``Interactions`` sorts its rows), with ids local to the
    user group ``b`` and item group ``g`` (training-id ranges)."""
    pieces = [p for p in pieces if len(p[0])]
    if pieces:
        u, i, v = (np.concatenate([p[k] for p in pieces]) for k in range(3))
    else:
        u, i, v = (np.empty(0, np.int32), np.empty(0, np.int32), np.empty(0, np.float32))
    order = _sorted_unique(u, i, n_items, u, i, 0, users, items)
    u, i, v = u[order], i[order], v[order]
    users_l = (groups["user_new"][u] - groups["user_group_ptr"][b]).astype(np.int32)
    items_l = (groups["item_new"][i] - groups["item_group_ptr"][g]).astype(np.int32)
    return {"users": users_l, "items": items_l, "ratings": v}


def stratify_groups(counts, n_blocks: int, seed: int) -> dict[str, np.ndarray]:
    """The user and item groups of the single-machine ``stratify`` (same seeded draws)."""
    from ..models._strata import _groups

    rng = np.random.default_rng([seed, 7])
    user_order, user_new, user_ptr, user_group = _groups(counts[0], n_blocks, rng)
    item_order, item_new, item_ptr, item_group = _groups(counts[1], n_blocks, rng)
    return {
        "user_order": user_order, "user_new": user_new, "user_group_ptr": user_ptr,
        "user_group": user_group, "item_order": item_order, "item_new": item_new,
        "item_group_ptr": item_ptr, "item_group": item_group,
    }  # fmt: skip


def nbytes(obj: Any) -> int:
    if isinstance(obj, np.ndarray):
        return int(obj.nbytes)
    if isinstance(obj, dict):
        return sum(nbytes(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return sum(nbytes(v) for v in obj)
    return 0


# ---------------------------------------------------------------------- ALS


def prepare_als(block: dict[str, np.ndarray], mu: float, reg: float, reg_bias: float,
                weighted: bool, cg: bool = False) -> dict[str, Any]:  # fmt: skip
    """What the explicit ALS half-step needs of a block (as ``_ALSTrainer`` builds it):
    centred ratings as float32 for the CG solver (``cg``) or float64 for the exact one."""
    ptr = block["ptr"]
    counts = np.diff(ptr)
    scale = np.maximum(counts, 1).astype(np.float64) if weighted else np.ones(len(counts))
    out = {
        "ptr": ptr, "idx": block["idx"], "r32": block["val"],
        "target": None if cg else block["val"].astype(np.float64) - mu,
        "target32": (block["val"].astype(np.float64) - mu).astype(np.float32) if cg else None,
        "lam_f": float(reg) * scale, "lam_b": float(reg_bias) * scale,
    }  # fmt: skip
    return out


def als_drop_users(block: dict[str, np.ndarray], lo: int, rows: np.ndarray,
                   offsets: np.ndarray) -> tuple[dict[str, np.ndarray], tuple]:  # fmt: skip
    """The raw user block (its row 0 is user ``lo``) without the reg search's validation
    ratings (the ``offsets``-th of users ``rows``), and those ratings as
    ``(users, items, ratings)``."""
    from ..models._regsearch import without

    pos = block["ptr"][rows - lo] + offsets
    ptr, (idx, val) = without(block["ptr"], [block["idx"], block["val"]], pos)
    return {"ptr": ptr, "idx": idx, "val": val}, (rows, block["idx"][pos], block["val"][pos])


def als_drop_items(block: dict[str, np.ndarray], lo: int, items: np.ndarray,
                   users: np.ndarray) -> dict[str, np.ndarray]:  # fmt: skip
    """The raw item block (its row 0 is item ``lo``) without the ratings ``(items, users)``."""
    from ..kernels.ials import locate_entries
    from ..models._regsearch import without

    pos = locate_entries(block["ptr"], block["idx"], (items - lo).astype(np.int64),
                         users.astype(np.int32))  # fmt: skip
    if (pos < 0).any():  # pragma: no cover - the two sides hold the same entries
        raise RuntimeError("ALS: a validation rating is missing on the item side")
    ptr, (idx, val) = without(block["ptr"], [block["idx"], block["val"]], pos)
    return {"ptr": ptr, "idx": idx, "val": val}


def als_half(block: dict[str, Any], fixed: tuple[np.ndarray, np.ndarray], biased: bool,
             loss: bool = False, mu: float = 0.0,
             warm: tuple[np.ndarray, np.ndarray] | None = None,
             cg_steps: int = 3) -> tuple[np.ndarray, np.ndarray, float]:  # fmt: skip
    """Solve the rows of one block against the fixed side ``(factors, bias)``.

    Without ``warm`` each row is solved exactly (``ridge_rows``, ``solver="exact"``);
    with ``warm`` (this block's current ``(factors, bias)``, copied) ``cg_steps``
    conjugate-gradient steps run from there (``ridge_cg_rows_offset``, ``solver="cg"``). With
    ``loss`` the block's sum of squared errors ``(r - mu - b_u - b_i - p.q)^2`` is
    returned too (else NaN): after the exact solve; for CG, where its steps start (the
    first pass computes it), as ``_ALSTrainer`` reports it.
    """
    from ..kernels import ridge

    F, fb = fixed
    with _threads():
        if warm is None:
            targets = block["target"] - fb[block["idx"]]
            X, b = ridge.ridge_rows(
                block["ptr"], block["idx"], targets, F, block["lam_f"], block["lam_b"], biased
            )
        else:  # as _ALSTrainer: float32 targets, the fixed side's biases taken off in the kernel
            X, b = warm[0].copy(), warm[1].copy()
            start_sse = ridge.ridge_cg_rows_offset(
                block["ptr"], block["idx"], block["target32"], fb, biased, F, X, b,
                block["lam_f"], block["lam_b"], biased, cg_steps,
            )  # fmt: skip
        sse = float("nan")
        if loss and warm is not None:  # as _ALSTrainer: the error the CG steps start from
            sse = float(start_sse)
        elif loss:
            sse = float(ridge.residual_sse(block["ptr"], block["idx"], block["r32"], X, F, b,
                                           fb, mu))  # fmt: skip
    return X, b, sse


# ---------------------------------------------------------------------- implicit ALS


def prepare_ials(block: dict[str, np.ndarray], scheme: str, alpha: float, epsilon: float,
                 threshold: float | None) -> dict[str, Any]:  # fmt: skip
    """What the implicit ALS half-step needs of a block (``threshold`` binarizes)."""
    from ..models.implicit import confidence

    ptr, idx, val = block["ptr"], block["idx"], block["val"]
    if threshold is not None:
        keep = val >= threshold
        rows = np.repeat(np.arange(len(ptr) - 1), np.diff(ptr))[keep]
        ptr = np.zeros_like(ptr)
        np.cumsum(np.bincount(rows, minlength=len(ptr) - 1), out=ptr[1:])
        idx = idx[keep]
        val = np.ones(len(idx), dtype=np.float32)
    with _threads():  # a numba kernel for large blocks
        conf = confidence(val, scheme, alpha, epsilon)
    return {"ptr": ptr, "idx": idx, "conf": conf}


def ials_penalty(block: dict[str, Any], reg: float, alpha0: float, nu: float,
                 n_other: int) -> dict[str, Any]:  # fmt: skip
    """The block with ``lam`` (``reg_scaling="frequency"``): each row's penalty
    ``reg * (n + alpha0 * n_other) ** nu`` from its count ``n`` (after ``threshold``),
    computed as ``ImplicitALS._row_reg`` computes it (float64, then float32)."""
    n = np.diff(block["ptr"]).astype(np.float64)
    lam = (float(reg) * (n + float(alpha0) * n_other) ** float(nu)).astype(np.float32)
    return {**block, "lam": lam}


def row_penalties(block: dict[str, Any]) -> np.ndarray:
    return block["lam"]


def row_counts(block: dict[str, Any]) -> np.ndarray:
    return np.diff(block["ptr"])


def ials_hold_out_users(block: dict[str, Any], lo: int, rows: np.ndarray,
                        offsets: np.ndarray) -> tuple[dict[str, Any], Any]:  # fmt: skip
    """The user block (its row 0 is user ``lo``) with the reg search's validation
    entries out, and the slice's part in it (a ``HeldOut``). The entries are the
    ``offsets``-th of users ``rows`` (ascending); out means confidence -1, which the
    kernels read as an unobserved cell. The confidences are a copy: the block itself is
    unchanged, for the fit that follows the search."""
    from ..models.implicit_als import HeldOut

    pos = block["ptr"][rows - lo] + offsets
    conf = block["conf"].copy()
    conf[pos] = -1.0
    return {**block, "conf": conf}, HeldOut.from_rows(block["ptr"], block["idx"], rows, pos, lo)


def ials_hold_out_items(block: dict[str, Any], lo: int, items: np.ndarray,
                        users: np.ndarray) -> dict[str, Any]:  # fmt: skip
    """The item block (its row 0 is item ``lo``) with the entries ``(items, users)`` out
    (confidence -1, in a copy of the confidences)."""
    from ..kernels.ials import locate_entries

    pos = locate_entries(block["ptr"], block["idx"], (items - lo).astype(np.int64),
                         users.astype(np.int32))  # fmt: skip
    if (pos < 0).any():  # pragma: no cover - the two sides hold the same entries
        raise RuntimeError("ImplicitALS: a validation entry is missing on the item side")
    conf = block["conf"].copy()
    conf[pos] = -1.0
    return {**block, "conf": conf}


def ials_half(
    block: dict[str, Any], X: np.ndarray, fixed: tuple[np.ndarray, np.ndarray], solver: str,
    cg_steps: int, block_size: int, loss_reg: float | None, n_free: int = -1,
) -> tuple[np.ndarray, float]:  # fmt: skip
    """Update the rows ``X`` (a copy) of one block against fixed ``(Y, YtY + reg I)`` by
    the model's ``solver`` (``ials_update``).

    With ``loss_reg`` the block's part of the training objective (undivided, without the
    item-side penalty) is returned too; else NaN. A block with per-row penalties
    (``lam``, ``reg_scaling="frequency"``; ``YtY`` is then ``Y^T Y`` alone) is solved by
    the ``*_rows`` kernels and its part of the objective carries ``lam[u] |x_u|^2``.
    ``n_free``: only the first ``n_free`` coordinates of each row move (-1: all). The
    held ones (ImplicitALS's column of ones under ``item_bias``) are left out of the
    per-row penalty here; with one ``loss_reg`` the part includes ``loss_reg`` times
    their squares, which the caller takes off once (``_user_penalty``).
    """
    from ..kernels import ials

    Y, YtY = fixed
    X = X.copy()
    lam = block.get("lam")
    ptr, idx, conf = block["ptr"], block["idx"], block["conf"]
    with _threads():
        ials.ials_update(ptr, idx, conf, X, Y, YtY, lam, solver, cg_steps, block_size, n_free)
        part = float("nan")
        if loss_reg is not None:
            nnz = max(len(idx), 1)
            if lam is None:
                yn = float(np.sum(Y.astype(np.float64) ** 2))
                value = ials.ials_loss(ptr, idx, conf, X, Y, loss_reg)
                part = float(value) * nnz - loss_reg * yn
            else:
                value = ials.ials_loss(ptr, idx, conf, X, Y, 0.0)
                Xf = X if n_free < 0 else X[:, :n_free]
                xn = np.einsum("ij,ij->i", Xf, Xf, dtype=np.float64)
                part = float(value) * nnz + float(lam @ xn)
    return X, part


# ---------------------------------------------------------------------- DSGD


def _fake_ptr(n_blk: int, blk: int, m: int) -> np.ndarray:
    """A ``block_ptr`` in which only block ``blk`` holds rows: the single-machine
    kernels then run exactly what they run for that block (its own RNG stream)."""
    ptr = np.zeros(n_blk + 1, dtype=np.int64)
    ptr[blk + 1 :] = m
    return ptr


def shuffle_grid_block(block: dict[str, np.ndarray], seed: int, blk: int,
                       n_blocks: int) -> dict[str, np.ndarray]:  # fmt: skip
    """A shuffled copy of one block: the single-machine SVD's one shuffle (epoch 0's
    stream; the epochs after it only change the order in which chunks are visited)."""
    from ..kernels.sgd import shuffle_blocks

    out = {k: v.copy() for k, v in block.items()}
    ptr = _fake_ptr(n_blocks * n_blocks, blk, len(out["users"]))
    with _threads():
        shuffle_blocks(ptr, out["users"], out["items"], out["ratings"], seed, 0)
    return out


def sgd_block(block: dict[str, np.ndarray], pu: tuple[np.ndarray, ...],
              qi: tuple[np.ndarray, np.ndarray], blk: int, n_blocks: int, mu: np.float32,
              rates: dict[str, np.float32], biased: bool, seed: int, epoch: int):  # fmt: skip
    """One block's SGD pass in epoch ``epoch`` (``svd_epoch`` on that block alone).

    ``pu`` is the user group's ``(P, bu, sse)``: ``sse[g]`` the squared error of its
    block with item group ``g`` this epoch (carried along so no extra task collects
    it). Returns copies: the user group's ``(P, bu, sse)`` and the item group's
    ``(Q, bi)``.
    """
    from ..kernels.sgd import svd_epoch

    P, bu, sse = pu[0].copy(), pu[1].copy(), pu[2].copy()
    Q, bi = qi[0].copy(), qi[1].copy()
    ptr = _fake_ptr(n_blocks * n_blocks, blk, len(block["users"]))
    r = rates
    with _threads():
        sse[blk % n_blocks] = svd_epoch(
            ptr, block["users"], block["items"], block["ratings"], P, Q, bu, bi, mu,
            r["lr_bu"], r["lr_bi"], r["lr_pu"], r["lr_qi"], r["reg_bu"], r["reg_bi"],
            r["reg_pu"], r["reg_qi"], biased, n_blocks, seed, epoch,
        )  # fmt: skip
    return (P, bu, sse), (Q, bi)


def pick(obj: Any, k: int) -> Any:
    return obj[k]
