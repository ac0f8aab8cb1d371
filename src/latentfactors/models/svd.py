"""`SVD`: biased matrix factorization trained by SGD (Funk / Koren, the Netflix Prize "SVD")."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import check_bool, check_float, check_int, check_seed
from ..data.interactions import Interactions
from ..exceptions import InvalidParameterError
from ._strata import StrataTrainer, n_blocks_for, pad_columns, padded_width, stratify
from .base import FactorModel, Trainer

__all__ = ["SVD", "resolve_rates"]


def resolve_rates(model: Any, terms: tuple[str, ...]) -> dict[str, float]:
    """Per-term learning rates and regularizations: ``lr_<term>`` / ``reg_<term>`` when set,
    else ``reg_bias`` for the biases (when set), else the shared ``lr`` / ``reg``."""
    owner = type(model).__name__
    out: dict[str, float] = {}
    for term in terms:
        lr = getattr(model, f"lr_{term}")
        out[f"lr_{term}"] = (
            model.lr if lr is None else check_float(owner, f"lr_{term}", lr, 0.0, low_open=True)
        )
        reg = getattr(model, f"reg_{term}")
        default = model.reg
        if term in ("bu", "bi") and model.reg_bias is not None:
            default = model.reg_bias
        out[f"reg_{term}"] = default if reg is None else check_float(owner, f"reg_{term}", reg, 0.0)
    return out


class SVD(FactorModel):
    """Biased matrix factorization by SGD: ``r_ui ~ mu + b_u + b_i + p_u . q_i``.

    The model of Funk and of Koren, Bell and Volinsky ("SVD" in Surprise), trained by
    stochastic gradient descent on float32 factors, in parallel over stratified blocks
    of the rating matrix and reproducibly: the same ``random_state`` gives the same
    model whatever the number of threads.

    Parameters
    ----------
    n_factors : int, default 100
        Number of latent factors.
    n_epochs : int, default 20
        Passes over the training data.
    lr : float, default 0.02
        Learning rate of every term; ``lr_bu``, ``lr_bi``, ``lr_pu``, ``lr_qi``
        override it per term.
    reg : float, default 0.08
        L2 regularization of the factors (and of the biases unless ``reg_bias`` is
        set); ``reg_bu``, ``reg_bi``, ``reg_pu``, ``reg_qi`` override it per term.
    reg_bias : float, optional, default 0.02
        L2 regularization of both biases.
    reg_density : float, optional, default 100.0
        Ratings per item up to which the factor penalties are ``reg`` as given. With
        ``m`` ratings per item in the training data (``len(train) / n_items``) above
        it, the penalties of the factors (``reg_pu`` and ``reg_qi``, and SVD++'s
        ``reg_yj``, where they come from ``reg``; ``reg_pu=`` / ``reg_qi=`` set by hand
        are used as given) become ``reg * sqrt(reg_density / m)``; the biases keep
        theirs. The SGD penalty applies once per rating, so at a fixed ``reg`` the
        shrinkage of a factor grows with its ratings, and on dense data that is too
        strong: on the benchmarks' synthetic 1M set (400 ratings per item) reg 0.08
        reached RMSE 0.6382 and the scaled 0.04 reached 0.5826 (cornac's MF 0.5873).
        MovieLens 100K (49 per item) and ml-latest-small (9) are unaffected. The rule
        and its constants were chosen by leave-one-dataset-out over six data sets
        (``benchmarks/results/defaults-lodo.md``). ``None`` keeps ``reg`` fixed (the
        behaviour before the rule).
    init_std : float, default 0.05
        Standard deviation of the normal initialisation of the factors.
    biased : bool, default True
        Learn user and item biases. Without them the model is ``mu + p_u . q_i``.
    n_blocks : int, optional
        Groups of users and of items for stratified parallel SGD. Default: from the
        data size alone (4 up to 2M ratings, then one per 500K, at most 32), so a seed
        gives the same model whatever the thread count.
    n_threads : int, optional
        Threads for the kernels; None uses numba's default (all cores).
    random_state : int, optional
        Seed. None draws one, recorded in ``random_state_``.

    The defaults (learning rate, regularization and its density rule) were chosen by
    leave-one-dataset-out across MovieLens 100K, ml-latest-small and four synthetic
    sets (``benchmarks/study_lodo.py``): a larger learning rate than Surprise's 0.005
    with a stronger factor regularization than its 0.02 on sparse data, and a smaller
    initialisation, reach a lower held-out RMSE in the same 20 epochs.

    Examples
    --------
    >>> from latentfactors.data import make_synthetic
    >>> data = make_synthetic(300, 200, 8000, noise=0.3, seed=0).interactions
    >>> model = SVD(n_factors=10, random_state=0).fit(data)
    >>> model.user_factors_.shape, model.user_factors_.dtype
    ((300, 10), dtype('float32'))
    """

    def __init__(
        self,
        n_factors: int = 100,
        n_epochs: int = 20,
        lr: float = 0.02,
        reg: float = 0.08,
        *,
        reg_bias: float | None = 0.02,
        reg_density: float | None = 100.0,
        lr_bu: float | None = None,
        lr_bi: float | None = None,
        lr_pu: float | None = None,
        lr_qi: float | None = None,
        reg_bu: float | None = None,
        reg_bi: float | None = None,
        reg_pu: float | None = None,
        reg_qi: float | None = None,
        init_std: float = 0.05,
        biased: bool = True,
        n_blocks: int | None = None,
        n_threads: int | None = None,
        random_state: int | None = None,
    ) -> None:
        self.n_factors = n_factors
        self.n_epochs = n_epochs
        self.lr = lr
        self.reg = reg
        self.reg_bias = reg_bias
        self.reg_density = reg_density
        self.lr_bu = lr_bu
        self.lr_bi = lr_bi
        self.lr_pu = lr_pu
        self.lr_qi = lr_qi
        self.reg_bu = reg_bu
        self.reg_bi = reg_bi
        self.reg_pu = reg_pu
        self.reg_qi = reg_qi
        self.init_std = init_std
        self.biased = biased
        self.n_blocks = n_blocks
        self.n_threads = n_threads
        self.random_state = random_state

    def _check_params(self) -> None:
        name = type(self).__name__
        check_int(name, "n_factors", self.n_factors, 1)
        check_int(name, "n_epochs", self.n_epochs, 1)
        check_float(name, "lr", self.lr, 0.0, None, low_open=True)
        check_float(name, "reg", self.reg, 0.0)
        check_float(name, "reg_bias", self.reg_bias, 0.0, allow_none=True)
        d = self.reg_density
        if d is not None and (
            isinstance(d, bool) or not isinstance(d, (int, float)) or not 0 < d < float("inf")
        ):
            raise InvalidParameterError(
                f"{name}: reg_density={d!r} is invalid; expected a number > 0 (ratings per "
                "item above which the factor penalties shrink), or None to keep reg fixed"
            )
        check_float(name, "init_std", self.init_std, 0.0)
        check_bool(name, "biased", self.biased)
        check_int(name, "n_blocks", self.n_blocks, 1, 1024, allow_none=True)
        check_int(name, "n_threads", self.n_threads, 1, allow_none=True)
        check_seed(name, "random_state", self.random_state)

    _rate_terms: tuple[str, ...] = ("bu", "bi", "pu", "qi")

    def _resolved_rates(self) -> dict[str, float]:
        """Per-term learning rates and regularizations: from the parameters, with the
        factor penalties that come from ``reg`` scaled by :meth:`_density_scale`."""
        rates = resolve_rates(self, self._rate_terms)
        scale = self._density_scale()
        if scale != 1.0:
            for term in ("pu", "qi", "yj"):
                if term in self._rate_terms and getattr(self, f"reg_{term}") is None:
                    rates[f"reg_{term}"] *= scale
        return rates

    def _density_scale(self) -> float:
        """``min(1, sqrt(reg_density / m))`` for ``m`` training ratings per item: of the
        data being fitted (``_fit_meta``, set by the fit loop, on one machine or Dask),
        else of the fitted model (``n_train_``, so fold-in solves the same objective,
        also after loading a model file); 1 before any fit or with ``reg_density=None``."""
        ref = self.reg_density
        if ref is None:
            return 1.0
        meta = self.__dict__.get("_fit_meta")
        if meta is not None:
            n, n_items = meta.n_train, len(meta.items)
        elif "n_train_" in self.__dict__ and "item_factors_" in self.__dict__:
            n, n_items = self.n_train_, self.item_factors_.shape[0]
        else:
            return 1.0
        m = n / max(n_items, 1)
        return 1.0 if m <= ref else float(np.sqrt(ref / m))

    def _init_factors(self, data: Interactions, seed: int) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng(seed)
        k = self.n_factors
        P = (rng.standard_normal((data.n_users, k)) * self.init_std).astype(np.float32)
        Q = (rng.standard_normal((data.n_items, k)) * self.init_std).astype(np.float32)
        return P, Q

    def _training_floats(self, k: int, n_users: int, n_items: int) -> int:
        # the model's factors, the trainer's rows padded to padded_width, scratch
        return (2 * k + padded_width(k)) * (n_users + n_items)

    def _make_trainer(self, data: Interactions, seed: int) -> Trainer:
        P, Q = self._init_factors(data, seed)
        return _SVDTrainer(self, data, P, Q, seed)


class _SVDTrainer(StrataTrainer, Trainer):
    def __init__(self, model: SVD, data: Interactions, P, Q, seed: int) -> None:
        from ..kernels.sgd import shuffle_blocks, svd_epoch

        self._epoch = svd_epoch
        self.nb = n_blocks_for(len(data), model.n_blocks)
        self.s = s = stratify(data, self.nb, seed)
        # shuffled once; each epoch visits the blocks' chunks in an order of its own
        shuffle_blocks(s.block_ptr, s.users, s.items, s.ratings, seed, 0)
        # zero columns up to the kernel's vector width (padded_width): the same model
        self.n_factors = k = P.shape[1]
        self.P = pad_columns(s.users_in(P), padded_width(k))
        self.Q = pad_columns(s.items_in(Q), padded_width(k))
        self.bu = np.zeros(data.n_users, dtype=np.float32)
        self.bi = np.zeros(data.n_items, dtype=np.float32)
        self._rows = {"user_factors": (self.P, "user"), "item_factors": (self.Q, "item"),
                      "user_bias": (self.bu, "user"), "item_bias": (self.bi, "item")}  # fmt: skip
        self.mu = np.float32(data.global_mean)
        self.seed = seed
        self.biased = bool(model.biased)
        self.rates = {k: np.float32(v) for k, v in model._resolved_rates().items()}
        self.n = len(data)

    def epoch(self, epoch: int) -> float:
        s, r = self.s, self.rates
        sse = self._epoch(
            s.block_ptr, s.users, s.items, s.ratings, self.P, self.Q, self.bu, self.bi, self.mu,
            r["lr_bu"], r["lr_bi"], r["lr_pu"], r["lr_qi"], r["reg_bu"], r["reg_bi"],
            r["reg_pu"], r["reg_qi"], self.biased, self.nb, self.seed, epoch,
        )  # fmt: skip
        return float(np.sqrt(sse / self.n))
