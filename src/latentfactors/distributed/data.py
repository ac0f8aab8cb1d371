"""A dask DataFrame as interactions that stay on the cluster.

:func:`from_dask_dataframe` reads the input twice, one partition per task, never
holding the raw partitions all at once: the first pass validates each partition and
returns its unique ids (reduced to the sorted vocabularies in one task, which the client
then fetches: the vocabularies are small), the second re-expresses each partition in
inner ids (12 bytes a row), which stay on the workers. Every piece of data is the result
of a task whose inputs are tasks too (nothing is scattered), so when a worker dies, Dask
recomputes what it held from the input files.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..data.interactions import _check_columns, _wanted
from ..data.vocabulary import Vocabulary
from ..exceptions import DataError
from . import _tasks as T
from ._compat import require_dask

if TYPE_CHECKING:  # pragma: no cover
    from distributed import Client, Future

__all__ = ["DaskInteractions", "from_dask_dataframe"]

logger = logging.getLogger("latentfactors")


@dataclass(eq=False)
class DaskInteractions:
    """Interactions held by a Dask cluster, in inner ids, one future per partition.

    Build one with :func:`from_dask_dataframe`. The client holds the vocabularies, the
    counts per user and item and the summary numbers; the rows stay on the workers.

    Attributes
    ----------
    client : distributed.Client
    parts : list of Future
        One per non-empty input partition: ``(user int32, item int32, value float32)``.
    users, items : Vocabulary
        Sorted raw ids, as ``Interactions`` builds them from the same rows.
    user_counts, item_counts : ndarray of int64
    kind : {"explicit", "implicit"}
    """

    client: Client
    parts: list[Future]
    users: Vocabulary
    items: Vocabulary
    user_counts: np.ndarray
    item_counts: np.ndarray
    n: int
    value_sum: float
    value_min: float
    value_max: float
    kind: str
    declared_scale: tuple[float, float] | None
    n_input_partitions: int
    _vocab_futures: tuple[Future, Future] = field(repr=False, default=None)  # type: ignore[assignment]
    _counts_future: Future = field(repr=False, default=None)  # type: ignore[assignment]

    def __len__(self) -> int:
        return self.n

    @property
    def n_users(self) -> int:
        return len(self.users)

    @property
    def n_items(self) -> int:
        return len(self.items)

    @property
    def global_mean(self) -> float:
        return self.value_sum / self.n if self.n else 0.0

    @property
    def rating_scale(self) -> tuple[float, float] | None:
        if self.declared_scale is not None:
            return self.declared_scale
        if self.kind == "implicit":
            return None
        return (self.value_min, self.value_max)

    @property
    def nbytes(self) -> int:
        """Bytes of the rows in inner ids (12 per row), summed over the workers."""
        return 12 * self.n

    def __repr__(self) -> str:
        desc = f"{self.kind}: {self.n:,} rows, {self.n_users:,} users, {self.n_items:,} items"
        desc += f", {len(self.parts)} partitions"
        return f"DaskInteractions({desc})"


def from_dask_dataframe(
    ddf: Any,
    client: Client | None = None,
    *,
    user: str = "user",
    item: str = "item",
    rating: str | None = None,
    weight: str | None = None,
    rating_scale: tuple[float, float] | None = None,
) -> DaskInteractions:
    """Map a dask DataFrame's ids to inner ids on the cluster, validating every partition.

    Parameters
    ----------
    ddf : dask.dataframe.DataFrame or pandas.DataFrame
        Typically ``dd.read_parquet(folder)`` or ``dd.read_csv(pattern)``; a pandas
        DataFrame is split into partitions first (handy for tests and small data).
    client : distributed.Client, optional
        Default: the current client (``distributed.get_client()``).
    user, item : str
        Column names of the raw user and item ids.
    rating : str, optional
        Explicit ratings (for ALS, SVD). Without ``rating`` the data is implicit,
        with the strengths in ``weight`` (or 1.0 when no ``weight`` is given).
    weight : str, optional
    rating_scale : (low, high), optional
        Declared scale; ratings outside it are an error. Default: the observed range.

    Raises
    ------
    DataError
        A column is missing, a rating is NaN / inf / non-numeric, an id is missing, a
        weight is negative, or the frame has no rows (the messages name the partition
        and its rows). Empty partitions are fine (filters make them) and are skipped.

    Examples
    --------
    >>> import pandas as pd
    >>> from distributed import Client, LocalCluster  # doctest: +SKIP
    >>> client = Client(LocalCluster(n_workers=2, processes=False))  # doctest: +SKIP
    >>> df = pd.DataFrame({"user": [1, 1, 2], "item": ["a", "b", "a"], "rating": [5, 3, 4]})
    >>> data = from_dask_dataframe(df, client, rating="rating")  # doctest: +SKIP
    >>> data.n_users, data.n_items, data.rating_scale  # doctest: +SKIP
    (2, 2, (3.0, 5.0))
    """
    require_dask()
    import dask.dataframe as dd
    import pandas as pd
    from dask import delayed
    from distributed import get_client

    client = get_client() if client is None else client
    if isinstance(ddf, pd.DataFrame):
        ddf = dd.from_pandas(ddf, npartitions=max(1, min(len(ddf) // 100_000 + 1, 64)))
    if not isinstance(ddf, dd.DataFrame):
        raise DataError(
            f"expected a dask DataFrame (e.g. dask.dataframe.read_parquet(...)), got "
            f"{type(ddf).__name__}"
        )
    if rating is not None and weight is not None:
        raise DataError(
            "give either rating= (explicit feedback) or weight= (implicit feedback), not both"
        )
    wanted = _wanted(user, item, rating, weight)
    _check_columns(wanted, list(ddf.columns), "the dask DataFrame")
    kind = "explicit" if rating is not None else "implicit"
    value_col = rating if rating is not None else weight
    scale = None
    if rating_scale is not None:
        lo, hi = (float(x) for x in rating_scale)
        if not lo < hi:
            raise DataError(f"rating_scale must be (low, high) with low < high, got {rating_scale}")
        scale = (lo, hi)

    # two passes over the input, each streaming: the raw partitions are never held all
    # at once (only their unique ids, then the rows in inner ids, 12 bytes each)
    frames = ddf[wanted].to_delayed(optimize_graph=True)
    n_in = len(frames)
    stats = client.compute(
        [delayed(T.partition_stats)(f, p, user, item, value_col, kind, scale)
         for p, f in enumerate(frames)]
    )  # fmt: skip
    _raise_first_in_order(stats)  # the first bad partition, whichever task failed first
    summary = client.gather([client.submit(T.summary, s) for s in stats])
    n = int(sum(s[0] for s in summary))
    if n == 0:
        raise DataError(
            f"the dask DataFrame has no rows (all {n_in} partitions are empty); "
            "interactions need at least one"
        )
    keep = [p for p, s in enumerate(summary) if s[0] > 0]
    empty = n_in - len(keep)
    if empty:
        logger.info("from_dask_dataframe: skipping %d empty partition(s) of %d", empty, n_in)
    uf = _tree_merge(client, "user", [client.submit(T.pick, stats[p], "users") for p in keep])
    itf = _tree_merge(client, "item", [client.submit(T.pick, stats[p], "items") for p in keep])
    users, items = client.gather([uf, itf])
    parts = client.compute(
        [delayed(T.encode_partition)(frames[p], p, user, item, value_col, kind, scale, uf, itf)
         for p in keep]
    )  # fmt: skip
    _raise_first_in_order(parts)
    counts = client.submit(
        T.sum_counts, *[client.submit(T.part_counts, f, len(users), len(items)) for f in parts]
    )
    user_counts, item_counts = client.gather(counts)
    del stats  # the encoded parts keep their lineage (down to the input files)
    s_kept = [summary[p] for p in keep]
    return DaskInteractions(
        client=client, parts=parts, users=users, items=items,
        user_counts=user_counts.astype(np.int64), item_counts=item_counts.astype(np.int64),
        n=n, value_sum=float(sum(s[1] for s in s_kept)),
        value_min=float(min(s[2] for s in s_kept)), value_max=float(max(s[3] for s in s_kept)),
        kind=kind, declared_scale=scale, n_input_partitions=n_in,
        _vocab_futures=(uf, itf), _counts_future=counts,
    )  # fmt: skip


def _tree_merge(client: Client, name: str, futures: list[Future], fan_in: int = 8) -> Future:
    """The vocabulary of many partitions' unique ids, merged ``fan_in`` at a time (so no
    worker receives every partition's ids at once)."""
    futures = list(futures)
    while True:
        futures = [
            client.submit(T.merge_ids, name, *futures[k : k + fan_in])
            for k in range(0, max(len(futures), 1), fan_in)
        ]
        if len(futures) == 1:
            return futures[0]


def _raise_first_in_order(futures: list) -> None:
    """Wait for every future; re-raise the error of the first failed one in partition
    order, so the message names the same partition whichever task failed first."""
    from distributed import wait

    wait(futures)
    for f in futures:
        if f.status == "error":
            f.result()  # raises the task's own exception
