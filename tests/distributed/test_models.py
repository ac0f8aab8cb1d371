"""Each distributed model against its single-machine twin, on ML-100K and a real cluster."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("dask.dataframe", reason="the distributed tests need latentfactors[dask]")
pytest.importorskip("distributed", reason="the distributed tests need latentfactors[dask]")

from latentfactors import Interactions
from latentfactors.models import ALS, SVD, EarlyStopping, ImplicitALS

from .conftest import assert_same_model


def test_als_matches_single_machine(client, ml_dask, ml_inter):
    from latentfactors import distributed as lfd

    params = dict(n_factors=16, n_epochs=5, random_state=3)
    ref = ALS(**params).fit(ml_inter)
    got = lfd.fit(ALS(**params), ml_dask)
    assert_same_model(got, ref)
    np.testing.assert_allclose(got.history_["train_rmse"], ref.history_["train_rmse"], rtol=1e-9)
    # rows are solved independently: the block count changes the speed, never the model
    one = lfd.fit(ALS(**params), ml_dask, n_blocks=1)
    many = lfd.fit(ALS(**params), ml_dask, n_blocks=7)
    for name in ("user_factors_", "item_factors_", "user_bias_", "item_bias_"):
        np.testing.assert_array_equal(getattr(one, name), getattr(got, name))
        np.testing.assert_array_equal(getattr(many, name), getattr(got, name))


def _assert_same_search(ref, got, few) -> None:
    """The Dask fits' reg search (default and 3 blocks) is the single-machine one's: the
    same slice sizes, candidates, scores and choice."""
    a, b = ref.reg_search_, got.reg_search_
    assert a["validation_users"] == b["validation_users"] > 0
    assert a["validation_interactions"] == b["validation_interactions"] > 0
    assert a["candidates"] == b["candidates"] == few.reg_search_["candidates"]
    np.testing.assert_allclose(b["scores"], a["scores"], atol=1e-4)
    np.testing.assert_allclose(few.reg_search_["scores"], b["scores"], atol=1e-4)
    assert got.reg_ == ref.reg_ == few.reg_


@pytest.mark.parametrize("params", [{}, dict(solver="exact", weighted=False, n_epochs=2)],
                         ids=["auto-cg", "auto-exact-unweighted"])  # fmt: skip
def test_als_reg_search_matches_single_machine(client, ml_dask, ml_inter, params):
    """ALS's default reg="auto": the same slice, scores, choice and model as on one
    machine, whatever the block count."""
    from latentfactors import distributed as lfd

    params = {**dict(n_factors=8, n_epochs=3, random_state=4), **params}
    ref = ALS(**params).fit(ml_inter)
    got = lfd.fit(ALS(**params), ml_dask)
    few = lfd.fit(ALS(**params), ml_dask, n_blocks=3)
    _assert_same_search(ref, got, few)
    assert_same_model(got, ref)
    assert_same_model(few, ref)


@pytest.mark.parametrize("solver", ["exact", "cg"])
def test_als_solvers_unweighted_unbiased(client, ml_dask, ml_inter, solver):
    from latentfactors import distributed as lfd

    for extra in (dict(weighted=False, biased=False), {}):
        params = dict(n_factors=8, n_epochs=3, solver=solver, random_state=0, **extra)
        assert_same_model(lfd.fit(ALS(**params), ml_dask), ALS(**params).fit(ml_inter))


@pytest.mark.parametrize(
    "params",
    [
        dict(solver="cg"),
        dict(solver="cholesky", confidence="linear", alpha=2.0),
        dict(threshold=4.0, compute_loss=True),
        dict(solver="block", block_size=6),
        dict(reg_scaling="frequency", reg=0.02, compute_loss=True),
        dict(reg_scaling="frequency", reg=0.02, solver="block", block_size=8),
        dict(
            reg_scaling="frequency",
            reg=0.05,
            reg_alpha0=0.5,
            reg_nu=0.7,
            solver="cholesky",
            threshold=3.0,
            compute_loss=True,
        ),
        dict(item_bias=True, compute_loss=True),
        dict(
            item_bias=True, reg_scaling="frequency", reg=0.02, solver="cholesky", compute_loss=True
        ),
    ],
    ids=[
        "cg",
        "cholesky-linear",
        "threshold-loss",
        "block",
        "frequency-cg",
        "frequency-block",
        "frequency-cholesky",
        "bias-cg-loss",
        "bias-frequency-cholesky-loss",
    ],
)
def test_implicit_als_matches_single_machine(client, ml_dask, ml_inter, params):
    from latentfactors import distributed as lfd

    params = {"reg": 30.0, **dict(n_factors=16, n_epochs=4, random_state=5, **params)}
    ref = ImplicitALS(**params).fit(ml_inter)
    got = lfd.fit(ImplicitALS(**params), ml_dask)
    assert_same_model(got, ref, atol=1e-5)  # float32 CG: the Gram matrix may round differently
    if params.get("compute_loss"):
        np.testing.assert_allclose(got.history_["train_loss"], ref.history_["train_loss"],
                                   rtol=1e-6)  # fmt: skip


@pytest.mark.parametrize(
    "params",
    [
        {},
        dict(reg_scaling="frequency", threshold=4.0, compute_loss=True),
        dict(reg=[3.0, 300.0, 30.0], solver="cholesky"),
        dict(item_bias=True),
    ],
    ids=["auto", "auto-frequency-threshold", "list-cholesky", "auto-bias"],
)
def test_implicit_als_reg_search_matches_single_machine(client, ml_dask, ml_inter, params):
    """reg="auto" (the default) and a list: the same slice, scores, choice and model as on
    one machine, whatever the block count."""
    from latentfactors import distributed as lfd

    params = dict(n_factors=16, n_epochs=3, random_state=2, **params)
    ref = ImplicitALS(**params).fit(ml_inter)
    got = lfd.fit(ImplicitALS(**params), ml_dask)
    few = lfd.fit(ImplicitALS(**params), ml_dask, n_blocks=3)
    _assert_same_search(ref, got, few)
    # the fit after the search starts again from the seed's factors: the reg=<chosen> model
    assert_same_model(got, ref, atol=1e-5)
    assert_same_model(few, ref, atol=1e-5)
    fixed = lfd.fit(ImplicitALS(**{**params, "reg": ref.reg_}), ml_dask)
    assert_same_model(got, fixed, atol=1e-6)
    if params.get("compute_loss"):
        np.testing.assert_allclose(got.history_["train_loss"], ref.history_["train_loss"],
                                   rtol=1e-6)  # fmt: skip


def test_implicit_als_reg_search_without_a_slice(client):
    """No user with 3 interactions: no slice, the fallback (30), as on one machine."""
    import pandas as pd

    from latentfactors import distributed as lfd
    from latentfactors.data import Interactions

    frame = pd.DataFrame({"user": np.repeat(np.arange(40), 2),
                          "item": np.arange(80) % 13})  # fmt: skip
    params = dict(n_factors=4, n_epochs=2, random_state=0)
    got = lfd.fit(ImplicitALS(**params), frame, client)
    ref = ImplicitALS(**params).fit(Interactions.from_dataframe(frame))
    assert got.reg_ == ref.reg_ == 30.0
    assert got.reg_search_ == ref.reg_search_
    assert got.reg_search_["validation_users"] == 0
    assert_same_model(got, ref, atol=1e-5)


def test_svd_dsgd_matches_single_machine(client, ml_dask, ml_inter):
    """DSGD runs the single-machine SVD's blocks, order and streams: the same model."""
    from latentfactors import distributed as lfd

    params = dict(n_factors=16, n_epochs=5, random_state=2)
    ref = SVD(**params).fit(ml_inter)
    got = lfd.fit(SVD(**params), ml_dask)
    assert_same_model(got, ref, atol=1e-5)
    np.testing.assert_allclose(got.history_["train_rmse"], ref.history_["train_rmse"], rtol=1e-6)
    other = lfd.fit(SVD(n_blocks=3, **params), ml_dask)
    assert_same_model(other, SVD(n_blocks=3, **params).fit(ml_inter), atol=1e-5)
    # 50 factors train padded to 64 on both (models/_strata.py::padded_width)
    wide = dict(n_factors=50, n_epochs=3, random_state=2)
    got = lfd.fit(SVD(**wide), ml_dask)
    assert got.user_factors_.shape[1] == got.item_factors_.shape[1] == 50
    assert_same_model(got, SVD(**wide).fit(ml_inter), atol=1e-5)


def test_held_out_rmse_and_early_stopping(client, ml100k_path):
    """On ML-100K's u1 split, the held-out RMSE of each distributed model equals its twin's
    (well within the noise of the split), with validation and early stopping running."""
    import dask.dataframe as dd
    import pandas as pd

    from latentfactors import distributed as lfd
    from latentfactors.data import Interactions

    names = ["user", "item", "rating", "ts"]
    train = pd.read_csv(ml100k_path / "u1.base", sep="\t", names=names).drop(columns="ts")
    test = pd.read_csv(ml100k_path / "u1.test", sep="\t", names=names).drop(columns="ts")
    tr = Interactions.from_dataframe(train, rating="rating")
    te = Interactions.from_dataframe(test, rating="rating")
    data = lfd.from_dask_dataframe(dd.from_pandas(train, npartitions=3), client, rating="rating")
    for model in (SVD(n_factors=32, n_epochs=12, random_state=0),
                  ALS(n_factors=16, n_epochs=6, random_state=0)):  # fmt: skip
        ref = model.clone().fit(tr, validation=te, callbacks=[EarlyStopping(patience=2)])
        got = lfd.fit(model.clone(), data, validation=te, callbacks=[EarlyStopping(patience=2)])
        rmse_ref = ref.history_["val_rmse"][-1]
        rmse_got = got.history_["val_rmse"][-1]
        assert len(got.history_["epoch"]) == len(ref.history_["epoch"])
        assert rmse_got == pytest.approx(rmse_ref, abs=1e-4)
        assert rmse_got < 0.98  # better than the bias-only floor (0.94 on the full split)


def test_result_is_an_ordinary_model(client, ml_dask, ml_inter, tmp_path):
    import latentfactors as lf
    from latentfactors import distributed as lfd

    params = dict(n_factors=8, n_epochs=3, reg=30.0, random_state=1)
    ref = ImplicitALS(**params).fit(ml_inter)
    got = lfd.fit(ImplicitALS(**params), ml_dask)
    assert got.user_items_ is None  # the rows stayed on the cluster
    user = ml_inter.users.raw[0]
    items, _ = got.recommend(user, n=5, exclude_seen=False)
    ref_items, _ = ref.recommend(user, n=5, exclude_seen=False)
    np.testing.assert_array_equal(items, ref_items)
    path = got.save(tmp_path / "model.lfm")
    back = lf.load(path)
    np.testing.assert_array_equal(back.item_factors_, got.item_factors_)
    # fold-in of a new user works as on any fitted model, and gives the twin's vector
    from latentfactors.data import Interactions

    new = Interactions.from_arrays(["newbie"] * 3, ml_inter.items.raw[:3], weights=[1, 2, 3])
    np.testing.assert_allclose(back.fold_in(new, update=False).factors,
                               ref.fold_in(new, update=False).factors, atol=1e-6)  # fmt: skip
    # keep_seen=True brings the seen items to the client: recommend excludes them
    kept = lfd.fit(ImplicitALS(**params), ml_dask, keep_seen=True)
    assert (kept.user_items_ != ref.user_items_).nnz == 0
    np.testing.assert_array_equal(kept.recommend(user, n=5)[0], ref.recommend(user, n=5)[0])
    svd = lfd.fit(SVD(n_factors=4, n_epochs=2, random_state=0), ml_dask, keep_seen=True)
    assert (svd.user_items_ != ml_inter.csr).nnz == 0


def test_implicit_weights_lastfm(client, lastfm_path):
    """Play counts in a weight column (Last.fm 2K): the same ImplicitALS as on one machine."""
    import dask.dataframe as dd
    import pandas as pd

    from latentfactors import distributed as lfd
    from latentfactors.data import Interactions

    df = pd.read_csv(lastfm_path / "user_artists.dat", sep="\t")
    local = Interactions.from_dataframe(df, user="userID", item="artistID", weight="weight")
    ddf = dd.from_pandas(df.sample(frac=1.0, random_state=1), npartitions=3)
    params = dict(n_factors=16, n_epochs=3, reg=30.0, random_state=0)
    got = lfd.fit(ImplicitALS(**params), ddf, client, user="userID", item="artistID",
                  weight="weight")  # fmt: skip
    assert_same_model(got, ImplicitALS(**params).fit(local), atol=1e-5)


def test_early_stopping_restores_biased_implicit_als(client):
    """ImplicitALS(item_bias=True) on Dask: EarlyStopping's restore writes the best
    epoch's factors and biases back into the trainer's columns, as on one machine."""
    import dask.dataframe as dd

    from latentfactors import distributed as lfd
    from latentfactors.data import make_synthetic, random_split

    data = make_synthetic(60, 40, 800, rank=3, implicit=True, signal_std=2.0, seed=4)
    train, val = random_split(data.interactions, 0.2, seed=0)
    frame = train.to_dataframe()
    ddata = lfd.from_dask_dataframe(dd.from_pandas(frame, npartitions=2), client,
                                    weight="weight")  # fmt: skip
    local = Interactions.from_dataframe(frame, weight="weight")
    model = ImplicitALS(n_factors=8, n_epochs=12, reg=0.01, solver="cholesky", item_bias=True,
                        random_state=0)  # fmt: skip
    stop = dict(patience=1, restore_best=True)
    ref = model.clone().fit(local, validation=val, callbacks=[EarlyStopping(**stop)])
    got = lfd.fit(model.clone(), ddata, validation=val, callbacks=[EarlyStopping(**stop)],
                  n_blocks=2, keep_seen=True)  # fmt: skip
    assert ref.best_epoch_ < len(ref.history_["epoch"]) < model.n_epochs
    assert got.history_["epoch"] == ref.history_["epoch"] and got.best_epoch_ == ref.best_epoch_
    assert_same_model(got, ref, atol=1e-5)
    assert np.any(ref.item_bias_)


def test_early_stopping_restores_the_best_epoch(client, ml_inter):
    """EarlyStopping(restore_best=True) snapshots and restores a distributed trainer's
    arrays (DSGD keeps them in training order) exactly as the single-machine one's."""
    import dask.dataframe as dd

    from latentfactors import distributed as lfd
    from latentfactors.data import random_split

    train, val = random_split(ml_inter, 0.1, seed=0)
    data = lfd.from_dask_dataframe(dd.from_pandas(train.to_dataframe(), npartitions=3),
                                   client, rating="rating")  # fmt: skip
    # settings that overfit within a few epochs, so the fit stops and restores
    for model in (SVD(n_factors=32, n_epochs=30, lr=0.05, reg=0.0, random_state=0),
                  ALS(n_factors=32, n_epochs=10, reg=0.001, weighted=False,
                      random_state=0)):  # fmt: skip
        stop = dict(patience=1, restore_best=True)
        ref = model.clone().fit(train, validation=val, callbacks=[EarlyStopping(**stop)])
        got = lfd.fit(model.clone(), data, validation=val, callbacks=[EarlyStopping(**stop)])
        assert ref.best_epoch_ < len(ref.history_["epoch"]) < model.n_epochs
        assert got.history_["epoch"] == ref.history_["epoch"]
        assert got.best_epoch_ == ref.best_epoch_
        assert_same_model(got, ref, atol=1e-5)


def test_parameters_a_dask_fit_would_ignore_are_refused(client, ml_dask, ml_inter):
    """Every parameter is honoured or refused by name: never a silently different model."""
    from latentfactors import distributed as lfd
    from latentfactors.distributed._fit import HONOURED, check_honoured
    from latentfactors.exceptions import InvalidParameterError

    for cls in (ALS, ImplicitALS, SVD):
        with pytest.raises(InvalidParameterError, match=r"n_threads=2\) is not used by a Dask "
                           r"fit.*--nthreads N.*leave n_threads=None"):  # fmt: skip
            lfd.fit(cls(n_epochs=1, n_threads=2), ml_dask)
        # the honoured ones are real parameters (checked by the twin tests above); one
        # the list lacks is refused unless it keeps its default (below)
        model = cls()
        assert HONOURED[cls.__name__] <= set(model.get_params())
        check_honoured(model)
    # a bad reg is refused as model.fit refuses it, before any work on the cluster
    with pytest.raises(InvalidParameterError, match=r"ImplicitALS\(reg='bogus'\) is not "
                       r"valid: pass a number >= 0, 'auto'"):  # fmt: skip
        lfd.fit(ImplicitALS(n_epochs=1, reg="bogus"), ml_dask)

    # SVD's reg_density reaches DSGD through the fit loop's counts: honoured, not refused
    params = dict(n_factors=4, n_epochs=2, random_state=0, reg_density=50.0)
    assert_same_model(lfd.fit(SVD(**params), ml_dask), SVD(**params).fit(ml_inter), atol=1e-5)

    class NewALS(ALS):  # a newer ALS with a parameter the Dask trainer does not know
        def __init__(self, *, momentum: float = 0.0, **kw) -> None:
            super().__init__(**kw)
            self.momentum = momentum

    NewALS.__name__ = "ALS"
    check_honoured(NewALS(momentum=0.0, reg=1))  # at its default: nothing differs
    with pytest.raises(InvalidParameterError, match=r"ALS\(momentum=0.9\) is not implemented "
                       r"by the Dask fit \(it would be ignored\); leave momentum at its "
                       r"default \(0.0\)"):  # fmt: skip
        check_honoured(NewALS(momentum=0.9))
