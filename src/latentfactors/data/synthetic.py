"""Synthetic interactions with planted low-rank factors, for recovery tests and scale benchmarks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..exceptions import DataError
from .interactions import Interactions
from .vocabulary import Vocabulary

__all__ = ["SyntheticData", "make_synthetic"]

_CHUNK = 4_000_000


@dataclass
class SyntheticData:
    """Generated interactions and the ground truth they came from.

    Truth arrays are indexed by raw id: user ``u`` (an int in ``0 .. n_users-1``) has
    factors ``user_factors[u]``. Users or items that drew no interaction are absent from
    ``interactions`` but keep their rows here.
    """

    interactions: Interactions
    user_factors: np.ndarray
    item_factors: np.ndarray
    user_bias: np.ndarray
    item_bias: np.ndarray
    global_mean: float
    noise: float
    item_popularity: np.ndarray

    def true_scores(self, users: Any, items: Any) -> np.ndarray:
        """Noise-free ``mean + b_u + b_i + p_u . q_i`` for raw user and item ids (unclipped)."""
        u = np.asarray(users, dtype=np.int64)
        i = np.asarray(items, dtype=np.int64)
        return (
            self.global_mean
            + self.user_bias[u]
            + self.item_bias[i]
            + np.einsum("ij,ij->i", self.user_factors[u], self.item_factors[i], dtype=np.float64)
        )


def _sorted_unique(a: np.ndarray) -> np.ndarray:
    a.sort()
    keep = np.empty(len(a), dtype=bool)
    keep[:1] = True
    np.not_equal(a[1:], a[:-1], out=keep[1:])
    return a[keep]


def _sample(cdf: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    out = np.empty(n, dtype=np.int32)
    for s in range(0, n, _CHUNK):
        e = min(n, s + _CHUNK)
        out[s:e] = np.searchsorted(cdf, rng.random(e - s) * cdf[-1], side="right")
    np.minimum(out, len(cdf) - 1, out=out)
    return out


def make_synthetic(
    n_users: int = 1000,
    n_items: int = 500,
    n_interactions: int = 20_000,
    *,
    rank: int = 8,
    noise: float = 0.5,
    rating_scale: tuple[float, float] | None = (1.0, 5.0),
    implicit: bool = False,
    zipf: float = 0.8,
    user_activity_sigma: float = 0.8,
    signal_std: float = 0.8,
    bias_std: float = 0.3,
    round_to: float | None = None,
    candidates: int = 4,
    affinity_exposure: bool | None = None,
    with_timestamps: bool = False,
    seed: Any = 0,
) -> SyntheticData:
    """Generate interactions from planted rank-``rank`` factors.

    Explicit ratings are ``mean + b_u + b_i + p_u . q_i + noise * N(0, 1)``, clipped to
    ``rating_scale`` (and rounded to ``round_to`` if given), where ``p_u . q_i`` has
    standard deviation about ``signal_std`` and biases ``bias_std``. Which items a user
    rates follows a Zipf-like popularity (exponent ``zipf``); users' activity is
    log-normal. With ``affinity_exposure`` (the default for ``implicit=True``) a user
    picks, among ``candidates`` items drawn by popularity, the one with the highest
    ``p_u . q_i`` plus Gumbel noise, so the factors drive what is consumed (as people
    mostly rate what they chose to watch); without it, which items a user has is
    popularity alone and only the values carry the factors. Implicit values are play
    counts ``1 + Poisson(exp(p_u . q_i))``.

    The generator works in chunks with int32 ids; 100 million interactions take a few
    GB and a few minutes.

    Examples
    --------
    >>> syn = make_synthetic(100, 50, 1000, rank=3, seed=0)
    >>> len(syn.interactions), syn.user_factors.shape
    (1000, (100, 3))
    """
    if n_users < 1 or n_items < 1:
        raise DataError(f"n_users and n_items must be >= 1, got {n_users}, {n_items}")
    if not 1 <= n_interactions <= n_users * n_items:
        raise DataError(
            f"n_interactions={n_interactions} must lie in [1, n_users * n_items = "
            f"{n_users * n_items}]"
        )
    if n_interactions > 0.5 * n_users * n_items:
        raise DataError(
            f"n_interactions={n_interactions} would fill over half of the {n_users}x{n_items} "
            "matrix; use more users or items"
        )
    if rank < 1:
        raise DataError(f"rank={rank} must be >= 1")
    if rating_scale is not None and not rating_scale[0] < rating_scale[1]:
        raise DataError(f"rating_scale={rating_scale} must be (low, high) with low < high")
    if affinity_exposure is None:
        affinity_exposure = implicit
    rng = np.random.default_rng(seed)
    scale = (signal_std**2 / rank) ** 0.25
    P = (rng.standard_normal((n_users, rank)) * scale).astype(np.float32)
    Q = (rng.standard_normal((n_items, rank)) * scale).astype(np.float32)
    bu = (rng.standard_normal(n_users) * bias_std).astype(np.float32)
    bi = (rng.standard_normal(n_items) * bias_std).astype(np.float32)
    lo, hi = rating_scale if rating_scale is not None else (1.0, 5.0)
    mu = float(lo + 0.6 * (hi - lo)) if not implicit else 0.0

    popularity = 1.0 / np.arange(1, n_items + 1, dtype=np.float64) ** zipf
    popularity = popularity[rng.permutation(n_items)]  # popular items are not the low ids
    item_cdf = np.cumsum(popularity)
    activity = rng.lognormal(0.0, user_activity_sigma, n_users)
    user_cdf = np.cumsum(activity)

    keys = np.empty(0, dtype=np.int64)
    need, yield_rate = n_interactions, 1.0
    for _ in range(50):
        draw = int(need / yield_rate * 1.05) + 16
        u = _sample(user_cdf, draw, rng)
        if affinity_exposure and candidates > 1:
            i = _pick_by_affinity(u, P, Q, item_cdf, candidates, rng)
        else:
            i = _sample(item_cdf, draw, rng)
        new = u.astype(np.int64) * n_items + i
        del u, i
        new = _sorted_unique(new)
        if len(keys):
            pos = np.minimum(np.searchsorted(keys, new), len(keys) - 1)
            new = new[keys[pos] != new]
            keys = np.concatenate((keys, new))
            keys.sort(kind="stable")  # two sorted runs: a linear merge
        else:
            keys = new
        yield_rate = max(len(new) / draw, 0.01)
        del new
        if len(keys) >= n_interactions:
            break
        need = n_interactions - len(keys)
    else:
        raise DataError("could not draw enough distinct pairs; lower zipf or n_interactions")
    if len(keys) > n_interactions:
        drop = rng.choice(len(keys), len(keys) - n_interactions, replace=False)
        mask = np.ones(len(keys), dtype=bool)
        mask[drop] = False
        keys = keys[mask]
    users = (keys // n_items).astype(np.int32)
    items = (keys % n_items).astype(np.int32)
    del keys

    values = np.empty(len(users), dtype=np.float32)
    for s in range(0, len(users), _CHUNK):
        e = min(len(users), s + _CHUNK)
        u, i = users[s:e], items[s:e]
        dot = np.einsum("ij,ij->i", P[u], Q[i])
        if implicit:
            values[s:e] = 1.0 + rng.poisson(np.exp(np.clip(dot, -10, 5)))
        else:
            r = mu + bu[u] + bi[i] + dot + noise * rng.standard_normal(e - s).astype(np.float32)
            if round_to:
                r = np.round(r / round_to) * round_to
            if rating_scale is not None:
                np.clip(r, lo, hi, out=r)
            values[s:e] = r
    timestamps = None
    if with_timestamps:
        timestamps = rng.integers(1_500_000_000, 1_700_000_000, len(users), dtype=np.int64)

    present_u = np.flatnonzero(np.bincount(users, minlength=n_users))
    present_i = np.flatnonzero(np.bincount(items, minlength=n_items))
    umap = np.full(n_users, -1, dtype=np.int32)
    umap[present_u] = np.arange(len(present_u), dtype=np.int32)
    imap = np.full(n_items, -1, dtype=np.int32)
    imap[present_i] = np.arange(len(present_i), dtype=np.int32)
    inter = Interactions(
        umap[users],
        imap[items],
        values,
        users=Vocabulary(present_u.astype(np.int64), name="user"),
        items=Vocabulary(present_i.astype(np.int64), name="item"),
        timestamps=timestamps,
        kind="implicit" if implicit else "explicit",
        rating_scale=None if implicit else rating_scale,
    )
    return SyntheticData(
        interactions=inter,
        user_factors=P,
        item_factors=Q,
        user_bias=bu if not implicit else np.zeros_like(bu),
        item_bias=bi if not implicit else np.zeros_like(bi),
        global_mean=mu,
        noise=float(noise) if not implicit else 0.0,
        item_popularity=popularity / popularity.sum(),
    )


def _pick_by_affinity(
    u: np.ndarray, P: np.ndarray, Q: np.ndarray, item_cdf: np.ndarray, m: int,
    rng: np.random.Generator,
) -> np.ndarray:  # fmt: skip
    out = np.empty(len(u), dtype=np.int32)
    step = max(1, _CHUNK // m)
    for s in range(0, len(u), step):
        e = min(len(u), s + step)
        cand = _sample(item_cdf, (e - s) * m, rng).reshape(e - s, m)
        score = np.einsum("nk,nmk->nm", P[u[s:e]], Q[cand])
        score += rng.gumbel(size=score.shape).astype(np.float32)
        out[s:e] = cand[np.arange(e - s), np.argmax(score, axis=1)]
    return out
