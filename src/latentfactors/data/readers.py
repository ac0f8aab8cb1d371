"""Readers for delimited text (any separator, including MovieLens' ``::``) and Parquet."""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..exceptions import DataError
from ._columns import arrow_to_numpy as _arrow_to_numpy
from ._columns import check_columns, rows_text, wanted
from .interactions import Interactions

__all__ = ["read_csv", "read_parquet", "sniff_separator"]

_SNIFF_ORDER = ("::", "\t", ",", ";", "|")


def sniff_separator(path: str | os.PathLike, encoding: str = "utf-8") -> str:
    """Guess the separator of a delimited file from its first line.

    Tries ``::``, tab, comma, semicolon and pipe, in that order; falls back to
    whitespace-free comma.
    """
    with open(path, "rb") as fh:
        first = fh.readline().decode(encoding, errors="replace")
    for sep in _SNIFF_ORDER:
        if sep in first:
            return sep
    return ","


def _resolve(name: str | int | None, names: list[str]) -> str | None:
    """Allow columns to be named by position (0, 1, ...) as well as by name."""
    if name is None or isinstance(name, str):
        return name
    if isinstance(name, (int, np.integer)) and 0 <= int(name) < len(names):
        return names[int(name)]
    raise DataError(f"column position {name!r} is out of range; the file has {len(names)} columns")


def read_csv(
    path: str | os.PathLike,
    *,
    sep: str | None = ",",
    user: str | int = "user",
    item: str | int = "item",
    rating: str | int | None = "auto",
    timestamp: str | int | None = None,
    weight: str | int | None = None,
    names: Sequence[str] | None = None,
    header: bool | None = None,
    encoding: str = "utf-8",
    duplicates: str = "raise",
    rating_scale: tuple[float, float] | None = None,
) -> Interactions:
    """Read interactions from delimited text with pyarrow's multithreaded CSV parser.

    Parameters
    ----------
    path : path-like
        The file.
    sep : str or None
        Separator: any single character, or a multi-character string such as
        MovieLens' ``"::"``. ``None`` sniffs it from the first line.
    user, item, rating, timestamp, weight : str or int
        Column names (or 0-based positions). ``rating="auto"`` (default) uses a column
        named ``rating`` when the file has one (explicit data) and none otherwise
        (implicit); ``rating=None`` always reads implicit feedback.
    names : list of str, optional
        Column names for a file without a header line.
    header : bool, optional
        Whether the first line is a header. Default: True unless ``names`` is given.
        With ``names`` and ``header=True`` the header line is skipped.
    encoding : str
        Text encoding ("latin-1" for MovieLens 1M/10M).
    duplicates, rating_scale
        As in :meth:`Interactions.from_dataframe`.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "r.dat"
    >>> _ = p.write_text("1::10::5::978300760\\n1::20::3::978302109\\n")
    >>> read_csv(p, sep="::", names=["u", "i", "r", "t"], user="u", item="i", rating="r",
    ...          timestamp="t")
    Interactions(explicit: 2 rows, 1 users, 2 items, ratings in [3, 5])
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    path = Path(path)
    if path.is_dir():
        raise DataError(
            f"{str(path)!r} is a folder, not a file; for a MovieLens or Last.fm folder use "
            "load_movielens / load_lastfm (or read_path)"
        )
    if not path.is_file():
        raise DataError(f"no such file: {str(path)!r}")
    if sep is None:
        sep = sniff_separator(path, encoding=encoding)
    if not isinstance(sep, str) or sep == "":
        raise DataError(f"sep must be a non-empty string, got {sep!r}")
    if header is None:
        header = names is None

    source: Any = str(path)
    if len(sep) > 1:
        raw = path.read_bytes()
        token = sep.encode(encoding)
        delim = "\x1f"
        if delim.encode() in raw:
            raise DataError(
                f"{path.name}: cannot use multi-character separator {sep!r} on a file "
                "that contains the ASCII unit separator (0x1f)"
            )
        source = io.BytesIO(raw.replace(token, delim.encode()))
        delimiter = delim
    else:
        delimiter = sep

    bad_rows: list[tuple[str, int, int]] = []

    def on_invalid(row: Any) -> str:
        bad_rows.append((row.text, row.expected_columns, row.actual_columns))
        return "skip"

    read_opts = pacsv.ReadOptions(
        encoding=encoding,
        column_names=list(names) if names is not None else None,
        autogenerate_column_names=(names is None and not header),
        skip_rows=1 if (names is not None and header) else 0,
    )
    parse_opts = pacsv.ParseOptions(delimiter=delimiter, invalid_row_handler=on_invalid)
    # ids are read as text and converted exactly (type inference would read 10**19 or a
    # mix of big and small integers as floats, merging 2**53 and 2**53 + 1)
    try:
        id_cols = _id_columns(source, read_opts, parse_opts, user, item)
        bad_rows.clear()
        if isinstance(source, io.BytesIO):
            source.seek(0)
        convert_opts = pacsv.ConvertOptions(column_types={c: pa.string() for c in id_cols})
        table = pacsv.read_csv(source, read_options=read_opts, parse_options=parse_opts,
                               convert_options=convert_opts)  # fmt: skip
    except pa.ArrowInvalid as exc:
        if "Empty CSV file" in str(exc):
            raise DataError(f"{path.name} is empty; interactions need at least one row") from None
        raise DataError(f"cannot parse {path.name}: {exc}") from None
    if bad_rows:
        text, expected, actual = bad_rows[0]
        line = _find_line(path, text, sep, encoding)
        where = f"line {line}" if line else "a line"
        raise DataError(
            f"{path.name}: {len(bad_rows)} unparsable line(s); {where} has {actual} field(s) "
            f"where {expected} were expected: {text!r}. Check the separator (sep={sep!r}) "
            "and the column names"
        )

    col_names = list(table.column_names)
    if not header and names is None:  # positions only
        col_names_display = [str(k) for k in range(len(col_names))]
    else:
        col_names_display = col_names
    if len(col_names) == 1:
        guess = sniff_separator(path, encoding=encoding)
        hint = f"; it looks like sep={guess!r}" if guess != sep else ""
        raise DataError(
            f"{path.name}: every line has one field with sep={sep!r} (first column: "
            f"{col_names_display[0]!r}); pass the file's separator{hint}"
        )
    if rating == "auto":
        rating = "rating" if ("rating" in col_names and weight is None) else None
    user_c, item_c, rating_c, ts_c, weight_c = (
        _resolve(c, col_names) for c in (user, item, rating, timestamp, weight)
    )
    cols = wanted(user_c, item_c, rating_c, ts_c, weight_c)
    if col_names_display is not col_names and any(
        isinstance(c, str) for c in (user, item, rating, timestamp, weight)
    ):
        raise DataError(
            f"{path.name} has no header line: name columns by position (user=0, item=1, ...) "
            "or pass names=[...]"
        )
    check_columns(cols, col_names, path.name)
    columns = {
        c: _exact_ids(table.column(c)) if c in id_cols else _arrow_to_numpy(table.column(c))
        for c in cols
    }
    first_data_line = 2 if header else 1

    def locate(rows: np.ndarray) -> str:
        lines = _data_row_lines(path, rows[:5], first_data_line, encoding)
        return f"lines {rows_text(lines) if lines is not None else rows_text(rows)}" + (
            "" if lines is not None else " (data rows)"
        )

    return Interactions.from_columns(
        columns,
        user=user_c,
        item=item_c,
        rating=rating_c,
        timestamp=ts_c,
        weight=weight_c,
        duplicates=duplicates,
        rating_scale=rating_scale,
        source=path.name,
        locate=locate,
    )


def read_parquet(
    path: str | os.PathLike,
    *,
    user: str = "user",
    item: str = "item",
    rating: str | None = "auto",
    timestamp: str | None = None,
    weight: str | None = None,
    duplicates: str = "raise",
    rating_scale: tuple[float, float] | None = None,
) -> Interactions:
    """Read interactions from a Parquet file (only the named columns are loaded).

    ``rating="auto"`` (default) uses a column named ``rating`` when there is one."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    if not path.exists():
        raise DataError(f"no such file: {str(path)!r}")
    try:
        schema = pq.read_schema(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise DataError(f"{path.name} is not a readable Parquet file: {exc}") from None
    if rating == "auto":
        rating = "rating" if ("rating" in schema.names and weight is None) else None
    cols = wanted(user, item, rating, timestamp, weight)
    check_columns(cols, list(schema.names), path.name)
    table = pq.read_table(path, columns=cols)
    columns = {c: _arrow_to_numpy(table.column(c)) for c in cols}
    return Interactions.from_columns(
        columns,
        user=user,
        item=item,
        rating=rating,
        timestamp=timestamp,
        weight=weight,
        duplicates=duplicates,
        rating_scale=rating_scale,
        source=path.name,
    )


def _id_columns(source: Any, read_opts: Any, parse_opts: Any, *given: Any) -> set[str]:
    """Names pyarrow gives the user and item columns (to read them as text), from its own
    parse of the first block (quoted headers, BOMs and autogenerated names included)."""
    import pyarrow.csv as pacsv

    with pacsv.open_csv(source, read_options=read_opts, parse_options=parse_opts) as reader:
        cols = list(reader.schema.names)
    out = set()
    for g in given:
        if isinstance(g, str) and g in cols:
            out.add(g)
        elif isinstance(g, (int, np.integer)) and 0 <= int(g) < len(cols):
            out.add(cols[int(g)])
    return out


#: id cells that mean "missing" in a column of numeric ids (as pyarrow's numeric parser)
_NULL_IDS = ["", "NA", "N/A", "n/a", "NaN", "nan", "-NaN", "-nan", "null", "NULL", "None",
             "#N/A", "<NA>"]  # fmt: skip


def _exact_ids(col: Any) -> np.ndarray:
    """An id column read as text: integers exactly (int64, or Python ints past its
    range), else floats when every id is a number, else the strings."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
        return _arrow_to_numpy(col)
    col = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    text = pc.replace_substring_regex(pc.utf8_trim_whitespace(col), r"^\+", "")
    missing = pc.fill_null(pc.is_in(text, value_set=pa.array(_NULL_IDS)), True)
    present = pc.filter(text, pc.invert(missing))
    nulls = pc.any(missing).as_py()

    def with_missing(values: np.ndarray) -> np.ndarray:
        if not nulls:
            return values
        out = np.empty(len(text), dtype=object)  # None: reported as missing ids later
        out[~np.asarray(missing.to_numpy(zero_copy_only=False), dtype=bool)] = values
        return out

    if len(present) and pc.all(pc.match_substring_regex(present, r"^-?[0-9]+$")).as_py():
        if pc.max(pc.utf8_length(present)).as_py() <= 18:
            return with_missing(pc.cast(present, pa.int64()).to_numpy(zero_copy_only=False))
        from .vocabulary import _as_id_array

        return with_missing(_as_id_array([int(v) for v in present.to_pylist()]))
    if len(present):
        try:
            values = pc.cast(present, pa.float64()).to_numpy(zero_copy_only=False)
            return with_missing(values)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
    return np.asarray(col.to_pandas(), dtype=object)  # text ids, "NA" and "" included


def _find_line(path: Path, text: str, sep: str, encoding: str) -> int | None:
    """1-based line number of the first line equal to ``text`` (error path only)."""
    needle = text
    if len(sep) > 1:
        needle = text.replace("\x1f", sep)
    with open(path, encoding=encoding, errors="replace", newline="") as fh:
        for n, line in enumerate(fh, start=1):
            if line.rstrip("\r\n") == needle:
                return n
    return None


def _data_row_lines(
    path: Path, rows: np.ndarray, first_line: int, encoding: str
) -> np.ndarray | None:
    """Map 0-based data rows to 1-based file lines, skipping blank lines (error path only)."""
    wanted = set(int(r) for r in rows)
    found: dict[int, int] = {}
    row = -1
    with open(path, encoding=encoding, errors="replace", newline="") as fh:
        for n, line in enumerate(fh, start=1):
            if n < first_line or not line.strip():
                continue
            row += 1
            if row in wanted:
                found[row] = n
                if len(found) == len(wanted):
                    break
    if len(found) != len(wanted):
        return None
    return np.array([found[int(r)] for r in rows])
