"""Front end: carrier search, demodulation and the Doppler spectrogram on signals with known answers."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from uspd.config import FrontendConfig
from uspd.frontend.demod import PASSBAND_EDGE, STOPBAND_EDGE, Demodulator, NoPilotToneError, demodulate, find_carrier_hz
from uspd.frontend.spectrogram import DopplerSpectrogram
from uspd.physics import doppler_shift_hz

RATE_HZ = 96000
BASEBAND_HZ = 3000
C_M_S = 343.0


def _tone(freq_hz: float, seconds: float, amplitude: float = 0.1, phase: float = 0.0, channels: int = 2) -> np.ndarray:
    t = np.arange(int(seconds * RATE_HZ)) / RATE_HZ
    return np.tile(amplitude * np.cos(2 * np.pi * freq_hz * t + phase), (channels, 1))


@pytest.mark.parametrize("carrier_hz", [20012.3, 33333.3, 40000.0])
def test_carrier_is_found_to_a_hundredth_of_a_hertz_in_noise(carrier_hz):
    rng = np.random.default_rng(0)
    audio = _tone(carrier_hz, 2.0) + 0.01 * rng.standard_normal((2, 2 * RATE_HZ))
    assert find_carrier_hz(audio, RATE_HZ) == pytest.approx(carrier_hz, abs=0.01)


def test_noise_alone_has_no_pilot_tone():
    audio = 0.01 * np.random.default_rng(1).standard_normal((1, RATE_HZ))
    with pytest.raises(NoPilotToneError, match="no pilot tone"):
        find_carrier_hz(audio, RATE_HZ)


@pytest.mark.parametrize(
    "audio, message",
    [
        (np.zeros((2, 1000)), "silent"),
        (np.ones((1000, 2)), "not \\(n_samples, n_channels\\)"),
        (np.full((1, 1000), np.nan), "NaN"),
    ],
)
def test_bad_audio_gets_an_actionable_error(audio, message):
    with pytest.raises(ValueError, match=message):
        find_carrier_hz(audio, RATE_HZ)


def test_approaching_reflector_lands_at_positive_baseband_frequency_with_its_amplitude_and_phase():
    carrier_hz, offset_hz = 34000.0, 250.0
    baseband = demodulate(_tone(carrier_hz + offset_hz, 1.0, amplitude=0.2, phase=0.7), RATE_HZ, carrier_hz)
    t = np.arange(baseband.shape[1]) / BASEBAND_HZ
    expected = 0.2 * np.exp(1j * (2 * np.pi * offset_hz * t + 0.7))
    middle = slice(100, -100)  # the recording's edges see the filter switch on and off
    np.testing.assert_allclose(baseband[:, middle], np.broadcast_to(expected, baseband.shape)[:, middle], atol=3e-3)


def test_decimation_filter_is_flat_in_band_and_rejects_aliases():
    demod = Demodulator(RATE_HZ, 34000.0)
    freq_hz, response = signal.freqz(demod.taps, worN=16384, fs=RATE_HZ)
    gain_db = 20 * np.log10(np.abs(response) + 1e-30)
    assert np.ptp(gain_db[freq_hz <= PASSBAND_EDGE * BASEBAND_HZ]) < 0.2
    assert gain_db[freq_hz >= STOPBAND_EDGE * BASEBAND_HZ].max() < -60.0


def test_flat_band_holds_every_kept_bin_on_96_khz_hardware():
    """The widest band a spectrogram keeps on 96 kHz hardware (the highest carrier the
    demodulator takes, in air at 0 °C: the largest shift), its window's main lobe included,
    lies in the flat band, and nothing beyond the stopband edge folds into it."""
    from uspd.physics import speed_of_sound_m_s

    carrier_hz = RATE_HZ / 2 - 2000.0
    Demodulator(RATE_HZ, carrier_hz)  # the highest carrier it accepts
    with pytest.raises(ValueError):
        Demodulator(RATE_HZ, carrier_hz + 1.0)
    spec = DopplerSpectrogram(FrontendConfig(), carrier_hz=carrier_hz, baseband_rate_hz=BASEBAND_HZ,
                              speed_of_sound_m_s=float(speed_of_sound_m_s(0.0)))
    main_lobe_hz = 2.0 / FrontendConfig().frame_s  # Hann: ±2 bins
    widest_hz = np.abs(doppler_shift_hz(spec.velocity_m_s, carrier_hz, float(speed_of_sound_m_s(0.0)))).max() + main_lobe_hz
    assert widest_hz <= PASSBAND_EDGE * BASEBAND_HZ
    assert BASEBAND_HZ - STOPBAND_EDGE * BASEBAND_HZ >= PASSBAND_EDGE * BASEBAND_HZ  # aliases land outside it


def test_streaming_in_ragged_blocks_equals_whole_recording():
    rng = np.random.default_rng(2)
    audio = _tone(34100.0, 0.7, channels=3) + 0.01 * rng.standard_normal((3, int(0.7 * RATE_HZ)))
    whole = demodulate(audio, RATE_HZ, 34000.0)
    demod = Demodulator(RATE_HZ, 34000.0)
    cuts = np.sort(rng.integers(0, audio.shape[1], 9))
    parts = [demod.process(block) for block in np.split(audio, cuts, axis=1)] + [demod.flush()]
    streamed = np.concatenate(parts, axis=1)[:, : whole.shape[1]]
    np.testing.assert_allclose(streamed, whole, atol=1e-6)


def test_carrier_too_close_to_nyquist_is_refused():
    with pytest.raises(ValueError, match="too low for a 47000 Hz carrier"):
        Demodulator(RATE_HZ // 2, 47000.0)


def _spectrogram(carrier_hz: float = 34000.0) -> DopplerSpectrogram:
    return DopplerSpectrogram(FrontendConfig(), carrier_hz=carrier_hz, baseband_rate_hz=BASEBAND_HZ, speed_of_sound_m_s=C_M_S)


@pytest.mark.parametrize("speed_m_s", [-2.5, -0.6, 0.4, 1.3, 3.1])
def test_reflector_at_known_speed_peaks_in_its_velocity_bin(speed_m_s):
    spec = _spectrogram()
    t = np.arange(2 * BASEBAND_HZ) / BASEBAND_HZ
    shift_hz = doppler_shift_hz(speed_m_s, 34000.0, C_M_S)
    power, _ = spec.compute((10.0 + np.exp(2j * np.pi * shift_hz * t))[None])  # echo beside the direct path
    bin_m_s = np.diff(spec.velocity_m_s).mean()
    peaks = spec.velocity_m_s[np.argmax(power[5:], axis=1)]
    assert np.all(np.abs(peaks - speed_m_s) <= bin_m_s / 2 + 1e-9)


def test_static_clutter_is_suppressed_and_velocity_axis_is_symmetric():
    spec = _spectrogram()
    t = np.arange(2 * BASEBAND_HZ) / BASEBAND_HZ
    shift_hz = doppler_shift_hz(1.0, 34000.0, C_M_S)
    clutter = 100.0 * np.ones_like(t)  # the direct path is 40 dB above the echo
    power, _ = spec.compute((clutter + np.exp(2j * np.pi * shift_hz * t))[None])
    zero = np.argmin(np.abs(spec.velocity_m_s))
    assert np.all(power[:, zero] < 0.1 * power.max(axis=1))
    assert spec.velocity_m_s[0] == pytest.approx(-spec.velocity_m_s[-1], abs=np.diff(spec.velocity_m_s).mean())
    assert np.abs(spec.velocity_m_s).max() <= FrontendConfig().max_speed_m_s


def test_spectrogram_streams_block_by_block_like_whole_recording():
    rng = np.random.default_rng(3)
    baseband = (3.0 + rng.standard_normal((2, 5000)) + 1j * rng.standard_normal((2, 5000))).astype(np.complex64)
    spec = _spectrogram()
    whole, whole_t = spec.compute(baseband)
    parts = [spec.process(block) for block in np.split(baseband, [7, 700, 701, 3000], axis=1)]
    np.testing.assert_allclose(np.concatenate([p[0] for p in parts]), whole, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(np.concatenate([p[1] for p in parts]), whole_t)
    assert np.all(np.diff(whole_t) == pytest.approx(FrontendConfig().hop_s))


@pytest.mark.parametrize("block_s", [0.001, 0.0133, 0.1, 1.0])
def test_front_end_streams_any_block_size_like_the_whole_recording(block_s):
    """Audio → Doppler frames, fed in blocks from 1 ms to 1 s: the same frames as batch."""
    from uspd.frontend.stream import FrontEnd, doppler_frames

    rng = np.random.default_rng(4)
    t = np.arange(int(1.5 * RATE_HZ)) / RATE_HZ
    echo = 0.01 * np.cos(2 * np.pi * (34000.0 + 150.0) * t + 3 * np.sin(2 * np.pi * 0.7 * t))
    audio = _tone(34000.0, 1.5, channels=2) + echo + 0.001 * rng.standard_normal((2, len(t)))
    whole, whole_t, _ = doppler_frames(audio, RATE_HZ, 34000.0, FrontendConfig())
    front = FrontEnd(RATE_HZ, 34000.0, FrontendConfig())
    step = int(block_s * RATE_HZ)
    parts = [front.process(audio[:, i : i + step]) for i in range(0, audio.shape[1], step)] + [front.flush()]
    power = np.concatenate([p for p, _ in parts])[: len(whole)]
    times = np.concatenate([t for _, t in parts])[: len(whole)]
    np.testing.assert_array_equal(times, whole_t)
    assert np.max(np.abs(power - whole)) <= 1e-6 * np.max(whole)


def _single_fir_reference(audio: np.ndarray, rate_hz: int, carrier_hz: float, baseband_hz: int) -> np.ndarray:
    """The demodulator before issue 6, in float64: exact cos/sin mixing, one Kaiser FIR of
    2·M·D + 1 taps at the input rate (70 dB design), every D-th sample, delay compensated."""
    decim = rate_hz // baseband_hz
    numtaps, beta = signal.kaiserord(70.0, (STOPBAND_EDGE - PASSBAND_EDGE) * baseband_hz / (rate_hz / 2))
    half = -(-(numtaps - 1) // (2 * decim)) * decim
    taps = signal.firwin(2 * half + 1, (PASSBAND_EDGE + STOPBAND_EDGE) / 2 * baseband_hz,
                         window=("kaiser", beta), fs=rate_hz)
    mixed = 2 * audio * np.exp(-2j * np.pi * carrier_hz / rate_hz * np.arange(audio.shape[1]))
    return signal.fftconvolve(mixed, taps[None], axes=-1)[:, half::decim][:, : audio.shape[1] // decim]


@pytest.mark.parametrize("rate_hz", [96000, 48000])
def test_two_stage_demodulator_agrees_with_the_single_fir_reference_on_a_walk_in_scene(rate_hz):
    """Baseband within 1e-3 relative RMS and Doppler frames within 0.1 dB wherever the echo
    stands 20 dB above the spectrogram's median (the noise floor)."""
    from uspd.config import SimulationConfig
    from uspd.sim.render import render_passband
    from uspd.sim.scenarios import build_scene

    scene = build_scene("walk_in", seed=3, duration_s=3.0, sample_rate_hz=rate_hz)
    rendered = render_passband(scene, SimulationConfig())
    audio = rendered.signal.astype(np.float64)
    baseband = demodulate(audio, rate_hz, rendered.carrier_hz)
    reference = _single_fir_reference(audio, rate_hz, rendered.carrier_hz, BASEBAND_HZ)
    settled = slice(Demodulator(rate_hz, rendered.carrier_hz).settle_samples, None)
    error = baseband[:, settled] - reference[:, settled]
    assert np.sqrt(np.mean(np.abs(error) ** 2) / np.mean(np.abs(reference[:, settled]) ** 2)) <= 1e-3
    spec = _spectrogram(rendered.carrier_hz)
    power, _ = spec.compute(baseband[:, settled])
    reference_power, _ = spec.compute(reference[:, settled].astype(np.complex64))
    above_noise = reference_power > 100 * np.median(reference_power)
    assert above_noise.sum() > 100  # the walk is in the frames
    gap_db = 10 * np.log10(power[above_noise] / reference_power[above_noise])
    assert np.abs(gap_db).max() <= 0.1


@pytest.mark.parametrize(
    "rate_hz, carrier_hz, baseband_hz", [(96000, 34000.0, 3000), (48000, 20000.0, 3000), (44100, 19000.0, 3150)]
)
def test_doppler_line_is_exact_and_tones_that_stage_one_would_fold_onto_it_are_rejected(rate_hz, carrier_hz, baseband_hz):
    """A 300 Hz Doppler line comes out at its amplitude; a tone of the same amplitude one
    stage-1 output rate away (where a short first filter would fold it onto the line)
    comes out ≥ 75 dB down, as with the single FIR."""
    demod = Demodulator(rate_hz, carrier_hz, baseband_hz)
    stage1_rate_hz = rate_hz / demod.stage_decimations[0]
    t = np.arange(rate_hz) / rate_hz
    line = demodulate(0.5 * np.cos(2 * np.pi * (carrier_hz + 300.0) * t), rate_hz, carrier_hz, baseband_hz)
    settled = slice(demod.settle_samples, -demod.settle_samples)
    np.testing.assert_allclose(np.abs(line[0, settled]), 0.5, rtol=1e-3)
    for offset_hz in (stage1_rate_hz + 300.0, -stage1_rate_hz + 300.0):
        tone_hz = abs(carrier_hz + offset_hz)  # a real tone below 0 Hz offset lands via its mirror image
        if tone_hz >= rate_hz / 2:
            continue
        alias = demodulate(0.5 * np.cos(2 * np.pi * tone_hz * t), rate_hz, carrier_hz, baseband_hz)
        reference = _single_fir_reference(0.5 * np.cos(2 * np.pi * tone_hz * t)[None], rate_hz, carrier_hz, baseband_hz)
        rejection_db = 20 * np.log10(0.5 / np.abs(alias[0, settled]).max())
        reference_db = 20 * np.log10(0.5 / np.abs(reference[0, settled]).max())
        assert rejection_db >= min(75.0, reference_db - 3.0), (tone_hz, rejection_db, reference_db)
        print(f"{rate_hz} Hz, tone at {tone_hz:g} Hz: rejected {rejection_db:.1f} dB (single FIR {reference_db:.1f} dB)")


@pytest.mark.parametrize("rate_hz, carrier_hz", [(96000, 30900.0), (96000, 40000.0), (48000, 20000.0)])
def test_loud_audible_music_where_stage_one_folds_it_stays_under_the_adc_range(rate_hz, carrier_hz):
    """Music reaches the mics near full scale. A full-scale audible tone (≤ 20 kHz) in a band
    that stage 1 folds onto the Doppler band comes out ≥ 100 dB down: with 5 taps per
    decimation step (82 dB) a tuning room's music stood 6.5–8.3 dB over the noise in the
    Doppler band on a single mic (docs/benchmarks-frontend.md, eighth pass)."""
    demod = Demodulator(rate_hz, carrier_hz)
    stage1_rate_hz = rate_hz / demod.stage_decimations[0]
    t = np.arange(rate_hz) / rate_hz
    settled = slice(demod.settle_samples, -demod.settle_samples)
    tones_hz = [carrier_hz - k * stage1_rate_hz + 300.0 for k in range(1, 8)]
    tones_hz = [f for f in tones_hz if 20.0 <= f <= 20000.0]
    assert tones_hz
    for tone_hz in tones_hz:
        out = demodulate(np.cos(2 * np.pi * tone_hz * t), rate_hz, carrier_hz)
        rejection_db = 20 * np.log10(1.0 / np.abs(out[0, settled]).max())
        print(f"{rate_hz} Hz, carrier {carrier_hz:g}: tone at {tone_hz:g} Hz rejected {rejection_db:.1f} dB")
        assert rejection_db >= 100.0, (tone_hz, rejection_db)
