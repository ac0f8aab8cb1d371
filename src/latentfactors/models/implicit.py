"""`ImplicitModel`: the shared data handling of implicit-feedback models, and confidences."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..data.interactions import Interactions
from ..exceptions import DataError
from .base import FactorModel

__all__ = ["ImplicitModel", "confidence"]


class ImplicitModel(FactorModel):
    """Shared data handling of implicit-feedback models.

    They learn from implicit data (play counts, clicks; 1.0 when no weight was given),
    and also from explicit ratings: as confidences (default) or, with ``threshold``,
    binarized: only ratings ``>= threshold`` count, each as one interaction.
    """

    data_kind = "any"

    def _implicit_view(self, data: Interactions) -> Interactions:
        """The interactions that count as positives, with their raw strength as values."""
        threshold = getattr(self, "threshold", None)
        if threshold is None:
            return data
        keep = data.values >= threshold
        if not keep.any():
            raise DataError(
                f"{type(self).__name__}: no interaction reaches threshold={threshold} "
                f"(values range {data.values.min():g}..{data.values.max():g})"
            )
        out = data.subset(keep)
        out.values = np.ones(len(out), dtype=np.float32)
        return out

    def _implicit_view_csr(self, csr):
        """Rows of a CSR as the model sees them (binarized when ``threshold`` is set)."""
        if self.threshold is None:
            return csr
        out = csr.copy()
        out.data = (out.data >= self.threshold).astype(np.float32)
        out.eliminate_zeros()
        return out

    def predict(self, users: Any, items: Any, *, clip: bool = False, return_mask: bool = False):
        """Preference scores (not ratings) for pairs of raw ids; 0 for unknown pairs."""
        return super().predict(users, items, clip=False, return_mask=return_mask)


#: inputs this long or longer go to the parallel kernel; shorter ones (fold-in, explain,
#: a request) stay in NumPy, which any number of threads may call at once (a parallel
#: numba kernel called from several threads aborts on numba's workqueue layer)
_PARALLEL_FROM = 1 << 20


def confidence(
    values: np.ndarray, scheme: str, alpha: float, epsilon: float, out: np.ndarray | None = None
) -> np.ndarray:
    """``1 + alpha * r`` (linear) or ``1 + alpha * log(1 + r / epsilon)`` (log), float32.

    Computed in float64 value by value and rounded to float32; from 1M values on in
    parallel with no float64 temporary (20M values take about 0.2 s on two threads),
    the same numbers either way. ``out`` (float32, the length of ``values``) may be
    ``values`` itself."""
    values = np.asarray(values)
    if out is None:
        out = np.empty(len(values), dtype=np.float32)
    elif out.dtype != np.float32 or out.shape != (len(values),):
        raise ValueError(f"out must be float32 of shape ({len(values)},), got {out.dtype} "
                         f"{out.shape}")  # fmt: skip
    log = scheme != "linear"
    if len(values) >= _PARALLEL_FROM and values.dtype in (np.float32, np.float64):
        from ..kernels.ials import confidence_into

        confidence_into(np.ascontiguousarray(values), log, float(alpha), float(epsilon), out)
        return out
    for start in range(0, len(values), _PARALLEL_FROM):  # float64 temporaries this small
        v = values[start : start + _PARALLEL_FROM].astype(np.float64)
        out[start : start + _PARALLEL_FROM] = 1.0 + alpha * (np.log1p(v / epsilon) if log else v)
    return out
