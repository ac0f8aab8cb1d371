"""Block-partitioned alternating least squares on a Dask cluster (ALS and ImplicitALS).

Users are cut into contiguous id ranges balanced by their number of interactions, and
so are items; each block holds its rows as a CSR on some worker (users with their
items, items with their users) and never moves. A half-step ships the fixed side once
(the factors, plus the bias for ALS or the Gram matrix ``Y^T Y + reg I`` for implicit
ALS, computed on the client), solves every block with the single-machine kernels
(``ridge_rows`` / ``ridge_cg_rows_offset``; ``ials_cg_step`` / ``ials_cholesky_step``) and gathers
the solved rows. CG solvers are warm-started from the rows the client holds.

Rows are solved independently, from the same initial factors (drawn on the client as
the single-machine trainers draw them), so the model equals the single-machine model
to float tolerance for any number of workers and any ``n_blocks``.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np

from ..models._fitting import Trainer
from ..models.implicit_als import IALSFactors
from . import _tasks as T
from ._engine import raise_first_error, range_bounds, run_step, scatter_one
from .data import DaskInteractions

__all__ = ["DaskALSTrainer", "DaskImplicitALSTrainer", "row_blocks"]

logger = logging.getLogger("latentfactors")


def row_blocks(data: DaskInteractions, side: int, bounds: np.ndarray) -> list[Any]:
    """Futures of the CSR blocks of user (side 0) or item (side 1) ranges ``bounds``."""
    client = data.client
    uf, itf = data._vocab_futures
    n_cols = data.n_items if side == 0 else data.n_users
    splits = [client.submit(T.split_by_range, p, side, bounds) for p in data.parts]
    blocks = []
    for b in range(len(bounds) - 1):
        pieces = [client.submit(T.pick, s, b) for s in splits]
        blocks.append(
            client.submit(
                T.build_rows, side, int(bounds[b]), int(bounds[b + 1]), n_cols, uf, itf, *pieces
            )
        )
    return blocks


def gather_seen(data: DaskInteractions, blocks: list[Any], bounds: np.ndarray):
    """The users x items CSR of the raw values (the model's seen items), on the client."""
    import scipy.sparse as sp

    parts = data.client.gather(blocks)
    indptr = np.zeros(data.n_users + 1, dtype=np.int64)
    counts = np.concatenate([np.diff(p["ptr"]) for p in parts])
    np.cumsum(counts, out=indptr[1:])
    if indptr[-1] < np.iinfo(np.int32).max:
        indptr = indptr.astype(np.int32)
    idx = np.concatenate([p["idx"] for p in parts])
    val = np.concatenate([p["val"] for p in parts])
    return sp.csr_matrix((val, idx, indptr), shape=(data.n_users, data.n_items))


class _BlockTrainer(Trainer):
    """Shared machinery: blocks on both sides, one step per half-iteration."""

    #: the reg search's record, when the model searched
    search: dict[str, Any] | None = None

    def fitted_scalars(self) -> dict[str, Any]:
        return {} if self.search is None else {"reg_search": self.search}

    def _setup(self, data: DaskInteractions, n_blocks: int, max_retries: int,
               keep_seen: bool) -> None:  # fmt: skip
        self.data = data
        self.client = data.client
        self.max_retries = int(max_retries)
        self.u_bounds = range_bounds(data.user_counts, n_blocks)
        self.i_bounds = range_bounds(data.item_counts, n_blocks)
        raw_u = row_blocks(data, 0, self.u_bounds)
        raw_i = row_blocks(data, 1, self.i_bounds)
        self.raw = (raw_u, raw_i)  # a trainer that needs them after setup keeps them
        self.u_blocks = [self._prepare(b, 0) for b in raw_u]
        self.i_blocks = [self._prepare(b, 1) for b in raw_i]
        # surface bad input (duplicate pairs) now, as one clear error
        raise_first_error(self.u_blocks + self.i_blocks)
        self.seen = gather_seen(data, raw_u, self.u_bounds) if keep_seen else None

    def _prepare(self, block: Any, side: int) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def _half(self, blocks, bounds, what: str, make_task) -> list[Any]:
        def make() -> list[Any]:
            return [make_task(blk, int(bounds[b]), int(bounds[b + 1]))
                    for b, blk in enumerate(blocks)]  # fmt: skip

        return run_step(self.client, make, what, self.max_retries)

    def _hold_out(self, blocks: list[Any], bounds: np.ndarray, keys: np.ndarray,
                  submit) -> tuple[list[Any], list[int]]:  # fmt: skip
        """``blocks`` with each one that holds some of the reg search's held-out entries
        (``keys``: their row ids on this side) replaced by ``submit(block, lo, mask)``
        (``mask`` picks its entries of ``keys``), and the indices of those replaced."""
        out, touched = list(blocks), []
        for b in range(len(bounds) - 1):
            lo, hi = bounds[b], bounds[b + 1]
            m = (keys >= lo) & (keys < hi)
            if m.any():
                out[b] = submit(blocks[b], int(lo), m)
                touched.append(b)
        return out, touched

    def _hold_out_users(self, blocks: list[Any], rows: np.ndarray, submit):
        """The user side of ``_hold_out``, whose tasks return ``(block, part)``: the
        blocks with the slice out and the gathered parts of the slice, in user order."""
        outs, touched = self._hold_out(blocks, self.u_bounds, rows, submit)
        held = [self.client.submit(T.pick, o, 0) if b in touched else o
                for b, o in enumerate(outs)]  # fmt: skip
        return held, self.client.gather([self.client.submit(T.pick, outs[b], 1)
                                         for b in touched])  # fmt: skip

    def close(self) -> None:
        """Release every future this trainer holds (the blocks on the workers)."""
        self.u_blocks = []
        self.i_blocks = []


class DaskALSTrainer(_BlockTrainer):
    """Explicit ALS (:class:`~latentfactors.models.ALS`) with its blocks on a cluster."""

    def __init__(self, model: Any, data: DaskInteractions, seed: int, *, n_blocks: int,
                 max_retries: int = 3, keep_seen: bool = False) -> None:  # fmt: skip
        self.seed, self.init_std = int(seed), float(model.init_std)
        f = int(model.n_factors)
        self.P = np.empty((data.n_users, f), dtype=np.float32)
        self.Q = np.empty((data.n_items, f), dtype=np.float32)
        self.bu = np.empty(data.n_users, dtype=np.float32)
        self.bi = np.empty(data.n_items, dtype=np.float32)
        self._init_factors()
        self.mu = float(data.global_mean)
        self.reg_bias, self.weighted = float(model.reg_bias), bool(model.weighted)
        self.params = (self.mu, float(model._fallback_reg()), self.reg_bias, self.weighted)
        self.biased = bool(model.biased)
        # the model's solver: "exact" rows, or warm-started CG steps
        self.cg = model.solver == "cg"
        self.cg_steps = int(model.cg_steps)
        self.n = len(data)
        self._setup(data, n_blocks, max_retries, keep_seen)
        raw_u, raw_i = self.raw
        if model._searches_reg():
            self.search_reg(model._reg_candidates(), model._fallback_reg(), raw_u, raw_i)
            self._use_reg(self.search["chosen"], raw_u, raw_i)
        self.raw = None  # the prepared blocks are what the fit needs from here on

    def _init_factors(self) -> None:
        """The initial factors of this seed, as the single-machine trainer draws them."""
        rng = np.random.default_rng(self.seed)
        self.P[...] = rng.standard_normal(self.P.shape) * self.init_std
        self.Q[...] = rng.standard_normal(self.Q.shape) * self.init_std
        self.bu[...] = 0.0
        self.bi[...] = 0.0

    def _use_reg(self, reg: float, raw_u: list[Any], raw_i: list[Any]) -> None:
        """Train at ``reg`` on the blocks prepared from these raw ones from now on."""
        self.params = (self.mu, float(reg), self.reg_bias, self.weighted)
        self.u_blocks = [self._prepare(b, 0) for b in raw_u]
        self.i_blocks = [self._prepare(b, 1) for b in raw_i]

    def search_reg(self, candidates: tuple[float, ...], fallback: float, raw_u: list[Any],
                   raw_i: list[Any]) -> None:  # fmt: skip
        """The single-machine search (``_ALSTrainer.search_reg``) on the blocks: the same
        slice (drawn from the user counts), out of both sides' blocks while the
        candidates train, scored on the client; the factors are re-drawn afterwards."""
        from ..models import _regsearch as R
        from ..models.als import VAL_EPOCHS, rmse_search

        client = self.client
        rows, offsets = R.slice_entries(np.asarray(self.data.user_counts), R.slice_rng(self.seed))
        if len(rows) == 0:
            self.search = R.search_record(candidates, 0, 0, "rmse", fallback)
            return
        held_u, got = self._hold_out_users(
            raw_u, rows,
            lambda blk, lo, m: client.submit(T.als_drop_users, blk, lo, rows[m], offsets[m]),
        )  # fmt: skip
        users = np.concatenate([g[0] for g in got]).astype(np.int64)
        items = np.concatenate([g[1] for g in got]).astype(np.int64)
        truth = np.concatenate([g[2] for g in got]).astype(np.float64)
        held_i, _ = self._hold_out(
            raw_i, self.i_bounds, items,
            lambda blk, lo, m: client.submit(T.als_drop_items, blk, lo, items[m], users[m]),
        )  # fmt: skip

        def fit(reg: float) -> None:
            self._use_reg(reg, held_u, held_i)
            for e in range(VAL_EPOCHS):
                self.epoch(e)

        self.search = rmse_search(candidates, fit, self.mu,
                                  lambda: (self.P, self.Q, self.bu, self.bi), users, items,
                                  truth)  # fmt: skip
        self._init_factors()  # the copies with the slice out go with this frame

    def _prepare(self, block: Any, side: int) -> Any:
        return self.client.submit(T.prepare_als, block, *self.params, self.cg)

    def _submit(self, blk, fixed, X, bias, lo: int, hi: int, loss: bool) -> Any:
        warm = scatter_one(self.client, (X[lo:hi], bias[lo:hi])) if self.cg else None
        return self.client.submit(T.als_half, blk, fixed, self.biased, loss, self.mu, warm,
                                  self.cg_steps)  # fmt: skip

    def epoch(self, epoch: int) -> float:
        t0 = time.perf_counter()
        client = self.client
        # items first, then users (as the single-machine trainer)
        fixed_box: list[Any] = []

        def item_task(blk, lo, hi):
            if not fixed_box:
                fixed_box.append(scatter_one(client, (self.P, self.bu)))
            return self._submit(blk, fixed_box[0], self.Q, self.bi, lo, hi, False)

        out = self._half(self.i_blocks, self.i_bounds, f"ALS epoch {epoch + 1}, items",
                         _Attempts(item_task, fixed_box))  # fmt: skip
        for b, (X, bias, _) in enumerate(out):
            lo, hi = self.i_bounds[b], self.i_bounds[b + 1]
            self.Q[lo:hi] = X
            self.bi[lo:hi] = bias
        fixed_box.clear()

        def user_task(blk, lo, hi):
            if not fixed_box:
                fixed_box.append(scatter_one(client, (self.Q, self.bi)))
            return self._submit(blk, fixed_box[0], self.P, self.bu, lo, hi, True)

        out = self._half(self.u_blocks, self.u_bounds, f"ALS epoch {epoch + 1}, users",
                         _Attempts(user_task, fixed_box))  # fmt: skip
        sse = 0.0
        for b, (X, bias, part) in enumerate(out):
            lo, hi = self.u_bounds[b], self.u_bounds[b + 1]
            self.P[lo:hi] = X
            self.bu[lo:hi] = bias
            sse += part
        fixed_box.clear()
        logger.info("distributed ALS epoch %d: %.3f s", epoch + 1, time.perf_counter() - t0)
        return float(np.sqrt(sse / self.n))

    def arrays(self) -> dict[str, Any]:
        return {"user_factors": self.P, "item_factors": self.Q, "user_bias": self.bu,
                "item_bias": self.bi}  # fmt: skip


class _Attempts:
    """Calls ``task`` per block; the scattered fixed side (in ``box``) is dropped at the
    start of every attempt (block 0), so a retried step scatters from the client again."""

    def __init__(self, task, box: list[Any]) -> None:
        self.task, self.box = task, box

    def __call__(self, blk, lo, hi):
        if lo == 0:
            self.box.clear()
        return self.task(blk, lo, hi)


class DaskImplicitALSTrainer(IALSFactors, _BlockTrainer):
    """Implicit ALS (:class:`~latentfactors.models.ImplicitALS`) with its blocks on a cluster.

    ``reg="auto"`` (or a list) is chosen as on one machine: the same validation slice
    (drawn from the row counts, which the client has), its entries taken out of copies
    of the blocks' confidences while the candidates are fitted (the workers then hold
    a second copy of the confidences, 4 bytes per interaction and side, until the
    search ends), each candidate scored on the client, where the factors are."""

    def __init__(self, model: Any, data: DaskInteractions, seed: int, *, n_blocks: int,
                 max_retries: int = 3, keep_seen: bool = False) -> None:  # fmt: skip
        self._alloc(model, data.n_users, data.n_items, seed)  # X, Y as on one machine
        # reg_scaling="frequency": each row's penalty reg * (n + alpha0 * n_other) ** nu
        # goes into its own system (``lam`` in the blocks), none into the Gram matrix
        self.scaled = model.reg_scaling == "frequency"
        self.row_reg = (float(model.reg_alpha0), float(model.reg_nu))
        self.solver = model.solver
        self.cg_steps = int(model.cg_steps)
        self.block_size = int(model.block_size)
        self.compute_loss = bool(model.compute_loss)
        self.reports_loss = self.compute_loss
        self.params = (model.confidence, float(model.alpha), float(model.epsilon),
                       None if model.threshold is None else float(model.threshold))  # fmt: skip
        self._setup(data, n_blocks, max_retries, keep_seen)
        self.raw = None  # the prepared blocks hold what the fit needs
        base_u, base_i = self.u_blocks, self.i_blocks  # without penalties
        self.nnz = int(sum(self.client.gather([self.client.submit(_nnz, b) for b in base_u])))
        if self.nnz == 0:
            from ..exceptions import DataError

            raise DataError(
                f"{type(model).__name__}: no interaction reaches threshold={model.threshold} "
                f"(values range {data.value_min:g}..{data.value_max:g})"
            )
        reg = model._fallback_reg()
        if model._searches_reg():
            self.search_reg(model._reg_candidates(), reg, base_u, base_i)
            reg = self.search["chosen"]
        self._use_reg(reg, base_u, base_i)
        # the item-side penalties (n_items floats, as the factors) for the objective
        self.i_reg = None
        if self.scaled and self.compute_loss:
            parts = self.client.gather([self.client.submit(T.row_penalties, b)
                                        for b in self.i_blocks])  # fmt: skip
            self.i_reg = np.concatenate(parts)

    def _prepare(self, block: Any, side: int) -> Any:
        return self.client.submit(T.prepare_ials, block, *self.params)

    def _use_reg(self, reg: float, u_blocks: list[Any], i_blocks: list[Any]) -> None:
        """Train at ``reg`` on these (unpenalised) blocks from now on."""
        self.reg = np.float32(reg)
        f = self.X.shape[1]
        self.eye = np.eye(f, dtype=np.float32) * (np.float32(0.0) if self.scaled else self.reg)
        if not self.scaled:
            self.u_blocks, self.i_blocks = list(u_blocks), list(i_blocks)
            return
        submit, (alpha0, nu) = self.client.submit, self.row_reg
        self.u_blocks = [submit(T.ials_penalty, b, float(reg), alpha0, nu, self.data.n_items)
                         for b in u_blocks]  # fmt: skip
        self.i_blocks = [submit(T.ials_penalty, b, float(reg), alpha0, nu, self.data.n_users)
                         for b in i_blocks]  # fmt: skip

    def search_reg(self, candidates: tuple[float, ...], fallback: float, base_u: list[Any],
                   base_i: list[Any]) -> None:  # fmt: skip
        """The single-machine search (``_IALSTrainer.search_reg``) on the blocks; the
        factors are re-drawn from the seed afterwards."""
        from ..models import _regsearch as R
        from ..models import implicit_als as M

        client = self.client
        counts = np.concatenate(client.gather([client.submit(T.row_counts, b) for b in base_u]))
        rows, offsets = R.slice_entries(counts, R.slice_rng(self.seed))
        if len(rows) == 0:
            self.search = R.search_record(candidates, 0, 0, "ndcg@10", fallback)
            return
        held_u, parts = self._hold_out_users(
            base_u, rows,
            lambda blk, lo, m: client.submit(T.ials_hold_out_users, blk, lo, rows[m],
                                             offsets[m]),
        )  # fmt: skip
        held = M.HeldOut.concat(parts)
        users = np.repeat(held.users, np.diff(held.truth_ptr))
        items = held.truth_idx
        held_i, _ = self._hold_out(
            base_i, self.i_bounds, items,
            lambda blk, lo, m: client.submit(T.ials_hold_out_items, blk, lo, items[m],
                                             users[m]),
        )  # fmt: skip

        def fit(reg: float) -> None:
            self._use_reg(reg, held_u, held_i)
            for e in range(M.VAL_EPOCHS):
                what = f"ImplicitALS reg search, reg={reg:g}, epoch {e + 1}"
                self._side(self.i_blocks, self.i_bounds, self.Y, self.X, f"{what}, items", False)
                self._side(self.u_blocks, self.u_bounds, self.X, self.Y, f"{what}, users", False,
                           self.n_free)  # fmt: skip

        self.search = held.search(candidates, fit, lambda: (self.X, self.Y))
        self._init_factors()  # the copies with the slice out go with this frame

    def _side(self, blocks, bounds, X, Y, what: str, loss: bool, n_free: int = -1) -> float:
        """Update the rows of ``X`` (one block per task) against fixed ``Y`` (the first
        ``n_free`` coordinates of each row; -1: all)."""
        client = self.client
        YtY = Y.T @ Y + self.eye
        loss_reg = (0.0 if self.scaled else float(self.reg)) if loss else None
        box: list[Any] = []

        def task(blk, lo, hi):
            if not box:
                box.append(scatter_one(client, (Y, YtY)))
            return client.submit(T.ials_half, blk, scatter_one(client, X[lo:hi]), box[0],
                                 self.solver, self.cg_steps, self.block_size,
                                 loss_reg, n_free)  # fmt: skip

        out = self._half(blocks, bounds, what, _Attempts(task, box))
        total = 0.0
        for b, (rows, part) in enumerate(out):
            X[bounds[b] : bounds[b + 1]] = rows
            total += part
        return total

    def epoch(self, epoch: int) -> float:
        t0 = time.perf_counter()
        self._side(self.i_blocks, self.i_bounds, self.Y, self.X,
                   f"ImplicitALS epoch {epoch + 1}, items", False)  # fmt: skip
        total = self._side(self.u_blocks, self.u_bounds, self.X, self.Y,
                           f"ImplicitALS epoch {epoch + 1}, users", self.compute_loss,
                           self.n_free)  # fmt: skip
        logger.info("distributed ImplicitALS epoch %d: %.3f s", epoch + 1, time.perf_counter() - t0)
        if not self.compute_loss:
            return float("nan")
        if self.scaled:
            pen = float(self.i_reg @ np.einsum("ij,ij->i", self.Y, self.Y, dtype=np.float64))
            return float((total + pen) / max(self.nnz, 1))
        yn = float(np.sum(self.Y.astype(np.float64) ** 2))
        total -= self._user_penalty(float(self.reg))  # the column of ones: no parameter
        return float((total + float(self.reg) * yn) / max(self.nnz, 1))


def _nnz(block: dict[str, Any]) -> int:
    return len(block["idx"])
