"""The device under test: speaker, microphone array, converters — and unit-to-unit spread.

Commodity hardware is not made for ultrasound. The tweeter's response peaks at a
resonance near 20 kHz and falls steeply above it (modelled as a resonant 2nd-order
low-pass times a 2nd-order Butterworth: about −24 dB/octave well above resonance), and a
small piston radiates more narrowly as frequency rises. MEMS microphones keep some
sensitivity to 40+ kHz around their own resonance. Every manufactured unit differs by a
few dB and a few per cent in resonance, which is why each unit must calibrate itself.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy import signal, special

from uspd.physics import P_REF_PA, db_to_amplitude

SAMPLE_RATES_HZ = (48000, 96000, 192000)


def _circular(n: int, radius_m: float, center: bool) -> tuple[tuple[float, float, float], ...]:
    angles = 2 * np.pi * np.arange(n) / n
    ring = [(radius_m * np.cos(a), radius_m * np.sin(a), 0.0) for a in angles]
    return tuple(([(0.0, 0.0, 0.0)] if center else []) + ring)


ARRAY_PRESETS: dict[str, tuple[tuple[float, float, float], ...]] = {
    # mic offsets from the device centre, metres (device frame: x forward, z up)
    "smart_speaker_7": _circular(6, 0.0425, center=True),  # 6 + 1 on the top plate
    "laptop_2": ((0.0, -0.07, 0.0), (0.0, 0.07, 0.0)),  # top bezel, 14 cm apart
    "single": ((0.0, 0.0, 0.0),),
}
SPEAKER_OFFSET_M: dict[str, tuple[float, float, float]] = {
    "smart_speaker_7": (0.0, 0.0, -0.08),  # tweeter below the mic plate, firing forward
    "laptop_2": (0.0, 0.0, -0.20),  # keyboard-deck speakers below the screen
    "single": (0.0, 0.0, -0.05),
}


def _analog_response(b: np.ndarray, a: np.ndarray, frequency_hz: float) -> complex:
    _, h = signal.freqs(b, a, worN=[2 * np.pi * frequency_hz])
    return complex(h[0])


@dataclass(frozen=True)
class Hardware:
    """One manufactured unit's analogue front end (what calibration must discover)."""

    sample_rate_hz: int = 96000
    speaker_sensitivity_db_spl: float = 95.0  # on-axis SPL at 1 m for a full-scale sine, mid band
    speaker_resonance_hz: float = 21000.0
    speaker_q: float = 2.0
    speaker_radius_m: float = 0.005  # effective piston radius: sets the ultrasonic beam width
    mic_sensitivity_dbfs_per_pa: float = -26.0  # digital amplitude (full scale = 1) per Pa, mid band
    mic_resonance_hz: float = 26000.0
    mic_q: float = 1.5
    mic_gain_db: tuple[float, ...] = ()  # per-mic spread; empty = all 0 dB
    mic_phase_deg: tuple[float, ...] = ()
    self_noise_db_spl_per_hz: float = -14.0  # ≈ 29 dB(A) self-noise of a 65 dB-SNR MEMS mic
    adc_bits: int = 16

    def __post_init__(self) -> None:
        if self.sample_rate_hz not in SAMPLE_RATES_HZ:
            raise ValueError(
                f"sample rate {self.sample_rate_hz} Hz is not supported; use one of {SAMPLE_RATES_HZ}"
            )

    def speaker_response(self, frequency_hz: float) -> complex:
        """Complex pressure gain at 1 m on axis relative to the mid-band sensitivity."""
        w0 = 2 * np.pi * self.speaker_resonance_hz
        resonant = _analog_response([w0**2], [1.0, w0 / self.speaker_q, w0**2], frequency_hz)
        wc = 1.2 * w0
        butter = _analog_response([wc**2], [1.0, np.sqrt(2) * wc, wc**2], frequency_hz)
        return resonant * butter

    def mic_response(self, frequency_hz: float) -> complex:
        w0 = 2 * np.pi * self.mic_resonance_hz
        return _analog_response([w0**2], [1.0, w0 / self.mic_q, w0**2], frequency_hz)

    def speaker_directivity(self, cos_theta: np.ndarray, frequency_hz: float, speed_of_sound: float) -> np.ndarray:
        """Baffled-piston pattern 2·J1(ka·sinθ)/(ka·sinθ), tapered towards the rear.

        The rear taper (1 + cosθ)/2 stands for the enclosure, with a −26 dB floor for
        diffraction around it.
        """
        ka = 2 * np.pi * frequency_hz / speed_of_sound * self.speaker_radius_m
        x = ka * np.sqrt(np.clip(1.0 - cos_theta**2, 0.0, 1.0))
        safe = np.where(x < 1e-6, 1.0, x)
        piston = np.where(x < 1e-6, 1.0, 2.0 * special.j1(safe) / safe)
        return np.maximum(np.abs(piston) * (1.0 + cos_theta) / 2.0, 0.05)

    def tone_pressure_pa(self, level_dbfs: float, carrier_hz: float) -> complex:
        """Complex peak pressure at 1 m on axis of a tone driven at ``level_dbfs`` (peak)."""
        peak_pa = np.sqrt(2) * P_REF_PA * db_to_amplitude(self.speaker_sensitivity_db_spl + level_dbfs)
        return peak_pa * self.speaker_response(carrier_hz)

    def mic_gains(self, n_mics: int, frequency_hz: float) -> np.ndarray:
        """(n_mics,) complex digital units per Pa at ``frequency_hz``, with per-mic spread."""
        gain_db = np.asarray(self.mic_gain_db or (0.0,) * n_mics, dtype=float)
        phase_deg = np.asarray(self.mic_phase_deg or (0.0,) * n_mics, dtype=float)
        if gain_db.shape != (n_mics,) or phase_deg.shape != (n_mics,):
            raise ValueError(f"per-mic gain/phase spread must list {n_mics} values")
        spread = db_to_amplitude(gain_db) * np.exp(1j * np.deg2rad(phase_deg))
        return db_to_amplitude(self.mic_sensitivity_dbfs_per_pa) * self.mic_response(frequency_hz) * spread

    def noise_psd_fs2_per_hz(self) -> float:
        """One-sided PSD (digital units²/Hz) of mic self-noise plus ADC quantisation."""
        self_noise = (P_REF_PA * db_to_amplitude(self.self_noise_db_spl_per_hz)) ** 2
        mic = self_noise * db_to_amplitude(self.mic_sensitivity_dbfs_per_pa) ** 2
        lsb = 2.0 / 2**self.adc_bits
        quantisation = lsb**2 / 12.0 / (self.sample_rate_hz / 2.0)
        return float(mic + quantisation)

    @classmethod
    def sample(cls, rng: np.random.Generator, n_mics: int, sample_rate_hz: int = 96000) -> "Hardware":
        """A random unit off the production line: spread of several dB and shifted resonances."""
        nominal = cls(sample_rate_hz=sample_rate_hz)
        return replace(
            nominal,
            speaker_sensitivity_db_spl=nominal.speaker_sensitivity_db_spl + rng.normal(0.0, 2.0),
            speaker_resonance_hz=nominal.speaker_resonance_hz * rng.uniform(0.88, 1.12),
            speaker_q=nominal.speaker_q * rng.uniform(0.75, 1.3),
            speaker_radius_m=nominal.speaker_radius_m * rng.uniform(0.8, 1.25),
            mic_sensitivity_dbfs_per_pa=nominal.mic_sensitivity_dbfs_per_pa + rng.normal(0.0, 1.0),
            mic_resonance_hz=nominal.mic_resonance_hz * rng.uniform(0.92, 1.08),
            mic_gain_db=tuple(np.round(rng.normal(0.0, 1.0, n_mics), 3)),
            mic_phase_deg=tuple(np.round(rng.normal(0.0, 5.0, n_mics), 3)),
            self_noise_db_spl_per_hz=nominal.self_noise_db_spl_per_hz + rng.uniform(-2.0, 3.0),
        )


@dataclass(frozen=True)
class Device:
    """Where the device sits and how it is built."""

    position_m: tuple[float, float, float]
    array: str = "smart_speaker_7"
    yaw_deg: float = 0.0  # rotation about z: the direction the speaker faces
    hardware: Hardware = Hardware()

    def __post_init__(self) -> None:
        if self.array not in ARRAY_PRESETS:
            raise ValueError(f"unknown mic array '{self.array}'; presets: {', '.join(ARRAY_PRESETS)}")

    @property
    def n_mics(self) -> int:
        return len(ARRAY_PRESETS[self.array])

    def _rotate(self, offsets: np.ndarray) -> np.ndarray:
        yaw = np.deg2rad(self.yaw_deg)
        rot = np.array([[np.cos(yaw), -np.sin(yaw), 0.0], [np.sin(yaw), np.cos(yaw), 0.0], [0.0, 0.0, 1.0]])
        return offsets @ rot.T

    @property
    def mic_positions_m(self) -> np.ndarray:
        """(n_mics, 3) in room coordinates."""
        return np.asarray(self.position_m) + self._rotate(np.asarray(ARRAY_PRESETS[self.array], dtype=float))

    @property
    def speaker_position_m(self) -> np.ndarray:
        return np.asarray(self.position_m) + self._rotate(np.asarray(SPEAKER_OFFSET_M[self.array], dtype=float))

    @property
    def speaker_axis(self) -> np.ndarray:
        """Unit vector the speaker faces (forward, horizontal)."""
        return self._rotate(np.array([1.0, 0.0, 0.0]))
