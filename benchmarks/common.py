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
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


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


def command_line() -> str:
    script = Path(sys.argv[0]).resolve().relative_to(ROOT).as_posix()
    return "python " + " ".join([script, *sys.argv[1:]])


def git_rev() -> str:
    return subprocess.getoutput(f"git -C {ROOT} rev-parse --short HEAD")
