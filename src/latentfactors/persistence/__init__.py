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
    ``implicit_factors_`` ...), counts per user and item, the seen items ``user_items_``
    as three CSR arrays (unless saved with ``seen=False``) and the raw user and item
    ids; written with :func:`numpy.savez` (stored uncompressed) and read with
    ``np.load(allow_pickle=False)``.
``items.json`` (optional)
    Item metadata (title, year, genres ...), as JSON records.

Loading trusts nothing in the file: memory is bounded by what the file declares and
by fixed caps before anything is inflated (members may not overlap or nest), the npy
headers are checked against the sizes of the members before anything is allocated,
every array against the manifest and its checksum, and the learned state against the
model class (dtypes, byte order, shapes against the vocabularies, finite values, the
CSR structure in full, every scalar), so that a truncated, corrupted, tampered, forged
or foreign file raises :class:`~latentfactors.exceptions.ModelFileError` with the
reason at load, never another exception later, a crash or code execution.

The package is split by job: ``_format`` (the zip container, bounded reads, atomic
writes), ``_manifest`` (structure checks), ``_ids`` (raw ids), ``_items`` (item
metadata) and ``_rebuild`` (model <-> state).

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

import io
import json
import os
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .._registry import class_names, is_registered
from ..exceptions import ModelFileError
from ._format import (
    ARRAYS,
    FORMAT_VERSION,
    ITEMS,
    MANIFEST,
    NO_PICKLE,
    members,
    read_arrays,
    read_items_bytes,
    read_manifest,
    write_atomic,
)
from ._items import decode_items, encode_items
from ._manifest import check_manifest
from ._rebuild import collect, rebuild

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from ..models.base import FactorModel

__all__ = ["FORMAT_VERSION", "load", "save"]


def save(
    model: FactorModel,
    path: str | os.PathLike[str],
    *,
    items: pd.DataFrame | None = None,
    seen: bool = True,
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
    seen : bool, default True
        Store the items each user has seen (``user_items_``), which ``recommend`` leaves
        out. ``False`` makes a smaller file for serving when seen items come from
        elsewhere; the loaded model then needs ``exclude_seen=False`` (or
        ``exclude=[...]``).

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
        safely (ids that are neither strings nor integers, object arrays).
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
    if not is_registered(type(model)):
        raise ModelFileError(
            f"cannot save a {type(model).__qualname__}: only these model classes can be "
            f"saved: {', '.join(class_names())}"
        )
    model._check_fitted("save")
    if items is None:
        items = getattr(model, "item_metadata_", None)
    arrays, manifest = collect(model, seen=bool(seen))
    members: list[tuple[str, Any, int]] = []
    if items is not None:
        items_bytes, manifest["item_metadata"] = encode_items(items)
        members.append((ITEMS, items_bytes, zipfile.ZIP_DEFLATED))
    try:
        text = json.dumps(manifest, indent=1, allow_nan=True)
    except (TypeError, ValueError) as exc:  # pragma: no cover - _collect checks every value
        raise ModelFileError(f"cannot write the model manifest: {exc}") from None
    buf = io.BytesIO()
    np.savez(buf, **arrays, **NO_PICKLE)  # every array was checked: none holds objects
    members[:0] = [
        (MANIFEST, text.encode("utf-8"), zipfile.ZIP_DEFLATED),
        (ARRAYS, buf.getbuffer(), zipfile.ZIP_STORED),
    ]
    target = Path(os.fspath(path))
    write_atomic(target, members)
    return target


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
            infos = members(zf, name)
            manifest = read_manifest(zf, infos, name)
            cls = check_manifest(manifest, name)
            arrays = read_arrays(zf, infos, manifest["arrays"], name)
            items_raw = read_items_bytes(zf, infos, manifest["item_metadata"], name)
    model = rebuild(cls, manifest, arrays, name)
    model.item_metadata_ = (
        None if items_raw is None else decode_items(items_raw, manifest["item_metadata"], name)
    )
    return model
