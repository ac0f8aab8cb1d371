"""What a hostile model file, an odd id, a bad value or a second thread does: one clear
error (or the exact answer), never a silent change, a crash later, or a traceback."""

from __future__ import annotations

import hashlib
import io
import json
import struct
import threading
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import latentfactors as lf
from latentfactors import DataError, Interactions, ModelFileError, UnknownIdError
from latentfactors.cli import main
from latentfactors.data import make_synthetic, read_csv, read_path
from latentfactors.evaluation import evaluate


@pytest.fixture(scope="module")
def svd_file(tmp_path_factory):
    data = make_synthetic(60, 40, 800, seed=0).interactions
    model = lf.SVD(n_factors=4, n_epochs=3, random_state=0).fit(data)
    return model, model.save(tmp_path_factory.mktemp("svd") / "svd.lfm")


@pytest.fixture(scope="module")
def svdpp_file(tmp_path_factory):
    data = make_synthetic(60, 40, 800, seed=0).interactions
    model = lf.SVDpp(n_factors=4, n_epochs=3, random_state=0).fit(data)
    return model, model.save(tmp_path_factory.mktemp("svdpp") / "svdpp.lfm")


# ---------------------------------------------------------------------- forging helpers
def _members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def _arrays(raw: bytes) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(raw), allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}


def _write(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            kind = zipfile.ZIP_STORED if name == "arrays.npz" else zipfile.ZIP_DEFLATED
            zf.writestr(name, data, compress_type=kind)
    return path


def _forge(src: Path, dst: Path, edit_manifest=None, edit_arrays=None) -> Path:
    """A copy of ``src`` edited as a careful forger would: checksums recomputed."""
    members = _members(src)
    manifest = json.loads(members["manifest.json"])
    if edit_arrays is not None:
        arrays = _arrays(members["arrays.npz"])
        edit_arrays(arrays)
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        members["arrays.npz"] = buf.getvalue()
        manifest["arrays"] = {
            k: {"shape": list(a.shape), "dtype": a.dtype.str,
                "sha256": hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()}
            for k, a in arrays.items()
        }  # fmt: skip
    if edit_manifest is not None:
        edit_manifest(manifest)
    members["manifest.json"] = json.dumps(manifest).encode()
    return _write(dst, members)


def _raw_zip(entries: list[tuple[str, int]], blob: bytes) -> bytes:
    """A stored zip whose central directory names ``(name, offset)`` entries into
    ``blob`` (each offset must hold a local header for that name)."""
    central = b""
    for name, offset in entries:
        # read the local header at offset to copy its sizes and CRC
        sig, _v, _f, _m, _t, _d, crc, csize, usize, _nlen, _xlen = struct.unpack(
            "<IHHHHHIIIHH", blob[offset : offset + 30]
        )
        assert sig == 0x04034B50
        central += struct.pack(
            "<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 0, 0, 0, crc, csize, usize,
            len(name), 0, 0, 0, 0, 0, offset,
        ) + name.encode()  # fmt: skip
    eocd = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries),
                       len(central), len(blob), 0)  # fmt: skip
    return blob + central + eocd


def _local(name: str, data: bytes) -> bytes:
    crc = zlib.crc32(data)
    return struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 0, 0, 0, crc, len(data), len(data),
                       len(name), 0) + name.encode() + data  # fmt: skip


def _npy(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, a, allow_pickle=False)
    return buf.getvalue()


# ---------------------------------------------------------------------- 1. model files
def test_nested_npz_members_are_refused_before_anything_is_inflated(svd_file, tmp_path):
    """A member whose bytes hold another whole member (the 4.9 MB file that loaded at
    11.3 GB nested many such levels): refused, whatever the manifest says."""
    _, path = svd_file
    inner = _local("y.npy", _npy(np.zeros(1000, np.float32)))
    outer_data = _npy(np.frombuffer(inner, dtype=np.uint8))
    blob = _local("x.npy", outer_data)
    y_offset = 30 + len("x.npy") + (len(outer_data) - len(inner))
    npz = _raw_zip([("x.npy", 0), ("y.npy", y_offset)], blob)
    with zipfile.ZipFile(io.BytesIO(npz)) as zf:  # a valid zip to the standard library
        assert len(zf.read("x.npy")) > len(zf.read("y.npy")) > 4000
    members = _members(path)
    members["arrays.npz"] = npz
    with pytest.raises(ModelFileError, match="members overlap or nest"):
        lf.load(_write(tmp_path / "nested.lfm", members))
    # two entries naming the same bytes
    npz = _raw_zip([("y.npy", 0), ("y.npy", 0)], _local("y.npy", _npy(np.zeros(3))))
    members["arrays.npz"] = npz
    with pytest.raises(ModelFileError, match="overlap or nest|twice"):
        lf.load(_write(tmp_path / "twice.lfm", members))


def test_declared_sizes_are_capped_before_inflating(svd_file, tmp_path, monkeypatch):
    from latentfactors.persistence import _format

    _, path = svd_file
    monkeypatch.setattr(_format, "MAX_MANIFEST_BYTES", 100)
    with pytest.raises(ModelFileError, match=r"manifest.json declares \d+ bytes, more than the "
                       r"100 allowed"):  # fmt: skip
        lf.load(path)


def test_a_member_that_inflates_past_its_declared_size_is_refused(svd_file, tmp_path):
    _, path = svd_file
    members = _members(path)
    good = _write(tmp_path / "good.lfm", members)
    raw = bytearray(good.read_bytes())
    # shrink the declared size of manifest.json in its central directory entry
    name = b"manifest.json"
    pos = raw.find(b"PK\x01\x02")
    while raw[pos + 46 : pos + 46 + len(name)] != name:
        pos = raw.find(b"PK\x01\x02", pos + 4)
    struct.pack_into("<I", raw, pos + 24, 10)  # uncompressed size: 10 bytes
    (tmp_path / "short.lfm").write_bytes(bytes(raw))
    with pytest.raises(ModelFileError, match="manifest.json"):
        lf.load(tmp_path / "short.lfm")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda a: a.update(item_factors_=a["item_factors_"].astype(np.float16)), "float32"),
        (lambda a: a.update(item_factors_=a["item_factors_"].astype(np.float64)), "float32"),
        (lambda a: a.update(item_factors_=a["item_factors_"].astype(np.longdouble)), "float32"),
        (lambda a: a["user_factors_"].__setitem__((0, 0), np.nan), "NaN or infinite"),
        (lambda a: a["item_bias_"].__setitem__(1, np.inf), "NaN or infinite"),
        (lambda a: a.update(user_counts_=-a["user_counts_"] - 1), "negative counts"),
        (lambda a: a["user_items.data"].__setitem__(0, np.nan), "non-finite"),
    ],
)
def test_forged_arrays_fail_at_load_not_later(svd_file, tmp_path, edit, message):
    _, path = svd_file
    with pytest.raises(ModelFileError, match=message):
        lf.load(_forge(path, tmp_path / "f.lfm", edit_arrays=edit))


def test_big_endian_factors_load_exactly(svd_file, tmp_path):
    model, path = svd_file

    def swap(a):
        a["item_factors_"] = a["item_factors_"].astype(">f4")

    loaded = lf.load(_forge(path, tmp_path / "be.lfm", edit_arrays=swap))
    assert loaded.item_factors_.dtype == np.float32 and loaded.item_factors_.dtype.isnative
    assert np.array_equal(loaded.predict([0, 1], [2, 3]), model.predict([0, 1], [2, 3]))


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda m: m["attributes"].update(rating_scale_=[5, 1]), "low <= high"),
        (lambda m: m["attributes"].update(global_mean_=float("nan")), "finite number"),
        (lambda m: m["attributes"].update(intercept_="3"), "finite number"),
        (lambda m: m["attributes"].update(history_=[1, 2]), "history"),
        (lambda m: m["attributes"].update(random_state_=-1), "random_state"),
        (lambda m: m["attributes"].update(n_train_=1.5), "n_train"),
        (lambda m: m["attributes"].pop("global_mean_"), "global_mean_' is missing"),
    ],
)
def test_forged_scalars_fail_at_load(svd_file, tmp_path, edit, message):
    _, path = svd_file
    with pytest.raises(ModelFileError, match=message):
        lf.load(_forge(path, tmp_path / "f.lfm", edit_manifest=edit))


def test_a_learned_array_removed_is_refused(svdpp_file, tmp_path):
    _, path = svdpp_file

    def drop(a):
        del a["implicit_factors_"]

    with pytest.raises(ModelFileError, match="'implicit_factors_' is missing"):
        lf.load(_forge(path, tmp_path / "f.lfm", edit_arrays=drop))


def test_a_file_without_seen_items_loads_and_recommends(svd_file, tmp_path):
    model, _ = svd_file
    path = model.save(tmp_path / "lean.lfm", seen=False)
    loaded = lf.load(path)
    assert loaded.user_items_ is None
    assert np.array_equal(loaded.item_counts_, model.item_counts_)
    with pytest.raises(lf.InvalidParameterError, match="pass exclude_seen=False"):
        loaded.recommend(0)
    a = loaded.recommend(0, n=5, exclude_seen=False)[0]
    b = model.recommend(0, n=5, exclude_seen=False)[0]
    assert a.tolist() == b.tolist()
    seen = model.items_.ids(model.user_items_[0].indices)
    assert loaded.recommend(0, n=5, exclude_seen=False, exclude=seen)[0].tolist() == \
        model.recommend(0, n=5)[0].tolist()  # fmt: skip
    assert path.stat().st_size < model.save(tmp_path / "full.lfm").stat().st_size


def test_a_killed_saves_temporary_file_is_cleared_by_the_next_save(svd_file, tmp_path):
    import os
    import time

    model, _ = svd_file
    stale = tmp_path / ".m.lfm.0123456789abcdef.tmp"
    stale.write_bytes(b"x" * 1000)
    old = time.time() - 3600
    os.utime(stale, (old, old))
    fresh = tmp_path / ".m.lfm.fedcba9876543210.tmp"  # maybe another process saving now
    fresh.write_bytes(b"y")
    model.save(tmp_path / "m.lfm")
    assert not stale.exists() and fresh.exists()


def test_saving_into_a_bad_place_names_the_target(svd_file, tmp_path):
    model, _ = svd_file
    with pytest.raises(IsADirectoryError, match="it is a folder"):
        model.save(tmp_path)
    with pytest.raises(OSError, match=r"cannot save to '/proc/m.lfm'"):
        model.save("/proc/m.lfm")


# ---------------------------------------------------------------------- 2. ids and values
def test_big_integer_ids_stay_exact_and_distinct(tmp_path):
    users = [10**19, 10**19 + 1, 2**53, 2**53 + 1, 1]
    data = Interactions.from_arrays(users * 4, [1, 2, 3, 4] * 5, ratings=[1, 2, 3, 4, 5] * 4)
    assert data.n_users == 5
    assert sorted(data.users.raw.tolist()) == sorted(users)
    model = lf.SVD(n_factors=2, n_epochs=2, random_state=0).fit(data)
    again = lf.load(model.save(tmp_path / "big.lfm"))
    assert again.users_.raw.tolist() == model.users_.raw.tolist()
    assert all(type(u) is int for u in again.users_.raw.tolist())
    csv = tmp_path / "big.csv"
    csv.write_text("user,item,rating\n" + "".join(f"{u},{i},3\n" for u in users for i in (1, 2)))
    read = read_csv(csv)
    assert read.kind == "explicit" and sorted(read.users.raw.tolist()) == sorted(users)


def test_the_readme_flow_saves_folded_in_string_users(ml100k, tmp_path):
    train = ml100k.interactions
    model = lf.SVD(n_factors=8, n_epochs=2, random_state=0).fit(train)
    model.fold_in(Interactions.from_arrays(["newbie"] * 3, [50, 172, 181], ratings=[5, 5, 4]))
    again = lf.load(model.save(tmp_path / "m.lfm"))
    assert again.recommend("newbie", n=3)[0].tolist() == model.recommend("newbie", n=3)[0].tolist()
    assert again.recommend(1, n=3)[0].tolist() == model.recommend(1, n=3)[0].tolist()


def test_one_long_id_costs_what_it_weighs(tmp_path):
    users = [f"u{k}" for k in range(199)] + ["x" * (1 << 20)]
    data = Interactions.from_arrays(users, ["i"] * 200, ratings=[3.0] * 200)
    model = lf.Baseline().fit(data)
    size = model.save(tmp_path / "m.lfm").stat().st_size
    assert size < 3 << 20, f"{size} bytes"
    assert lf.load(tmp_path / "m.lfm").users_.raw[-1] == users[-1]


def test_values_too_large_for_float32_are_refused():
    with pytest.raises(DataError, match=r"column 'rating' has 1 value\(s\) too large for float32"):
        Interactions.from_arrays([1, 2], [1, 2], ratings=[3.0, 1e39])
    with pytest.raises(DataError, match="column 'weight' has 1 value"):
        Interactions.from_arrays([1, 2], [1, 2], weights=[1e300, 1.0])
    with pytest.raises(DataError, match="outside the int64 range"):
        Interactions.from_arrays([1, 2], [1, 2], ratings=[3, 4], timestamps=[1.0, 1e300])
    with pytest.raises(DataError, match="must be one-dimensional"):
        Interactions.from_arrays(np.array([[1, 2], [3, 4]]), [1, 2, 3, 4], ratings=[1, 2, 3, 4])
    with pytest.raises(DataError, match="must be one-dimensional"):
        Interactions.from_arrays([1, 2], [1, 2], ratings=np.ones((2, 1)))


def test_evaluate_without_ratings_does_not_report_an_rmse(svd_file):
    model, _ = svd_file
    test = Interactions.from_arrays(model.users_.raw[:5], model.items_.raw[:5])
    res = evaluate(model, test, k=5)
    assert "rmse" not in res.metrics and "ndcg@5" in res.metrics
    with pytest.raises(DataError, match="the test data has no ratings"):
        evaluate(model, test, metrics=["rmse"])


def test_a_new_user_with_only_unknown_items_is_an_error(svd_file):
    model, _ = svd_file
    new = Interactions.from_arrays(["ghost", "ghost"], [10**9, 10**9 + 1], ratings=[5, 4])
    with pytest.raises(DataError, match=r"fold_in: 1 user\(s\) \('ghost'\) have no item"):
        model.fold_in(new, update=False)


def test_ids_in_messages_look_like_ids(svd_file):
    model, _ = svd_file
    with pytest.raises(UnknownIdError, match=r"^user 99999 is not known"):
        model.recommend(np.uint64(99999))


# ---------------------------------------------------------------------- 3. two threads
def test_fold_in_and_recommend_in_two_threads(tmp_path):
    data = make_synthetic(300, 120, 6000, seed=0).interactions
    model = lf.SVD(n_factors=8, n_epochs=3, random_state=0).fit(data)
    items = data.items.raw
    errors: list[BaseException] = []
    n_each = 100

    def writer(prefix: str) -> None:
        try:
            for k in range(n_each):
                new = Interactions.from_arrays([f"{prefix}{k}"] * 3, items[k % 50 : k % 50 + 3],
                                               ratings=[5, 3, 1])  # fmt: skip
                model.fold_in(new)
        except BaseException as exc:  # pragma: no cover - the test reports it
            errors.append(exc)

    def reader() -> None:
        try:
            for _ in range(20):
                frame = model.recommend_all(n=3)
                assert frame.groupby("user").size().max() == 3
                model.predict(model.users_.raw[-5:], items[:5])
        except BaseException as exc:  # pragma: no cover
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(p,)) for p in ("a", "b")]
    threads.append(threading.Thread(target=reader))
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    assert not errors, errors[:3]
    assert len(model.users_) == data.n_users + 2 * n_each
    assert model.user_factors_.shape[0] == len(model.users_) == len(model.user_bias_)
    assert model.user_items_.shape[0] == len(model.users_)
    again = lf.load(model.save(tmp_path / "m.lfm"))
    assert again.recommend("a7", n=3)[0].tolist() == model.recommend("a7", n=3)[0].tolist()


# ---------------------------------------------------------------------- 4-5. the CLI
@pytest.fixture(scope="module")
def files(tmp_path_factory, ml100k_path):
    d = tmp_path_factory.mktemp("cli")
    runner = CliRunner()
    args = ["fit", str(ml100k_path / "u.data"), "--epochs", "2", "--factors", "4"]
    res = runner.invoke(main, [*args, "-o", str(d / "m.lfm")])
    assert res.exit_code == 0, res.output
    (d / "bin.csv").write_bytes(b"\x00\x01\x02user,item\n\xff\xfe")
    (d / "notparquet.parquet").write_text("user,item\n1,2\n")
    (d / "latin1.csv").write_bytes("user,item,rating\nJosé,1,4\n".encode("latin-1"))
    (d / "nan.csv").write_text("item,rating\n50,nan\n")
    (d / "bin.txt").write_bytes(b"\x00\x00\x00")
    (d / "ok.csv").write_text("item,rating\n50,5\n172,5\n")
    (d / "bom.csv").write_bytes("\ufeffuser,item,rating\n1,2,3\n2,3,4\n".encode())
    (d / "same.csv").write_text("user,item,rating\n1,1,3\n1,2,3\n2,1,3\n")
    (d / "headerless.dat").write_text("1\t1\t5\n1\t2\t3\n2\t1\t4\n2\t2\t2\n")
    return d


# (arguments, exit code, message) : every case prints one line, no traceback
CLI_CASES = [
    (["fit", "{d}/bin.csv", "-o", "{d}/x.lfm"], 3, "looks binary"),
    (["fit", "{d}/notparquet.parquet", "-o", "{d}/x.lfm"], 3, "not a readable Parquet file"),
    (
        ["fit", "{d}/ok.csv", "--encoding", "no-such-codec", "-o", "{d}/x.lfm"],
        3,
        "unknown text encoding 'no-such-codec'",
    ),
    (["fit", "{d}/latin1.csv", "-o", "{d}/x.lfm"], 3, "not valid utf-8 text"),
    (
        ["fit", "{d}/same.csv", "--model", "truncated-svd", "--factors", "1", "-o", "{d}/x.lfm"],
        3,
        "nothing is left to factor",
    ),
    (
        ["fit", "{d}/bom.csv", "--factors", "1000000000", "-o", "{d}/x.lfm"],
        3,
        r"n_factors=1000000000 needs about .* GiB",
    ),
    (
        ["fit", "{d}/bom.csv", "--validation", "1.5", "-o", "{d}/x.lfm"],
        2,
        "1.5 is not in the range",
    ),
    (["tune", "{d}/bom.csv", "--factor-sweep", "a,b"], 2, "expects whole numbers"),
    (
        ["recommend", "{d}/m.lfm", "--user", "newbie", "--new-user-ratings", "{d}/bin.txt"],
        3,
        "looks binary",
    ),
    (
        ["recommend", "{d}/m.lfm", "--user", "newbie", "--new-user-ratings", "{d}/nan.csv"],
        3,
        r"nan.csv: line 2: rating 'nan' is not finite",
    ),
    (
        ["recommend", "{d}/m.lfm", "--user", "1", "--new-user-ratings", "{d}/ok.csv"],
        2,
        "already known to the model; --new-user-ratings would replace",
    ),
    (["fit", "{d}/bom.csv", "--epochs", "1", "-o", "{d}"], 3, "it is a folder"),
    (["fit", "{d}/bom.csv", "-o", "/proc/m.lfm"], 3, "cannot save to '/proc/m.lfm'"),
    (["info", "{d}/ok.csv"], 4, "not a latentfactors model file"),
]


@pytest.mark.parametrize(("args", "code", "message"), CLI_CASES)
def test_cli_errors_are_one_clear_line(files, args, code, message):
    res = CliRunner().invoke(main, [a.replace("{d}", str(files)) for a in args])
    assert res.exit_code == code, res.output
    assert "Traceback" not in res.output
    import re

    assert re.search(message, " ".join(res.output.split())), res.output


def test_cli_reads_files_as_people_write_them(files):
    runner = CliRunner()
    res = runner.invoke(main, ["fit", str(files / "headerless.dat"), "--epochs", "2",
                               "--factors", "2", "-o", str(files / "h.lfm")])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "4 numeric columns read as user, item, rating" not in res.output  # 3 here
    assert "3 numeric columns read as user, item, rating" in res.output
    res = runner.invoke(main, ["fit", str(files / "bom.csv"), "--epochs", "2", "--factors", "2",
                               "-o", str(files / "b.lfm")])  # fmt: skip
    assert res.exit_code == 0, res.output
    ds, note = read_path(files / "bom.csv")
    assert ds.interactions.kind == "explicit" and "rating='rating'" in note


def test_markup_in_text_is_printed_as_written(files, tmp_path):
    import pandas as pd

    data = Interactions.from_arrays(["u1", "u1", "u2"], ["a", "b", "a"], ratings=[5, 3, 4])
    model = lf.SVD(n_factors=2, n_epochs=2, random_state=0).fit(data)
    meta = pd.DataFrame({"title": ["[bold]Alien[/bold]", "Heat [1995]"]},
                        index=pd.Index(["a", "b"], name="item"))  # fmt: skip
    path = model.save(tmp_path / "m.lfm", items=meta)
    res = CliRunner().invoke(main, ["recommend", str(path), "--user", "u2", "-n", "2"])
    assert res.exit_code == 0, res.output
    assert "Heat [1995]" in res.output


# ---------------------------------------------------------------------- fuzzers
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
          HealthCheck.function_scoped_fixture])  # fmt: skip
@given(text=st.binary(max_size=300))
def test_read_path_fuzz_raises_only_data_errors(tmp_path, text):
    path = tmp_path / "fuzz.csv"
    path.write_bytes(text)
    try:
        ds, _ = read_path(path)
    except DataError:
        return
    assert len(ds.interactions) > 0


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
          HealthCheck.function_scoped_fixture])  # fmt: skip
@given(
    rows=st.lists(
        st.tuples(
            st.one_of(st.integers(-(2**70), 2**70), st.text(max_size=5)),
            st.one_of(st.integers(0, 5), st.text(max_size=3)),
            st.floats(allow_nan=True, allow_infinity=True, width=64),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_from_arrays_fuzz_is_exact_or_a_data_error(rows):
    users, items, ratings = zip(*rows)
    try:
        data = Interactions.from_arrays(list(users), list(items), ratings=list(ratings),
                                        duplicates="last")  # fmt: skip
    except DataError:
        return
    assert set(data.users.raw.tolist()) == set(users)  # no id changed, merged or wrapped
    assert np.isfinite(data.values).all()


def test_arrow_and_polars_frames_are_read_directly():
    import pyarrow as pa

    table = pa.table({"user": [1, 2, 2], "item": ["a", "b", "a"], "rating": [5.0, 3.0, 4.0]})
    data = Interactions.from_dataframe(table, rating="rating")
    assert data.kind == "explicit" and data.n_users == 2
    pl = pytest.importorskip("polars")
    frame = pl.DataFrame({"u": [1, 2, 2], "i": ["a", "b", "a"], "w": [5.0, 3.0, 4.0]})
    data = Interactions.from_dataframe(frame, user="u", item="i", weight="w")
    assert data.kind == "implicit" and sorted(data.items.raw.tolist()) == ["a", "b"]
    with pytest.raises(DataError, match=r"column\(s\) 'rating' not found in the DataFrame"):
        Interactions.from_dataframe(frame, user="u", item="i", rating="rating")


def test_messages_that_point_the_right_way(tmp_path):
    with pytest.raises(DataError, match="is a folder, not a file; for a MovieLens"):
        read_csv(tmp_path)
    data = make_synthetic(30, 20, 300, seed=0).interactions
    with pytest.raises(lf.DivergenceError, match=r"use fewer factors: n_factors=100000 exceeds "
                       r"the \d+ items"):  # fmt: skip
        lf.SVD(n_factors=100_000, n_epochs=3, random_state=0).fit(data)
    dup = tmp_path / "dup.csv"
    dup.write_text("user,item,rating\n1,1,3\n1,1,4\n")
    with pytest.raises(DataError, match="--duplicates on the command line"):
        read_csv(dup)


def test_recommend_for_takes_a_fold(svd_file):
    model, _ = svd_file
    with pytest.raises(lf.InvalidParameterError, match="takes the FoldIn"):
        model.recommend_for(object())


def test_a_fold_that_does_not_fit_the_model_is_refused(svd_file):
    import scipy.sparse as sp

    model, _ = svd_file
    items = model.items_.raw[:3]
    fold = model.fold_in(Interactions.from_arrays(["x"] * 3, items, ratings=[5, 4, 3]),
                         update=False)  # fmt: skip
    far = sp.csr_matrix(([1.0], ([0], [2**31 - 2])), shape=(1, 2**31 - 1))
    with pytest.raises(lf.InvalidParameterError, match="seen rows must be a CSR matrix of shape"):
        model.recommend_for(fold._replace(seen=far))
    twice = fold._replace(users=np.array(["x", "x"], dtype=object),
                          factors=np.vstack([fold.factors] * 2), bias=np.repeat(fold.bias, 2),
                          seen=sp.vstack([fold.seen] * 2).tocsr(),
                          user_factors=np.vstack([fold.factors] * 2))  # fmt: skip
    with pytest.raises(lf.InvalidParameterError, match="users must be distinct"):
        model.add_users(twice)
    with pytest.raises(lf.InvalidParameterError, match="factors"):
        model.recommend_for(fold._replace(factors=fold.factors[:, :2]))


def test_a_shallow_copy_never_writes_over_the_original(svd_file):
    import copy

    model, _ = svd_file
    a = model.clone().set_state(model.get_state())
    items = a.items_.raw
    a.fold_in(Interactions.from_arrays(["alice"] * 2, items[:2], ratings=[5, 1]))
    before = a.user_factors_[a.users_.index(["alice"])[0]].copy()
    seen_before = a.user_items_[a.users_.index(["alice"])[0]].indices.copy()
    b = copy.copy(a)
    b.fold_in(Interactions.from_arrays(["bob"] * 2, items[2:4], ratings=[1, 5]))
    a.fold_in(Interactions.from_arrays(["carol"] * 2, items[4:6], ratings=[3, 3]))
    row = a.users_.index(["alice"])[0]
    assert np.array_equal(a.user_factors_[row], before)
    assert np.array_equal(a.user_items_[row].indices, seen_before)
    assert "bob" not in a.users_ and "carol" not in b.users_
    carol = a.users_.index(["carol"])[0]
    assert a.items_.ids(a.user_items_[carol].indices).tolist() == sorted(items[4:6].tolist())


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("user,item,rating\nNA,1,3\n2,1,4\n", "missing ids"),
        ("user,item,rating\n,1,3\n2,1,4\n", "missing ids"),
        (
            '"user","item","rating"\n18446744073709551616,1,3\n18446744073709551617,1,4\n3,1,5\n',
            [3, 18446744073709551616, 18446744073709551617],
        ),
        ("user,item,rating\n+3,1,3\n4,1,4\n", [3, 4]),
        ("user,item,rating\nalice,1,3\nNA,1,4\n", ["NA", "alice"]),
    ],
)
def test_csv_ids_are_exact_or_missing(tmp_path, text, want):
    path = tmp_path / "ids.csv"
    path.write_text(text)
    if isinstance(want, str):
        with pytest.raises(DataError, match=want):
            read_csv(path)
        return
    assert sorted(read_csv(path).users.raw.tolist()) == want


def test_vocabulary_extend_is_cheap_and_branch_safe():
    from latentfactors.data import Vocabulary

    base = Vocabulary(np.arange(200_000))
    v = base
    for k in range(300):  # folding in users one by one
        v = v.extend([f"new{k}"])
    assert len(v) == 200_300 and v.index(["new7", 5]).tolist() == [200_007, 5]
    assert v.ids([200_299]).tolist() == ["new299"] and "new0" in v and "new300" not in v
    a, b = base.extend([-1]), base.extend([-2])  # two extensions of one vocabulary
    assert a.index([-1, -2], missing="ignore").tolist() == [200_000, -1]
    assert b.index([-1, -2], missing="ignore").tolist() == [-1, 200_000]
    assert a.raw.dtype == np.int64 and a.raw[-1] == -1
