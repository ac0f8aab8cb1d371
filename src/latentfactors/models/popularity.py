"""`Popularity`: recommend what the most users interacted with; the floor to clear."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import check_choice, check_float, check_int, check_seed
from ..data.interactions import Interactions
from .base import Trainer
from .implicit import ImplicitModel

__all__ = ["Popularity"]


class Popularity(ImplicitModel):
    """Score every item by how popular it was in training, the same for every user.

    The baseline a ranking model has to beat: on data dominated by a few hits it is
    hard to beat (on the 10M synthetic set of ``benchmarks/`` it ranks better than every
    ALS model), and a model that loses to it has learned little about its users. It has
    zero factors, so ``user_factors_`` has shape ``(n_users, 0)``; the scores are the
    item biases, and ``recommend``, ``evaluate``, ``explain``, fold-in and model files
    work as for every model (``similar_items`` has no factors to compare).

    Parameters
    ----------
    by : {"users", "weight"}, default "users"
        ``"users"``: the number of users who interacted with the item; ``"weight"``:
        the sum of the interaction strengths (play counts, ratings).
    threshold : float, optional
        For explicit ratings: only ratings ``>= threshold`` count.
    n_threads, random_state
        Accepted like every model's, so searches and the command line treat all models
        alike; counting is deterministic and takes one pass.

    Examples
    --------
    >>> from latentfactors.data import make_synthetic
    >>> data = make_synthetic(300, 200, 6000, implicit=True, seed=0).interactions
    >>> model = Popularity().fit(data)
    >>> int(model.item_bias_.sum()) == len(data)
    True
    """

    iterative = False

    def __init__(
        self, by: str = "users", *, threshold: float | None = None,
        n_threads: int | None = None, random_state: int | None = None,
    ) -> None:  # fmt: skip
        self.by = by
        self.threshold = threshold
        self.n_threads = n_threads
        self.random_state = random_state

    def _check_params(self) -> None:
        check_choice("Popularity", "by", self.by, ("users", "weight"))
        check_float("Popularity", "threshold", self.threshold, allow_none=True)
        check_int("Popularity", "n_threads", self.n_threads, 1, allow_none=True)
        check_seed("Popularity", "random_state", self.random_state)

    def _make_trainer(self, data: Interactions, seed: int) -> Trainer:
        return _PopularityTrainer(self._implicit_view(data), self.by)

    def _fold_in_solve(self, csr):
        """Nothing to learn about a new user: every user gets the same ranking."""
        n = csr.shape[0]
        zeros = np.zeros((n, 0), dtype=np.float32)
        return zeros, zeros, np.zeros(n, dtype=np.float32)


class _PopularityTrainer(Trainer):
    reports_loss = False

    def __init__(self, data: Interactions, by: str) -> None:
        if by == "users":
            counts = data.item_counts
        else:
            counts = np.bincount(data.item_ids, weights=data.values, minlength=data.n_items)
        self.bi = counts.astype(np.float32)
        self.bu = np.zeros(data.n_users, dtype=np.float32)
        self.P = np.zeros((data.n_users, 0), dtype=np.float32)
        self.Q = np.zeros((data.n_items, 0), dtype=np.float32)

    def epoch(self, epoch: int) -> float:
        return float("nan")  # counted once in __init__; there is no loss

    def arrays(self) -> dict[str, Any]:
        return {"user_factors": self.P, "item_factors": self.Q, "user_bias": self.bu,
                "item_bias": self.bi}  # fmt: skip
