"""`ImplicitALS`: weighted ALS for implicit feedback (Hu, Koren and Volinsky 2008)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import check_choice, check_float, check_int, check_seed
from ..data.interactions import Interactions
from ._fitting import Trainer
from .implicit import ImplicitModel, confidence
from .recommend import Explanation

__all__ = ["ImplicitALS", "ImplicitModel"]


class ImplicitALS(ImplicitModel):
    """Weighted ALS for implicit feedback: every user-item cell is fitted, observed ones
    with preference 1 and confidence ``c_ui``, the rest with preference 0 and confidence 1.

    Each epoch solves all item rows, then all user rows, in parallel; rows are solved
    by a few warm-started conjugate-gradient steps (default, as in the ``implicit``
    library) or exactly (``solver="cholesky"``). Scores are ``x_u . y_i``.

    Parameters
    ----------
    n_factors : int, default 64
    n_epochs : int, default 15
    reg : float, default 30.0
        L2 regularization ``lambda`` (not scaled by counts unless ``reg_scaling`` says
        so). Far above the ``implicit`` library's 0.01: with 50-64 factors, 30 ranked
        best among 1-300 on MovieLens 100K (NDCG@10 0.44 vs 0.39 at 1) and Last.fm 2K,
        and avoided the overfitting that small values showed on sparse synthetic data
        (see ``benchmarks/``).
        Under leave-one-dataset-out (``benchmarks/results/defaults-lodo.md``; unscaled
        and frequency-scaled, ``alpha`` 1-30) the setting picked on the other sets
        scored below this default on 5 of 6 held-out sets, so it stays. It collapses on
        the benchmarks' synthetic 1M set, whose interactions are driven by popularity
        (NDCG@10 0.040 against the most popular items' 0.177, where ``reg=100`` reaches
        0.178): on large popularity-driven data validate ``reg`` (100-300) against
        :class:`~latentfactors.models.Popularity`.
    reg_scaling : {"none", "frequency"}, default "none"
        ``"frequency"``: the penalty of each row is scaled by its count and the
        catalogue size, as in Rendle et al. (2021), "Revisiting the Performance of iALS
        on Item Recommendation Benchmarks": user ``u`` gets ``reg * (n_u + reg_alpha0 *
        n_items) ** reg_nu`` and item ``i`` gets ``reg * (n_i + reg_alpha0 * n_users) **
        reg_nu``, with ``n_u`` / ``n_i`` the row's interactions. In training, fold-in and
        explain. ``reg`` is then per unit of weight and wants far smaller values than
        the unscaled default: on MovieLens 100K (64 factors, 15 epochs, ``nu = 1``) a
        validation slice of the training split chose ``reg = 0.02`` among 0.001-0.3,
        which reached NDCG@10 0.4531 on the quickstart's test split (unscaled
        ``reg = 30``: 0.4404); the optimum is sharp (0.03 was worse than the unscaled
        default on validation), so tune it.
    reg_alpha0 : float, default 1.0
        The paper's ``alpha0``: the weight of the unobserved cells relative to the
        observed ones (ours have weight 1, as the unobserved cells do).
    reg_nu : float, default 1.0
        The paper's exponent ``nu``; 0 gives the unscaled penalty ``reg``.
    alpha : float, default 1.0
        Confidence scale: ``c = 1 + alpha * r`` or ``1 + alpha * log(1 + r / epsilon)``.
    confidence : {"log", "linear"}, default "log"
        The log scale (Hu et al.'s second proposal) keeps play counts in the
        hundreds of thousands from swamping everything else; on MovieLens 100K and
        Last.fm 2K it ranked as well as or better than linear confidences.
    epsilon : float, default 1.0
        Scale inside the log confidence.
    solver : {"cg", "cholesky"}, default "cg"
    cg_steps : int, default 3
    threshold : float, optional
        Binarize explicit ratings: keep those ``>= threshold`` as interactions of
        strength 1. None uses the values themselves as strengths.
    init_std : float, default 0.01
    compute_loss : bool, default False
        Record the full training objective every epoch (costs about one extra pass).
    n_threads, random_state
        As in every model.

    Examples
    --------
    >>> from latentfactors.data import make_synthetic
    >>> data = make_synthetic(300, 200, 6000, implicit=True, seed=0).interactions
    >>> model = ImplicitALS(n_factors=8, random_state=0).fit(data)
    >>> items, scores = model.recommend(data.users.raw[0], n=3)
    >>> len(items)
    3
    """

    def __init__(
        self,
        n_factors: int = 64,
        n_epochs: int = 15,
        reg: float = 30.0,
        alpha: float = 1.0,
        *,
        reg_scaling: str = "none",
        reg_alpha0: float = 1.0,
        reg_nu: float = 1.0,
        confidence: str = "log",
        epsilon: float = 1.0,
        solver: str = "cg",
        cg_steps: int = 3,
        threshold: float | None = None,
        init_std: float = 0.01,
        compute_loss: bool = False,
        n_threads: int | None = None,
        random_state: int | None = None,
    ) -> None:
        self.n_factors = n_factors
        self.n_epochs = n_epochs
        self.reg = reg
        self.alpha = alpha
        self.reg_scaling = reg_scaling
        self.reg_alpha0 = reg_alpha0
        self.reg_nu = reg_nu
        self.confidence = confidence
        self.epsilon = epsilon
        self.solver = solver
        self.cg_steps = cg_steps
        self.threshold = threshold
        self.init_std = init_std
        self.compute_loss = compute_loss
        self.n_threads = n_threads
        self.random_state = random_state

    def _check_params(self) -> None:
        name = "ImplicitALS"
        check_int(name, "n_factors", self.n_factors, 1)
        check_int(name, "n_epochs", self.n_epochs, 1)
        check_float(name, "reg", self.reg, 0.0)
        check_float(name, "alpha", self.alpha, 0.0)
        check_choice(name, "reg_scaling", self.reg_scaling, ("none", "frequency"))
        check_float(name, "reg_alpha0", self.reg_alpha0, 0.0)
        check_float(name, "reg_nu", self.reg_nu, 0.0)
        check_choice(name, "confidence", self.confidence, ("linear", "log"))
        check_float(name, "epsilon", self.epsilon, 0.0, low_open=True)
        check_choice(name, "solver", self.solver, ("cg", "cholesky"))
        check_int(name, "cg_steps", self.cg_steps, 1)
        check_float(name, "threshold", self.threshold, allow_none=True)
        check_float(name, "init_std", self.init_std, 0.0)
        check_int(name, "n_threads", self.n_threads, 1, allow_none=True)
        check_seed(name, "random_state", self.random_state)

    def _row_reg(self, counts: np.ndarray, n_other: int) -> np.ndarray | None:
        """Per-row penalties ``reg * (n + alpha0 * n_other) ** nu`` (float32), or None
        when the penalty is not scaled."""
        if self.reg_scaling == "none":
            return None
        n = np.asarray(counts, dtype=np.float64)
        lam = float(self.reg) * (n + float(self.reg_alpha0) * n_other) ** float(self.reg_nu)
        return lam.astype(np.float32)

    def _conf(self, values: np.ndarray) -> np.ndarray:
        return confidence(values, self.confidence, float(self.alpha), float(self.epsilon))

    def _make_trainer(self, data: Interactions, seed: int) -> Trainer:
        return _IALSTrainer(self, self._implicit_view(data), seed)

    # -------------------------------------------------------------- fold-in, explain
    def _gram(self) -> np.ndarray:
        """``Y^T Y + reg I`` of the fitted item factors (``Y^T Y`` alone when the penalty
        is scaled per row), computed once and cached."""
        Y = self.item_factors_
        cached = getattr(self, "_gram_cache", None)
        if cached is None or cached[0] is not Y:
            reg = float(self.reg) if self.reg_scaling == "none" else 0.0
            gram = Y.T.astype(np.float64) @ Y + reg * np.eye(Y.shape[1])
            cached = (Y, gram.astype(np.float32))
            self._gram_cache = cached
        return cached[1]

    def _fold_in_solve(self, csr):
        """The exact ALS user update against the final item factors."""
        from ..kernels.ials import ials_solve_rows, ials_solve_rows_reg

        view = self._implicit_view_csr(csr)
        args = (view.indptr.astype(np.int64), view.indices.astype(np.int32),
                self._conf(view.data), self.item_factors_, self._gram())  # fmt: skip
        lam = self._row_reg(np.diff(view.indptr), self.item_factors_.shape[0])
        X = ials_solve_rows(*args) if lam is None else ials_solve_rows_reg(*args, lam)
        return X, X, np.zeros(csr.shape[0], dtype=np.float32)

    def explain(self, user: Any, item: Any) -> Explanation:
        """Contributions of the user's past items to the score (as ``implicit``'s explain).

        With ``W = (Y^T C_u Y + reg I)^-1``, past item ``j`` contributes
        ``c_uj * y_i^T W y_j``; the parts add up to ``x_u . y_i`` for the user vector
        solved exactly against the final item factors (equal to the model's own score
        with ``solver="cholesky"``, close to it with CG).
        """
        import pandas as pd

        self._check_fitted("explain")
        st = self._users_state()
        u = self._user_inner(user, st)
        i = self._item_inner(item)
        row = self._seen_or_fail(st, "explain")[u]
        view = self._implicit_view_csr(row)
        Y = self.item_factors_.astype(np.float64)
        conf = self._conf(view.data).astype(np.float64)
        Yu = Y[view.indices]
        A = self._gram().astype(np.float64) + (Yu.T * (conf - 1.0)) @ Yu
        lam = self._row_reg(np.array([len(view.indices)]), Y.shape[0])
        if lam is not None:
            A += float(lam[0]) * np.eye(Y.shape[1])
        w = np.linalg.solve(A, Y[i])
        contrib = conf * (Yu @ w)
        parts = pd.DataFrame(
            {"kind": "item", "name": self.items_.ids(view.indices), "contribution": contrib}
        )
        parts = parts.iloc[np.argsort(-np.abs(contrib), kind="stable")].reset_index(drop=True)
        model_score = float(st.vectors[u] @ self.item_factors_[i])
        return Explanation(
            user, item, float(contrib.sum()), parts,
            note=f"model score {model_score:.4f}; parts sum to the exact solve",
        )  # fmt: skip


class _IALSTrainer(Trainer):
    def __init__(self, model: ImplicitALS, data: Interactions, seed: int) -> None:
        from ..kernels import ials

        self.k = ials
        rng = np.random.default_rng(seed)
        f = int(model.n_factors)
        self.X = (rng.standard_normal((data.n_users, f)) * model.init_std).astype(np.float32)
        self.Y = (rng.standard_normal((data.n_items, f)) * model.init_std).astype(np.float32)
        csr = data.csr
        self.u_ptr, self.u_idx = csr.indptr.astype(np.int64), csr.indices
        self.u_conf = model._conf(csr.data)
        # the item side: the confidences regrouped by item (no CSC of the raw values is
        # built or cached on the data; these arrays go with the trainer after the fit)
        self.i_ptr, self.i_idx, self.i_conf = data.transpose(self.u_conf)
        self.reg = np.float32(model.reg)
        self.solver = model.solver
        self.cg_steps = int(model.cg_steps)
        self.compute_loss = bool(model.compute_loss)
        self.reports_loss = self.compute_loss
        self.u_reg = model._row_reg(np.diff(self.u_ptr), data.n_items)
        self.i_reg = model._row_reg(np.diff(self.i_ptr), data.n_users)
        scaled = self.u_reg is not None
        self.eye = np.eye(f, dtype=np.float32) * (np.float32(0.0) if scaled else self.reg)
        self.zeros_u = np.zeros(data.n_users, dtype=np.float32)
        self.zeros_i = np.zeros(data.n_items, dtype=np.float32)

    def _half(self, ptr, idx, conf, X, Y, lam=None) -> None:
        YtY = Y.T @ Y + self.eye
        if lam is None:
            if self.solver == "cg":
                self.k.ials_cg_step(ptr, idx, conf, X, Y, YtY, self.cg_steps)
            else:
                self.k.ials_cholesky_step(ptr, idx, conf, X, Y, YtY)
        elif self.solver == "cg":
            self.k.ials_cg_step_rows(ptr, idx, conf, X, Y, YtY, lam, self.cg_steps)
        else:
            self.k.ials_cholesky_step_rows(ptr, idx, conf, X, Y, YtY, lam)

    def epoch(self, epoch: int) -> float:
        # items first, then users: the final user factors are the exact (or CG) solve
        # against the final item factors, which is what fold-in computes for new users
        self._half(self.i_ptr, self.i_idx, self.i_conf, self.Y, self.X, self.i_reg)
        self._half(self.u_ptr, self.u_idx, self.u_conf, self.X, self.Y, self.u_reg)
        if not self.compute_loss:
            return float("nan")
        if self.u_reg is None:
            return float(self.k.ials_loss(self.u_ptr, self.u_idx, self.u_conf, self.X, self.Y,
                                          float(self.reg)))  # fmt: skip
        loss = float(self.k.ials_loss(self.u_ptr, self.u_idx, self.u_conf, self.X, self.Y, 0.0))
        pen = float(self.u_reg @ np.einsum("ij,ij->i", self.X, self.X, dtype=np.float64))
        pen += float(self.i_reg @ np.einsum("ij,ij->i", self.Y, self.Y, dtype=np.float64))
        return loss + pen / max(len(self.u_idx), 1)

    def arrays(self) -> dict[str, Any]:
        return {"user_factors": self.X, "item_factors": self.Y, "user_bias": self.zeros_u,
                "item_bias": self.zeros_i}  # fmt: skip
