"""The container: a zip of ``manifest.json``, ``arrays.npz`` (stored) and ``items.json``.

Reading trusts nothing and bounds memory by what the file declares, before inflating
anything: members may not overlap or nest (each byte of the file belongs to one
member), compressed members are read through a decompressor that stops at their
declared size, every declared size is capped, and the npy headers inside the npz are
checked against their members' real sizes before any array is allocated. Writing is
atomic (temporary file, fsync, rename) and a killed save's temporary file is cleared by
the next save to the same folder.
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import io
import json
import math
import os
import secrets
import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from ..exceptions import ModelFileError

FORMAT_VERSION = 1
FORMAT = "latentfactors-model"
MANIFEST = "manifest.json"
ARRAYS = "arrays.npz"
ITEMS = "items.json"
MAX_MANIFEST_BYTES = 16 << 20
MAX_ITEMS_BYTES = 256 << 20
#: cap on the arrays of one file (uncompressed, as stored): 64 GiB
MAX_ARRAYS_BYTES = 64 << 30
ARRAY_KINDS = "biufc"  # bool, integers, floats, complex: plain bytes, nothing to unpickle
_ARRAYS = ARRAYS
_MANIFEST = MANIFEST
_ITEMS = ITEMS
_ARRAY_KINDS = ARRAY_KINDS
_LOCAL_HEADER = 30  # fixed part of a zip local file header
#: temporary files of saves older than this are debris of a killed save
_STALE_SECONDS = 600

#: numpy >= 2.1 can be told never to pickle when saving, too
NO_PICKLE = (
    {"allow_pickle": False} if "allow_pickle" in inspect.signature(np.savez).parameters else {}
)


def sha256(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


_sha256 = sha256


def _clear_stale(folder: Path, target: Path) -> None:
    """Remove temporary files that a killed save of ``target`` left behind."""
    now = time.time()
    for tmp in folder.glob(f".{target.name}.*.tmp"):
        with contextlib.suppress(OSError):
            if now - tmp.stat().st_mtime > _STALE_SECONDS:
                tmp.unlink()


def write_atomic(target: Path, members: list[tuple[str, Any, int]]) -> None:
    """Write a zip of ``members`` to a temporary file next to ``target``, fsync, rename."""
    folder = target.parent
    if not folder.is_dir():
        raise FileNotFoundError(f"cannot save to {str(target)!r}: no folder {str(folder)!r}")
    if target.is_dir():
        raise IsADirectoryError(f"cannot save to {str(target)!r}: it is a folder; name a file")
    _clear_stale(folder, target)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        tmp = folder / f".{target.name}.{secrets.token_hex(8)}.tmp"
        try:
            fd = os.open(tmp, flags, 0o666)  # the umask applies, as for any new file
            break
        except FileExistsError:  # pragma: no cover - 64 random bits
            continue
        except OSError as exc:
            if exc.errno is None:
                raise
            raise OSError(exc.errno, f"cannot save to {str(target)!r}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            with zipfile.ZipFile(fh, "w") as zf:
                for name, data, compression in members:
                    info = zipfile.ZipInfo(name)  # fixed timestamp: same model, same bytes
                    info.compress_type = compression
                    info.external_attr = 0o644 << 16
                    zf.writestr(info, data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and exc.errno is not None:
            raise OSError(exc.errno, f"cannot save to {str(target)!r}: {exc.strerror}") from None
        raise
    with contextlib.suppress(OSError, AttributeError):  # make the rename durable (POSIX)
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def check_layout(infos: list[zipfile.ZipInfo], end: int, name: str, what: str) -> None:
    """Members must not overlap or nest: every member's data lies before the next one's
    header, and the last before ``end`` (the start of the central directory)."""
    ordered = sorted(infos, key=lambda i: i.header_offset)
    for a, b in zip(ordered, [*ordered[1:], None]):
        stop = a.header_offset + _LOCAL_HEADER + len(a.filename.encode()) + a.compress_size
        limit = end if b is None else b.header_offset
        if a.header_offset < 0 or stop > limit:
            raise ModelFileError(
                f"{name}: {what} members overlap or nest ({a.filename!r}); a model file's "
                "members never share bytes (forged or damaged file)"
            )


def members(zf: zipfile.ZipFile, name: str) -> dict[str, zipfile.ZipInfo]:
    infos: dict[str, zipfile.ZipInfo] = {}
    for info in zf.infolist():
        if info.filename in infos:
            raise ModelFileError(f"{name}: the zip holds {info.filename!r} twice")
        infos[info.filename] = info
    check_layout(list(infos.values()), zf.start_dir, name, "zip")
    return infos


def read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, name: str, limit: int) -> bytes:
    """The member's bytes, never inflating more than ``min(declared size, limit)``."""
    if info.file_size > limit:
        raise ModelFileError(
            f"{name}: {info.filename} declares {info.file_size} bytes, more than the "
            f"{limit} allowed"
        )
    try:
        with zf.open(info) as fp:
            data = fp.read(info.file_size + 1)
    except ModelFileError:
        raise
    except Exception as exc:  # bad CRC, cut short, unknown compression, encrypted ...
        raise ModelFileError(f"{name}: {info.filename} is corrupted or truncated ({exc})") from None
    if len(data) != info.file_size:
        raise ModelFileError(
            f"{name}: {info.filename} inflates to more or fewer bytes than it declares "
            "(forged or damaged)"
        )
    return data


def read_manifest(zf: zipfile.ZipFile, infos: dict[str, zipfile.ZipInfo], name: str) -> Any:
    info = infos.get(_MANIFEST)
    if info is None:
        raise ModelFileError(f"{name} is not a latentfactors model file (no {_MANIFEST})")
    raw = read_member(zf, info, name, MAX_MANIFEST_BYTES)
    try:
        return json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise ModelFileError(f"{name}: {_MANIFEST} is not valid JSON ({exc})") from None


def read_arrays(
    zf: zipfile.ZipFile, infos: dict[str, zipfile.ZipInfo], declared: dict[str, Any], name: str
) -> dict[str, np.ndarray]:
    info = infos.get(_ARRAYS)
    if info is None:
        raise ModelFileError(f"{name}: {_ARRAYS} is missing")
    if info.compress_type != zipfile.ZIP_STORED:
        raise ModelFileError(f"{name}: {_ARRAYS} must be stored uncompressed in the zip")
    raw = read_member(zf, info, name, MAX_ARRAYS_BYTES)
    try:
        return _parse_npz(raw, declared, name)
    except ModelFileError:
        raise
    except Exception as exc:  # bad CRC or header inside the npz, cut short ...
        raise ModelFileError(
            f"{name}: {_ARRAYS} is damaged ({type(exc).__name__}: {exc})"
        ) from None


def _parse_npz(raw: bytes, declared: dict[str, Any], name: str) -> dict[str, np.ndarray]:
    buffer = io.BytesIO(raw)
    try:
        inner = zipfile.ZipFile(buffer)
    except zipfile.BadZipFile:
        raise ModelFileError(f"{name}: {_ARRAYS} is not an npz archive") from None
    with inner:
        check_layout(inner.infolist(), inner.start_dir, name, _ARRAYS)
        headers = _npy_headers(inner, name)
    for key in declared:
        if key not in headers:
            raise ModelFileError(f"{name}: array {key!r} is missing from {_ARRAYS}")
    for key in headers:
        if key not in declared:
            raise ModelFileError(f"{name}: {_ARRAYS} holds undeclared array {key!r}")
    arrays: dict[str, np.ndarray] = {}
    buffer.seek(0)
    with np.load(buffer, allow_pickle=False) as npz:
        for key, meta in declared.items():
            shape, dtype = headers[key]
            if list(shape) != meta["shape"] or dtype.str != meta["dtype"]:
                raise ModelFileError(
                    f"{name}: array {key!r} is {dtype.str}{list(shape)} but the manifest says "
                    f"{meta['dtype']}{meta['shape']}"
                )
            a = npz[key]
            if a.dtype.hasobject:  # pragma: no cover - refused by the header check already
                raise ModelFileError(f"{name}: array {key!r} holds Python objects")
            if list(a.shape) != meta["shape"] or a.dtype.str != meta["dtype"]:
                raise ModelFileError(f"{name}: array {key!r} does not match its header")
            if _sha256(a) != meta["sha256"]:
                raise ModelFileError(
                    f"{name}: sha256 checksum mismatch in array {key!r}: the file was "
                    "modified or corrupted (tampered?)"
                )
            arrays[key] = a if a.flags.writeable else a.copy()
    return arrays


def _npy_headers(inner: zipfile.ZipFile, name: str) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """Shape and dtype of every ``.npy`` member, checked against the member's real size
    before anything is allocated (so a forged header cannot ask for terabytes)."""
    readers = {
        (1, 0): np.lib.format.read_array_header_1_0,
        (2, 0): np.lib.format.read_array_header_2_0,
    }
    out: dict[str, tuple[tuple[int, ...], np.dtype]] = {}
    for info in inner.infolist():
        if not info.filename.endswith(".npy"):
            raise ModelFileError(f"{name}: {_ARRAYS} holds a foreign member {info.filename!r}")
        key = info.filename[: -len(".npy")]
        if key in out:
            raise ModelFileError(f"{name}: {_ARRAYS} holds array {key!r} twice")
        if info.compress_type != zipfile.ZIP_STORED or info.file_size != info.compress_size:
            raise ModelFileError(f"{name}: array {key!r} must be stored uncompressed")
        with inner.open(info) as fp:
            version = np.lib.format.read_magic(fp)
            reader = readers.get(version)
            if reader is None:
                raise ModelFileError(f"{name}: array {key!r} has npy format {version}")
            shape, _fortran, dtype = reader(fp)
            header_end = fp.tell()
        if dtype.hasobject:
            raise ModelFileError(
                f"{name}: array {key!r} holds Python objects (pickled data), which model "
                "files never load"
            )
        if dtype.kind not in _ARRAY_KINDS + "U":
            raise ModelFileError(f"{name}: array {key!r} has unsupported dtype {dtype}")
        count = math.prod(shape)
        if dtype.itemsize == 0 and count:
            raise ModelFileError(f"{name}: array {key!r} has zero-width elements")
        nbytes = count * dtype.itemsize
        if header_end + nbytes != info.file_size:
            raise ModelFileError(
                f"{name}: array {key!r} declares {nbytes} bytes of data but its member holds "
                f"{info.file_size - header_end} (truncated or forged)"
            )
        out[key] = (shape, dtype)
    return out


def read_items_bytes(
    zf: zipfile.ZipFile, infos: dict[str, zipfile.ZipInfo], meta: Any, name: str
) -> bytes | None:
    if meta is None:
        return None
    info = infos.get(_ITEMS)
    if info is None:
        raise ModelFileError(f"{name}: {_ITEMS} is missing")
    return read_member(zf, info, name, MAX_ITEMS_BYTES)
