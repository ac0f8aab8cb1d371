"""Shared fixtures. Real datasets come from ../shared/data through one fixture."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
settings.register_profile("dev", deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")

ROOT = Path(__file__).resolve().parents[1]
DATA_ENV = "LATENTFACTORS_TEST_DATA"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """Folder holding ml-100k/, ml-latest-small/ and hetrec2011-lastfm-2k/.

    ``$LATENTFACTORS_TEST_DATA`` overrides the default ``<repo>/../shared/data``.
    """
    path = Path(os.environ.get(DATA_ENV, ROOT.parent / "shared" / "data"))
    if not path.is_dir():
        pytest.skip(f"real datasets not found at {path}; set {DATA_ENV} to their folder")
    return path


def _dataset(data_dir: Path, name: str) -> Path:
    path = data_dir / name
    if not path.is_dir():
        pytest.skip(f"dataset {name} not found under {data_dir}")
    return path


@pytest.fixture(scope="session")
def ml100k_path(data_dir: Path) -> Path:
    return _dataset(data_dir, "ml-100k")


@pytest.fixture(scope="session")
def ml_small_path(data_dir: Path) -> Path:
    return _dataset(data_dir, "ml-latest-small")


@pytest.fixture(scope="session")
def lastfm_path(data_dir: Path) -> Path:
    return _dataset(data_dir, "hetrec2011-lastfm-2k")


@pytest.fixture(scope="session")
def ml100k(ml100k_path: Path):
    from latentfactors.data import load_movielens

    return load_movielens(ml100k_path)


@pytest.fixture
def one_thread():
    """numba's kernels on one thread for the test (the twin tests' sequential order)."""
    import numba

    before = numba.get_num_threads()
    numba.set_num_threads(1)
    yield
    numba.set_num_threads(before)
