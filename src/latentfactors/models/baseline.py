"""`Baseline`: global mean plus regularized user and item biases, no factors."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import check_choice, check_float, check_int, check_seed
from ..data.interactions import Interactions
from ._strata import n_blocks_for, stratify
from .base import FactorModel, Trainer

__all__ = ["Baseline"]


class Baseline(FactorModel):
    """``r_ui ~ mu + b_u + b_i``: the bias-only baseline every factor model must beat.

    Fitted by alternating least squares (default; each half-step is the exact ridge
    solution ``b_i = sum_u (r_ui - mu - b_u) / (reg_i + n_i)``, then the same for
    users) or by SGD. It has zero factors, so ``user_factors_`` has shape
    ``(n_users, 0)`` and everything built on factors still works.

    Parameters
    ----------
    method : {"als", "sgd"}, default "als"
    n_epochs : int, default 10
    reg_u, reg_i : float, default 5.0 and 3.0
        Ridge penalties of the user and item biases (ALS).
    lr, reg : float, default 0.005 and 0.02
        Learning rate and regularization of the SGD method.
    n_threads, random_state
        Threads and seed (the seed only matters for ``method="sgd"``).

    Examples
    --------
    >>> from latentfactors.data import make_synthetic
    >>> data = make_synthetic(100, 50, 2000, seed=0).interactions
    >>> Baseline().fit(data).user_bias_.shape
    (100,)
    """

    def __init__(
        self,
        method: str = "als",
        n_epochs: int = 10,
        reg_u: float = 5.0,
        reg_i: float = 3.0,
        lr: float = 0.005,
        reg: float = 0.02,
        n_threads: int | None = None,
        random_state: int | None = None,
    ) -> None:
        self.method = method
        self.n_epochs = n_epochs
        self.reg_u = reg_u
        self.reg_i = reg_i
        self.lr = lr
        self.reg = reg
        self.n_threads = n_threads
        self.random_state = random_state

    def _check_params(self) -> None:
        check_choice("Baseline", "method", self.method, ("als", "sgd"))
        check_int("Baseline", "n_epochs", self.n_epochs, 1)
        check_float("Baseline", "reg_u", self.reg_u, 0.0)
        check_float("Baseline", "reg_i", self.reg_i, 0.0)
        check_float("Baseline", "lr", self.lr, 0.0, low_open=True)
        check_float("Baseline", "reg", self.reg, 0.0)
        check_int("Baseline", "n_threads", self.n_threads, 1, allow_none=True)
        check_seed("Baseline", "random_state", self.random_state)

    def _make_trainer(self, data: Interactions, seed: int) -> Trainer:
        return _BaselineTrainer(self, data, seed)

    def _fold_in_penalties(self, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
        # the ALS bias step: b_u = sum(r - mu - b_i) / (reg_u + n_u)
        if self.method == "als":
            lam = np.full(len(counts), float(self.reg_u))
        else:
            lam = float(self.reg) * np.maximum(counts, 1).astype(np.float64)
        return lam, lam, True


class _BaselineTrainer(Trainer):
    def __init__(self, model: Baseline, data: Interactions, seed: int) -> None:
        self.method = model.method
        self.mu = np.float32(data.global_mean)
        self.bu = np.zeros(data.n_users, dtype=np.float32)
        self.bi = np.zeros(data.n_items, dtype=np.float32)
        self.P = np.zeros((data.n_users, 0), dtype=np.float32)
        self.Q = np.zeros((data.n_items, 0), dtype=np.float32)
        self.n = len(data)
        self.seed = seed
        self.nb = n_blocks_for(len(data), None)
        if self.method == "als":
            self.u, self.i = data.user_ids, data.item_ids
            self.r = data.values.astype(np.float64) - data.global_mean
            self.den_u = data.user_counts + float(model.reg_u)
            self.den_i = data.item_counts + float(model.reg_i)
        else:
            from ..kernels.sgd import shuffle_blocks

            self.s = s = stratify(data, self.nb, seed)  # biases back in model order in arrays()
            shuffle_blocks(s.block_ptr, s.users, s.items, s.ratings, seed, 0)  # once, as SVD
            self.lr, self.reg = np.float32(model.lr), np.float32(model.reg)

    def epoch(self, epoch: int) -> float:
        if self.method == "sgd":
            from ..kernels.sgd import svd_epoch

            s, lr, reg = self.s, self.lr, self.reg
            bu, bi = s.users_in(self.bu), s.items_in(self.bi)
            sse = svd_epoch(
                s.block_ptr, s.users, s.items, s.ratings, self.P, self.Q, bu, bi, self.mu,
                lr, lr, lr, lr, reg, reg, reg, reg, True, self.nb, self.seed, epoch,
            )  # fmt: skip
            self.bu[:], self.bi[:] = s.users_out(bu), s.items_out(bi)
            return float(np.sqrt(sse / self.n))
        # exact ridge half-steps, vectorised over all ratings
        u, i, r = self.u, self.i, self.r
        self.bi[:] = np.bincount(i, weights=r - self.bu[u], minlength=len(self.bi)) / self.den_i
        self.bu[:] = np.bincount(u, weights=r - self.bi[i], minlength=len(self.bu)) / self.den_u
        resid = r - self.bu[u] - self.bi[i]
        return float(np.sqrt(np.mean(resid**2)))

    def arrays(self) -> dict[str, Any]:
        return {"user_factors": self.P, "item_factors": self.Q, "user_bias": self.bu,
                "item_bias": self.bi}  # fmt: skip
