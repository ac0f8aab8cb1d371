"""`ImplicitALS`: weighted ALS for implicit feedback (Hu, Koren and Volinsky 2008)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from .._validation import check_bool, check_choice, check_float, check_int, check_seed
from ..data.interactions import Interactions
from ..exceptions import DataError
from . import _regsearch as R
from ._fitting import Trainer
from ._regsearch import RegSearchParam
from .implicit import ImplicitModel, confidence
from .recommend import Explanation

__all__ = ["ImplicitALS", "ImplicitModel"]


class ImplicitALS(RegSearchParam, ImplicitModel):
    """Weighted ALS for implicit feedback: every user-item cell is fitted, observed ones
    with preference 1 and confidence ``c_ui``, the rest with preference 0 and confidence 1.

    Each epoch solves all item rows, then all user rows, in parallel; rows are solved
    by a few warm-started conjugate-gradient steps (default, as in the ``implicit``
    library), by one pass of iALS++ subspace descent (``solver="block"``) or exactly
    (``solver="cholesky"``). Scores are ``x_u . y_i``, plus an item bias ``b_i`` with
    ``item_bias=True``.

    Parameters
    ----------
    n_factors : int, default 64
    n_epochs : int, default 15
    reg : float, "auto" or sequence of floats, default "auto"
        L2 regularization ``lambda`` (not scaled by counts unless ``reg_scaling`` says
        so). ``"auto"`` chooses it on the training data itself: a validation slice
        (up to 2,000 users with 3 or more interactions, a fifth of each one's
        interactions, drawn under ``random_state``) is taken out of the data (those
        cells count as unobserved, as a held-out item does for a model trained
        without it); the candidates 10, 30, 100, 300, 1000 (with
        ``reg_scaling="frequency"``: 0.003, 0.01, 0.03, 0.1, 0.3) are fitted in
        ascending order, three epochs each, each warm-started from the one before,
        and scored by NDCG@10 on the slice; the smallest candidate within one standard
        error (of the per-user difference) of the best one wins, because an overly
        strong penalty shrinks the factors further every epoch, which a few epochs do
        not show (on the quickstart's synthetic set 1000 tied the best there and ranked
        at a twentieth of popularity after 15 epochs; with two epochs per candidate,
        100 beat 30 on the study's syn 100K set, where 30 is better after 15 and 100
        falls to the popularity floor). The model is then fitted from its
        initial factors for ``n_epochs`` at that value on all the data, so it is the
        model ``reg=<chosen>`` gives. A sequence searches its own values the same way;
        a number is used as it is. The choice is ``reg_``, the search ``reg_search_``
        (candidates, mean NDCG@10, standard errors). The search costs about 15 epochs
        and logs one line per candidate at INFO on the "latentfactors.search" logger
        (``latentfactors fit`` prints them); a Dask fit runs the same search on its
        blocks and chooses the same value. With too little data for a slice (no user
        with 3 interactions) "auto" uses 30 (0.01 frequency-scaled).

        Why: no fixed value held across the data sets of
        ``benchmarks/results/defaults-lodo.md``. 30 ranked best on MovieLens 100K and
        Last.fm 2K (NDCG@10 0.44 at 30 vs 0.29 at 100 on ML-100K) but collapsed on the
        benchmarks' popularity-driven synthetic sets (1M: 0.040 against the most
        popular items' 0.177); the search keeps 30 on the real sets and picks 100-300
        on those (``benchmarks/results/ials-auto.md``).
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
    solver : {"cg", "block", "cholesky"}, default "cg"
        ``"block"`` is iALS++ (Rendle, Krichene, Zhang and Koren 2021, "iALS++:
        Speeding up Matrix Factorization with Subspace Optimization"): each row's
        coordinates are updated ``block_size`` at a time, each block solved exactly with
        the others fixed, one pass per epoch (``block_size >= n_factors`` is the exact
        solve). On MovieLens 100K, Last.fm 2K and the 1M synthetic set at 128 and 256
        factors its fastest block size reached the exact solve's NDCG@10 (within 0.001)
        in 3.6-9.6x less time than ``"cholesky"`` (the default 32: 3.2-9.0x), and the
        default 3 CG steps reached it too, 4.7-5.8x faster than that block size
        (``benchmarks/results/ials-solvers.md``), so CG stays the default.
    cg_steps : int, default 3
    block_size : int, default 32
        Coordinates per block of ``solver="block"``. On that page 16 was the fastest
        (8 about as fast); 32 took 6-14% longer and ended a little closer to the exact
        objective.
    threshold : float, optional
        Binarize explicit ratings: keep those ``>= threshold`` as interactions of
        strength 1. None uses the values themselves as strengths.
    init_std : float, default 0.01
    item_bias : bool, default False
        Score ``x_u . y_i + b_i``: each item gets a bias, learned with its factors (the
        item side solves ``[y_i, b_i]`` against ``[x_u, 1]``, penalized alike; the user
        side solves ``x_u`` with the biases as fixed offsets of the targets, every
        unobserved cell's included). The bias carries an item's overall pull, so the
        factors need not spend a dimension, and its penalty, on popularity. In training,
        the reg search, fold-in and explain; ``item_bias_`` holds it (zeros without).
        On a Dask cluster too (the same model). Off by default: on
        ``benchmarks/results/ials-bias.md`` it ranked above the default on the
        popularity-driven synthetic sets (10M: NDCG@10 0.1118 against 0.1109, the
        popularity floor 0.1116) and below it on MovieLens 100K (0.4204 against 0.4422)
        and Last.fm (0.2666 against 0.2674).
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
        reg: float | str | Sequence[float] = "auto",
        alpha: float = 1.0,
        *,
        reg_scaling: str = "none",
        reg_alpha0: float = 1.0,
        reg_nu: float = 1.0,
        confidence: str = "log",
        epsilon: float = 1.0,
        solver: str = "cg",
        cg_steps: int = 3,
        block_size: int = 32,
        threshold: float | None = None,
        init_std: float = 0.01,
        item_bias: bool = False,
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
        self.block_size = block_size
        self.threshold = threshold
        self.init_std = init_std
        self.item_bias = item_bias
        self.compute_loss = compute_loss
        self.n_threads = n_threads
        self.random_state = random_state

    def _check_params(self) -> None:
        name = "ImplicitALS"
        check_int(name, "n_factors", self.n_factors, 1)
        check_int(name, "n_epochs", self.n_epochs, 1)
        check_float(name, "alpha", self.alpha, 0.0)
        check_choice(name, "reg_scaling", self.reg_scaling, ("none", "frequency"))
        self._reg_candidates()
        check_float(name, "reg_alpha0", self.reg_alpha0, 0.0)
        check_float(name, "reg_nu", self.reg_nu, 0.0)
        check_choice(name, "confidence", self.confidence, ("linear", "log"))
        check_float(name, "epsilon", self.epsilon, 0.0, low_open=True)
        check_choice(name, "solver", self.solver, ("cg", "block", "cholesky"))
        check_int(name, "cg_steps", self.cg_steps, 1)
        check_int(name, "block_size", self.block_size, 1)
        check_float(name, "threshold", self.threshold, allow_none=True)
        check_float(name, "init_std", self.init_std, 0.0)
        check_bool(name, "item_bias", self.item_bias)
        check_int(name, "n_threads", self.n_threads, 1, allow_none=True)
        check_seed(name, "random_state", self.random_state)

    #: the candidates of ``reg="auto"``, unscaled and frequency-scaled
    AUTO_REG: ClassVar[dict[Any, tuple[float, ...]]] = {
        "none": (10.0, 30.0, 100.0, 300.0, 1000.0),
        "frequency": (0.003, 0.01, 0.03, 0.1, 0.3),
    }
    #: "auto" without a search (too little data, or a state set without one)
    AUTO_FALLBACK: ClassVar[dict[Any, float]] = {"none": 30.0, "frequency": 0.01}
    #: files from before ``item_bias``: no bias, as they were trained
    params_added: ClassVar[dict[str, Any]] = {"item_bias": False}

    def _auto_key(self) -> str:
        return str(self.reg_scaling)

    def _row_reg(self, counts: np.ndarray, n_other: int, reg: float | None = None):
        """Per-row penalties ``reg * (n + alpha0 * n_other) ** nu`` (float32), or None
        when the penalty is not scaled."""
        if self.reg_scaling == "none":
            return None
        reg = self._fitted_reg() if reg is None else reg
        n = np.asarray(counts, dtype=np.float64)
        lam = float(reg) * (n + float(self.reg_alpha0) * n_other) ** float(self.reg_nu)
        return lam.astype(np.float32)

    def _conf(self, values: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        return confidence(values, self.confidence, float(self.alpha), float(self.epsilon), out)

    def _make_trainer(self, data: Interactions, seed: int) -> Trainer:
        trainer = _IALSTrainer(self, self._implicit_view(data), seed)
        candidates = self._reg_candidates()
        if self._searches_reg():
            trainer.search_reg(candidates, self._fallback_reg())
        return trainer

    # -------------------------------------------------------------- fold-in, explain
    def _has_bias(self) -> bool:
        """Whether the fitted state has item biases: what fold-in and explain follow,
        not the ``item_bias`` setting (a state set from elsewhere may carry them, and
        ``set_params`` after a fit does not change what was learned)."""
        return bool(np.any(self.item_bias_))

    def _solve_items(self) -> tuple[np.ndarray, np.ndarray]:
        """The item side a user row is solved against, and its ``Y^T Y + reg I``
        (``Y^T Y`` alone when the penalty is scaled per row), computed once and cached:
        the item factors, with the item biases as a last column when the state has
        them (the user's last coordinate is then held at 1)."""
        Y, b = self.item_factors_, self.item_bias_
        cached = getattr(self, "_gram_cache", None)
        if cached is None or cached[0] is not Y or cached[1] is not b:
            Ya = np.ascontiguousarray(np.column_stack([Y, b]) if self._has_bias() else Y,
                                      dtype=np.float32)  # fmt: skip
            reg = self._fitted_reg() if self.reg_scaling == "none" else 0.0
            gram = Ya.T.astype(np.float64) @ Ya + reg * np.eye(Ya.shape[1])
            cached = (Y, b, Ya, gram.astype(np.float32))
            self._gram_cache = cached
        return cached[2], cached[3]

    def _fold_in_solve(self, csr):
        """The exact ALS user update against the final item factors (and biases)."""
        from ..kernels import ials

        view = self._implicit_view_csr(csr)
        Ya, gram = self._solve_items()
        f = self.item_factors_.shape[1]
        args = (view.indptr.astype(np.int64), view.indices.astype(np.int32),
                self._conf(view.data))  # fmt: skip
        lam = self._row_reg(np.diff(view.indptr), Ya.shape[0])
        if Ya.shape[1] == f:  # no biases
            X = (ials.ials_solve_rows(*args, Ya, gram) if lam is None
                 else ials.ials_solve_rows_reg(*args, Ya, gram, lam))  # fmt: skip
        else:  # the last coordinate held at 1: x . y_i + b_i
            Xa = np.zeros((csr.shape[0], f + 1), dtype=np.float32)
            Xa[:, f] = 1.0
            if lam is None:
                ials.ials_cholesky_step(*args, Xa, Ya, gram, f)
            else:
                ials.ials_cholesky_step_rows(*args, Xa, Ya, gram, lam, f)
            X = np.ascontiguousarray(Xa[:, :f])
        return X, X, np.zeros(csr.shape[0], dtype=np.float32)

    def explain(self, user: Any, item: Any) -> Explanation:
        """Contributions of the user's past items to the score (as ``implicit``'s explain).

        With ``W = (Y^T C_u Y + reg I)^-1``, past item ``j`` contributes
        ``c_uj * y_i^T W y_j``; the parts add up to ``x_u . y_i`` for the user vector
        solved exactly against the final item factors (equal to the model's own score
        with ``solver="cholesky"``, close to it with CG). With item biases a past
        item's weight is ``c_uj - (c_uj - 1) b_j``, and two more parts close the sum:
        the item's own bias ``b_i`` and ``-y_i^T W Y^T b``, the pull of every item's bias
        on the user's unobserved cells (kind "bias").
        """
        import pandas as pd

        self._check_fitted("explain")
        st = self._users_state()
        u = self._user_inner(user, st)
        i = self._item_inner(item)
        row = self._seen_or_fail(st, "explain")[u]
        view = self._implicit_view_csr(row)
        Y = self.item_factors_.astype(np.float64)
        f = Y.shape[1]
        conf = self._conf(view.data).astype(np.float64)
        Yu = Y[view.indices]
        A = self._solve_items()[1].astype(np.float64)[:f, :f] + (Yu.T * (conf - 1.0)) @ Yu
        lam = self._row_reg(np.array([len(view.indices)]), Y.shape[0])
        if lam is not None:
            A += float(lam[0]) * np.eye(f)
        w = np.linalg.solve(A, Y[i])
        names = list(self.items_.ids(view.indices))
        kinds = ["item"] * len(names)
        if self._has_bias():
            b = self.item_bias_.astype(np.float64)
            contrib = (conf - (conf - 1.0) * b[view.indices]) * (Yu @ w)
            contrib = np.concatenate((contrib, [b[i], -float(w @ (Y.T @ b))]))
            names += ["item bias", "other items' biases"]
            kinds += ["bias", "bias"]
        else:
            contrib = conf * (Yu @ w)
        parts = pd.DataFrame({"kind": kinds, "name": names, "contribution": contrib})
        parts = parts.iloc[np.argsort(-np.abs(contrib), kind="stable")].reset_index(drop=True)
        model_score = float(st.vectors[u] @ self.item_factors_[i] + self.item_bias_[i])
        return Explanation(
            user, item, float(contrib.sum()), parts,
            note=f"model score {model_score:.4f}; parts sum to the exact solve",
        )  # fmt: skip


#: up to this many interactions the trainer keeps the user side's confidences; above it
#: each use recomputes them a block of ``_USER_BLOCK`` interactions at a time from the
#: container's values, so a fit holds one array of confidences (the item side's), not
#: two: 0.4 GB less at 100M interactions, for about 4% more time per epoch at 20M
_USER_CONF_KEPT = 1 << 24
_USER_BLOCK = 1 << 22


class IALSFactors(Trainer):
    """The factors of an iALS trainer, on one machine or on Dask: ``X`` (users) and
    ``Y`` (items); under ``item_bias`` one more column, ones in ``X`` (held there by the
    user side's solve, ``n_free``) and the biases in ``Y`` (solved with the item
    factors)."""

    def _alloc(self, model: ImplicitALS, n_users: int, n_items: int, seed: int) -> None:
        self.seed = int(seed)
        self.init_std = float(model.init_std)
        self.f, self.biased = int(model.n_factors), bool(model.item_bias)
        self.n_free = self.f if self.biased else -1  # of a user row
        self.X = np.empty((n_users, self.f + self.biased), dtype=np.float32)
        self.Y = np.empty((n_items, self.f + self.biased), dtype=np.float32)
        self.zeros_u = np.zeros(n_users, dtype=np.float32)
        self.zeros_i = np.zeros(n_items, dtype=np.float32)
        self._init_factors()

    def _init_factors(self) -> None:
        """The initial factors of this seed (the same draws every time, with or without
        the bias column)."""
        rng = np.random.default_rng(self.seed)
        f = self.f
        self.X[:, :f] = rng.standard_normal((len(self.X), f)) * self.init_std
        self.Y[:, :f] = rng.standard_normal((len(self.Y), f)) * self.init_std
        if self.biased:
            self.X[:, f] = 1.0
            self.Y[:, f] = 0.0

    def _user_penalty(self, reg: float) -> float:
        """What ``reg * |X|^2`` over the whole rows counts for the held column of ones
        (no parameter: taken off the objective)."""
        return float(reg) * len(self.X) if self.biased else 0.0

    def arrays(self) -> dict[str, Any]:
        if not self.biased:
            return {"user_factors": self.X, "item_factors": self.Y,
                    "user_bias": self.zeros_u, "item_bias": self.zeros_i}  # fmt: skip
        f = self.f
        return {"user_factors": np.ascontiguousarray(self.X[:, :f]),
                "item_factors": np.ascontiguousarray(self.Y[:, :f]),
                "user_bias": self.zeros_u, "item_bias": self.Y[:, f].copy()}  # fmt: skip

    def restore(self, snap: dict[str, Any]) -> None:
        if not self.biased:
            super().restore(snap)
            return
        f = self.f  # arrays() gives copies of the columns: write them back
        self.X[:, :f] = snap["user_factors"]
        self.Y[:, :f] = snap["item_factors"]
        self.Y[:, f] = snap["item_bias"]


class _IALSTrainer(IALSFactors):
    def __init__(self, model: ImplicitALS, data: Interactions, seed: int) -> None:
        from ..kernels import ials

        self.k = ials
        self.model = model
        self._alloc(model, data.n_users, data.n_items, seed)
        csr = data.csr
        self.u_ptr, self.u_idx = csr.indptr.astype(np.int64), csr.indices
        # the item side: the values regrouped by item, turned into confidences in place
        # (no CSC of the raw values is built or cached on the data; these arrays go with
        # the trainer after the fit)
        self.i_ptr, self.i_idx, self.i_conf = data.transpose(csr.data)
        if np.may_share_memory(self.i_conf, csr.data):  # pragma: no cover - it copies
            self.i_conf = self.i_conf.copy()
        model._conf(self.i_conf, out=self.i_conf)
        if len(self.i_conf) and not self.i_conf.min() >= 0:  # NaN fails this too
            raise DataError(
                f"ImplicitALS: confidences must be >= 0, but values down to "
                f"{csr.data.min():g} give {self.i_conf.min():g} with confidence="
                f"{model.confidence!r}, alpha={model.alpha!r}; use strengths >= 0 (or "
                "threshold= to binarize ratings)"
            )
        # the user side: kept for small data; recomputed per block of users otherwise
        self.u_vals = csr.data
        self.u_held: np.ndarray | None = None  # positions the reg search holds out
        nnz = len(self.u_idx)
        if nnz <= _USER_CONF_KEPT:
            self.u_conf: np.ndarray | None = model._conf(csr.data)
            self.u_cuts = np.array([0, data.n_users], dtype=np.int64)
        else:
            self.u_conf = None
            rows = np.searchsorted(self.u_ptr, np.arange(0, nnz, _USER_BLOCK), side="right")
            self.u_cuts = np.unique(np.concatenate(([0], rows - 1, [data.n_users])))
        self.solver = model.solver
        self.cg_steps = int(model.cg_steps)
        self.block_size = int(model.block_size)
        self.compute_loss = bool(model.compute_loss)
        self.reports_loss = self.compute_loss
        self.scaled = model.reg_scaling != "none"
        self.search: dict[str, Any] | None = None
        self._set_reg(model._fallback_reg())

    def _set_reg(self, reg: float) -> None:
        m = self.model
        self.reg = np.float32(reg)
        self.u_reg = m._row_reg(np.diff(self.u_ptr), len(self.Y), reg) if self.scaled else None
        self.i_reg = m._row_reg(np.diff(self.i_ptr), len(self.X), reg) if self.scaled else None
        scale = np.float32(0.0) if self.scaled else self.reg
        self.eye = np.eye(self.X.shape[1], dtype=np.float32) * scale

    # ------------------------------------------------------------------ reg search
    def search_reg(self, candidates: tuple[float, ...], fallback: float) -> None:
        """Choose ``reg`` among ``candidates`` (ascending) on a validation slice of the
        training rows (see ``ImplicitALS``'s ``reg``), then restart from the initial
        factors at the choice. Without enough data for a slice, ``fallback``."""
        rows, pos = R.validation_slice(self.u_ptr, R.slice_rng(self.seed))
        if len(pos) == 0:
            self.search = R.search_record(candidates, 0, 0, "ndcg@10", fallback)
            self._set_reg(fallback)
            return
        held = HeldOut.from_rows(self.u_ptr, self.u_idx, rows, pos)
        ipos = self.k.locate_entries(self.i_ptr, self.i_idx, held.truth_idx.astype(np.int64),
                                     rows.astype(np.int32))  # fmt: skip
        if (ipos < 0).any():  # pragma: no cover - the two sides hold the same entries
            raise RuntimeError("ImplicitALS: a validation entry is missing on the item side")
        i_saved = self.i_conf[ipos].copy()

        def fit(reg: float) -> None:
            self._set_reg(reg)
            for _ in range(VAL_EPOCHS):
                self._epoch_steps()

        try:
            # out of the data while the candidates are fitted: unobserved cells (a
            # negative confidence), as a held-out test item is to a model trained
            # without it
            self.u_held = np.sort(pos.astype(np.int64))
            self.i_conf[ipos] = -1.0
            self.search = held.search(candidates, fit, lambda: (self.X, self.Y))
        finally:
            self.u_held = None
            self.i_conf[ipos] = i_saved
        self._set_reg(self.search["chosen"])
        self._init_factors()

    def fitted_scalars(self) -> dict[str, Any]:
        return {} if self.search is None else {"reg_search": self.search}

    def _user_blocks(self):
        """``(start, stop, indptr, indices, confidences)`` of consecutive blocks of users
        covering them all (one block when the confidences are kept), the entries the reg
        search holds out at -1."""
        for s, e in zip(self.u_cuts[:-1].tolist(), self.u_cuts[1:].tolist()):
            a, b = int(self.u_ptr[s]), int(self.u_ptr[e])
            if self.u_conf is not None:
                conf = self.u_conf if self.u_held is None else self.u_conf.copy()
            else:
                conf = self.model._conf(self.u_vals[a:b])
            if self.u_held is not None:
                lo, hi = np.searchsorted(self.u_held, (a, b))
                conf[self.u_held[lo:hi] - a] = -1.0
            yield s, e, self.u_ptr[s : e + 1] - a, self.u_idx[a:b], conf

    def _half(self, ptr, idx, conf, X, Y, lam=None, YtY=None, n_free=-1) -> None:
        YtY = Y.T @ Y + self.eye if YtY is None else YtY
        self.k.ials_update(ptr, idx, conf, X, Y, YtY, lam, self.solver, self.cg_steps,
                           self.block_size, n_free)  # fmt: skip

    def _epoch_steps(self) -> None:
        # items first, then users: the final user factors are the exact (or CG) solve
        # against the final item factors, which is what fold-in computes for new users
        self._half(self.i_ptr, self.i_idx, self.i_conf, self.Y, self.X, self.i_reg)
        YtY = self.Y.T @ self.Y + self.eye
        for s, e, ptr, idx, conf in self._user_blocks():
            lam = None if self.u_reg is None else self.u_reg[s:e]
            self._half(ptr, idx, conf, self.X[s:e], self.Y, lam, YtY, self.n_free)

    def epoch(self, epoch: int) -> float:
        self._epoch_steps()
        if not self.compute_loss:
            return float("nan")
        reg = float(self.reg) if self.u_reg is None else 0.0
        YtY = self.k.ials_gram64(self.Y)
        parts = np.zeros(len(self.X))
        for s, e, ptr, idx, conf in self._user_blocks():
            self.k.ials_loss_rows(ptr, idx, conf, self.X[s:e], self.Y, YtY, reg, parts[s:e])
        total = float(self.k.ials_loss_total(parts, self.Y, reg)) - self._user_penalty(reg)
        loss = total / max(len(self.u_idx), 1)
        if self.u_reg is None:
            return loss
        Xf = self.X[:, : self.f]
        pen = float(self.u_reg @ np.einsum("ij,ij->i", Xf, Xf, dtype=np.float64))
        pen += float(self.i_reg @ np.einsum("ij,ij->i", self.Y, self.Y, dtype=np.float64))
        return loss + pen / max(len(self.u_idx), 1)


#: epochs per candidate, each warm-started from the previous (smaller) candidate's factors
VAL_EPOCHS = 3


def _choose(candidates, per_user: list[np.ndarray]) -> tuple[float, list[float]]:
    """The smallest candidate whose mean NDCG is within one standard error of the best
    one's (the error of its per-user difference from the best), and those errors.

    A "one standard error" rule, turned toward the weaker penalty: an overly strong one
    shrinks the factors a little more every epoch, which a few epochs per candidate do
    not show (on the quickstart's synthetic set 1000 tied the best on the slice after
    two epochs and ranked at a twentieth of popularity after 15), so among the
    candidates the slice cannot tell apart the weakest is taken."""
    means = np.array([s.mean() for s in per_user])
    best = int(np.argmax(means))
    n = max(len(per_user[best]), 1)
    errors = [float(np.std(s - per_user[best]) / np.sqrt(n)) for s in per_user]
    ok = [j for j in range(len(candidates)) if means[j] >= means[best] - errors[j]]
    return float(candidates[min(ok)]), errors


class HeldOut:
    """The validation slice as the ranking sees it: the validation users (ascending),
    each one's held-out items (``truth``) and its remaining training items (``seen``,
    left out of its ranking), as CSR rows aligned with ``users``."""

    def __init__(self, users, truth_ptr, truth_idx, seen_ptr, seen_idx) -> None:
        self.users = users
        self.truth_ptr, self.truth_idx = truth_ptr, truth_idx
        self.seen_ptr, self.seen_idx = seen_ptr, seen_idx

    @classmethod
    def from_rows(cls, indptr, indices, rows, pos, first_row: int = 0) -> HeldOut:
        """From a CSR (``indptr``, ``indices``; its row 0 is user ``first_row``) and its
        held-out entries: their users ``rows`` (ascending) and positions ``pos``."""
        local = np.unique(rows) - first_row
        n_held = np.bincount(np.searchsorted(local, rows - first_row), minlength=len(local))
        starts, lengths = indptr[local], np.diff(indptr)[local]
        flat = np.repeat(starts - np.cumsum(np.r_[0, lengths[:-1]]), lengths) + np.arange(
            lengths.sum()
        )  # every entry of those users, in order
        held = np.zeros(len(flat), dtype=bool)
        held[np.searchsorted(flat, pos)] = True
        return cls(
            (local + first_row).astype(np.int64),
            np.r_[0, np.cumsum(n_held)].astype(np.int64),
            indices[pos].astype(np.int32),  # grouped by user, ascending: pos is ascending
            np.r_[0, np.cumsum(lengths - n_held)].astype(np.int64),
            indices[flat[~held]].astype(np.int32),
        )

    @classmethod
    def concat(cls, parts: Sequence[HeldOut]) -> HeldOut:
        """The slices of consecutive user ranges as one."""

        def ptr(name: str) -> np.ndarray:
            counts = np.concatenate([np.diff(getattr(p, name)) for p in parts])
            return np.r_[0, np.cumsum(counts)].astype(np.int64)

        def cat(name: str, dtype) -> np.ndarray:
            return np.concatenate([getattr(p, name) for p in parts]).astype(dtype)

        return cls(cat("users", np.int64), ptr("truth_ptr"), cat("truth_idx", np.int32),
                   ptr("seen_ptr"), cat("seen_idx", np.int32))  # fmt: skip

    def search(self, candidates, fit, factors) -> dict[str, Any]:
        """The reg search on this slice: ``fit(reg)`` trains a candidate, ``factors()``
        gives the (user, item) factors to rank with; the ``reg_search_`` record."""
        return R.run_search("ImplicitALS", candidates, fit, lambda: self.score(*factors()),
                            np.mean, _choose, "NDCG@10", len(self.users),
                            len(self.truth_idx))  # fmt: skip

    def score(self, X: np.ndarray, Y: np.ndarray) -> np.ndarray:
        """NDCG@10 of each validation user, ranking every item not in its ``seen``."""
        from .._metrics import ndcg_per_user
        from .scoring import top_n

        zeros = np.zeros(len(self.users), dtype=np.float32)
        top, _ = top_n(X[self.users], zeros, 0.0, Y, np.ascontiguousarray(Y.T),
                       np.zeros(len(Y), dtype=np.float32), 10,
                       (self.seen_ptr, self.seen_idx))  # fmt: skip
        return ndcg_per_user(top, self.truth_ptr, self.truth_idx, 10)
