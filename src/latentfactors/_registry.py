"""The one model registry: command-line name <-> class name <-> module.

Model files name a class from this table (never a module path), the command line
offers its names, and the shared behaviour suite walks it. Adding a model is one file
in ``models/`` plus one line here. Modules are imported only when a class is asked for,
so a model that fails to import breaks no other.
"""

from __future__ import annotations

import importlib
from typing import NamedTuple

from .exceptions import InvalidParameterError

__all__ = ["MODELS", "ModelEntry", "class_names", "cli_names", "entry", "model_class"]


class ModelEntry(NamedTuple):
    cli_name: str
    class_name: str
    module: str


MODELS: tuple[ModelEntry, ...] = (
    ModelEntry("baseline", "Baseline", "latentfactors.models.baseline"),
    ModelEntry("svd", "SVD", "latentfactors.models.svd"),
    ModelEntry("svdpp", "SVDpp", "latentfactors.models.svdpp"),
    ModelEntry("als", "ALS", "latentfactors.models.als"),
    ModelEntry("nmf", "NMF", "latentfactors.models.nmf"),
    ModelEntry("truncated-svd", "TruncatedSVD", "latentfactors.models.truncated_svd"),
    ModelEntry("implicit-als", "ImplicitALS", "latentfactors.models.implicit_als"),
    ModelEntry("bpr", "BPR", "latentfactors.models.bpr"),
    ModelEntry("bayesian-mf", "BayesianMF", "latentfactors.models.bayesian"),
    ModelEntry("popularity", "Popularity", "latentfactors.models.popularity"),
)

_BY_CLASS = {e.class_name: e for e in MODELS}
_BY_CLI = {e.cli_name: e for e in MODELS}


def class_names() -> list[str]:
    """Registered class names, sorted."""
    return sorted(_BY_CLASS)


def cli_names() -> list[str]:
    """Registered command-line names, sorted."""
    return sorted(_BY_CLI)


def entry(name: str) -> ModelEntry:
    """The entry for a class name (``"SVD"``) or a command-line name (``"svd"``)."""
    found = _BY_CLASS.get(name) or _BY_CLI.get(name)
    if found is None:
        raise InvalidParameterError(
            f"unknown model {name!r}; registered models: {', '.join(class_names())} "
            f"(command-line names: {', '.join(cli_names())})"
        )
    return found


def model_class(name: str) -> type:
    """The registered class for a class or command-line name (imports its module on
    first use; ImportError or AttributeError when this installation lacks it)."""
    e = entry(name)
    return getattr(importlib.import_module(e.module), e.class_name)


def is_registered(cls: type) -> bool:
    """Whether ``cls`` is the class the registry names (not a subclass or a look-alike)."""
    e = _BY_CLASS.get(cls.__name__)
    if e is None:
        return False
    try:
        return model_class(e.class_name) is cls
    except (ImportError, AttributeError):
        return False
