"""Pure scoring: user vectors and item factors in, top-n inner ids and scores out.

Nothing here reads a model: ``recommend``, ``similar_*``, validation during ``fit``,
the ANN indexes and the HTTP service all call these with arrays they hold. Scores are
``mu + b_u + b_i + u . q_i``. Batches are scored a block of users (``USER_BLOCK``)
and a tile of items (about ``TILE_CELLS`` scores) at a time, by one GEMM per tile into
a reused buffer and a top-k that keeps each user's best across the tiles, adds the item
bias and skips excluded items as it reads; the users x items matrix is never held.

Seen items come as CSR rows ``(indptr, indices)`` aligned with the user rows, from
wherever the caller keeps them (the model's training matrix, a live-users store, a
request body).
"""

from __future__ import annotations

import numpy as np

__all__ = ["restrict_rows", "rowwise_dot", "similar", "top_n"]

#: users scored together: one GEMM per tile of items, so each item tile is read once
#: per block of this many users
USER_BLOCK = 512
#: scores per tile (8 MB of float32): the GEMM writes a tile and the top-k reads it
#: while it is still in the last-level cache, and the buffer is reused, so no score
#: block ever goes through memory or page faults
TILE_CELLS = 1 << 21
#: scores below which a batch is scored inline: starting threads of our own costs a few ms
#: (ML-100K's validation users, 943 x 1,682, took 5.6-6.0 ms per call that way against
#: 3.4 inline inside a fit)
POOL_CELLS = 1 << 22
#: narrowest item tile (a tile is this wide or TILE_CELLS / users, whichever is more)
MIN_TILE_COLS = 4096
_PREDICT_CHUNK = 1 << 18
_EMPTY_F32 = np.zeros(0, dtype=np.float32)
_EMPTY_BOOL = np.zeros(0, dtype=np.bool_)
_EMPTY_I32 = np.zeros(0, dtype=np.int32)


def rowwise_dot(A: np.ndarray, B: np.ndarray, rows_a: np.ndarray, rows_b: np.ndarray) -> np.ndarray:
    """``(A[rows_a] * B[rows_b]).sum(1)`` in chunks, accumulated in float64."""
    out = np.empty(len(rows_a), dtype=np.float64)
    for s in range(0, len(rows_a), _PREDICT_CHUNK):
        e = min(len(rows_a), s + _PREDICT_CHUNK)
        out[s:e] = np.einsum("ij,ij->i", A[rows_a[s:e]], B[rows_b[s:e]], dtype=np.float64)
    return out


def restrict_rows(
    indptr: np.ndarray, indices: np.ndarray, cand: np.ndarray, n_items: int
) -> tuple[np.ndarray, np.ndarray]:
    """CSR rows of item ids re-expressed as positions in ``cand`` (others dropped)."""
    pos = np.full(n_items, -1, dtype=np.int32)
    pos[cand] = np.arange(len(cand), dtype=np.int32)
    mapped = pos[indices]
    keep = mapped >= 0
    n_rows = len(indptr) - 1
    row_of = np.repeat(np.arange(n_rows), np.diff(indptr))
    new_ptr = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(np.bincount(row_of[keep], minlength=n_rows), out=new_ptr[1:])
    return new_ptr, mapped[keep]


def top_n(
    U: np.ndarray,
    user_bias: np.ndarray,
    intercept: float,
    Q: np.ndarray,
    QT: np.ndarray,
    item_bias: np.ndarray,
    n: int,
    seen: tuple[np.ndarray, np.ndarray] | None = None,
    candidates: np.ndarray | None = None,
    allowed: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The best ``n`` items for each row of ``U``: inner ids (-1 padded) and scores.

    Parameters
    ----------
    U : (m, k) float32
        One score vector per user row.
    user_bias : (m,) float
        The users' biases (added to every score of the row).
    intercept : float
    Q, QT : (n_items, k) and (k, n_items) float32
        Item factors and their contiguous transpose (``ItemLayout`` keeps both).
    item_bias : (n_items,) float32, or empty for none
    n : int
    seen : (indptr, indices), optional
        CSR rows aligned with ``U`` of inner item ids never to return.
    candidates : int32 array, optional
        Only rank these inner item ids.
    allowed : bool array, optional
        Over the items (or over ``candidates``): False never returned.
    """

    m = U.shape[0]
    if candidates is not None:
        Qc = Q[candidates]
        QT = np.ascontiguousarray(Qc.T)
        bias = item_bias[candidates] if len(item_bias) else item_bias
        n_cols = len(candidates)
        if seen is not None:
            seen = restrict_rows(seen[0], seen[1], candidates, Q.shape[0])
    else:
        bias = item_bias
        n_cols = Q.shape[0]
    bias = np.ascontiguousarray(bias, dtype=np.float32) if len(bias) and np.any(bias) \
        else _EMPTY_F32  # fmt: skip
    mask = allowed if allowed is not None and not allowed.all() else _EMPTY_BOOL
    k = min(n, n_cols)
    out_idx = np.full((m, k), -1, dtype=np.int32)
    out_val = np.full((m, k), -np.inf, dtype=np.float32)
    if n_cols == 0 or m == 0 or k == 0:
        return out_idx, out_val
    U = np.asarray(U, dtype=np.float32)
    QT = np.asarray(QT, dtype=np.float32)
    _score_blocks(U, QT, k, seen, mask, bias, out_idx, out_val)
    if candidates is not None:
        out_idx = np.where(out_idx >= 0, candidates[np.maximum(out_idx, 0)], -1).astype(np.int32)
    out_val += np.float32(intercept) + np.asarray(user_bias, dtype=np.float32)[:, None]
    return out_idx, out_val


def _score_blocks(U, QT, k, seen, mask, bias, out_idx, out_val) -> None:
    """Fill ``out_idx`` / ``out_val`` with each row's best ``k``: blocks of users, each
    scored a tile of items at a time. With several numba threads and blocks, each of
    that many Python threads takes whole blocks, scoring them by a one-thread GEMM and a
    one-thread top-k: handing both cores back and forth between BLAS's threads and
    numba's (whose idle threads spin for a while) made the tiled loop slower than one GEMM
    per block. A batch of one user or of fewer than ``POOL_CELLS`` scores, or numba's
    workqueue threading layer (which cannot be entered from two threads at once), is
    scored inline, using both pools in turn."""
    import numba

    from .._runtime import numba_threading_layer, one_blas_thread
    from ..kernels import topk

    m, n_cols = U.shape[0], QT.shape[1]
    n_threads = max(1, numba.get_num_threads())
    pooled = n_threads > 1 and m > 1 and m * n_cols >= POOL_CELLS
    if pooled and numba_threading_layer() not in ("omp", "tbb"):
        pooled = False
    if pooled:  # at least one block per thread
        rows = max(1, min(USER_BLOCK, -(-m // n_threads)))
    else:  # a short batch in one block
        rows = max(1, min(m, max(USER_BLOCK, TILE_CELLS // n_cols)))
    width = min(n_cols, max(MIN_TILE_COLS, TILE_CELLS // rows))
    starts = list(range(0, m, rows))
    empty_ptr = np.zeros(rows + 1, dtype=np.int64)

    def block(s: int, buf: np.ndarray) -> None:
        e = min(m, s + rows)
        if seen is not None:
            ptr_all, idx_all = seen
            lo, hi = int(ptr_all[s]), int(ptr_all[e])
            ptr = np.asarray(ptr_all[s : e + 1], dtype=np.int64) - lo
            idx = np.asarray(idx_all[lo:hi], dtype=np.int32)
        else:
            ptr, idx = empty_ptr[: e - s + 1], _EMPTY_I32
        heaps = topk.topk_heaps(e - s, k)
        Ub = np.ascontiguousarray(U[s:e])
        for c0 in range(0, n_cols, width):
            c1 = min(n_cols, c0 + width)
            tile = buf[: (e - s) * (c1 - c0)].reshape(e - s, c1 - c0)
            np.matmul(Ub, QT[:, c0:c1], out=tile)
            topk.topk_tile(tile, c0, *heaps, ptr, idx, mask, bias)
        out_idx[s:e], out_val[s:e] = topk.topk_finish(*heaps)

    if not pooled:
        buf = np.empty(rows * width, dtype=np.float32)  # one tile's scores, reused
        for s in starts:
            block(s, buf)
        return

    def worker(w: int) -> None:
        numba.set_num_threads(1)  # per thread: this worker's kernels run on it alone
        buf = np.empty(rows * width, dtype=np.float32)
        for s in starts[w::n_threads]:
            block(s, buf)

    from concurrent.futures import ThreadPoolExecutor

    n_workers = min(n_threads, len(starts))
    with one_blas_thread(), ThreadPoolExecutor(n_workers) as pool:
        for f in [pool.submit(worker, w) for w in range(n_workers)]:
            f.result()


def similar(
    vectors: np.ndarray,
    norms: np.ndarray | None,
    target: np.ndarray,
    n: int,
    allowed: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``n`` rows of ``vectors`` closest to ``target``: cosine when ``norms`` (of the
    rows, 0 replaced by 1) are given, else inner product. Returns (rows, similarities)."""
    from ..kernels.topk import topk_rows

    scores = vectors @ target
    if norms is not None:
        t = float(np.linalg.norm(target.astype(np.float64))) or 1.0
        scores = scores / (norms * t)
    scores = np.ascontiguousarray(scores[None, :], dtype=np.float32)
    idx, val = topk_rows(scores, n, np.zeros(2, np.int64), _EMPTY_I32, allowed, _EMPTY_F32)
    keep = idx[0] >= 0
    return idx[0][keep], val[0][keep].astype(np.float64)
