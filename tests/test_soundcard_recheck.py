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
from uspd.calibration_study import draw_unit
from uspd.config import Config
from uspd.live import soundcard
from uspd.live.journal import Journal
from uspd.live.routines import Timeline
from uspd.live.run import LiveChain, run_live
from uspd.live.soundcard_calibration import MAX_LATENCY_S, card_prober
from uspd.sim.room import Furniture
from uspd.sim.virtual_card import LoopbackCard, RoomLoopback

QUIET_UNIT = 2009  # the calibration tests' unit: one mic, no HVAC (tests/test_calibrate.py)
RATE_HZ = 96000
EVERY_S = 8.0
SPEED = 8.0  # the virtual card runs this many times faster than real time
CONFIG = Config().model_copy(update={"calibration": Config().calibration.model_copy(
    update={"recheck_every_h": EVERY_S / 3600})})
CAL = CONFIG.calibration
# one re-check's takes: the latency chirp and the probe (with the prober's pre- and post-roll), each recorded MAX_LATENCY_S longer
PROBE_TAKES_S = (0.05 + MAX_LATENCY_S) + (0.05 + CAL.probe_on_s + CAL.probe_off_s + 0.05 + MAX_LATENCY_S)


@pytest.fixture(scope="module")
def unit():
    return draw_unit(QUIET_UNIT)


@pytest.fixture(scope="module")
def room(unit):
    return RoomLoopback(unit.scene, CONFIG.simulation)


@pytest.fixture(scope="module")
def calibration(room):
    """The card calibrated in its room, as `uspd calibrate --device` does."""
    card = LoopbackCard(room)
    with card_prober(soundcard.find_card(card, None), CONFIG, card) as prober:
        return calibrate(prober, prober.profile, CAL, soundcard.find_card(card, None).id)


def _run(card: LoopbackCard, calibration, tmp_path, monkeypatch, *, until, on_block=lambda source: None):
    """`uspd run --device` on the virtual card with a saved calibration, until ``until(source)``;
    returns the source, the store, the logged lines, problems, and the power and times of every frame."""
    monkeypatch.setattr(soundcard, "_sounddevice", lambda: card)
    store = CalibrationStore(tmp_path / "calibration.json")
    store.save(calibration)
    lines: list[str] = []
    problems: list[str] = []
    source = soundcard.SoundCardSource(CONFIG, calibrations=store, log=lines.append, on_problem=problems.append)
    heard = []
    with Journal(tmp_path / "events.sqlite3") as journal:
        chain = LiveChain(CONFIG, source.velocity_m_s, journal=journal, timeline=Timeline(datetime(2024, 5, 1)),
                          source_name=source.name)
        chain.listeners.append(lambda power, decisions, firings: heard.append((power, decisions)))
        run_live(source, chain, speed=None, should_stop=lambda: on_block(source) or until(source, lines))
    power = np.concatenate([p for p, _ in heard])
    times = np.concatenate([d.time_s for _, d in heard])
    assert source.dropped_blocks == 0 and chain.status.dropped_frames == 0
    step_s = np.diff(times)  # no gap: a frame every hop (the spectrogram restarts on its own grid when the tone is back)
    assert step_s.min() > 0 and step_s.max() <= CONFIG.frontend.hop_s + 1e-9
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
    return inside.sum() > 0.9 * (stop_s - start_s) / CONFIG.frontend.hop_s and not power[inside].any()


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
    assert PROBE_TAKES_S < first_on - first_off < PROBE_TAKES_S + 0.6  # the takes, each from the next block on
    assert EVERY_S <= second_off - first_on <= EVERY_S + 0.6 and PROBE_TAKES_S < second_on - second_off < PROBE_TAKES_S + 0.6
    delay_s = source._heard_gate.delay_s
    assert _blank(power, times, first_off + delay_s, first_on + delay_s)
    assert power[(times > 2.0) & (times < first_off)].any()
    assert power[(times > first_on + delay_s + 1.0) & (times < second_off)].any()  # the detector hears the tone again
    assert store.load(calibration.device_id) == calibration and source.level_dbfs == calibration.level_dbfs
    # the tone outside the pauses: the calibration's level, ramped, phase continuous across the pauses
    played = card.played
    keep = _tone_only(source, len(played))
    np.testing.assert_allclose(played[keep], _played_tone(card, source, [calibration.level_dbfs] * 3)[keep], atol=1e-4)
    in_pause = ~keep & (np.arange(len(played)) / RATE_HZ < first_on)
    assert np.max(np.abs(played[in_pause])) == pytest.approx(10 ** (-20 / 20), rel=1e-3)  # the chirp, the loudest probe
