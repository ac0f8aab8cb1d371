"""What one request works on: an immutable :class:`Snapshot` of the served model, its
index and its live users, and the id handling shared by every route.

A live user is a :class:`LiveRow` (score vector, bias, seen inner item ids): the factors
``model.fold_in(..., update=False)`` computed, kept in the service, never in the model.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["LiveRow", "ServiceError", "Snapshot"]

_INT = re.compile(r"^[+-]?\d+$")


class ServiceError(Exception):
    """A request the service refuses: an HTTP status and one clear message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class LiveRow:
    """One folded-in user: score vector, bias, seen inner item ids (sorted), event count."""

    vector: np.ndarray
    bias: float
    seen: np.ndarray
    n_events: int


@dataclass(frozen=True)
class Snapshot:
    """Everything one request needs. Immutable once published, except ``live``: writers
    (holding the service's write lock) replace one user's row at a time, atomically."""

    model: Any
    path: str
    sha256: str
    version: int
    index: Any
    index_kind: str
    recall: float | None
    loaded_at: float
    live: dict[Any, LiveRow] = field(default_factory=dict)
    forgotten: frozenset = frozenset()
    popular: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    _cache: dict = field(default_factory=dict, compare=False, repr=False)

    # ------------------------------------------------------------------ ids
    def _coerce(self, raw: Any, vocab: Any) -> Any:
        """A raw id from a URL or JSON in the type of the model's ids (path segments are
        text: "42" means 42 when the model's ids are integers)."""
        if isinstance(raw, np.generic):
            raw = raw.item()
        if isinstance(raw, bool):
            raise ServiceError(422, f"ids are strings or integers, got {raw!r}")
        kind = vocab.raw.dtype.kind
        if kind in "iu":
            if isinstance(raw, str) and _INT.match(raw.strip()):
                return int(raw)
            if isinstance(raw, float) and raw.is_integer():
                return int(raw)
        elif kind == "U" and isinstance(raw, int):  # the model's ids are text
            return str(raw)
        elif kind == "O" and isinstance(raw, str) and _INT.match(raw.strip()):
            # mixed ids (e.g. integer training users plus text ones folded in by a refit):
            # "196" is the integer 196 unless the text "196" is an id itself
            if vocab.index([raw], missing="ignore")[0] < 0:
                as_int = int(raw)
                if vocab.index([as_int], missing="ignore")[0] >= 0:
                    return as_int
        return raw

    def user_id(self, raw: Any) -> Any:
        return self._coerce(raw, self.model.users_)

    def item_id(self, raw: Any) -> Any:
        return self._coerce(raw, self.model.items_)

    def item_ids(self, raws: Sequence[Any]) -> list[Any]:
        return [self.item_id(r) for r in raws]

    def model_row(self, user: Any) -> int:
        """Row of ``user`` among the model's own users, -1 when unknown or deleted."""
        if user in self.forgotten:
            return -1
        return int(self.model.users_.index([user], missing="ignore")[0])

    def is_known(self, user: Any) -> bool:
        return user in self.live or self.model_row(user) >= 0

    def item_rows(self, items: Sequence[Any]) -> np.ndarray:
        if not len(items):
            return np.zeros(0, np.int64)
        return self.model.items_.index(_ids(items), missing="ignore")

    def unknown_user(self, user: Any) -> ServiceError:
        if user in self.forgotten:
            return ServiceError(
                404, f"user {user!r} was deleted; post new interactions to start over"
            )
        return ServiceError(
            404,
            f"user {user!r} is not known (not in the model, no interactions posted); post "
            f"their interactions to /users/{user}/interactions, or ask with fallback=popular",
        )

    # ------------------------------------------------------------------ user vectors
    def user_rows(self, users: Sequence[Any]) -> tuple[np.ndarray, np.ndarray, Any, list[int]]:
        """Score vectors, biases and seen CSR ``(indptr, indices)`` for known users (live
        rows first in precedence), and the positions in ``users`` that are unknown."""
        m = self.model
        k = m.item_factors_.shape[1]
        U = np.zeros((len(users), k), np.float32)
        b = np.zeros(len(users), np.float32)
        seen_parts: list[np.ndarray] = []
        unknown: list[int] = []
        model_pos: list[int] = []
        model_rows: list[int] = []
        for j, u in enumerate(users):
            row = self.live.get(u)
            if row is not None:
                U[j], b[j] = row.vector, row.bias
                seen_parts.append(row.seen)
                continue
            r = self.model_row(u)
            if r < 0:
                unknown.append(j)
                seen_parts.append(np.zeros(0, np.int32))
                continue
            model_pos.append(j)
            model_rows.append(r)
            seen_parts.append(None)  # type: ignore[arg-type]
        if model_rows:
            rows = np.asarray(model_rows)
            U[model_pos] = m.user_vectors_[rows]
            b[model_pos] = m.user_bias_[rows]
            ui = m.user_items_
            for j, r in zip(model_pos, rows):
                seen_parts[j] = (
                    np.zeros(0, np.int32)
                    if ui is None
                    else ui.indices[ui.indptr[r] : ui.indptr[r + 1]]
                )
        ptr = np.zeros(len(users) + 1, np.int64)
        np.cumsum([len(p) for p in seen_parts], out=ptr[1:])
        idx = np.concatenate(seen_parts).astype(np.int32) if seen_parts else np.zeros(0, np.int32)
        return U, b, (ptr, idx), unknown

    @property
    def seen_kept(self) -> bool:
        return self.model.user_items_ is not None

    def user_norms(self) -> np.ndarray:
        if "norms" not in self._cache:
            V = self.model.user_vectors_
            norms = np.linalg.norm(V.astype(np.float64), axis=1)
            norms[norms == 0] = 1.0
            self._cache["norms"] = norms
        return self._cache["norms"]


def _ids(values: Sequence[Any]) -> np.ndarray:
    from ..data.vocabulary import _as_id_array

    return _as_id_array(list(values))
