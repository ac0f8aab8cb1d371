"""Recommendation API shared by every model: top-N (single and batch), neighbours, explanations.

Scores are ``mu + b_u + b_i + u_vec . q_i``; for explicit models that is the predicted
rating (unclipped), for implicit ones the preference score. Batches are computed by
blocked matrix products and a parallel top-k that never holds the whole users x items
matrix: a block holds at most ``_BLOCK_CELLS`` scores.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._validation import check_choice, check_int
from ..data.vocabulary import _as_id_array
from ..exceptions import InvalidParameterError, UnknownIdError

__all__ = ["Explanation", "RecommendMixin"]

_BLOCK_CELLS = 1 << 24  # 16M float32 scores = 64 MB per block
_EMPTY_F32 = np.zeros(0, dtype=np.float32)
_EMPTY_BOOL = np.zeros(0, dtype=np.bool_)


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
    def _user_inner(self, user: Any) -> int:
        idx = self.users_.index([user], missing="ignore")[0]
        if idx < 0:
            raise UnknownIdError(
                f"user {user!r} is not known to this model (not in its training data); fold "
                "the user in first with model.fold_in(interactions), which computes their "
                "factors from their interactions without retraining"
            )
        return int(idx)

    def _users_inner(self, users: Any) -> np.ndarray:
        idx = self.users_.index(_as_id_array(users), missing="ignore")
        if (idx < 0).any():
            bad = _as_id_array(users)[idx < 0][:5].tolist()
            raise UnknownIdError(
                f"{int((idx < 0).sum())} user(s) not known to this model, e.g. {bad}; fold them "
                "in first with model.fold_in(interactions)"
            )
        return idx

    def _candidates(self, items: Any, exclude: Any) -> tuple[np.ndarray | None, np.ndarray]:
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
        n_cols = len(self.items_) if cand is None else len(cand)
        allowed = np.ones(n_cols, dtype=np.bool_)
        if exclude is not None:
            ex = self.items_.index(_as_id_array(exclude), missing="ignore")
            ex = ex[ex >= 0]
            if cand is None:
                allowed[ex] = False
            else:
                allowed[np.isin(cand, ex)] = False
        return cand, allowed

    def _seen_rows(self, rows: np.ndarray, cand: np.ndarray | None, seen=None):
        seen = (self.user_items_ if seen is None else seen)[rows]
        indptr = seen.indptr.astype(np.int64)
        indices = seen.indices.astype(np.int32)
        if cand is None:
            return indptr, indices
        pos = np.full(len(self.items_), -1, dtype=np.int32)
        pos[cand] = np.arange(len(cand), dtype=np.int32)
        mapped = pos[indices]
        keep = mapped >= 0
        row_of = np.repeat(np.arange(len(rows)), np.diff(indptr))
        new_ptr = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(np.bincount(row_of[keep], minlength=len(rows)), out=new_ptr[1:])
        return new_ptr, mapped[keep]

    def _top_n(
        self, rows: np.ndarray, n: int, exclude_seen: bool, items: Any, exclude: Any,
        state: dict[str, Any] | None = None, seen: Any = None,
    ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
        """Inner item ids (-1 padded) and scores for user rows, best first.

        ``state`` overrides the learned arrays (used while training, for validation);
        ``seen`` the CSR of items to exclude (default: ``user_items_``).
        """
        from ..kernels.topk import topk_rows

        if state is None:
            state = {"U": self._user_vectors, "Q": self.item_factors_, "bu": self.user_bias_,
                     "bi": self.item_bias_, "mu": self.intercept_}  # fmt: skip
        cand, allowed = self._candidates(items, exclude)
        Q = state["Q"] if cand is None else state["Q"][cand]
        bi = state["bi"] if cand is None else state["bi"][cand]
        U = state["U"]
        n_cols = Q.shape[0] if cand is None else len(cand)
        k = min(n, n_cols)
        out_idx = np.full((len(rows), k), -1, dtype=np.int32)
        out_val = np.full((len(rows), k), -np.inf, dtype=np.float32)
        if n_cols == 0:
            return out_idx, out_val
        block = max(1, min(len(rows), _BLOCK_CELLS // n_cols))
        empty_ptr = np.zeros(block + 1, dtype=np.int64)
        empty_idx = np.zeros(0, dtype=np.int32)
        QT = np.ascontiguousarray(Q.T)
        # the kernel adds the item bias and checks the allowed mask as it reads the scores;
        # empty arrays skip either (implicit models have no item bias)
        bias = np.ascontiguousarray(bi, dtype=np.float32) if np.any(bi) else _EMPTY_F32
        mask = allowed if not allowed.all() else _EMPTY_BOOL
        for s in range(0, len(rows), block):
            r = rows[s : s + block]
            scores = U[r] @ QT
            if exclude_seen:
                ptr, idx = self._seen_rows(r, cand, seen)
            else:
                ptr, idx = empty_ptr[: len(r) + 1], empty_idx
            ti, tv = topk_rows(scores, k, ptr, idx, mask, bias)
            out_idx[s : s + len(r)] = ti
            out_val[s : s + len(r)] = tv
        if cand is not None:
            out_idx = np.where(out_idx >= 0, cand[np.maximum(out_idx, 0)], -1)
        out_val += np.float32(state["mu"]) + state["bu"][rows][:, None]
        return out_idx, out_val

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
            Leave out items the user interacted with in training (or at fold-in).
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
        if users is None:
            rows = np.array([self._user_inner(user)])
            idx, val = self._top_n(rows, n, exclude_seen, items, exclude)
            keep = idx[0] >= 0
            return self.items_.ids(idx[0][keep]), val[0][keep].astype(np.float64)
        rows = self._users_inner(users)
        idx, val = self._top_n(rows, n, exclude_seen, items, exclude)
        return self._format_batch(rows, idx, val, as_frame is not False)

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
        rows = np.arange(len(self.users_), dtype=np.int64)
        idx, val = self._top_n(rows, n, exclude_seen, items, exclude)
        return self._format_batch(rows, idx, val, as_frame)

    def _format_batch(self, rows, idx, val, as_frame: bool):
        if not as_frame:  # raw ids, None where a user has fewer than n candidates
            raw = np.full(idx.shape, None, dtype=object)
            raw[idx >= 0] = self.items_.ids(idx[idx >= 0])
            return raw, val.astype(np.float64)
        import pandas as pd

        keep = idx >= 0
        n_per = keep.sum(axis=1)
        return pd.DataFrame(
            {
                "user": np.repeat(self.users_.ids(rows), n_per),
                "item": self.items_.ids(idx[keep]),
                "score": val[keep].astype(np.float64),
                "rank": np.concatenate([np.arange(1, c + 1) for c in n_per]) if len(n_per)
                else np.zeros(0, dtype=np.int64),
            }
        )  # fmt: skip

    def _similar(self, vectors: np.ndarray, row: int, n: int, metric: str, vocab, what: str,
                 counts: np.ndarray | None = None, min_count: int = 0):  # fmt: skip
        from ..kernels.topk import topk_rows

        check_int(type(self).__name__, "n", n, 1)
        check_int(type(self).__name__, "min_count", min_count, 0)
        check_choice(type(self).__name__, "metric", metric, ("cosine", "dot"))
        if vectors.shape[1] == 0:
            raise InvalidParameterError(
                f"{type(self).__name__} has no latent factors, so it has no similar {what}s"
            )
        target = vectors[row]
        if metric == "cosine":
            norms = np.linalg.norm(vectors, axis=1)
            norms[norms == 0] = 1.0
            scores = (vectors @ target) / (norms * norms[row])
        else:
            scores = vectors @ target
        scores = np.ascontiguousarray(scores[None, :], dtype=np.float32)
        allowed = np.ones(vectors.shape[0], dtype=np.bool_)
        if min_count > 0 and counts is not None:
            allowed[: len(counts)] = counts >= min_count
            allowed[len(counts) :] = False  # rows without training interactions
        allowed[row] = False
        idx, val = topk_rows(
            scores, n, np.zeros(2, np.int64), np.zeros(0, np.int32), allowed, _EMPTY_F32
        )
        keep = idx[0] >= 0
        return vocab.ids(idx[0][keep]), val[0][keep].astype(np.float64)

    def similar_items(self, item: Any, n: int = 10, *, metric: str = "cosine",
                      min_count: int = 0):  # fmt: skip
        """The ``n`` items whose factors are closest to ``item``'s: ``(items, similarities)``.

        ``metric="cosine"`` (default) compares directions; ``"dot"`` raw inner products.
        ``min_count`` leaves out neighbours with fewer training interactions: rarely seen
        items keep noisy, short vectors whose direction (what cosine compares) is close
        to chance.
        """
        self._check_fitted("similar_items")
        row = self.items_.index([item], missing="ignore")[0]
        if row < 0:
            raise UnknownIdError(f"item {item!r} is not known to this model")
        counts = np.bincount(self.user_items_.indices, minlength=self.user_items_.shape[1])
        return self._similar(self.item_factors_, int(row), n, metric, self.items_, "item",
                             counts, min_count)  # fmt: skip

    def similar_users(self, user: Any, n: int = 10, *, metric: str = "cosine",
                      min_count: int = 0):  # fmt: skip
        """The ``n`` users whose factors are closest to ``user``'s: ``(users, similarities)``;
        ``min_count`` as in :meth:`similar_items`, counting each user's interactions."""
        self._check_fitted("similar_users")
        counts = np.diff(self.user_items_.indptr)
        return self._similar(self._user_vectors, self._user_inner(user), n, metric,
                             self.users_, "user", counts, min_count)  # fmt: skip

    def explain(self, user: Any, item: Any) -> Explanation:
        """Break the score of (user, item) into parts that add up to it.

        For factor models trained by SGD (and the default): the global mean, the two
        biases and each factor's product ``u_f * q_if``. ALS models break the score
        down by the user's past items instead.
        """
        import pandas as pd

        self._check_fitted("explain")
        u = self._user_inner(user)
        i = self.items_.index([item])[0]
        prods = self._user_vectors[u].astype(np.float64) * self.item_factors_[i]
        names = ["intercept", "user bias", "item bias"] + [f"factor {f}" for f in range(len(prods))]
        kinds = ["baseline"] * 3 + ["factor"] * len(prods)
        contrib = np.concatenate(([self.intercept_, self.user_bias_[u], self.item_bias_[i]], prods))
        parts = pd.DataFrame({"kind": kinds, "name": names, "contribution": contrib})
        parts = parts.iloc[np.argsort(-np.abs(contrib), kind="stable")].reset_index(drop=True)
        return Explanation(user, item, float(contrib.sum()), parts)
