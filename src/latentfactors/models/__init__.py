"""Models: one consistent estimator API over every factorization."""

from .base import FactorModel
from .callbacks import Callback, EarlyStopping
from .svd import SVD

__all__ = ["SVD", "Callback", "EarlyStopping", "FactorModel"]
