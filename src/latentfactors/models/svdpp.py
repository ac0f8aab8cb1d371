"""`SVDpp`: SVD++, biased matrix factorization with the implicit feedback of who rated what."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from .._validation import check_float
from ..data.interactions import Interactions
from ._strata import StrataTrainer, n_blocks_for, stratify
from .base import Trainer
from .svd import SVD

__all__ = ["SVDpp"]


class SVDpp(SVD):
    """SVD++ (Koren 2008): ``r_ui ~ mu + b_u + b_i + q_i . (p_u + |N(u)|^-1/2 sum_j y_j)``.

    ``N(u)`` is the set of items user ``u`` rated: which films someone chose to rate
    says something about them beyond the ratings. Training is SGD on stratified blocks
    like :class:`SVD` (parallel, and reproducible whatever the thread count), and fast:
    the implicit term ``z_u = |N(u)|^-1/2 sum_j y_j`` is computed once per user per
    epoch, and the gradient of the ``y_j`` is accumulated per user and applied once per
    epoch (one epoch late), not once per rating as in Surprise.

    Parameters
    ----------
    n_factors : int, default 50
    n_epochs : int, default 20
    lr : float, default 0.015
    reg : float, default 0.08
    reg_bias : float, optional, default 0.02
    reg_density : float, optional, default 100.0
        As in :class:`SVD`: above this many training ratings per item the factor
        penalties (``reg_pu``, ``reg_qi``, ``reg_yj`` from ``reg``) shrink as
        ``sqrt(reg_density / m)``.
    lr_yj, reg_yj : float, optional
        Learning rate and regularization of the implicit factors ``y_j`` (default: ``lr``
        and ``reg``). Other per-term overrides as in :class:`SVD`.
    init_std : float, default 0.05
    n_blocks, n_threads, random_state
        As in :class:`SVD`.

    Examples
    --------
    >>> from latentfactors.data import make_synthetic
    >>> data = make_synthetic(300, 200, 8000, noise=0.3, seed=0).interactions
    >>> model = SVDpp(n_factors=8, random_state=0).fit(data)
    >>> model.implicit_factors_.shape
    (200, 8)
    """

    def __init__(
        self,
        n_factors: int = 50,
        n_epochs: int = 20,
        lr: float = 0.015,
        reg: float = 0.08,
        *,
        reg_bias: float | None = 0.02,
        reg_density: float | None = 100.0,
        lr_bu: float | None = None,
        lr_bi: float | None = None,
        lr_pu: float | None = None,
        lr_qi: float | None = None,
        lr_yj: float | None = None,
        reg_bu: float | None = None,
        reg_bi: float | None = None,
        reg_pu: float | None = None,
        reg_qi: float | None = None,
        reg_yj: float | None = None,
        init_std: float = 0.05,
        n_blocks: int | None = None,
        n_threads: int | None = None,
        random_state: int | None = None,
    ) -> None:
        super().__init__(
            n_factors, n_epochs, lr, reg, reg_bias=reg_bias, reg_density=reg_density,
            lr_bu=lr_bu, lr_bi=lr_bi, lr_pu=lr_pu, lr_qi=lr_qi, reg_bu=reg_bu, reg_bi=reg_bi,
            reg_pu=reg_pu, reg_qi=reg_qi, init_std=init_std, biased=True, n_blocks=n_blocks,
            n_threads=n_threads, random_state=random_state,
        )  # fmt: skip
        del self.biased  # SVD++ is always biased; not one of its parameters
        self.lr_yj = lr_yj
        self.reg_yj = reg_yj

    biased = True
    extra_state: ClassVar[dict[str, str]] = {"implicit_factors": "items"}
    _rate_terms = ("bu", "bi", "pu", "qi", "yj")

    def _check_params(self) -> None:
        super()._check_params()
        check_float("SVDpp", "lr_yj", self.lr_yj, 0.0, low_open=True, allow_none=True)
        check_float("SVDpp", "reg_yj", self.reg_yj, 0.0, allow_none=True)

    def _training_floats(self, k: int, n_users: int, n_items: int) -> int:
        # the model's P, Q, Y; the trainer's P, Q, Y and two user-side scratch rows
        return k * (4 * n_users + 4 * n_items)

    def _make_trainer(self, data: Interactions, seed: int) -> Trainer:
        P, Q = self._init_factors(data, seed)
        rng = np.random.default_rng([seed, 1])
        Y = (rng.standard_normal(Q.shape) * self.init_std).astype(np.float32)
        return _SVDppTrainer(self, data, P, Q, Y, seed)

    def _fold_in_solve(self, csr):
        from ..kernels.ridge import ridge_rows
        from ..kernels.sgd import svdpp_implicit_sums

        indptr = csr.indptr.astype(np.int64)
        cols = csr.indices.astype(np.int32)
        Z = np.zeros((csr.shape[0], self.item_factors_.shape[1]), dtype=np.float32)
        svdpp_implicit_sums(indptr, cols, self.implicit_factors_, Z)
        rows = np.repeat(np.arange(csr.shape[0]), np.diff(indptr))
        qz = np.einsum("ij,ij->i", self.item_factors_[cols], Z[rows], dtype=np.float64)
        targets = csr.data - self.intercept_ - self.item_bias_[cols] - qz
        lam_f, lam_b, _ = self._fold_in_penalties(np.diff(indptr))
        P, b = ridge_rows(indptr, cols, targets, self.item_factors_, lam_f, lam_b, True)
        return P + Z, P, b


class _SVDppTrainer(StrataTrainer, Trainer):
    def __init__(self, model: SVDpp, data: Interactions, P, Q, Y, seed: int) -> None:
        from ..kernels import sgd

        self.k = sgd
        self.nb = n_blocks_for(len(data), model.n_blocks)
        self.s = s = stratify(data, self.nb, seed)
        csr = s.csr(data)
        csc = csr.tocsc()
        csc.sort_indices()
        self.indptr, self.indices = csr.indptr.astype(np.int64), csr.indices
        self.c_indptr, self.c_indices = csc.indptr.astype(np.int64), csc.indices
        self.P, self.Q, self.Y = s.users_in(P), s.items_in(Q), s.items_in(Y)
        self.Z = np.zeros_like(self.P)
        self.G = np.zeros_like(self.P)
        self.bu = np.zeros(data.n_users, dtype=np.float32)
        self.bi = np.zeros(data.n_items, dtype=np.float32)
        self._rows = {"user_factors": (self.P, "user"), "item_factors": (self.Q, "item"),
                      "user_bias": (self.bu, "user"), "item_bias": (self.bi, "item"),
                      "implicit_factors": (self.Y, "item")}  # fmt: skip
        self.mu = np.float32(data.global_mean)
        counts = np.diff(self.indptr).astype(np.float64)
        self.norm = (1.0 / np.sqrt(np.maximum(counts, 1))).astype(np.float32)
        self.rates = {k: np.float32(v) for k, v in model._resolved_rates().items()}
        self.seed = seed
        self.n = len(data)

    def epoch(self, epoch: int) -> float:
        k, r, s = self.k, self.rates, self.s
        k.shuffle_blocks(s.block_ptr, s.users, s.items, s.ratings, self.seed, epoch)
        k.svdpp_implicit_sums(self.indptr, self.indices, self.Y, self.Z)
        self.G[:] = 0.0
        sse = k.svdpp_epoch(
            s.block_ptr, s.users, s.items, s.ratings, self.P, self.Q, self.Z, self.G, self.bu,
            self.bi, self.mu, r["lr_bu"], r["lr_bi"], r["lr_pu"], r["lr_qi"], r["reg_bu"],
            r["reg_bi"], r["reg_pu"], r["reg_qi"], self.nb,
        )  # fmt: skip
        k.svdpp_update_y(
            self.c_indptr, self.c_indices, self.Y, self.G, self.norm, r["lr_yj"], r["reg_yj"]
        )
        return float(np.sqrt(sse / self.n))

    def extra_state(self) -> dict[str, np.ndarray]:
        return {"implicit_factors": self.arrays()["implicit_factors"]}

    def user_vectors(self) -> np.ndarray:
        Z = np.empty_like(self.P)
        self.k.svdpp_implicit_sums(self.indptr, self.indices, self.Y, Z)
        return self.s.users_out(self.P + Z)
