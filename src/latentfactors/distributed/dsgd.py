"""Distributed stratified SGD (DSGD, Gemulla et al. 2011) for :class:`~latentfactors.models.SVD`.

The ratings are laid out exactly as the single-machine SVD lays them out (the same
seeded, activity-balanced user and item groups from ``models/_strata.py``; each block in
(user, item) order), but each of the ``B x B`` blocks is one future on some worker.
Every block is shuffled once with its own stream (``shuffle_blocks``: the seed and the
block number, never the worker). An epoch runs ``B`` sub-epochs; sub-epoch ``s`` runs
the ``B`` blocks ``(b, (b + s) % B)``, which share no user and no item, as ``B``
independent tasks (``svd_epoch`` on that block alone, visiting its chunks in the
epoch's order). Only the factor slices of a block's user group and item group move to
the task and back out of it.

The single-machine SVD runs the same blocks in the same order with the same kernel, so
the distributed model is the same model (up to the float32 rounding of the global mean,
which is summed per partition), for any number of workers.

At the end of every epoch the client gathers the factors: it is the checkpoint from
which an epoch that lost a worker is re-run (the shuffled blocks are task results, so
Dask recomputes any it lost), and what validation and callbacks read.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np

from ..models._fitting import Trainer
from ..models._strata import n_blocks_for, pad_columns, padded_width
from . import _tasks as T
from ._engine import raise_first_error, run_step, scatter_one
from .data import DaskInteractions

__all__ = ["DaskSVDTrainer"]

logger = logging.getLogger("latentfactors")


class DaskSVDTrainer(Trainer):
    """:class:`~latentfactors.models.SVD` trained by DSGD on a cluster."""

    def __init__(self, model: Any, data: DaskInteractions, seed: int, *, max_retries: int = 3,
                 keep_seen: bool = False) -> None:  # fmt: skip
        client = self.client = data.client
        self.max_retries = int(max_retries)
        self.nb = nb = n_blocks_for(len(data), model.n_blocks)
        groups_f = client.submit(T.stratify_groups, data._counts_future, nb, seed)
        self.g = g = client.gather(groups_f)
        P, Q = _init(model, data, seed)
        # training order, padded as the single-machine SVD pads them (padded_width)
        self.k = k = P.shape[1]
        self.P = pad_columns(P[g["user_order"]], padded_width(k))
        self.Q = pad_columns(Q[g["item_order"]], padded_width(k))
        self.bu = np.zeros(data.n_users, dtype=np.float32)
        self.bi = np.zeros(data.n_items, dtype=np.float32)
        self.mu = np.float32(data.global_mean)
        self.seed = seed
        self.biased = bool(model.biased)
        self.rates = {k: np.float32(v) for k, v in model._resolved_rates().items()}
        self.n = len(data)
        uf, itf = data._vocab_futures
        splits = [client.submit(T.split_by_grid, p, groups_f, nb) for p in data.parts]
        self.blocks = []
        for blk in range(nb * nb):
            b, gi = divmod(blk, nb)
            pieces = [client.submit(T.pick, s, blk) for s in splits]
            self.blocks.append(
                client.submit(T.build_grid_block, b, gi, groups_f, data.n_items, uf, itf, *pieces)
            )
        raise_first_error(self.blocks)
        del splits
        # shuffled once, as on one machine (each epoch visits the chunks in its own order)
        self.blocks = [client.submit(T.shuffle_grid_block, blk, seed, k, nb)
                       for k, blk in enumerate(self.blocks)]  # fmt: skip
        self.seen = None
        if keep_seen:
            from ._engine import range_bounds
            from .als import gather_seen, row_blocks

            # several blocks, so no worker builds the whole matrix on its own
            bounds = range_bounds(data.user_counts, max(2, len(data.parts)))
            self.seen = gather_seen(data, row_blocks(data, 0, bounds), bounds)

    def _slices(self, kind: str) -> list[slice]:
        ptr = self.g[f"{kind}_group_ptr"]
        return [slice(int(ptr[b]), int(ptr[b + 1])) for b in range(self.nb)]

    def epoch(self, epoch: int) -> float:
        t0 = time.perf_counter()
        client, nb = self.client, self.nb
        us, its = self._slices("user"), self._slices("item")

        def make() -> list[Any]:
            zeros = np.zeros(nb)
            pu = [scatter_one(client, (self.P[s], self.bu[s], zeros)) for s in us]
            qi = [scatter_one(client, (self.Q[s], self.bi[s])) for s in its]
            for s in range(nb):
                for b in range(nb):
                    gi = (b + s) % nb
                    blk = b * nb + gi
                    out = client.submit(T.sgd_block, self.blocks[blk], pu[b], qi[gi], blk, nb,
                                        self.mu, self.rates, self.biased, self.seed,
                                        epoch)  # fmt: skip
                    pu[b] = client.submit(T.pick, out, 0)
                    qi[gi] = client.submit(T.pick, out, 1)
            return pu + qi

        out = run_step(client, make, f"SVD (DSGD) epoch {epoch + 1}", self.max_retries)
        block_sse = np.zeros(nb * nb)
        for b, s in enumerate(us):
            self.P[s], self.bu[s], block_sse[b * nb : (b + 1) * nb] = out[b]
        for gi, s in enumerate(its):
            self.Q[s], self.bi[s] = out[nb + gi]
        logger.info("distributed SVD epoch %d: %.3f s", epoch + 1, time.perf_counter() - t0)
        return float(np.sqrt(block_sse.sum() / self.n))

    # arrays live in training order (see models/_strata.py)
    def arrays(self) -> dict[str, np.ndarray]:
        un, inew = self.g["user_new"], self.g["item_new"]
        return {
            "user_factors": np.ascontiguousarray(self.P[un, : self.k]),
            "item_factors": np.ascontiguousarray(self.Q[inew, : self.k]),
            "user_bias": np.ascontiguousarray(self.bu[un]),
            "item_bias": np.ascontiguousarray(self.bi[inew]),
        }

    def snapshot(self) -> dict[str, np.ndarray]:
        return self.arrays()

    def restore(self, snap: dict[str, np.ndarray]) -> None:
        uo, io = self.g["user_order"], self.g["item_order"]
        self.P[:, : self.k] = snap["user_factors"][uo]
        self.Q[:, : self.k] = snap["item_factors"][io]
        self.bu[...] = snap["user_bias"][uo]
        self.bi[...] = snap["item_bias"][io]

    def close(self) -> None:
        self.blocks = []


def _init(model: Any, data: DaskInteractions, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The single-machine SVD's initial factors (``SVD._init_factors``), in model order."""
    rng = np.random.default_rng(seed)
    k = model.n_factors
    P = (rng.standard_normal((data.n_users, k)) * model.init_std).astype(np.float32)
    Q = (rng.standard_normal((data.n_items, k)) * model.init_std).astype(np.float32)
    return P, Q
