"""Column helpers shared by ``Interactions`` and the readers (no imports of either)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..exceptions import DataError

__all__ = ["arrow_to_numpy", "check_columns", "rows_text", "wanted"]


def rows_text(rows: np.ndarray, limit: int = 5) -> str:
    shown = ", ".join(str(int(r)) for r in rows[:limit])
    return shown + (", ..." if len(rows) > limit else "")


def wanted(*names: str | None) -> list[str]:
    out: list[str] = []
    for n in names:
        if n is not None and n not in out:
            out.append(n)
    return out


def check_columns(wanted: list[str], found: list[Any], where: str) -> None:
    missing = [c for c in wanted if c not in found]
    if missing:
        raise DataError(
            f"column(s) {', '.join(map(repr, missing))} not found in {where}; "
            f"columns found: {', '.join(map(repr, found))}. Name the right columns with "
            "user=, item=, rating=, timestamp=, weight="
        )


def arrow_to_numpy(col: Any) -> np.ndarray:
    import pyarrow as pa
    import pyarrow.compute as pc

    if col.null_count and pa.types.is_integer(col.type):
        col = pc.cast(col, pa.float64())
    if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
        return np.asarray(col.to_pandas(), dtype=object)
    return col.to_numpy()
