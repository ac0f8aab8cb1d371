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


def session(threads: int, driver_memory: str = "6g"):
    """The local[threads] session (one per process: ``driver_memory`` only applies to
    the first call, which starts the JVM; in local mode the driver does all the work,
    so at 100M ratings give it 12g)."""
    global _SESSION
    if _SESSION is None:
        from pyspark.sql import SparkSession

        os.environ.setdefault("PYSPARK_PYTHON", os.sys.executable)
        _SESSION = (
            SparkSession.builder.master(f"local[{threads}]")
            .appName("latentfactors-bench")
            .config("spark.driver.memory", driver_memory)
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


def read_folder(path, threads: int):
    """A Parquet folder (columns user, item, rating) as a cached, counted DataFrame."""
    frame = session(threads).read.parquet(str(path)).repartition(threads).cache()
    frame.count()
    return frame


def fit_frame(frame, k: int, iters: int, threads: int, implicit: bool = False,
              reg: float = 0.1, alpha: float = 1.0, seed: int = 0) -> float:  # fmt: skip
    """Seconds to fit Spark ALS on a cached DataFrame (factors not collected)."""
    from pyspark.ml.recommendation import ALS

    als = ALS(rank=k, maxIter=iters, regParam=reg, userCol="user", itemCol="item",
              ratingCol="rating", implicitPrefs=implicit, alpha=alpha, seed=seed,
              coldStartStrategy="nan", numUserBlocks=threads, numItemBlocks=threads)  # fmt: skip
    t = time.perf_counter()
    model = als.fit(frame)
    model.userFactors.count()  # force the lazy parts
    return time.perf_counter() - t


def jvm_peak_rss_mb() -> float | None:
    """Peak RSS (VmHWM, Linux) of the largest process under this one: Spark's JVM."""
    me = os.getpid()
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    parents[int(entry)] = int(fh.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    mine, frontier = set(), {me}
    while frontier:  # bounded: each pid joins once
        frontier = {p for p, pp in parents.items() if pp in frontier and p not in mine}
        mine |= frontier
    peak = None
    for pid in mine:
        try:
            with open(f"/proc/{pid}/status") as fh:
                for line in fh:
                    if line.startswith("VmHWM:"):
                        kb = float(line.split()[1])
                        peak = kb / 1024 if peak is None else max(peak, kb / 1024)
        except OSError:
            continue
    return peak


def stop() -> None:
    global _SESSION
    if _SESSION is not None:
        _SESSION.stop()
        _SESSION = None
