"""latentfactors: latent-factor recommenders on fast, reproducible numba kernels.

Public names are imported lazily, so ``import latentfactors`` stays light: it imports
neither numba nor matplotlib (nor pandas until data is touched).
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING, Any

from ._version import __version__
from .exceptions import (
    DataError,
    DivergenceError,
    DownloadError,
    InvalidParameterError,
    LatentFactorsError,
    ModelFileError,
    NotFittedError,
    UnknownIdError,
)

logging.getLogger("latentfactors").addHandler(logging.NullHandler())

# public name -> module that defines it
_LAZY = {
    "Interactions": "latentfactors.data",
    "Vocabulary": "latentfactors.data",
    "Dataset": "latentfactors.data",
    "Split": "latentfactors.data",
    "read_csv": "latentfactors.data",
    "read_path": "latentfactors.data",
    "read_parquet": "latentfactors.data",
    "load_movielens": "latentfactors.data",
    "load_lastfm": "latentfactors.data",
    "fetch_movielens": "latentfactors.data",
    "random_split": "latentfactors.data",
    "user_split": "latentfactors.data",
    "leave_last_n": "latentfactors.data",
    "time_split": "latentfactors.data",
    "kfold": "latentfactors.data",
    "make_synthetic": "latentfactors.data",
    "FactorModel": "latentfactors.models",
    "Baseline": "latentfactors.models",
    "BayesianMF": "latentfactors.models",
    "SVD": "latentfactors.models",
    "SVDpp": "latentfactors.models",
    "Callback": "latentfactors.models",
    "EarlyStopping": "latentfactors.models",
    "ImplicitALS": "latentfactors.models",
    "ALS": "latentfactors.models",
    "NMF": "latentfactors.models",
    "TruncatedSVD": "latentfactors.models",
    "BPR": "latentfactors.models",
    "Popularity": "latentfactors.models",
    "ranking_metrics": "latentfactors.evaluation",
    "save": "latentfactors.persistence",
    "export_vectors": "latentfactors.index.milvus",
    "load": "latentfactors.persistence",
    "rmse_mae": "latentfactors.evaluation",
    "evaluate": "latentfactors.evaluation",
    "cross_validate": "latentfactors.evaluation",
    "GridSearch": "latentfactors.evaluation",
    "RandomSearch": "latentfactors.evaluation",
    "factor_sweep": "latentfactors.evaluation",
    "regularization_sweep": "latentfactors.evaluation",
    "OptunaSearch": "latentfactors.evaluation",
    "EvaluationResult": "latentfactors.evaluation",
    "CVResult": "latentfactors.evaluation",
    "SweepResult": "latentfactors.evaluation",
}

__all__ = [
    "DataError",
    "DivergenceError",
    "DownloadError",
    "InvalidParameterError",
    "LatentFactorsError",
    "ModelFileError",
    "NotFittedError",
    "UnknownIdError",
    "__version__",
    *sorted(_LAZY),
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'latentfactors' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


if TYPE_CHECKING:  # pragma: no cover
    from .data import (
        Dataset,
        Interactions,
        Split,
        Vocabulary,
        fetch_movielens,
        kfold,
        leave_last_n,
        load_lastfm,
        load_movielens,
        make_synthetic,
        random_split,
        read_csv,
        read_parquet,
        read_path,
        time_split,
        user_split,
    )
    from .evaluation import (
        CVResult,
        EvaluationResult,
        GridSearch,
        OptunaSearch,
        RandomSearch,
        SweepResult,
        cross_validate,
        evaluate,
        factor_sweep,
        ranking_metrics,
        regularization_sweep,
        rmse_mae,
    )
    from .models import (
        ALS,
        BPR,
        NMF,
        SVD,
        Baseline,
        BayesianMF,
        Callback,
        EarlyStopping,
        FactorModel,
        ImplicitALS,
        Popularity,
        SVDpp,
        TruncatedSVD,
    )
    from .persistence import load, save
