"""Recommendation API shared by every model: top-N (single and batch), neighbours, explanations.

Scores are ``mu + b_u + b_i + u_vec . q_i``; for explicit models that is the predicted
rating (unclipped), for implicit ones the preference score. The arithmetic is in
:mod:`latentfactors.models.scoring`; this module maps raw ids, reads one snapshot of the
user state per call (so a concurrent ``fold_in`` never shows it half-updated) and uses
the item layout built once per fit or load.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._validation import check_choice, check_int
from ..data.vocabulary import _as_id_array, show_id
from ..exceptions import InvalidParameterError, UnknownIdError
from . import scoring

__all__ = ["Explanation", "RecommendMixin"]


@dataclass
class Explanation:
    """Why ``model`` scores ``item`` for ``user`` as it does.

    ``parts`` is a DataFrame with columns ``kind`` (``"baseline"``, ``"factor"`` or
    ``"item"``: the contribution of one of the user's past items), ``name`` and
    ``contribution``, largest magnitude first; the contributions add up to ``score``.
    """

    user: Any
    item: Any
    score: float
    parts: Any = field(repr=False)
    note: str = ""

    def __repr__(self) -> str:
        top = ", ".join(
            f"{n}={c:+.3f}" for n, c in zip(self.parts["name"][:4], self.parts["contribution"][:4])
        )
        return f"Explanation(user={self.user!r}, item={self.item!r}, score={self.score:.4f}: {top})"


class RecommendMixin:
    """Top-N recommendation, batch recommendation, neighbours and explanations."""

    # ------------------------------------------------------------------ helpers
    def _user_inner(self, user: Any, st: Any = None) -> int:
        st = self._users_state() if st is None else st
        idx = st.users.index([user], missing="ignore")[0]
        if idx < 0:
            raise UnknownIdError(
                f"user {show_id(user)} is not known to this model (not in its training data); fold "
                "the user in first with model.fold_in(interactions), which computes their "
                "factors from their interactions without retraining"
            )
        return int(idx)

    def _users_inner(self, users: Any, st: Any = None) -> np.ndarray:
        st = self._users_state() if st is None else st
        raw = _as_id_array(users)
        idx = st.users.index(raw, missing="ignore")
        if (idx < 0).any():
            bad = raw[idx < 0][:5].tolist()
            raise UnknownIdError(
                f"{int((idx < 0).sum())} user(s) not known to this model, e.g. {bad}; fold them "
                "in first with model.fold_in(interactions)"
            )
        return idx

    def _item_inner(self, item: Any) -> int:
        idx = self.items_.index([item], missing="ignore")[0]
        if idx < 0:
            raise UnknownIdError(
                f"item {show_id(item)} is not known to this model (not in its training data); pass "
                "a raw item id from the training data"
            )
        return int(idx)

    def _seen_or_fail(self, st: Any, what: str):
        if st.seen_rows is None:
            raise InvalidParameterError(
                f"{what} needs the items each user has seen, and this model does not keep "
                "them (it was given its state without user_items, or loaded from a file "
                "saved with seen=False); pass exclude_seen=False, and the user's items as "
                "exclude=[...] to leave them out"
            )
        return st.seen

    def _candidates(self, items: Any, exclude: Any) -> tuple[np.ndarray | None, np.ndarray | None]:
        """Inner ids of candidate items (None = all) and the allowed mask over them."""
        cand = None
        if items is not None:
            raw = _as_id_array(items)
            cand = self.items_.index(raw, missing="ignore")
            if len(raw) and not (cand >= 0).any():
                raise UnknownIdError(
                    f"none of the {len(raw)} candidate items is known to this model (first: "
                    f"{raw[:3].tolist()}); pass raw item ids from the training data"
                )
            cand = np.unique(cand[cand >= 0]).astype(np.int32)
        if exclude is None:
            return cand, None
        n_cols = len(self.items_) if cand is None else len(cand)
        allowed = np.ones(n_cols, dtype=np.bool_)
        ex = self.items_.index(_as_id_array(exclude), missing="ignore")
        ex = ex[ex >= 0]
        if cand is None:
            allowed[ex] = False
        else:
            allowed[np.isin(cand, ex)] = False
        return cand, allowed

    def _top_rows(self, st: Any, rows: np.ndarray, n: int, exclude_seen: bool, items: Any,
                  exclude: Any) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
        """Inner item ids (-1 padded) and scores for user rows of snapshot ``st``."""
        cand, allowed = self._candidates(items, exclude)
        seen = None
        if exclude_seen:
            self._seen_or_fail(st, "exclude_seen=True")
            seen = st.seen_of(rows)
        lay = self._items
        return scoring.top_n(
            st.vectors[rows], st.bias[rows], self.intercept_, lay.factors, lay.factors_t,
            lay.bias, n, seen, cand, allowed,
        )  # fmt: skip

    def _top_n(self, rows: np.ndarray, n: int, exclude_seen: bool, items: Any = None,
               exclude: Any = None, seen: Any = None) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
        """Top-n inner ids and scores for inner user rows (used by ``evaluation``);
        ``seen`` (a users x items CSR) replaces the model's own seen items."""
        st = self._users_state()
        if seen is None:
            return self._top_rows(st, np.asarray(rows), n, exclude_seen, items, exclude)
        cand, allowed = self._candidates(items, exclude)
        sub = seen[np.asarray(rows)] if exclude_seen else None
        lay = self._items
        return scoring.top_n(
            st.vectors[rows], st.bias[rows], self.intercept_, lay.factors, lay.factors_t,
            lay.bias, n, None if sub is None else (sub.indptr, sub.indices), cand, allowed,
        )  # fmt: skip

    # ------------------------------------------------------------------ public API
    def recommend(
        self,
        user: Any = None,
        n: int = 10,
        *,
        users: Any = None,
        exclude_seen: bool = True,
        items: Any = None,
        exclude: Any = None,
        as_frame: bool | None = None,
    ):
        """Top-``n`` items for one user, or for many (``users=[...]``).

        Parameters
        ----------
        user : raw id
            One user; returns ``(items, scores)``: raw item ids and scores, best first.
        n : int
            How many items per user.
        users : list of raw ids
            A batch; returns a DataFrame with columns ``user, item, score, rank`` (or,
            with ``as_frame=False``, arrays of raw item ids and scores, one row per user).
        exclude_seen : bool
            Leave out items the user interacted with in training (or at fold-in). A model
            that keeps no seen items (see ``user_items_``) needs ``exclude_seen=False``.
        items : list of raw ids, optional
            Only rank these candidates; ids the model does not know are ignored.
        exclude : list of raw ids, optional
            Never return these.

        Raises
        ------
        UnknownIdError
            For a user the model does not know (:meth:`fold_in` adds new users), or when
            ``items`` holds no item the model knows.
        """
        self._check_fitted("recommend")
        check_int(type(self).__name__, "n", n, 1)
        if (user is None) == (users is None):
            raise InvalidParameterError("recommend takes either one user or users=[...]")
        st = self._users_state()
        if users is None:
            rows = np.array([self._user_inner(user, st)])
            idx, val = self._top_rows(st, rows, n, exclude_seen, items, exclude)
            keep = idx[0] >= 0
            return self.items_.ids(idx[0][keep]), val[0][keep].astype(np.float64)
        rows = self._users_inner(users, st)
        idx, val = self._top_rows(st, rows, n, exclude_seen, items, exclude)
        return self._format_batch(st.users.ids(rows), idx, val, as_frame is not False)

    def recommend_all(
        self,
        n: int = 10,
        *,
        exclude_seen: bool = True,
        items: Any = None,
        exclude: Any = None,
        as_frame: bool = True,
    ):
        """Top-``n`` items for every known user; see :meth:`recommend`."""
        self._check_fitted("recommend_all")
        check_int(type(self).__name__, "n", n, 1)
        st = self._users_state()
        rows = np.arange(len(st.users), dtype=np.int64)
        idx, val = self._top_rows(st, rows, n, exclude_seen, items, exclude)
        return self._format_batch(st.users.ids(rows), idx, val, as_frame)

    def recommend_for(
        self,
        fold: Any,
        n: int = 10,
        *,
        exclude_seen: bool = True,
        items: Any = None,
        exclude: Any = None,
        as_frame: bool | None = None,
    ):
        """Top-``n`` items for users folded in with ``fold_in(..., update=False)``, without
        storing them: the way to serve an anonymous basket or a live user kept elsewhere.

        ``fold`` is the :class:`~latentfactors.models.foldin.FoldIn` that ``fold_in``
        returned; its ``seen`` rows are excluded when ``exclude_seen``. One user returns
        ``(items, scores)``; several a DataFrame as :meth:`recommend` does (or arrays with
        ``as_frame=False``).

        Examples
        --------
        >>> from latentfactors import Interactions
        >>> from latentfactors.data import make_synthetic
        >>> from latentfactors.models import SVD
        >>> model = SVD(n_factors=8, random_state=0).fit(make_synthetic(200, 80, 3000).interactions)
        >>> basket = Interactions.from_arrays(["anon"] * 2, [1, 2], ratings=[5, 4])
        >>> items, scores = model.recommend_for(model.fold_in(basket, update=False), n=3)
        >>> len(items), 1 in items, "anon" in model.users_
        (3, False, False)
        """
        self._check_fitted("recommend_for")
        check_int(type(self).__name__, "n", n, 1)
        cand, allowed = self._candidates(items, exclude)
        self._check_fold(fold, "recommend_for", need_seen=False)
        seen = None
        if exclude_seen and getattr(fold, "seen", None) is not None:
            seen = (fold.seen.indptr, fold.seen.indices)
        lay = self._items
        idx, val = scoring.top_n(
            np.asarray(fold.factors, np.float32), np.asarray(fold.bias, np.float32),
            self.intercept_, lay.factors, lay.factors_t, lay.bias, n, seen, cand, allowed,
        )  # fmt: skip
        if len(fold.users) == 1 and as_frame is None:
            keep = idx[0] >= 0
            return self.items_.ids(idx[0][keep]), val[0][keep].astype(np.float64)
        return self._format_batch(np.asarray(fold.users), idx, val, as_frame is not False)

    def _format_batch(self, user_ids, idx, val, as_frame: bool):
        if not as_frame:  # raw ids, None where a user has fewer than n candidates
            raw = np.full(idx.shape, None, dtype=object)
            raw[idx >= 0] = self.items_.ids(idx[idx >= 0])
            return raw, val.astype(np.float64)
        import pandas as pd

        keep = idx >= 0
        n_per = keep.sum(axis=1)
        return pd.DataFrame(
            {
                "user": np.repeat(user_ids, n_per),
                "item": self.items_.ids(idx[keep]),
                "score": val[keep].astype(np.float64),
                "rank": np.concatenate([np.arange(1, c + 1) for c in n_per]) if len(n_per)
                else np.zeros(0, dtype=np.int64),
            }
        )  # fmt: skip

    def _check_similar(self, n: int, metric: str, min_count: int, what: str) -> None:
        check_int(type(self).__name__, "n", n, 1)
        check_int(type(self).__name__, "min_count", min_count, 0)
        check_choice(type(self).__name__, "metric", metric, ("cosine", "dot"))
        if self.item_factors_.shape[1] == 0:
            raise InvalidParameterError(
                f"{type(self).__name__} has no latent factors, so it has no similar {what}s"
            )

    def similar_items(self, item: Any, n: int = 10, *, metric: str = "cosine",
                      min_count: int = 0):  # fmt: skip
        """The ``n`` items whose factors are closest to ``item``'s: ``(items, similarities)``.

        ``metric="cosine"`` (default) compares directions; ``"dot"`` raw inner products.
        ``min_count`` leaves out neighbours with fewer training interactions: rarely seen
        items keep noisy, short vectors whose direction (what cosine compares) is close
        to chance. Norms and counts come from the item layout built once per fit.
        """
        self._check_fitted("similar_items")
        self._check_similar(n, metric, min_count, "item")
        row = self._item_inner(item)
        lay = self._items
        allowed = lay.counts >= min_count if min_count > 0 else np.ones(len(lay.counts), bool)
        allowed[row] = False
        idx, sim = scoring.similar(
            lay.factors, lay.norms if metric == "cosine" else None, lay.factors[row], n, allowed
        )
        return self.items_.ids(idx), sim

    def similar_users(self, user: Any, n: int = 10, *, metric: str = "cosine",
                      min_count: int = 0):  # fmt: skip
        """The ``n`` users whose factors are closest to ``user``'s: ``(users, similarities)``;
        ``min_count`` as in :meth:`similar_items`, counting each user's interactions."""
        self._check_fitted("similar_users")
        self._check_similar(n, metric, min_count, "user")
        st = self._users_state()
        row = self._user_inner(user, st)
        V = st.vectors
        norms = None
        if metric == "cosine":
            norms = np.linalg.norm(V.astype(np.float64), axis=1)
            norms[norms == 0] = 1.0
        allowed = st.counts >= min_count if min_count > 0 else np.ones(len(V), bool)
        allowed[row] = False
        idx, sim = scoring.similar(V, norms, V[row], n, allowed)
        return st.users.ids(idx), sim

    def explain(self, user: Any, item: Any) -> Explanation:
        """Break the score of (user, item) into parts that add up to it.

        For factor models trained by SGD (and the default): the global mean, the two
        biases and each factor's product ``u_f * q_if``. ALS models break the score
        down by the user's past items instead.
        """
        import pandas as pd

        self._check_fitted("explain")
        st = self._users_state()
        u = self._user_inner(user, st)
        i = self._item_inner(item)
        prods = st.vectors[u].astype(np.float64) * self.item_factors_[i]
        names = ["intercept", "user bias", "item bias"] + [f"factor {f}" for f in range(len(prods))]
        kinds = ["baseline"] * 3 + ["factor"] * len(prods)
        contrib = np.concatenate(([self.intercept_, st.bias[u], self.item_bias_[i]], prods))
        parts = pd.DataFrame({"kind": kinds, "name": names, "contribution": contrib})
        parts = parts.iloc[np.argsort(-np.abs(contrib), kind="stable")].reset_index(drop=True)
        return Explanation(user, item, float(contrib.sum()), parts)
