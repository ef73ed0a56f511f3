"""`uspd run`, `uspd events` and `uspd devices` as a user meets them, the sources, the live
chain (same decisions as batch), the sound-card planning that needs no hardware, and the view."""

from __future__ import annotations

import sys
from datetime import datetime

import numpy as np
import pytest
from rich.console import Console
from typer.testing import CliRunner

from helpers import same_events
from mosquitto import Broker, Subscriber, needs_mosquitto, wait_until
from uspd.cli import app
from uspd.config import Config
from uspd.detect.pipeline import Decisions, Detection
from uspd.detect.presence import Event
from uspd.live import soundcard
from uspd.live.journal import Journal
from uspd.live.routines import Timeline
from uspd.live.run import LiveChain, LiveStatus, run_live
from uspd.live.sources import SimulatedSource, WavSource
from uspd.live.view import render, sparkline
from uspd.sim.scenarios import build_scene

runner = CliRunner()


def _run(*args: str):
    return runner.invoke(app, list(args))


def _chain(source, journal):
    return LiveChain(Config(), source.velocity_m_s, journal=journal, timeline=Timeline(datetime(2024, 5, 1)),
                     source_name=source.name)


def test_run_fast_on_a_simulated_walk_in_journals_events_and_fires_routines(tmp_path):
    flag = tmp_path / "entered.txt"
    config = tmp_path / "uspd.toml"
    config.write_text(
        '[live]\nsim_start = "07:30"\n\n[[routines]]\nname = "hello"\ntrigger = "occupied"\n'
        f'actions = [{{ type = "command", argv = ["{sys.executable}", "-c", '
        f'"import sys; open(sys.argv[1], \'w\').write(sys.argv[2])", "{flag}", "$event at $time" ] }}]\n'
    )
    journal = tmp_path / "events.sqlite3"
    result = _run("run", "--scenario", "walk_in", "--seed", "3", "--fast", "--duration", "30", "--no-view",
                  "--journal", str(journal), "--config", str(config))
    assert result.exit_code == 0, result.output
    assert "stream 30.0 s" in result.output and "0 dropped" in result.output
    assert "occupied major" in result.output and "routine hello fired (occupied)" in result.output
    with Journal(journal) as db:
        events = db.events()
    assert [e.event for e in events].count("occupied") == 1
    occupied = next(e for e in events if e.event == "occupied")
    assert occupied.source == "simulated:walk_in:3" and occupied.wall_time.strftime("%H:%M") == "07:30"
    assert flag.read_text().startswith(f"occupied at {occupied.wall_time:%Y-%m-%dT07:30}")

    listed = _run("events", "--journal", str(journal))
    assert listed.exit_code == 0 and "occupied" in listed.output and "delivered" in listed.output
    assert "nothing pending" in _run("events", "--pending", "--journal", str(journal)).output
    assert "no events since" in _run("events", "--since", "2999-01-01", "--journal", str(journal)).output


@needs_mosquitto
def test_run_publishes_to_home_assistant_through_a_real_broker(tmp_path):
    broker = Broker(tmp_path)
    broker.start()
    try:
        subscriber = Subscriber(broker.port, ["uspd/#", "homeassistant/#"])
        config = tmp_path / "uspd.toml"
        config.write_text(f'[mqtt]\nhost = "127.0.0.1"\nport = {broker.port}\nclient_id = "lounge"\n')
        result = _run("run", "--scenario", "walk_in", "--seed", "3", "--fast", "--duration", "30", "--no-view",
                      "--journal", str(tmp_path / "j.sqlite3"), "--config", str(config))
        assert result.exit_code == 0, result.output
        assert wait_until(lambda: subscriber.on("uspd/lounge/occupancy") == ["OFF", "ON"])
        assert subscriber.on("uspd/lounge/availability")[-1] == "offline"  # a clean stop says so
        assert len([t for t, _, _ in subscriber.messages if t.startswith("homeassistant/")]) == 3
        subscriber.close()
    finally:
        broker.stop()


@pytest.mark.parametrize("args, message", [
    (["--speed", "0"], "--speed must be positive"),
    (["--scenario", "nowhere"], "unknown scenario 'nowhere'"),
    (["--wav", "a.wav", "--soundcard"], "choose one source"),
    (["--wav", "a.wav", "--device", "1"], "choose one source"),
    (["--wav", "missing.wav"], "missing.wav does not exist"),
])
def test_run_rejects_bad_input_in_one_sentence(tmp_path, args, message):
    result = _run("run", *args, "--journal", str(tmp_path / "j.sqlite3"))
    assert result.exit_code == 2 and message in result.output


def test_run_with_a_device_uses_the_sound_card_and_says_what_is_missing(tmp_path, monkeypatch):
    def missing():
        raise soundcard.SoundCardError("cannot use the sound card: PortAudio library not found (install PortAudio)")

    monkeypatch.setattr(soundcard, "_sounddevice", missing)
    result = _run("run", "--device", "2", "--journal", str(tmp_path / "j.sqlite3"))
    assert result.exit_code == 2 and "PortAudio library not found" in result.output


def test_a_routine_publishing_to_mqtt_needs_a_broker(tmp_path):
    config = tmp_path / "uspd.toml"
    config.write_text('[[routines]]\nname = "x"\ntrigger = "vacant"\nactions = [{type = "mqtt", topic = "a/b"}]\n')
    result = _run("run", "--fast", "--config", str(config), "--journal", str(tmp_path / "j.sqlite3"))
    assert result.exit_code == 2 and "mqtt.host is not set" in result.output


def test_events_without_a_journal_or_with_a_bad_since_is_one_sentence(tmp_path):
    assert "no event journal at" in _run("events", "--journal", str(tmp_path / "none.sqlite3")).output
    Journal(tmp_path / "j.sqlite3").close()
    result = _run("events", "--since", "yesterday", "--journal", str(tmp_path / "j.sqlite3"))
    assert result.exit_code == 2 and "--since must be a time ago like 2h" in result.output


def test_live_chain_decides_exactly_as_batch_detection(tmp_path):
    config = Config()
    scene = build_scene("walk_in", 3, duration_s=20)
    source = SimulatedSource(scene, config)
    frames = list(source.blocks())
    batch = Detection(config, source.velocity_m_s).process(np.concatenate([p for p, _ in frames]),
                                                           np.concatenate([t for _, t in frames]))
    with Journal(tmp_path / "j.sqlite3") as journal:
        summary = run_live(SimulatedSource(scene, config), _chain(source, journal), speed=None)
    assert same_events(summary.events, batch.events)
    assert summary.frames == len(batch.time_s) and summary.dropped_frames == 0
    assert any(e.event == "occupied" for e in batch.events)


def test_wav_source_replays_a_recording_like_uspd_detect(tmp_path):
    from uspd.detect.file import detect_file

    wav = tmp_path / "walk.wav"
    assert _run("simulate", "walk_in", "--seed", "3", "--duration", "8", "--out", str(wav)).exit_code == 0
    decisions, _ = detect_file(wav, Config())
    source = WavSource(wav, Config())
    with Journal(tmp_path / "j.sqlite3") as journal:
        summary = run_live(source, _chain(source, journal), speed=None)
    assert same_events(summary.events, decisions.events) and summary.frames == len(decisions.time_s)


def test_run_live_paces_to_the_requested_speed(tmp_path):
    config = Config()
    source = SimulatedSource(build_scene("empty_quiet", 1, duration_s=2.0), config)
    with Journal(tmp_path / "j.sqlite3") as journal:
        summary = run_live(source, _chain(source, journal), speed=4.0)
    assert summary.wall_s == pytest.approx(2.0 / 4.0, abs=0.15)


def test_sound_card_plan_keeps_the_tone_inaudible_where_the_rate_allows():
    assert soundcard.plan_audio([48000, 96000], 32000.0) == soundcard.AudioPlan(96000, 32000.0, ())
    assert soundcard.plan_audio([192000, 96000, 48000], 40000.0).sample_rate_hz == 192000
    low = soundcard.plan_audio([44100, 48000], 32000.0)
    assert (low.sample_rate_hz, low.carrier_hz) == (48000, soundcard.LOW_RATE_CARRIER_HZ)
    assert "some people and most pets can hear" in low.warnings[0]
    with pytest.raises(soundcard.SoundCardError, match="supports none of 192 kHz"):
        soundcard.plan_audio([22050, 32000], 32000.0)
    assert soundcard.stream_problem({"input_overflow": False, "output_underflow": False}) is None
    assert "overran" in soundcard.stream_problem({"input_overflow": True})


class _FakeSoundDevice:
    class PortAudioError(Exception):
        pass

    def __init__(self, devices):
        self.devices = devices

    def query_devices(self):
        return self.devices


def test_devices_lists_or_explains(monkeypatch):
    def missing():
        raise soundcard.SoundCardError("cannot use the sound card: PortAudio library not found (install PortAudio)")

    monkeypatch.setattr(soundcard, "_sounddevice", missing)
    result = _run("devices")
    assert result.exit_code == 2 and "PortAudio library not found" in result.output
    monkeypatch.setattr(soundcard, "_sounddevice", lambda: _FakeSoundDevice([]))
    result = _run("devices")
    assert result.exit_code == 2 and "no sound devices found" in result.output
    usb = {"name": "USB array", "max_input_channels": 4, "max_output_channels": 2, "default_samplerate": 96000.0}
    monkeypatch.setattr(soundcard, "_sounddevice", lambda: _FakeSoundDevice([usb]))
    result = _run("devices")
    assert result.exit_code == 0 and "USB array" in result.output and "96 kHz" in result.output


def test_sparkline_and_view_show_the_state():
    assert sparkline(np.array([0.0, 0.0, 1.0, 1.0, 0.5, 0.5]), 3) == "▁█▅"
    assert sparkline(np.zeros(0), 10) == ""
    status = LiveStatus(history_frames=100, recent_events=5)
    status.occupied, status.motion, status.score, status.mqtt = True, "major", 0.87, "connected to x:1883"
    status.scores.extend([0.0, 0.9, 0.2])
    status.recent.append((Event(12.0, "occupied", "major", 0.87), datetime(2024, 5, 1, 7, 30, 12)))
    console = Console(record=True, width=100)
    console.print(render(status, title="uspd test", wall_time=datetime(2024, 5, 1, 7, 30, 13)))
    text = console.export_text()
    for words in ("OCCUPIED", "major", "0.87", "07:30:12", "occupied", "connected to x:1883", "▁▇▂"):
        assert words in text


def test_dropped_frames_are_counted(tmp_path):
    config = Config()
    source = SimulatedSource(build_scene("empty_quiet", 1, duration_s=2.0), config)
    with Journal(tmp_path / "j.sqlite3") as journal:
        chain = _chain(source, journal)
        times = np.r_[np.arange(1, 11), np.arange(16, 21)] * 0.02  # frames 11–15 missing
        n = len(times)
        chain.handle(Decisions(times, np.zeros(n), np.full(n, "none"), np.zeros(n, np.int8), []))
    assert chain.status.dropped_frames == 5
