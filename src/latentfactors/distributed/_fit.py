"""`fit`: train an ordinary latentfactors model on a Dask cluster."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from ..data.interactions import Interactions
from ..exceptions import DataError, InvalidParameterError
from ..models._fitting import FitData, Trainer, guarded_fit, parse_validation_metric
from ..models.callbacks import Callback, as_callbacks
from ._compat import require_dask
from .data import DaskInteractions, from_dask_dataframe

__all__ = ["SUPPORTED", "fit"]

logger = logging.getLogger("latentfactors")

#: the model classes a distributed fit trains, with how
SUPPORTED = {
    "ALS": "block-partitioned alternating least squares (same kernels, same result)",
    "ImplicitALS": "block-partitioned implicit ALS (same kernels, same result)",
    "SVD": "distributed stratified SGD, DSGD (same blocks and streams as the single-machine SVD)",
}


#: the parameters each distributed trainer implements (the others must keep their defaults)
HONOURED = {
    "ALS": frozenset({"n_factors", "n_epochs", "reg", "reg_bias", "weighted", "biased",
                      "solver", "cg_steps", "init_std", "random_state"}),
    "ImplicitALS": frozenset({"n_factors", "n_epochs", "reg", "alpha", "reg_scaling",
                              "reg_alpha0", "reg_nu", "confidence", "epsilon", "solver",
                              "cg_steps", "block_size", "threshold", "init_std", "item_bias",
                              "compute_loss", "random_state"}),
    "SVD": frozenset({"n_factors", "n_epochs", "lr", "reg", "reg_bias", "lr_bu", "lr_bi",
                      "lr_pu", "lr_qi", "reg_bu", "reg_bi", "reg_pu", "reg_qi", "init_std",
                      "biased", "n_blocks", "reg_density", "random_state"}),
}  # fmt: skip


def check_honoured(model: Any) -> None:
    """Refuse a parameter the distributed trainer would ignore (never a silently
    different model): ``n_threads``, and any parameter outside :data:`HONOURED` that is
    not at its default (one a newer single-machine model has and this fit does not)."""
    import inspect

    name = type(model).__name__
    if getattr(model, "n_threads", None) is not None:
        raise InvalidParameterError(
            f"{name}(n_threads={model.n_threads!r}) is not used by a Dask fit: each worker "
            "runs the kernels on its own threads (start workers with --nthreads N, or "
            "LocalCluster(threads_per_worker=N)); leave n_threads=None"
        )
    honoured = HONOURED[name]
    params = inspect.signature(type(model).__init__).parameters
    for p, spec in params.items():
        if p in ("self", "n_threads") or p in honoured or spec.default is inspect.Parameter.empty:
            continue
        value = getattr(model, p, spec.default)
        if not _same(value, spec.default):
            raise InvalidParameterError(
                f"{name}({p}={value!r}) is not implemented by the Dask fit (it would be "
                f"ignored); leave {p} at its default ({spec.default!r}) or fit on one machine"
            )


def _same(value: Any, default: Any) -> bool:
    if value is default:
        return True
    if isinstance(value, bool) or isinstance(default, bool):
        return False
    try:
        return bool(value == default)
    except (TypeError, ValueError):
        return False


def default_blocks(n_rows: int, n_workers: int) -> int:
    """ALS blocks per side: ~1M interactions each, 2 to 64 per worker."""
    return int(max(2 * n_workers, min(n_rows // 1_000_000, 64 * n_workers)))


def _trainer_factory(model: Any, data: DaskInteractions, seed: int, n_blocks: int | None,
                     max_retries: int, keep_seen: bool) -> Callable[[], Trainer]:  # fmt: skip
    from ..models import ALS, SVD, ImplicitALS

    n_workers = max(1, len(data.client.scheduler_info(n_workers=-1).get("workers", {})))
    name = type(model).__name__
    if type(model) is ALS or type(model) is ImplicitALS:
        from .als import DaskALSTrainer, DaskImplicitALSTrainer

        cls = DaskALSTrainer if type(model) is ALS else DaskImplicitALSTrainer
        # rows are solved independently: the block count changes speed, not results.
        # Default: about 1M interactions per block (a task then carries ~0.1-1 s of
        # work, far above Dask's ~1 ms per task), and at least 2 per worker so a slow
        # task does not leave a worker idle
        nb = int(n_blocks) if n_blocks is not None else default_blocks(len(data), n_workers)
        return lambda: cls(model, data, seed, n_blocks=nb, max_retries=max_retries,
                           keep_seen=keep_seen)  # fmt: skip
    if type(model) is SVD:
        from .dsgd import DaskSVDTrainer

        if n_blocks is not None:
            raise InvalidParameterError(
                "fit(n_blocks=...) is for ALS models; the SGD blocks of SVD are the model's "
                "own parameter (SVD(n_blocks=...)), so they change the model, not just the "
                "speed"
            )
        return lambda: DaskSVDTrainer(model, data, seed, max_retries=max_retries,
                                      keep_seen=keep_seen)  # fmt: skip
    raise InvalidParameterError(
        f"{name} cannot be trained on a Dask cluster yet; supported: {', '.join(SUPPORTED)}"
    )


def fit(
    model: Any,
    data: Any,
    client: Any = None,
    *,
    user: str = "user",
    item: str = "item",
    rating: str | None = None,
    weight: str | None = None,
    rating_scale: tuple[float, float] | None = None,
    validation: Interactions | None = None,
    callbacks: Iterable[Callback | Callable[..., Any]] | None = None,
    validation_metric: str | None = None,
    n_blocks: int | None = None,
    keep_seen: bool = False,
    max_retries: int = 3,
) -> Any:
    """Train ``model`` (ALS, ImplicitALS or SVD) on a Dask cluster; returns the model.

    The result is an ordinary fitted model: ``save``, ``load``, ``recommend``,
    ``fold_in`` and the reports work on it as on a model fitted on one machine, and
    with the same ``random_state`` it is the same model (ALS and ImplicitALS to float
    tolerance; SVD too, because DSGD runs the same blocks with the same random streams;
    see the package docstring).

    Parameters
    ----------
    model : ALS, ImplicitALS or SVD
        An estimator, fitted in place, every parameter as for ``model.fit``
        (the ``reg="auto"`` search of ALS and ImplicitALS and ImplicitALS's
        ``reg_scaling="frequency"`` included)
        except ``n_threads``, which
        is refused: workers run on their own ``nthreads``. A parameter this fit does
        not implement (one a newer model adds) is refused unless it keeps its default.
    data : dask.dataframe.DataFrame, pandas.DataFrame or DaskInteractions
        The training rows, typically ``dd.read_parquet(folder)``; a
        :class:`~latentfactors.distributed.DaskInteractions` (from
        :func:`~latentfactors.distributed.from_dask_dataframe`) is reused as it is,
        so several fits need one pass over the input.
    client : distributed.Client, optional
        Default: the current client.
    user, item, rating, weight, rating_scale
        Columns and scale, as for ``Interactions.from_dataframe`` (ignored when
        ``data`` is a DaskInteractions).
    validation : Interactions, optional
        Held-out rows (on the client) scored after every epoch, as in ``model.fit``.
    callbacks, validation_metric
        As in ``model.fit``: progress, early stopping, the metric.
    n_blocks : int, optional
        ALS / ImplicitALS: user (and item) blocks, each one task per half-step; default
        about one per million interactions, at least two per worker. Results do not
        depend on it. (SVD's blocks are its
        own ``n_blocks`` parameter.)
    keep_seen : bool, default False
        Bring the users x items matrix to the client before training, so the model keeps its
        seen items (``recommend(exclude_seen=True)``, ``explain``). Off by default: the
        point of a cluster is that the rows need not fit on one machine. Without it,
        ``recommend`` needs ``exclude_seen=False``, and a ranking ``validation`` metric
        scores training items too (``model.fit`` leaves them out), so it reads lower.
    max_retries : int, default 3
        How many times a step is re-run after losing a worker.

    Raises
    ------
    InvalidParameterError
        ``n_threads`` set, or a parameter the distributed trainer would ignore.
    DataError
        Bad input (missing columns, NaN ratings, duplicate pairs, no rows ...), or
        implicit data for a rating model.
    DistributedFitError
        Workers were lost more than ``max_retries`` times in one step.

    Examples
    --------
    >>> import dask.dataframe as dd  # doctest: +SKIP
    >>> from distributed import Client  # doctest: +SKIP
    >>> from latentfactors.models import ALS  # doctest: +SKIP
    >>> from latentfactors import distributed as lfd  # doctest: +SKIP
    >>> client = Client("tcp://scheduler:8786")  # doctest: +SKIP
    >>> ratings = dd.read_parquet("s3://bucket/ratings/")  # doctest: +SKIP
    >>> model = lfd.fit(ALS(n_factors=64, random_state=0), ratings, client,
    ...                 user="user_id", item="item_id", rating="rating")  # doctest: +SKIP
    >>> model.recommend("u42", n=10, exclude_seen=False)  # doctest: +SKIP
    """
    require_dask()
    from distributed import get_client

    from ..models.base import FactorModel

    if not isinstance(model, FactorModel):
        raise InvalidParameterError(
            f"fit expects a latentfactors model such as ALS(...), got {type(model).__name__}"
        )
    model._check_params()
    name = type(model).__name__
    if name in HONOURED:
        check_honoured(model)
    if not isinstance(max_retries, int) or isinstance(max_retries, bool) or max_retries < 0:
        raise InvalidParameterError(f"max_retries={max_retries!r} is invalid; expected an int >= 0")
    if n_blocks is not None and (
        not isinstance(n_blocks, int) or isinstance(n_blocks, bool) or n_blocks < 1
    ):
        raise InvalidParameterError(f"n_blocks={n_blocks!r} is invalid; expected an int >= 1")
    if not isinstance(data, DaskInteractions):
        client = get_client() if client is None else client
        data = from_dask_dataframe(
            data, client, user=user, item=item, rating=rating, weight=weight,
            rating_scale=rating_scale,
        )  # fmt: skip
    if model.data_kind == "explicit" and data.kind != "explicit":
        raise DataError(
            f"{name} learns from explicit ratings but the data is implicit (no rating "
            "column); pass rating= naming the ratings column, or use an implicit-feedback "
            "model"
        )
    cbs = as_callbacks(callbacks)
    val_metric = parse_validation_metric(model, validation_metric)
    seed = model.random_state if getattr(model, "random_state", None) is not None else None
    if seed is None:
        seed = int(np.random.SeedSequence().entropy % (2**63))
    link = getattr(data.client, "dashboard_link", None)
    logger.info("distributed %s fit on %s (dashboard: %s)", name, data, link)
    make = _trainer_factory(model, data, seed, n_blocks, max_retries, keep_seen)
    holder: dict[str, Trainer] = {}

    def make_trainer() -> Trainer:
        holder["trainer"] = trainer = make()
        return trainer

    # filled in after the trainer has built its blocks (the seen matrix comes from them)
    meta = FitData(
        data.users, data.items, float(data.global_mean), data.rating_scale, len(data),
        data.user_counts, data.item_counts, None,
    )  # fmt: skip
    try:
        guarded_fit(
            model, meta, lambda: _with_seen(make_trainer(), meta), validation=validation,
            callbacks=cbs, val_metric=val_metric, seed=seed,
        )  # fmt: skip
    finally:
        trainer = holder.get("trainer")
        if trainer is not None:
            trainer.close()
    return model


def _with_seen(trainer: Any, meta: FitData) -> Any:
    meta.seen = getattr(trainer, "seen", None)
    return trainer
