"""Models: one consistent estimator API over every factorization."""

from .als import ALS
from .base import FactorModel
from .baseline import Baseline
from .bayesian import BayesianMF
from .bpr import BPR
from .callbacks import Callback, EarlyStopping
from .foldin import FoldIn
from .implicit_als import ImplicitALS
from .nmf import NMF
from .popularity import Popularity
from .recommend import Explanation
from .svd import SVD
from .svdpp import SVDpp
from .truncated_svd import TruncatedSVD

__all__ = [
    "ALS",
    "BPR",
    "NMF",
    "SVD",
    "Baseline",
    "BayesianMF",
    "Callback",
    "EarlyStopping",
    "Explanation",
    "FactorModel",
    "FoldIn",
    "ImplicitALS",
    "Popularity",
    "SVDpp",
    "TruncatedSVD",
]
