"""Safe model files: one zip with ``manifest.json`` and ``arrays.npz``; no pickle anywhere.

The manifest records the format version, the library version, the model class (looked
up in a fixed registry, never imported by name from the file), the parameters, the
fitted scalars and, for every array, its shape, dtype and sha256. Arrays are read with
``np.load(allow_pickle=False)`` and checked against the manifest. Anything wrong with a
file (truncated, corrupted, tampered with, foreign, newer) raises
:class:`~latentfactors.exceptions.ModelFileError` with the reason.

Writes are atomic: the file is written under a temporary name in the target folder,
flushed to disk, then renamed over the target.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from ._version import __version__
from .exceptions import LatentFactorsError, ModelFileError

__all__ = ["FORMAT_VERSION", "load", "save"]

FORMAT_VERSION = 1
_MANIFEST = "manifest.json"
_ARRAYS = "arrays.npz"
_ITEMS = "items.json"
_MAX_MANIFEST = 64 << 20
_REGISTRY = ("Baseline", "SVD", "SVDpp", "ALS", "NMF", "TruncatedSVD", "ImplicitALS", "BPR")
_SCALARS = ("global_mean_", "intercept_", "random_state_", "n_train_", "best_epoch_")
_DTYPES = {"float32", "float64", "int32", "int64", "bool"}


def _registry() -> dict[str, type]:
    from . import models

    return {name: getattr(models, name) for name in _REGISTRY}


def _sha(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


def _ids_array(vocab, what: str) -> np.ndarray:
    raw = vocab.raw
    if raw.dtype.kind in "iuf":
        return raw
    values = raw.tolist()
    if all(isinstance(v, str) for v in values):
        arr = np.array(values, dtype=str) if values else np.zeros(0, dtype="<U1")
        if any(v.endswith("\x00") for v in values):
            raise ModelFileError(f"cannot save {what} ids that end with NUL characters")
        return arr
    kinds = sorted({type(v).__name__ for v in values})
    raise ModelFileError(
        f"cannot save {what} ids of mixed or unsupported types ({', '.join(kinds)}); use all "
        "strings or all integers"
    )


def _collect_arrays(model) -> dict[str, np.ndarray]:
    arrays: dict[str, np.ndarray] = {}
    for name, value in vars(model).items():
        if name.endswith("_") and not name.startswith("_") and isinstance(value, np.ndarray):
            arrays[name] = value
    if model._user_vectors is not model.user_factors_:
        arrays["_user_vectors"] = model._user_vectors
    seen = model.user_items_
    arrays["user_items.indptr"] = seen.indptr.astype(np.int64)
    arrays["user_items.indices"] = seen.indices.astype(np.int32)
    arrays["user_items.data"] = seen.data.astype(np.float32)
    arrays["users.ids"] = _ids_array(model.users_, "user")
    arrays["items.ids"] = _ids_array(model.items_, "item")
    return arrays


def save(model: Any, path: str | os.PathLike, *, items: Any = None) -> Path:
    """Write a fitted model to ``path`` (a zip file; ``.lfm`` by convention).

    Parameters
    ----------
    model : fitted latentfactors model
    path : path-like
    items : DataFrame, optional
        Item metadata indexed by raw item id (title, year, genres ...), stored as JSON
        and returned by :func:`load` as ``model.item_metadata_``. Defaults to the
        model's own ``item_metadata_`` if it has one.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from latentfactors import SVD, load
    >>> from latentfactors.data import make_synthetic
    >>> model = SVD(n_factors=4, n_epochs=3, random_state=0).fit(
    ...     make_synthetic(50, 30, 500).interactions)
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "svd.lfm"
    >>> _ = model.save(path)
    >>> bool((load(path).predict([0], [1]) == model.predict([0], [1])).all())
    True
    """
    model._check_fitted("save")
    name = type(model).__name__
    if name not in _REGISTRY:
        raise ModelFileError(f"{name} is not a model class that can be saved")
    arrays = _collect_arrays(model)
    if items is None:
        items = getattr(model, "item_metadata_", None)
    manifest = {
        "format": "latentfactors-model",
        "format_version": FORMAT_VERSION,
        "library_version": __version__,
        "model_class": name,
        "params": model.get_params(),
        "scalars": {k: getattr(model, k) for k in _SCALARS if hasattr(model, k)},
        "rating_scale": list(model.rating_scale_) if model.rating_scale_ else None,
        "history": model.history_,
        "user_items_shape": list(model.user_items_.shape),
        "has_items": items is not None,
        "arrays": {
            k: {"shape": list(v.shape), "dtype": v.dtype.str, "sha256": _sha(v)}
            for k, v in arrays.items()
        },
    }
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    payload = {_MANIFEST: json.dumps(manifest, default=_json_default).encode(),
               _ARRAYS: buf.getvalue()}  # fmt: skip
    if items is not None:
        payload[_ITEMS] = items.reset_index().to_json(orient="records").encode()
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_DEFLATED) as zf:
                for member, data in payload.items():
                    zf.writestr(member, data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def _json_default(o: Any) -> Any:
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"cannot store {type(o).__name__} in a model manifest")


def load(path: str | os.PathLike):
    """Read a model written by :func:`save`.

    Raises
    ------
    ModelFileError
        If the file is missing, not a latentfactors model, truncated, corrupted,
        tampered with (checksum mismatch), or written by a newer format.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{str(path)!r}: no such model file")
    try:
        return _load(path)
    except ModelFileError:
        raise
    except LatentFactorsError as exc:
        raise ModelFileError(f"{path.name}: invalid model ({exc})") from None
    except Exception as exc:
        raise ModelFileError(
            f"{path.name}: corrupted model file ({type(exc).__name__}: {exc})"
        ) from None


def _load(path: Path):
    import scipy.sparse as sp

    from .data.vocabulary import Vocabulary

    name = path.name
    if not zipfile.is_zipfile(path):
        raise ModelFileError(f"{name} is not a latentfactors model file (not a zip archive)")
    try:
        zf = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise ModelFileError(f"{name}: damaged zip archive ({exc})") from None
    with zf:
        members = set(zf.namelist())
        if _MANIFEST not in members:
            raise ModelFileError(f"{name} is not a latentfactors model file (no {_MANIFEST})")
        if zf.getinfo(_MANIFEST).file_size > _MAX_MANIFEST:
            raise ModelFileError(f"{name}: manifest too large")
        try:
            manifest = json.loads(zf.read(_MANIFEST))
        except (ValueError, UnicodeDecodeError) as exc:
            raise ModelFileError(f"{name}: manifest is not valid JSON ({exc})") from None
        if not isinstance(manifest, dict) or manifest.get("format") != "latentfactors-model":
            raise ModelFileError(f"{name} is not a latentfactors model file")
        for key in ("format_version", "model_class", "params", "arrays", "scalars"):
            if key not in manifest:
                raise ModelFileError(f"{name}: manifest lacks {key!r}")
        version = manifest["format_version"]
        if not isinstance(version, int) or version < 1:
            raise ModelFileError(f"{name}: bad format version {version!r}")
        if version > FORMAT_VERSION:
            raise ModelFileError(
                f"{name} was written by a newer latentfactors (format {version} > "
                f"{FORMAT_VERSION}, library {manifest.get('library_version')}); upgrade "
                "latentfactors to read it"
            )
        registry = _registry()
        cls_name = manifest["model_class"]
        if cls_name not in registry:
            raise ModelFileError(
                f"{name}: unknown model class {cls_name!r}; known: {', '.join(registry)}"
            )
        if _ARRAYS not in members:
            raise ModelFileError(f"{name}: {_ARRAYS} is missing")
        raw = zf.read(_ARRAYS)
        items_json = zf.read(_ITEMS) if _ITEMS in members else None
    declared = manifest["arrays"]
    if not isinstance(declared, dict):
        raise ModelFileError(f"{name}: manifest 'arrays' is not a mapping")
    with np.load(io.BytesIO(raw), allow_pickle=False) as npz:
        present = set(npz.files)
        arrays = {}
        for key, meta in declared.items():
            if key not in present:
                raise ModelFileError(f"{name}: array {key!r} is missing")
            a = npz[key]
            if a.dtype.kind == "O":
                raise ModelFileError(f"{name}: array {key!r} holds objects")
            if list(a.shape) != list(meta.get("shape", [])) or a.dtype.str != meta.get("dtype"):
                raise ModelFileError(
                    f"{name}: array {key!r} is {a.dtype.str}{list(a.shape)}, the manifest "
                    f"says {meta.get('dtype')}{meta.get('shape')}"
                )
            if _sha(a) != meta.get("sha256"):
                raise ModelFileError(
                    f"{name}: checksum mismatch in array {key!r}; the file was modified or "
                    "corrupted"
                )
            arrays[key] = a
    required = (
        "user_factors_", "item_factors_", "user_bias_", "item_bias_", "users.ids", "items.ids",
        "user_items.indptr", "user_items.indices", "user_items.data",
    )  # fmt: skip
    for key in required:
        if key not in arrays:
            raise ModelFileError(f"{name}: array {key!r} is missing")

    cls = registry[cls_name]
    params = manifest["params"]
    if not isinstance(params, dict) or set(params) - set(cls._param_names()):
        raise ModelFileError(f"{name}: parameters do not match {cls_name}")
    model = cls(**params)
    model._check_params()
    ids = {}
    for what in ("users", "items"):
        a = arrays.pop(f"{what}.ids")
        ids[what] = Vocabulary(a.astype(object) if a.dtype.kind == "U" else a, name=what[:-1])
    model.users_, model.items_ = ids["users"], ids["items"]
    shape = tuple(manifest.get("user_items_shape") or ())
    if shape != (len(model.users_), len(model.items_)):
        raise ModelFileError(f"{name}: interaction matrix shape {shape} does not match the ids")
    model.user_items_ = sp.csr_matrix(
        (arrays.pop("user_items.data"), arrays.pop("user_items.indices"),
         arrays.pop("user_items.indptr")), shape=shape,
    )  # fmt: skip
    model.user_items_.check_format(full_check=True)
    vectors = arrays.pop("_user_vectors", None)
    for key, a in arrays.items():
        if not key.endswith("_") or key.startswith("_") or not key.isidentifier():
            raise ModelFileError(f"{name}: unexpected array {key!r}")
        setattr(model, key, a)
    k = model.item_factors_.shape[1] if model.item_factors_.ndim == 2 else -1
    if (model.user_factors_.shape != (len(model.users_), k)
            or model.item_factors_.shape != (len(model.items_), k)
            or model.user_bias_.shape != (len(model.users_),)
            or model.item_bias_.shape != (len(model.items_),)):  # fmt: skip
        raise ModelFileError(f"{name}: factor shapes do not match the ids")
    model._user_vectors = model.user_factors_ if vectors is None else vectors
    if model._user_vectors.shape != model.user_factors_.shape:
        raise ModelFileError(f"{name}: user vectors do not match the user factors")
    for key, value in manifest["scalars"].items():
        if key in _SCALARS:
            setattr(model, key, value)
    scale = manifest.get("rating_scale")
    model.rating_scale_ = tuple(float(x) for x in scale) if scale else None
    model.history_ = manifest.get("history") or {}
    model._fitting = False
    model.item_metadata_ = None
    if items_json is not None:
        import pandas as pd

        records = json.loads(items_json)
        frame = pd.DataFrame.from_records(records)
        if "item" in frame.columns:
            frame = frame.set_index("item")
        model.item_metadata_ = frame
    return model
