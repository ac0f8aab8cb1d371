"""Connecting to a cluster and reading a table onto it (what the CLI's ``--dask`` needs)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..exceptions import DataError, InvalidParameterError
from ._compat import require_dask

__all__ = ["connect", "read_table"]


@contextlib.contextmanager
def connect(spec: str, *, threads_per_worker: int = 1) -> Iterator[Any]:
    """A ``distributed.Client`` for ``spec``, closed (with any cluster it started) on exit.

    Parameters
    ----------
    spec : str
        ``"tcp://host:8786"`` (or any scheduler address) for a running cluster, or
        ``"local:N"`` for a LocalCluster of ``N`` worker processes on this machine
        (``"local"``: one per core).
    threads_per_worker : int, default 1
        For ``local:N`` only.

    The client's ``dashboard_link`` is the Dask dashboard (the CLI prints it).

    Examples
    --------
    >>> from latentfactors.distributed import connect  # doctest: +SKIP
    >>> with connect("local:2") as client:  # doctest: +SKIP
    ...     print(client.dashboard_link)
    """
    require_dask()
    from distributed import Client, LocalCluster

    spec = str(spec).strip()
    cluster = None
    if spec == "local" or spec.startswith("local:"):
        n_text = spec.partition(":")[2] or str(os.cpu_count() or 1)
        try:
            n = int(n_text)
        except ValueError:
            n = 0
        if n < 1:
            raise InvalidParameterError(
                f"--dask {spec!r}: expected local:N with N >= 1 worker processes, or a "
                "scheduler address such as tcp://host:8786"
            )
        cluster = LocalCluster(
            n_workers=n, threads_per_worker=threads_per_worker, processes=True,
            dashboard_address=":0",
        )  # fmt: skip
        client = Client(cluster)
    elif "://" in spec or ":" in spec:
        try:
            client = Client(spec, timeout="30s")
        except OSError as exc:
            raise InvalidParameterError(
                f"--dask {spec!r}: no Dask scheduler answered there ({exc}); start one with "
                "`dask scheduler` and workers with `dask worker ADDRESS --nthreads N`"
            ) from exc
    else:
        raise InvalidParameterError(
            f"--dask {spec!r}: expected a scheduler address such as tcp://host:8786, or "
            "local:N for N local worker processes"
        )
    try:
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def read_table(path: str | os.PathLike, *, sep: str | None = None, **kwargs: Any) -> Any:
    """A dask DataFrame of a Parquet file or folder, or of CSV / TSV files (a glob is fine).

    ``.parquet`` / ``.pq`` files and folders read with ``dd.read_parquet``; anything else
    with ``dd.read_csv`` (``sep`` default: tab for ``.tsv`` / ``.data``, else comma).
    Remote URLs (``s3://...``) work when the matching fsspec package is installed.
    """
    require_dask()
    import dask.dataframe as dd

    text = os.fspath(path)
    local = Path(text)
    is_remote = "://" in text
    if not is_remote and not any(c in text for c in "*?[") and not local.exists():
        raise DataError(f"no such file or folder: {text!r}")
    suffix = local.suffix.lower()
    if suffix in (".parquet", ".pq") or (not is_remote and local.is_dir()):
        return dd.read_parquet(text, **kwargs)
    if sep is None:
        sep = "\t" if suffix in (".tsv", ".data") else ","
    return dd.read_csv(text, sep=sep, **kwargs)
