"""Evaluation and model selection: metrics, evaluate, cross-validation, searches, sweeps."""

from .evaluate import EvaluationResult, evaluate
from .metrics import auc, coverage, mean_popularity, ranking_metrics, rmse_mae
from .selection import CVResult, GridSearch, OptunaSearch, RandomSearch, cross_validate
from .sweep import SweepResult, factor_sweep, regularization_sweep

__all__ = [
    "CVResult",
    "EvaluationResult",
    "GridSearch",
    "OptunaSearch",
    "RandomSearch",
    "SweepResult",
    "auc",
    "coverage",
    "cross_validate",
    "evaluate",
    "factor_sweep",
    "mean_popularity",
    "ranking_metrics",
    "regularization_sweep",
    "rmse_mae",
]
