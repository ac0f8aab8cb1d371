"""Accepted interactions and deletions, durable in an embedded SQLite database.

Every ``POST /users/{user}/interactions`` is written here and committed *before* the
service replies, so a crash (even ``kill -9``) between two requests loses nothing that was
acknowledged; on start the service replays the log and folds every live user in again.

Durability: the database runs in WAL mode (readers never block the writer) with
``synchronous=FULL`` by default: every commit fsyncs the WAL, so an acknowledged write
also survives a power cut or an OS crash. ``synchronous=NORMAL`` (``--sync normal``)
skips that fsync and is still safe against the process dying (``kill -9``: the WAL is in
the OS page cache), only not against the machine losing power; choose it for
throughput where the last second of writes on a power loss is acceptable.

Raw ids are stored as JSON text, so integer and string ids keep their type. A deleted
user's events are removed (right to be forgotten) and only the id stays, in
``forgotten``, so that a training user deleted here stays hidden from the loaded model
(their training row is never used again: interactions they post afterwards start a new
history)
until the next refit leaves them out. ``changes`` is an append-only list of the users
each write touched; another process (a second worker) reads it to catch up.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

__all__ = ["SCHEMA_VERSION", "EventLog"]

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    user TEXT NOT NULL,
    item TEXT NOT NULL,
    value REAL,
    ts REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS events_user ON events (user, seq);
CREATE TABLE IF NOT EXISTS forgotten (user TEXT PRIMARY KEY, ts REAL NOT NULL);
CREATE TABLE IF NOT EXISTS changes (seq INTEGER PRIMARY KEY AUTOINCREMENT, user TEXT NOT NULL);
"""


def _key(raw: Any) -> str:
    """A raw id as stored: JSON, so 1 and "1" stay different ids."""
    return json.dumps(raw.item() if hasattr(raw, "item") else raw)


class EventLog:
    """The SQLite event log of one service (one file in the ``--state`` folder).

    Parameters
    ----------
    path : path or None
        The database file; None keeps it in memory (nothing survives a restart).
    synchronous : {"FULL", "NORMAL"}
        SQLite's ``synchronous`` setting (see the module docstring).
    """

    def __init__(self, path: str | Path | None, synchronous: str = "FULL") -> None:
        sync = synchronous.upper()
        if sync not in ("FULL", "NORMAL"):
            raise ValueError(f"synchronous must be FULL or NORMAL, got {synchronous!r}")
        self.path = None if path is None else Path(path)
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(
            ":memory:" if self.path is None else str(self.path),
            check_same_thread=False,
            isolation_level=None,
            timeout=30.0,
        )
        with self._lock:
            if self.path is not None:
                mode = self._db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
                if str(mode).lower() != "wal":  # pragma: no cover - exotic filesystems
                    raise OSError(f"SQLite could not switch {self.path} to WAL mode ({mode})")
            self._db.execute(f"PRAGMA synchronous={sync}")
            self._db.executescript(_SCHEMA)
            row = self._db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
            if row is None:
                self._db.execute(
                    "INSERT INTO meta (key, value) VALUES ('schema', ?)", (str(SCHEMA_VERSION),)
                )
            elif int(row[0]) > SCHEMA_VERSION:
                raise OSError(
                    f"{self.path} was written by a newer latentfactors (schema {row[0]}); "
                    "upgrade latentfactors to serve from it"
                )
        self.synchronous = sync

    # ------------------------------------------------------------------ writes
    def add(self, user: Any, items: Sequence[Any], values: Sequence[float | None]) -> int:
        """Append one user's interactions in one committed transaction; returns the
        ``changes`` sequence number of this write."""
        u = _key(user)
        now = time.time()
        rows = [(u, _key(i), None if v is None else float(v), now) for i, v in zip(items, values)]
        with self._lock:
            cur = self._db.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                cur.executemany("INSERT INTO events (user, item, value, ts) VALUES (?,?,?,?)", rows)
                cur.execute("INSERT INTO changes (user) VALUES (?)", (u,))
                seq = cur.lastrowid
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise
        return int(seq)

    def forget(self, user: Any) -> int:
        """Delete every stored interaction of ``user`` and remember that they were
        deleted; returns how many interactions were removed."""
        u = _key(user)
        with self._lock:
            cur = self._db.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                n = cur.execute("DELETE FROM events WHERE user=?", (u,)).rowcount
                cur.execute(
                    "INSERT OR REPLACE INTO forgotten (user, ts) VALUES (?, ?)", (u, time.time())
                )
                cur.execute("INSERT INTO changes (user) VALUES (?)", (u,))
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise
        return int(n)

    def set_meta(self, key: str, value: str) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    # ------------------------------------------------------------------ reads
    def meta(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def events_of(self, user: Any) -> tuple[list[Any], list[float | None]]:
        """The user's stored items and values, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT item, value FROM events WHERE user=? ORDER BY seq", (_key(user),)
            ).fetchall()
        return [json.loads(r[0]) for r in rows], [r[1] for r in rows]

    def all_events(self) -> Iterator[tuple[Any, Any, float | None]]:
        """Every stored ``(user, item, value)``, oldest first."""
        with self._lock:
            rows = self._db.execute("SELECT user, item, value FROM events ORDER BY seq").fetchall()
        for u, i, v in rows:
            yield json.loads(u), json.loads(i), v

    def users(self) -> list[Any]:
        with self._lock:
            rows = self._db.execute("SELECT DISTINCT user FROM events").fetchall()
        return [json.loads(r[0]) for r in rows]

    def forgotten(self) -> set[Any]:
        with self._lock:
            rows = self._db.execute("SELECT user FROM forgotten").fetchall()
        return {json.loads(r[0]) for r in rows}

    def is_forgotten(self, user: Any) -> bool:
        with self._lock:
            row = self._db.execute("SELECT 1 FROM forgotten WHERE user=?", (_key(user),)).fetchone()
        return row is not None

    def data_version(self) -> int:
        """SQLite's ``PRAGMA data_version``: changes when *another* connection commits."""
        with self._lock:
            return int(self._db.execute("PRAGMA data_version").fetchone()[0])

    def delete_meta(self, key: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM meta WHERE key=?", (key,))

    def last_change(self) -> int:
        with self._lock:
            row = self._db.execute("SELECT COALESCE(MAX(seq), 0) FROM changes").fetchone()
        return int(row[0])

    def changed_since(self, seq: int) -> tuple[list[Any], int]:
        """Users touched by writes after ``seq`` (by any process) and the newest seq."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, user FROM changes WHERE seq > ? ORDER BY seq", (seq,)
            ).fetchall()
        if not rows:
            return [], seq
        return list(dict.fromkeys(json.loads(r[1]) for r in rows)), int(rows[-1][0])

    def counts(self) -> tuple[int, int]:
        """(stored interactions, users with stored interactions)."""
        with self._lock:
            n = self._db.execute("SELECT COUNT(*), COUNT(DISTINCT user) FROM events").fetchone()
        return int(n[0]), int(n[1])

    def close(self) -> None:
        with self._lock:
            self._db.close()
