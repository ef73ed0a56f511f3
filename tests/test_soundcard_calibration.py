"""Calibrating a sound card through a virtual duplex card whose mics hear a simulated room
answer whatever the card plays (:mod:`uspd.sim.virtual_card`): the probes, the latency, the
choice against the simulated prober's on the same room, the re-check, the CLI."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from typer.testing import CliRunner

from uspd.calibrate import CalibrationStore, DeviceProfile, SimulatedProber, calibrate, probe_carrier
from uspd.cli import app
from uspd.config import Config, SoundCardConfig
from uspd.live import soundcard
from uspd.live.soundcard_calibration import SoundCardProber, card_prober, card_profile
from uspd.sim.room import Furniture
from uspd.sim.virtual_card import LoopbackCard, RoomLoopback

from helpers import tone_amplitude

CONFIG = Config()
LEVEL_TOLERANCE_DB = 2.0  # the tone-off floor is an estimate from 0.4 s of noise: a card and the simulation differ by its scatter
# (the card hears another stretch of the room's noise each run: its idle blocks between probes follow thread timing)


def _prober(card: LoopbackCard) -> SoundCardProber:
    found = soundcard.find_card(card, None)
    return SoundCardProber(found, card_profile(CONFIG.soundcard, found.n_inputs, found.rates_hz[0]), CONFIG, card)


def test_card_profile_from_the_config():
    assert card_profile(SoundCardConfig(), 2, 96000) == DeviceProfile("laptop_2", 96000)  # the one 2-mic preset
    custom = SoundCardConfig(mic_offsets_m=[(0.0, -0.1, 0.0), (0.0, 0.0, 0.0), (0.0, 0.1, 0.0)],
                             speaker_offset_m=(0.02, 0.0, -0.1), speaker_sensitivity_db_spl=88.0)
    profile = card_profile(custom, 3, 48000)
    assert profile.n_mics == 3 and profile.nominal.speaker_sensitivity_db_spl == 88.0
    np.testing.assert_allclose(profile.direct_delay_s(20.0) * 343.2, [np.hypot(0.1, np.hypot(0.02, 0.1)), np.hypot(0.02, 0.1),
                                                                       np.hypot(0.1, np.hypot(0.02, 0.1))], rtol=1e-3)
    with pytest.raises(ValueError, match="no preset has 4 mics"):
        card_profile(SoundCardConfig(), 4, 96000)
    with pytest.raises(ValueError, match="has 2 microphone inputs but"):
        card_profile(SoundCardConfig(array="smart_speaker_7"), 2, 96000)
    with pytest.raises(ValueError, match="44.1 kHz"):
        card_profile(SoundCardConfig(), 1, 44100)
    with pytest.raises(ValueError, match="go together"):
        SoundCardConfig(mic_offsets_m=[(0.0, 0.0, 0.0)])


def test_a_probe_through_the_card_records_what_the_simulation_renders(unit, room):
    card = LoopbackCard(room, extra_latency=389)
    with _prober(card) as prober:
        # the chirp finds the round trip: one 0.1 s block + the driver's 389 samples (+ the transducers' group delay)
        assert 0 <= prober.latency_samples - (9600 + 389) <= 4
        for carrier_hz in (20000.0, 30000.0, 40000.0):
            heard = probe_carrier(prober, carrier_hz, CONFIG.calibration)
            rendered = probe_carrier(SimulatedProber(unit.scene, CONFIG.simulation), carrier_hz, CONFIG.calibration)
            assert heard.coupling_db == pytest.approx(rendered.coupling_db, abs=0.1)
            assert heard.floor_db == pytest.approx(rendered.floor_db, abs=1.5)
            assert heard.decay_ms == pytest.approx(rendered.decay_ms, abs=0.5)
        quieter = probe_carrier(prober, 30000.0, CONFIG.calibration.model_copy(update={"probe_level_dbfs": -40.0}))
        start = len(card.played)
        normal = probe_carrier(prober, 30000.0, CONFIG.calibration)
        played = card.played[start:]
    assert quieter.coupling_db == pytest.approx(normal.coupling_db, abs=0.1)  # the level played is the level asked for
    assert np.max(np.abs(played)) == pytest.approx(10 ** (CONFIG.calibration.probe_level_dbfs / 20), rel=1e-3)
    spectrum = np.abs(np.fft.rfft(played))
    assert np.argmax(spectrum) * 96000 / len(played) == pytest.approx(30000.0, abs=2.0)
    muted = LoopbackCard(room, muted=True)
    with _prober(muted) as prober:  # a silent speaker: nothing at the carrier
        assert probe_carrier(prober, 30000.0, CONFIG.calibration).coupling_db < normal.coupling_db - 40


def test_a_loopback_input_is_not_probed_as_a_mic(unit, room):
    """A card whose input 0 records what it plays ([soundcard] playback_channel = 0): the
    latency and a probe are the mics' alone, as on the same card without it (as a mic, that
    input would hear the tone at the level played: ~ +50 dB of coupling)."""
    config = CONFIG.model_copy(update={"soundcard": SoundCardConfig(playback_channel=0)})
    card = LoopbackCard(room, feed_channel=0)
    with card_prober(soundcard.find_card(card, None), config, card) as prober:
        assert prober.profile.n_mics == room.n_mics and 0 <= prober.latency_samples - (9600 + 389) <= 4
        heard = probe_carrier(prober, 30000.0, CONFIG.calibration)
    rendered = probe_carrier(SimulatedProber(unit.scene, CONFIG.simulation), 30000.0, CONFIG.calibration)
    assert heard.coupling_db == pytest.approx(rendered.coupling_db, abs=0.1)
    fed = np.concatenate([card.heard(a, 9600, 9600)[:, 0] for a in range(0, len(card.played), 9600)])
    np.testing.assert_array_equal(fed[9989:], card.played[: len(fed) - 9989])  # the loopback: what it played, one round trip late


def test_calibrating_through_the_card_chooses_as_the_simulation_does(unit, room):
    profile = DeviceProfile.of(unit.scene.device)
    with _prober(LoopbackCard(room)) as prober:
        heard = calibrate(prober, profile, CONFIG.calibration, "card")
    rendered = calibrate(SimulatedProber(unit.scene, CONFIG.simulation), profile, CONFIG.calibration, "sim")
    # the same carrier, or (this unit's 20 and 22 kHz are 0.8 dB apart) one the simulation rates as good within the tolerance
    simulated = {c.probe.carrier_hz: c.spl_at_0dbfs_db + c.needed_level_dbfs for c in rendered.candidates if c.feasible}
    assert simulated[heard.carrier_hz] <= rendered.spl_db + LEVEL_TOLERANCE_DB
    assert heard.spl_db == pytest.approx(rendered.spl_db, abs=LEVEL_TOLERANCE_DB)
    if heard.carrier_hz == rendered.carrier_hz:
        assert heard.level_dbfs == pytest.approx(rendered.level_dbfs, abs=LEVEL_TOLERANCE_DB)
    for a, b in zip(heard.candidates, rendered.candidates):  # near Nyquist the response nears the noise in its mean
        assert a.probe.coupling_db == pytest.approx(b.probe.coupling_db, abs=0.1 if b.probe.coupling_db > -40 else 0.5)


def test_calibrate_cli_on_a_sound_card_saves_rechecks_and_refuses_a_muted_speaker(unit, room, monkeypatch, tmp_path):
    runner = CliRunner()
    store = tmp_path / "calibration.json"
    monkeypatch.setattr(soundcard, "_sounddevice", lambda: LoopbackCard(room, name="USB array"))
    first = runner.invoke(app, ["calibrate", "--device", "0", "--store", str(store)])
    assert first.exit_code == 0, first.output
    saved = CalibrationStore(store).load("soundcard:USB array")
    assert saved is not None and "soundcard:USB array: carrier" in first.output
    again = runner.invoke(app, ["calibrate", "--soundcard", "--store", str(store), "--recheck"])
    assert again.exit_code == 0 and "unchanged" in again.output, again.output

    x, y, z = unit.scene.device.position_m
    sofa = Furniture((x + 1.2, y + 0.4, 0.6), 0.1)
    furnished = dataclasses.replace(unit.scene, room=dataclasses.replace(
        unit.scene.room, furniture=unit.scene.room.furniture + (sofa,)))
    monkeypatch.setattr(soundcard, "_sounddevice", lambda: LoopbackCard(RoomLoopback(furnished, CONFIG.simulation),
                                                                        name="USB array"))
    moved = runner.invoke(app, ["calibrate", "--soundcard", "--store", str(store), "--recheck"])
    assert moved.exit_code == 0 and "echoes changed" in moved.output, moved.output
    assert CalibrationStore(store).load("soundcard:USB array").created_unix_s > saved.created_unix_s  # calibrated again

    monkeypatch.setattr(soundcard, "_sounddevice", lambda: LoopbackCard(room, name="USB array", muted=True))
    muted = runner.invoke(app, ["calibrate", "--soundcard", "--store", str(tmp_path / "other.json")])
    assert muted.exit_code == 2 and "barely hear the speaker" in muted.output
    assert not (tmp_path / "other.json").exists()


def test_uspd_run_on_a_calibrated_card_plays_its_carrier_and_level(room, monkeypatch, tmp_path):
    from uspd.cli import _live_source

    card = LoopbackCard(room, name="USB array")
    monkeypatch.setattr(soundcard, "_sounddevice", lambda: card)
    fresh, _ = _live_source(CONFIG, "living_room_day", 0, None, False, None, True, "0", tmp_path / "events.sqlite3")
    assert fresh.calibration is None and fresh.carrier_hz == CONFIG.emission.carrier_hz  # not calibrated: the config's tone
    result = CliRunner().invoke(app, ["calibrate", "--device", "0", "--store", str(tmp_path / "calibration.json")])
    assert result.exit_code == 0, result.output
    saved = CalibrationStore(tmp_path / "calibration.json").load("soundcard:USB array")
    # so the tone below is the calibration's, not the config's
    assert (saved.carrier_hz, saved.level_dbfs) != (CONFIG.emission.carrier_hz, CONFIG.emission.level_dbfs)

    source, _ = _live_source(CONFIG, "living_room_day", 0, None, False, None, True, "0", tmp_path / "events.sqlite3")
    assert source.calibration == saved and (source.carrier_hz, source.level_dbfs) == (saved.carrier_hz, saved.level_dbfs)
    start = len(card.played)
    for i, _ in enumerate(source.blocks()):
        if i == 4:
            source.stop()
    played = card.played[start:]
    steady = played[len(played) // 4 :]  # past the tone's switch-on ramp
    assert tone_amplitude(steady) == pytest.approx(10 ** (saved.level_dbfs / 20), rel=5e-3)
    spectrum = np.abs(np.fft.rfft(played))
    assert np.argmax(spectrum) * 96000 / len(played) == pytest.approx(saved.carrier_hz, abs=20.0)
