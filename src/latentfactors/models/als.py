"""`ALS`: explicit-rating matrix factorization by alternating least squares, with biases."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from .._validation import check_bool, check_choice, check_float, check_int, check_seed
from ..data.interactions import Interactions
from . import _regsearch as R
from ._regsearch import RegSearchParam
from ._strata import padded_width
from .base import FactorModel, Trainer

__all__ = ["ALS"]


class ALS(RegSearchParam, FactorModel):
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
    reg : float, "auto" or sequence of floats, default "auto"
        L2 penalty of the factors (per rating when ``weighted``); a number must be > 0.
        ``"auto"`` chooses it on the training data: a validation slice (up to 2,000
        users with 3 or more ratings, a fifth of each one's ratings, drawn under
        ``random_state``; the slice of ``ImplicitALS``) is taken out of both sides;
        the candidates 0.05, 0.07, 0.1, 0.14, 0.2 (``weighted=False``: 5, 7, 10, 14,
        20) are fitted two epochs each, strongest first, each warm-started from the one
        before, and scored by RMSE on the slice; the lowest wins, and the model is then
        fitted from its initial factors for ``n_epochs`` at that value on all the data
        (so it is the model ``reg=<chosen>`` gives). A sequence searches its own values;
        a number is used as it is. The choice is ``reg_``, the search ``reg_search_``;
        it costs about 10 epochs, logged on "latentfactors.search"; a Dask fit runs the
        same search. Without a slice (no user with 3 ratings) "auto" uses 0.1 (10).

        Why: the fixed 0.1 held on MovieLens but was 0.07 RMSE behind on the
        benchmarks' low-noise synthetic sets (1M: 0.6603 against 0.5925 at 0.05); on
        the study's sets and three fresh ones the search beat 0.1 on 6 of 10, tied on 3
        and lost 0.0015 on one (``benchmarks/results/als-auto.md``).
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
        reg: float | str | Sequence[float] = "auto",
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
        self._reg_candidates()
        check_float(name, "reg_bias", self.reg_bias, 0.0)
        check_bool(name, "weighted", self.weighted)
        check_bool(name, "biased", self.biased)
        check_choice(name, "solver", self.solver, ("cg", "exact"))
        check_int(name, "cg_steps", self.cg_steps, 1)
        check_float(name, "init_std", self.init_std, 0.0)
        check_int(name, "n_threads", self.n_threads, 1, allow_none=True)
        check_seed(name, "random_state", self.random_state)

    #: the candidates of ``reg="auto"`` (by ``weighted``): a sqrt(2) ladder around the
    #: fixed 0.1 (weighted; 10 unweighted) that was the default before the search
    AUTO_REG: ClassVar[dict[Any, tuple[float, ...]]] = {
        True: (0.05, 0.07, 0.1, 0.14, 0.2),
        False: (5.0, 7.0, 10.0, 14.0, 20.0),
    }
    AUTO_FALLBACK: ClassVar[dict[Any, float]] = {True: 0.1, False: 10.0}
    REG_POSITIVE: ClassVar[bool] = True

    def _auto_key(self) -> bool:
        return bool(self.weighted)

    def _penalties(self, counts: np.ndarray, reg: float | None = None):
        """Per-row penalties of the factors and of the biases (float64)."""
        reg = self._fitted_reg() if reg is None else reg
        scale = np.maximum(counts, 1).astype(np.float64) if self.weighted else np.ones(len(counts))
        return float(reg) * scale, float(self.reg_bias) * scale

    def _fold_in_penalties(self, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
        """The ALS user half-step itself: fold-in is exact."""
        lam_f, lam_b = self._penalties(counts)
        return lam_f, lam_b, bool(self.biased)

    def _training_floats(self, k: int, n_users: int, n_items: int) -> int:
        # the model's factors, the trainer's (padded to padded_width by the CG solver),
        # scratch
        w = padded_width(k) if self.solver == "cg" else k
        return (2 * k + w) * (n_users + n_items)

    def _make_trainer(self, data: Interactions, seed: int) -> Trainer:
        trainer = _ALSTrainer(self, data, seed)
        if self._searches_reg():
            trainer.search_reg(self._reg_candidates(), self._fallback_reg())
        return trainer


class _ALSTrainer(Trainer):
    def __init__(self, model: ALS, data: Interactions, seed: int) -> None:
        from ..kernels import ridge

        self.k = ridge
        self.model, self.seed = model, seed
        self.cg = model.solver == "cg"
        self.nf = f = int(model.n_factors)
        # the CG kernel's loops run 32 floats a pass, the rest one at a time: it trains
        # zero columns up to padded_width (they stay zero: CG from zero with a zero
        # right-hand side), so the model is the same to float32 rounding
        w = padded_width(f) if self.cg else f
        self.P = np.zeros((data.n_users, w), dtype=np.float32)
        self.Q = np.zeros((data.n_items, w), dtype=np.float32)
        self.bu = np.empty(data.n_users, dtype=np.float32)
        self.bi = np.empty(data.n_items, dtype=np.float32)
        self._init_factors()
        self.mu = float(data.global_mean)
        csr, csc = data.csr, data.to_csc()  # not cached on the data: freed after fit
        # centred ratings; the CG kernel takes them as float32 and subtracts the other
        # side's biases itself, the exact solve gets float64 targets formed per half-step
        dtype = np.float32 if self.cg else np.float64
        self.u_ptr, self.u_idx = csr.indptr.astype(np.int64), csr.indices
        self.u_val = (csr.data.astype(np.float64) - self.mu).astype(dtype, copy=False)
        self.i_ptr, self.i_idx = csc.indptr.astype(np.int64), csc.indices
        self.i_val = (csc.data.astype(np.float64) - self.mu).astype(dtype, copy=False)
        del csc
        self.biased = bool(model.biased)
        self.cg_steps = int(model.cg_steps)
        self.n = len(data)
        self.r32 = csr.data
        self.search: dict[str, Any] | None = None
        self._set_reg(model._fallback_reg())

    def _init_factors(self) -> None:
        """The initial factors of this seed (the same draws every time), zero biases."""
        rng = np.random.default_rng(self.seed)
        std, f = self.model.init_std, self.nf
        self.P[:, :f] = rng.standard_normal((self.P.shape[0], f)) * std
        self.Q[:, :f] = rng.standard_normal((self.Q.shape[0], f)) * std
        self.bu[...] = 0.0
        self.bi[...] = 0.0

    def _set_reg(self, reg: float) -> None:
        self.u_lam = self.model._penalties(np.diff(self.u_ptr), reg)
        self.i_lam = self.model._penalties(np.diff(self.i_ptr), reg)

    _SIDES = ("u_ptr", "u_idx", "u_val", "r32", "i_ptr", "i_idx", "i_val")

    def search_reg(self, candidates: tuple[float, ...], fallback: float) -> None:
        """Choose ``reg`` among ``candidates`` on a validation slice of the training
        ratings (see ``ALS``'s ``reg``), then restart from the initial factors at the
        choice. Without enough data for a slice, ``fallback``."""
        from ..kernels.ials import locate_entries

        rows, pos = R.validation_slice(self.u_ptr, R.slice_rng(self.seed))
        if len(pos) == 0:
            self.search = R.search_record(candidates, 0, 0, "rmse", fallback)
            self._set_reg(fallback)
            return
        items = self.u_idx[pos]
        ipos = locate_entries(self.i_ptr, self.i_idx, items.astype(np.int64),
                              rows.astype(np.int32))  # fmt: skip
        if (ipos < 0).any():  # pragma: no cover - the two sides hold the same entries
            raise RuntimeError("ALS: a validation rating is missing on the item side")
        truth = self.r32[pos].astype(np.float64)
        full = {name: getattr(self, name) for name in self._SIDES}
        u_ptr, (u_idx, u_val, r32) = R.without(self.u_ptr, [self.u_idx, self.u_val, self.r32],
                                               pos)  # fmt: skip
        i_ptr, (i_idx, i_val) = R.without(self.i_ptr, [self.i_idx, self.i_val], ipos)

        def fit(reg: float) -> None:
            self._set_reg(reg)
            for _ in range(VAL_EPOCHS):
                self.epoch(0)

        try:
            # the slice out of the data while the candidates are fitted
            reduced = (u_ptr, u_idx, u_val, r32, i_ptr, i_idx, i_val)
            for name, arr in zip(self._SIDES, reduced):
                setattr(self, name, arr)
            self.search = rmse_search(candidates, fit, self.mu,
                                      lambda: (self.P, self.Q, self.bu, self.bi),
                                      rows, items, truth)  # fmt: skip
        finally:
            for name, arr in full.items():
                setattr(self, name, arr)
        self._set_reg(self.search["chosen"])
        self._init_factors()

    def fitted_scalars(self) -> dict[str, Any]:
        return {} if self.search is None else {"reg_search": self.search}

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
        f = self.nf
        P, Q = (self.P, self.Q) if self.P.shape[1] == f else (
            np.ascontiguousarray(self.P[:, :f]), np.ascontiguousarray(self.Q[:, :f]))  # fmt: skip
        return {"user_factors": P, "item_factors": Q, "user_bias": self.bu, "item_bias": self.bi}

    def restore(self, snap: dict[str, Any]) -> None:
        f = self.nf
        self.P[:, :f] = snap["user_factors"]
        self.Q[:, :f] = snap["item_factors"]
        self.bu[...] = snap["user_bias"]
        self.bi[...] = snap["item_bias"]


#: epochs per candidate of the reg search, each warm-started from the previous
#: (stronger) candidate's factors
VAL_EPOCHS = 2


def rmse_search(candidates, fit, mu: float, factors, users: np.ndarray, items: np.ndarray,
                truth: np.ndarray) -> dict[str, Any]:  # fmt: skip
    """The reg search on held-out ratings ``(users, items, truth)``: ``fit(reg)`` trains a
    candidate, ``factors()`` gives ``(P, Q, b_u, b_i)`` to predict with; candidates run
    strongest penalty first, so each starts from the smoother factors of the one before
    (ascending, a weak penalty's overfit factors are carried into the next candidate and
    two epochs do not undo it). The ``reg_search_`` record, candidates ascending."""

    def score() -> np.ndarray:
        P, Q, bu, bi = factors()
        pred = (mu + bu[users].astype(np.float64) + bi[items]
                + np.einsum("ij,ij->i", P[users], Q[items], dtype=np.float64))  # fmt: skip
        return (pred - truth) ** 2

    record = R.run_search("ALS", candidates[::-1], fit, score,
                          lambda e: float(np.sqrt(e.mean())), _choose_rmse, "RMSE",
                          len(np.unique(users)), len(users))  # fmt: skip
    for key in ("candidates", "scores", "standard_errors"):
        record[key] = record[key][::-1]  # ascending, as the parameter
    return record


def _choose_rmse(candidates, errors: list[np.ndarray]) -> tuple[float, list[float]]:
    """The candidate of the lowest RMSE on the slice, and each one's standard error of
    its RMSE's difference from the best one's (from the per-rating squared errors, by
    the delta method)."""
    mse = np.array([e.mean() for e in errors])
    best = int(np.argmin(mse))
    n = max(len(errors[best]), 1)
    scale = 2.0 * max(float(np.sqrt(mse[best])), 1e-12)
    ses = [float(np.std(e - errors[best]) / np.sqrt(n) / scale) for e in errors]
    return float(candidates[best]), ses
