"""A tiny counter-based random generator for reproducible parallel kernels.

``random_u64(key, t) = splitmix64(key + t)``: the t-th number of stream ``key``. Each
block of work derives its own key from (seed, epoch, block), so the numbers a block
draws do not depend on which thread runs it, or when.
"""

from __future__ import annotations

import numba
import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)


@numba.njit(cache=True, inline="always")
def splitmix64(x: np.uint64) -> np.uint64:
    z = x + _GOLDEN
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@numba.njit(cache=True, inline="always")
def block_key(seed: np.uint64, epoch: np.int64, block: np.int64, n_blocks: np.int64) -> np.uint64:
    """The stream key of one block in one epoch."""
    return splitmix64(seed ^ splitmix64(np.uint64(epoch * n_blocks + block)))


@numba.njit(cache=True, inline="always")
def random_below(key: np.uint64, t: np.int64, n: np.int64) -> np.int64:
    """The t-th draw of stream ``key``, reduced to ``[0, n)``."""
    return np.int64(splitmix64(key + np.uint64(t)) % np.uint64(n))
