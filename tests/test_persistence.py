"""Safe model files: exact round trips for every model, atomic writes, and a clear
ModelFileError (never another exception, a crash or code execution) for every bad file."""

from __future__ import annotations

import hashlib
import importlib
import io
import json
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import latentfactors as lf
from latentfactors import Interactions, ModelFileError, NotFittedError
from latentfactors.data import make_synthetic
from latentfactors.models import (
    BPR,
    SVD,
    Baseline,
    FactorModel,
    ImplicitALS,
    Popularity,
    SVDpp,
)
from latentfactors.persistence import FORMAT_VERSION, load, save

# name -> (factory of a small, fast model; learns from implicit data?)
MODELS: dict[str, tuple[Any, bool]] = {
    "SVD": (lambda: SVD(n_factors=6, n_epochs=5, random_state=0), False),
    "SVDpp": (lambda: SVDpp(n_factors=6, n_epochs=5, random_state=0), False),
    "Baseline": (lambda: Baseline(random_state=0), False),
    "ImplicitALS-cg": (lambda: ImplicitALS(n_factors=6, n_epochs=4, random_state=0), True),
    "ImplicitALS-cholesky": (
        lambda: ImplicitALS(n_factors=6, n_epochs=4, solver="cholesky", random_state=0),
        True,
    ),
    "BPR": (lambda: BPR(n_factors=6, n_epochs=5, random_state=0), True),
    "Popularity": (lambda: Popularity(by="weight"), True),
}


def _register_optional() -> None:
    """ALS, NMF and TruncatedSVD join when their modules import."""
    factories = {
        "ALS": ("als", lambda cls: cls(n_factors=6, n_epochs=4, random_state=0)),
        "NMF": ("nmf", lambda cls: cls(n_factors=6, n_epochs=5, random_state=0)),
        "TruncatedSVD": ("truncated_svd", lambda cls: cls(n_factors=4, random_state=0)),
    }
    for name, (module, make) in factories.items():
        try:
            cls = getattr(importlib.import_module(f"latentfactors.models.{module}"), name)
        except (ImportError, AttributeError):
            continue
        MODELS[name] = ((lambda make=make, cls=cls: make(cls)), False)


_register_optional()


@pytest.fixture(scope="module", autouse=True)
def _one_numba_thread():
    """Kernels on one thread: results are the same on any number, and on a busy machine
    waking a pool of threads for these tiny models costs more than the work."""
    import numba

    before = numba.get_num_threads()
    numba.set_num_threads(1)
    yield
    numba.set_num_threads(before)


# ---------------------------------------------------------------------- data
def _with_ids(data: Interactions, ids: str) -> Interactions:
    """The same interactions with int (as generated), str or object-int raw ids."""
    if ids == "int":
        return data
    users = data.users.raw[data.user_ids]
    items = data.items.raw[data.item_ids]
    if ids == "str":
        users = np.array([f"user {u}" for u in users], dtype=object)
        items = np.array([f"item-{i}-é" for i in items], dtype=object)
    else:  # Python ints in object arrays
        users = np.array([int(u) for u in users], dtype=object)
        items = np.array([int(i) for i in items], dtype=object)
    values = None if data.kind != "explicit" else data.values
    weights = data.values if data.kind != "explicit" else None
    return Interactions.from_arrays(users, items, values, weights=weights)


def _data(implicit: bool, ids: str = "int") -> Interactions:
    data = make_synthetic(200, 120, 3000, implicit=implicit, seed=0).interactions
    return _with_ids(data, ids)


def _new_users(model: FactorModel, implicit: bool, ids: str) -> Interactions:
    """Interactions of two new users and one known user, plus an unknown item."""
    known_items = model.items_.raw[:6].tolist()
    unknown_item = "no such item" if ids == "str" else 10**9
    new = ["new user a", "new user b"] if ids == "str" else [10**6, 10**6 + 1]
    existing = model.users_.raw[3]
    users = [new[0]] * 4 + [new[1]] * 3 + [existing] * 2
    items = [*known_items[:3], unknown_item, *known_items[3:6], *known_items[:2]]
    users = np.array(users, dtype=object)
    items = np.array(items, dtype=object)
    if implicit:
        return Interactions.from_arrays(users, items, weights=[1, 2, 3, 4, 5, 1, 2, 3, 4])
    return Interactions.from_arrays(users, items, [5, 4, 1, 3, 2, 5, 4, 1, 2])


@pytest.fixture(scope="module")
def small_file(tmp_path_factory) -> Path:
    """A real, small model file (string ids, item metadata) to break in many ways."""
    data = _with_ids(make_synthetic(30, 20, 200, seed=1).interactions, "str")
    model = SVD(n_factors=2, n_epochs=2, random_state=0).fit(data)
    meta = pd.DataFrame(
        {"title": [f"Film {k}" for k in range(3)], "genres": [["Drama"], [], ["A", "B"]]},
        index=pd.Index(model.items_.raw[:3].tolist(), name="item"),
    )
    return save(model, tmp_path_factory.mktemp("small") / "small.lfm", items=meta)


@pytest.fixture(scope="module")
def small_model(small_file) -> FactorModel:
    return load(small_file)


# ---------------------------------------------------------------------- helpers
def _outcome(fn, *args, **kwargs):
    """A call's result, or the type and message of the exception it raised."""
    try:
        return "ok", fn(*args, **kwargs)
    except Exception as exc:
        return "error", type(exc), str(exc)


def _assert_equal_results(a, b) -> None:
    if a[0] == "error" or b[0] == "error":
        assert a == b
        return
    ra, rb = a[1], b[1]
    if isinstance(ra, pd.DataFrame):
        pd.testing.assert_frame_equal(ra, rb)
    elif isinstance(ra, tuple):
        assert len(ra) == len(rb)
        for x, y in zip(ra, rb):
            assert np.array_equal(x, y)
            assert np.asarray(x).dtype == np.asarray(y).dtype
    else:
        assert np.array_equal(ra, rb)


def _assert_same_model(a: FactorModel, b: FactorModel, users: list, items: list) -> None:
    """``b`` predicts, recommends, explains and finds neighbours exactly as ``a``."""
    assert type(a) is type(b)
    assert a.get_params() == b.get_params()
    assert a.users_ == b.users_ and a.items_ == b.items_
    assert a.users_.raw.dtype == b.users_.raw.dtype and a.items_.raw.dtype == b.items_.raw.dtype
    assert [type(x) for x in a.users_.raw[:3]] == [type(x) for x in b.users_.raw[:3]]
    assert (a.user_items_ != b.user_items_).nnz == 0
    assert a.user_items_.shape == b.user_items_.shape
    assert (a.user_vectors_ is a.user_factors_) == (b.user_vectors_ is b.user_factors_)
    for key in ("global_mean_", "intercept_", "rating_scale_", "random_state_", "n_train_"):
        assert getattr(a, key) == getattr(b, key)
    assert a.history_ == b.history_ or json.dumps(a.history_) == json.dumps(b.history_)
    # every pair of the given users x items, plus unknown ids (fallbacks)
    uu = np.repeat(np.array([*users, "nobody"], dtype=object), len(items) + 1)
    ii = np.tile(np.array([*items, "nothing"], dtype=object), len(users) + 1)
    pa, ma = a.predict(uu, ii, return_mask=True)
    pb, mb = b.predict(uu, ii, return_mask=True)
    assert np.array_equal(pa, pb) and np.array_equal(ma, mb)
    pd.testing.assert_frame_equal(a.recommend_all(n=7), b.recommend_all(n=7))
    pd.testing.assert_frame_equal(
        a.recommend(users=users, n=5, exclude_seen=False, items=items[:40]),
        b.recommend(users=users, n=5, exclude_seen=False, items=items[:40]),
    )
    calls = [
        ("recommend", users[0], {"n": 5}),
        ("similar_users", users[0], {"n": 4}),
        ("similar_items", items[0], {"n": 5}),
        ("similar_items", items[0], {"n": 5, "metric": "dot"}),
    ]
    for method, arg, kwargs in calls:
        _assert_equal_results(
            _outcome(getattr(a, method), arg, **kwargs), _outcome(getattr(b, method), arg, **kwargs)
        )
    ea, eb = a.explain(users[0], items[1]), b.explain(users[0], items[1])
    assert (ea.user, ea.item, ea.score, ea.note) == (eb.user, eb.item, eb.score, eb.note)
    pd.testing.assert_frame_equal(ea.parts, eb.parts)


# ---------------------------------------------------------------------- round trips
@pytest.mark.parametrize("ids", ["int", "str"])
@pytest.mark.parametrize("name", list(MODELS))
def test_round_trip_is_exact(name, ids, tmp_path):
    make, implicit = MODELS[name]
    data = _data(implicit, ids)
    model = make().fit(data)
    path = model.save(tmp_path / "model.lfm")
    assert path == tmp_path / "model.lfm"
    loaded = load(path)
    assert loaded.item_metadata_ is None
    users = model.users_.raw[:12].tolist()
    items = model.items_.raw.tolist()
    _assert_same_model(model, loaded, users, items)
    # fold-in: the same users get the same factors, and are remembered the same way
    new = _new_users(model, implicit, ids)
    fa, fb = model.fold_in(new), loaded.fold_in(new)
    assert (fa.seen != fb.seen).nnz == 0
    for x, y in zip(fa[:3] + fa[4:], fb[:3] + fb[4:]):
        assert np.array_equal(x, y)
    folded = fa.users.tolist()
    _assert_same_model(model, loaded, folded + users[:2], items)
    # a folded-in user survives a second round trip
    again = load(model.save(tmp_path / "folded.lfm"))
    assert folded[0] in again.users_
    _assert_same_model(model, again, folded + users[:2], items)
    assert np.array_equal(again.user_factors_, model.user_factors_)


def test_object_int_ids_round_trip(tmp_path):
    model = SVD(n_factors=4, n_epochs=3, random_state=0).fit(_data(False, "object-int"))
    assert model.users_.raw.dtype == object
    loaded = load(save(model, tmp_path / "m.lfm"))
    assert loaded.users_.raw.dtype == object
    assert type(loaded.users_.raw[0]) is int
    _assert_same_model(model, loaded, model.users_.raw[:5].tolist(), model.items_.raw.tolist())


def test_every_declared_array_is_saved(tmp_path):
    model = SVDpp(n_factors=4, n_epochs=2, random_state=0).fit(_data(False))
    assert SVDpp.extra_state == {"implicit_factors": "items"}
    model.best_epoch_ = 2
    loaded = load(save(model, tmp_path / "m.lfm"))
    assert loaded.user_vectors_ is not loaded.user_factors_
    assert np.array_equal(loaded.user_vectors_, model.user_vectors_)
    assert np.array_equal(loaded.implicit_factors_, model.implicit_factors_)
    assert np.array_equal(loaded.item_counts_, model.item_counts_)
    assert np.array_equal(loaded.user_counts_, model.user_counts_)
    assert loaded.best_epoch_ == 2
    assert set(loaded.get_state()) == set(model.get_state())
    assert loaded.rating_scale_ == (1.0, 5.0) and isinstance(loaded.rating_scale_, tuple)
    assert loaded.user_factors_.flags.writeable


def test_top_level_functions_and_file_layout(tmp_path):
    model = Baseline().fit(_data(False))
    path = lf.save(model, str(tmp_path / "b.lfm"))
    assert isinstance(lf.load(str(path)), Baseline)
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        manifest = json.loads(zf.read("manifest.json"))
        assert zf.getinfo("arrays.npz").compress_type == zipfile.ZIP_STORED
    assert names == ["manifest.json", "arrays.npz"]
    assert manifest["format_version"] == FORMAT_VERSION
    assert manifest["library_version"] == lf.__version__
    assert manifest["model_class"] == "Baseline"
    assert manifest["params"] == model.get_params()
    assert {"user_factors_", "users.ids", "user_items.indptr"} <= set(manifest["arrays"])
    meta = manifest["arrays"]["user_bias_"]
    assert meta["shape"] == [len(model.users_)] and meta["dtype"] == "<f4"
    assert meta["sha256"] == hashlib.sha256(model.user_bias_.tobytes()).hexdigest()
    assert not list(tmp_path.glob(".*"))  # no temporary file left behind


# ---------------------------------------------------------------------- item metadata
def test_item_metadata_round_trip(tmp_path):
    model = SVD(n_factors=4, n_epochs=2, random_state=0).fit(_data(False, "str"))
    ids = model.items_.raw[:4].tolist()
    meta = pd.DataFrame(
        {
            "title": pd.Series(["Toy Story (1995)", "Amélie", None, '"Quoted"'], dtype="str"),
            "year": pd.Series([1995, 2001, None, 1990], dtype="Int64"),
            "genres": [["Animation", "Comedy"], [], ["Drama"], ["A", "B", "C"]],
            "score": [0.1 + 0.2, float("nan"), 1e-300, -2.5],
            "seen": [True, False, True, True],
            "released": pd.to_datetime(["1995-11-22", "2001-04-25", None, "1990-01-01"]),
        },
        index=pd.Index(ids, name="item"),
    )
    loaded = load(save(model, tmp_path / "m.lfm", items=meta))
    pd.testing.assert_frame_equal(loaded.item_metadata_, meta)
    # saved again with the model by default
    again = load(loaded.save(tmp_path / "again.lfm"))
    pd.testing.assert_frame_equal(again.item_metadata_, meta)


def test_item_metadata_unnamed_and_multi_index(tmp_path):
    model = Baseline().fit(_data(False))
    flat = pd.DataFrame({"title": ["a", "b"]})
    loaded = load(save(model, tmp_path / "a.lfm", items=flat))
    pd.testing.assert_frame_equal(loaded.item_metadata_, flat)
    multi = pd.DataFrame(
        {"title": ["a", "b"]},
        index=pd.MultiIndex.from_tuples([(1, "x"), (2, "y")], names=["item", None]),
    )
    loaded = load(save(model, tmp_path / "b.lfm", items=multi))
    pd.testing.assert_frame_equal(loaded.item_metadata_, multi)


def test_movielens_item_metadata_round_trip(ml100k, tmp_path):
    model = Baseline().fit(ml100k.interactions)
    loaded = load(save(model, tmp_path / "ml.lfm", items=ml100k.items))
    pd.testing.assert_frame_equal(loaded.item_metadata_, ml100k.items)
    assert loaded.item_metadata_.loc[1, "genres"] == ["Animation", "Children's", "Comedy"]


def test_bad_item_metadata_is_refused(tmp_path):
    model = Baseline().fit(_data(False))
    with pytest.raises(lf.InvalidParameterError, match="must be a pandas DataFrame"):
        save(model, tmp_path / "m.lfm", items=[1, 2])
    with pytest.raises(lf.InvalidParameterError, match="names must be strings"):
        save(model, tmp_path / "m.lfm", items=pd.DataFrame({0: [1]}))
    with pytest.raises(lf.InvalidParameterError, match="cannot be stored exactly"):
        save(model, tmp_path / "m.lfm", items=pd.DataFrame({"c": pd.Categorical(["x"])}))
    assert not list(tmp_path.iterdir())


# ---------------------------------------------------------------------- save refusals
def test_save_refuses_what_cannot_be_stored_safely(tmp_path):
    with pytest.raises(NotFittedError):
        save(SVD(), tmp_path / "m.lfm")

    class MySVD(SVD):
        pass

    with pytest.raises(ModelFileError, match="only these model classes can be saved"):
        save(MySVD(n_factors=2, n_epochs=1).fit(_data(False)), tmp_path / "m.lfm")
    with pytest.raises(ModelFileError, match="only these model classes"):
        save(object(), tmp_path / "m.lfm")

    model = SVD(n_factors=2, n_epochs=1, random_state=0).fit(_data(False))
    model.fold_in(Interactions.from_arrays(["a string id"], [model.items_.raw[0]], [4.0]))
    again = load(save(model, tmp_path / "m.lfm"))  # mixed int and str ids are kept as given
    assert again.users_.raw.tolist() == model.users_.raw.tolist()
    assert [type(u) for u in again.users_.raw] == [type(u) for u in model.users_.raw]

    model = SVD(n_factors=2, n_epochs=1, random_state=0).fit(_data(False, "str"))
    model.fold_in(Interactions.from_arrays(["nul\x00", "é" * 300], [model.items_.raw[0]] * 2,
                                           [4.0, 3.0]))  # fmt: skip
    again = load(save(model, tmp_path / "m.lfm"))
    assert again.users_.raw.tolist() == model.users_.raw.tolist()

    # only declared learned state is stored: an attribute someone adds is not
    model = SVD(n_factors=2, n_epochs=1, random_state=0).fit(_data(False))
    model.labels_ = np.array([{"a": 1}], dtype=object)
    assert not hasattr(load(save(model, tmp_path / "m.lfm")), "labels_")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.lfm"]  # no temporary file left


# ---------------------------------------------------------------------- atomic writes
@pytest.mark.parametrize("existing", [False, True])
@pytest.mark.parametrize("where", ["savez", "second member", "fsync", "replace"])
def test_write_is_atomic(where, existing, tmp_path, monkeypatch):
    model = Baseline().fit(_data(False))
    target = tmp_path / "model.lfm"
    before = None
    if existing:
        save(SVD(n_factors=2, n_epochs=1, random_state=0).fit(_data(False)), target)
        before = target.read_bytes()

    def boom(*args, **kwargs):
        raise OSError("disk full")

    if where == "savez":
        monkeypatch.setattr(np, "savez", boom)
    elif where == "second member":
        real = zipfile.ZipFile.writestr
        calls = []

        def writestr(self, *args, **kwargs):
            calls.append(1)
            if len(calls) == 2:  # the first member is already written
                raise OSError("disk full")
            return real(self, *args, **kwargs)

        monkeypatch.setattr(zipfile.ZipFile, "writestr", writestr)
    elif where == "fsync":
        monkeypatch.setattr(os, "fsync", boom)
    else:
        monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        save(model, target)
    monkeypatch.undo()
    assert [p.name for p in tmp_path.iterdir()] == (["model.lfm"] if existing else [])
    if existing:
        assert target.read_bytes() == before
        assert isinstance(load(target), SVD)


def test_save_needs_an_existing_folder(tmp_path):
    model = Baseline().fit(_data(False))
    with pytest.raises(FileNotFoundError, match="no folder"):
        save(model, tmp_path / "missing" / "m.lfm")
    with pytest.raises(IsADirectoryError):
        save(model, tmp_path)
    assert not list(tmp_path.iterdir())


# ---------------------------------------------------------------------- bad files
def _members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def _write_zip(path: Path, members: dict[str, bytes], stored: tuple[str, ...] = ("arrays.npz",)):
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            kind = zipfile.ZIP_STORED if name in stored else zipfile.ZIP_DEFLATED
            zf.writestr(name, data, compress_type=kind)
    return path


def _npz(arrays: dict[str, np.ndarray]) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)  # pickles object arrays, as an attacker's file would
    return buf.getvalue()


def _arrays(members: dict[str, bytes]) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(members["arrays.npz"]), allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}


def _forge(src: Path, dst: Path, edit_manifest=None, edit_arrays=None, rehash=False) -> Path:
    """A copy of ``src`` with its manifest and/or arrays edited (and, with ``rehash``,
    the manifest updated to match the arrays, as a deliberate forger would)."""
    members = _members(src)
    manifest = json.loads(members["manifest.json"])
    if edit_arrays is not None:
        arrays = _arrays(members)
        edit_arrays(arrays)
        members["arrays.npz"] = _npz(arrays)
        if rehash:
            manifest["arrays"] = {
                k: {
                    "shape": list(a.shape),
                    "dtype": a.dtype.str,
                    "sha256": hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest(),
                }
                for k, a in arrays.items()
            }
    if edit_manifest is not None:
        edit_manifest(manifest)
    members["manifest.json"] = json.dumps(manifest).encode()
    return _write_zip(dst, members)


def test_forge_without_edits_loads(small_file, tmp_path):
    assert isinstance(load(_forge(small_file, tmp_path / "copy.lfm")), SVD)


def test_missing_file(tmp_path):
    with pytest.raises(ModelFileError, match="no such model file"):
        load(tmp_path / "absent.lfm")
    with pytest.raises(ModelFileError, match="is not a file"):
        load(tmp_path)
    with pytest.raises(ModelFileError, match="not a path"):
        load(None)


def test_foreign_file(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hello, I am not a model\n")
    with pytest.raises(ModelFileError, match=r"not a latentfactors model file \(not a zip"):
        load(path)
    (tmp_path / "empty.lfm").write_bytes(b"")
    with pytest.raises(ModelFileError, match="is empty"):
        load(tmp_path / "empty.lfm")


def test_zip_without_manifest(tmp_path):
    path = _write_zip(tmp_path / "other.zip", {"readme.txt": b"hi"})
    with pytest.raises(ModelFileError, match="not a latentfactors model file \\(no manifest.json"):
        load(path)


def test_foreign_manifest(tmp_path):
    path = _write_zip(tmp_path / "ext.zip", {"manifest.json": b'{"name": "a browser extension"}'})
    with pytest.raises(ModelFileError, match="not a latentfactors model file"):
        load(path)


def test_invalid_json(small_file, tmp_path):
    members = _members(small_file)
    members["manifest.json"] = members["manifest.json"][:-10]
    with pytest.raises(ModelFileError, match="manifest.json is not valid JSON"):
        load(_write_zip(tmp_path / "bad.lfm", members))
    members["manifest.json"] = b"\xff\xfe not utf-8"
    with pytest.raises(ModelFileError, match="manifest.json is not valid JSON"):
        load(_write_zip(tmp_path / "bad.lfm", members))


@pytest.mark.parametrize("key", ["model_class", "arrays", "params", "vocabularies"])
def test_manifest_missing_keys(small_file, tmp_path, key):
    path = _forge(small_file, tmp_path / "bad.lfm", lambda m: m.pop(key))
    with pytest.raises(ModelFileError, match=f"manifest.json lacks '{key}'"):
        load(path)


def test_malformed_manifest_values(small_file, tmp_path):
    def edit(m):
        m["arrays"]["item_bias_"]["shape"] = "huge"

    with pytest.raises(ModelFileError, match="describes array 'item_bias_' badly"):
        load(_forge(small_file, tmp_path / "bad.lfm", edit))
    with pytest.raises(ModelFileError, match="malformed 'params'"):
        load(_forge(small_file, tmp_path / "bad.lfm", lambda m: m.update(params=[1])))


@pytest.mark.parametrize("cls_name", ["Evil", "os.system", "FactorModel", 3])
def test_unknown_model_class(small_file, tmp_path, cls_name):
    path = _forge(small_file, tmp_path / "bad.lfm", lambda m: m.update(model_class=cls_name))
    with pytest.raises(ModelFileError, match="unknown model class") as info:
        load(path)
    from latentfactors._registry import class_names

    assert ", ".join(class_names()) in str(info.value)
    assert "SVD, SVDpp" in str(info.value)


def test_missing_model_module_breaks_no_other_class(small_file, tmp_path, monkeypatch):
    import latentfactors.persistence as persistence
    from latentfactors import _registry

    ghost = _registry.ModelEntry("ghost", "Ghost", "latentfactors.models.ghost_not_written_yet")
    monkeypatch.setattr(_registry, "_BY_CLASS", {**_registry._BY_CLASS, "Ghost": ghost})
    assert persistence.load is not None
    assert isinstance(load(small_file), SVD)
    path = _forge(small_file, tmp_path / "ghost.lfm", lambda m: m.update(model_class="Ghost"))
    with pytest.raises(ModelFileError, match="model class Ghost is not available"):
        load(path)


def test_newer_format_version(small_file, tmp_path):
    def edit(m):
        m["format_version"] = FORMAT_VERSION + 1
        m["new_key_we_do_not_know"] = {}
        del m["arrays"]  # a newer format may look different: the version is checked first

    path = _forge(small_file, tmp_path / "new.lfm", edit)
    expected = rf"written by a newer latentfactors \(format {FORMAT_VERSION + 1} > "
    with pytest.raises(ModelFileError, match=expected + rf"{FORMAT_VERSION}\); upgrade"):
        load(path)
    path = _forge(small_file, tmp_path / "new.lfm", lambda m: m.update(format_version="1"))
    with pytest.raises(ModelFileError, match="bad format version"):
        load(path)


def test_array_missing(small_file, tmp_path):
    path = _forge(small_file, tmp_path / "bad.lfm", None, lambda a: a.pop("item_bias_"))
    with pytest.raises(ModelFileError, match="array 'item_bias_' is missing"):
        load(path)
    # gone from both the npz and the manifest: still missing
    path = _forge(small_file, tmp_path / "bad.lfm", None, lambda a: a.pop("item_bias_"), True)
    with pytest.raises(ModelFileError, match="array 'item_bias_' is missing"):
        load(path)
    members = _members(small_file)
    del members["arrays.npz"]
    with pytest.raises(ModelFileError, match="arrays.npz is missing"):
        load(_write_zip(tmp_path / "bad.lfm", members))


def test_undeclared_array(small_file, tmp_path):
    path = _forge(small_file, tmp_path / "bad.lfm", None, lambda a: a.update(x_=np.zeros(2)))
    with pytest.raises(ModelFileError, match="undeclared array 'x_'"):
        load(path)


def test_shape_mismatch(small_file, tmp_path):
    def edit(a):
        a["item_bias_"] = a["item_bias_"][:-1]

    with pytest.raises(ModelFileError, match=r"array 'item_bias_' is <f4\[19\] but the manifest"):
        load(_forge(small_file, tmp_path / "bad.lfm", None, edit))


def test_dtype_mismatch(small_file, tmp_path):
    def edit(a):
        a["item_bias_"] = a["item_bias_"].astype(np.float64)

    with pytest.raises(ModelFileError, match=r"array 'item_bias_' is <f8\[20\] but the manifest"):
        load(_forge(small_file, tmp_path / "bad.lfm", None, edit))


def test_sha256_mismatch(small_file, tmp_path):
    def edit(a):
        a["item_factors_"][3, 1] += 1.0

    with pytest.raises(ModelFileError, match="sha256 checksum mismatch in array 'item_factors_'"):
        load(_forge(small_file, tmp_path / "tampered.lfm", None, edit))


@pytest.mark.parametrize("keep", [0.0, 0.05, 0.5, 0.9, 0.999])
def test_truncated_file(small_file, tmp_path, keep):
    data = small_file.read_bytes()
    path = tmp_path / "cut.lfm"
    path.write_bytes(data[: max(1, int(len(data) * keep))])
    with pytest.raises(ModelFileError, match="truncated"):
        load(path)


def test_corrupted_bytes_fail_the_zip_crc(small_file, tmp_path):
    data = bytearray(small_file.read_bytes())
    with zipfile.ZipFile(small_file) as zf:
        info = zf.getinfo("arrays.npz")
    data[info.header_offset + 30 + len(info.filename) + 500] ^= 0xFF
    path = tmp_path / "flipped.lfm"
    path.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="arrays.npz is corrupted or truncated"):
        load(path)


calls: list[str] = []


def _pwned(tag: str) -> str:
    calls.append(tag)
    return tag


class _Payload:
    """Unpickling this would call ``_pwned``: the test fails if that ever happens."""

    def __reduce__(self):
        return (_pwned, ("code ran",))


def test_npz_with_object_arrays_is_never_unpickled(small_file, tmp_path):
    members = _members(small_file)
    arrays = _arrays(members)
    arrays["item_bias_"] = np.array([_Payload()] * 20, dtype=object)
    members["arrays.npz"] = _npz(arrays)
    manifest = json.loads(members["manifest.json"])
    manifest["arrays"]["item_bias_"]["dtype"] = "|O"
    members["manifest.json"] = json.dumps(manifest).encode()
    with pytest.raises(ModelFileError, match="'item_bias_' holds Python objects"):
        load(_write_zip(tmp_path / "evil.lfm", members))
    assert calls == []


def test_huge_declared_shapes_allocate_nothing(small_file, tmp_path):
    def edit(m):
        m["arrays"]["user_factors_"]["shape"] = [10**12, 10**9]

    with pytest.raises(ModelFileError, match="'user_factors_' is <f4"):
        load(_forge(small_file, tmp_path / "huge.lfm", edit))
    # a forged npy header asking for 4 TB, with a manifest that agrees
    members = _members(small_file)
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f4", "fortran_order": False, "shape": (10**12,)}
    )
    inner = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(members["arrays.npz"])) as src,
        zipfile.ZipFile(inner, "w") as dst,
    ):
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "item_bias_.npy":
                data = header.getvalue() + b"\0" * 80
            dst.writestr(info.filename, data)
    members["arrays.npz"] = inner.getvalue()
    manifest = json.loads(members["manifest.json"])
    manifest["arrays"]["item_bias_"]["shape"] = [10**12]
    members["manifest.json"] = json.dumps(manifest).encode()
    with pytest.raises(ModelFileError, match="declares 4000000000000 bytes of data"):
        load(_write_zip(tmp_path / "huge.lfm", members))


def test_compressed_arrays_are_refused(small_file, tmp_path):
    path = _write_zip(tmp_path / "deflated.lfm", _members(small_file), stored=())
    with pytest.raises(ModelFileError, match="must be stored uncompressed"):
        load(path)


def test_forged_but_consistent_files_cannot_break_kernels(small_file, tmp_path):
    """Checksums recomputed by a forger: the structural checks still hold."""

    def bad_indices(a):
        a["user_items.indices"][0] = 10**6

    with pytest.raises(ModelFileError, match="interaction matrix is invalid"):
        load(_forge(small_file, tmp_path / "f.lfm", None, bad_indices, rehash=True))

    def short_items(a):
        a["item_factors_"] = a["item_factors_"][:5]

    with pytest.raises(ModelFileError, match="factor shapes"):
        load(_forge(small_file, tmp_path / "f.lfm", None, short_items, rehash=True))

    def duplicate_ids(a):  # string ids: utf8 bytes with offsets; make id 1 a copy of id 0
        ids, off = a["users.ids"], a["users.offsets"]
        first, second = ids[off[0] : off[1]], ids[off[1] : off[2]]
        assert len(first) == len(second)
        ids[off[1] : off[2]] = first

    with pytest.raises(ModelFileError, match="bad users ids"):
        load(_forge(small_file, tmp_path / "f.lfm", None, duplicate_ids, rehash=True))

    def method_name(a):
        a["n_factors_"] = np.zeros(2)

    with pytest.raises(ModelFileError, match=r"unexpected array\(s\) \['n_factors_'\]"):
        load(_forge(small_file, tmp_path / "f.lfm", None, method_name, rehash=True))


def test_forged_attributes_and_parameters(small_file, tmp_path):
    def dunder(m):
        m["attributes"]["__class__"] = "x"

    with pytest.raises(ModelFileError, match="unexpected attribute '__class__'"):
        load(_forge(small_file, tmp_path / "f.lfm", dunder))
    with pytest.raises(ModelFileError, match="unexpected attribute 'predict'"):
        load(_forge(small_file, tmp_path / "f.lfm", lambda m: m["attributes"].update(predict=1)))

    def bad_param(m):
        m["params"]["n_factors"] = -3

    with pytest.raises(ModelFileError, match="invalid parameters for SVD"):
        load(_forge(small_file, tmp_path / "f.lfm", bad_param))
    with pytest.raises(ModelFileError, match="are not parameters of SVD"):
        load(_forge(small_file, tmp_path / "f.lfm", lambda m: m["params"].update(evil=1)))

    def bad_scale(m):
        m["attributes"]["rating_scale_"] = ["a", "b"]

    with pytest.raises(
        ModelFileError, match="rating_scale_ is not a pair of numbers|'rating_scale' must be"
    ):
        load(_forge(small_file, tmp_path / "f.lfm", bad_scale))


# ---------------------------------------------------------------------- fuzzing
_MUTATION = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 1 << 30), st.integers(0, 7)),
    st.tuples(st.just("truncate"), st.integers(0, 1 << 30), st.just(0)),
    st.tuples(st.just("insert"), st.integers(0, 1 << 30), st.integers(0, 255)),
    st.tuples(st.just("delete"), st.integers(0, 1 << 30), st.just(0)),
)


def _mutate(data: bytes, mutations: list[tuple[str, int, int]]) -> bytes:
    buf = bytearray(data)
    for kind, pos, arg in mutations:
        if kind == "insert":
            buf.insert(pos % (len(buf) + 1), arg)
        elif not buf:
            continue
        elif kind == "flip":
            buf[pos % len(buf)] ^= 1 << arg
        elif kind == "truncate":
            del buf[pos % len(buf) :]
        else:
            del buf[pos % len(buf)]
    return bytes(buf)


def _load_or_model_file_error(path: Path, original: FactorModel | None) -> None:
    try:
        model = load(path)
    except ModelFileError:
        return
    assert isinstance(model, SVD)
    if original is not None:  # behind the zip's CRCs, only harmless bytes can change
        users, items = original.users_.raw[:5], original.items_.raw[:5]
        assert np.array_equal(model.predict(users, items), original.predict(users, items))


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(mutations=st.lists(_MUTATION, min_size=1, max_size=20))
def test_fuzzed_files_load_or_raise_model_file_error(small_file, small_model, tmp_path, mutations):
    path = tmp_path / "fuzzed.lfm"
    path.write_bytes(_mutate(small_file.read_bytes(), mutations))
    _load_or_model_file_error(path, small_model)


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    member=st.sampled_from(["manifest.json", "arrays.npz", "items.json"]),
    mutations=st.lists(_MUTATION, min_size=1, max_size=20),
)
def test_fuzzed_members_behind_valid_crcs(small_file, tmp_path, member, mutations):
    """The same, with the damage inside one member and the zip rebuilt around it (so its
    CRC is right): the manifest, npz and metadata parsers face the mutations directly. A
    mutated manifest may still load (a changed history value is still a valid model file)."""
    members = _members(small_file)
    members[member] = _mutate(members[member], mutations)
    path = _write_zip(tmp_path / "fuzzed.lfm", members)
    _load_or_model_file_error(path, None)
