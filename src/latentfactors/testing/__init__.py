"""The shared model behaviour suite, shipped so that anyone writing a model can run it.

As scikit-learn ships ``check_estimator``: :func:`check_model` runs every check on one
unfitted model and raises ``AssertionError`` naming the first that fails;
:func:`model_checks` yields ``(name, check)`` pairs to parametrize a test with, one
test per check. Data with known answers come with it: :func:`planted` (explicit
ratings from planted factors) and :func:`checkerboard` (users like items of their own
parity, so the right recommendations are known).

Every model of the library passes it (``tests/models/test_suite.py`` walks the
registry); a model written elsewhere passes it by following the estimator contract
(``FactorModel``: ``__init__`` stores parameters, ``_check_params`` validates them,
``_make_trainer`` returns a :class:`~latentfactors.models._fitting.Trainer`).

Examples
--------
>>> from latentfactors.models import SVD
>>> from latentfactors.testing import check_model
>>> check_model(SVD(n_factors=4, n_epochs=5, random_state=0))  # raises if a check fails
"""

from ._checks import (
    CHECKS,
    check_model,
    checkerboard,
    model_checks,
    planted,
    registered_models,
    small_model,
)

__all__ = [
    "CHECKS",
    "check_model",
    "checkerboard",
    "model_checks",
    "planted",
    "registered_models",
    "small_model",
]
