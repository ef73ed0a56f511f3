"""The event journal: time filters compare instants, retention forgets only what is settled,
and journals written before the Unix-time column existed still answer."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone

from uspd.detect.presence import Event
from uspd.live.journal import Journal

UTC = timezone.utc
PARIS = timezone(timedelta(hours=2))


def test_since_compares_instants_across_utc_offsets(tmp_path):
    with Journal(tmp_path / "j.sqlite3") as journal:
        # 08:30 in Paris is 06:30 UTC: earlier than 07:00 UTC although its text sorts later
        journal.record_event(Event(1.0, "motion", "major", 0.9), datetime(2024, 5, 1, 8, 30, tzinfo=PARIS), "a")
        journal.record_event(Event(2.0, "occupied", "major", 0.9), datetime(2024, 5, 1, 7, 30, tzinfo=UTC), "b")
        since = datetime(2024, 5, 1, 7, 0, tzinfo=UTC)
        assert [e.source for e in journal.events(since=since)] == ["b"]
        assert [e.source for e in journal.events(since=since - timedelta(hours=1))] == ["a", "b"]


def test_prune_forgets_settled_history_but_keeps_anything_pending(tmp_path):
    now = datetime.now(UTC)
    with Journal(tmp_path / "j.sqlite3") as journal:
        old = now - timedelta(days=40)
        settled = journal.record_event(Event(1.0, "occupied", "major", 0.9), old, "x")
        journal.mark(journal.add_delivery("mqtt", "t", "ON", event_id=settled), "delivered")
        waiting = journal.record_event(Event(2.0, "vacant", None, 0.0), old, "x")
        journal.add_delivery("webhook", "http://h/", {"event": "vacant"}, event_id=waiting)
        recent = journal.record_event(Event(3.0, "motion", "minor", 0.4), now, "x")
        # deliveries carry the real time they were made, so backdate the settled one
        journal._db.execute("UPDATE deliveries SET created=? WHERE event_id=?", (old.isoformat(), settled))

        assert journal.prune(now - timedelta(days=30)) == (1, 1)
        assert [e.id for e in journal.events()] == [waiting, recent]
        assert [d.event_id for d in journal.pending()] == [waiting]
        assert journal.prune(now - timedelta(days=30)) == (0, 0)


def test_a_journal_from_before_the_unix_column_is_migrated(tmp_path):
    path = tmp_path / "old.sqlite3"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, wall_time TEXT NOT NULL, time_s REAL NOT NULL, "
               "event TEXT NOT NULL, kind TEXT, score REAL NOT NULL, source TEXT NOT NULL)")
    db.execute("INSERT INTO events (wall_time, time_s, event, kind, score, source) VALUES "
               "('2024-05-01T08:30:00.000+02:00', 1.0, 'motion', 'major', 0.9, 'old')")
    db.commit()
    db.close()
    with Journal(path) as journal:
        assert [e.source for e in journal.events(since=datetime(2024, 5, 1, 6, 0, tzinfo=UTC))] == ["old"]
        assert journal.events(since=datetime(2024, 5, 1, 6, 31, tzinfo=UTC)) == []


def test_the_live_chain_applies_the_configured_retention_when_it_starts(tmp_path):
    from uspd.config import config_from_dict
    from uspd.detect.features import grid_m_s
    from uspd.live.routines import Timeline
    from uspd.live.run import LiveChain

    now = datetime.now(UTC)
    with Journal(tmp_path / "j.sqlite3") as journal:
        journal.record_event(Event(1.0, "motion", "major", 0.9), now - timedelta(days=3), "x")
        journal.record_event(Event(2.0, "motion", "major", 0.9), now - timedelta(hours=1), "y")
        config = config_from_dict({"live": {"journal_keep_days": 2}})
        LiveChain(config, grid_m_s(), journal=journal, timeline=Timeline(now), source_name="z").close()
        assert [e.source for e in journal.events()] == ["y"]
