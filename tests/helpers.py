"""Test-only scene elements with known, analytic motion."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from uspd.sim.base import Motion, Mover, Scatterers


@dataclass(frozen=True)
class PointScatterer(Mover):
    """One scatterer moving in a straight line at constant velocity."""

    kind: ClassVar[str] = "point"
    start_m: tuple[float, float, float] = (2.0, 2.0, 1.0)
    velocity_m_s: tuple[float, float, float] = (0.0, 0.0, 0.0)
    cross_section_m2: float = 0.01

    def scatterers(self, t_s: np.ndarray, listener_m: np.ndarray) -> Scatterers:
        pos = np.asarray(self.start_m) + t_s[:, None] * np.asarray(self.velocity_m_s)
        return Scatterers(pos[None], np.full((1, len(t_s)), self.cross_section_m2))

    def motion(self, t_s: np.ndarray) -> np.ndarray:
        moving = np.any(np.asarray(self.velocity_m_s) != 0)
        return np.full(t_s.shape, Motion.MOVING if moving else Motion.NONE, dtype=np.int8)


def same_events(a, b, score_tol: float = 1e-5) -> bool:
    """The same presence events at the same hops, scores equal up to ``score_tol`` (the
    network's sums run in another order when blocks have other sizes)."""
    return [(e.time_s, e.event, e.kind) for e in a] == [(e.time_s, e.event, e.kind) for e in b] and all(
        abs(x.score - y.score) <= score_tol for x, y in zip(a, b))


def tone_amplitude(samples: np.ndarray) -> float:
    """A steady tone's amplitude from its RMS: not its peak sample, which a tone at a third of
    the sample rate (32 kHz at 96 kHz) never lands on."""
    return float(np.sqrt(2 * np.mean(np.square(samples))))
