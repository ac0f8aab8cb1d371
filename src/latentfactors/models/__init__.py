"""Models: one consistent estimator API over every factorization."""

from .base import FactorModel
from .baseline import Baseline
from .callbacks import Callback, EarlyStopping
from .svd import SVD
from .svdpp import SVDpp

__all__ = ["SVD", "Baseline", "Callback", "EarlyStopping", "FactorModel", "SVDpp"]
