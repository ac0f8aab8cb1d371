import hashlib
import io
import zipfile

import numpy as np
import pytest

from latentfactors import DataError, DownloadError
from latentfactors.data import fetch_movielens, load_lastfm, load_movielens


def test_ml100k_counts_and_metadata(ml100k):
    data, items = ml100k
    assert (len(data), data.n_users, data.n_items) == (100_000, 943, 1_682)
    assert data.rating_scale == (1.0, 5.0)
    assert data.timestamps is not None and data.timestamps.min() == 874724710
    assert len(items) == 1682
    toy = items.loc[1]
    assert toy.title == "Toy Story (1995)" and toy.year == 1995
    assert toy.genres == ["Animation", "Children's", "Comedy"]
    # every rated movie has metadata
    assert np.isin(data.items.raw, items.index.to_numpy()).all()


def test_ml_latest_small_counts(ml_small_path):
    data, items = load_movielens(ml_small_path)
    assert (len(data), data.n_users, data.n_items) == (100_836, 610, 9_724)
    assert data.rating_scale == (0.5, 5.0)
    assert set(np.unique(data.values)) == set(np.arange(0.5, 5.01, 0.5))
    assert len(items) == 9_742
    assert items.loc[1].genres == ["Adventure", "Animation", "Children", "Comedy", "Fantasy"]
    assert items["year"].notna().mean() > 0.99


def test_lastfm_counts(lastfm_path):
    data, items = load_lastfm(lastfm_path)
    assert (len(data), data.n_users, data.n_items) == (92_834, 1_892, 17_632)
    assert data.kind == "implicit"
    assert data.values.min() >= 1
    assert items.loc[1, "name"] == "MALICE MIZER"


def _write_ml1m(folder, half_stars=False):
    folder.mkdir()
    r = "4.5" if half_stars else "5"
    (folder / "ratings.dat").write_text(
        f"1::1193::{r}::978300760\n1::661::3::978302109\n2::1193::4::978298413\n"
    )
    (folder / "movies.dat").write_bytes(
        "1193::One Flew Over the Cuckoo's Nest (1975)::Drama\n"
        "661::Caf\xe9 (1996)::Animation|Children's|Musical\n".encode("latin-1")
    )


def test_ml1m_layout(tmp_path):
    _write_ml1m(tmp_path / "ml-1m")
    data, items = load_movielens(tmp_path / "ml-1m")
    assert (len(data), data.n_users, data.n_items) == (3, 2, 2)
    assert data.rating_scale == (1.0, 5.0)
    assert items.loc[661].title == "Café (1996)"
    assert items.loc[661].genres == ["Animation", "Children's", "Musical"]
    assert items.loc[1193].year == 1975
    _write_ml1m(tmp_path / "ml-10m", half_stars=True)
    assert load_movielens(tmp_path / "ml-10m").interactions.rating_scale == (0.5, 5.0)


def test_not_a_movielens_folder(tmp_path):
    (tmp_path / "x.txt").write_text("hi")
    with pytest.raises(
        DataError, match=r"is not a MovieLens folder: expected u.data .*found \['x.txt'\]"
    ):
        load_movielens(tmp_path)
    with pytest.raises(
        DataError, match="does not exist; pass the folder .* or set LATENTFACTORS_DATA"
    ):
        load_movielens(tmp_path / "missing")


def _zip_of(folder):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for f in sorted(folder.iterdir()):
            zf.write(f, f"{folder.name}/{f.name}")
    return buf.getvalue()


def test_fetch_from_url_then_cache(tmp_path, ml100k_path):
    src = tmp_path / "src"
    src.mkdir()
    for name in ("u.data", "u.item", "u.genre"):
        (src / name).write_bytes((ml100k_path / name).read_bytes())
    archive = tmp_path / "ml-100k.zip"
    archive.write_bytes(_zip_of(src))
    home = tmp_path / "cache"
    ds = fetch_movielens("ml-100k", data_home=home, url=archive.as_uri())
    assert len(ds.interactions) == 100_000
    assert (home / "ml-100k" / "u.data").is_file()
    # second call reads the cache and never touches the network
    again = fetch_movielens("ml-100k", data_home=home, download=False)
    assert len(again.interactions) == 100_000


def test_fetch_checksum_failure(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "u.data").write_text("1\t1\t5\t1\n")
    archive = tmp_path / "bad.zip"
    archive.write_bytes(_zip_of(src))
    with pytest.raises(DownloadError, match="ml-100k/u.data fails its sha256 check"):
        fetch_movielens("ml-100k", data_home=tmp_path / "c", url=archive.as_uri())
    assert hashlib  # keep import used


def test_fetch_offline_fails_fast_naming_the_variable(tmp_path, monkeypatch):
    import urllib.error
    import urllib.request

    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    monkeypatch.setenv("LATENTFACTORS_DATA", str(tmp_path / "env-home"))
    with pytest.raises(
        DownloadError,
        match=r"cannot download https://files\.grouplens\.org/.*"
        r"ml-100k\.zip \(no network\); put the extracted 'ml-100k' folder under "
        r"'.*env-home' \(set LATENTFACTORS_DATA or data_home=",
    ):
        fetch_movielens("ml-100k")
    with pytest.raises(DownloadError, match="download=False"):
        fetch_movielens("ml-100k", download=False)
    with pytest.raises(DataError, match="unknown MovieLens dataset 'ml-5k'"):
        fetch_movielens("ml-5k")


def test_fetch_truncated_archive(tmp_path):
    archive = tmp_path / "t.zip"
    archive.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(DownloadError, match="is not a zip archive"):
        fetch_movielens("ml-1m", data_home=tmp_path / "c", url=archive.as_uri())
