"""Acoustic physics used everywhere: speed of sound, air absorption, Doppler, decibels.

All functions are pure and vectorised over numpy arrays; SI units inside, units in names.

Air absorption follows ISO 9613-1:1993 (the atmospheric-absorption formula, valid to
well above the ultrasonic carriers used here). pyroomacoustics' table stops at 8 kHz, so
the formula is evaluated directly.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

P_REF_PA = 20e-6
"""Reference pressure for dB SPL."""
STANDARD_PRESSURE_KPA = 101.325
_T0_K = 293.15  # ISO 9613-1 reference air temperature
_T01_K = 273.16  # triple point of water


def speed_of_sound_m_s(temperature_c: ArrayLike) -> np.ndarray:
    """Speed of sound in air, c ≈ 331.3 + 0.606·T[°C] m/s."""
    return 331.3 + 0.606 * np.asarray(temperature_c, dtype=float)


def air_absorption_db_per_m(
    frequency_hz: ArrayLike,
    temperature_c: float = 20.0,
    relative_humidity_pct: float = 50.0,
    pressure_kpa: float = STANDARD_PRESSURE_KPA,
) -> np.ndarray:
    """Pure-tone atmospheric absorption coefficient α in dB/m (ISO 9613-1, eq. 5)."""
    f = np.asarray(frequency_hz, dtype=float)
    t_k = temperature_c + 273.15
    p_ratio = pressure_kpa / STANDARD_PRESSURE_KPA
    c_sat = -6.8346 * (_T01_K / t_k) ** 1.261 + 4.6151
    h = relative_humidity_pct * 10.0**c_sat / p_ratio  # molar water-vapour concentration, %
    fr_o = p_ratio * (24.0 + 4.04e4 * h * (0.02 + h) / (0.391 + h))
    fr_n = p_ratio * (t_k / _T0_K) ** -0.5 * (
        9.0 + 280.0 * h * np.exp(-4.170 * ((t_k / _T0_K) ** (-1.0 / 3.0) - 1.0))
    )
    return (
        8.686
        * f**2
        * (
            1.84e-11 / p_ratio * (t_k / _T0_K) ** 0.5
            + (t_k / _T0_K) ** -2.5
            * (
                0.01275 * np.exp(-2239.1 / t_k) / (fr_o + f**2 / fr_o)
                + 0.1068 * np.exp(-3352.0 / t_k) / (fr_n + f**2 / fr_n)
            )
        )
    )


def doppler_shift_hz(radial_speed_m_s: ArrayLike, carrier_hz: float, speed_of_sound: float) -> np.ndarray:
    """Two-way Doppler shift of a reflector seen by a co-located speaker and mic.

    Positive speed means approaching (path shortening), which raises the frequency.
    """
    return 2.0 * np.asarray(radial_speed_m_s, dtype=float) * carrier_hz / speed_of_sound


def radial_speed_m_s(doppler_hz: ArrayLike, carrier_hz: float, speed_of_sound: float) -> np.ndarray:
    """Inverse of :func:`doppler_shift_hz`: the velocity axis of a Doppler spectrogram."""
    return np.asarray(doppler_hz, dtype=float) * speed_of_sound / (2.0 * carrier_hz)


def db_to_amplitude(db: ArrayLike) -> np.ndarray:
    return 10.0 ** (np.asarray(db, dtype=float) / 20.0)


def amplitude_to_db(amplitude: ArrayLike, floor: float = 1e-30) -> np.ndarray:
    return 20.0 * np.log10(np.maximum(np.abs(np.asarray(amplitude)), floor))


def power_to_db(power: ArrayLike, floor: float = 1e-30) -> np.ndarray:
    return 10.0 * np.log10(np.maximum(np.asarray(power, dtype=float), floor))


def spl_to_pa(level_db_spl: ArrayLike) -> np.ndarray:
    """RMS sound pressure in Pa for a level in dB SPL."""
    return P_REF_PA * db_to_amplitude(level_db_spl)
