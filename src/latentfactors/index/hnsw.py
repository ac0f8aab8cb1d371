"""HNSW on raw inner products (faiss ``IndexHNSWFlat`` with ``METRIC_INNER_PRODUCT``).

Why faiss: it ships wheels for every platform we test (hnswlib had to compile from its
sdist here and has had no release since 2023), it is maintained by Meta's FAISS team, it
is the library the issue's transform study used (faiss 1.15: HNSW on inner products
reached recall@10 0.95-0.99 where the Euclidean transform collapsed), and its index files
are its own binary format (``faiss.write_index``), not pickle.

The index is built on the augmented vectors ``[q_i, b_i]`` (see :mod:`._mips`), so the
item bias is carried and the ranking matches ``model.recommend``. It persists next to the
model file with a small JSON sidecar holding the model file's SHA-256 and the build
parameters; :meth:`HNSWIndex.load_or_build` rebuilds it when either differs (stale) or
the files are missing.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..exceptions import InvalidParameterError
from .base import filter_hits

__all__ = ["HNSWIndex", "file_sha256"]


def _faiss():
    try:
        import faiss
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "the HNSW index needs faiss; install the extra with: pip install 'latentfactors[ann]'"
        ) from exc
    return faiss


def file_sha256(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file's bytes (to tell whether an index belongs to a model file)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class HNSWIndex:
    """Approximate inner-product search with an HNSW graph (faiss).

    Parameters
    ----------
    M : int
        Graph degree (links per node); more is more accurate and more memory.
    ef_construction : int
        Candidate list while building.
    ef_search : int
        Candidate list while searching (raised to ``k`` when a query asks for more).
    threads : int, optional
        OpenMP threads faiss may use (default: leave faiss's setting).
    """

    kind = "hnsw"

    def __init__(
        self,
        M: int = 32,
        ef_construction: int = 200,
        ef_search: int = 128,
        threads: int | None = None,
    ) -> None:
        for name, v in (("M", M), ("ef_construction", ef_construction), ("ef_search", ef_search)):
            if not isinstance(v, int) or v < 2:
                raise InvalidParameterError(f"HNSWIndex: {name} must be an int >= 2, got {v!r}")
        self.M, self.ef_construction, self.ef_search = M, ef_construction, ef_search
        self.threads = threads
        self._index: Any = None
        self._ids = np.zeros(0, np.int64)

    @property
    def size(self) -> int:
        return len(self._ids)

    def params(self) -> dict[str, Any]:
        return {"M": self.M, "ef_construction": self.ef_construction}

    def build(self, vectors: np.ndarray, ids: np.ndarray) -> HNSWIndex:
        faiss = _faiss()
        if self.threads:
            faiss.omp_set_num_threads(int(self.threads))
        X = np.ascontiguousarray(vectors, dtype=np.float32)
        index = faiss.IndexHNSWFlat(X.shape[1], self.M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = self.ef_construction
        if len(X):
            index.add(X)
        self._index = index
        self._ids = np.asarray(ids, dtype=np.int64)
        return self

    def search(
        self, queries: np.ndarray, k: int, exclude: list[np.ndarray] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        faiss = _faiss()
        Qy = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        extra = max((len(e) for e in exclude), default=0) if exclude is not None else 0
        kk = max(1, min(self.size, k + extra))
        if self.size == 0 or len(Qy) == 0:
            return np.full((len(Qy), k), -1, np.int64), np.full((len(Qy), k), -np.inf, np.float32)
        params = faiss.SearchParametersHNSW()
        params.efSearch = max(self.ef_search, kk)
        dist, pos = self._index.search(Qy, kk, params=params)
        ids = np.where(pos >= 0, self._ids[np.maximum(pos, 0)], -1)
        dist = np.where(pos >= 0, dist, -np.inf).astype(np.float32)
        if exclude is None and kk == k:
            return ids, dist
        return filter_hits(ids, dist, k, exclude)

    # ------------------------------------------------------------------ files
    def save(self, path: str | os.PathLike[str], meta: dict[str, Any]) -> Path:
        """Write the index to ``path`` and ``meta`` (plus the ids) to ``path + '.json'``,
        each through a temporary file renamed into place."""
        faiss = _faiss()
        path = Path(path)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")  # workers may race
        faiss.write_index(self._index, str(tmp))
        os.replace(tmp, path)
        side = {
            **meta,
            **self.params(),
            "n": self.size,
            "ids_are_rows": bool(np.array_equal(self._ids, np.arange(self.size))),
        }
        tmp_json = path.with_name(f"{path.name}.json.{os.getpid()}.tmp")
        tmp_json.write_text(json.dumps(side, sort_keys=True))
        os.replace(tmp_json, path.with_name(path.name + ".json"))
        return path

    @classmethod
    def load_or_build(
        cls,
        path: str | os.PathLike[str],
        vectors: np.ndarray,
        meta: dict[str, Any],
        **options: Any,
    ) -> tuple[HNSWIndex, bool]:
        """The index stored at ``path`` when its sidecar matches ``meta`` and the build
        options; else a fresh one built from ``vectors`` (ids = rows) and saved there
        (when the folder is writable). Returns ``(index, rebuilt)``."""
        faiss = _faiss()
        path = Path(path)
        index = cls(**options)
        side_path = path.with_name(path.name + ".json")
        want = {**meta, **index.params(), "n": len(vectors), "ids_are_rows": True}
        if path.is_file() and side_path.is_file():
            try:
                side = json.loads(side_path.read_text())
                if side == want:
                    index._index = faiss.read_index(str(path))
                    index._ids = np.arange(len(vectors), dtype=np.int64)
                    if index._index.ntotal == len(vectors) and index._index.d == vectors.shape[1]:
                        return index, False
            except (ValueError, RuntimeError, OSError):
                pass  # unreadable or foreign: rebuild
        index.build(vectors, np.arange(len(vectors), dtype=np.int64))
        try:
            index.save(path, meta)
        except OSError:
            pass  # read-only folder: serve from memory
        return index, True
