"""Item metadata stored next to a model: JSON records, dtypes kept exactly."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

import numpy as np

from ..exceptions import InvalidParameterError, ModelFileError
from ._format import ITEMS, MANIFEST

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

_ITEMS = ITEMS
_MANIFEST = MANIFEST
_DATETIME = re.compile(r"datetime64\[(s|ms|us|ns)(, [A-Za-z0-9_/+:-]+)?\]")
#: item-metadata column dtypes that survive a trip through JSON exactly
_META_DTYPES = frozenset(
    ["object", "str", "string", "bool", "boolean", "float32", "float64", "Float32", "Float64"]
    + [f"{p}{b}" for p in ("int", "uint", "Int", "UInt") for b in (8, 16, 32, 64)]
)


def encode_items(items: Any) -> tuple[bytes, dict[str, Any]]:
    """Item metadata as JSON records (index first) and its description for the manifest."""
    import pandas as pd

    if not isinstance(items, pd.DataFrame):
        raise InvalidParameterError(
            f"items must be a pandas DataFrame of item metadata, got {type(items).__name__}"
        )
    columns = list(items.columns)
    index_names = list(items.index.names)
    if not all(isinstance(c, str) for c in columns) or not all(
        n is None or isinstance(n, str) for n in index_names
    ):
        raise InvalidParameterError("item metadata column and index names must be strings")
    if len(set(columns)) != len(columns):
        raise InvalidParameterError("item metadata has duplicate column names")
    index_columns = [f"__index_level_{k}__" for k in range(len(index_names))]
    if set(index_columns) & set(columns):
        raise InvalidParameterError(f"item metadata columns may not be named {index_columns}")
    flat = items.reset_index(names=index_columns)
    dtypes = {}
    for col in flat.columns:
        dtype = str(flat[col].dtype)
        if dtype not in _META_DTYPES and not _DATETIME.fullmatch(dtype):
            raise InvalidParameterError(
                f"item metadata column {col!r} has dtype {dtype}, which cannot be stored "
                "exactly; convert it (to str, numbers or lists) first"
            )
        dtypes[col] = dtype
    records = flat.to_dict(orient="records")
    try:
        text = json.dumps(records, default=_json_cell, ensure_ascii=False, allow_nan=True)
    except (TypeError, ValueError) as exc:
        raise InvalidParameterError(f"item metadata cannot be stored as JSON: {exc}") from None
    meta = {
        "member": _ITEMS,
        "index_columns": index_columns,
        "index_names": index_names,
        "columns": columns,
        "dtypes": dtypes,
    }
    return text.encode("utf-8"), meta


def _json_cell(o: Any) -> Any:
    import datetime

    import pandas as pd

    if o is pd.NA or o is pd.NaT:
        return None
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (datetime.datetime, datetime.date)):
        return o.isoformat()
    raise TypeError(f"a value of type {type(o).__name__} is not JSON")


def decode_items(raw: bytes, meta: dict[str, Any], name: str) -> pd.DataFrame:
    import pandas as pd

    index_columns, index_names = meta.get("index_columns"), meta.get("index_names")
    columns, dtypes = meta.get("columns"), meta.get("dtypes")
    if not (
        isinstance(index_columns, list)
        and isinstance(index_names, list)
        and isinstance(columns, list)
        and isinstance(dtypes, dict)
        and len(index_columns) == len(index_names) >= 1
        and all(isinstance(c, str) for c in index_columns + columns)
        and all(n is None or isinstance(n, str) for n in index_names)
        and set(dtypes) == set(index_columns + columns)
        and len(set(index_columns + columns)) == len(index_columns) + len(columns)
    ):
        raise ModelFileError(f"{name}: {_MANIFEST} describes the item metadata badly")
    try:
        records = json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise ModelFileError(f"{name}: {_ITEMS} is not valid JSON ({exc})") from None
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise ModelFileError(f"{name}: {_ITEMS} is not a list of records")
    frame = {}
    for col in index_columns + columns:
        values = pd.Series([r.get(col) for r in records], dtype=object)
        dtype = dtypes[col]
        if not isinstance(dtype, str):
            raise ModelFileError(f"{name}: bad dtype for item metadata column {col!r}")
        if _DATETIME.fullmatch(dtype):
            values = pd.to_datetime(values).astype(dtype)
        elif dtype in _META_DTYPES:
            values = values.astype(dtype)
        else:
            raise ModelFileError(f"{name}: unsupported dtype {dtype!r} in the item metadata")
        frame[col] = values
    out = pd.DataFrame(frame, columns=index_columns + columns)
    out = out.set_index(index_columns)
    out.index.names = index_names
    return out
