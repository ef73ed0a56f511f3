"""The calibration's periodic re-check on a sound card, through a virtual duplex card whose
mics hear a simulated room (:mod:`uspd.sim.virtual_card`): the live tone ramps off, the
calibration's prober plays its chirp and probe through the running stream, an unchanged
room logs one line, a changed one is calibrated again in the pause, and the tone resumes
(at the new level) without a lost frame."""

from __future__ import annotations

import dataclasses
from datetime import datetime

import numpy as np
import pytest

from uspd.calibrate import CalibrationStore, calibrate
from uspd.calibration_study import walk_scene
from uspd.config import Config
from uspd.live import soundcard
from uspd.live.journal import Journal
from uspd.live.routines import Timeline
from uspd.live.run import LiveChain, run_live
from uspd.live.soundcard_calibration import MAX_LATENCY_S, card_prober
from uspd.sim.movers import Stay
from uspd.sim.render import render_passband
from uspd.sim.room import Furniture
from uspd.sim.virtual_card import EchoRecording, LoopbackCard, RoomLoopback

from helpers import tone_amplitude

RATE_HZ = 96000
EVERY_S = 8.0
SPEED = 8.0  # the virtual card runs this many times faster than real time
CONFIG = Config().model_copy(update={"calibration": Config().calibration.model_copy(
    update={"recheck_every_h": EVERY_S / 3600, "carrier_step_hz": 4000.0})})  # 4 carriers: a re-calibration's pause in half
CAL = CONFIG.calibration
HOP_S = CONFIG.frontend.hop_s
# one re-check's takes: the latency chirp and the probe (with the prober's pre- and post-roll), each recorded MAX_LATENCY_S longer
PROBE_TAKES_S = (0.05 + MAX_LATENCY_S) + (0.05 + CAL.probe_on_s + CAL.probe_off_s + 0.05 + MAX_LATENCY_S)


@pytest.fixture(scope="module")
def calibration(room):
    """The card calibrated in its room, as `uspd calibrate --device` does."""
    card = LoopbackCard(room)
    with card_prober(soundcard.find_card(card, None), CONFIG, card) as prober:
        return calibrate(prober, prober.profile, CAL, soundcard.find_card(card, None).id)


def _run(card: LoopbackCard, calibration, tmp_path, monkeypatch, *, until, on_block=lambda source: None, config=CONFIG):
    """`uspd run --device` on the virtual card with a saved calibration, until ``until(source)``;
    returns the source, the store, the logged lines, problems, and the power and times of every frame."""
    monkeypatch.setattr(soundcard, "_sounddevice", lambda: card)
    store = CalibrationStore(tmp_path / "calibration.json")
    store.save(calibration)
    lines: list[str] = []
    problems: list[str] = []
    source = soundcard.SoundCardSource(config, calibrations=store, log=lines.append, on_problem=problems.append)
    heard = []
    with Journal(tmp_path / "events.sqlite3") as journal:
        chain = LiveChain(config, source.velocity_m_s, journal=journal, timeline=Timeline(datetime(2024, 5, 1)),
                          source_name=source.name)
        chain.listeners.append(lambda power, decisions, firings: heard.append((power, decisions)))
        run_live(source, chain, speed=None, should_stop=lambda: on_block(source) or until(source, lines))
    power = np.concatenate([p for p, _ in heard])
    times = np.concatenate([d.time_s for _, d in heard])
    assert source.dropped_blocks == 0 and chain.status.dropped_frames == 0
    step_s = np.diff(times)  # no gap: a frame every hop (the spectrogram restarts on its own grid when the tone is back)
    assert step_s.min() > 0 and step_s.max() <= HOP_S + 1e-9
    return source, store, lines, problems, power, times, heard


def _played_tone(card, source, levels_dbfs):
    """What the card should have played outside the probing: the continuous-phase tone through
    the gate, at ``levels_dbfs[i]`` from the gate's (2i)-th switch on."""
    n = np.arange(len(card.played))
    t_s = n / RATE_HZ
    amplitude = np.full(len(n), 10 ** (levels_dbfs[0] / 20))
    for resumed_s, level in zip(source.tone_gate.times_s[1::2], levels_dbfs[1:]):
        amplitude[t_s >= resumed_s] = 10 ** (level / 20)
    return amplitude * np.sin(2 * np.pi * source.carrier_hz * t_s) * source.tone_gate.gain(t_s)


def _tone_only(source, n_played):
    """Samples the tone alone played: not from the end of a switch-off's ramp to its switch back on."""
    t_s = np.arange(n_played) / RATE_HZ
    times = source.tone_gate.times_s
    keep = np.ones(n_played, bool)
    for off_s, on_s in zip(times[0::2], times[1::2]):
        keep &= ~((t_s >= off_s + source.tone_gate.ramp_s) & (t_s < on_s))
    return keep


def _blank(power, times, start_s, stop_s):
    inside = (times > start_s) & (times <= stop_s)
    return inside.sum() > 0.9 * (stop_s - start_s) / HOP_S and not power[inside].any()


def test_an_unchanged_room_pauses_the_cards_tone_for_a_probe(calibration, room, tmp_path, monkeypatch):
    card = LoopbackCard(room, speed=SPEED)
    source, store, lines, problems, power, times, _ = _run(
        card, calibration, tmp_path, monkeypatch, until=lambda source, lines: source.rendered_s > 24.0)
    assert problems == []
    assert len(lines) == 2 and all(line.endswith(": unchanged") for line in lines), lines
    gate = source.tone_gate
    first_off, first_on, second_off, second_on = gate.times_s
    # due at 8 s of stream time; the detector takes blocks a few behind the card's output
    assert 8.0 <= first_off <= 8.6 and lines[0].startswith(f"calibration re-check at {first_off:.0f} s")
    # the takes, each from the card's next block on, and the detector's lag behind the card (the queue)
    assert PROBE_TAKES_S < first_on - first_off < PROBE_TAKES_S + 1.0
    assert EVERY_S <= second_off - first_on <= EVERY_S + 0.6 and PROBE_TAKES_S < second_on - second_off < PROBE_TAKES_S + 1.0
    delay_s = source._heard_gate.delay_s
    assert _blank(power, times, first_off + delay_s + HOP_S, first_on + delay_s)
    assert power[(times > 2.0) & (times < first_off)].any()
    assert power[(times > first_on + delay_s + 1.0) & (times < second_off)].any()  # the detector hears the tone again
    assert store.load(calibration.device_id) == calibration and source.level_dbfs == calibration.level_dbfs
    # the tone outside the pauses: the calibration's level, ramped, phase continuous across the pauses
    played = card.played
    keep = _tone_only(source, len(played))
    np.testing.assert_allclose(played[keep], _played_tone(card, source, [calibration.level_dbfs] * 3)[keep], atol=1e-4)
    in_pause = ~keep & (np.arange(len(played)) / RATE_HZ < first_on)
    # nothing louder than the loudest probe: the chirp (−20 dBFS) or the check at the reference level
    peak = np.max(np.abs(played[in_pause]))
    assert 10 ** (-20 / 20) * (1 - 1e-3) <= peak <= 10 ** (max(-20.0, calibration.reference.level_dbfs) / 20) * (1 + 1e-3)


def test_a_reflector_brought_in_between_checks_recalibrates_the_card_and_resumes_at_the_new_level(
        unit, calibration, room, tmp_path, monkeypatch):
    x, y, _ = unit.scene.device.position_m
    sofa = Furniture((x + 1.2, y + 0.4, 0.6), 0.1)
    furnished = RoomLoopback(dataclasses.replace(unit.scene, room=dataclasses.replace(
        unit.scene.room, furniture=unit.scene.room.furniture + (sofa,))), CONFIG.simulation)
    card = LoopbackCard(room, speed=SPEED)

    def bring_in_the_sofa(source):
        if len(source.tone_gate.times_s) == 2 and source.rendered_s > source.tone_gate.times_s[1] + 1.0:
            card.room = furnished  # after the first re-check, before the second

    def rechecked_again(source, lines):
        times_s = source.tone_gate.times_s
        return len(times_s) == 6 and source.rendered_s > times_s[5] + 0.5

    source, store, lines, problems, power, times, _ = _run(card, calibration, tmp_path, monkeypatch,
                                                          until=rechecked_again, on_block=bring_in_the_sofa)
    assert problems == [] and card.room is furnished
    assert lines[0].endswith(": unchanged")
    assert "echoes changed" in lines[1] and "re-calibrated to" in lines[1], lines
    again = store.load(calibration.device_id)
    assert again.created_unix_s > calibration.created_unix_s and again.reference != calibration.reference
    off_s, on_s = source.tone_gate.times_s[2:4]
    n_candidates = len(source.recheck.profile.candidate_carriers(CAL))
    # the check, then every carrier and the new reference
    takes_s = PROBE_TAKES_S + (n_candidates + 1) * (PROBE_TAKES_S - 0.05 - MAX_LATENCY_S)
    assert takes_s < on_s - off_s < takes_s + 0.1 * (3 + n_candidates) + 1.0  # each take from the next block on, the queue's lag
    assert _blank(power, times, off_s + source._heard_gate.delay_s + HOP_S, on_s + source._heard_gate.delay_s)
    # the tone resumed at once at the new level, phase continuous; the next re-check agrees with the new calibration
    assert source.calibration == again and source.level_dbfs == again.level_dbfs != calibration.level_dbfs
    played = card.played
    keep = _tone_only(source, len(played))
    expected = _played_tone(card, source, [calibration.level_dbfs, calibration.level_dbfs, again.level_dbfs, again.level_dbfs])
    np.testing.assert_allclose(played[keep], expected[keep], atol=1e-4)
    after = np.arange(len(played)) / RATE_HZ > on_s + source.tone_gate.ramp_s
    assert tone_amplitude(played[after & keep]) == pytest.approx(10 ** (again.level_dbfs / 20), rel=5e-3)  # exactly: the allclose above
    assert lines[2].endswith(": unchanged") and len(lines) == 3


class _WalkerInRoom:
    """The card's room (:class:`RoomLoopback`) with a person in it, whose echoes (``walk``:
    the walk's recording less the empty room's, both with the tone on) follow what the card
    plays at the carrier (:class:`EchoRecording`); the card ends with the recording."""

    def __init__(self, room: RoomLoopback, walk: EchoRecording) -> None:
        self.room, self.walk = room, walk
        self.n_mics, self.length, self.sample_rate_hz = room.n_mics, walk.length, room.sample_rate_hz

    def answer(self, drive: np.ndarray, start: int, n: int, delay: int) -> np.ndarray:
        walker = self.walk.answer(drive, start, n, delay) - self.walk.ambient[:, start : start + n]
        return self.room.answer(drive, start, n, delay) + walker


def test_presence_holds_through_a_recheck_that_waits_for_the_duty_cycle(unit, calibration, room, tmp_path, monkeypatch):
    """Someone walks in front of the card, stands still for a while, then walks again: the
    duty cycle pauses the tone for the first walk; the re-check waits until the tone is
    continuous again, the cycler waits for the re-checks, and the room stays occupied
    throughout (the second re-check falls on the second walk, which is heard after it)."""
    config = CONFIG.model_copy(update={
        "duty_cycle": CONFIG.duty_cycle.model_copy(update={"enabled": True, "off_s": 3.0, "probe_s": 2.0}),
        # standing still is no motion here: the network may read a standing person's sway
        # over the sensitive threshold, which would pause the tone before the second walk
        "presence": CONFIG.presence.model_copy(update={"sensitive_threshold": CONFIG.presence.minor_threshold})})
    walk = walk_scene(unit, 2.0, calibration.carrier_hz, calibration.level_dbfs)
    first = walk.movers[0]
    legs = first.segments[1:5]
    person = dataclasses.replace(first, segments=(Stay(2.0, "stand", 0.0), *legs, Stay(14.0, "stand", 0.0), *legs,
                                                  Stay(30.0, "stand", 0.0)))  # walks over 2–6 s and 20–24 s
    walk = dataclasses.replace(walk, movers=(person,), duration_s=28.0)
    tone_on = render_passband(walk, config.simulation).signal
    empty = render_passband(dataclasses.replace(walk, movers=()), config.simulation).signal
    card = LoopbackCard(_WalkerInRoom(room, EchoRecording(tone_on, empty, walk.carrier_hz, walk.level_dbfs, RATE_HZ)),
                        speed=SPEED)
    pause_s: list[float] = []  # the re-check's switch off and back on

    def watch(source):
        if (source._rechecking is not None) != (len(pause_s) % 2 == 1):
            pause_s.append(source.tone_gate.times_s[-1])

    block = int(Config().live.soundcard_block_s * RATE_HZ)
    source, store, lines, problems, power, times, heard = _run(
        card, calibration, tmp_path, monkeypatch, config=config, on_block=watch,
        until=lambda source, lines: source._phase + block > card.room.length and source._queue.empty())
    assert problems == [] and len(pause_s) == 4 and all(line.endswith(": unchanged") for line in lines), (lines, pause_s)
    transitions = source.cycler.transitions

    def mode_at(t_s):
        return next((mode for when, mode in reversed(transitions) if when <= t_s), "continuous")

    assert [mode for _, mode in transitions[:2]] == ["off", "probe"]  # the first walk paused the tone
    off_s, on_s = pause_s[:2]
    assert mode_at(EVERY_S) == "probe" and mode_at(off_s) == "continuous"  # due at 8 s, it waited for the duty cycle
    ramp_s = source.tone_gate.ramp_s  # the cycler waited for the re-checks and the tone's ramp back on:
    assert not any(a < when <= b + ramp_s for when, _ in transitions for a, b in (pause_s[:2], pause_s[2:]))
    delay_s = source._heard_gate.delay_s
    assert _blank(power, times, off_s + delay_s + HOP_S, on_s + delay_s)

    occupied = np.concatenate([d.occupied for _, d in heard])
    motion = np.concatenate([d.motion for _, d in heard])
    events = [(e.time_s, e.event) for _, d in heard for e in d.events]
    entered = next(t for t, event in events if event == "occupied")
    assert entered < off_s and occupied[times >= entered].all() and "vacant" not in {e for _, e in events}
    assert (motion[(times > pause_s[3] + delay_s) & (times < 26.0)] != "none").any()  # the second walk, heard after the pause


def test_a_recalibration_the_mics_barely_hear_is_not_saved(calibration, room, tmp_path, monkeypatch):
    """The speaker muted while running: the re-check sees the direct path gone and calibrates
    again, which `uspd calibrate --device` would refuse; so is this, and the tone resumes."""
    card = LoopbackCard(room, speed=SPEED)

    def mute(source):
        card.muted = source.rendered_s > 4.0

    source, store, lines, problems, _, _, _ = _run(card, calibration, tmp_path, monkeypatch, on_block=mute,
                                                   until=lambda source, lines: len(source.tone_gate.times_s) == 2)
    assert lines == [] and len(problems) == 1 and "barely hear the speaker" in problems[0], problems
    assert problems[0].endswith("keeping the saved calibration")
    assert store.load(calibration.device_id) == calibration and source.level_dbfs == calibration.level_dbfs
    assert source.recheck.calibration == calibration and source.recheck.next_s == source.tone_gate.times_s[1] + EVERY_S


def test_uspd_run_rechecks_a_calibrated_card_only_when_asked(calibration, room, monkeypatch, tmp_path):
    from uspd.cli import _live_source

    monkeypatch.setattr(soundcard, "_sounddevice", lambda: LoopbackCard(room))
    journal = tmp_path / "events.sqlite3"  # the store beside it is the default
    assert _live_source(CONFIG, "empty_quiet", 0, None, False, None, True, "0", journal)[0].recheck is None  # not calibrated
    CalibrationStore(tmp_path / "calibration.json").save(calibration)
    asked, _ = _live_source(CONFIG, "empty_quiet", 0, None, False, None, True, "0", journal)
    assert asked.recheck is not None and asked.recheck.every_s == EVERY_S and asked.recheck.calibration == calibration
    assert asked.tone_gate is not None and asked.cycler is None
    plain, _ = _live_source(Config(), "empty_quiet", 0, None, False, None, True, "0", journal)
    assert plain.recheck is None and plain.tone_gate is None  # not asked: the tone plays ungated, as before


def test_a_card_lost_during_the_recheck_abandons_it_and_resumes_the_tone(calibration, room, tmp_path, monkeypatch):
    card = LoopbackCard(room, speed=SPEED, unplug_at_s=9.0)  # during the probe of the re-check at 8 s
    monkeypatch.setattr(soundcard, "_STALL_S", 0.5)
    monkeypatch.setattr(soundcard, "_RETRY_S", 0.05)
    source, store, lines, problems, _, _, _ = _run(card, calibration, tmp_path, monkeypatch,
                                                   until=lambda source, lines: len(source.tone_gate.times_s) == 2)
    assert card.opens == 2 and lines == [] and len(problems) == 2, problems
    assert problems[0].startswith("sound card lost")
    assert problems[1].startswith("the calibration re-check failed (the sound card was lost during it")
    assert store.load(calibration.device_id) == calibration and source.level_dbfs == calibration.level_dbfs
    assert source.tone_gate.on and source.recheck.next_s == source.tone_gate.times_s[1] + EVERY_S
