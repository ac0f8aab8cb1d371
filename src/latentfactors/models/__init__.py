"""Models: one consistent estimator API over every factorization."""

from .base import FactorModel
from .baseline import Baseline
from .bpr import BPR
from .callbacks import Callback, EarlyStopping
from .foldin import FoldIn
from .implicit_als import ImplicitALS
from .recommend import Explanation
from .svd import SVD
from .svdpp import SVDpp

__all__ = [
    "BPR",
    "SVD",
    "Baseline",
    "Callback",
    "EarlyStopping",
    "Explanation",
    "FactorModel",
    "FoldIn",
    "ImplicitALS",
    "SVDpp",
]
