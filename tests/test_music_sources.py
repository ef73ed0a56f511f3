"""Music through a nonlinear speaker, ultrasonic sources and HVAC turbulence: the numbers."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import soundfile as sf
from scipy import signal, special

from uspd.physics import spl_to_pa
from uspd.sim.music import Music
from uspd.sim.sources import (
    NOMINAL_SPEED_OF_SOUND_M_S,
    AirflowHiss,
    HvacTurbulence,
    InterfererTone,
    KeysJingle,
    PaperCrinkle,
    PestRepeller,
)

F0_HZ = 32000.0
BB_RATE_HZ = 3000.0
PB_RATE_HZ = 96000.0
TONE_FS = 0.5
LEVEL_DBFS = -12.0
PEAK_FS = np.sqrt(2.0) * 10.0 ** (LEVEL_DBFS / 20.0)  # a sine at −12 dBFS RMS
ELEMENTS = (Music, InterfererTone, PestRepeller, KeysJingle, PaperCrinkle, AirflowHiss, HvacTurbulence)
SOURCES = (InterfererTone, PestRepeller, KeysJingle, PaperCrinkle, AirflowHiss)


def _sine_wav(tmp_path, frequency_hz: float, seconds: float = 1.0, rate: int = 48000) -> str:
    path = tmp_path / f"sine_{frequency_hz:.0f}.wav"
    t = np.arange(int(seconds * rate)) / rate
    sf.write(path, 0.5 * np.sin(2 * np.pi * frequency_hz * t), rate, subtype="FLOAT")
    return str(path)


def _line_ratios(envelope: np.ndarray, rate_hz: float, lines_hz: tuple[float, ...]) -> list[float]:
    """|X(f)| / |X(0)| of an envelope spanning a whole number of seconds (exact bins)."""
    spectrum = np.fft.fft(envelope)
    return [abs(spectrum[int(round(f * len(envelope) / rate_hz))]) / abs(spectrum[0]) for f in lines_hz]


def _envelope(music: Music, bandwidth_hz: float = BB_RATE_HZ, start_s: float = 3.0) -> np.ndarray:
    t = start_s + np.arange(int(bandwidth_hz)) / bandwidth_hz  # one second at the band's rate
    return music.carrier_envelope(t, F0_HZ, TONE_FS, bandwidth_hz)


# --------------------------------------------------------------------------------------
# Music
# --------------------------------------------------------------------------------------
def test_silent_music_leaves_the_tone_alone():
    t = np.arange(0.0, 2.0, 1 / BB_RATE_HZ)
    off = Music(windows_s=((10.0, 20.0),)).carrier_envelope(t, F0_HZ, TONE_FS, BB_RATE_HZ)
    quiet = Music(level_dbfs=-200.0).carrier_envelope(t, F0_HZ, TONE_FS, BB_RATE_HZ)
    np.testing.assert_allclose(off, 1.0, atol=1e-12)
    np.testing.assert_allclose(quiet, 1.0, atol=1e-8)


def test_second_order_term_gives_c2_sidebands(tmp_path):
    """1 + 2·c2·M·cos(ωt): sidebands c2·M at ±60 Hz, nothing at ±120 Hz."""
    music = Music.from_wav(_sine_wav(tmp_path, 60.0), LEVEL_DBFS, c2=0.05, c3=0.0, excursion_mm_per_fs=0.0)
    up, down, second = _line_ratios(_envelope(music), BB_RATE_HZ, (60.0, -60.0, 120.0))
    assert up == pytest.approx(0.05 * PEAK_FS, rel=1e-3)
    assert down == pytest.approx(0.05 * PEAK_FS, rel=1e-3)
    assert second < 1e-5


def test_third_order_term_gives_double_frequency_sidebands(tmp_path):
    """3·c3·M²·cos²: (3/4)·c3·M² at ±120 Hz over a DC of 1 + (3/2)c3·M² (normalised)."""
    c3 = -0.05
    music = Music.from_wav(_sine_wav(tmp_path, 60.0), LEVEL_DBFS, c2=0.0, c3=c3, excursion_mm_per_fs=0.0)
    envelope = _envelope(music)
    first, second = _line_ratios(envelope, BB_RATE_HZ, (60.0, 120.0))
    compression = 0.75 * c3 * TONE_FS**2
    dc = (1 + 1.5 * c3 * PEAK_FS**2 + compression) / (1 + compression)
    assert first < 1e-5
    assert second == pytest.approx(0.75 * abs(c3) * PEAK_FS**2 / (1 + compression) / dc, rel=1e-3)
    assert np.mean(envelope).real == pytest.approx(dc, rel=1e-6)


def test_cone_excursion_gives_bessel_sidebands(tmp_path):
    """exp(jβ·cos ωt): J1(β)/J0(β) at ±60 Hz, J2/J0 at ±120 Hz, β from the excursion response."""
    music = Music.from_wav(_sine_wav(tmp_path, 60.0), LEVEL_DBFS, c2=0.0, c3=0.0, excursion_mm_per_fs=1.0,
                           driver_resonance_hz=110.0, driver_q=0.8)
    r = 60.0 / 110.0
    excursion_m = 1e-3 * PEAK_FS / np.sqrt((1 - r**2) ** 2 + (r / 0.8) ** 2)
    beta = 2 * np.pi * F0_HZ * excursion_m / NOMINAL_SPEED_OF_SOUND_M_S
    first, second = _line_ratios(_envelope(music), BB_RATE_HZ, (60.0, 120.0))
    assert first == pytest.approx(special.j1(beta) / special.j0(beta), rel=5e-3)
    assert second == pytest.approx(special.jv(2, beta) / special.j0(beta), rel=2e-2)
    assert 0.05 < beta < 0.5  # a realistic, visible phase modulation


def test_intermodulation_outside_the_band_is_filtered_not_aliased(tmp_path):
    """A 2 kHz music tone makes sidebands at ±2 kHz: gone at a 3 kHz band, kept at 6 kHz."""
    music = Music.from_wav(_sine_wav(tmp_path, 2000.0), LEVEL_DBFS, c2=0.05, c3=0.0, excursion_mm_per_fs=0.0)
    alias, inside = _line_ratios(_envelope(music, 3000.0), 3000.0, (-1000.0, 1000.0))
    assert max(alias, inside) < 1e-3 * 0.05 * PEAK_FS
    kept = _line_ratios(_envelope(music, 6000.0), 6000.0, (2000.0, -2000.0))
    np.testing.assert_allclose(kept, 0.05 * PEAK_FS, rtol=1e-3)


def test_default_loud_music_puts_bass_sidebands_in_the_doppler_band():
    """−12 dBFS music at 32 kHz: the strongest bass line −45…−25 dBc, little beyond ±300 Hz (±1.6 m/s)."""
    envelope = Music(seed=2).carrier_envelope(np.arange(0.0, 20.0, 1 / BB_RATE_HZ), F0_HZ, TONE_FS, BB_RATE_HZ)
    f, psd = signal.welch(envelope, BB_RATE_HZ, nperseg=3000, return_onesided=False, detrend=False)
    carrier = psd[np.abs(f) < 1.0].sum()
    bass = psd[(np.abs(f) >= 20.0) & (np.abs(f) <= 300.0)]
    assert -45.0 < 10 * np.log10(bass.max() / carrier) < -25.0
    assert psd[np.abs(f) > 300.0].sum() < 0.1 * bass.sum()


def test_music_is_chunk_consistent_at_any_times():
    music = Music(seed=4)
    t = np.arange(6000) / BB_RATE_HZ
    whole = music.carrier_envelope(t, F0_HZ, TONE_FS, BB_RATE_HZ)
    blocks = np.concatenate([music.carrier_envelope(b, F0_HZ, TONE_FS, BB_RATE_HZ) for b in np.split(t, [1234, 4000])])
    np.testing.assert_allclose(blocks, whole, rtol=0, atol=1e-9)
    delayed = t - 0.0123456  # a path delay: off the grid
    shuffled = np.random.default_rng(0).permutation(len(t))
    once = music.carrier_envelope(delayed, F0_HZ, TONE_FS, BB_RATE_HZ)
    np.testing.assert_allclose(music.carrier_envelope(delayed[shuffled], F0_HZ, TONE_FS, BB_RATE_HZ), once[shuffled], atol=1e-12)
    np.testing.assert_allclose(once[100:], np.interp(delayed[100:], t, whole), atol=0.02)  # a smooth shift of the same signal
    t_pb = np.arange(9600) / PB_RATE_HZ
    np.testing.assert_array_equal(np.concatenate([music.drive_fs(b) for b in np.split(t_pb, [777])]), music.drive_fs(t_pb))


def test_synthetic_music_is_loud_and_bass_heavy():
    music = Music(seed=1, tempo_bpm=100.0)
    rate = 32000.0
    drive = music.drive_fs(60.0 + np.arange(int(20 * rate)) / rate)  # outside the normalisation window
    assert 20 * np.log10(np.sqrt(np.mean(drive**2))) == pytest.approx(LEVEL_DBFS, abs=2.0)
    f, psd = signal.welch(drive, rate, nperseg=8192)
    bass = psd[(f >= 30) & (f <= 200)].sum() / psd.sum()
    treble = psd[f >= 4000].sum() / psd.sum()
    assert bass > 0.7 and 1e-4 < treble < 0.05


def test_wav_loops_when_shorter_than_the_scene(tmp_path):
    music = Music.from_wav(_sine_wav(tmp_path, 60.0, seconds=0.5), LEVEL_DBFS)
    t = np.arange(0.0, 0.5, 1 / PB_RATE_HZ) + 0.0001
    np.testing.assert_allclose(music.drive_fs(t + 1.5), music.drive_fs(t), atol=1e-9)
    assert np.max(np.abs(music.drive_fs(t))) == pytest.approx(PEAK_FS, rel=1e-3)


# --------------------------------------------------------------------------------------
# Sources
# --------------------------------------------------------------------------------------
def test_tone_in_band_baseband_is_the_same_waveform():
    tone = InterfererTone(frequency_hz=F0_HZ + 300.0, drift_hz=2.0, level_db_spl=70.0, phase_rad=1.0, seed=3)
    t = 100.0 + np.arange(20000) / PB_RATE_HZ
    bb = tone.baseband_pa(t, F0_HZ, BB_RATE_HZ)
    np.testing.assert_allclose(np.abs(bb), np.sqrt(2) * spl_to_pa(70.0), rtol=1e-12)
    np.testing.assert_allclose(np.real(bb * np.exp(2j * np.pi * F0_HZ * t)), tone.passband_pa(t), atol=1e-9)


def test_tone_outside_the_band_is_dropped():
    tone = InterfererTone(frequency_hz=F0_HZ + 2000.0, drift_hz=5.0)
    assert not np.any(tone.baseband_pa(np.arange(0.0, 5.0, 1 / BB_RATE_HZ), F0_HZ, BB_RATE_HZ))


def test_sweep_crosses_the_band_as_a_chirp_only_while_inside():
    repeller = PestRepeller(low_hz=25000.0, high_hz=55000.0, sweep_period_s=0.5, sweep_shape="triangle")
    t = np.arange(0.0, 5.0, 1 / PB_RATE_HZ)
    bb = repeller.baseband_pa(t, F0_HZ, BB_RATE_HZ)
    amplitude = np.sqrt(2) * spl_to_pa(repeller.level_db_spl)
    assert np.mean(bb != 0) == pytest.approx(BB_RATE_HZ / 30000.0, rel=0.05)  # |f − f0| < 1.5 kHz of a 30 kHz sweep
    full = np.abs(bb) > amplitude * (1 - 1e-12)
    assert np.mean(full) > 0.8 * np.mean(bb != 0)
    np.testing.assert_allclose(np.real(bb * np.exp(2j * np.pi * F0_HZ * t))[full], repeller.passband_pa(t)[full], atol=1e-9)
    capped = repeller.passband_pa(t, max_frequency_hz=48000.0)
    above = repeller._phase(t, 0.0)[1] > 48000.0
    assert not np.any(capped[above]) and np.any(capped[~above])


def _demodulated_power(passband: np.ndarray, t: np.ndarray) -> np.ndarray:
    """What a front end does: mix down, ×2, low-pass and decimate to the baseband rate."""
    mixed = 2.0 * passband * np.exp(-2j * np.pi * F0_HZ * t)
    return signal.resample_poly(mixed, 1, int(PB_RATE_HZ / BB_RATE_HZ))


def _in_band_power(x: np.ndarray) -> float:
    f, psd = signal.welch(x, BB_RATE_HZ, nperseg=256, return_onesided=False)
    return float(np.mean(psd[np.abs(f) < 1000.0]))


@pytest.mark.parametrize("source", [
    AirflowHiss(level_db_spl=40.0, seed=2),
    PaperCrinkle(windows_s=((0.5, 3.5),), seed=5),
    KeysJingle(windows_s=((0.5, 4.5),), click_rate_hz=150.0, seed=6),  # enough clicks for ±0.7 dB
], ids=lambda s: s.kind)
def test_noise_like_baseband_has_the_passband_power_in_band(source):
    """Independent noise fills of the same schedule: the in-band PSDs agree (mic anti-alias filter on)."""
    t = np.arange(0.5, 4.5, 1 / PB_RATE_HZ)
    demodulated = _demodulated_power(source.passband_pa(t, max_frequency_hz=0.5 * PB_RATE_HZ), t)
    baseband = source.baseband_pa(t[:: int(PB_RATE_HZ / BB_RATE_HZ)], F0_HZ, BB_RATE_HZ)
    ratio_db = 10 * np.log10(_in_band_power(baseband) / _in_band_power(demodulated))
    assert abs(ratio_db) < 1.0


def test_broadband_level_is_the_quoted_ultrasonic_level():
    hiss = AirflowHiss(level_db_spl=45.0, slope_db_per_octave=-6.0, seed=1)
    rate = 192000.0
    f, psd = signal.welch(hiss.passband_pa(np.arange(0.0, 1.0, 1 / rate)), rate, nperseg=4096)
    band = (f >= 20000) & (f <= 50000)
    assert 10 * np.log10(np.trapezoid(psd[band], f[band]) / spl_to_pa(45.0) ** 2) == pytest.approx(0.0, abs=0.5)
    low, high = (psd[(f > 20000) & (f < 24000)].mean(), psd[(f > 40000) & (f < 48000)].mean())
    assert 10 * np.log10(low / high) == pytest.approx(6.0 * np.log2(44000 / 22000), abs=1.0)


def test_keys_ring_in_lines_and_reach_past_40_khz():
    keys = KeysJingle(windows_s=((0.0, 2.0),), seed=2)
    rate = 192000.0
    f, psd = signal.welch(keys.passband_pa(np.arange(0.0, 2.0, 1 / rate)), rate, nperseg=8192)
    assert psd[(f > 40000) & (f < 50000)].mean() > 0.1 * psd[(f > 20000) & (f < 30000)].mean()
    assert psd.max() > 30 * np.median(psd[(f > 3000) & (f < 60000)])  # modal lines stand out
    assert not np.any(keys.passband_pa(np.arange(2.5, 3.0, 1 / rate)))  # silent once the last ring has died


@pytest.mark.parametrize("cls", SOURCES, ids=lambda c: c.kind)
def test_sources_are_chunk_consistent(cls):
    source = cls(windows_s=((0.3, 1.7),)) if cls in (KeysJingle, PaperCrinkle) else cls()
    t = np.arange(0.0, 2.0, 1 / BB_RATE_HZ) - 0.0071  # off-grid: a path delay
    whole = source.baseband_pa(t, F0_HZ, BB_RATE_HZ)
    blocks = np.concatenate([source.baseband_pa(b, F0_HZ, BB_RATE_HZ) for b in np.split(t, [999, 4321])])
    np.testing.assert_allclose(blocks, whole, rtol=0, atol=1e-12 + 1e-9 * np.abs(whole).max())
    t_pb = np.arange(0.5, 0.6, 1 / PB_RATE_HZ)
    pb = source.passband_pa(t_pb)
    np.testing.assert_allclose(np.concatenate([source.passband_pa(b) for b in np.split(t_pb, [3001])]), pb,
                               rtol=0, atol=1e-9 * np.abs(pb).max())
    assert source.active(np.array([1.0]))[0] and isinstance(source.position_m, np.ndarray)


# --------------------------------------------------------------------------------------
# HVAC turbulence
# --------------------------------------------------------------------------------------
MICS_M = np.array([[2.0, 0.1, 1.0], [2.03, 0.1, 1.0], [2.0, 0.15, 1.0], [2.5, 0.1, 1.0]])


def test_turbulence_delay_has_the_derived_size_spectrum_and_correlation():
    hvac = HvacTurbulence(mean_flow_along_path_m_s=0.0, eddy_size_m=0.2, advection_m_s=1.0, seed=3)
    t = np.arange(0.0, 1200.0, 1 / 100.0)
    delay = hvac.delay_s(t, MICS_M)
    sigma = np.hypot(0.3, 0.606 * 0.3) * np.sqrt(2 * 0.2 * 2.0) / NOMINAL_SPEED_OF_SOUND_M_S**2
    assert hvac.delay_rms_s == pytest.approx(sigma)
    assert np.std(delay[0]) == pytest.approx(sigma, rel=0.25)
    corr = np.corrcoef(delay)
    assert corr[0, 1] == pytest.approx(np.exp(-0.03 / 0.2), abs=0.1)
    assert corr[0, 3] < corr[0, 2] < corr[0, 1]
    f, psd = signal.welch(delay[0], 100.0, nperseg=4096)
    assert psd[f < 10].sum() > 0.99 * psd.sum()


def test_turbulence_modulates_only_while_running():
    hvac = HvacTurbulence(field_fraction=0.4, windows_s=((5.0, 30.0),), ramp_s=2.0)
    t = np.arange(0.0, 40.0, 1 / BB_RATE_HZ)
    gain = hvac.static_field_gain(t, MICS_M, F0_HZ)
    assert gain.shape == (len(MICS_M), len(t))
    off = (t < 5.0) | (t >= 30.0)
    np.testing.assert_array_equal(gain[:, off], 1.0)
    assert np.std(np.angle(gain[:, (t > 8) & (t < 28)])) > 0.02
    assert np.all(np.abs(gain) <= 1.0 + 1e-12) and np.all(np.abs(gain) >= 1 - 2 * 0.4 - 1e-12)
    blocks = np.concatenate([hvac.static_field_gain(b, MICS_M, F0_HZ) for b in np.split(t - 0.01, [50000])], axis=1)
    np.testing.assert_allclose(blocks, hvac.static_field_gain(t - 0.01, MICS_M, F0_HZ), atol=1e-12)
    np.testing.assert_array_equal(hvac.active(np.array([4.9, 5.0, 29.9, 30.0])), [False, True, True, False])


# --------------------------------------------------------------------------------------
# Plain data, seeded sampling
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("cls", ELEMENTS, ids=lambda c: c.kind)
def test_sample_is_seeded_plausible_and_json(cls):
    room, device = (5.0, 4.0, 2.6), (0.3, 2.0, 0.8)
    first = cls.sample(np.random.default_rng(7), room, device, 30.0, F0_HZ)
    assert first == cls.sample(np.random.default_rng(7), room, device, 30.0, F0_HZ)
    assert first != cls.sample(np.random.default_rng(8), room, device, 30.0, F0_HZ)
    json.dumps(dataclasses.asdict(first))
    if hasattr(first, "location_m"):
        assert all(0.0 <= x <= size for x, size in zip(first.location_m, room))
    chosen = ((1.0, 2.0),)
    assert cls.sample(np.random.default_rng(7), room, device, 30.0, F0_HZ, windows_s=chosen).windows_s == chosen


def test_the_playback_at_baseband_is_the_drive_and_its_square_low_passed():
    """What a device that knows its playback derives from it (the playback canceller's
    regressors): the drive's band below bandwidth/2, the same at any times asked for; its
    square's mean is the drive's mean square; silence is exactly zero."""
    music = Music(seed=3, level_dbfs=-12.0)
    t_s = 2.0 + np.arange(3 * int(BB_RATE_HZ)) / BB_RATE_HZ
    m, m2 = (music.drive_baseband(t_s, power, BB_RATE_HZ) for power in (1, 2))
    np.testing.assert_array_equal(np.concatenate([music.drive_baseband(t_s[:1234], 1, BB_RATE_HZ),
                                                  music.drive_baseband(t_s[1234:], 1, BB_RATE_HZ)]), m)
    fine_s = 2.0 + np.arange(3 * 48000) / 48000
    drive = music.drive_fs(fine_s)
    assert abs(m2.mean() / np.mean(drive**2) - 1.0) < 0.02
    low = signal.sosfiltfilt(signal.butter(8, 0.4 * BB_RATE_HZ, fs=48000, output="sos"), drive)[:: 48000 // int(BB_RATE_HZ)]
    middle = slice(300, -300)
    assert np.sqrt(np.mean((m[middle] - low[middle]) ** 2) / np.mean(low[middle] ** 2)) < 0.05
    silent = dataclasses.replace(music, windows_s=((100.0, 110.0),))
    assert not silent.drive_baseband(t_s, 2, BB_RATE_HZ).any()
