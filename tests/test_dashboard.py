"""The web dashboard's server side: the feed of per-frame messages, settings validated, saved
and applied to a running chain, token and host checks, and the event stream over a real
HTTP server. (The page itself in a real browser: test_dashboard_browser.py.)"""

from __future__ import annotations

import json
import os
import threading
import time
from datetime import datetime
from pathlib import Path

import httpx
import numpy as np
import pytest
import uvicorn
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from serve_process import ServeProcess
from uspd.cli import app as cli
from uspd.config import load_config
from uspd.dashboard.app import check_binding, create_app, listen
from uspd.dashboard.feed import Feed
from uspd.dashboard.settings import Settings, write_atomic
from uspd.detect.pipeline import Decisions
from uspd.live.journal import Journal
from uspd.live.routines import Timeline, load_routines
from uspd.live.run import LiveChain, run_live
from uspd.live.sources import SimulatedSource
from uspd.sim.scenarios import build_scene

TOKEN = "correct-horse-battery-staple"
USER_CONFIG = """# my living room
[presence]
hold_s = 180.0   # three minutes, for reading

[live]
view_events = 5

[[routines]]
name = "hello"
trigger = "occupied"
actions = [{ type = "command", argv = ["true"] }]
"""


def _setup(tmp_path: Path, config_text: str | None = USER_CONFIG, duration_s: float = 12.0):
    """A chain over a simulated walk-in (occupied at 3.8 s), its feed and its settings."""
    path = None
    tmp_path.mkdir(parents=True, exist_ok=True)
    if config_text is not None:
        path = tmp_path / "uspd.toml"
        path.write_text(config_text)
    config = load_config(path)
    source = SimulatedSource(build_scene("walk_in", 3, duration_s=duration_s), config)
    journal = Journal(tmp_path / "events.sqlite3")
    chain = LiveChain(config, source.velocity_m_s, journal=journal, timeline=Timeline(datetime(2024, 5, 1, 8)),
                      source_name=source.name, routines=load_routines(config))
    feed = Feed(chain, source)
    settings = Settings(config, path, chain.update_settings)
    return chain, source, feed, settings, path


def _client(feed, settings, **options) -> TestClient:
    return TestClient(create_app(feed, settings, **options), base_url="http://127.0.0.1")


def _parse(text: str) -> list[tuple[str, dict]]:
    messages = []
    for block in text.split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if line and not line.startswith(":"))
        if "event" in lines:
            messages.append((lines["event"], json.loads(lines["data"])))
    return messages


# --- the feed ---

def test_feed_sums_hops_into_messages_whatever_the_block_sizes(tmp_path):
    chain, source, feed, _, _ = _setup(tmp_path)
    blocks: list[tuple[np.ndarray, Decisions]] = []
    chain.listeners.insert(0, lambda power, decisions, firings: blocks.append((power, decisions)))
    sent = []
    feed._publish = lambda messages, keep=None: sent.extend(messages)  # every message, not only the kept history
    run_live(source, chain, speed=None)
    power = np.concatenate([p for p, _ in blocks])
    decisions = Decisions.concatenate([d for _, d in blocks])
    assert {len(d.time_s) for _, d in blocks} != {50}  # blocks of uneven size: messages straddle them

    frames = [data for kind, data in _parse("".join(sent)) if kind == "frame"]
    k = feed.hops_per_message
    assert k == 2 and feed.message_s == pytest.approx(0.04)  # 25 messages per second at the 20 ms hop
    n = len(decisions.time_s) // k
    assert len(frames) == n
    pairs = slice(0, n * k)
    expected_db = 10 * np.log10(power[pairs].reshape(n, k, -1).max(axis=1))
    assert np.abs(np.array([f["doppler_db"] for f in frames]) - expected_db).max() <= 0.5
    assert np.allclose([f["score"] for f in frames], decisions.score[pairs].reshape(n, k).max(axis=1), atol=5e-4)
    assert np.allclose([f["time_s"] for f in frames], decisions.time_s[k - 1 :: k][:n], atol=5e-4)
    assert [f["occupied"] for f in frames] == decisions.occupied[k - 1 :: k][:n].astype(bool).tolist()

    onsets = [e for e in decisions.events if e.event == "motion"]
    marked = [(f["time_s"], f["onset"]) for f in frames if f["onset"]]
    assert marked and len(marked) <= len(onsets)
    for time_s, kind in marked:  # each mark is the strongest onset of its 40 ms
        inside = [e.kind for e in onsets if time_s - feed.message_s < e.time_s <= time_s + 1e-9]
        assert kind in inside and (kind == "major" or "major" not in inside)
    # the context-dependent threshold: trusted-minor while vacant, sensitive after the walk-in
    presence = chain.detection.presence.config
    occupied_at = next(e.time_s for e in decisions.events if e.event == "occupied")
    assert {f["minor_threshold"] for f in frames if f["time_s"] < occupied_at} == {presence.minor_threshold}
    assert {f["minor_threshold"] for f in frames if f["time_s"] > occupied_at} == {presence.sensitive_threshold}
    assert {f["major_threshold"] for f in frames} == {presence.major_threshold}


# --- settings through the API ---

def test_settings_change_is_validated_saved_keeping_the_users_file_and_applied(tmp_path):
    chain, source, feed, settings, path = _setup(tmp_path)
    client = _client(feed, settings)
    described = client.get("/api/settings").json()
    values = {f["key"]: f for f in described["fields"]}
    assert values["hold_s"]["value"] == 180.0 and values["hold_s"]["gt"] == 0
    assert values["major_threshold"]["le"] == 1 and described["config_file"] == str(path)
    assert described["routines"] == [{"name": "hello", "trigger": "occupied", "enabled": True}]

    answer = client.put("/api/settings", json={"presence": {"hold_s": 90, "sensitive_threshold": 0.2},
                                                "duty_cycle": {"off_s": 20},
                                                "routines": {"hello": False}})
    assert answer.status_code == 200, answer.text
    assert answer.json()["saved"] is True
    text = path.read_text()
    assert text.startswith("# my living room\n") and "hold_s = 90.0   # three minutes, for reading" in text
    assert "view_events = 5" in text and "enabled = false" in text
    saved = load_config(path)
    assert saved.presence.hold_s == 90.0 and saved.presence.sensitive_threshold == 0.2
    assert saved.live.view_events == 5 and saved.routines[0].enabled is False
    assert not list(tmp_path.glob(".uspd.toml.*"))  # no temporary file left behind

    assert chain.detection.presence.config.hold_s == 180.0  # applied between blocks, not mid-block
    chain.process(*next(iter(source.blocks())))
    assert chain.detection.presence.config.hold_s == 90.0 and chain.engine.routines == []
    assert chain.config.duty_cycle.off_s == 20.0 and saved.duty_cycle.off_s == 20.0
    assert client.get("/api/settings").json()["routines"][0]["enabled"] is False


@pytest.mark.parametrize("changes, message", [
    ({"presence": {"hold_s": -5}}, "bad value for 'presence.hold_s': Input should be greater than 0"),
    ({"presence": {"minor_threshold": 0.9}}, "need sensitive_threshold ≤ minor_threshold ≤ major_threshold"),
    ({"presence": {"hold_s": "soon"}}, "bad value for 'presence.hold_s': Input should be a valid number"),
    ({"presence": {"departure_vacancy_s": 600}}, "departure_vacancy_s must not exceed hold_s"),
    ({"frontend": {"hop_s": 0.01}}, "'frontend.hop_s' is not a setting the dashboard changes"),
    ({"routines": {"nobody": False}}, "there is no routine named 'nobody'"),
    ({"routines": {"hello": "off"}}, "routine 'hello' must be switched with true or false"),
    ({"duty_cycle": {"probe_s": 0}}, "bad value for 'duty_cycle.probe_s': Input should be greater than 0"),
    ({"duty_cycle": {"enabled": True}}, "'duty_cycle.enabled' is not a setting the dashboard changes"),
])
def test_invalid_settings_are_refused_in_one_sentence_and_change_nothing(tmp_path, changes, message):
    chain, _, feed, settings, path = _setup(tmp_path)
    before = path.read_bytes()
    answer = _client(feed, settings).put("/api/settings", json=changes)
    assert answer.status_code == 422
    assert message in answer.json()["detail"]
    assert path.read_bytes() == before and chain._pending_settings is None


def test_settings_requests_that_are_not_json_objects_are_refused(tmp_path):
    _, _, feed, settings, path = _setup(tmp_path)
    client = _client(feed, settings)
    assert client.put("/api/settings", content="hold_s=3", headers={"Content-Type": "text/plain"}).status_code == 415
    assert client.put("/api/settings", content="{", headers={"Content-Type": "application/json"}).status_code == 400
    assert client.put("/api/settings", json=[1, 2]).status_code == 400
    assert path.read_text() == USER_CONFIG


def test_without_a_config_file_changes_apply_but_are_not_saved(tmp_path):
    chain, source, feed, settings, _ = _setup(tmp_path, config_text=None)
    client = _client(feed, settings)
    first = client.put("/api/settings", json={"presence": {"hold_s": 90}})
    assert first.status_code == 200 and first.json()["saved"] is False and first.json()["config_file"] is None
    assert client.put("/api/settings", json={"presence": {"hold_s": -1}}).status_code == 422
    second = client.put("/api/settings", json={"presence": {"departure_vacancy_s": 20}})
    values = {f["key"]: f["value"] for f in second.json()["fields"]}
    assert values["hold_s"] == 90.0 and values["departure_vacancy_s"] == 20.0  # the refused change left no trace
    chain.process(*next(iter(source.blocks())))
    assert chain.detection.presence.config.hold_s == 90.0
    assert not list(tmp_path.glob("*.toml")) and not list(tmp_path.glob(".*"))


def test_a_routine_from_the_routines_file_is_switched_in_that_file(tmp_path):
    routines_file = tmp_path / "routines.toml"
    routines_file.write_text('# extra\n[[routines]]\nname = "night"\ntrigger = "vacant"\n'
                             'actions = [{ type = "command", argv = ["true"] }]\n')
    config_text = f'[live]\nroutines_file = "{routines_file}"\n'
    chain, _, feed, settings, path = _setup(tmp_path, config_text=config_text)
    answer = _client(feed, settings).put("/api/settings", json={"routines": {"night": False}})
    assert answer.status_code == 200, answer.text
    assert routines_file.read_text().startswith("# extra\n") and "enabled = false" in routines_file.read_text()
    assert path.read_text() == config_text
    assert [r.enabled for r in load_routines(load_config(path))] == [False]


def test_an_interrupted_save_leaves_the_old_file_whole(tmp_path, monkeypatch):
    path = tmp_path / "uspd.toml"
    path.write_text(USER_CONFIG)
    path.chmod(0o640)

    def crash(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        write_atomic(path, "[presence]\nhold_s = 1.0\n")
    assert path.read_text() == USER_CONFIG and list(tmp_path.iterdir()) == [path]
    monkeypatch.undo()
    write_atomic(path, "[presence]\nhold_s = 1.0\n")
    assert path.read_text() == "[presence]\nhold_s = 1.0\n" and path.stat().st_mode & 0o777 == 0o640


def test_a_failed_save_is_reported_and_nothing_is_applied(tmp_path, monkeypatch):
    chain, _, feed, settings, path = _setup(tmp_path)
    monkeypatch.setattr(os, "replace", lambda src, dst: (_ for _ in ()).throw(PermissionError(13, "Permission denied")))
    answer = _client(feed, settings).put("/api/settings", json={"presence": {"hold_s": 60}})
    assert answer.status_code == 500 and "Permission denied" in answer.json()["detail"]
    assert path.read_text() == USER_CONFIG and chain._pending_settings is None


# --- who may use it ---

def test_with_a_token_the_page_api_and_stream_require_it(tmp_path):
    _, _, feed, settings, _ = _setup(tmp_path)
    client = _client(feed, settings, token=TOKEN, local_only=False)
    for url in ("/", "/api/settings", "/api/stream"):
        assert client.get(url).status_code == 401
        assert client.get(url, headers={"Authorization": "Bearer not-the-token-at-all"}).status_code == 401
    assert client.put("/api/settings", json={"presence": {"hold_s": 60}}).status_code == 401
    assert client.get("/", params={"token": TOKEN}).status_code == 200
    assert client.get("/api/settings", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    assert client.get("/static/dashboard.js").status_code == 200  # the code of the page is no secret


def test_local_only_answers_only_to_loopback_names(tmp_path):
    _, _, feed, settings, _ = _setup(tmp_path)
    app = create_app(feed, settings)
    assert TestClient(app, base_url="http://localhost").get("/api/settings").status_code == 200
    rebound = TestClient(app, base_url="http://attacker.example").get("/api/settings")
    assert rebound.status_code == 403 and "127.0.0.1 or localhost" in rebound.json()["detail"]


def test_binding_beyond_loopback_needs_a_token():
    check_binding("127.0.0.1", None)
    check_binding("::1", None)
    check_binding("localhost", None)
    check_binding("0.0.0.0", TOKEN)
    with pytest.raises(ValueError, match="binding to 0.0.0.0 lets other machines reach the dashboard: give it a --token"):
        check_binding("0.0.0.0", None)
    with pytest.raises(ValueError, match="at least 16 characters"):
        check_binding("192.168.1.5", "short")
    result = CliRunner().invoke(cli, ["serve", "--host", "0.0.0.0"])
    assert result.exit_code == 2 and "give it a --token" in result.output
    taken = listen("127.0.0.1", 0)
    port = taken.getsockname()[1]
    result = CliRunner().invoke(cli, ["serve", "--port", str(port)])
    taken.close()
    assert result.exit_code == 2 and f"cannot listen on 127.0.0.1:{port}: Address already in use" in result.output


def test_serve_streams_a_scene_and_stops_cleanly_on_sigterm(tmp_path):
    server = ServeProcess("--scenario", "walk_in", "--seed", "3", "--duration", "6", "--speed", "6",
                          "--journal", str(tmp_path / "events.sqlite3"))
    received: list[str] = []
    _read_stream(server.url.rstrip("/"), '"state":"ended"', received)
    assert server.stop() == 0
    kinds = [kind for kind, _ in _parse("".join(received))]
    assert kinds.count("frame") == 6.0 // 0.04 - 1 and "event" in kinds
    assert "stream 6.0 s" in server.output and "0 dropped" in server.output  # the summary, as uspd run prints it
    with Journal(tmp_path / "events.sqlite3") as journal:
        assert "occupied" in [e.event for e in journal.events()]


# --- the stream, over a real HTTP server ---

class _Server:
    """The app served by uvicorn on a free loopback port, on a thread."""

    def __init__(self, app) -> None:
        self.sock = listen("127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self):
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def _read_stream(url: str, until: str, into: list[str]) -> None:
    with httpx.stream("GET", f"{url}/api/stream", timeout=20) as answer:
        assert answer.headers["content-type"].startswith("text/event-stream")
        for chunk in answer.iter_text():
            into.append(chunk)
            if until in chunk:
                return


def test_the_stream_delivers_live_frames_and_events_and_history_to_late_pages(tmp_path):
    chain, source, feed, settings, _ = _setup(tmp_path, duration_s=8.0)
    live: list[str] = []
    late: list[str] = []
    with _Server(create_app(feed, settings)) as server:
        reader = threading.Thread(target=_read_stream, args=(server.url, '"state":"ended"', live))
        reader.start()
        deadline = time.monotonic() + 10
        while not feed._pages and time.monotonic() < deadline:  # the page is connected before the stream starts
            time.sleep(0.02)
        run_live(source, chain, speed=None, on_block=feed.status)
        feed.status(chain.status, "ended")
        reader.join(timeout=20)
        _read_stream(server.url, '"state":"ended"', late)  # a page opened after the stream: its history
        feed.close()

    for text in ("".join(live), "".join(late)):
        messages = _parse(text)
        kinds = [kind for kind, _ in messages]
        assert kinds[0] == "hello" and messages[0][1]["message_s"] == pytest.approx(0.04)
        assert len(messages[0][1]["velocity_m_s"]) == len(source.velocity_m_s)
        frames = [data for kind, data in messages if kind == "frame"]
        assert len(frames) == 8.0 // 0.04 - 1  # every 40 ms of the 8 s (the first hop ends at 40 ms)
        assert all(len(f["doppler_db"]) == len(source.velocity_m_s) for f in frames)
        assert any(f["onset"] == "major" for f in frames) and frames[-1]["occupied"] is True
        events = [data for kind, data in messages if kind == "event"]
        assert [e["event"] for e in events].count("occupied") == 1
        assert [e for e in events if e["event"] == "routine"][0]["routine"] == "hello"
        status = [data for kind, data in messages if kind == "status"][-1]
        assert status["state"] == "ended" and status["emission"]["carrier_hz"] == source.carrier_hz
        assert status["emission"]["duty_pct"] == 100.0 and status["emission"]["calibration"] is None
        assert {kind for kind, _ in messages} == {"hello", "frame", "event", "status"}  # baseband features only
        assert set(frames[0]) == {"time_s", "doppler_db", "score", "motion", "occupied", "minor_threshold",
                                  "major_threshold", "onset"}
    assert len("".join(late)) / 8.0 < 20_000  # bytes per second of stream: compact frames, no audio


def test_live_chain_applies_new_settings_between_blocks_from_another_thread(tmp_path):
    """A hold time cut from 180 s to 3 s mid-stream empties the room 3 s after the last
    motion, keeping the state it had; a routine switched off with it does not fire."""
    config_text = USER_CONFIG + '[[routines]]\nname = "bye"\ntrigger = "vacant"\nactions = [{ type = "command", argv = ["true"] }]\n'
    runs = {}
    for name, hold_s, routines_on in (("unchanged", None, True), ("short hold", 3.0, True), ("routines off", 3.0, False)):
        chain, source, _, settings, _ = _setup(tmp_path / name.replace(" ", "_"), config_text, duration_s=20.0)
        changed_at, motions_s = [], []  # the presence machine's last motion, after each block ending occupied

        def on_block(status):
            if status.occupied:
                motions_s.append(chain.detection.presence._last_motion_s)
            if hold_s is not None and not changed_at and status.time_s >= 8.0:
                presence = chain.config.presence.model_copy(update={"hold_s": hold_s, "departure_vacancy_s": 2.0})
                switches = {r.name: routines_on for r in settings.routines}
                worker = threading.Thread(target=chain.update_settings, args=(presence, switches))
                worker.start()
                worker.join()
                changed_at.append((status.time_s, status.occupied))

        summary = run_live(source, chain, speed=None, on_block=on_block)
        journal = chain.journal
        runs[name] = ([e for e in summary.events if e.event != "motion"], changed_at, motions_s[-1],
                      [d.routine for ds in journal.deliveries_for([e.id for e in journal.events()]).values() for d in ds])

    states, _, _, fired = runs["unchanged"]
    assert [e.event for e in states] == ["occupied"] and fired == ["hello"]  # a 180 s hold keeps the room
    for name in ("short hold", "routines off"):
        states, [(changed_s, occupied_then)], last_motion_s, fired = runs[name]
        assert occupied_then  # the change found the room occupied and kept it so
        assert [e.event for e in states] == ["occupied", "vacant"]
        vacant_s = states[1].time_s
        assert vacant_s > changed_s and vacant_s - max(last_motion_s, changed_s) <= 3.0 + 1.0  # ≤ 1 block late
    assert runs["short hold"][3] == ["hello", "bye"]
    assert runs["routines off"][3] == ["hello"]
