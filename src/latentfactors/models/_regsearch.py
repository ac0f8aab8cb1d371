"""``reg="auto"``: choosing a model's regularization on a validation slice of its own
training data (ImplicitALS and ALS).

The slice is drawn from the users' row counts alone (so a Dask fit, which has the
counts on the client, draws the same cells); each model takes the slice out of its
training arrays, fits the candidates in order, each warm-started from the one before,
scores them on the slice and restarts from its initial factors at the choice. This
module holds what the models share: the parameter (:class:`RegSearchParam`), the
slice, the search loop and its record (``reg_search_``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import numpy as np

from .._validation import check_float
from ..exceptions import InvalidParameterError

#: the search's progress, one line per candidate (the command line prints it)
search_log = logging.getLogger("latentfactors.search")

#: the validation slice: at most this many users, each with at least ``VAL_MIN``
#: interactions, a fifth of whose interactions (at least one) are held out
VAL_USERS = 2000
VAL_MIN = 3


class RegSearchParam:
    """The ``reg`` parameter of a model that can choose it: a number (used as it is),
    "auto" (the class's ``AUTO_REG`` candidates for its ``_auto_key()``) or a list of
    candidates. The model sets ``self.reg``; fitted models have ``reg_search_``."""

    #: the candidates of ``reg="auto"``, ascending, by ``_auto_key()``
    AUTO_REG: ClassVar[dict[Any, tuple[float, ...]]] = {}
    #: "auto" without a search (too little data, or a state set without one)
    AUTO_FALLBACK: ClassVar[dict[Any, float]] = {}
    #: whether a number must be > 0 (else >= 0)
    REG_POSITIVE: ClassVar[bool] = False

    reg: Any

    def _auto_key(self) -> Any:  # pragma: no cover - each model says
        raise NotImplementedError

    def _reg_candidates(self) -> tuple[float, ...]:
        """The values of ``reg`` to choose from (one when it is a number), ascending;
        raises InvalidParameterError naming what is wrong."""
        name, reg = type(self).__name__, self.reg
        if isinstance(reg, str):
            if reg != "auto":
                raise InvalidParameterError(
                    f"{name}(reg={reg!r}) is not valid: pass a number "
                    f"{'>' if self.REG_POSITIVE else '>='} 0, 'auto' "
                    "(chosen on a validation slice of the training data) or a list of "
                    "numbers > 0 to choose from"
                )
            return self.AUTO_REG[self._auto_key()]
        if isinstance(reg, np.ndarray):
            example = [float(c) for c in self.AUTO_REG[self._auto_key()][:3]]
            raise InvalidParameterError(
                f"{name}(reg=<array>) is not valid: pass the candidates as a list "
                f"(reg={example}); parameters stay plain JSON values"
            )
        if isinstance(reg, (list, tuple)):
            values = list(reg)
            if not values:
                raise InvalidParameterError(
                    f"{name}(reg=[]) is not valid: give at least one value to choose from"
                )
            for v in values:
                check_float(name, "reg", v, 0.0, low_open=True)
            return tuple(sorted({float(v) for v in values}))
        return (check_float(name, "reg", reg, 0.0, low_open=self.REG_POSITIVE),)

    def _searches_reg(self) -> bool:
        return isinstance(self.reg, str) or len(self._reg_candidates()) > 1

    @property
    def reg_(self) -> float:
        """The ``reg`` the fitted model was trained with (the search's choice when
        ``reg`` is "auto" or a list)."""
        self._check_fitted("reg_")  # type: ignore[attr-defined]
        search = getattr(self, "reg_search_", None)
        if search is not None:
            return float(search["chosen"])
        return self._fallback_reg()

    def _fallback_reg(self) -> float:
        """The value used without a search: ``reg`` itself when it is a number; for
        "auto" the class's ``AUTO_FALLBACK``; for a list its middle value."""
        candidates = self._reg_candidates()
        if isinstance(self.reg, str):
            return self.AUTO_FALLBACK[self._auto_key()]
        return float(candidates[(len(candidates) - 1) // 2])

    def _fitted_reg(self) -> float:
        return self.reg_ if "item_factors_" in self.__dict__ else self._fallback_reg()


def slice_rng(seed: int) -> np.random.Generator:
    """The draws of the validation slice of a fit with this seed."""
    return np.random.default_rng([seed, 7])


def slice_entries(counts: np.ndarray, rng: np.random.Generator):
    """(user, place in the user's row) of each held-out entry of the validation slice of
    rows with these ``counts``, ascending: up to ``VAL_USERS`` users with ``VAL_MIN`` or
    more entries, ``max(1, n // 5)`` of each one's ``n`` entries, drawn by ``rng``."""
    counts = np.asarray(counts)
    eligible = np.flatnonzero(counts >= VAL_MIN)
    if len(eligible) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    users = np.sort(rng.choice(eligible, min(VAL_USERS, len(eligible)), replace=False))
    n = counts[users]
    owner = np.repeat(np.arange(len(users)), n)
    group_start = np.repeat(np.cumsum(np.r_[0, n[:-1]]), n)
    offset = np.arange(n.sum()) - group_start  # each entry's place in its user's row
    # a random order within each user's row; the first max(1, n // 5) are held out
    order = np.lexsort((rng.random(len(owner)), owner))
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = offset
    take = rank < np.maximum(1, n // 5)[owner]
    return users[owner[take]].astype(np.int64), offset[take].astype(np.int64)


def validation_slice(indptr: np.ndarray, rng: np.random.Generator):
    """(user of each held-out entry, its position in the CSR), positions ascending (see
    :func:`slice_entries`)."""
    rows, offset = slice_entries(np.diff(indptr), rng)
    return rows, (indptr[rows] + offset).astype(np.int64)


def without(indptr: np.ndarray, arrays: Sequence[np.ndarray], pos: np.ndarray):
    """The CSR (``indptr`` and its per-entry ``arrays``) with the entries at ``pos``
    removed: (new indptr, new arrays)."""
    keep = np.ones(int(indptr[-1]), dtype=bool)
    keep[pos] = False
    rows = np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))
    ptr = np.zeros_like(indptr)
    np.cumsum(np.bincount(rows[keep], minlength=len(indptr) - 1), out=ptr[1:])
    return ptr, [np.ascontiguousarray(a[keep]) for a in arrays]


def search_record(candidates, n_users: int, n_entries: int, metric: str,
                  fallback: float | None = None) -> dict[str, Any]:  # fmt: skip
    """The ``reg_search_`` record's frame; with ``fallback``, the whole record of a
    search that had no slice (``fallback`` chosen, no scores)."""
    record: dict[str, Any] = {"candidates": [float(c) for c in candidates], "scores": [],
                              "metric": metric, "validation_users": int(n_users),
                              "validation_interactions": int(n_entries)}  # fmt: skip
    if fallback is not None:
        record["chosen"] = float(fallback)
        record["scores"] = [None] * len(candidates)
        record["standard_errors"] = [None] * len(candidates)
    return record


def run_search(
    name: str,
    candidates: Sequence[float],
    fit: Callable[[float], None],
    score: Callable[[], np.ndarray],
    summarize: Callable[[np.ndarray], float],
    choose: Callable[[Sequence[float], list[np.ndarray]], tuple[float, list[float]]],
    metric: str,
    n_users: int,
    n_entries: int,
) -> dict[str, Any]:
    """Fit each candidate in turn (``fit(reg)``, warm from the one before), score it
    (``score()``: per-user or per-entry values on the slice; ``summarize`` makes them
    the candidate's score) and ``choose`` (``(chosen, standard errors)``); the
    ``reg_search_`` record. ``metric`` names the score in the log and the record."""
    per = []
    for reg in candidates:
        t0 = time.perf_counter()
        fit(float(reg))
        per.append(score())
        search_log.info("%s reg search: reg=%g, %s %.4f on %d validation users (%.2f s)",
                        name, reg, metric, summarize(per[-1]), n_users,
                        time.perf_counter() - t0)  # fmt: skip
    chosen, errors = choose(candidates, per)
    search_log.info("%s reg search: chose reg=%g", name, chosen)
    record = search_record(candidates, n_users, n_entries, metric.lower())
    record["scores"] = [float(summarize(s)) for s in per]
    record["standard_errors"] = [float(e) for e in errors]
    record["chosen"] = float(chosen)
    return record
