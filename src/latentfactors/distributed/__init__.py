"""Training on a Dask cluster when the data outgrows one machine (extra ``[dask]``).

``pip install 'latentfactors[dask]'``, then::

    import dask.dataframe as dd
    from distributed import Client
    from latentfactors import distributed as lfd
    from latentfactors.models import ALS

    client = Client("tcp://scheduler:8786")          # or Client(LocalCluster(...))
    ratings = dd.read_parquet("ratings/")            # never collected on one machine
    model = lfd.fit(ALS(n_factors=64, random_state=0), ratings, client,
                    user="user_id", item="item_id", rating="rating")
    model.save("als.lfm")                            # an ordinary fitted model

How it works
------------
* :func:`from_dask_dataframe` validates every partition on the workers (the same
  errors as ``Interactions.from_dataframe``, naming partition and rows), reduces the
  unique ids to sorted vocabularies (the same inner ids as a single-machine fit) and
  re-expresses each partition in inner ids. The rows stay on the workers.
* ALS and ImplicitALS: users and items are cut into contiguous ranges balanced by
  activity; each block's CSR stays on a worker. Per half-step the client scatters the
  fixed side once (factors + bias, or factors + ``Y^T Y + reg I``), every block is
  solved by the single-machine kernel (CG solvers warm-started from the block's current
  rows), and the client gathers the solved rows. ImplicitALS's
  ``reg_scaling="frequency"`` penalties come from each block's own row counts. The
  fixed side is scattered to one worker, not with ``broadcast=True`` (which the Active
  Memory Manager undoes); tasks elsewhere fetch it from peers once per worker.
* SVD: distributed stratified SGD (DSGD, Gemulla et al. 2011) over the same ``B x B``
  blocks and the same per-block random streams as the single-machine SVD; in each of
  the ``B`` sub-epochs ``B`` blocks sharing no user and no item run at once, and only
  the factor slices of their user and item groups move between workers.

Reproducibility: the model depends on the seed and the data, never on the number of
workers. ALS / ImplicitALS equal the single-machine model to float tolerance (rows are
solved independently from the same initial factors); SVD equals it too (same blocks,
streams and kernel; the only difference is float rounding in the global mean).

Faults: data are task results with their lineage, so Dask recomputes what a dead worker
held; the factors a step scattered are re-sent from the client and the step is re-run
(same result). After ``max_retries`` lost attempts in one step the fit raises
:class:`DistributedFitError` and no model is kept.

Threads: each task sets numba's thread count to its worker's ``nthreads`` (Dask does not)
and keeps BLAS on one thread; start workers with ``--nthreads`` equal to their cores.

Limits: the client holds both sides' factors (users x k floats) and each ALS iteration
moves them through its network link twice; at billions of users that link, not the
workers, bounds the speed (see ``benchmarks/results/dask.md``). ImplicitALS's Gram
matrix ``Y^T Y`` (rows x k^2 flops) is computed on the client too, on one BLAS thread,
so that the model is the single-machine model bit for bit. SVDpp, BPR, NMF and the
other models train on one machine only.
"""

from __future__ import annotations

# importing this package needs no dask (so ``--doctest-modules`` and ``import
# latentfactors`` stay light); fit / from_dask_dataframe raise ImportError naming the
# extra when dask is missing
from ._engine import DistributedFitError
from ._fit import SUPPORTED, fit
from .cluster import connect, read_table
from .data import DaskInteractions, from_dask_dataframe

__all__ = [
    "SUPPORTED",
    "DaskInteractions",
    "DistributedFitError",
    "connect",
    "fit",
    "from_dask_dataframe",
    "read_table",
]
