"""Running one step of a distributed fit: submit its tasks, gather, retry on lost workers.

A step (one ALS half-step, one DSGD epoch) starts from state the client holds (the
factors) and ends with the client holding the new state. The data the steps read are
task results with their whole lineage (see ``data.py``), so Dask recomputes any piece a
dead worker held. What a step scatters (the factors) is not recomputable, so when a
worker is lost the step is run again from the client's copy: the tasks are pure and
seeded, so the retried step gives exactly the same result. After ``max_retries`` lost
attempts the fit fails with :class:`DistributedFitError`, and no model is kept.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np

from ..exceptions import LatentFactorsError

__all__ = ["DistributedFitError", "raise_first_error", "range_bounds", "run_step", "scatter_one"]

logger = logging.getLogger("latentfactors")


class DistributedFitError(LatentFactorsError, RuntimeError):
    """A distributed fit lost workers more often than it may retry (or lost its cluster)."""


def _retryable() -> tuple[type[BaseException], ...]:
    from distributed import KilledWorker
    from distributed.client import FutureCancelledError
    from distributed.comm.core import CommClosedError

    return (KilledWorker, FutureCancelledError, CommClosedError)


def scatter_one(client: Any, obj: Any) -> Any:
    """Scatter one object (a tuple stays one object) to one worker; its future.

    Not ``broadcast=True``: that fights the Active Memory Manager, which drops the
    replicas again. A task on another worker fetches the data from a peer once, and the
    peers that fetched it serve later fetches, so it spreads like a broadcast.
    """
    return client.scatter([obj], hash=False)[0]


def run_step(client: Any, make: Callable[[], list[Any]], what: str, max_retries: int) -> list[Any]:
    """Gather the futures ``make()`` submits; on a lost worker, ``make()`` again."""
    retryable = _retryable()
    last: BaseException | None = None
    for attempt in range(max_retries + 1):
        futures: list[Any] = []
        try:
            futures = make()  # scatters too: a lost worker can fail it
            return client.gather(futures)
        except retryable as exc:
            if futures:
                client.cancel(futures)
            last = exc
            logger.warning(
                "%s: lost a worker (%s: %s); retrying the step from the client's copy "
                "(attempt %d of %d)", what, type(exc).__name__, exc, attempt + 2, max_retries + 1,
            )  # fmt: skip
    raise DistributedFitError(
        f"{what} failed {max_retries + 1} times because workers were lost (last error: "
        f"{type(last).__name__}: {last}); no model was kept. Check the workers' logs (out of "
        "memory? raise memory_limit or use more partitions), or raise max_retries"
    ) from last


def range_bounds(counts: np.ndarray, n_blocks: int) -> np.ndarray:
    """Boundaries of up to ``n_blocks`` contiguous id ranges with about equal counts."""
    n = len(counts)
    n_blocks = max(1, min(int(n_blocks), n))
    cum = np.cumsum(counts, dtype=np.float64)
    targets = cum[-1] * np.arange(1, n_blocks) / n_blocks
    cuts = np.searchsorted(cum, targets, side="left") + 1
    return np.unique(np.concatenate([[0], cuts, [n]])).astype(np.int64)


def raise_first_error(futures: list[Any]) -> None:
    """Wait for ``futures`` (left on the workers) and raise the first task's error."""
    from distributed import wait

    wait(futures)
    for f in futures:
        if f.status == "error":
            f.result()
