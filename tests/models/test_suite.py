"""Every registered model passes the shipped behaviour suite (latentfactors.testing)."""

from __future__ import annotations

import pytest

from latentfactors import _registry
from latentfactors.models import SVD
from latentfactors.testing import (
    CHECKS,
    check_model,
    model_checks,
    registered_models,
    small_model,
)

MODELS = registered_models()
CASES = [(name, check.__name__) for name in sorted(MODELS) for check in CHECKS]


def test_every_registry_entry_imports():
    assert sorted(MODELS) == _registry.class_names()


@pytest.mark.parametrize(("name", "check"), CASES)
def test_model_passes(name, check):
    model = small_model(MODELS[name])
    dict(model_checks(model))[check]()


def test_check_model_names_the_failing_check():
    class SeesAll(SVD):
        """Forgets to leave out seen items: the suite must say which check fails."""

        def recommend(self, user=None, n=10, **kw):
            kw["exclude_seen"] = False
            return super().recommend(user, n, **kw)

    check_model(SVD(n_factors=4, n_epochs=3, random_state=0))
    with pytest.raises(AssertionError, match="SeesAll fails check_recommend"):
        check_model(SeesAll(n_factors=4, n_epochs=3, random_state=0))


def test_a_model_that_ignores_its_seed_fails():
    class Unseeded(SVD):
        def fit(self, train, **kw):
            self.random_state = None  # draws a fresh seed every time
            return super().fit(train, **kw)

    with pytest.raises(AssertionError, match="fails check_same_seed_same_model"):
        check_model(Unseeded(n_factors=4, n_epochs=3, random_state=0))
