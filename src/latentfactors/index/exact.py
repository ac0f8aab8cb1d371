"""Exact inner-product top-k over the augmented item vectors: the default retrieval and
the oracle every approximate index is measured against (blocked GEMM + parallel top-k,
via :func:`latentfactors.models.scoring.top_n`)."""

from __future__ import annotations

import numpy as np

__all__ = ["ExactIndex"]


class ExactIndex:
    """Brute-force inner-product search; exact, needs no extra library."""

    kind = "exact"

    def __init__(self) -> None:
        self._vectors = np.zeros((0, 0), np.float32)
        self._vectors_t = np.zeros((0, 0), np.float32)
        self._ids = np.zeros(0, np.int64)

    @property
    def size(self) -> int:
        return len(self._ids)

    def build(self, vectors: np.ndarray, ids: np.ndarray) -> ExactIndex:
        self._vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self._vectors_t = np.ascontiguousarray(self._vectors.T)
        self._ids = np.asarray(ids, dtype=np.int64)
        return self

    def search(
        self, queries: np.ndarray, k: int, exclude: list[np.ndarray] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        from ..models import scoring

        Qy = np.atleast_2d(np.asarray(queries, dtype=np.float32))
        seen = None
        if exclude is not None:
            pos = np.full(int(self._ids.max()) + 1 if len(self._ids) else 0, -1, np.int64)
            pos[self._ids] = np.arange(len(self._ids))
            arrs = [np.asarray(e, dtype=np.int64) for e in exclude]
            rows = [pos[e[(e >= 0) & (e < len(pos))]] for e in arrs]
            rows = [r[r >= 0].astype(np.int32) for r in rows]
            ptr = np.zeros(len(rows) + 1, np.int64)
            np.cumsum([len(r) for r in rows], out=ptr[1:])
            seen = (ptr, np.concatenate(rows) if rows else np.zeros(0, np.int32))
        idx, val = scoring.top_n(
            Qy,
            np.zeros(len(Qy), np.float32),
            0.0,
            self._vectors,
            self._vectors_t,
            np.zeros(0, np.float32),
            k,
            seen,
        )
        ids = np.where(idx >= 0, self._ids[np.maximum(idx, 0)], -1)
        return ids, val
