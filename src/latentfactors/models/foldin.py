"""Fold-in: factors for users unseen at training time, in closed form, without retraining."""

from __future__ import annotations

import logging
from typing import NamedTuple

import numpy as np

from ..data.interactions import Interactions
from ..exceptions import DataError

__all__ = ["FoldIn", "FoldInMixin"]

logger = logging.getLogger("latentfactors")


class FoldIn(NamedTuple):
    """Factors computed for new users: ``users`` (raw ids), ``factors`` (the vectors that
    multiply item factors in a score), ``bias`` (user biases; zeros for implicit models)."""

    users: np.ndarray
    factors: np.ndarray
    bias: np.ndarray


class FoldInMixin:
    """``fold_in`` for every model; models override ``_fold_in_solve`` where their
    objective differs from a per-user ridge regression against the item factors."""

    def _fold_in_penalties(self, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
        """Per-user ridge penalties on the factors and on the bias, and whether to fit a bias.

        Default (SGD models): the SGD objective regularizes once per rating, so the
        penalties are ``reg_pu * n_u`` and ``reg_bu * n_u``.
        """
        rates = getattr(self, "_rates", None) or {}
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
            (interactions.values[keep], (row_of[interactions.user_ids[keep]], items[keep])),
            shape=(len(present), len(self.items_)),
        )
        csr.sum_duplicates()
        csr.sort_indices()
        vectors, factors, bias = self._fold_in_solve(csr)
        raw = interactions.users.raw[present]
        if update:
            self._remember_users(raw, vectors, factors, bias, csr)
        return FoldIn(raw, vectors, bias)

    def _remember_users(self, raw, vectors, factors, bias, csr) -> None:
        import scipy.sparse as sp

        shared = self._user_vectors is self.user_factors_
        pos = self.users_.index(raw, missing="ignore")
        new = pos < 0
        if new.any():
            self.users_ = self.users_.extend(raw[new])
            pad = np.zeros((int(new.sum()), self.user_factors_.shape[1]), np.float32)
            self.user_factors_ = np.vstack([self.user_factors_, pad])
            self._user_vectors = (
                self.user_factors_ if shared else np.vstack([self._user_vectors, pad])
            )
            self.user_bias_ = np.concatenate([self.user_bias_, np.zeros(len(pad), np.float32)])
            pos = self.users_.index(raw)
        self.user_factors_[pos] = factors
        if not shared:
            self._user_vectors[pos] = vectors
        self.user_bias_[pos] = bias
        # seen items: the old rows of untouched users plus the folded-in rows
        old = self.user_items_.tocoo()
        keep_old = ~np.isin(old.row, pos)
        fresh = csr.tocoo()
        seen = sp.csr_matrix(
            (
                np.concatenate([old.data[keep_old], fresh.data]).astype(np.float32),
                (np.concatenate([old.row[keep_old], pos[fresh.row]]),
                 np.concatenate([old.col[keep_old], fresh.col])),
            ),
            shape=(len(self.users_), len(self.items_)),
        )  # fmt: skip
        seen.sort_indices()
        self.user_items_ = seen
