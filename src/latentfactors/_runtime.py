"""The one thread limiter: numba threads for our kernels, one BLAS thread meanwhile.

BLAS limits are process-wide, so concurrent users (fits in a threaded search, the
inspection tools next to a fit) share one reference-counted hold: the first in sets the
limit, the last out restores it, and no caller restores it under another one. numba's
thread count is per thread, so it is set and restored per call.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Iterator
from typing import Any

__all__ = ["limit_threads", "numba_threading_layer", "one_blas_thread"]


@functools.cache
def _blas_controller() -> Any:
    """A cached ``ThreadpoolController``: building one scans the loaded libraries
    (about 1 ms, as long as a whole small fit's epoch). The scan only sees libraries
    already loaded, so SciPy's BLAS and LAPACK (which numba's ``np.linalg`` calls in the
    ALS kernels) are loaded first, next to NumPy's."""
    import scipy.linalg.cython_blas
    import scipy.linalg.cython_lapack  # noqa: F401
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


_LOCK = threading.Lock()
_HOLD: dict[str, Any] = {"count": 0, "limiter": None}


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """Keep BLAS (NumPy's and SciPy's) on one thread inside the block (reference-counted
    across threads)."""
    with _LOCK:
        if _HOLD["count"] == 0:
            _HOLD["limiter"] = _blas_controller().limit(limits=1, user_api="blas")
        _HOLD["count"] += 1
    try:
        yield
    finally:
        with _LOCK:
            _HOLD["count"] -= 1
            if _HOLD["count"] == 0:
                _HOLD["limiter"].restore_original_limits()
                _HOLD["limiter"] = None


@contextlib.contextmanager
def limit_threads(n_threads: int | None) -> Iterator[None]:
    """Run numba kernels on ``n_threads`` threads (None: numba's default) and keep BLAS
    single-threaded meanwhile."""
    import numba

    before = numba.get_num_threads()  # numba's setting is per thread
    if n_threads is not None:
        numba.set_num_threads(min(n_threads, numba.config.NUMBA_NUM_THREADS))
    try:
        with one_blas_thread():
            yield
    finally:
        numba.set_num_threads(before)


def numba_threading_layer() -> str | None:
    """numba's threading layer ("omp", "tbb" or "workqueue"), None before its first
    parallel call has loaded one. Under "workqueue" a parallel kernel must not be entered
    from two threads at once."""
    import numba

    try:
        return numba.threading_layer()
    except ValueError:
        return None
