"""Loaders for MovieLens (100K, 1M, 10M, latest) and Last.fm HetRec 2K, read as they are on disk.

Nothing is downloaded unless :func:`fetch_movielens` is called, and it is never called by
the loaders themselves.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from ..exceptions import DataError, DownloadError
from .interactions import Interactions
from .readers import read_csv

__all__ = [
    "DATA_ENV",
    "MOVIELENS_URLS",
    "Dataset",
    "fetch_movielens",
    "get_data_home",
    "load_lastfm",
    "load_movielens",
]

logger = logging.getLogger("latentfactors")

DATA_ENV = "LATENTFACTORS_DATA"
"""Environment variable naming the folder where datasets are cached (and looked up)."""

MOVIELENS_URLS = {
    "ml-100k": "https://files.grouplens.org/datasets/movielens/ml-100k.zip",
    "ml-1m": "https://files.grouplens.org/datasets/movielens/ml-1m.zip",
    "ml-10m": "https://files.grouplens.org/datasets/movielens/ml-10m.zip",
    "ml-latest-small": "https://files.grouplens.org/datasets/movielens/ml-latest-small.zip",
}

# sha256 of the ratings file of releases we have verified; downloads are checked against
# these where known, and against the .md5 file GroupLens publishes beside each archive.
_KNOWN_SHA256 = {
    ("ml-100k", "u.data"): "06416e597f82b7342361e41163890c81036900f418ad91315590814211dca490",
    ("ml-latest-small", "ratings.csv"): (
        "aa289ca83157595d0df6aea1be6a4ded676ddc4385472e8313a8ed9805352646"
    ),
}

ML100K_GENRES = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
    "Romance", "Sci-Fi", "Thriller", "War", "Western",
)  # fmt: skip


class Dataset(NamedTuple):
    """A loaded dataset: the interactions and a table of item metadata indexed by raw item id."""

    interactions: Interactions
    items: pd.DataFrame


_YEAR = re.compile(r"\((\d{4})\)\s*$")


def _years(titles: pd.Series) -> pd.Series:
    return titles.str.extract(_YEAR, expand=False).astype("Int64")


def _layout(path: Path) -> str:
    if (path / "u.data").is_file():
        return "100k"
    if (path / "ratings.dat").is_file():
        return "dat"
    if (path / "ratings.csv").is_file():
        return "latest"
    found = sorted(p.name for p in path.iterdir())[:10] if path.is_dir() else []
    raise DataError(
        f"{str(path)!r} is not a MovieLens folder: expected u.data (100K), ratings.dat "
        f"(1M/10M) or ratings.csv (latest); found {found}"
    )


def load_movielens(path: str | os.PathLike) -> Dataset:
    """Load a MovieLens folder in any of its published layouts.

    * 100K: ``u.data`` (tab-separated), ``u.item`` and ``u.genre`` (pipe, latin-1);
    * 1M / 10M: ``ratings.dat`` and ``movies.dat`` (``::``, latin-1);
    * latest / 20M / 25M: ``ratings.csv`` and ``movies.csv``.

    Returns
    -------
    Dataset
        ``interactions`` (explicit, with timestamps and the dataset's rating scale) and
        ``items``: a DataFrame indexed by movie id with ``title``, ``year`` and
        ``genres`` (a list of strings).

    Examples
    --------
    >>> ml = load_movielens("../shared/data/ml-100k")  # doctest: +SKIP
    >>> ml.interactions  # doctest: +SKIP
    Interactions(explicit: 100,000 rows, 943 users, 1,682 items, ratings in [1, 5])
    """
    path = Path(path)
    if not path.exists():
        raise DataError(
            f"MovieLens folder {str(path)!r} does not exist; pass the folder that holds "
            f"u.data / ratings.dat / ratings.csv, or set {DATA_ENV}"
        )
    layout = _layout(path)
    if layout == "100k":
        inter = read_csv(
            path / "u.data", sep="\t", names=["user", "item", "rating", "timestamp"],
            rating="rating", timestamp="timestamp", rating_scale=(1, 5),
        )  # fmt: skip
        items = _ml100k_items(path)
    elif layout == "dat":
        inter = read_csv(
            path / "ratings.dat", sep="::", names=["user", "item", "rating", "timestamp"],
            rating="rating", timestamp="timestamp", encoding="latin-1",
            rating_scale=(0.5, 5) if _is_half_star(path) else (1, 5),
        )  # fmt: skip
        items = _dat_items(path / "movies.dat")
    else:
        inter = read_csv(
            path / "ratings.csv", sep=",", user="userId", item="movieId", rating="rating",
            timestamp="timestamp", rating_scale=(0.5, 5),
        )  # fmt: skip
        items = _latest_items(path / "movies.csv")
    return Dataset(inter, items)


def _is_half_star(path: Path) -> bool:
    # ML-10M introduced half stars; ML-1M has whole stars only.
    with open(path / "ratings.dat", "rb") as fh:
        head = fh.read(1 << 16)
    return b".5::" in head


def _ml100k_items(path: Path) -> pd.DataFrame:
    genre_names = list(ML100K_GENRES)
    gfile = path / "u.genre"
    if gfile.is_file():
        g = pd.read_csv(gfile, sep="|", header=None, names=["name", "idx"], encoding="latin-1")
        g = g.dropna()
        genre_names = [
            n for n, _ in sorted(zip(g["name"], g["idx"].astype(int)), key=lambda t: t[1])
        ]
    ifile = path / "u.item"
    if not ifile.is_file():
        return pd.DataFrame(columns=["title", "year", "genres"])
    cols = ["item", "title", "release_date", "video_release_date", "url", *genre_names]
    df = pd.read_csv(ifile, sep="|", header=None, names=cols, encoding="latin-1")
    flags = df[genre_names].to_numpy(dtype=bool)
    names = np.array(genre_names, dtype=object)
    genres = [list(names[row]) for row in flags]
    out = pd.DataFrame(
        {"title": df["title"].astype(str).to_numpy(), "year": _years(df["title"].astype(str)),
         "genres": genres},
        index=pd.Index(df["item"].to_numpy(), name="item"),
    )  # fmt: skip
    release = pd.to_datetime(df["release_date"], format="%d-%b-%Y", errors="coerce")
    missing_year = out["year"].isna().to_numpy() & release.notna().to_numpy()
    out.loc[missing_year, "year"] = release[missing_year].dt.year.to_numpy()
    return out


def _split_genres(s: pd.Series) -> list[list[str]]:
    return [
        [] if (not isinstance(g, str) or g == "(no genres listed)") else g.split("|") for g in s
    ]


def _dat_items(path: Path) -> pd.DataFrame:
    if not path.is_file():
        return pd.DataFrame(columns=["title", "year", "genres"])
    ids, titles, genres = [], [], []
    with open(path, encoding="latin-1") as fh:
        for line in fh:
            line = line.rstrip("\r\n")
            if not line:
                continue
            movie, title, genre = line.split("::", 2)
            ids.append(int(movie))
            titles.append(title)
            genres.append(genre)
    t = pd.Series(titles)
    return pd.DataFrame(
        {"title": titles, "year": _years(t).to_numpy(), "genres": _split_genres(pd.Series(genres))},
        index=pd.Index(ids, name="item"),
    )


def _latest_items(path: Path) -> pd.DataFrame:
    if not path.is_file():
        return pd.DataFrame(columns=["title", "year", "genres"])
    df = pd.read_csv(path)
    titles = df["title"].astype(str).str.strip()
    return pd.DataFrame(
        {"title": titles.to_numpy(), "year": _years(titles).to_numpy(),
         "genres": _split_genres(df["genres"])},
        index=pd.Index(df["movieId"].to_numpy(), name="item"),
    )  # fmt: skip


def load_lastfm(path: str | os.PathLike) -> Dataset:
    """Load Last.fm HetRec 2011 (2K users): play counts as implicit weights, artists as items.

    ``items`` holds each artist's ``name`` (and ``title``, the same, for tools that
    look for titles).
    """
    path = Path(path)
    ua = path / "user_artists.dat"
    if not ua.is_file():
        raise DataError(
            f"{str(path)!r} is not a Last.fm HetRec 2011 folder: user_artists.dat not found"
        )
    inter = read_csv(ua, sep="\t", user="userID", item="artistID", weight="weight")
    artists = path / "artists.dat"
    if artists.is_file():
        a = pd.read_csv(artists, sep="\t", usecols=[0, 1], quoting=3, encoding="utf-8",
                        encoding_errors="replace")  # fmt: skip
        items = pd.DataFrame(
            {"name": a["name"].astype(str).to_numpy(), "title": a["name"].astype(str).to_numpy()},
            index=pd.Index(a["id"].to_numpy(), name="item"),
        )
    else:
        items = pd.DataFrame(columns=["name", "title"])
    return Dataset(inter, items)


# ---------------------------------------------------------------------- downloads


def get_data_home(data_home: str | os.PathLike | None = None) -> Path:
    """The dataset cache folder: the argument, else ``$LATENTFACTORS_DATA``, else
    ``~/.cache/latentfactors``."""
    if data_home is not None:
        return Path(data_home)
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(env)
    return Path.home() / ".cache" / "latentfactors"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fetch_movielens(
    name: str = "ml-100k",
    *,
    data_home: str | os.PathLike | None = None,
    download: bool = True,
    url: str | None = None,
    timeout: float = 10.0,
) -> Dataset:
    """Load a MovieLens dataset from the cache, downloading it once if needed.

    Parameters
    ----------
    name : {"ml-100k", "ml-1m", "ml-10m", "ml-latest-small"}
    data_home : path, optional
        Cache folder; default ``$LATENTFACTORS_DATA`` or ``~/.cache/latentfactors``.
        A folder ``<data_home>/<name>`` that already holds the files is used as is.
    download : bool
        If False, never touch the network.
    url : str, optional
        Override the official GroupLens URL (a mirror or a ``file://`` URL).
    timeout : float
        Seconds before giving up on the network, so offline machines fail fast.

    Raises
    ------
    DownloadError
        When offline or when the archive fails its checksum; the message names the
        environment variable and argument that point at local files instead.
    """
    if name not in MOVIELENS_URLS:
        raise DataError(f"unknown MovieLens dataset {name!r}; choose one of {list(MOVIELENS_URLS)}")
    home = get_data_home(data_home)
    target = home / name
    if target.is_dir():
        try:
            _layout(target)
            return load_movielens(target)
        except DataError:
            pass
    hint = (
        f"put the extracted '{name}' folder under {str(home)!r} (set {DATA_ENV} or "
        "data_home= to choose the folder), or call load_movielens(path) on a local copy"
    )
    if not download:
        raise DownloadError(f"{name} is not in the cache and download=False; {hint}")
    src = url or MOVIELENS_URLS[name]
    home.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=home) as tmp:
        archive = Path(tmp) / f"{name}.zip"
        _download(src, archive, timeout, hint)
        md5_expected = None
        if url is None:
            try:
                md5_file = Path(tmp) / "md5"
                _download(src + ".md5", md5_file, timeout, hint)
                md5_expected = md5_file.read_text().split()[0].strip().lower()
            except DownloadError:
                logger.warning("no .md5 published for %s; relying on file checksums", name)
        if md5_expected:
            got = hashlib.md5(archive.read_bytes()).hexdigest()
            if got != md5_expected:
                raise DownloadError(f"{src}: md5 {got} does not match the published {md5_expected}")
        try:
            with zipfile.ZipFile(archive) as zf:
                _safe_extract(zf, Path(tmp) / "x")
        except zipfile.BadZipFile:
            raise DownloadError(
                f"{src} is not a zip archive (truncated download?); {hint}"
            ) from None
        extracted = _find_dataset_dir(Path(tmp) / "x")
        for (ds, fname), digest in _KNOWN_SHA256.items():
            f = extracted / fname
            if ds == name and f.is_file() and _sha256(f) != digest:
                raise DownloadError(
                    f"{name}/{fname} fails its sha256 check; the download is "
                    "corrupted or a different release"
                )
        if target.exists():
            shutil.rmtree(target)
        os.replace(extracted, target)
    logger.info("cached %s in %s", name, target)
    return load_movielens(target)


def _download(url: str, dest: Path, timeout: float, hint: str) -> None:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp, open(dest, "wb") as out:
            shutil.copyfileobj(resp, out)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DownloadError(f"cannot download {url} ({reason}); {hint}") from None


def _safe_extract(zf: zipfile.ZipFile, dest: Path) -> None:
    dest = dest.resolve()
    for member in zf.infolist():
        target = (dest / member.filename).resolve()
        if not str(target).startswith(str(dest)):
            raise DownloadError(f"archive member {member.filename!r} escapes the target folder")
    zf.extractall(dest)


def _find_dataset_dir(root: Path) -> Path:
    for candidate in [root, *sorted(p for p in root.rglob("*") if p.is_dir())]:
        try:
            _layout(candidate)
            return candidate
        except DataError:
            continue
    raise DownloadError("the archive holds no MovieLens ratings file")
