"""Fixtures for the inspection tests: one SVD fitted on 80% of MovieLens 100K."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def ml_fit(ml100k):
    """(model, items, train, test): default SVD(random_state=0) on the 80% split (seed 0).

    Fitted with the test rows as validation data, which only adds the validation curve
    to ``history_`` (the learned factors are the same).
    """
    import latentfactors as lf

    train, test = lf.random_split(ml100k.interactions, 0.2, seed=0)
    model = lf.SVD(random_state=0).fit(train, validation=test)
    return model, ml100k.items, train, test
