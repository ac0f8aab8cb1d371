"""Exceptions raised by latentfactors.

Every error a caller can cause is one of these, with a message that says what was
wrong, where, and how to fix it. They subclass the closest built-in exception too, so
``except ValueError`` in existing code keeps working.
"""

from __future__ import annotations

__all__ = [
    "DataError",
    "DivergenceError",
    "DownloadError",
    "InvalidParameterError",
    "LatentFactorsError",
    "ModelFileError",
    "NotFittedError",
    "UnknownIdError",
]


class LatentFactorsError(Exception):
    """Base class of every error raised on purpose by latentfactors."""


class DataError(LatentFactorsError, ValueError):
    """The input data is malformed: missing columns, NaN ratings, duplicates, bad lines ..."""


class DownloadError(DataError):
    """A dataset could not be fetched or failed its checksum."""


class InvalidParameterError(LatentFactorsError, ValueError):
    """A hyperparameter or argument is outside its allowed range or of the wrong type."""


class DivergenceError(LatentFactorsError, FloatingPointError):
    """Training diverged: the loss became NaN or infinite (the factors overflowed)."""


class NotFittedError(LatentFactorsError, AttributeError):
    """A model was used before ``fit``."""


class UnknownIdError(LatentFactorsError, LookupError):
    """A raw user or item id is not known to the model or vocabulary."""

    def __str__(self) -> str:  # LookupError would otherwise repr() a single argument
        return str(self.args[0]) if self.args else ""


class ModelFileError(LatentFactorsError, ValueError):
    """A model file is truncated, corrupted, tampered with, foreign, or of a newer format."""
