"""The one typed configuration of uspd, with every default in one place.

Load it from TOML with :func:`load_config`; any key left out keeps its default here.
Unknown keys and bad values raise :class:`ConfigError` with one sentence naming the key.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SimulationConfig(_Section):
    """How scenes are rendered (not what is in them: that is the scenario catalog)."""

    baseband_rate_hz: int = Field(3000, gt=0, description="complex baseband rate of the fast renderer")
    max_order_static: int = Field(2, ge=0, le=6, description="image-source order of walls for static paths")
    max_order_moving: int = Field(2, ge=0, le=4, description="total wall-reflection order of moving-scatterer paths")
    chunk_s: float = Field(1.0, gt=0, le=60, description="rendering block; bounds memory on long scenes")
    label_frame_s: float = Field(0.02, gt=0, le=0.02, description="ground-truth frame length (≤ 20 ms)")
    passband_envelope_decimation: int = Field(
        4, ge=1, description="passband paths are evaluated at device_rate / this (complex), then modulated"
    )
    noise: bool = Field(True, description="add mic self-noise and ADC quantisation noise")


class EmissionConfig(_Section):
    carrier_hz: float = Field(32000.0, gt=0, description="pilot-tone frequency")
    level_dbfs: float = Field(-6.0, le=0.0, description="tone drive level relative to full scale")


class FrontendConfig(_Section):
    """Doppler spectrogram settings shared by files and live streams."""

    frame_s: float = Field(0.08, gt=0, description="STFT window length")
    hop_s: float = Field(0.02, gt=0, le=0.02, description="STFT hop: one feature frame per hop")
    max_speed_m_s: float = Field(4.0, gt=0, description="velocity range kept either side of zero")
    clutter_cutoff_hz: float = Field(4.0, gt=0, description="high-pass cut-off that removes static clutter")

    @model_validator(mode="after")
    def _frame_covers_hop(self) -> "FrontendConfig":
        if self.frame_s < self.hop_s:
            raise ValueError("frame_s must be at least hop_s")
        return self


class Config(_Section):
    simulation: SimulationConfig = SimulationConfig()
    emission: EmissionConfig = EmissionConfig()
    frontend: FrontendConfig = FrontendConfig()


class ConfigError(ValueError):
    """A configuration problem a user can fix; the message names the key."""


def load_config(path: str | Path | None = None) -> Config:
    """Read a TOML config; ``None`` gives the defaults."""
    if path is None:
        return Config()
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"config file {path} is not valid TOML: {err}") from None
    return config_from_dict(data, source=str(path))


def config_from_dict(data: dict, source: str = "config") -> Config:
    try:
        return Config.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        key = ".".join(str(part) for part in first["loc"])
        raise ConfigError(f"{source}: bad value for '{key}': {first['msg']}") from None
