"""The one typed configuration of uspd, with every default in one place.

Load it from TOML with :func:`load_config`; any key left out keeps its default here.
Unknown keys and bad values raise :class:`ConfigError` with one sentence naming the key.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal

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
    tone_jump_db: float = Field(
        6.0, gt=0, description="a pilot-tone level change beyond this marks frames as no data (tone paused or back)"
    )
    tone_settle_s: float = Field(0.5, ge=0, description="frames stay no data this long after a tone level jump")
    tone_adopt_s: float = Field(2.0, gt=0, description="a new steady tone level is accepted after this long")

    @model_validator(mode="after")
    def _frame_covers_hop(self) -> "FrontendConfig":
        if self.frame_s < self.hop_s:
            raise ValueError("frame_s must be at least hop_s")
        return self


class BaselineConfig(_Section):
    """The classical detector: Doppler energy and bandwidth over an adaptive noise floor.

    Defaults chosen on tuning seeds (docs/evaluation/baseline-tuning.md, made by
    benchmarks/tune_baseline.py), never on the evaluation's held-out rooms: the most
    sensitive setting, since every setting that cut false alarms cost far more minor-motion
    detection (which presence relies on) than it saved.
    """

    notch_m_s: float = Field(0.15, ge=0, description="|v| below this is clutter and breathing, not motion")
    active_db: float = Field(6.0, gt=0, description="a velocity bin is active this far above its floor")
    min_active_bins: int = Field(2, ge=1, description="fewer active bins than this is a line, not a body")
    floor_rise_s: float = Field(10.0, gt=0, description="time constant (in dB) of the floor creeping up under motion")
    floor_track_s: float = Field(3.0, gt=0, description="time constant of the floor's mean over inactive frames")
    score_center_db: float = Field(3.0, description="excess energy (dB re floor) that scores 0.5; one-mic noise reaches +1 dB in 0.1 % of frames")
    score_width_db: float = Field(3.0, gt=0, description="dB of excess energy per e-fold of the score's odds")
    warmup_s: float = Field(1.0, ge=0, description="scores stay 0 while the first frames teach the floor")
    asymmetry_weight: float = Field(
        0.0, ge=0, le=1, description="0: total excess energy; 1: only its one-sided part (symmetric fans, music cancel)"
    )


class PresenceConfig(_Section):
    """Motion frames → occupied/vacant: thresholds on the detector score, debounce, timers.

    Scores are the detector's (0 = nothing, 1 = surely human motion). Minor motion counts
    from ``minor_threshold`` up, or from ``sensitive_threshold`` while the room is occupied
    and a clear motion happened within ``sensitive_s``: a seated reader keeps the room, a
    fan alone cannot take an empty one.
    """

    major_threshold: float = Field(0.6, gt=0, le=1, description="score of walking-scale (major) motion")
    minor_threshold: float = Field(0.35, gt=0, le=1, description="score of minor motion trusted without context")
    sensitive_threshold: float = Field(
        0.15, gt=0, le=1, description="minor-motion score while occupied, within sensitive_s of a clear motion"
    )
    sensitive_s: float = Field(
        1800.0, ge=0, description="how long a clear (major or trusted minor) motion keeps the sensitive threshold"
    )
    confirm_frames: int = Field(3, ge=1, description="consecutive frames over a threshold that make a motion")
    hold_s: float = Field(180.0, gt=0, description="an occupied room turns vacant after this long without motion")
    departure_vacancy_s: float = Field(
        60.0, gt=0, description="vacancy this long after a major motion flagged as leaving, with nothing since"
    )
    minor_occupy_s: float = Field(2.0, gt=0, description="minor motion (s) that occupies a vacant room …")
    minor_occupy_window_s: float = Field(20.0, gt=0, description="… when gathered within this window")

    @model_validator(mode="after")
    def _ordered(self) -> "PresenceConfig":
        if not self.sensitive_threshold <= self.minor_threshold <= self.major_threshold:
            raise ValueError("need sensitive_threshold ≤ minor_threshold ≤ major_threshold")
        if self.departure_vacancy_s > self.hold_s:
            raise ValueError("departure_vacancy_s must not exceed hold_s")
        if self.minor_occupy_s > self.minor_occupy_window_s:
            raise ValueError("minor_occupy_s must not exceed minor_occupy_window_s")
        return self


class DetectConfig(_Section):
    """Which detector scores the Doppler frames (the presence machine is the same for all)."""

    detector: Literal["neural", "baseline"] = Field(
        "neural", description="frame detector: the shipped neural network, or the classical baseline"
    )
    model: Path | None = Field(None, description="ONNX model for the neural detector (default: the shipped one)")


class Config(_Section):
    simulation: SimulationConfig = SimulationConfig()
    emission: EmissionConfig = EmissionConfig()
    frontend: FrontendConfig = FrontendConfig()
    detect: DetectConfig = DetectConfig()
    baseline: BaselineConfig = BaselineConfig()
    presence: PresenceConfig = PresenceConfig()


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
