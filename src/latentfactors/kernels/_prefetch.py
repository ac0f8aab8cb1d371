"""Software prefetch for numba kernels: ``llvm.prefetch`` on an array element.

SGD visits ratings in random order, so on large data every update waits on two factor
rows (and two biases) from memory. Asking for the rows of the update a few positions
ahead lets those loads overlap with the current update's arithmetic; the result does not
change (a prefetch is only a hint). On cache-resident data it costs a few instructions per
update for nothing, so callers enable it by size (:func:`prefetch_distance`).
"""

from __future__ import annotations

import numba
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

__all__ = ["AHEAD", "prefetch_at", "prefetch_distance", "prefetch_row"]

#: updates ahead whose rows are requested (measured: 8 to 32 do about equally well)
AHEAD = 16
#: factor rows (bytes, both sides) above which prefetching pays: beyond one core's L2
#: and a share of the L3, where a row miss costs far more than the prefetch instructions
PREFETCH_BYTES = 8 * 2**20


def prefetch_distance(*arrays) -> int:
    """How far ahead to prefetch for these factor arrays: 0 (off) when they fit in cache."""
    return AHEAD if sum(a.nbytes for a in arrays) > PREFETCH_BYTES else 0


def _codegen(context, builder, signature, args):
    ary, *index = args
    aryty = signature.args[0]
    arr = context.make_array(aryty)(context, builder, ary)
    ptr = cgutils.get_item_pointer(context, builder, aryty, arr, index)
    i8p = ir.IntType(8).as_pointer()
    i32 = ir.IntType(32)
    fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
    # named by llvmlite for its pointer mode ("llvm.prefetch.p0" with opaque pointers,
    # "llvm.prefetch.p0i8" with typed ones), so older numba / LLVM versions work too
    fn = builder.module.declare_intrinsic("llvm.prefetch", [i8p], fnty)
    # rw = 1 (the row will be written), locality = 3 (keep in all levels), data cache
    builder.call(fn, [builder.bitcast(ptr, i8p), ir.Constant(i32, 1), ir.Constant(i32, 3),
                      ir.Constant(i32, 1)])  # fmt: skip
    return context.get_dummy_value()


@intrinsic
def _prefetch_1d(typingctx, arr, i):
    return types.void(arr, types.intp), _codegen


@intrinsic
def _prefetch_2d(typingctx, arr, r, c):
    return types.void(arr, types.intp, types.intp), _codegen


@numba.njit(inline="always", nogil=True)
def prefetch_at(arr, i):
    """Prefetch the cache line holding ``arr[i]`` (1-D)."""
    _prefetch_1d(arr, i)


@numba.njit(inline="always", nogil=True)
def prefetch_row(arr, r):
    """Prefetch every cache line of row ``r`` of a C-contiguous 2-D float32 array: one
    address per 16 floats, and the row's last element (a row need not start on a line
    boundary, so it may touch one line more than ``k / 16``)."""
    k = arr.shape[1]
    for c in range(0, k, 16):
        _prefetch_2d(arr, r, c)
    if k > 0:
        _prefetch_2d(arr, r, k - 1)
