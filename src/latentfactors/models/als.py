"""`ALS`: explicit-rating matrix factorization by alternating least squares, with biases."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import check_bool, check_choice, check_float, check_int, check_seed
from ..data.interactions import Interactions
from .base import FactorModel, Trainer

__all__ = ["ALS"]


class ALS(FactorModel):
    """Biased matrix factorization ``r_ui ~ mu + b_u + b_i + p_u . q_i`` by alternating
    least squares: each half-step solves every row's ridge regression, by a few
    warm-started conjugate-gradient steps (the default) or exactly.

    A user half-step solves, for every user at once (in parallel), the ridge regression
    of ``r_ui - mu - b_i`` on ``[q_i, 1]`` for ``[p_u, b_u]``; an item half-step does the
    same the other way. With ``weighted=True`` (ALS-WR, Zhou et al. 2008) the penalty of
    a row is multiplied by its number of ratings, which is what keeps many factors from
    overfitting heavy users and items.

    Parameters
    ----------
    n_factors : int, default 50
    n_epochs : int, default 10
        One epoch = an item half-step then a user half-step. On MovieLens 100K the
        held-out error stops improving after about 6.
    reg : float, default 0.1
        L2 penalty of the factors (per rating when ``weighted``); must be > 0.
    reg_bias : float, default 0.1
        L2 penalty of the biases (per rating when ``weighted``).
    weighted : bool, default True
        ALS-WR: scale the penalties by each row's count.
    biased : bool, default True
        Learn user and item biases.
    solver : {"cg", "exact"}, default "cg"
        ``"cg"``: a few conjugate-gradient steps per row, warm-started from the previous
        epoch's factors (as ``ImplicitALS`` does), each one pass over the row's ratings;
        ``"exact"``: form and solve each row's normal equations. Fold-in is always exact.
    cg_steps : int, default 2
        Conjugate-gradient steps per row and half-step. Warm starts carry each step
        over to the next epoch, so 2 steps reached the held-out RMSE of 3 steps and of
        the exact solve (within 0.0005, or up to 0.0013 better) on every explicit set
        of the defaults study, at 10 and 20 epochs, in 14-44% less time than 3 (1 step
        was up to 0.17 worse; ``benchmarks/results/als-cg-steps.md``). With ``solver="cg"`` the
        ``train_rmse`` of an epoch in ``history_`` is the error the user half-step starts
        from (this epoch's item factors, the previous epoch's user factors), which its
        first pass computes anyway; with ``"exact"`` it is the error after the epoch.
    init_std : float, default 0.1
    n_threads, random_state
        As in every model. Rows are independent, so results do not depend on threads.

    Examples
    --------
    >>> from latentfactors.data import make_synthetic
    >>> data = make_synthetic(300, 200, 8000, noise=0.3, seed=0).interactions
    >>> ALS(n_factors=8, random_state=0).fit(data).item_factors_.shape
    (200, 8)
    """

    def __init__(
        self,
        n_factors: int = 50,
        n_epochs: int = 10,
        reg: float = 0.1,
        reg_bias: float = 0.1,
        *,
        weighted: bool = True,
        biased: bool = True,
        solver: str = "cg",
        cg_steps: int = 2,
        init_std: float = 0.1,
        n_threads: int | None = None,
        random_state: int | None = None,
    ) -> None:
        self.n_factors = n_factors
        self.n_epochs = n_epochs
        self.reg = reg
        self.reg_bias = reg_bias
        self.weighted = weighted
        self.biased = biased
        self.solver = solver
        self.cg_steps = cg_steps
        self.init_std = init_std
        self.n_threads = n_threads
        self.random_state = random_state

    def _check_params(self) -> None:
        name = "ALS"
        check_int(name, "n_factors", self.n_factors, 1)
        check_int(name, "n_epochs", self.n_epochs, 1)
        # reg > 0 also when weighted: reg * n_u is still 0, and a row with fewer ratings
        # than factors would have singular normal equations (numba raises a SystemError)
        check_float(name, "reg", self.reg, 0.0, low_open=True)
        check_float(name, "reg_bias", self.reg_bias, 0.0)
        check_bool(name, "weighted", self.weighted)
        check_bool(name, "biased", self.biased)
        check_choice(name, "solver", self.solver, ("cg", "exact"))
        check_int(name, "cg_steps", self.cg_steps, 1)
        check_float(name, "init_std", self.init_std, 0.0)
        check_int(name, "n_threads", self.n_threads, 1, allow_none=True)
        check_seed(name, "random_state", self.random_state)

    def _penalties(self, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        scale = np.maximum(counts, 1).astype(np.float64) if self.weighted else np.ones(len(counts))
        return float(self.reg) * scale, float(self.reg_bias) * scale

    def _fold_in_penalties(self, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
        """The ALS user half-step itself: fold-in is exact."""
        lam_f, lam_b = self._penalties(counts)
        return lam_f, lam_b, bool(self.biased)

    def _make_trainer(self, data: Interactions, seed: int) -> Trainer:
        return _ALSTrainer(self, data, seed)


class _ALSTrainer(Trainer):
    def __init__(self, model: ALS, data: Interactions, seed: int) -> None:
        from ..kernels import ridge

        self.k = ridge
        rng = np.random.default_rng(seed)
        f = int(model.n_factors)
        self.P = (rng.standard_normal((data.n_users, f)) * model.init_std).astype(np.float32)
        self.Q = (rng.standard_normal((data.n_items, f)) * model.init_std).astype(np.float32)
        self.bu = np.zeros(data.n_users, dtype=np.float32)
        self.bi = np.zeros(data.n_items, dtype=np.float32)
        self.mu = float(data.global_mean)
        csr, csc = data.csr, data.to_csc()  # not cached on the data: freed after fit
        self.cg = model.solver == "cg"
        # centred ratings; the CG kernel takes them as float32 and subtracts the other
        # side's biases itself, the exact solve gets float64 targets formed per half-step
        dtype = np.float32 if self.cg else np.float64
        self.u_ptr, self.u_idx = csr.indptr.astype(np.int64), csr.indices
        self.u_val = (csr.data.astype(np.float64) - self.mu).astype(dtype, copy=False)
        self.i_ptr, self.i_idx = csc.indptr.astype(np.int64), csc.indices
        self.i_val = (csc.data.astype(np.float64) - self.mu).astype(dtype, copy=False)
        del csc
        self.u_lam = model._penalties(np.diff(self.u_ptr))
        self.i_lam = model._penalties(np.diff(self.i_ptr))
        self.biased = bool(model.biased)
        self.cg_steps = int(model.cg_steps)
        self.n = len(data)
        self.r32 = csr.data

    def epoch(self, epoch: int) -> float:
        if self.cg:
            return self._cg_epoch()
        ridge_rows = self.k.ridge_rows
        # items first, then users: the final user rows are the exact solve against the
        # final item factors, which is what fold-in computes for new users
        Q, bi = ridge_rows(
            self.i_ptr, self.i_idx, self.i_val - self.bu[self.i_idx], self.P,
            self.i_lam[0], self.i_lam[1], self.biased,
        )  # fmt: skip
        self.Q[...] = Q
        self.bi[...] = bi
        P, bu = ridge_rows(
            self.u_ptr, self.u_idx, self.u_val - self.bi[self.u_idx], self.Q,
            self.u_lam[0], self.u_lam[1], self.biased,
        )  # fmt: skip
        self.P[...] = P
        self.bu[...] = bu
        sse = self.k.residual_sse(self.u_ptr, self.u_idx, self.r32, self.P, self.Q, self.bu,
                                  self.bi, self.mu)  # fmt: skip
        return float(np.sqrt(sse / self.n))

    def _cg_epoch(self) -> float:
        step, b = self.k.ridge_cg_rows_offset, self.biased
        step(self.i_ptr, self.i_idx, self.i_val, self.bu, b, self.P, self.Q, self.bi,
             self.i_lam[0], self.i_lam[1], b, self.cg_steps)  # fmt: skip
        # the training error the user step's first pass computes: this epoch's items,
        # the previous epoch's users (as SGD reports the errors it meets during an epoch)
        sse = step(self.u_ptr, self.u_idx, self.u_val, self.bi, b, self.Q, self.P, self.bu,
                   self.u_lam[0], self.u_lam[1], b, self.cg_steps)  # fmt: skip
        return float(np.sqrt(sse / self.n))

    def arrays(self) -> dict[str, Any]:
        return {"user_factors": self.P, "item_factors": self.Q, "user_bias": self.bu,
                "item_bias": self.bi}  # fmt: skip
