"""Model files: exact round trips for every model, and every kind of bad file."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import latentfactors as lf
from latentfactors import Interactions, ModelFileError, load, save
from latentfactors.data import make_synthetic

from .models.test_common import ALL, ALL_NAMES


@pytest.fixture(scope="module")
def datasets():
    explicit = make_synthetic(150, 90, 2500, seed=0).interactions
    implicit = make_synthetic(150, 90, 2500, implicit=True, seed=0).interactions
    return {"explicit": explicit, "implicit": implicit}


def fitted(name, datasets):
    factory, kind = ALL[name]
    return factory().fit(datasets[kind]), datasets[kind]


@pytest.mark.parametrize("name", ALL_NAMES)
def test_round_trip_is_exact(name, datasets, tmp_path):
    model, data = fitted(name, datasets)
    path = model.save(tmp_path / "m.lfm")
    again = load(path)
    assert type(again) is type(model) and again.get_params() == model.get_params()
    users, items = data.users.raw[:20], data.items.raw[:20]
    assert np.array_equal(again.predict(users, items), model.predict(users, items))
    pd.testing.assert_frame_equal(again.recommend_all(n=5), model.recommend_all(n=5))
    if model.item_factors_.shape[1]:
        a, b = model.similar_items(items[0], n=5), again.similar_items(items[0], n=5)
        assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    ea, eb = model.explain(users[0], items[1]), again.explain(users[0], items[1])
    assert ea.score == eb.score
    pd.testing.assert_frame_equal(ea.parts, eb.parts)
    assert again.history_ == json.loads(json.dumps(model.history_))
    new = data.subset(data.user_ids == 3)
    fa, fb = model.fold_in(new, update=False), again.fold_in(new, update=False)
    np.testing.assert_array_equal(fa.factors, fb.factors)


def test_string_ids_metadata_and_folded_users_survive(tmp_path):
    df = pd.DataFrame({"user": ["ann", "ann", "bob", "bob", "cid", "cid", "dee"],
                       "item": ["x", "y", "x", "z", "y", "z", "x"],
                       "rating": [5, 3, 4, 2, 1, 5, 4]})  # fmt: skip
    data = Interactions.from_dataframe(df, rating="rating")
    model = lf.SVD(n_factors=2, n_epochs=5, random_state=0).fit(data)
    model.fold_in(Interactions.from_arrays(["eve", "eve"], ["x", "z"], ratings=[5, 1]))
    items = pd.DataFrame({"title": ["X!", "Y!", "Z!"], "genres": [["a"], [], ["b", "c"]]},
                         index=pd.Index(["x", "y", "z"], name="item"))  # fmt: skip
    again = load(save(model, tmp_path / "s.lfm", items=items))
    assert again.users_.raw.tolist() == ["ann", "bob", "cid", "dee", "eve"]
    assert isinstance(again.users_.raw[0], str)
    assert np.array_equal(again.recommend("eve", n=3)[0], model.recommend("eve", n=3)[0])
    assert again.item_metadata_.loc["z", "genres"] == ["b", "c"]
    assert again.item_metadata_.loc["x", "title"] == "X!"
    # a loaded model saves again without losing the metadata
    assert load(again.save(tmp_path / "t.lfm")).item_metadata_.equals(again.item_metadata_)


def test_mixed_ids_cannot_be_saved(tmp_path):
    data = Interactions.from_arrays(np.array([1, "a"], dtype=object), [1, 2], ratings=[1, 2])
    model = lf.Baseline().fit(data)
    with pytest.raises(
        ModelFileError,
        match=r"cannot save user ids of mixed or unsupported "
        r"types \(int, str\)",
    ):
        model.save(tmp_path / "m.lfm")
    assert not (tmp_path / "m.lfm").exists()


def test_write_is_atomic(tmp_path, monkeypatch, datasets):
    model, _ = fitted("SVD", datasets)
    target = tmp_path / "m.lfm"
    target.write_bytes(b"previous contents")

    def boom(self, *args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(zipfile.ZipFile, "writestr", boom)
    with pytest.raises(OSError, match="disk full"):
        model.save(target)
    assert target.read_bytes() == b"previous contents"
    assert [p.name for p in tmp_path.iterdir()] == ["m.lfm"]


def test_save_before_fit():
    with pytest.raises(lf.NotFittedError, match=r"before save\(\)"):
        lf.SVD().save("x.lfm")


# ------------------------------------------------------------------ bad files
@pytest.fixture(scope="module")
def good_bytes(datasets, tmp_path_factory):
    model, _ = fitted("SVD", datasets)
    path = tmp_path_factory.mktemp("good") / "m.lfm"
    model.save(path)
    return path.read_bytes()


def rewrite(good: bytes, edit) -> bytes:
    """Re-pack the zip with ``edit(members)`` applied to its {name: bytes} dict."""
    with zipfile.ZipFile(io.BytesIO(good)) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    edit(members)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for n, b in members.items():
            zf.writestr(n, b)
    return out.getvalue()


def edit_manifest(fn):
    def edit(members):
        m = json.loads(members["manifest.json"])
        fn(m)
        members["manifest.json"] = json.dumps(m).encode()

    return edit


def tamper_array(members):
    buf = io.BytesIO(members["arrays.npz"])
    with np.load(buf, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["item_factors_"] = arrays["item_factors_"] + 1
    out = io.BytesIO()
    np.savez(out, **arrays)
    members["arrays.npz"] = out.getvalue()


def object_array(members):
    out = io.BytesIO()
    np.savez(out, user_factors_=np.array([{"a": 1}], dtype=object))
    members["arrays.npz"] = out.getvalue()


CASES = {
    "missing": (None, r"no such model file"),
    "foreign": (lambda g: b"hello, I am a text file", r"is not a latentfactors model file "
                r"\(not a zip archive\)"),
    "truncated": (lambda g: g[: len(g) // 2], r"(not a zip archive|damaged|corrupted)"),
    "no manifest": (lambda g: rewrite(g, lambda m: m.pop("manifest.json")), r"no manifest.json"),
    "bad json": (lambda g: rewrite(g, lambda m: m.update({"manifest.json": b"{nope"})),
                 r"manifest is not valid JSON"),
    "other zip": (lambda g: rewrite(g, lambda m: m.update({"manifest.json": b"{}"})),
                  r"is not a latentfactors model file"),
    "missing key": (lambda g: rewrite(g, edit_manifest(lambda m: m.pop("params"))),
                    r"manifest lacks 'params'"),
    "newer": (lambda g: rewrite(g, edit_manifest(lambda m: m.update(format_version=99))),
              r"written by a newer latentfactors \(format 99 > 1"),
    "unknown class": (lambda g: rewrite(g, edit_manifest(
        lambda m: m.update(model_class="os.system"))), r"unknown model class 'os.system'; known: "),
    "no arrays": (lambda g: rewrite(g, lambda m: m.pop("arrays.npz")), r"arrays.npz is missing"),
    "tampered": (lambda g: rewrite(g, tamper_array), r"checksum mismatch in array 'item_factors_'"),
    "shape lie": (lambda g: rewrite(g, edit_manifest(
        lambda m: m["arrays"]["user_bias_"].update(shape=[10**12]))), r"array 'user_bias_' is"),
    "missing array": (lambda g: rewrite(g, edit_manifest(
        lambda m: m["arrays"].update(extra_={"shape": [1], "dtype": "<f4", "sha256": "0"}))),
        r"array 'extra_' is missing"),
    "object array": (lambda g: rewrite(g, object_array),
                     r"(holds objects|Object arrays|corrupted)"),
    "bad params": (lambda g: rewrite(g, edit_manifest(
        lambda m: m["params"].update(n_factors=-1))), r"invalid model .*n_factors=-1"),
    "unknown param": (lambda g: rewrite(g, edit_manifest(
        lambda m: m["params"].update(evil=1))), r"parameters do not match SVD"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_files_raise_model_file_error(case, good_bytes, tmp_path):
    make, message = CASES[case]
    path = tmp_path / "bad.lfm"
    if make is not None:
        path.write_bytes(make(good_bytes))
    with pytest.raises(ModelFileError, match=message):
        load(path)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_fuzzed_files_never_crash(good_bytes, tmp_path_factory, data):
    blob = bytearray(good_bytes)
    for _ in range(data.draw(st.integers(1, 20))):
        op = data.draw(st.sampled_from(["flip", "truncate", "insert", "delete"]))
        pos = data.draw(st.integers(0, max(len(blob) - 1, 0)))
        if op == "flip" and blob:
            blob[pos] ^= 1 << data.draw(st.integers(0, 7))
        elif op == "truncate":
            del blob[pos:]
        elif op == "insert":
            blob[pos:pos] = data.draw(st.binary(min_size=1, max_size=8))
        elif op == "delete" and blob:
            del blob[pos : pos + data.draw(st.integers(1, 8))]
    path = tmp_path_factory.mktemp("fuzz") / "f.lfm"
    path.write_bytes(bytes(blob))
    try:
        model = load(path)
    except ModelFileError:
        return
    # a mutation that hit nothing meaningful (zip padding, compressed slack) loads fine
    assert model.item_factors_.shape[1] == 8
