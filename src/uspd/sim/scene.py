"""A scene: room, device, air, emission, and what moves or sounds in it, for a duration.

A scene is plain data. Its JSON (:meth:`Scene.to_dict`) records every drawn parameter,
and the scenario name + seed + duration re-create it exactly through the catalog.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from uspd.physics import air_absorption_db_per_m, speed_of_sound_m_s
from uspd.sim.base import Modulator, Mover, Source
from uspd.sim.device import Device
from uspd.sim.room import Room

if TYPE_CHECKING:
    from uspd.sim.music import Music

NYQUIST_GUARD_HZ = 2000.0
"""Carrier + Doppler band must stay this far below Nyquist (anti-alias filter skirt)."""


class SceneError(ValueError):
    """A scene that cannot exist (device outside the room, rate too low for the carrier)."""


@dataclass(frozen=True)
class Environment:
    temperature_c: float = 21.0
    relative_humidity_pct: float = 45.0
    pressure_kpa: float = 101.325

    @property
    def speed_of_sound_m_s(self) -> float:
        return float(speed_of_sound_m_s(self.temperature_c))

    def absorption_db_per_m(self, frequency_hz: float) -> float:
        return float(
            air_absorption_db_per_m(frequency_hz, self.temperature_c, self.relative_humidity_pct, self.pressure_kpa)
        )


@dataclass(frozen=True)
class Scene:
    room: Room
    device: Device
    carrier_hz: float
    duration_s: float
    level_dbfs: float = -6.0
    environment: Environment = Environment()
    movers: tuple[Mover, ...] = field(default_factory=tuple)
    sources: tuple[Source, ...] = field(default_factory=tuple)
    modulators: tuple[Modulator, ...] = field(default_factory=tuple)
    music: Music | None = None
    name: str = "custom"
    seed: int = 0

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        if self.duration_s <= 0:
            raise SceneError(f"scene duration must be positive, got {self.duration_s} s")
        if not self.room.contains(self.device.position_m, margin_m=0.05) or not all(
            self.room.contains(p, margin_m=0.01) for p in self.device.mic_positions_m
        ):
            raise SceneError(
                f"device at {tuple(round(v, 2) for v in self.device.position_m)} m is outside the room "
                f"of size {self.room.size_m} m (it must sit at least 5 cm inside every wall)"
            )
        rate = self.device.hardware.sample_rate_hz
        if self.carrier_hz + NYQUIST_GUARD_HZ > rate / 2:
            raise SceneError(
                f"sample rate {rate} Hz is too low for a {self.carrier_hz:.0f} Hz carrier: it needs more than "
                f"2 × (carrier + {NYQUIST_GUARD_HZ:.0f} Hz Doppler guard) = {2 * (self.carrier_hz + NYQUIST_GUARD_HZ):.0f} Hz"
            )
        if self.carrier_hz < 17000:
            raise SceneError(f"carrier {self.carrier_hz:.0f} Hz is audible; use 17 kHz or more")
        if self.level_dbfs > 0:
            raise SceneError(f"emission level {self.level_dbfs} dBFS is above full scale")

    @property
    def speed_of_sound_m_s(self) -> float:
        return self.environment.speed_of_sound_m_s

    def to_dict(self) -> dict[str, Any]:
        """Every parameter, JSON-ready; elements carry their class name."""

        def element(obj: Any) -> dict[str, Any]:
            return {"class": type(obj).__name__, **_jsonable(dataclasses.asdict(obj))}

        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out: dict[str, Any] = {}
        for key, value in data.items():
            if key in ("movers", "sources", "modulators"):
                out[key] = [element(v) for v in value]
            elif dataclasses.is_dataclass(value):
                out[key] = element(value)
            else:
                out[key] = _jsonable(value)
        out["derived"] = {
            "speed_of_sound_m_s": self.speed_of_sound_m_s,
            "air_absorption_db_per_m": self.environment.absorption_db_per_m(self.carrier_hz),
            "n_mics": self.device.n_mics,
            "sample_rate_hz": self.device.hardware.sample_rate_hz,
        }
        return out


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value
