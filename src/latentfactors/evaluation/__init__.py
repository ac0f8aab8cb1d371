"""Evaluation: rating and ranking metrics on held-out data."""

from .metrics import ranking_metrics, rmse_mae

__all__ = ["ranking_metrics", "rmse_mae"]
