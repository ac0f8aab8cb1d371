"""Safe model files: one zip with ``manifest.json`` and ``arrays.npz``; no pickle anywhere.

A model file is a zip archive holding

``manifest.json``
    The format version, the library version, the model class (a name looked up in a
    fixed registry, never a module path or code), the hyperparameters, the fitted
    scalars (``global_mean_``, ``rating_scale_``, ``random_state_``, ``history_`` ...),
    how the id vocabularies are encoded, and, for every array, its shape, dtype and
    the sha256 of its bytes.
``arrays.npz``
    Every fitted array (``user_factors_``, ``item_factors_``, biases, SVD++'s
    ``implicit_factors_`` ...), the interaction matrix ``user_items_`` as its three CSR
    arrays and the raw user and item ids; written with :func:`numpy.savez` (stored
    uncompressed) and read with ``np.load(allow_pickle=False)``.
``items.json`` (optional)
    Item metadata (title, year, genres ...), as JSON records.

Loading trusts nothing in the file: the npy headers are checked against the sizes of
the members before anything is allocated, every array against the manifest and its
checksum, and the arrays against each other (factor shapes against the vocabularies,
the CSR structure in full), so that a truncated, corrupted, tampered or foreign file
raises :class:`~latentfactors.exceptions.ModelFileError` with the reason, never
another exception, a crash or code execution.

Writes are atomic: the file is written under a temporary name in the target folder,
flushed to disk, then renamed over the target; on failure the target is untouched.

Examples
--------
>>> import pathlib, tempfile
>>> import latentfactors as lf
>>> data = lf.make_synthetic(60, 40, 600, seed=0).interactions
>>> model = lf.SVD(n_factors=4, n_epochs=3, random_state=0).fit(data)
>>> path = model.save(pathlib.Path(tempfile.mkdtemp()) / "svd.lfm")
>>> again = lf.load(path)
>>> bool((again.predict([0, 1], [2, 3]) == model.predict([0, 1], [2, 3])).all())
True
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import inspect
import io
import json
import math
import os
import re
import secrets
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ._version import __version__
from .exceptions import InvalidParameterError, LatentFactorsError, ModelFileError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from .models.base import FactorModel

__all__ = ["FORMAT_VERSION", "load", "save"]

#: version of the file layout written by :func:`save`; :func:`load` reads this one and older
FORMAT_VERSION = 1
_FORMAT = "latentfactors-model"

#: the only classes a model file can name: class name -> module that defines it. Modules are
#: imported only when a file needs them, so one that is missing breaks no other class.
_REGISTRY: dict[str, str] = {
    "ALS": "latentfactors.models.als",
    "BPR": "latentfactors.models.bpr",
    "Baseline": "latentfactors.models.baseline",
    "ImplicitALS": "latentfactors.models.implicit_als",
    "NMF": "latentfactors.models.nmf",
    "Popularity": "latentfactors.models.popularity",
    "SVD": "latentfactors.models.svd",
    "SVDpp": "latentfactors.models.svdpp",
    "TruncatedSVD": "latentfactors.models.truncated_svd",
}

_MANIFEST = "manifest.json"
_ARRAYS = "arrays.npz"
_ITEMS = "items.json"
_MAX_MANIFEST_BYTES = 16 << 20
_MAX_ITEMS_BYTES = 1 << 30
_USER_VECTORS = "_user_vectors"
_CSR = ("user_items.indptr", "user_items.indices", "user_items.data")
_IDS = {"users": "users.ids", "items": "items.ids"}
#: attributes stored in their own way, never as generic arrays or scalars
_RESERVED = frozenset({"users_", "items_", "user_items_", "item_metadata_"})
_CORE_ARRAYS = ("user_factors_", "item_factors_", "user_bias_", "item_bias_")
_CORE_SCALARS = ("global_mean_", "intercept_", "rating_scale_")
#: arrays a class cannot work without, beyond the core ones
_CLASS_ARRAYS = {"SVDpp": ("implicit_factors_",), "TruncatedSVD": ("singular_values_",)}
_ARRAY_KINDS = "biufc"  # bool, integers, floats, complex: plain bytes, nothing to unpickle
_MANIFEST_KEYS = (
    "format_version", "library_version", "model_class", "params", "attributes",
    "tuple_attributes", "scalar_arrays", "vocabularies", "user_items", "item_metadata",
    "arrays",
)  # fmt: skip
_ID_ENCODINGS = ("native", "str", "int")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_DATETIME = re.compile(r"datetime64\[(s|ms|us|ns)(, [A-Za-z0-9_/+:-]+)?\]")
#: item-metadata column dtypes that survive a trip through JSON exactly
_META_DTYPES = frozenset(
    ["object", "str", "string", "bool", "boolean", "float32", "float64", "Float32", "Float64"]
    + [f"{p}{b}" for p in ("int", "uint", "Int", "UInt") for b in (8, 16, 32, 64)]
)


#: numpy >= 2.1 can be told never to pickle when saving, too
_NO_PICKLE = (
    {"allow_pickle": False} if "allow_pickle" in inspect.signature(np.savez).parameters else {}
)


# ---------------------------------------------------------------------- registry
def _registry() -> dict[str, type]:
    """The registered model classes that can be imported here: name -> class."""
    out = {}
    for name in _REGISTRY:
        with contextlib.suppress(ImportError, AttributeError):
            out[name] = _model_class(name)
    return out


def _model_class(name: str) -> type:
    """The registered class called ``name`` (imports its module on first use)."""
    return getattr(importlib.import_module(_REGISTRY[name]), name)


def _known() -> str:
    return ", ".join(sorted(_REGISTRY))


# ---------------------------------------------------------------------- saving
def save(
    model: FactorModel, path: str | os.PathLike[str], *, items: pd.DataFrame | None = None
) -> Path:
    """Write a fitted model to ``path`` as a safe model file (no pickle).

    The file is a zip holding ``manifest.json`` and ``arrays.npz`` (see the module
    docstring); ``.lfm`` is a good suffix. It is written to a temporary file in the same
    folder, flushed to disk, then renamed onto ``path``, so ``path`` always holds either
    the old file or the complete new one. Users folded in with ``fold_in`` are saved
    with the model.

    Parameters
    ----------
    model : FactorModel
        A fitted model of one of the library's classes (``SVD``, ``SVDpp``,
        ``Baseline``, ``ImplicitALS``, ``BPR``, ``ALS``, ``NMF``, ``TruncatedSVD``,
        ``Popularity``).
    path : str or path-like
        Where to write; the folder must exist. An existing file is replaced.
    items : pandas.DataFrame, optional
        Item metadata (title, year, genres lists ...) to keep with the model, stored as
        JSON records with its index; :func:`load` returns it as
        ``model.item_metadata_``. Defaults to the model's own ``item_metadata_``, if any.
        Columns may hold numbers, booleans, strings, lists and dicts of those, and
        datetimes; column and index names must be strings.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    NotFittedError
        If the model is not fitted.
    ModelFileError
        If the model is not of a registered class, or holds state that cannot be stored
        safely (ids of mixed types, string ids ending in NUL characters, object arrays).
    InvalidParameterError
        If ``items`` is not a DataFrame that can be stored.
    OSError
        If the file cannot be written (``FileNotFoundError`` if the folder is missing);
        the target is then left as it was and no temporary file remains.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> import pandas as pd
    >>> from latentfactors import SVD, load
    >>> from latentfactors.data import make_synthetic
    >>> model = SVD(n_factors=4, n_epochs=3, random_state=0).fit(
    ...     make_synthetic(50, 30, 500, seed=0).interactions)
    >>> meta = pd.DataFrame({"title": ["Alien", "Heat"]}, index=pd.Index([0, 1], name="item"))
    >>> path = save(model, pathlib.Path(tempfile.mkdtemp()) / "svd.lfm", items=meta)
    >>> load(path).item_metadata_.loc[1, "title"]
    'Heat'
    """
    cls_name = type(model).__name__
    if cls_name not in _REGISTRY or _registry().get(cls_name) is not type(model):
        raise ModelFileError(
            f"cannot save a {type(model).__qualname__}: only these model classes can be "
            f"saved: {_known()}"
        )
    model._check_fitted("save")
    if items is None:
        items = getattr(model, "item_metadata_", None)
    arrays, manifest = _collect(model)
    members: list[tuple[str, Any, int]] = []
    if items is not None:
        items_bytes, manifest["item_metadata"] = _encode_items(items)
        members.append((_ITEMS, items_bytes, zipfile.ZIP_DEFLATED))
    try:
        text = json.dumps(manifest, indent=1, allow_nan=True)
    except (TypeError, ValueError) as exc:  # pragma: no cover - _collect checks every value
        raise ModelFileError(f"cannot write the model manifest: {exc}") from None
    buf = io.BytesIO()
    np.savez(buf, **arrays, **_NO_PICKLE)  # every array was checked: none holds objects
    members[:0] = [
        (_MANIFEST, text.encode("utf-8"), zipfile.ZIP_DEFLATED),
        (_ARRAYS, buf.getbuffer(), zipfile.ZIP_STORED),
    ]
    target = Path(os.fspath(path))
    _write_atomic(target, members)
    return target


def _collect(model: FactorModel) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The arrays and the manifest (less item metadata) describing a fitted model."""
    import scipy.sparse as sp

    params = model.get_params()
    arrays: dict[str, np.ndarray] = {}
    attributes: dict[str, Any] = {}
    tuples: list[str] = []
    scalars: list[str] = []
    for name, value in vars(model).items():
        if name.startswith("_") or not name.endswith("_") or name in _RESERVED:
            continue  # private caches (re-derived on load) and hyperparameters
        if isinstance(value, np.ndarray):
            arrays[name] = _storable_array(name, value)
        elif isinstance(value, np.generic):
            arrays[name] = _storable_array(name, np.asarray(value))
            scalars.append(name)
        else:
            attributes[name] = _jsonable(value, name)
            if isinstance(value, tuple):
                tuples.append(name)
    vectors = vars(model).get(_USER_VECTORS)
    if vectors is not None and vectors is not model.user_factors_:
        arrays[_USER_VECTORS] = _storable_array(_USER_VECTORS, vectors)
    seen = model.user_items_
    if not (sp.issparse(seen) and seen.format == "csr"):
        raise ModelFileError(f"cannot save user_items_ of type {type(seen).__name__}")
    for key, part in zip(_CSR, (seen.indptr, seen.indices, seen.data)):
        arrays[key] = _storable_array("user_items_", part)
    vocabularies = {}
    for what, key in _IDS.items():
        vocab = getattr(model, f"{what}_")
        arrays[key], encoding = _encode_ids(vocab.raw, what[:-1])
        vocabularies[what] = {"name": str(vocab.name), "encoding": encoding}
    manifest = {
        "format": _FORMAT,
        "format_version": FORMAT_VERSION,
        "library_version": __version__,
        "model_class": type(model).__name__,
        "params": _jsonable(params, "parameters"),
        "attributes": attributes,
        "tuple_attributes": tuples,
        "scalar_arrays": scalars,
        "vocabularies": vocabularies,
        "user_items": {"shape": [int(n) for n in seen.shape]},
        "item_metadata": None,
        "arrays": {
            key: {"shape": list(a.shape), "dtype": a.dtype.str, "sha256": _sha256(a)}
            for key, a in arrays.items()
        },
    }
    return arrays, manifest


def _storable_array(name: str, a: np.ndarray) -> np.ndarray:
    if a.dtype.hasobject or a.dtype.kind not in _ARRAY_KINDS:
        raise ModelFileError(
            f"cannot save {name}: arrays of dtype {a.dtype} cannot be stored safely (only "
            "numeric and boolean arrays can)"
        )
    return a


def _encode_ids(raw: np.ndarray, what: str) -> tuple[np.ndarray, str]:
    """Raw ids as a pickle-free array and how to restore them.

    ``native``: numbers, stored as they are; ``str``: strings, stored as a numpy unicode
    array and restored as an object array of ``str``; ``int``: an object array of Python
    integers, stored as int64 and restored as objects.
    """
    raw = np.asarray(raw)
    if not raw.dtype.hasobject:
        if raw.dtype.kind not in "biuf":
            raise ModelFileError(f"cannot save {what} ids of dtype {raw.dtype}")
        return raw, "native"
    values = raw.tolist()
    if all(isinstance(v, str) for v in values):
        if any(v.endswith("\x00") for v in values):
            raise ModelFileError(
                f"cannot save {what} ids that end with a NUL character ('\\x00'): numpy "
                "string arrays would drop it"
            )
        return np.array(values, dtype=np.str_) if values else np.zeros(0, "<U1"), "str"
    if all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in values):
        if all(-(2**63) <= v < 2**63 for v in values):
            return np.array(values, dtype=np.int64), "int"
    kinds = ", ".join(sorted({type(v).__name__ for v in values}))
    raise ModelFileError(
        f"cannot save {what} ids of type(s) {kinds}: ids must be all strings or all "
        "(64-bit) integers to be stored safely"
    )


def _jsonable(value: Any, where: str) -> Any:
    """``value`` as plain JSON types (numpy scalars converted, tuples as lists), or raise."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, (np.bool_, np.integer, np.floating)):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_jsonable(v, where) for v in value]
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {k: _jsonable(v, where) for k, v in value.items()}
    raise ModelFileError(
        f"cannot save {where}: a value of type {type(value).__name__} cannot be stored safely"
    )


def _sha256(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


def _encode_items(items: Any) -> tuple[bytes, dict[str, Any]]:
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


def _write_atomic(target: Path, members: list[tuple[str, Any, int]]) -> None:
    """Write a zip of ``members`` to a temporary file next to ``target``, fsync, rename."""
    folder = target.parent
    if not folder.is_dir():
        raise FileNotFoundError(f"cannot save to {str(target)!r}: no folder {str(folder)!r}")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        tmp = folder / f".{target.name}.{secrets.token_hex(8)}.tmp"
        try:
            fd = os.open(tmp, flags, 0o666)  # the umask applies, as for any new file
            break
        except FileExistsError:  # pragma: no cover - 64 random bits
            continue
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
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError, AttributeError):  # make the rename durable (POSIX)
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


# ---------------------------------------------------------------------- loading
def load(path: str | os.PathLike[str]) -> FactorModel:
    """Read a model written by :func:`save`.

    Nothing in the file is executed or unpickled: the class comes from a fixed registry,
    arrays are read with ``np.load(allow_pickle=False)`` and checked against the manifest
    (shape, dtype, sha256) and against each other. The model predicts, recommends,
    explains and folds in users exactly as the saved one did; item metadata saved with
    it is ``model.item_metadata_`` (None if there is none).

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    FactorModel
        The fitted model, of the class that was saved.

    Raises
    ------
    ModelFileError
        If the file is missing, not a latentfactors model (a foreign file or zip),
        truncated, corrupted, tampered with (checksum mismatch), of an unknown model
        class, or written by a newer latentfactors; the message says which.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from latentfactors import BPR, load
    >>> from latentfactors.data import make_synthetic
    >>> data = make_synthetic(60, 40, 600, implicit=True, seed=0).interactions
    >>> model = BPR(n_factors=4, n_epochs=3, random_state=0).fit(data)
    >>> path = model.save(pathlib.Path(tempfile.mkdtemp()) / "bpr.lfm")
    >>> again = load(path)
    >>> type(again).__name__
    'BPR'
    >>> again.recommend(0, n=3)[0].tolist() == model.recommend(0, n=3)[0].tolist()
    True
    """
    try:
        target = Path(os.fspath(path))
    except TypeError:
        raise ModelFileError(f"not a path: {path!r}") from None
    try:
        return _load(target)
    except ModelFileError:
        raise
    except Exception as exc:  # anything else wrong with a file is damage too
        detail = str(exc)
        detail = detail if len(detail) <= 200 else detail[:200] + "..."
        raise ModelFileError(
            f"{target.name}: damaged model file ({type(exc).__name__}: {detail})"
        ) from exc


def _load(path: Path) -> FactorModel:
    name = path.name
    if not path.exists():
        raise ModelFileError(f"{str(path)!r}: no such model file")
    if not path.is_file():
        raise ModelFileError(f"{str(path)!r} is not a file")
    try:
        fh = open(path, "rb")
    except OSError as exc:
        raise ModelFileError(f"cannot read {str(path)!r} ({exc})") from None
    with fh:
        head = fh.read(4)
        try:
            zf = zipfile.ZipFile(fh)
        except Exception:  # BadZipFile, or a damaged directory entry zipfile trips over
            if not head:
                raise ModelFileError(f"{name} is empty (truncated?)") from None
            if head.startswith(b"PK") or b"PK\x03\x04".startswith(head):
                raise ModelFileError(
                    f"{name}: truncated or damaged zip archive (no readable central directory)"
                ) from None
            raise ModelFileError(
                f"{name} is not a latentfactors model file (not a zip archive)"
            ) from None
        with zf:
            infos = _members(zf, name)
            manifest = _read_manifest(zf, infos, name)
            cls = _check_manifest(manifest, name)
            arrays = _read_arrays(zf, infos, manifest["arrays"], name)
            items_raw = _read_items_bytes(zf, infos, manifest["item_metadata"], name)
    model = _rebuild(cls, manifest, arrays, name)
    model.item_metadata_ = (
        None if items_raw is None else _decode_items(items_raw, manifest["item_metadata"], name)
    )
    return model


def _members(zf: zipfile.ZipFile, name: str) -> dict[str, zipfile.ZipInfo]:
    infos: dict[str, zipfile.ZipInfo] = {}
    for info in zf.infolist():
        if info.filename in infos:
            raise ModelFileError(f"{name}: the zip holds {info.filename!r} twice")
        infos[info.filename] = info
    return infos


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, name: str) -> bytes:
    try:
        return zf.read(info)
    except Exception as exc:  # bad CRC, cut short, unknown compression, encrypted ...
        raise ModelFileError(f"{name}: {info.filename} is corrupted or truncated ({exc})") from None


def _read_manifest(zf: zipfile.ZipFile, infos: dict[str, zipfile.ZipInfo], name: str) -> Any:
    info = infos.get(_MANIFEST)
    if info is None:
        raise ModelFileError(f"{name} is not a latentfactors model file (no {_MANIFEST})")
    if info.file_size > _MAX_MANIFEST_BYTES:
        raise ModelFileError(f"{name}: {_MANIFEST} is too large ({info.file_size} bytes)")
    raw = _read_member(zf, info, name)
    try:
        return json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise ModelFileError(f"{name}: {_MANIFEST} is not valid JSON ({exc})") from None


def _check_manifest(manifest: Any, name: str) -> type:
    """Check the manifest's structure; return the model class it names."""
    if not isinstance(manifest, dict) or manifest.get("format") != _FORMAT:
        raise ModelFileError(
            f"{name} is not a latentfactors model file ({_MANIFEST} does not say "
            f'"format": "{_FORMAT}")'
        )
    if "format_version" not in manifest:
        raise ModelFileError(f"{name}: {_MANIFEST} lacks 'format_version'")
    version = manifest["format_version"]
    if type(version) is not int or version < 1:
        raise ModelFileError(f"{name}: bad format version {version!r} in {_MANIFEST}")
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{name} was written by a newer latentfactors (format {version} > "
            f"{FORMAT_VERSION}); upgrade latentfactors (this is {__version__}, the file is "
            f"from {manifest.get('library_version')!s}) to read it"
        )
    missing = [key for key in _MANIFEST_KEYS if key not in manifest]
    if missing:
        raise ModelFileError(f"{name}: {_MANIFEST} lacks {', '.join(repr(k) for k in missing)}")
    cls_name = manifest["model_class"]
    if not isinstance(cls_name, str) or cls_name not in _REGISTRY:
        raise ModelFileError(
            f"{name}: unknown model class {cls_name!r}; model files can only hold one of: "
            f"{_known()}"
        )
    try:
        cls = _model_class(cls_name)
    except (ImportError, AttributeError) as exc:
        raise ModelFileError(
            f"{name}: model class {cls_name} is not available in this installation ({exc})"
        ) from None
    kinds = {
        "params": dict, "attributes": dict, "tuple_attributes": list, "scalar_arrays": list,
        "vocabularies": dict, "user_items": dict, "arrays": dict,
    }  # fmt: skip
    for key, kind in kinds.items():
        if not isinstance(manifest[key], kind):
            raise ModelFileError(f"{name}: {_MANIFEST} has a malformed {key!r}")
    if not (manifest["item_metadata"] is None or isinstance(manifest["item_metadata"], dict)):
        raise ModelFileError(f"{name}: {_MANIFEST} has a malformed 'item_metadata'")
    for key, meta in manifest["arrays"].items():
        if not (
            isinstance(meta, dict)
            and isinstance(meta.get("shape"), list)
            and all(type(n) is int and n >= 0 for n in meta["shape"])
            and isinstance(meta.get("dtype"), str)
            and isinstance(meta.get("sha256"), str)
            and _SHA256.fullmatch(meta["sha256"])
        ):
            raise ModelFileError(f"{name}: {_MANIFEST} describes array {key!r} badly")
    return cls


def _read_arrays(
    zf: zipfile.ZipFile, infos: dict[str, zipfile.ZipInfo], declared: dict[str, Any], name: str
) -> dict[str, np.ndarray]:
    info = infos.get(_ARRAYS)
    if info is None:
        raise ModelFileError(f"{name}: {_ARRAYS} is missing")
    if info.compress_type != zipfile.ZIP_STORED:
        raise ModelFileError(f"{name}: {_ARRAYS} must be stored uncompressed in the zip")
    raw = _read_member(zf, info, name)
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


def _read_items_bytes(
    zf: zipfile.ZipFile, infos: dict[str, zipfile.ZipInfo], meta: Any, name: str
) -> bytes | None:
    if meta is None:
        return None
    info = infos.get(_ITEMS)
    if info is None:
        raise ModelFileError(f"{name}: {_ITEMS} is missing")
    if info.file_size > _MAX_ITEMS_BYTES:
        raise ModelFileError(f"{name}: {_ITEMS} is too large ({info.file_size} bytes)")
    return _read_member(zf, info, name)


def _attribute_name_ok(cls: type, key: Any, params: dict[str, Any]) -> bool:
    """Whether ``key`` may be set on a loaded model: a public fitted attribute ``name_``
    that no method, property or parameter of the class uses."""
    if not (isinstance(key, str) and key.isidentifier() and key.endswith("_")):
        return False
    if key.startswith("_") or key in _RESERVED or key in params:
        return False
    static = inspect.getattr_static(cls, key, None)
    return static is None or not (callable(static) or hasattr(static, "__get__"))


def _rebuild(cls: type, manifest: dict[str, Any], arrays: dict[str, np.ndarray], name: str):
    import scipy.sparse as sp

    from .data.vocabulary import Vocabulary

    cls_name = cls.__name__
    params = manifest["params"]
    unknown = sorted(set(params) - set(cls._param_names()))
    if unknown:
        raise ModelFileError(f"{name}: {unknown} are not parameters of {cls_name}")
    model = cls(**params)
    try:
        model._check_params()  # also re-derives private state such as SVD's learning rates
    except LatentFactorsError as exc:
        raise ModelFileError(f"{name}: invalid parameters for {cls_name} ({exc})") from None

    required = (*_CORE_ARRAYS, *_CSR, *_IDS.values(), *_CLASS_ARRAYS.get(cls_name, ()))
    for key in required:
        if key not in arrays:
            raise ModelFileError(f"{name}: array {key!r} is missing")
    # id vocabularies
    for what, key in _IDS.items():
        meta = manifest["vocabularies"].get(what)
        if not (
            isinstance(meta, dict)
            and isinstance(meta.get("name"), str)
            and meta.get("encoding") in _ID_ENCODINGS
        ):
            raise ModelFileError(f"{name}: {_MANIFEST} describes the {what} vocabulary badly")
        ids = arrays.pop(key)
        expected = {"native": "biuf", "str": "U", "int": "i"}[meta["encoding"]]
        if ids.ndim != 1 or ids.dtype.kind not in expected:
            raise ModelFileError(f"{name}: {what} ids are not a 1-d array of the declared kind")
        if meta["encoding"] == "int":
            ids = ids.astype(object)
        try:
            vocab = Vocabulary(ids, name=meta["name"])
        except LatentFactorsError as exc:
            raise ModelFileError(f"{name}: bad {what} ids ({exc})") from None
        setattr(model, f"{what}_", vocab)
    n_users, n_items = len(model.users_), len(model.items_)
    # what each user interacted with
    shape = manifest["user_items"].get("shape")
    if shape != [n_users, n_items]:
        raise ModelFileError(
            f"{name}: the interaction matrix is {shape}, but there are {n_users} users and "
            f"{n_items} items"
        )
    indptr, indices, data = (arrays.pop(k) for k in _CSR)
    if indptr.dtype.kind not in "iu" or indices.dtype.kind not in "iu":
        raise ModelFileError(f"{name}: the interaction matrix has non-integer indices")
    try:
        seen = sp.csr_matrix((data, indices, indptr), shape=(n_users, n_items))
        seen.check_format(full_check=True)
    except (ValueError, TypeError) as exc:
        raise ModelFileError(f"{name}: the interaction matrix is invalid ({exc})") from None
    model.user_items_ = seen
    # fitted arrays, scalars and attributes
    vectors = arrays.pop(_USER_VECTORS, None)
    scalars = manifest["scalar_arrays"]
    for key, a in arrays.items():
        if not _attribute_name_ok(cls, key, params) or a.dtype.kind not in _ARRAY_KINDS:
            raise ModelFileError(f"{name}: unexpected array {key!r}")
        if key in scalars:
            if a.ndim != 0:
                raise ModelFileError(f"{name}: {key!r} is not a scalar")
            setattr(model, key, a[()])
        else:
            setattr(model, key, a)
    tuples = manifest["tuple_attributes"]
    for key, value in manifest["attributes"].items():
        if not _attribute_name_ok(cls, key, params) or key in arrays:
            raise ModelFileError(f"{name}: unexpected attribute {key!r}")
        if key in tuples:
            if not isinstance(value, list):
                raise ModelFileError(f"{name}: attribute {key!r} is not a sequence")
            value = tuple(value)
        setattr(model, key, value)
    _check_state(model, vectors, name)
    model._user_vectors = model.user_factors_ if vectors is None else vectors
    model._fitting = False
    return model


def _check_state(model: Any, vectors: np.ndarray | None, name: str) -> None:
    """The fitted arrays and scalars fit together (so no kernel can index out of bounds)."""
    n_users, n_items = len(model.users_), len(model.items_)
    U, Q = model.user_factors_, model.item_factors_
    for key in _CORE_ARRAYS:
        if getattr(model, key).dtype.kind != "f":
            raise ModelFileError(f"{name}: {key} is not a floating-point array")
    if not (
        U.ndim == 2
        and Q.ndim == 2
        and U.shape == (n_users, Q.shape[1])
        and Q.shape[0] == n_items
        and model.user_bias_.shape == (n_users,)
        and model.item_bias_.shape == (n_items,)
    ):
        raise ModelFileError(
            f"{name}: factor shapes {U.shape}, {Q.shape} do not match {n_users} users and "
            f"{n_items} items"
        )
    if vectors is not None and (vectors.shape != U.shape or vectors.dtype.kind != "f"):
        raise ModelFileError(f"{name}: the user vectors do not match the user factors")
    implicit = getattr(model, "implicit_factors_", None)
    if implicit is not None and implicit.shape != Q.shape:
        raise ModelFileError(f"{name}: implicit_factors_ does not match the item factors")
    singular = getattr(model, "singular_values_", None)
    if singular is not None and singular.shape != (Q.shape[1],):
        raise ModelFileError(f"{name}: singular_values_ does not match the factors")
    for key in _CORE_SCALARS:
        if not hasattr(model, key):
            raise ModelFileError(f"{name}: fitted attribute {key!r} is missing")
    if type(getattr(model, "random_state_", None)) is not int:
        raise ModelFileError(f"{name}: random_state_ is missing or not an integer")
    for key in ("global_mean_", "intercept_"):
        value = getattr(model, key)
        if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
            raise ModelFileError(f"{name}: {key} is not a number")
    scale = model.rating_scale_
    if scale is not None and not (
        isinstance(scale, tuple)
        and len(scale) == 2
        and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in scale)
    ):
        raise ModelFileError(f"{name}: rating_scale_ is not a pair of numbers")


def _decode_items(raw: bytes, meta: dict[str, Any], name: str) -> pd.DataFrame:
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
