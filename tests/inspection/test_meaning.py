"""Do the factors mean anything? Genre structure on MovieLens 100K against chance, and
recovery of planted factor subspaces on synthetic data."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.linalg import subspace_angles
from threadpoolctl import threadpool_limits

import latentfactors as lf
from latentfactors.data import make_synthetic
from latentfactors.exceptions import InvalidParameterError
from latentfactors.inspection import (
    cluster_items,
    cluster_users,
    genre_association,
    genre_signal,
    principal_item_axes,
)

pytest.importorskip("sklearn")


# ---------------------------------------------------------------------- MovieLens 100K
def test_item_clusters_are_purer_in_genre_than_random(ml_fit, record_property):
    model, items, _, _ = ml_fit
    res = cluster_items(model, items, seed=0)
    purity = res.genre_purity()
    random_mean = res.random_purity(seed=0, n_shuffles=20)
    each = [res.random_purity(seed=s, n_shuffles=1) for s in range(20)]
    msg = (f"k={res.k} silhouette={res.silhouette:.3f}: genre purity {purity:.3f} vs random "
           f"{random_mean:.3f} (20 shuffles, max {max(each):.3f})")  # fmt: skip
    print(msg)
    record_property("cluster_purity", round(purity, 4))
    record_property("random_purity", round(random_mean, 4))
    # measured: 0.441 vs 0.401 (shuffles within +-0.01): purer than every random clustering
    assert purity > max(each), msg
    assert purity > random_mean + 0.015, msg


def test_item_cluster_result_is_complete(ml_fit):
    model, items, _, _ = ml_fit
    res = cluster_items(model, items, k=6, seed=0)
    assert res.k == 6 and list(res.silhouette_by_k) == [6]
    counts = np.bincount(model.user_items_.indices, minlength=len(model.items_))
    assert len(res.labels) == int((counts >= 20).sum()) == int(res.sizes.sum())
    assert set(res.labels.index) <= set(items.index)  # raw MovieLens ids
    assert list(res.sizes) == sorted(res.sizes, reverse=True)  # numbered by size
    assert res.representatives.groupby("cluster").size().tolist() == [5] * 6
    assert res.representatives["label"].str.contains(r"\(\d{4}\)").all()  # titles with years
    assert res.attribute == "genres" and res.enrichment.shape == (6, len(res.base_rate))
    # enrichment is share in cluster over base rate; sizes weight back to the base rate
    back = (res.shares.mul(res.sizes, axis=0).sum() / res.sizes.sum()).to_numpy()
    np.testing.assert_allclose(back, res.base_rate.to_numpy(), atol=1e-12)
    summary = res.summary()
    assert list(summary.columns) == ["cluster", "size", "top", "members"]
    assert all("x" in t for tops in summary["top"] for t in tops)


def test_user_clusters(ml_fit):
    model, _, _, _ = ml_fit
    res = cluster_users(model, k_range=range(3, 6), seed=0)
    assert 3 <= res.k <= 5 and res.kind == "user"
    assert set(res.labels.index) <= set(model.users_.raw)
    assert res.enrichment is None
    with pytest.raises(InvalidParameterError, match="genre_purity"):
        res.genre_purity()


def _max_abs_r(coords: np.ndarray, ind: np.ndarray) -> float:
    A = (coords - coords.mean(0)) / coords.std(0)
    keep = ind.std(0) > 0
    G = (ind[:, keep] - ind[:, keep].mean(0)) / ind[:, keep].std(0)
    return float(np.abs(A.T @ G / len(A)).max())


def test_a_principal_axis_tracks_a_genre_beyond_shuffled_factors(ml_fit, record_property):
    model, items, _, _ = ml_fit
    # independent computation: axes' |r| with genre indicators, then with the items'
    # factor rows shuffled (same factors, link to the items broken)
    # (one BLAS thread: after numba's parallel kernels, threaded BLAS crawls on small CI boxes)
    with threadpool_limits(limits=1):
        coords, _, rows = principal_item_axes(model, min_count=20)
        genres = items["genres"].reindex(model.items_.ids(rows))
        names = sorted({g for gs in genres for g in gs})
        ind = np.array([[g in gs for g in names] for gs in genres], dtype=float)
        observed = _max_abs_r(coords[:, :5], ind)
        rng = np.random.default_rng(0)
        Q = model.item_factors_.astype(np.float64)
        shuffled = []
        for _ in range(20):
            P = Q[rows][rng.permutation(len(rows))]
            P = P - P.mean(0)
            _, _, vt = np.linalg.svd(P, full_matrices=False)
            shuffled.append(_max_abs_r((P @ vt.T)[:, :5], ind))
        direct = genre_association(model, items).abs().max().max()
    msg = (f"strongest |r| {observed:.3f} vs shuffled mean {np.mean(shuffled):.3f}, "
           f"max {max(shuffled):.3f}")  # fmt: skip
    print(msg)
    record_property("genre_max_abs_r", round(observed, 4))
    record_property("shuffled_max_abs_r", round(max(shuffled), 4))
    # measured: 0.317 (Drama, axis 3) vs shuffled mean 0.09, max 0.11
    assert observed > 2 * max(shuffled), msg
    # the library's version agrees
    sig = genre_signal(model, items, n_axes=5, min_count=20, n_shuffles=20, seed=0)
    assert sig.strongest == pytest.approx(observed, abs=1e-9)
    assert sig.strongest == pytest.approx(direct)
    assert sig.strongest > 2 * sig.shuffled_max
    assert sig.table["abs_r"].iloc[0] == pytest.approx(sig.strongest)
    assert "beyond chance" in sig.describe()


# ---------------------------------------------------------------------- planted factors
def _cosines(model, syn) -> np.ndarray:
    """Cosines of the principal angles between span(learned item factors) and
    span(planted item factors), over the items present in the training data."""
    raw = np.asarray(model.items_.raw, dtype=np.int64)
    learned = model.item_factors_.astype(np.float64)
    planted = syn.item_factors[raw].astype(np.float64)
    return np.sort(np.cos(subspace_angles(learned, planted)))


@pytest.fixture(scope="module")
def planted():
    return make_synthetic(1000, 300, 30_000, rank=4, noise=0.1, seed=0)


@pytest.mark.parametrize(
    ("cls", "threshold"),
    # measured smallest cosines: SVD 0.976, ALS 0.987
    [(lf.SVD, 0.95), (lf.ALS, 0.95)],
)
def test_learned_subspace_matches_planted(planted, cls, threshold):
    model = cls(n_factors=4, random_state=0).fit(planted.interactions)
    cos = _cosines(model, planted)
    print(f"{cls.__name__}: cosines of principal angles {np.round(cos, 4).tolist()}")
    assert len(cos) == 4 and cos.min() > threshold, cos


def test_implicit_als_subspace_matches_planted():
    syn = make_synthetic(1000, 300, 30_000, rank=4, implicit=True, signal_std=2.0, seed=0)
    model = lf.ImplicitALS(n_factors=4, random_state=0).fit(syn.interactions)
    cos = _cosines(model, syn)
    print(f"ImplicitALS: cosines of principal angles {np.round(cos, 4).tolist()}")
    # measured: [0.024, 0.925, 0.928, 0.945]. Without biases, implicit ALS spends one
    # dimension on popularity (which items get consumed at all), so with n_factors equal
    # to the planted rank it recovers three planted directions and popularity:
    assert cos[1:].min() > 0.88, cos
    raw = np.asarray(model.items_.raw, dtype=np.int64)
    with_popularity = np.column_stack(
        [syn.item_factors[raw], np.log(syn.interactions.item_counts)]
    ).astype(np.float64)
    cos_pop = np.cos(subspace_angles(model.item_factors_.astype(np.float64), with_popularity))
    print(f"ImplicitALS vs planted + log popularity: {np.round(np.sort(cos_pop), 4).tolist()}")
    assert cos_pop.min() > 0.88, cos_pop  # measured min 0.918
    # one more factor makes room for all four planted directions (measured min 0.914)
    wider = lf.ImplicitALS(n_factors=5, random_state=0).fit(syn.interactions)
    cos5 = _cosines(wider, syn)
    print(f"ImplicitALS, 5 factors: {np.round(cos5, 4).tolist()}")
    assert cos5.min() > 0.88, cos5


def test_genre_association_takes_tuples_and_arrays_as_lists():
    """A genres column read back from Parquet holds NumPy arrays; tuples are common too:
    both give the table that lists give (arrays used to give an empty one)."""
    import pandas as pd

    syn = make_synthetic(200, 80, 4000, seed=0)
    model = lf.models.SVD(n_factors=4, n_epochs=5, random_state=0).fit(syn.interactions)
    genres = [["a", "c"] if i % 2 else ["b"] for i in range(80)]
    ids = model.items_.raw
    as_lists = pd.DataFrame({"genres": genres}, index=range(80)).reindex(ids)
    expected = genre_association(model, as_lists, n_axes=2, min_count=5)
    assert list(expected.columns) == ["a", "b", "c"] and expected.notna().all().all()
    for convert in (tuple, np.array):
        other = as_lists.assign(genres=[convert(g) for g in as_lists["genres"]])
        got = genre_association(model, other, n_axes=2, min_count=5)
        pd.testing.assert_frame_equal(got, expected)
        sig = genre_signal(model, other, n_axes=2, min_count=5, n_shuffles=2)
        assert sig.strongest == pytest.approx(expected.abs().max().max())
    with pytest.raises(InvalidParameterError, match=r"min_count=10000 leaves 0 item\(s\)"):
        genre_association(model, as_lists, min_count=10_000)
