"""`BPR`: Bayesian personalized ranking by SGD with sampled negatives."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from .._validation import check_float, check_int, check_seed
from ..data.interactions import Interactions
from . import _regsearch as R
from ._regsearch import RegSearchParam
from ._strata import StrataTrainer, n_blocks_for, stratify
from .base import Trainer
from .implicit import ImplicitModel

__all__ = ["BPR"]


class BPR(RegSearchParam, ImplicitModel):
    """Bayesian personalized ranking: learn ``x_u . y_i + b_i`` so that items a user
    interacted with outrank items they did not.

    Each epoch visits every positive ``(u, i)`` once, pairs it with a sampled negative
    ``j`` the user has not interacted with, and takes an SGD step on
    ``-log sigmoid(x_uij)``. Training runs in parallel over stratified blocks with
    negatives drawn within the positive's item group (see
    :mod:`latentfactors.kernels.bpr`), so the same seed gives the same model whatever
    the number of threads.

    Parameters
    ----------
    n_factors : int, default 64
    n_epochs : int, default 50
    lr : float, default 0.05
    lr_decay_start, lr_decay_to : float, default 0.7 and 0.1
        The learning rate stays at ``lr`` for the first ``lr_decay_start`` of the epochs,
        then falls linearly to ``lr * lr_decay_to`` at the last epoch
        (``lr_decay_to=1`` keeps it constant). A large step escapes the tiny initial
        factors quickly; small late steps settle instead of jittering. Against a constant
        ``lr`` (NDCG@10, ``benchmarks/results/defaults-study.md``): ML-100K 0.392 -> 0.416,
        Last.fm 0.188 -> 0.194, synthetic 10M 0.089 -> 0.109.

        ``lr`` held up under leave-one-dataset-out
        (``benchmarks/results/defaults-lodo.md``, with uniform negatives): the setting
        picked on the other sets (``lr=0.1, reg=0.05``) scored below it on 4 of 6
        held-out sets (ML-100K 0.380 vs 0.417).
    reg : float, "auto" or list of float, default 0.02
        L2 regularization of user and item factors (``reg_user`` / ``reg_item``
        override it), and of the item biases (``reg_bias``). 0.01 before popular
        negatives, which give the factors more to fit (see ``popular_negatives``).

        ``"auto"`` chooses it among ``AUTO_REG`` (0.02, 0.1, 0.5) on the training data
        itself: the validation slice of ``ImplicitALS`` (up to 2,000 users with 3 or
        more positives, a fifth of each one's positives, drawn by ``random_state``) is
        taken out, each candidate is trained on the rest for the full ``n_epochs`` from
        the model's initial factors and scored by NDCG@10 on the slice, the smallest
        candidate within one standard error of the best is chosen, and the model is
        then trained on all the data at the choice (so it is the model
        ``reg=<chosen>`` gives). A list searches its own values; a number is used as it
        is. The choice is ``reg_``, the search ``reg_search_``; without a slice (no
        user with 3 positives) "auto" uses 0.02.

        The search costs one full fit per candidate (four fits in all for "auto"; 3.4-5.4
        times the fit time in ``benchmarks/results/bpr-auto.md``), which is why it is not
        the default: on that page it keeps 0.02, and so the same model, on ML-100K,
        Last.fm and the synthetic sets with personal taste, 10M included, and only where
        the items were drawn by popularity alone (pop-exposure) does it move, to 0.1:
        NDCG@10 0.3520 -> 0.3639, still under the most popular items' 0.3672 and
        implicit's BPR (0.3671 in that run), which are all there is to learn there.
    popular_negatives : float in [0, 1), default 0.5
        The share of negatives drawn in proportion to the items' numbers of training
        positives; the rest are drawn uniformly (0: uniform negatives, the model before
        this parameter). A uniform negative is mostly an item few users have, which the
        item bias alone ranks below the positive, so the factors get almost no gradient
        and learn little beyond popularity; a popular negative the user skipped is what
        teaches them taste. Scores add back the log of each item's chance to be drawn
        (in ``item_bias_``), so items are ranked by the user's preference, not by how
        rarely they served as negatives. Measured (NDCG@10, the benchmarks' 80/20
        split, ``benchmarks/results/bpr-negatives.md``): uniform with ``reg=0.01``
        against this default, ML-100K 0.4173 -> 0.4301, Last.fm 0.1937 -> 0.2299, and on
        the synthetic sets, where uniform negatives only matched the most popular items,
        syn 1M 0.1773 -> 0.1814 (popularity 0.1767), syn 100K 0.2476 -> 0.2532 (0.2478),
        10M 0.1092 -> 0.1129 (0.1116); it loses where nothing but popularity is there to
        learn (pop-exposure 0.3598 -> 0.3520, popularity 0.3671). Left out on each set in
        turn, the other sets pick this setting for 6 of 7 (Last.fm's pick is
        ``reg=0.03``). The draw's log-odds are kept as ``negative_log_odds_``; fold-in
        takes them off the biases and draws its negatives by them.
    reg_user, reg_item, reg_bias : float, optional
    init_std : float, default 0.01
    threshold : float, optional
        For explicit ratings: only ratings ``>= threshold`` are positives.
    max_tries : int, default 20
        Draws to find a negative the user has not seen before skipping the positive.
    n_blocks : int, optional
        Groups of users and of items for stratified parallel SGD; default 4 (at most 4
        blocks run at once), lowered so that an item group holds at least 400 items.
        Negatives are drawn from the positive's item group, so BPR only ever contrasts
        items of the same group: more groups scale to more cores but rank less well
        (synthetic 10M interactions, constant lr, NDCG@10: 0.089 with 4 groups, 0.071
        with 20).
        Never set from the thread count, so results do not depend on it.
    n_threads, random_state
        As in :class:`~latentfactors.models.SVD`.

    Examples
    --------
    >>> from latentfactors.data import make_synthetic
    >>> data = make_synthetic(300, 200, 6000, implicit=True, seed=0).interactions
    >>> model = BPR(n_factors=8, n_epochs=5, random_state=0).fit(data)
    >>> model.item_bias_.shape
    (200,)
    """

    #: per item, the log of its chance to be drawn as a negative over the uniform chance,
    #: as training drew them (``item_bias_`` includes it; fold-in takes it off and draws
    #: by it)
    extra_state: ClassVar[dict[str, str]] = {"negative_log_odds": "item"}
    #: files (and states) from before popular negatives: uniform ones, log-odds 0
    extra_state_added: ClassVar[tuple[str, ...]] = ("negative_log_odds",)
    params_added: ClassVar[dict[str, Any]] = {"popular_negatives": 0.0}

    def __init__(
        self,
        n_factors: int = 64,
        n_epochs: int = 50,
        lr: float = 0.05,
        reg: float = 0.02,
        *,
        popular_negatives: float = 0.5,
        lr_decay_start: float = 0.7,
        lr_decay_to: float = 0.1,
        reg_user: float | None = None,
        reg_item: float | None = None,
        reg_bias: float | None = None,
        init_std: float = 0.01,
        threshold: float | None = None,
        max_tries: int = 20,
        n_blocks: int | None = None,
        n_threads: int | None = None,
        random_state: int | None = None,
    ) -> None:
        self.n_factors = n_factors
        self.n_epochs = n_epochs
        self.lr = lr
        self.reg = reg
        self.popular_negatives = popular_negatives
        self.lr_decay_start = lr_decay_start
        self.lr_decay_to = lr_decay_to
        self.reg_user = reg_user
        self.reg_item = reg_item
        self.reg_bias = reg_bias
        self.init_std = init_std
        self.threshold = threshold
        self.max_tries = max_tries
        self.n_blocks = n_blocks
        self.n_threads = n_threads
        self.random_state = random_state

    def _check_params(self) -> None:
        name = "BPR"
        check_int(name, "n_factors", self.n_factors, 1)
        check_int(name, "n_epochs", self.n_epochs, 1)
        check_float(name, "lr", self.lr, 0.0, low_open=True)
        check_float(name, "lr_decay_start", self.lr_decay_start, 0.0, 1.0)
        check_float(name, "lr_decay_to", self.lr_decay_to, 0.0, 1.0, low_open=True)
        self._reg_candidates()
        check_float(name, "popular_negatives", self.popular_negatives, 0.0, 1.0, high_open=True)
        for p in ("reg_user", "reg_item", "reg_bias"):
            check_float(name, p, getattr(self, p), 0.0, allow_none=True)
        check_float(name, "init_std", self.init_std, 0.0)
        check_float(name, "threshold", self.threshold, allow_none=True)
        check_int(name, "max_tries", self.max_tries, 1)
        check_int(name, "n_blocks", self.n_blocks, 1, 1024, allow_none=True)
        check_int(name, "n_threads", self.n_threads, 1, allow_none=True)
        check_seed(name, "random_state", self.random_state)

    #: the candidates of ``reg="auto"`` (one key: BPR has one kind of penalty)
    AUTO_REG: ClassVar[dict[Any, tuple[float, ...]]] = {None: (0.02, 0.1, 0.5)}
    #: "auto" without a search (too little data, or a state set without one)
    AUTO_FALLBACK: ClassVar[dict[Any, float]] = {None: 0.02}

    def _auto_key(self) -> None:
        return None

    def _make_trainer(self, data: Interactions, seed: int) -> Trainer:
        positives = self._implicit_view(data)
        trainer = _BPRTrainer(self, positives, data, seed)
        if self._searches_reg():
            trainer.search_reg(positives, data, self._reg_candidates(), self._fallback_reg())
        return trainer

    def _fold_in_solve(self, csr):
        """BPR's own objective for the new rows, by SGD with the items fixed
        (``n_epochs`` passes over each user's items; milliseconds per user). Negatives
        are drawn by the chances training drew them with (``negative_log_odds_``, over
        the whole catalogue rather than per item group), against the item biases
        without those log-odds: the trained biases."""
        from ..kernels.bpr import bpr_fold_in

        reg = float(self._fitted_reg() if self.reg_user is None else self.reg_user)
        csr = self._implicit_view_csr(csr)
        items, bias = self._fold_in_negatives()
        X = bpr_fold_in(
            csr.indptr.astype(np.int64), csr.indices.astype(np.int32), self.item_factors_,
            bias, items, np.float32(self.lr), np.float32(reg), int(self.n_epochs),
            int(self.random_state_), int(self.max_tries),
        )  # fmt: skip
        return X, X, np.zeros(csr.shape[0], dtype=np.float32)

    def _fold_in_negatives(self) -> tuple[np.ndarray, np.ndarray]:
        """(the table fold-in draws negatives from, the trained item biases), built once
        per fitted model (O(items) work, kept off each request; about 80 bytes per item
        with popular negatives)."""
        odds = self.negative_log_odds_
        cached = getattr(self, "_neg_cache", None)
        if cached is None or cached[0] is not odds or cached[1] is not self.item_bias_:
            if not odds.any():  # uniform negatives: the catalogue, as before them
                items = np.arange(len(odds), dtype=np.int32)
            else:
                reps = np.maximum(1, np.rint(np.exp(odds.astype(np.float64)) * _NEG_PER_ITEM))
                items = np.repeat(np.arange(len(odds), dtype=np.int32), reps.astype(np.int64))
            bias = np.ascontiguousarray(self.item_bias_ - odds, dtype=np.float32)
            cached = (odds, self.item_bias_, items, bias)
            self._neg_cache = cached
        return cached[2], cached[3]


#: entries per item, on average, of the table popular negatives are drawn from
_NEG_PER_ITEM = 20


def negative_table(group_ptr: np.ndarray, counts: np.ndarray, share: float):
    """What negatives are drawn from: ``(items, ptr, offset)``.

    Group ``g`` (items ``group_ptr[g]:group_ptr[g+1]``) draws uniformly from
    ``items[ptr[g]:ptr[g+1]]``, which holds each of its items in proportion to
    ``(1 - share) / size + share * counts[i] / counts of the group``, rounded to about
    ``_NEG_PER_ITEM`` entries per item and at least one (so with ``share`` near 1 the
    least drawn items keep about 1 / 20 of the uniform chance, not the formula's). ``offset[i]``
    (float32) is the log of item ``i``'s chance to be drawn over the uniform chance
    ``1 / size``, from the table itself: 0 for every item when ``share`` is 0, where
    ``items`` is ``arange``.
    """
    n = len(counts)
    if share == 0.0:
        return (np.arange(n, dtype=np.int32), np.asarray(group_ptr, dtype=np.int64),
                np.zeros(n, dtype=np.float32))  # fmt: skip
    reps = np.empty(n, dtype=np.int64)
    offset = np.empty(n, dtype=np.float32)
    ptr = np.zeros(len(group_ptr), dtype=np.int64)
    for g in range(len(group_ptr) - 1):  # a few groups
        lo, hi = int(group_ptr[g]), int(group_ptr[g + 1])
        size = hi - lo
        if size == 0:
            ptr[g + 1] = ptr[g]
            continue
        c = np.asarray(counts[lo:hi], dtype=np.float64)
        w = c / c.sum() if c.sum() > 0 else np.full(size, 1.0 / size)
        q = (1.0 - share) / size + share * w
        r = np.maximum(1, np.rint(q * size * _NEG_PER_ITEM)).astype(np.int64)
        reps[lo:hi] = r
        offset[lo:hi] = np.log(r * (size / r.sum()))
        ptr[g + 1] = ptr[g] + r.sum()
    return np.repeat(np.arange(n, dtype=np.int32), reps), ptr, offset


_BPR_BLOCKS = 4


class _BPRTrainer(StrataTrainer, Trainer):
    def __init__(self, model: BPR, data: Interactions, seen: Interactions, seed: int) -> None:
        from ..kernels.bpr import bpr_epoch

        self._epoch = bpr_epoch
        # negatives come from the positive's item group: few groups (pairs are only
        # ever within a group), each of >= 400 items
        nb = max(1, min(n_blocks_for(len(data), model.n_blocks or _BPR_BLOCKS),
                        data.n_items // 400))  # fmt: skip
        self.nb = nb
        self.s = s = stratify(data, nb, seed)
        # item group g is the contiguous range of training ids item_group_ptr[g:g+2];
        # its negatives are drawn from group_items[group_ptr[g]:group_ptr[g+1]], where
        # each item appears in proportion to its chance of being drawn
        counts = np.bincount(s.items, minlength=data.n_items)
        self.group_items, self.group_ptr, self.offset = negative_table(
            s.item_group_ptr, counts, float(model.popular_negatives)
        )
        csr = s.csr(seen)  # every interaction counts as seen, even below a threshold
        self.seen_ptr, self.seen_idx = csr.indptr.astype(np.int64), csr.indices
        rng = np.random.default_rng(seed)
        f = int(model.n_factors)
        P = (rng.standard_normal((data.n_users, f)) * model.init_std).astype(np.float32)
        Q = (rng.standard_normal((data.n_items, f)) * model.init_std).astype(np.float32)
        self.P, self.Q = s.users_in(P), s.items_in(Q)
        self.bi = np.zeros(data.n_items, dtype=np.float32)
        self.bu = np.zeros(data.n_users, dtype=np.float32)
        self._rows = {"user_factors": (self.P, "user"), "item_factors": (self.Q, "item"),
                      "user_bias": (self.bu, "user"), "item_bias": (self.bi, "item")}  # fmt: skip
        self.model = model
        self.lr = float(model.lr)
        self.n_epochs = int(model.n_epochs)
        self.decay_start = float(model.lr_decay_start)
        self.decay_to = float(model.lr_decay_to)
        self.set_reg(model._fallback_reg())
        self.search: dict[str, Any] | None = None
        self.seed = seed
        self.max_tries = int(model.max_tries)
        self.dummy = np.empty(len(s.users), dtype=np.float32)

    def set_reg(self, reg: float) -> None:
        """Train with ``reg`` where ``reg_user`` / ``reg_item`` / ``reg_bias`` do not
        say otherwise."""
        m = self.model
        self.reg_u = np.float32(reg if m.reg_user is None else m.reg_user)
        self.reg_i = np.float32(reg if m.reg_item is None else m.reg_item)
        self.reg_b = np.float32(reg if m.reg_bias is None else m.reg_bias)

    # ------------------------------------------------------------------ reg search
    def search_reg(self, positives: Interactions, seen: Interactions,
                   candidates: tuple[float, ...], fallback: float) -> None:  # fmt: skip
        """Choose ``reg`` among ``candidates`` (ascending) on the validation slice of
        the positives: each candidate is a full fit, from this seed's initial factors,
        of the positives without the slice; this trainer then trains at the choice.
        Without enough data for a slice, ``fallback``."""
        from .implicit_als import HeldOut, _choose

        indptr = positives._row_starts()  # the rows are in CSR order
        rows, pos = R.validation_slice(indptr, R.slice_rng(self.seed))
        if len(rows) == 0:
            self.search = R.search_record(candidates, 0, 0, "ndcg@10", fallback)
            self.set_reg(fallback)
            return
        keep = np.ones(len(positives), dtype=bool)
        keep[pos] = False
        rest = positives.subset(keep)
        if seen is positives:
            rest_seen = rest
            held = HeldOut.from_rows(indptr, positives.item_ids, rows, pos)
        else:  # a threshold: the held-out positives are unseen in the rest too, and
            # the slice ranks all the user's other interactions out, as recommend does
            n_items = np.int64(seen.n_items)
            key = rows.astype(np.int64) * n_items + positives.item_ids[pos]
            out = np.isin(seen.user_ids.astype(np.int64) * n_items + seen.item_ids, key)
            rest_seen = seen.subset(~out)
            at = np.flatnonzero(out)
            held = HeldOut.from_rows(seen._row_starts(), seen.item_ids,
                                     seen.user_ids[at].astype(np.int64), at)  # fmt: skip
        sub = _BPRTrainer(self.model, rest, rest_seen, self.seed)
        start = sub.snapshot()
        # each epoch shuffles the blocks in place, starting from the order it finds
        order = (sub.s.users.copy(), sub.s.items.copy())

        def fit(reg: float) -> None:
            sub.restore(start)
            sub.s.users[...], sub.s.items[...] = order
            sub.set_reg(reg)
            for e in range(sub.n_epochs):
                sub.epoch(e)

        def score() -> np.ndarray:
            a = sub.arrays()
            ones = np.ones((len(a["user_factors"]), 1), dtype=np.float32)
            X = np.ascontiguousarray(np.hstack([a["user_factors"], ones]))
            Y = np.ascontiguousarray(np.hstack([a["item_factors"], a["item_bias"][:, None]]))
            if not (np.isfinite(X).all() and np.isfinite(Y).all()):  # diverged: last
                return np.zeros(len(held.users))
            return held.score(X, Y)

        self.search = R.run_search("BPR", candidates, fit, score, np.mean, _choose,
                                   "NDCG@10", len(held.users), len(held.truth_idx))  # fmt: skip
        self.set_reg(self.search["chosen"])

    def fitted_scalars(self) -> dict[str, Any]:
        return {} if self.search is None else {"reg_search": self.search}

    # the item biases are reported with the log of each item's chance to be drawn as a
    # negative added (see BPR's popular_negatives); training works without it
    def arrays(self) -> dict[str, np.ndarray]:
        out = super().arrays()
        out["item_bias"] = out["item_bias"] + self.s.items_out(self.offset)
        return out

    def restore(self, snap: dict[str, np.ndarray]) -> None:
        super().restore(snap)
        self.bi -= self.offset

    def extra_state(self) -> dict[str, np.ndarray]:
        return {"negative_log_odds": self.s.items_out(self.offset)}

    def lr_at(self, epoch: int) -> float:
        """The learning rate of ``epoch`` (0-based): constant, then a linear decay."""
        x = epoch / max(self.n_epochs - 1, 1)  # 0 at the first epoch, 1 at the last
        if x <= self.decay_start or self.decay_start >= 1.0:
            return self.lr
        frac = (x - self.decay_start) / (1.0 - self.decay_start)
        return self.lr * (1.0 - (1.0 - self.decay_to) * frac)

    def epoch(self, epoch: int) -> float:
        from ..kernels.sgd import shuffle_blocks

        s = self.s
        shuffle_blocks(s.block_ptr, s.users, s.items, self.dummy, self.seed, epoch)
        loss, pairs, _ = self._epoch(
            s.block_ptr, s.users, s.items, self.P, self.Q, self.bi, self.group_ptr,
            self.group_items, self.seen_ptr, self.seen_idx, np.float32(self.lr_at(epoch)),
            self.reg_u, self.reg_i, self.reg_b, self.nb, self.seed, epoch, self.max_tries,
        )  # fmt: skip
        return float(loss / max(pairs, 1))
