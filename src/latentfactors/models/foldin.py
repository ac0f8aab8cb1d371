"""Fold-in: factors for users unseen at training time, in closed form, without retraining."""

from __future__ import annotations

import logging
from typing import Any, NamedTuple

import numpy as np

from ..data.interactions import Interactions
from ..exceptions import DataError, InvalidParameterError

__all__ = ["FoldIn", "FoldInMixin"]

logger = logging.getLogger("latentfactors")


class FoldIn(NamedTuple):
    """Factors computed for new users, nothing stored: ``users`` (raw ids), ``factors``
    (the vectors that multiply item factors in a score), ``bias`` (user biases; zeros for
    implicit models), ``seen`` (a CSR of the items each user interacted with, inner ids,
    rows aligned with ``users``) and ``user_factors`` (the learned factors: the same as
    ``factors`` except for SVD++, whose scores add an implicit term).

    Pass it to ``model.recommend_for`` to score these users without storing them, or to
    ``model.add_users`` to remember them.
    """

    users: np.ndarray
    factors: np.ndarray
    bias: np.ndarray
    seen: Any = None
    user_factors: Any = None


class FoldInMixin:
    """``fold_in`` for every model; models override ``_fold_in_solve`` where their
    objective differs from a per-user ridge regression against the item factors."""

    def _fold_in_penalties(self, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
        """Per-user ridge penalties on the factors and on the bias, and whether to fit a bias.

        Default (SGD models): the SGD objective regularizes once per rating, so the
        penalties are ``reg_pu * n_u`` and ``reg_bu * n_u``.
        """
        resolved = getattr(self, "_resolved_rates", None)
        rates = resolved() if resolved is not None else {}
        reg_pu = rates.get("reg_pu", getattr(self, "reg", 0.02))
        reg_bu = rates.get("reg_bu", reg_pu)
        biased = bool(getattr(self, "biased", True))
        n = counts.astype(np.float64)
        return reg_pu * np.maximum(n, 1), reg_bu * np.maximum(n, 1), biased

    def _fold_in_solve(self, csr) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(user vectors used in scores, stored user factors, user biases) for CSR rows."""
        from ..kernels.ridge import ridge_rows

        counts = np.diff(csr.indptr)
        lam_f, lam_b, fit_bias = self._fold_in_penalties(counts)
        cols = csr.indices
        targets = csr.data.astype(np.float64) - self.intercept_ - self.item_bias_[cols]
        X, b = ridge_rows(
            csr.indptr.astype(np.int64), cols.astype(np.int32), targets, self.item_factors_,
            np.asarray(lam_f, np.float64), np.asarray(lam_b, np.float64), fit_bias,
        )  # fmt: skip
        return X, X, b

    def fold_in(self, interactions: Interactions, *, update: bool = True) -> FoldIn:
        """Compute factors for the users in ``interactions`` from their interactions alone.

        The item factors stay fixed; each user's vector is the closed-form solution of
        the model's own objective for that user (a ridge regression against the item
        factors; the exact ALS row update for ALS models). Items the model does not know
        are ignored. Takes milliseconds per user.

        Parameters
        ----------
        interactions : Interactions
            Interactions of new (or returning) users, with the model's kind of values.
        update : bool, default True
            Also remember these users, so that ``recommend``, ``predict``,
            ``similar_users`` and ``explain`` work for them (users already known are
            refreshed); their interactions count as seen.

        Returns
        -------
        FoldIn
            ``(users, factors, bias)`` for the users with at least one interaction, in the
            order of ``interactions.users``.

        Examples
        --------
        >>> from latentfactors import Interactions
        >>> from latentfactors.data import make_synthetic
        >>> from latentfactors.models import SVD
        >>> model = SVD(n_factors=8, random_state=0).fit(make_synthetic(200, 80, 3000).interactions)
        >>> new = Interactions.from_arrays(["newbie"] * 3, [1, 2, 3], ratings=[5, 4, 1])
        >>> model.fold_in(new).factors.shape
        (1, 8)
        >>> len(model.recommend("newbie", n=5)[0])
        5
        """
        import scipy.sparse as sp

        self._check_fitted("fold_in")
        if not isinstance(interactions, Interactions):
            raise DataError(
                f"fold_in expects an Interactions container, got {type(interactions).__name__}"
            )
        if self.data_kind == "explicit" and interactions.kind != "explicit":
            raise DataError(
                f"{type(self).__name__} folds in explicit ratings; the interactions are implicit"
            )
        items = self.items_.index(interactions.items.raw, missing="ignore")[interactions.item_ids]
        keep = items >= 0
        if (~keep).any():
            logger.info("fold_in ignored %d interactions with unknown items", int((~keep).sum()))
        # only users with at least one interaction (a subset keeps its whole vocabulary)
        present = np.flatnonzero(interactions.user_counts > 0)
        row_of = np.full(interactions.n_users, -1, dtype=np.int64)
        row_of[present] = np.arange(len(present))
        csr = sp.csr_matrix(
            (interactions.values[keep].astype(np.float32),
             (row_of[interactions.user_ids[keep]], items[keep])),
            shape=(len(present), len(self.items_)),
        )  # fmt: skip
        csr.sum_duplicates()
        csr.sort_indices()
        empty = np.flatnonzero(np.diff(csr.indptr) == 0)
        if len(empty):
            from ..data.vocabulary import show_id

            raw = interactions.users.raw[present[empty]]
            shown = ", ".join(show_id(u) for u in raw[:5].tolist())
            raise DataError(
                f"fold_in: {len(empty)} user(s) ({shown}) have no item this model knows (all "
                "their items are new to it), so nothing can be learned about them; leave them "
                "out, or give them popular items (model.item_counts_) until they interact "
                "with known ones"
            )
        vectors, factors, bias = self._fold_in_solve(csr)
        fold = FoldIn(
            interactions.users.raw[present], np.ascontiguousarray(vectors, np.float32),
            np.ascontiguousarray(bias, np.float32), csr, np.ascontiguousarray(factors, np.float32),
        )  # fmt: skip
        if update:
            self.add_users(fold)
        return fold

    def _check_fold(self, fold: Any, method: str, need_seen: bool) -> FoldIn:
        """A FoldIn that fits this model (shapes, unique users, seen rows in range)."""
        import scipy.sparse as sp

        if not isinstance(fold, FoldIn):
            raise InvalidParameterError(
                f"{method} takes the FoldIn that fold_in(..., update=False) returned, got "
                f"{type(fold).__name__}"
            )
        users = np.asarray(fold.users)
        m, k = len(users), self.item_factors_.shape[1]
        factors = np.asarray(fold.factors)
        bias = np.asarray(fold.bias)
        user_factors = factors if fold.user_factors is None else np.asarray(fold.user_factors)
        bad = None
        if users.ndim != 1 or len(set(users.tolist())) != m:
            bad = "its users must be distinct ids, one per row"
        elif factors.shape != (m, k) or user_factors.shape != (m, k) or bias.shape != (m,):
            bad = (f"its factors {factors.shape} and bias {bias.shape} must be ({m}, {k}) and "
                   f"({m},) for this model's {k} factors")  # fmt: skip
        elif not (np.isfinite(factors).all() and np.isfinite(bias).all()
                  and np.isfinite(user_factors).all()):  # fmt: skip
            bad = "its factors hold NaN or infinite values"
        elif fold.seen is None and need_seen:
            bad = "it has no seen rows"
        elif fold.seen is not None:
            seen = fold.seen
            if not (sp.issparse(seen) and seen.format == "csr"
                    and seen.shape == (m, len(self.items_))):  # fmt: skip
                bad = (f"its seen rows must be a CSR matrix of shape ({m}, {len(self.items_)}) "
                       "over this model's items")  # fmt: skip
            else:
                try:
                    seen.check_format(full_check=True)
                except (ValueError, TypeError) as exc:
                    bad = f"its seen rows are invalid ({exc})"
        if bad is not None:
            raise InvalidParameterError(
                f"{method}: this FoldIn does not fit this {type(self).__name__}: {bad}; pass "
                "what this model's fold_in(..., update=False) returned"
            )
        return fold

    def add_users(self, fold: FoldIn) -> None:
        """Remember users folded in with ``fold_in(..., update=False)``.

        Thread-safe: the user state is swapped as a whole (new users are appended past
        what any reader's snapshot shows; refreshing a known user copies first), so
        concurrent ``recommend`` / ``predict`` calls see either the old or the new users,
        never a mix, and concurrent ``add_users`` calls never lose each other's users.
        A model that keeps no seen items (``user_items_`` is None) keeps none for these
        users either.
        """
        from .base import USERS_LOCK

        self._check_fitted("add_users")
        self._check_fold(fold, "add_users", need_seen=True)
        if len(fold.users) == 0:
            return
        with USERS_LOCK:
            st = self._users_state()
            user_factors = fold.factors if fold.user_factors is None else fold.user_factors
            self._swap_users(
                st.with_users(np.asarray(fold.users), user_factors, fold.factors, fold.bias,
                              fold.seen)
            )  # fmt: skip
