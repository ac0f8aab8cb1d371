"""Spark MLlib's ALS as a benchmark peer: local mode, same threads, factors back as numpy.

Only used when pyspark imports and a Java runtime is on the PATH (``setup_peers.sh``
installs pyspark when ``java`` exists). The session is local[THREADS]; data goes in as a
cached, counted Spark DataFrame before the clock starts, so fit time is ALS itself plus
Spark's job scheduling, which is part of what a Spark user pays.
"""

from __future__ import annotations

import os
import shutil
import time

import numpy as np

_SESSION = None


def available() -> bool:
    if shutil.which("java") is None:
        return False
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return False
    return True


def session(threads: int):
    global _SESSION
    if _SESSION is None:
        from pyspark.sql import SparkSession

        os.environ.setdefault("PYSPARK_PYTHON", os.sys.executable)
        _SESSION = (
            SparkSession.builder.master(f"local[{threads}]")
            .appName("latentfactors-bench")
            .config("spark.driver.memory", "6g")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.shuffle.partitions", str(threads))
            # ALS's lineage grows with every iteration; a deeper stack and checkpoints
            # (every 10 iterations, Spark's default interval) keep 20 iterations from
            # overflowing the driver's stack while serializing tasks
            .config("spark.driver.extraJavaOptions", "-Xss64m")
            .getOrCreate()
        )
        _SESSION.sparkContext.setLogLevel("ERROR")
        import tempfile

        _SESSION.sparkContext.setCheckpointDir(tempfile.mkdtemp(prefix="lf-spark-ckpt-"))
        # warm the JVM (class loading, JIT) as our warm-up fit compiles numba kernels
        import latentfactors as lf

        warm = lf.make_synthetic(2000, 500, 20_000, seed=0).interactions
        fit(warm, 8, 5, threads)
    return _SESSION


def version() -> str:
    try:
        import pyspark

        return pyspark.__version__
    except ImportError:
        return "not installed"


def fit(train, k: int, iters: int, threads: int, implicit: bool = False, reg: float = 0.1,
        alpha: float = 1.0, seed: int = 0):  # fmt: skip
    """Fit Spark ALS on ``train`` (inner ids); return (U, V, fit seconds).

    ``U`` and ``V`` are float32 arrays aligned with train's inner user and item ids (rows of
    users or items Spark never saw stay zero).
    """
    from pyspark.ml.recommendation import ALS

    spark = session(threads)
    values = train.values if train.values is not None else np.ones(len(train), np.float32)
    import tempfile

    import pyarrow as pa
    import pyarrow.parquet as pq

    tmp = tempfile.mkdtemp(prefix="lf-spark-")
    table = pa.table({"user": train.user_ids.astype(np.int32),
                      "item": train.item_ids.astype(np.int32),
                      "rating": values.astype(np.float32)})  # fmt: skip
    pq.write_table(table, f"{tmp}/train.parquet")
    frame = spark.read.parquet(f"{tmp}/train.parquet").repartition(threads).cache()
    frame.count()
    als = ALS(rank=k, maxIter=iters, regParam=reg, userCol="user", itemCol="item",
              ratingCol="rating", implicitPrefs=implicit, alpha=alpha, seed=seed,
              coldStartStrategy="nan", numUserBlocks=threads, numItemBlocks=threads)  # fmt: skip
    t = time.perf_counter()
    model = als.fit(frame)
    model.userFactors.count()  # force the lazy parts
    fit_s = time.perf_counter() - t
    U = np.zeros((train.n_users, k), np.float32)
    V = np.zeros((train.n_items, k), np.float32)
    for row in model.userFactors.collect():
        U[row.id] = row.features
    for row in model.itemFactors.collect():
        V[row.id] = row.features
    frame.unpersist()
    shutil.rmtree(tmp, ignore_errors=True)
    return U, V, fit_s


def stop() -> None:
    global _SESSION
    if _SESSION is not None:
        _SESSION.stop()
        _SESSION = None
