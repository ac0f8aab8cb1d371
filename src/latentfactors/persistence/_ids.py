"""Raw ids as pickle-free arrays, restored exactly.

Encodings: ``native`` (a numeric NumPy array, stored as it is); ``utf8`` (ids that are
Python objects: strings, integers of any size, or a mix of the two, as one UTF-8 byte
array with offsets, plus a kind per id when they mix), which keeps each id as given and
costs what the ids weigh (a fixed-width string array would pad every id to the longest);
``str`` and ``int`` are read for files written before ``utf8`` existed.
"""

from __future__ import annotations

import numpy as np

from ..exceptions import ModelFileError

__all__ = ["ID_ENCODINGS", "decode_ids", "encode_ids", "id_array_keys"]

ID_ENCODINGS = ("native", "str", "int", "utf8")
_STR, _INT = 0, 1


def id_array_keys(what: str, encoding: str) -> tuple[str, ...]:
    """Array names holding the ``users`` / ``items`` ids in a file."""
    base = f"{what}.ids"
    if encoding == "utf8":
        return (base, f"{what}.offsets", f"{what}.kinds")
    return (base,)


def encode_ids(raw: np.ndarray, what: str) -> tuple[dict[str, np.ndarray], str]:
    """Raw ids as arrays to store (keyed by name) and their encoding."""
    raw = np.asarray(raw)
    key = f"{what}s.ids"
    if not raw.dtype.hasobject:
        if raw.dtype.kind not in "biuf":
            raise ModelFileError(f"cannot save {what} ids of dtype {raw.dtype}")
        return {key: raw}, "native"
    values = raw.tolist()
    kinds = np.empty(len(values), dtype=np.uint8)
    parts: list[bytes] = []
    for n, v in enumerate(values):
        if isinstance(v, str):
            kinds[n] = _STR
            try:
                parts.append(v.encode("utf-8"))
            except UnicodeEncodeError:
                raise ModelFileError(
                    f"cannot save {what} id {v!r}: it is not valid Unicode (lone surrogate)"
                ) from None
        elif isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)):
            kinds[n] = _INT
            try:
                parts.append(str(int(v)).encode("ascii"))
            except ValueError:  # more digits than Python converts to text
                raise ModelFileError(
                    f"cannot save {what} id {str(v)[:20]}...: an integer id of more than "
                    "4300 digits; use a string id"
                ) from None
        else:
            raise ModelFileError(
                f"cannot save {what} id {v!r} of type {type(v).__name__}: ids must be "
                "strings or integers to be stored safely"
            )
    offsets = np.zeros(len(values) + 1, dtype=np.int64)
    np.cumsum([len(p) for p in parts], out=offsets[1:])
    data = np.frombuffer(b"".join(parts), dtype=np.uint8).copy()
    return {key: data, f"{what}s.offsets": offsets, f"{what}s.kinds": kinds}, "utf8"


def decode_ids(arrays: dict[str, np.ndarray], what: str, encoding: str, name: str) -> np.ndarray:
    """The raw ids stored by :func:`encode_ids` (or an older ``str`` / ``int`` file)."""
    ids = arrays.pop(f"{what}.ids")
    if encoding in ("native", "str", "int"):
        expected = {"native": "biuf", "str": "U", "int": "i"}[encoding]
        if ids.ndim != 1 or ids.dtype.kind not in expected:
            raise ModelFileError(f"{name}: {what} ids are not a 1-d array of the declared kind")
        if encoding == "str":
            return ids.astype(object)
        if encoding == "int":
            return np.array([int(v) for v in ids.tolist()], dtype=object)
        return ids
    offsets = arrays.pop(f"{what}.offsets")
    kinds = arrays.pop(f"{what}.kinds")
    n = len(kinds)
    if offsets.ndim == 1 and offsets.dtype.kind in "iu":
        if len(offsets) and (int(offsets.max()) >= 2**62 or int(offsets.min()) < 0):
            raise ModelFileError(f"{name}: the {what} ids are not a valid utf8 id array")
        offsets = offsets.astype(np.int64)
    if not (
        ids.ndim == 1 and ids.dtype == np.uint8
        and offsets.ndim == 1 and offsets.dtype.kind in "iu" and len(offsets) == n + 1
        and kinds.ndim == 1 and kinds.dtype == np.uint8
        and (n == 0 or (offsets[0] == 0 and offsets[-1] == len(ids)))
        and bool(np.all(np.diff(offsets) >= 0))
        and bool(np.all(kinds <= _INT))
    ):  # fmt: skip
        raise ModelFileError(f"{name}: the {what} ids are not a valid utf8 id array")
    blob = ids.tobytes()
    out = np.empty(n, dtype=object)
    bounds = offsets.tolist()
    try:
        for j in range(n):
            text = blob[bounds[j] : bounds[j + 1]].decode("utf-8")
            if kinds[j] == _INT:
                digits = text[1:] if text[:1] == "-" else text
                if not (digits.isascii() and digits.isdigit()):
                    raise ValueError(f"not an integer: {text[:40]!r}")
                out[j] = int(text)
            else:
                out[j] = text
    except (UnicodeDecodeError, ValueError) as exc:
        raise ModelFileError(f"{name}: the {what} ids are damaged ({exc})") from None
    return out
