"""Model <-> (manifest, arrays): through ``get_state`` / ``set_state`` only.

Persistence never touches a model's private attributes: saving asks the model for its
state, loading builds an unfitted model from its parameters and hands it the checked
state, so every rule about what a fitted model must hold (dtypes, shapes, finite
values, scalars) lives in one place (``models/_state.py``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._version import __version__
from ..exceptions import LatentFactorsError, ModelFileError
from ._format import ARRAY_KINDS, FORMAT, FORMAT_VERSION, MANIFEST, sha256
from ._ids import ID_ENCODINGS, decode_ids, encode_ids

_CSR = ("user_items.indptr", "user_items.indices", "user_items.data")
_USER_VECTORS = "_user_vectors"
_CORE_ARRAYS = ("user_factors", "item_factors", "user_bias", "item_bias")
_COUNTS = ("user_counts", "item_counts")
#: learned scalars, stored as manifest attributes named ``<key>_``
_SCALARS = ("global_mean", "intercept", "rating_scale", "random_state", "n_train", "history",
            "best_epoch", "reg_search")  # fmt: skip


def jsonable(value: Any, where: str) -> Any:
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
        return [jsonable(v, where) for v in value]
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {k: jsonable(v, where) for k, v in value.items()}
    raise ModelFileError(
        f"cannot save {where}: a value of type {type(value).__name__} cannot be stored safely"
    )


def _storable(name: str, a: np.ndarray) -> np.ndarray:
    if a.dtype.hasobject or a.dtype.kind not in ARRAY_KINDS:
        raise ModelFileError(
            f"cannot save {name}: arrays of dtype {a.dtype} cannot be stored safely (only "
            "numeric and boolean arrays can)"
        )
    return np.ascontiguousarray(a)


def collect(model: Any, seen: bool = True) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The arrays and the manifest (less item metadata) describing a fitted model."""
    state = model.get_state()
    arrays: dict[str, np.ndarray] = {}
    for key in (*_CORE_ARRAYS, *_COUNTS, *type(model).extra_state):
        arrays[f"{key}_"] = _storable(key, np.asarray(state[key]))
    if state.get("user_vectors") is not None:
        arrays[_USER_VECTORS] = _storable("user_vectors", state["user_vectors"])
    csr = state.get("user_items") if seen else None
    if csr is not None:
        for key, part in zip(_CSR, (csr.indptr, csr.indices, csr.data)):
            arrays[key] = _storable("user_items", part)
    vocabularies = {}
    for what in ("users", "items"):
        vocab = state[what]
        stored, encoding = encode_ids(vocab.raw, what[:-1])
        arrays.update(stored)
        vocabularies[what] = {"name": str(vocab.name), "encoding": encoding}
    attributes = {
        f"{key}_": jsonable(state[key], key) for key in _SCALARS if state.get(key) is not None
    }
    attributes["rating_scale_"] = jsonable(state["rating_scale"], "rating_scale")
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "library_version": __version__,
        "model_class": type(model).__name__,
        "params": jsonable(model.get_params(), "parameters"),
        "attributes": attributes,
        "tuple_attributes": ["rating_scale_"] if state["rating_scale"] is not None else [],
        "scalar_arrays": [],
        "vocabularies": vocabularies,
        "user_items": None if csr is None else {"shape": [int(n) for n in csr.shape]},
        "item_metadata": None,
        "arrays": {
            key: {"shape": list(a.shape), "dtype": a.dtype.str, "sha256": sha256(a)}
            for key, a in arrays.items()
        },
    }
    return arrays, manifest


def rebuild(cls: type, manifest: dict[str, Any], arrays: dict[str, np.ndarray], name: str):
    """A fitted ``cls`` from a checked manifest and its arrays (ModelFileError if not)."""
    import scipy.sparse as sp

    from ..data.vocabulary import Vocabulary

    cls_name = cls.__name__
    # a file older than a parameter: the value it was trained with, not today's default
    params = {**cls.params_added, **manifest["params"]}
    unknown = sorted(set(params) - set(cls._param_names()))
    if unknown:
        raise ModelFileError(f"{name}: {unknown} are not parameters of {cls_name}")
    try:
        model = cls(**params)
        model._check_params()
    except (LatentFactorsError, TypeError) as exc:
        raise ModelFileError(f"{name}: invalid parameters for {cls_name} ({exc})") from None
    arrays = dict(arrays)
    state: dict[str, Any] = {}
    # id vocabularies
    for what in ("users", "items"):
        meta = manifest["vocabularies"].get(what)
        if not (
            isinstance(meta, dict)
            and isinstance(meta.get("name"), str)
            and meta.get("encoding") in ID_ENCODINGS
        ):
            raise ModelFileError(f"{name}: {MANIFEST} describes the {what} vocabulary badly")
        needed = [f"{what}.ids"] + ([f"{what}.offsets", f"{what}.kinds"]
                                    if meta["encoding"] == "utf8" else [])  # fmt: skip
        for key in needed:
            if key not in arrays:
                raise ModelFileError(f"{name}: array {key!r} is missing")
        ids = decode_ids(arrays, what, meta["encoding"], name)
        try:
            state[what] = Vocabulary(ids, name=meta["name"])
        except LatentFactorsError as exc:
            raise ModelFileError(f"{name}: bad {what} ids ({exc})") from None
    n_users, n_items = len(state["users"]), len(state["items"])
    # seen items (optional)
    shape = manifest["user_items"]
    if shape is None:
        state["user_items"] = None
        if any(k in arrays for k in _CSR):
            raise ModelFileError(f"{name}: seen-items arrays without their manifest entry")
    else:
        if not isinstance(shape, dict) or shape.get("shape") != [n_users, n_items]:
            raise ModelFileError(
                f"{name}: the interaction matrix is {shape.get('shape') if isinstance(shape, dict) else shape}, "  # noqa: E501
                f"but there are {n_users} users and {n_items} items"
            )
        for key in _CSR:
            if key not in arrays:
                raise ModelFileError(f"{name}: array {key!r} is missing")
        indptr, indices, data = (arrays.pop(k) for k in _CSR)
        if indptr.dtype.kind not in "iu" or indices.dtype.kind not in "iu":
            raise ModelFileError(f"{name}: the interaction matrix has non-integer indices")
        if data.dtype.kind != "f" or not np.isfinite(data).all():
            raise ModelFileError(f"{name}: the interaction matrix holds non-finite values")
        try:
            seen = sp.csr_matrix((data, indices, indptr), shape=(n_users, n_items))
            seen.check_format(full_check=True)
        except (ValueError, TypeError, OverflowError) as exc:
            raise ModelFileError(f"{name}: the interaction matrix is invalid ({exc})") from None
        state["user_items"] = seen
    # learned arrays
    expected = {f"{k}_": k for k in (*_CORE_ARRAYS, *_COUNTS, *cls.extra_state)}
    for key, target in expected.items():
        if key in arrays:
            state[target] = arrays.pop(key)
        elif target in cls.extra_state_added:
            pass  # newer than the file: set_state makes it zeros
        elif key[:-1] not in _COUNTS:
            raise ModelFileError(f"{name}: array {key!r} is missing")
    if _USER_VECTORS in arrays:
        state["user_vectors"] = arrays.pop(_USER_VECTORS)
    # older files could keep scalars as 0-d arrays
    scalars = manifest["scalar_arrays"]
    attributes = dict(manifest["attributes"])
    for key in scalars:
        a = arrays.pop(key, None) if isinstance(key, str) else None
        if a is None or a.ndim != 0 or a.dtype.kind not in "biuf":
            raise ModelFileError(f"{name}: {key!r} is not a stored scalar")
        attributes[key] = a.item()
    if arrays:
        raise ModelFileError(f"{name}: unexpected array(s) {sorted(arrays)} for {cls_name}")
    allowed = {f"{k}_" for k in _SCALARS}
    for key, value in attributes.items():
        if key not in allowed:
            raise ModelFileError(f"{name}: unexpected attribute {key!r} for {cls_name}")
        state[key[:-1]] = value
    if state.get("rating_scale") is not None and not isinstance(state["rating_scale"], list):
        raise ModelFileError(f"{name}: rating_scale_ is not a pair of numbers")
    for key in ("global_mean", "intercept", "random_state"):
        if key not in state:
            raise ModelFileError(f"{name}: fitted attribute {key + '_'!r} is missing")
    state.setdefault("rating_scale", None)
    state.setdefault("history", {})
    state.setdefault("n_train", int(state["user_items"].nnz) if state["user_items"] is not None
                     else 0)  # fmt: skip
    try:
        model.set_state(state)
    except LatentFactorsError as exc:
        raise ModelFileError(f"{name}: {exc}") from None
    return model
