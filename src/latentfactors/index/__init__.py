"""Item indexes for retrieval: exact (the default and the recall oracle), HNSW (faiss) and
Milvus. Optional libraries are imported only when an index of that kind is built.

>>> from latentfactors.index import INDEX_KINDS
>>> INDEX_KINDS
('exact', 'hnsw', 'milvus')
"""

from __future__ import annotations

import importlib
from typing import Any

from ._mips import augment_items, augment_queries
from .base import INDEX_KINDS, ItemIndex, build_index, recall_at, recommend, retrieve
from .exact import ExactIndex

__all__ = [
    "INDEX_KINDS",
    "ExactIndex",
    "HNSWIndex",
    "ItemIndex",
    "MilvusIndex",
    "augment_items",
    "augment_queries",
    "build_index",
    "export_vectors",
    "recall_at",
    "recommend",
    "retrieve",
]

_LAZY = {"HNSWIndex": ".hnsw", "MilvusIndex": ".milvus", "export_vectors": ".milvus"}


def __getattr__(name: str) -> Any:
    mod = _LAZY.get(name)
    if mod is None:
        raise AttributeError(f"module 'latentfactors.index' has no attribute {name!r}")
    return getattr(importlib.import_module(mod, __name__), name)
