"""The three kinds of scene element the renderers understand.

- :class:`Mover`: a thing made of point scatterers that move in 3-D (people, fans,
  curtains, pets, ...). The renderer builds every wall-image path to each scatterer and
  evaluates its phase 2π·f0·τ(t), so Doppler, micro-Doppler and wall repetitions come out
  of the geometry rather than being painted on.
- :class:`Source`: something that emits sound of its own at a fixed place (another
  device's ultrasonic tone, a pest repeller, jingling keys, airflow hiss).
- :class:`Modulator`: a change of the propagation medium that modulates the static field
  (HVAC airflow turbulence bends the phase of the direct path and the wall echoes).

Every element is a frozen dataclass of plain numbers and strings, so a scene's full
parameters serialise to JSON, and every method is a deterministic function of time: the
renderers evaluate elements block by block (at any rate, in any order) and must get the
same signal as in one go. Stochastic behaviour therefore draws from a generator seeded by
a ``seed`` field *and* the time (e.g. a pre-drawn schedule of events, or smooth noise
defined on a fixed time grid), never from a shared generator.

Array conventions: time on the last axis; ``t_s`` is a 1-D float64 array of times in
seconds since the start of the scene.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from enum import IntEnum
from typing import ClassVar

import numpy as np


class Motion(IntEnum):
    """Per-time motion state of one mover, ordered by how much it matters for presence."""

    NONE = 0  # absent, still, switched off
    MOVING = 1  # a non-human mover is moving (fan on, curtain swaying, pet walking)
    MINOR = 2  # person: small motion while seated or standing (page turn, typing)
    MAJOR = 3  # person: walking, large body motion


@dataclass(frozen=True)
class Scatterers:
    """Point scatterers of one mover, sampled at the requested times.

    positions_m: (n_scatterers, n_times, 3) in room coordinates (origin at a floor corner).
    cross_section_m2: (n_scatterers, n_times) backscattering cross-section σ ≥ 0, i.e. the
        scattered intensity at 1 m is σ times the incident intensity. 0 while absent
        (a person outside the room) so the track can stay continuous.
    """

    positions_m: np.ndarray
    cross_section_m2: np.ndarray

    def __post_init__(self) -> None:
        n_scat, n_times, three = self.positions_m.shape
        if three != 3 or self.cross_section_m2.shape != (n_scat, n_times):
            raise ValueError(
                f"scatterer shapes disagree: positions {self.positions_m.shape}, "
                f"cross-sections {self.cross_section_m2.shape}"
            )


class Mover(ABC):
    """A set of moving point scatterers (see module docstring for the contract)."""

    kind: ClassVar[str]
    """Short name used in labels, e.g. "person", "desk_fan", "curtain"."""
    is_person: ClassVar[bool] = False

    @abstractmethod
    def scatterers(self, t_s: np.ndarray, listener_m: np.ndarray) -> Scatterers:
        """Positions and cross-sections at ``t_s``.

        ``listener_m`` (3,) is the device centre, for aspect-dependent reflectivity
        (a fan blade flashes when its face turns towards the device).
        """

    @abstractmethod
    def motion(self, t_s: np.ndarray) -> np.ndarray:
        """(n_times,) int8 :class:`Motion` codes: the ground truth this mover contributes."""

    def present(self, t_s: np.ndarray) -> np.ndarray:
        """(n_times,) bool: a person in the room (occupancy). Non-people: always False."""
        return np.zeros(t_s.shape, dtype=bool)

    def body_center_m(self, t_s: np.ndarray) -> np.ndarray:
        """(n_times, 3) torso position, for distance / radial-speed labels (people only)."""
        raise NotImplementedError(f"{self.kind} is not a person")


class Source(ABC):
    """A fixed-position emitter whose sound adds at the microphones."""

    kind: ClassVar[str]

    @property
    @abstractmethod
    def position_m(self) -> np.ndarray:
        """(3,) position in the room."""

    @abstractmethod
    def passband_pa(self, t_s: np.ndarray) -> np.ndarray:
        """Real emitted pressure waveform in Pa, referred to 1 m from the source.

        Called with sample times of the device rate (48–192 kHz). The renderer applies
        delay, 1/r spreading and air absorption towards each microphone by evaluating this
        at ``t_s - delay``.
        """

    @abstractmethod
    def baseband_pa(self, t_s: np.ndarray, carrier_hz: float, bandwidth_hz: float) -> np.ndarray:
        """Complex envelope of :meth:`passband_pa` around ``carrier_hz`` (Pa at 1 m).

        Convention: passband = Re{baseband · exp(j2π·carrier·t)}. Only content with
        |f − carrier| < bandwidth_hz/2 is kept (what the front end's decimation filter
        would pass); the rest must be dropped, not aliased.
        """

    @abstractmethod
    def active(self, t_s: np.ndarray) -> np.ndarray:
        """(n_times,) bool: is it sounding (ground truth for distractor labels)."""

    @property
    def dominant_frequency_hz(self) -> float:
        """Frequency at which air absorption is evaluated for this source."""
        return 30000.0


class Modulator(ABC):
    """A time-varying change of the medium that modulates the static field."""

    kind: ClassVar[str]

    @abstractmethod
    def static_field_gain(self, t_s: np.ndarray, mic_positions_m: np.ndarray, carrier_hz: float) -> np.ndarray:
        """(n_mics, n_times) complex multiplicative factor on the static field; 1 = no effect.

        Physically: airflow along a path changes the effective speed of sound and so the
        path's phase, exp(−j2π·f0·δτ(t)); only part of the field crosses the flow.
        """

    @abstractmethod
    def active(self, t_s: np.ndarray) -> np.ndarray:
        """(n_times,) bool: is it running (ground truth for distractor labels)."""


def windows_near(
    windows_s: tuple[tuple[float, float], ...], t_s: np.ndarray, margin_s: float
) -> list[tuple[float, float]]:
    """The (on, off) windows reaching within ``margin_s`` of the query times: a day-long
    schedule has hundreds of windows, a one-second block touches one or two."""
    if t_s.size == 0:
        return []
    lo, hi = float(t_s.min()) - margin_s, float(t_s.max()) + margin_s
    return [(on, off) for on, off in windows_s if off >= lo and on <= hi]
