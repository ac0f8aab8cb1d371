"""Maximum inner-product search with the item bias folded in.

A score is ``mu + b_u + b_i + u . q_i``. For one user, ``mu + b_u`` is a constant, so the
ranking is that of ``b_i + u . q_i`` = ``[q_i, b_i] . [u, 1]``: append the item bias to
every item vector as one more coordinate and a 1 to every query, and a plain inner-product
search over the augmented vectors ranks exactly as ``model.recommend`` does. Adding
``mu + b_u`` to the returned inner products gives the model's scores.

We deliberately do *not* apply the further transform that turns inner products into
Euclidean distances (append ``sqrt(M^2 - |x|^2)``, as implicit's ANN wrappers do): with
the uneven item norms of real factor models it squeezes most items onto a thin shell and
HNSW recall collapsed (0.04-0.08 at recall@10 in the issue's study; see
``benchmarks/bench_retrieval.py``, which measures both), while HNSW built directly on
inner products reached 0.95-0.99.
"""

from __future__ import annotations

import numpy as np

__all__ = ["augment_items", "augment_queries", "euclidean_items", "euclidean_queries"]


def augment_items(factors: np.ndarray, bias: np.ndarray | None) -> np.ndarray:
    """``[q_i, b_i]`` rows, float32 C order; a zero bias column when ``bias`` is empty."""
    Q = np.asarray(factors, dtype=np.float32)
    out = np.zeros((Q.shape[0], Q.shape[1] + 1), dtype=np.float32)
    out[:, :-1] = Q
    if bias is not None and len(bias):
        out[:, -1] = bias
    return out


def augment_queries(U: np.ndarray) -> np.ndarray:
    """``[u, 1]`` rows, float32 C order."""
    U = np.atleast_2d(np.asarray(U, dtype=np.float32))
    out = np.ones((U.shape[0], U.shape[1] + 1), dtype=np.float32)
    out[:, :-1] = U
    return out


def euclidean_items(vectors: np.ndarray) -> np.ndarray:
    """The inner-product-to-Euclidean transform (for the benchmark's comparison only):
    ``[x, sqrt(M^2 - |x|^2)]`` with ``M`` the largest norm."""
    X = np.asarray(vectors, dtype=np.float32)
    sq = np.einsum("ij,ij->i", X, X, dtype=np.float64)
    extra = np.sqrt(np.maximum(sq.max() - sq, 0.0)).astype(np.float32)
    return np.hstack([X, extra[:, None]])


def euclidean_queries(queries: np.ndarray) -> np.ndarray:
    """Queries for :func:`euclidean_items`: ``[u, 0]``."""
    Qy = np.atleast_2d(np.asarray(queries, dtype=np.float32))
    return np.hstack([Qy, np.zeros((Qy.shape[0], 1), np.float32)])
