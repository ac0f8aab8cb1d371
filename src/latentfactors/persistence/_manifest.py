"""The manifest: structure checked before any array is read."""

from __future__ import annotations

import re
from typing import Any

from .._registry import class_names, model_class
from .._version import __version__
from ..exceptions import ModelFileError
from ._format import FORMAT, FORMAT_VERSION, MANIFEST

_FORMAT = FORMAT
_MANIFEST = MANIFEST
_SHA256 = re.compile(r"[0-9a-f]{64}")
_MANIFEST_KEYS = (
    "format_version", "library_version", "model_class", "params", "attributes",
    "tuple_attributes", "scalar_arrays", "vocabularies", "user_items", "item_metadata",
    "arrays",
)  # fmt: skip


def check_manifest(manifest: Any, name: str) -> type:
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
    if not isinstance(cls_name, str) or cls_name not in class_names():
        raise ModelFileError(
            f"{name}: unknown model class {cls_name!r}; model files can only hold one of: "
            f"{', '.join(class_names())}"
        )
    try:
        cls = model_class(cls_name)
    except (ImportError, AttributeError) as exc:
        raise ModelFileError(
            f"{name}: model class {cls_name} is not available in this installation ({exc})"
        ) from None
    kinds = {
        "params": dict, "attributes": dict, "tuple_attributes": list, "scalar_arrays": list,
        "vocabularies": dict, "arrays": dict,
    }  # fmt: skip
    for key, kind in kinds.items():
        if not isinstance(manifest[key], kind):
            raise ModelFileError(f"{name}: {_MANIFEST} has a malformed {key!r}")
    if not (manifest["user_items"] is None or isinstance(manifest["user_items"], dict)):
        raise ModelFileError(f"{name}: {_MANIFEST} has a malformed 'user_items'")
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
