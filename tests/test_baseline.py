"""Classical baseline detector: noise stays quiet, broad Doppler fires, lines do not."""

from __future__ import annotations

import numpy as np
import pytest

from uspd.config import BaselineConfig, Config
from uspd.detect.baseline import BaselineDetector
from uspd.frontend.spectrogram import DopplerSpectrogram
from uspd.physics import doppler_shift_hz
from uspd.sim.labels import label_scene
from uspd.sim.render import iter_doppler, scene_spectrogram
from uspd.sim.scenarios import build_scene

RATE_HZ, CARRIER_HZ, C_M_S = 3000, 34000.0, 343.0
CONFIG = Config()


def _spectrogram() -> DopplerSpectrogram:
    return DopplerSpectrogram(CONFIG.frontend, carrier_hz=CARRIER_HZ, baseband_rate_hz=RATE_HZ, speed_of_sound_m_s=C_M_S)


def _noise(seconds: float, mics: int, seed: int = 0) -> np.ndarray:
    """Mic noise around a steady pilot tone (the direct path, 40 dB above the noise)."""
    rng = np.random.default_rng(seed)
    shape = (mics, int(seconds * RATE_HZ))
    return 1e-2 + 1e-4 * (rng.standard_normal(shape) + 1j * rng.standard_normal(shape))


def _tones(seconds: float, speeds_m_s, amplitude: float) -> np.ndarray:
    t = np.arange(int(seconds * RATE_HZ)) / RATE_HZ
    return amplitude * sum(np.exp(2j * np.pi * doppler_shift_hz(v, CARRIER_HZ, C_M_S) * t) for v in speeds_m_s)


def _scores(baseband: np.ndarray, config: BaselineConfig = CONFIG.baseline):
    spec = _spectrogram()
    power, times = spec.compute(baseband)
    return BaselineDetector(config, spec.velocity_m_s, CONFIG.frontend.hop_s).process(power), times


@pytest.mark.parametrize("mics", [1, 7])
def test_noise_alone_stays_below_half_after_the_floor_settles(mics):
    frames, times = _scores(_noise(30.0, mics))
    settled = times > 3.0
    assert np.mean(frames.score[settled] > 0.5) < 0.005


def test_broad_doppler_fires_and_its_direction_is_reported():
    baseband = _noise(12.0, 7)
    body = slice(8 * RATE_HZ, 9 * RATE_HZ)  # one second of a receding body: torso and limbs
    # its echo reaches the mics with other phases than the direct path (the same on all
    # mics here), as any reflector away from the speaker does: the music canceller keeps it
    arrival = np.exp(2j * np.pi * np.random.default_rng(1).uniform(size=(7, 1)))
    baseband[:, body] += arrival * _tones(1.0, (-0.6, -0.9, -1.3, -1.8), 3e-4)
    frames, times = _scores(baseband)
    during = (times > 8.1) & (times < 9.0)
    assert np.all(frames.score[during] > 0.9)
    assert np.all(frames.centroid_m_s[during] < -0.5)
    assert np.all(frames.score[(times > 3.0) & (times < 7.9)] < 0.5)


def test_a_steady_line_is_absorbed_into_the_floor():
    """An interferer's tone switching on looks like motion (its onset is broadband and a
    strong line's window sidelobes light neighbouring bins) until the floor creeps up under
    it: the gap in dB shrinks by e every floor_rise_s, from ~40 dB to the 6 dB threshold."""
    baseband = _noise(36.0, 7)
    baseband[:, 6 * RATE_HZ :] += _tones(30.0, (1.0,), 1e-3)
    frames, times = _scores(baseband)
    absorbed_s = 6.0 + np.log(40.0 / 6.0) * CONFIG.baseline.floor_rise_s + 2.0
    assert np.all(frames.score[(times > 3.0) & (times < 5.9)] < 0.5)
    assert np.all(frames.score[times > absorbed_s] < 0.5)


def test_frame_by_frame_equals_all_at_once():
    baseband = _noise(6.0, 2)
    baseband[:, 3 * RATE_HZ : 4 * RATE_HZ] += _tones(1.0, (0.7, 1.1), 2e-4)
    spec = _spectrogram()
    power, _ = spec.compute(baseband)
    whole = BaselineDetector(CONFIG.baseline, spec.velocity_m_s, 0.02).process(power)
    detector = BaselineDetector(CONFIG.baseline, spec.velocity_m_s, 0.02)
    parts = [detector.process(power[i : i + 7]) for i in range(0, len(power), 7)]
    np.testing.assert_array_equal(np.concatenate([p.score for p in parts]), whole.score)


def test_wrong_frame_width_is_a_clear_error():
    spec = _spectrogram()
    detector = BaselineDetector(CONFIG.baseline, spec.velocity_m_s, 0.02)
    with pytest.raises(ValueError, match="power must be"):
        detector.process(np.ones((3, len(spec.velocity_m_s) + 1)))


@pytest.mark.parametrize("name, expect_motion", [("walk_in", True), ("empty_quiet", False)])
def test_on_simulated_rooms(name, expect_motion):
    scene = build_scene(name, 2, duration_s=12.0, array="smart_speaker_7")
    spec = scene_spectrogram(scene, CONFIG)
    parts = list(iter_doppler(scene, CONFIG, spec))
    power, times = np.concatenate([p for p, _ in parts]), np.concatenate([t for _, t in parts])
    frames = BaselineDetector(CONFIG.baseline, spec.velocity_m_s, CONFIG.frontend.hop_s).process(power)
    truth = label_scene(scene, CONFIG.frontend.hop_s)
    motion = truth.motion[np.clip(np.searchsorted(truth.time_s, times - 1e-9), 0, len(truth) - 1)]
    if expect_motion:
        assert np.mean(frames.score[motion == "major"] > 0.5) > 0.7  # most of the walk, not only its peak
    assert np.all(frames.score[motion == "none"] < 0.5)


def test_a_paused_tone_is_no_data_not_motion():
    """A duty-cycled emitter pausing for 1.5 s: the switching is broadband, yet no motion."""
    baseband = _noise(12.0, 2)
    baseband[:, 6 * RATE_HZ : int(7.5 * RATE_HZ)] -= 1e-2  # the tone off: only noise remains
    frames, times = _scores(baseband)
    assert np.all(frames.score < 0.5)
    gap = (times > 6.0) & (times < 7.5 + CONFIG.frontend.tone_settle_s)
    assert np.all(frames.score[gap] == 0.0)
