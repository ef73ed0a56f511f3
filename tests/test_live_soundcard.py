"""The sound-card source end to end without hardware: a virtual duplex device whose
microphones hear a simulated room (rendered passband audio) and which records what uspd
plays. It overruns once and is unplugged for a while, as real cards do."""

from __future__ import annotations

import time
from datetime import datetime
from types import SimpleNamespace

import numpy as np
import pytest

from uspd.config import Config
from uspd.detect.file import baseband_rate_for
from uspd.detect.pipeline import Detection
from uspd.frontend.stream import DEFAULT_SPEED_OF_SOUND_M_S, FrontEnd
from uspd.live import soundcard
from uspd.live.journal import Journal
from uspd.live.routines import Timeline
from uspd.live.run import LiveChain
from uspd.sim.render import iter_passband
from uspd.sim.scenarios import build_scene
from uspd.sim.virtual_card import EchoRecording, LoopbackCard, VirtualStream

RATE_HZ = 96000
SPEED = 8.0  # the virtual card runs this many times faster than real time


class VirtualCard:
    """Stands in for the ``sounddevice`` module: one duplex device at 96 kHz only."""

    class PortAudioError(Exception):
        pass

    def __init__(self, recording: np.ndarray, *, overrun_at_s: float, unplug_at_s: float) -> None:
        self.recording = recording  # (n_mics, n_samples) float32: what the mics hear
        self.overrun_at = int(overrun_at_s * RATE_HZ)
        self.unplug_at = int(unplug_at_s * RATE_HZ)
        self.position = 0  # samples delivered so far, across re-opened streams
        self.opens = 0
        self.played: list[np.ndarray] = []

    def query_devices(self, device=None, kind=None):
        return {"name": "virtual array", "max_input_channels": self.recording.shape[0], "max_output_channels": 1}

    def check_input_settings(self, device, samplerate):
        if samplerate != RATE_HZ:
            raise self.PortAudioError(f"Invalid sample rate {samplerate}")

    def check_output_settings(self, device, samplerate, channels):
        self.check_input_settings(device, samplerate)

    def Stream(self, *, device, samplerate, blocksize, channels, dtype, callback):
        assert (samplerate, channels, dtype) == (RATE_HZ, (self.recording.shape[0], 1), "float32")
        return _VirtualStream(self, blocksize, callback)


class _VirtualStream(VirtualStream):
    def _run(self) -> None:
        card, n = self.card, self.blocksize
        while not self.closed and card.position + n <= card.recording.shape[1]:
            if card.opens == 1 and card.position >= card.unplug_at:
                return  # unplugged: the callbacks stop; the next open finds it back
            status = SimpleNamespace(input_overflow=card.position <= card.overrun_at < card.position + n,
                                     output_underflow=False)
            outdata = np.zeros((n, 1), np.float32)
            self.callback(card.recording[:, card.position : card.position + n].T, outdata, n, None, status)
            card.played.append(outdata[:, 0].copy())
            card.position += n
            time.sleep(n / RATE_HZ / SPEED)


@pytest.fixture(scope="module")
def walk_in_recording():
    config = Config()
    scene = build_scene("walk_in", 3, duration_s=16, sample_rate_hz=RATE_HZ, carrier_hz=config.emission.carrier_hz)
    audio = np.concatenate([block.signal for block in iter_passband(scene, config.simulation)], axis=1)
    return audio.astype(np.float32)


def test_a_virtual_duplex_card_overrun_and_unplugged_still_sees_the_walk_in(walk_in_recording, monkeypatch, tmp_path):
    config = Config().model_copy(update={"live": Config().live.model_copy(update={"soundcard_block_s": 0.05})})
    card = VirtualCard(walk_in_recording, overrun_at_s=2.0, unplug_at_s=9.0)
    monkeypatch.setattr(soundcard, "_sounddevice", lambda: card)
    monkeypatch.setattr(soundcard, "_RETRY_S", 0.05)
    monkeypatch.setattr(soundcard, "_STALL_S", 0.5)
    problems: list[str] = []
    source = soundcard.SoundCardSource(config, on_problem=problems.append)
    assert (source.plan.sample_rate_hz, source.plan.carrier_hz) == (RATE_HZ, config.emission.carrier_hz)

    block = int(config.live.soundcard_block_s * RATE_HZ)  # shorter than the default's: the setting reaches the stream
    end_s = walk_in_recording.shape[1] // block * config.live.soundcard_block_s
    with Journal(tmp_path / "j.sqlite3") as journal:
        chain = LiveChain(config, source.velocity_m_s, journal=journal, timeline=Timeline(datetime(2024, 5, 1)),
                          source_name=source.name)
        live_events = []
        for power, times in source.blocks():
            live_events += chain.process(power, times).events
            if card.position + block > walk_in_recording.shape[1] and source._queue.empty():
                source.stop()  # the recording is over and every block of it was taken
        chain.close()

    assert card.opens == 2 and source.dropped_blocks == 0 and len(card.played[0]) == block
    assert any("overran" in p for p in problems)
    assert any(p.startswith("sound card lost") for p in problems)
    assert not any("clip" in p for p in problems)  # the room's audio stays far from full scale
    # the same audio as one batch decides the same: the overrun and the re-open changed nothing
    front = FrontEnd(RATE_HZ, config.emission.carrier_hz, config.frontend,
                     baseband_rate_hz=baseband_rate_for(RATE_HZ, config), speed_of_sound=DEFAULT_SPEED_OF_SOUND_M_S)
    power, times = front.process(walk_in_recording[:, : int(end_s * RATE_HZ)].astype(np.float64))
    batch = Detection(config, front.velocity_m_s).process(power, times)
    assert chain.status.frames == len(batch.time_s) and chain.status.dropped_frames == 0  # nothing lost in the gap
    assert [(e.time_s, e.event) for e in live_events] == [(e.time_s, e.event) for e in batch.events]
    assert any(e.event == "occupied" for e in live_events)

    # the tone went out without a phase jump across the re-open
    played = np.concatenate(card.played)
    n = np.arange(len(played))
    tone = 10 ** (config.emission.level_dbfs / 20) * np.sin(2 * np.pi * config.emission.carrier_hz * n / RATE_HZ)
    assert np.max(np.abs(played - tone)) < 1e-4


def test_duty_cycling_on_a_virtual_card_gates_the_played_tone_and_holds_presence(walk_in_recording, monkeypatch, tmp_path):
    """The mics hear the walk-in's echoes only while the card plays the tone (uspd.sim.virtual_card)."""
    from uspd.emission import ToneGate, duty_stats
    from uspd.live.run import run_live

    base = Config()
    config = base.model_copy(update={"duty_cycle": base.duty_cycle.model_copy(
        update={"enabled": True, "off_s": 3.0, "probe_s": 2.0})})
    scene = build_scene("walk_in", 3, duration_s=16, sample_rate_hz=RATE_HZ, carrier_hz=config.emission.carrier_hz)
    ambient = np.concatenate([b.signal for b in iter_passband(scene, config.simulation, tone_gate=ToneGate(initially_on=False))], axis=1)
    room = EchoRecording(walk_in_recording, ambient.astype(np.float32), config.emission.carrier_hz,
                         config.emission.level_dbfs, RATE_HZ)
    card = LoopbackCard(room, extra_latency=389, speed=SPEED)
    monkeypatch.setattr(soundcard, "_sounddevice", lambda: card)
    monkeypatch.setattr(soundcard, "_STALL_S", 0.5)
    source = soundcard.SoundCardSource(config, on_problem=print)
    block = int(Config().live.soundcard_block_s * RATE_HZ)
    with Journal(tmp_path / "j.sqlite3") as journal:
        chain = LiveChain(config, source.velocity_m_s, journal=journal, timeline=Timeline(datetime(2024, 5, 1)),
                          source_name=source.name)
        heard = []
        chain.listeners.append(lambda power, decisions, firings: heard.append(decisions))
        summary = run_live(source, chain, speed=None, should_stop=lambda: source._phase + block > room.length
                           and source._queue.empty())  # the card's last block was queued and taken
    assert source.dropped_blocks == 0 and source._heard_gate.delay_s == pytest.approx((block + 389) / RATE_HZ)

    # the card played the tone through the gate: ramped, phase continuous, silent while off
    gate = source.tone_gate
    modes = [mode for _, mode in source.cycler.transitions]
    assert modes[:2] == ["off", "probe"]
    n = np.arange(len(card.played))
    tone = 10 ** (config.emission.level_dbfs / 20) * np.sin(2 * np.pi * config.emission.carrier_hz * n / RATE_HZ)
    np.testing.assert_allclose(card.played, tone * gate.gain(n / RATE_HZ), atol=1e-4)
    off_s, probe_s = gate.times_s[0], gate.times_s[1]
    silent = (n / RATE_HZ >= off_s + gate.ramp_s) & (n / RATE_HZ < probe_s)
    assert silent.sum() > 2.5 * RATE_HZ and np.all(card.played[silent] == 0.0)

    # frames heard while the tone was off, ramping or settling were no data, and presence held through them
    times = np.concatenate([d.time_s for d in heard])
    scores = np.concatenate([d.score for d in heard])
    occupied = np.concatenate([d.occupied for d in heard])
    entered = next(e.time_s for e in summary.events if e.event == "occupied")
    assert entered < off_s and occupied[times >= entered].all()
    heard_off = (times > off_s + source._heard_gate.delay_s) & (times < probe_s + source._heard_gate.delay_s)
    assert heard_off.sum() > 120 and np.all(scores[heard_off] == 0.0)
    assert scores[(times > entered - 1.0) & (times < off_s)].max() > 0.5  # before: the walk was heard
    assert chain.status.duty_pct == pytest.approx(duty_stats(gate, 0.0, source.rendered_s).duty_pct)
    assert 30.0 < chain.status.duty_pct < 90.0


def test_a_card_with_a_loopback_input_feeds_the_playback_canceller(monkeypatch):
    """[soundcard] playback_channel: that input records what the speaker plays (tone and music,
    as some mic arrays' loopback does); it is left out of the mics and feeds the playback
    canceller, block by block as the card delivers, as the whole recording does in one pass."""
    config = Config().with_music(playback=True)
    config = config.model_copy(update={"soundcard": config.soundcard.model_copy(update={"playback_channel": 0})})
    scene = build_scene("music_loud_empty", 6001, duration_s=6.0, array="single", sample_rate_hz=RATE_HZ,
                        carrier_hz=config.emission.carrier_hz)  # a tuning room whose music plays throughout
    blocks = list(iter_passband(scene, config.simulation))
    mics = np.concatenate([b.signal for b in blocks], axis=1)
    feed = np.concatenate([b.reference for b in blocks])
    card = VirtualCard(np.vstack([feed, mics[0]]).astype(np.float32), overrun_at_s=99.0, unplug_at_s=99.0)
    monkeypatch.setattr(soundcard, "_sounddevice", lambda: card)
    source = soundcard.SoundCardSource(config, on_problem=print)
    assert source.mics == [1]
    block = int(config.live.soundcard_block_s * RATE_HZ)
    live = []
    for power, _ in source.blocks():
        live.append(power)
        if card.position + block > mics.shape[1] and source._queue.empty():
            source.stop()
    live = np.concatenate(live)

    def whole(playback: np.ndarray | None) -> np.ndarray:
        front = FrontEnd(RATE_HZ, config.emission.carrier_hz, config.frontend,
                         baseband_rate_hz=baseband_rate_for(RATE_HZ, config), speed_of_sound=DEFAULT_SPEED_OF_SOUND_M_S)
        n = card.position
        return front.process(mics[:, :n].astype(np.float32), None if playback is None else playback[:n])[0][: len(live)]

    np.testing.assert_allclose(live, whole(feed.astype(np.float32)), rtol=1e-3, atol=1e-5 * live.max())  # measured: 6e-7 of it
    settled = slice(100, None)  # after the fit's first 2 s
    unfed = whole(None)[settled].sum(dtype=np.float64)  # the conjugate pairs alone
    assert 10 * np.log10(unfed / live[settled].sum(dtype=np.float64)) > 6.0  # measured: 9.5 dB less, music and noise together


def test_a_loopback_channel_the_card_does_not_have_is_one_clear_error(monkeypatch):
    config = Config()
    config = config.model_copy(update={"soundcard": config.soundcard.model_copy(update={"playback_channel": 2})})
    monkeypatch.setattr(soundcard, "_sounddevice", lambda: VirtualCard(np.zeros((2, 10), np.float32), overrun_at_s=9.0,
                                                                       unplug_at_s=9.0))
    with pytest.raises(soundcard.SoundCardError, match="playback_channel 2 is not an input of virtual array, which has 2 "):
        soundcard.SoundCardSource(config, on_problem=print)
    alone = config.model_copy(update={"soundcard": config.soundcard.model_copy(update={"playback_channel": 0})})
    monkeypatch.setattr(soundcard, "_sounddevice", lambda: VirtualCard(np.zeros((1, 10), np.float32), overrun_at_s=9.0,
                                                                       unplug_at_s=9.0))
    with pytest.raises(soundcard.SoundCardError, match="is the only input of virtual array: it leaves no microphone"):
        soundcard.SoundCardSource(alone, on_problem=print)


def test_clipping_mics_are_reported_once_per_window_and_not_again_for_minutes():
    rate = 1000  # samples per second: a 10 s window is 10,000 samples
    watch = soundcard.ClipWatch(rate)
    quiet, loud = np.full((2, 2500), 0.1, np.float32), np.full((2, 2500), 0.1, np.float32)
    loud[:, :25] = 1.0  # 1 % of every block and window
    at_threshold = quiet.copy()
    at_threshold[0, :5] = -1.0  # 0.1 % of a window (2 mics × 10,000), over its four blocks
    said = [watch.add(block) for block in [quiet] * 4 + [at_threshold] * 4]
    assert said == [None] * 8  # clean, then exactly at the threshold: not over it
    said = [watch.add(loud) for _ in range(4 * 61)]  # 61 windows, 610 s of clipping
    warnings = [i for i, text in enumerate(said) if text]
    assert warnings == [3, 3 + 4 * 30, 3 + 4 * 60]  # at the first window's end, then every 300 s
    assert said[3].startswith("the microphones clip: 1.0% of their samples in the last 10 s were at full scale")


def test_a_card_whose_mics_clip_says_so(walk_in_recording, monkeypatch):
    clipped = walk_in_recording.copy()
    burst = slice(2 * RATE_HZ, 4 * RATE_HZ)
    clipped[:, burst][:, ::50] = 1.0  # 2 % of 2 s of every mic at full scale: 0.4 % of the first 10 s
    card = VirtualCard(clipped, overrun_at_s=99.0, unplug_at_s=99.0)
    monkeypatch.setattr(soundcard, "_sounddevice", lambda: card)
    problems: list[str] = []
    source = soundcard.SoundCardSource(Config(), on_problem=problems.append)
    block = int(Config().live.soundcard_block_s * RATE_HZ)
    for _ in source.blocks():
        if card.position + block > clipped.shape[1] and source._queue.empty():
            source.stop()
    assert [p for p in problems if "clip" in p] == [
        "the microphones clip: 0.4% of their samples in the last 10 s were at full scale (loud music, or a sound "
        "close by?); motion scores may run high: lower the microphone gain"]
