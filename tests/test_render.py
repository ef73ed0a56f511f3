"""The two renderers agree: demodulating the passband WAV reproduces the baseband render."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from scipy import signal

from uspd.config import SimulationConfig
from uspd.frontend.demod import PASSBAND_EDGE, demodulate
from uspd.sim.render import render_baseband, render_passband
from uspd.sim.scenarios import SCENARIOS, build_scene
from uspd.sim.sources import AirflowHiss, KeysJingle, PaperCrinkle

CONFIG = SimulationConfig(noise=False)
RATE_HZ = CONFIG.baseband_rate_hz
_EDGE = RATE_HZ // 10  # samples skipped at each end: the filters switch on and off there
_MOTION_HZ = 4.0  # the front end's clutter cut-off: above it lies what moves
# Noise-like sources draw independent noise in each renderer: their in-band power agrees
# (tests/test_music_sources.py), their waveforms cannot, so scene comparisons leave them out.
_NOISE_LIKE = (AirflowHiss, KeysJingle, PaperCrinkle)


def _in_band(x: np.ndarray) -> np.ndarray:
    """Inside the front end's band, clear of the decimation filter's ±0.1 dB (1 %) ripple
    near its edge at PASSBAND_EDGE × rate (a pest repeller's sweep crossing it shows that ripple)."""
    taps = signal.firwin(301, 0.9 * PASSBAND_EDGE * RATE_HZ, fs=RATE_HZ)
    return signal.filtfilt(taps, 1.0, x, axis=-1)[:, _EDGE:-_EDGE]


def _relative_rms(reference: np.ndarray, other: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.abs(other - reference) ** 2) / np.mean(np.abs(reference) ** 2)))


def _both(name: str, seed: int, array: str, duration_s: float) -> tuple[np.ndarray, np.ndarray, float]:
    """Baseband render and demodulated passband render of one scene, in the front end's
    band, and the in-band power of the device's own noise (digital units²).

    The ADC gets 32 bits so that 16-bit quantisation (real, and present only in passband)
    does not mask the comparison of weak echoes.
    """
    scene = build_scene(name, seed, duration_s=duration_s, array=array, sample_rate_hz=96000)
    scene = replace(
        scene,
        device=replace(scene.device, hardware=replace(scene.device.hardware, adc_bits=32)),
        sources=tuple(s for s in scene.sources if not isinstance(s, _NOISE_LIKE)),
    )
    baseband = render_baseband(scene, CONFIG).signal
    demodulated = demodulate(render_passband(scene, CONFIG).signal, 96000, scene.carrier_hz, RATE_HZ)
    noise_power = 2 * scene.device.hardware.noise_psd_fs2_per_hz() * RATE_HZ * (2 * 0.9 * PASSBAND_EDGE)
    return _in_band(baseband), _in_band(demodulated), noise_power


def _check(name: str, seed: int, array: str, duration_s: float, field_tol: float, motion_tol: float) -> None:
    """Whole field within ``field_tol``; its moving part within ``motion_tol`` of itself, or
    within 30 dB under the mic noise when hardly anything moves (a resting cat)."""
    baseband, demodulated, noise_power = _both(name, seed, array, duration_s)
    assert _relative_rms(baseband, demodulated) < field_tol
    sos = signal.butter(2, _MOTION_HZ, "highpass", fs=RATE_HZ, output="sos")
    moving_bb, moving_pb = (signal.sosfiltfilt(sos, x, axis=-1) for x in (baseband, demodulated))
    error_power = np.mean(np.abs(moving_pb - moving_bb) ** 2)
    assert error_power < motion_tol**2 * np.mean(np.abs(moving_bb) ** 2) + 1e-3 * noise_power


@pytest.mark.parametrize(
    "name, seed, field_tol, motion_tol",
    [
        ("walk_in", 3, 1e-4, 1e-2),
        ("empty_fan", 3, 1e-4, 1e-2),
        # float32 phase rounding (~1e-4 rad of k·r ≈ 2000 rad) on a large, nearly still
        # echo leaves a floor near −180 dB FS²/Hz, 45 dB under the mic noise, which is
        # a few % of a seated person's faint motion
        ("seated_reading", 3, 1e-4, 5e-2),
        ("interferer", 3, 1e-3, 1e-2),
        ("music_loud_empty", 3, 1e-3, 5e-2),
    ],
)
def test_demodulated_passband_matches_baseband(name, seed, field_tol, motion_tol):
    _check(name, seed, "laptop_2", 3.0, field_tol, motion_tol)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_every_scenario_renders_alike_in_both_renderers_on_seven_mics(name):
    # a pest repeller's pulsed sweep is band-limited on a windowed-sinc grid in baseband: 0.5 %
    field_tol = 1e-2 if name == "pest_repeller" else 1e-3
    _check(name, 11, "smart_speaker_7", 4.0, field_tol, 5e-2)
