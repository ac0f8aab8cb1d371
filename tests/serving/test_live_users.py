"""The SQLite event log on its own: durability settings, ids keep their type, forgetting."""

from __future__ import annotations

import sqlite3

import pytest

from latentfactors.exceptions import InvalidParameterError
from latentfactors.serving.live_users import SCHEMA_VERSION, EventLog
from latentfactors.serving.settings import Settings


def test_log_round_trip(tmp_path):
    path = tmp_path / "log.sqlite"
    log = EventLog(path, "NORMAL")
    seq = log.add(1, [10, "10", "x"], [5.0, None, 2.5])
    log.add("1", ["y"], [1.0])
    assert log.events_of(1) == ([10, "10", "x"], [5.0, None, 2.5])  # 1 and "1" differ
    assert log.events_of("1") == (["y"], [1.0])
    assert sorted(map(str, log.users())) == ["1", "1"] and log.counts() == (4, 2)
    assert log.forget(1) == 3 and log.events_of(1) == ([], [])
    assert log.forgotten() == {1} and log.is_forgotten(1) and not log.is_forgotten("1")
    users, last = log.changed_since(seq - 1)
    assert users == [1, "1"] and last == log.last_change()
    log.close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    again = EventLog(path)
    assert list(again.all_events()) == [("1", "y", 1.0)]
    again.close()


def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "log.sqlite"
    EventLog(path).close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE meta SET value=? WHERE key='schema'", (str(SCHEMA_VERSION + 1),))
    with pytest.raises(OSError, match="written by a newer latentfactors"):
        EventLog(path)


def test_other_connections_are_seen(tmp_path):
    path = tmp_path / "log.sqlite"
    a, b = EventLog(path), EventLog(path)
    v = a.data_version()
    b.add("u", ["i"], [1.0])
    assert a.data_version() != v and a.changed_since(0)[0] == ["u"]
    a.close()
    b.close()


def test_settings_are_checked(tmp_path):
    with pytest.raises(InvalidParameterError, match="unknown index 'faiss'"):
        Settings("m.lfm", index="faiss")
    with pytest.raises(InvalidParameterError, match="max_n must be a positive int"):
        Settings("m.lfm", max_n=0)
    with pytest.raises(InvalidParameterError, match="synchronous must be"):
        Settings("m.lfm", synchronous="OFF")
    s = Settings("m.lfm", token="secret", state_dir=str(tmp_path))
    assert s.public()["token"] == "set" and "secret" not in str(s.public()) + repr(s)
    assert Settings.from_json(s.to_json()) == s
    with pytest.raises(ValueError, match="FULL or NORMAL"):
        EventLog(None, "OFF")
