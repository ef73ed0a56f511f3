"""The event journal: every presence event and every action's delivery, in SQLite.

An event is written *before* anything reacts to it, and each action (MQTT message,
webhook, command) gets a delivery row that starts ``pending`` and ends ``delivered``,
``failed`` or ``superseded``. A crash, a dead broker or a pulled network cable therefore
loses nothing: pending MQTT messages are handed to the broker again, oldest first, by the
next :class:`~uspd.live.mqtt.MqttLink` that opens the journal.

>>> journal = Journal(default_journal_path())
>>> event_id = journal.record_event(event, wall_time, source="simulated:walk_in")
>>> delivery_id = journal.add_delivery("mqtt", "uspd/uspd/occupancy", "ON", event_id=event_id, retain=True)
>>> journal.mark(delivery_id, "delivered")

One connection is shared by the detection loop and the MQTT network thread (a lock
serialises them); WAL mode keeps readers (``uspd events``) from blocking the writer.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

from uspd.detect.presence import Event

DeliveryStatus = Literal["pending", "delivered", "failed", "superseded"]
ActionType = Literal["mqtt", "webhook", "command"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    wall_time TEXT NOT NULL,          -- ISO 8601 with UTC offset, as the source's clock said
    wall_unix REAL,                   -- the same instant in Unix seconds (compared, not the text)
    time_s REAL NOT NULL,             -- seconds since the stream began
    event TEXT NOT NULL,              -- motion | occupied | vacant | no_motion_for
    kind TEXT,                        -- minor | major | NULL
    score REAL NOT NULL,
    source TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS deliveries (
    id INTEGER PRIMARY KEY,
    event_id INTEGER REFERENCES events(id),
    routine TEXT,                     -- NULL: the built-in MQTT state publishing
    action TEXT NOT NULL,             -- mqtt | webhook | command
    target TEXT NOT NULL,             -- topic, URL or argv (JSON)
    payload TEXT NOT NULL,
    retain INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    created TEXT NOT NULL,
    updated TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS deliveries_pending ON deliveries(status, action, id);
"""
_INDEXES = """
CREATE INDEX IF NOT EXISTS events_unix ON events(wall_unix);
CREATE INDEX IF NOT EXISTS deliveries_event ON deliveries(event_id);
"""


def default_journal_path() -> Path:
    """``$XDG_DATA_HOME/uspd/events.sqlite3`` (``~/.local/share/uspd/...`` when unset)."""
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "uspd" / "events.sqlite3"


@dataclass(frozen=True)
class JournalEvent:
    id: int
    wall_time: datetime
    time_s: float
    event: str
    kind: str | None
    score: float
    source: str


@dataclass(frozen=True)
class Delivery:
    id: int
    event_id: int | None
    routine: str | None
    action: str
    target: str
    payload: str
    retain: bool
    status: str
    attempts: int
    error: str | None


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


class Journal:
    """The SQLite journal at ``path`` (created with its folder if missing)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(_SCHEMA)
            self._add_unix_times()
            self._db.executescript(_INDEXES)
        except (OSError, sqlite3.Error) as err:
            raise OSError(f"cannot open the event journal {self.path}: {err}") from None
        self._lock = threading.RLock()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _add_unix_times(self) -> None:
        """Journals written before ``wall_unix`` existed get the column, filled from the text."""
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(events)")}
        if "wall_unix" in columns:
            return
        self._db.execute("ALTER TABLE events ADD COLUMN wall_unix REAL")
        rows = self._db.execute("SELECT id, wall_time FROM events").fetchall()
        self._db.executemany("UPDATE events SET wall_unix=? WHERE id=?",
                             [(datetime.fromisoformat(text).timestamp(), event_id) for event_id, text in rows])

    def record_event(self, event: Event, wall_time: datetime, source: str) -> int:
        """Write one presence event (before any action runs); returns its id."""
        return self._insert_event(event.time_s, event.event, event.kind, event.score, wall_time, source)

    def record_quiet_spell(self, time_s: float, wall_time: datetime, source: str) -> int:
        """Write a ``no_motion_for`` firing's moment (before its actions run); returns its id."""
        return self._insert_event(time_s, "no_motion_for", None, 0.0, wall_time, source)

    def _insert_event(self, time_s: float, name: str, kind: str | None, score: float, wall_time: datetime,
                      source: str) -> int:
        with self._lock:
            cursor = self._db.execute(
                "INSERT INTO events (wall_time, wall_unix, time_s, event, kind, score, source) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (wall_time.isoformat(timespec="milliseconds"), wall_time.timestamp(), time_s, name, kind, score, source),
            )
            return int(cursor.lastrowid)

    def add_delivery(self, action: ActionType, target: str | list[str], payload: str | dict, *,
                     event_id: int | None = None, routine: str | None = None, retain: bool = False,
                     supersede: bool = False) -> int:
        """Queue one action as ``pending``; returns the delivery id.

        supersede: older pending messages to the same MQTT topic are marked ``superseded``
        (for a sensor whose latest value is all that matters, e.g. the motion score).
        """
        target_text = target if isinstance(target, str) else json.dumps(target)
        payload_text = payload if isinstance(payload, str) else json.dumps(payload)
        now = _now()
        with self._lock:
            if supersede:
                self._db.execute(
                    "UPDATE deliveries SET status='superseded', updated=? "
                    "WHERE status='pending' AND action=? AND target=?", (now, action, target_text),
                )
            cursor = self._db.execute(
                "INSERT INTO deliveries (event_id, routine, action, target, payload, retain, created, updated) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (event_id, routine, action, target_text, payload_text, int(retain), now, now),
            )
            return int(cursor.lastrowid)

    def mark(self, delivery_id: int, status: DeliveryStatus, error: str | None = None, *,
             attempted: bool = True) -> None:
        """Record an outcome; ``attempted`` counts one more try."""
        with self._lock:
            self._db.execute(
                "UPDATE deliveries SET status=?, error=?, attempts=attempts+?, updated=? WHERE id=?",
                (status, error, int(attempted), _now(), delivery_id),
            )

    def delivery(self, delivery_id: int) -> Delivery:
        with self._lock:
            row = self._db.execute(f"SELECT {_DELIVERY_COLUMNS} FROM deliveries WHERE id=?", (delivery_id,)).fetchone()
        if row is None:
            raise KeyError(f"no delivery {delivery_id} in {self.path}")
        return _delivery(row)

    def pending(self, action: ActionType | None = None, limit: int | None = None) -> list[Delivery]:
        """Pending deliveries, oldest first (the order they must go out in); at most ``limit``."""
        query = f"SELECT {_DELIVERY_COLUMNS} FROM deliveries WHERE status='pending'"
        args: tuple = ()
        if action is not None:
            query += " AND action=?"
            args = (action,)
        with self._lock:
            if limit is not None:
                query += f" ORDER BY id LIMIT {int(limit)}"
            else:
                query += " ORDER BY id"
            rows = self._db.execute(query, args).fetchall()
        return [_delivery(row) for row in rows]

    def events(self, since: datetime | None = None, limit: int | None = None) -> list[JournalEvent]:
        """Events in time order (``since``: wall time, inclusive, compared as an instant
        whatever UTC offset each was written with; ``limit``: the newest n)."""
        query = "SELECT id, wall_time, time_s, event, kind, score, source FROM events"
        args: list = []
        if since is not None:
            query += " WHERE wall_unix >= ?"
            args.append(since.timestamp())
        query += " ORDER BY id DESC"
        if limit is not None:
            query += " LIMIT ?"
            args.append(limit)
        with self._lock:
            rows = self._db.execute(query, args).fetchall()
        return [JournalEvent(r[0], datetime.fromisoformat(r[1]), *r[2:]) for r in reversed(rows)]

    def deliveries_for(self, event_ids: list[int]) -> dict[int, list[Delivery]]:
        """Deliveries of each of these events."""
        out: dict[int, list[Delivery]] = {i: [] for i in event_ids}
        with self._lock:
            for start in range(0, len(event_ids), 500):
                chunk = event_ids[start : start + 500]
                rows = self._db.execute(
                    f"SELECT {_DELIVERY_COLUMNS} FROM deliveries WHERE event_id IN ({','.join('?' * len(chunk))}) "
                    "ORDER BY id", chunk,
                ).fetchall()
                for row in rows:
                    out[row[1]].append(_delivery(row))
        return out

    def prune(self, before: datetime) -> tuple[int, int]:
        """Forget what is settled and older than ``before``: deliveries that are no longer
        pending, then events with no delivery left. Returns (events, deliveries) removed.
        Pending deliveries and their events are kept whatever their age: nothing undelivered
        is lost to retention."""
        cutoff_text = before.astimezone(timezone.utc).isoformat(timespec="milliseconds")
        with self._lock:
            deliveries = self._db.execute(
                "DELETE FROM deliveries WHERE status != 'pending' AND created < ?", (cutoff_text,)).rowcount
            events = self._db.execute(
                "DELETE FROM events WHERE wall_unix < ? AND NOT EXISTS "
                "(SELECT 1 FROM deliveries WHERE deliveries.event_id = events.id)", (before.timestamp(),)).rowcount
        return events, deliveries

    def counts(self) -> dict[str, int]:
        """Deliveries by status."""
        with self._lock:
            return dict(self._db.execute("SELECT status, COUNT(*) FROM deliveries GROUP BY status").fetchall())


_DELIVERY_COLUMNS = "id, event_id, routine, action, target, payload, retain, status, attempts, error"


def _delivery(row: tuple) -> Delivery:
    return Delivery(row[0], row[1], row[2], row[3], row[4], row[5], bool(row[6]), row[7], row[8], row[9])
