"""`read_path`: interactions from whatever a user points at, with the columns guessed.

A MovieLens or Last.fm folder goes to its loader; a Parquet file or a delimited text
file has its columns found by name (``user``/``userId``/..., ``item``/``movieId``/...,
``rating``, ``weight``/``count``/``plays``, ``timestamp``) or, for a headerless file of
2-4 numeric columns (MovieLens ``u.data``, LIBMF, Surprise's default format), by
position: user, item[, rating[, timestamp]]. What was guessed comes back as one line, so
a command line can say it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..exceptions import DataError
from .movielens import Dataset, load_lastfm, load_movielens
from .readers import read_csv, read_parquet, sniff_separator

__all__ = ["read_path"]

USER_NAMES = ("user", "userId", "user_id", "userID", "uid")
ITEM_NAMES = ("item", "itemId", "item_id", "movieId", "movie_id", "artistID", "iid")
RATING_NAMES = ("rating", "ratings", "score", "stars")
WEIGHT_NAMES = ("weight", "count", "plays", "playcount")
TIME_NAMES = ("timestamp", "time", "ts")
_POSITIONAL = ("user", "item", "rating", "timestamp")


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _col(value: Any) -> Any:
    if value is None or isinstance(value, int):
        return value
    text = str(value)
    return int(text) if text.isdigit() else text


def read_path(
    path: str | os.PathLike,
    *,
    sep: str | None = None,
    user: str | int | None = None,
    item: str | int | None = None,
    rating: str | int | None = None,
    weight: str | int | None = None,
    timestamp: str | int | None = None,
    names: list[str] | None = None,
    header: bool | None = None,
    implicit: bool = False,
    encoding: str = "utf-8",
    duplicates: str = "raise",
) -> tuple[Dataset, str]:
    """Read ``path`` (a folder, a Parquet file or delimited text); ``(Dataset, note)``.

    Columns not given are guessed (see the module docstring); ``note`` says what was
    read, e.g. ``"u.data: no header; 4 numeric columns read as user, item, rating,
    timestamp"``. ``implicit=True`` ignores any rating column.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "u.data"
    >>> _ = p.write_text("196\\t242\\t3\\t881250949\\n186\\t302\\t3\\t891717742\\n")
    >>> ds, note = read_path(p)
    >>> ds.interactions.kind, note
    ('explicit', 'u.data: no header; 4 numeric columns read as user, item, rating, timestamp')
    """
    p = Path(os.fspath(path))
    if not p.exists():
        raise DataError(f"no such file or folder: {str(p)!r}")
    if p.is_dir():
        if (p / "user_artists.dat").is_file():
            return load_lastfm(p), f"{p.name}: Last.fm folder"
        if any((p / f).is_file() for f in ("u.data", "ratings.dat", "ratings.csv")):
            return load_movielens(p), f"{p.name}: MovieLens folder"
        raise DataError(
            f"{str(p)!r} is a folder but not a MovieLens or Last.fm one (no u.data, "
            "ratings.dat, ratings.csv or user_artists.dat); point at a file of interactions"
        )
    parquet = p.suffix.lower() in (".parquet", ".pq")
    note = ""
    if parquet:
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            columns = list(pq.read_schema(p).names)
        except (pa.ArrowInvalid, OSError) as exc:
            raise DataError(f"{p.name} is not a readable Parquet file ({exc})") from None
    else:
        _check_text(p, encoding)
        sep = sep or sniff_separator(p, encoding=encoding)
        if names is not None:
            columns = list(names)
        else:
            with open(p, encoding=encoding, errors="replace") as fh:
                first = fh.readline().lstrip("\ufeff").rstrip("\r\n")
            fields = [c.strip() for c in first.split(sep)]
            if header is None and len(fields) > 1 and all(_number(f) for f in fields):
                header = False  # a headerless numeric file: columns by position
            if header is False:
                if not 2 <= len(fields) <= 4 and (user is None or item is None):
                    raise DataError(
                        f"{p.name} has no header and {len(fields)} columns; name them with "
                        "--names user,item,rating,... (or user=, item=, ... in Python)"
                    )
                names = list(_POSITIONAL[: len(fields)]) if len(fields) <= 4 else None
                columns = list(names or [])
                if names and implicit:
                    names[2:3] = ["weight"] if len(names) > 2 else []
                if names:
                    note = (f"{p.name}: no header; {len(fields)} numeric columns read as "
                            f"{', '.join(names)}")  # fmt: skip
            else:
                columns = fields if len(fields) > 1 else []
    cols_given = [user, item, rating, weight, timestamp]

    def pick(given: Any, candidates: tuple[str, ...]) -> Any:
        if given is not None:
            return _col(given)
        return next((c for c in candidates if c in columns), None)

    u = pick(user, USER_NAMES)
    i = pick(item, ITEM_NAMES)
    if not columns and not parquet and header is not False:
        # one field per line: read by position and let the reader explain the separator
        u, i = (0 if u is None else u), (1 if i is None else i)
    w = pick(weight, WEIGHT_NAMES)
    r = None if implicit or w is not None else pick(rating, RATING_NAMES)
    t = pick(timestamp, TIME_NAMES)
    if u is None or i is None:
        shown = columns if columns else "(no header)"
        raise DataError(
            f"{p.name}: cannot tell the user and item columns among {shown}; name them "
            "with --user-col and --item-col (user=, item= in Python)"
        )
    kw = dict(user=u, item=i, rating=r, timestamp=t, weight=w)
    if parquet:
        inter = read_parquet(p, duplicates=duplicates, **kw)
    else:
        inter = read_csv(p, sep=sep, names=names, header=header if names is None else False,
                         encoding=encoding, duplicates=duplicates, **kw)  # fmt: skip
    if not note and not any(c is not None for c in cols_given):
        found = ", ".join(f"{k}={v!r}" for k, v in kw.items() if v is not None)
        note = f"{p.name}: columns {found}"
    return Dataset(inter, None), note


def _check_text(p: Path, encoding: str) -> None:
    """A clear error for a binary file (or a wrong encoding) before parsing it."""
    import codecs

    try:
        codecs.lookup(encoding)
    except LookupError:
        raise DataError(f"unknown text encoding {encoding!r}; use e.g. utf-8 or latin-1") from None
    with open(p, "rb") as fh:
        head = fh.read(1 << 16)
    if b"\x00" in head:
        raise DataError(
            f"{p.name} looks binary (it holds NUL bytes), not delimited text; pass a CSV/TSV "
            "file, or a .parquet file for Parquet"
        )
    try:
        head.decode(encoding)
    except UnicodeDecodeError as exc:
        cut = len(head) == 1 << 16 and exc.start >= len(head) - 4
        if not cut:  # not just a character cut at the 64 KiB boundary
            raise DataError(
                f"{p.name} is not valid {encoding} text (byte {exc.start}); pass the file's "
                "encoding, e.g. --encoding latin-1"
            ) from None
