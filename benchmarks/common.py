"""Shared helpers of the benchmark scripts: data, splits, timing, machine description."""

from __future__ import annotations

import os
import platform
import resource
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = Path(os.environ.get("LATENTFACTORS_TEST_DATA", ROOT.parent / "shared" / "data"))
RESULTS = HERE / "results"


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{platform.machine()}, {cpu}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, {platform.system()} {platform.release()}"
    )


def versions(*modules: str) -> str:
    out = []
    for name in modules:
        try:
            mod = __import__(name)
            out.append(f"{name} {getattr(mod, '__version__', '?')}")
        except ImportError:
            out.append(f"{name} (not installed)")
    return ", ".join(out)


@contextmanager
def timer(store: dict, key: str = "seconds"):
    t = time.perf_counter()
    yield
    store[key] = time.perf_counter() - t


def peak_rss_mb() -> float:
    # VmHWM: this process's own high-water mark. ru_maxrss is inherited across
    # fork + exec, so a child started by a parent holding the data reported the parent's
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class RSSSampler:
    """Peak resident memory above the starting level while a block runs, sampled.

    A thread reads ``/proc/self/statm`` every ``interval`` seconds (it gets the GIL
    whenever the measured code releases it or runs Python), so short-lived peaks inside
    one long C call can be missed: read the number as "at least". Use as::

        with RSSSampler() as mem:
            fit()
        mem.peak_growth_mb
    """

    def __init__(self, interval: float = 0.02) -> None:
        self.interval = interval
        self.peak_growth_mb = 0.0

    @staticmethod
    def rss_mb() -> float:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 1e6

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._peak = max(self._peak, self.rss_mb())

    def __enter__(self) -> RSSSampler:
        import threading

        self._start = self._peak = self.rss_mb()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._peak = max(self._peak, self.rss_mb())
        self.peak_growth_mb = self._peak - self._start


def timed_fit(make, fit, repeats: int = 3, threshold: float = 1.0):
    """Fit fresh models, timing each; repeat (up to ``repeats`` fits) while a fit takes
    under ``threshold`` seconds, and keep the fastest, the same rule for every library
    (sub-second timings are noisy, and the minimum is the least disturbed by the machine).

    Returns ``(model, seconds, peak RSS growth MB of the first fit)``.
    """
    best, growth, model = float("inf"), 0.0, None
    for rep in range(repeats):
        model = make()
        with RSSSampler() as mem:
            t = time.perf_counter()
            fit(model)
            seconds = time.perf_counter() - t
        if rep == 0:
            growth = mem.peak_growth_mb
        best = min(best, seconds)
        if seconds >= threshold:
            break
    return model, best, growth


def best_of(fn, repeats: int, warmup: bool = True) -> float:
    """Best wall time of ``repeats`` calls of ``fn``, after one untimed call (compile and
    cache warm-up) unless ``warmup=False``."""
    if warmup:
        fn()
    out = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        out = min(out, time.perf_counter() - t)
    return out


def dataset(name: str):
    """(Interactions, item table) of ml-100k, ml-latest-small or lastfm."""
    import latentfactors as lf

    if name == "lastfm":
        return lf.load_lastfm(DATA / "hetrec2011-lastfm-2k")
    return lf.load_movielens(DATA / name)


def split(data, seed: int = 0):
    import latentfactors as lf

    return lf.random_split(data, 0.2, seed=seed)


def test_csr(train, test):
    """Held-out items per training user, as a CSR aligned with train's inner ids."""
    import scipy.sparse as sp

    mat = sp.csr_matrix(
        (np.ones(len(test), dtype=np.float32), (test.user_ids, test.item_ids)),
        shape=train.shape,
    )
    mat.sort_indices()
    return mat


def ranking(top: np.ndarray, test_mat, k: int = 10) -> dict:
    """Our metric definitions applied to any library's top-k lists (inner ids)."""
    from latentfactors.evaluation.metrics import ranking_from_lists

    rows = np.flatnonzero(np.diff(test_mat.indptr) > 0)
    sub = test_mat[rows]
    return ranking_from_lists(np.asarray(top)[rows], sub.indptr, sub.indices, k)


def write_results(name: str, text: str) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.md"
    path.write_text(text)
    return path


def write_json(name: str, payload: object) -> Path:
    """Machine-readable twin of a results page (``make_results.py`` plots from these)."""
    import json

    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    meta = {
        "machine": machine(),
        "commit": git_rev(),
        "command": command_line(),
        "date": time.strftime("%Y-%m-%d"),
        "versions": versions(
            "latentfactors",
            "surprise",
            "cornac",
            "implicit",
            "lightfm",
            "pyspark",
            "numpy",
            "numba",
        ),
    }
    body = {"meta": meta, **payload} if isinstance(payload, dict) else payload
    path.write_text(json.dumps(body, indent=1, default=float) + "\n")
    return path


def command_line() -> str:
    script = Path(sys.argv[0]).resolve().relative_to(ROOT).as_posix()
    return "python " + " ".join([script, *sys.argv[1:]])


def git_rev() -> str:
    """The short commit, marked when the library or the benchmarks had uncommitted changes
    (the page then records the commit that adds it, not the code it measured)."""
    rev = subprocess.getoutput(f"git -C {ROOT} rev-parse --short HEAD")
    dirty = subprocess.getoutput(f"git -C {ROOT} status --porcelain -- src benchmarks/*.py")
    return f"{rev} with uncommitted changes" if dirty.strip() else rev
