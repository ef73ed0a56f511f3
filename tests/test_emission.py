"""The tone gate, the truthful rendering of tone-off periods, gated frames, the duty-cycle scheduler."""

import dataclasses

import numpy as np
import pytest

from uspd.config import Config, DutyCycleConfig
from uspd.detect.pipeline import Decisions
from uspd.emission import DutyCycler, GatedFrames, ToneGate, capped_level_dbfs, duty_stats
from uspd.sim.render import playback_baseband, render_baseband, render_passband, scene_spectrogram
from uspd.sim.scenarios import build_scene

CONFIG = Config()


def test_gate_ramps_and_bookkeeping():
    gate = ToneGate(ramp_s=0.02)
    assert gate.switch(1.0, False) and not gate.switch(1.5, False)  # already off: nothing to do
    gate.switch(3.0, True)
    g = gate.gain(np.array([0.5, 1.0, 1.01, 1.02, 2.0, 3.01, 3.5]))
    np.testing.assert_allclose(g, [1.0, 1.0, 0.5, 0.0, 0.0, 0.5, 1.0], atol=1e-12)
    assert gate.constant(1.5, 2.9) == 0.0 and gate.constant(3.1, 9.0) == 1.0 and gate.constant(2.9, 3.1) is None
    assert gate.on_seconds(0.0, 10.0) == pytest.approx(8.0)
    stats = duty_stats(gate, 0.0, 10.0)
    assert stats.duty_pct == pytest.approx(80.0) and stats.switches == 2
    with pytest.raises(ValueError, match="inside the ramp"):
        gate.switch(3.01, False)


def test_tone_off_renders_no_echoes():
    """While the tone is off the mics hear exactly what an empty room would: noise, no echo
    of the walking person; before the switch the render is the ungated one."""
    scene = build_scene("walk_in", 4, duration_s=6.0)
    gate = ToneGate(0.02)
    gate.switch(2.0, False)
    gate.switch(4.0, True)
    sim = CONFIG.simulation
    gated = render_baseband(scene, sim, tone_gate=gate).signal
    empty = render_baseband(dataclasses.replace(scene, movers=()), sim, tone_gate=gate).signal
    free = render_baseband(scene, sim).signal
    rate = sim.baseband_rate_hz
    off = slice(int(2.1 * rate), int(4.0 * rate))
    np.testing.assert_allclose(gated[:, off], empty[:, off], atol=1e-7)
    noise_power = 2 * scene.device.hardware.noise_psd_fs2_per_hz() * rate
    assert np.mean(np.abs(gated[:, off]) ** 2) == pytest.approx(noise_power, rel=0.1)
    before = slice(0, int(1.9 * rate))
    np.testing.assert_allclose(gated[:, before], free[:, before], atol=1e-5)
    passband = render_passband(scene, sim, start_s=2.5, stop_s=2.6, tone_gate=gate)
    assert np.abs(passband.reference).max() == 0.0


def _frames(scene, gate, config: Config = CONFIG, playback: bool = False):
    """The scene through a gated spectrogram in 1 s blocks; ``playback``: with what the unit plays."""
    spectrogram = scene_spectrogram(scene, config)
    frames = GatedFrames(spectrogram, gate, settle_s=0.1)
    rate = CONFIG.simulation.baseband_rate_hz
    rendered = render_baseband(scene, CONFIG.simulation, tone_gate=gate)
    played = playback_baseband(scene, rendered) if playback else None
    parts = [frames.process(rendered.signal[:, a : a + rate], a / rate, None if played is None else played[:, a : a + rate])
             for a in range(0, rendered.signal.shape[1], rate)]
    return np.concatenate([p for p, _ in parts]), np.concatenate([t for _, t in parts])


def test_gated_frames_mark_tone_off_as_no_data():
    scene = build_scene("walk_in", 4, duration_s=6.0)
    gate = ToneGate(0.02)
    gate.switch(2.0, False)
    gate.switch(4.0, True)
    power, times = _frames(scene, gate)
    assert np.all(np.diff(times) > 0)
    hop_s = CONFIG.frontend.hop_s
    assert np.median(np.diff(times)) == pytest.approx(hop_s)
    blank = power.sum(axis=1) == 0
    assert blank[(times > 2.0) & (times < 4.0)].all()
    data_after = times[(times > 4.0) & ~blank]
    # back after ramp + settle + one frame (+ a hop of grid alignment), not after the front end's 2 s re-adoption
    assert data_after[0] <= 4.0 + 0.02 + 0.1 + CONFIG.frontend.frame_s + hop_s
    assert not blank[(times > 1.0) & (times < 1.95)].any()


def test_gated_frames_take_the_playback_where_the_tone_is_on():
    """A duty-cycled unit playing loud music on one mic: the playback canceller, restarted
    with the spectrogram when the tone comes back, takes the music out of what follows."""
    scene = build_scene("music_loud_empty", 6001, duration_s=10.0, array="single")  # music throughout
    gate = ToneGate(0.02)
    gate.switch(2.0, False)
    gate.switch(3.0, True)
    config = CONFIG.with_music(playback=True)
    (plain, times), (fed, fed_times) = _frames(scene, gate, config), _frames(scene, gate, config, playback=True)
    np.testing.assert_array_equal(times, fed_times)
    assert np.array_equal(plain.sum(axis=1) == 0, fed.sum(axis=1) == 0)  # the same frames are no data
    late = times > 6.0  # three seconds after the tone came back
    assert plain[late].sum() > 3.0 * fed[late].sum()  # measured: 6.4 dB less, music and noise together


def _decisions(t0: float, t1: float, occupied: bool, moving: bool) -> Decisions:
    times = np.arange(t0 + 0.02, t1 + 1e-9, 0.02)
    return Decisions(times, np.zeros(len(times)), np.full(len(times), "minor" if moving else "none"),
                     np.full(len(times), int(occupied), dtype=np.int8), [])


def test_duty_cycler_cycle():
    config = DutyCycleConfig(enabled=True, off_s=10.0, probe_s=3.0)
    gate = ToneGate(config.ramp_s)
    cycler = DutyCycler(config, gate, hold_s=180.0)
    assert cycler.update(_decisions(0, 1, occupied=False, moving=True), 1.0) == "continuous"  # vacant: stay on
    assert cycler.update(_decisions(1, 2, occupied=True, moving=True), 2.0) == "off"
    modes = [cycler.update(_decisions(t, t + 1, True, False), t + 1.0) for t in range(2, 12)]
    assert modes[-1] == "probe" and modes[-2] == "off"  # probe once off_s (10 s) has passed: at 12 s
    assert cycler.update(_decisions(12, 13, True, True), 13.0) == "off"  # the probe saw motion
    modes = [cycler.update(_decisions(t, t + 1, True, False), t + 1.0) for t in range(13, 26)]
    assert modes[-1] == "continuous" and "probe" in modes  # a quiet probe: in doubt, continuous
    assert cycler.update(_decisions(26, 27, False, False), 27.0) == "continuous"
    assert gate.times_s == [2.0, 12.0, 13.0, 23.0]
    assert duty_stats(gate, 0.0, 27.0).on_s == pytest.approx(27.0 - 10.0 - 10.0)
    with pytest.raises(ValueError, match="hold_s"):
        DutyCycler(DutyCycleConfig(off_s=170.0, probe_s=10.0), ToneGate(), hold_s=180.0)


def test_level_cap():
    assert capped_level_dbfs(-10.0, spl_at_0dbfs_db=95.0, max_spl_db=100.0) == -10.0
    assert capped_level_dbfs(-3.0, spl_at_0dbfs_db=105.0, max_spl_db=100.0) == -5.0
    assert capped_level_dbfs(3.0, spl_at_0dbfs_db=80.0, max_spl_db=100.0) == 0.0
