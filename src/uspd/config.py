"""The one typed configuration of uspd, with every default in one place.

Load it from TOML with :func:`load_config`; any key left out keeps its default here.
Unknown keys and bad values raise :class:`ConfigError` with one sentence naming the key.
"""

from __future__ import annotations

import string
import tomllib
from pathlib import Path
from typing import Annotated, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


PLAYBACK_SETTINGS = ("playback", "playback_filter_s", "playback_adapt_s", "playback_explained")  # MusicCancellerConfig's


class MusicCancellerConfig(_Section):
    """The music-distortion cancellers in the front end: multi-mic, and conjugate pairs on 1–2 mics (docs/music.md)."""

    enabled: bool = Field(True, description="remove the speaker's music distortion from the Doppler band")
    min_mics: int = Field(
        3, ge=3, description="with fewer mics the conjugate-pair canceller runs instead (2 mics cannot tell a person broadside "
        "from the speaker)"
    )
    gate_coherence: tuple[float, float] = Field(
        (0.6, 0.85), description="coherence with the distortion's direction where removal starts and is complete"
    )
    adapt_coherence: float = Field(0.9, gt=0, lt=1, description="cells this coherent teach the distortion's direction")
    rank: int = Field(3, ge=1, description="directions removed from distortion-dominated cells (at most mics − 2)")
    adapt_s: float = Field(2.0, gt=0, description="time constant of learning the direction, in distortion-dominated frames")
    update_s: float = Field(1.0, gt=0, description="the direction is updated this often")
    pair: bool = Field(
        True, description="with 1–2 mics, the conjugate-pair canceller (the classical baseline raises more false alarms with it)"
    )
    pair_gate: tuple[float, float] = Field(
        (0.5, 0.8), description="1–2 mics: share of a conjugate pair's energy off its stronger side of 0 Hz that the "
        "distortion's direction explains, where removal starts and is complete"
    )
    pair_dominance: float = Field(
        0.8, gt=0.5, le=1,
        description="1–2 mics: a bin is cancelled while its top directions (one per mic) hold this share of the pairs' energy",
    )
    pair_persistence: float = Field(
        0.7, gt=0.5, le=1,
        description="1–2 mics: ... and this share of its cells weighted alike (a lasting tie between ±f, not a few transients)",
    )
    pair_tie: float = Field(
        0.05, ge=0, le=1,
        description="2 mics: ... and its ±f halves correlate this much (squared canonical correlation of cells weighted "
        "alike): a tie, not one sound from one direction, which two mics see in two directions",
    )
    pair_lopsided: float = Field(
        0.9, gt=0.5, le=1,
        description="1–2 mics: a lasting bin with this share of its energy on one side of 0 Hz is lopsided: there the "
        "canceller removes what lies along its distortion's direction, one-sided cells included, …",
    )
    pair_lopsided_s: float = Field(
        30.0, gt=0,
        description="… once it has stayed lopsided this long, until it has not for as long (music plays for minutes; "
        "a walker holds one velocity for seconds, a robot vacuum for tens of seconds)",
    )

    playback: bool = Field(
        False, description="where the device gives its playback (what it plays besides the tone), first remove what the "
        "playback predicts, through filters fitted per mic (any number of mics); off until a network is trained on its "
        "frames (docs/music.md)"
    )
    playback_filter_s: float = Field(
        0.05, gt=0, le=0.5, description="length of the filter fitted from the playback to each mic's baseband (the room's "
        "echoes and the cone's response)"
    )
    playback_adapt_s: float = Field(
        8.0, gt=0, description="time constant of the playback filters' fit (the room and speaker stand still; longer "
        "memory fits less chance)"
    )
    playback_explained: float = Field(
        0.2, ge=0, lt=1, description="a mic's filter acts while it explains this share of the mic's energy"
    )

    @model_validator(mode="after")
    def _gates_rise(self) -> "MusicCancellerConfig":
        for name in ("gate_coherence", "pair_gate"):
            lo, hi = getattr(self, name)
            if not 0 <= lo < hi <= 1:
                raise ValueError(f"{name} must be two values with 0 ≤ start < full ≤ 1")
        return self


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


class DutyCycleConfig(_Section):
    """Emission duty-cycling once presence is established (docs/calibration.md#duty-cycling).

    Occupied and moving: the tone goes off for ``off_s``, then a ``probe_s`` probe; motion
    in the probe: off again; none: continuous sensing until motion is seen again.
    """

    enabled: bool = Field(False, description="duty-cycle the tone while the room is occupied (off: always on)")
    off_s: float = Field(30.0, gt=0, description="tone-off period once presence is established or a probe saw motion")
    probe_s: float = Field(4.0, gt=0, description="tone-on probe after each off period; no motion in it: continuous")
    ramp_s: float = Field(0.02, gt=0, le=1.0, description="raised-cosine ramp of every switch (no clicks)")
    settle_s: float = Field(0.1, ge=0, le=1.0, description="after a switch-on, frames wait this long for the echoes to settle")

    def check_within_hold(self, hold_s: float) -> None:
        """An off period and its probe must fit in the presence hold time, or an occupied
        room times out before the next probe (ValueError)."""
        if self.off_s + self.probe_s >= hold_s:
            raise ValueError(f"duty_cycle.off_s + probe_s ({self.off_s + self.probe_s:g} s) must be shorter than "
                             f"presence.hold_s ({hold_s:g} s), or an occupied room times out before the next probe")


class CalibrationConfig(_Section):
    """``uspd calibrate``: carrier and lowest level for a target range (docs/calibration.md)."""

    target_range_m: float = Field(4.0, gt=0, le=15, description="range at which the reference person must reach the target SNR")
    target_snr_db: float = Field(
        5.0, description="predicted Doppler SNR of the reference walker the level must reach (docs/calibration/tuning.md)"
    )
    min_carrier_hz: float = Field(
        20000.0, ge=17000, description="lowest carrier on hardware that cannot play ultrasonic_carrier_hz (48 kHz)"
    )
    ultrasonic_carrier_hz: float = Field(
        32000.0, ge=17000, description="lowest carrier where the sample rate allows it (96 kHz): inaudible to people, "
                                       "and the band the detector is trained on"
    )
    carrier_step_hz: float = Field(2000.0, gt=0, description="spacing of candidate carriers")
    max_spl_db: float = Field(100.0, gt=0, le=110, description="hard cap on the tone's SPL at 1 m on axis")
    max_level_dbfs: float = Field(0.0, le=0, description="highest drive level")
    min_level_dbfs: float = Field(-60.0, lt=0, description="lowest drive level considered")
    probe_level_dbfs: float = Field(-30.0, le=0, description="drive level of the probes (low: probing is quiet)")
    probe_on_s: float = Field(1.0, gt=0.2, le=10, description="tone-on part of each probe")
    probe_off_s: float = Field(0.5, gt=0.1, le=10, description="tone-off part of each probe (noise floor, decay)")
    temperature_c: float = Field(20.0, ge=-20, le=50, description="air assumed for the air-absorption prediction")
    relative_humidity_pct: float = Field(50.0, ge=0, le=100, description="humidity assumed for the air-absorption prediction")
    echo_tolerance: float = Field(
        0.5, gt=0, description="re-check: relative change of the echo tail after switch-off that triggers a re-calibration"
    )
    coupling_tolerance_db: float = Field(3.0, gt=0, description="re-check: direct-path change that triggers a re-calibration")
    floor_tolerance_db: float = Field(6.0, gt=0, description="re-check: noise-floor change that triggers a re-calibration")
    store: Optional[Path] = Field(None, description="calibration file (default: calibration.json beside the event journal)")
    recheck_every_h: Optional[float] = Field(
        None, gt=0, description="uspd run/serve: re-check a calibrated simulated unit or sound card this often, "
                                "re-calibrating on drift (off: never)"
    )

    @model_validator(mode="after")
    def _levels(self) -> "CalibrationConfig":
        if not self.min_level_dbfs < self.max_level_dbfs:
            raise ValueError("min_level_dbfs must be below max_level_dbfs")
        return self


class SoundCardConfig(_Section):
    """A real sound card's nominal design, for ``uspd calibrate --device`` (docs/calibration.md#a-real-sound-card).

    The geometry is required unless the card's microphone count fits one preset alone
    (1: ``single``, 2: ``laptop_2``, 7: ``smart_speaker_7``); the sensitivities default to
    a typical small tweeter and MEMS microphone (the simulator's nominal unit)."""

    array: Optional[str] = Field(None, description="mic-array preset: single, laptop_2 or smart_speaker_7")
    mic_offsets_m: Optional[list[tuple[float, float, float]]] = Field(
        None, description="each mic's offset from the device centre (x forward, z up), metres; instead of array"
    )
    speaker_offset_m: Optional[tuple[float, float, float]] = Field(
        None, description="the speaker's offset from the device centre, metres (with mic_offsets_m)"
    )
    playback_channel: Optional[int] = Field(
        None, ge=0, description="input channel that records what the speaker plays (a hardware loopback, as some mic "
        "arrays give), not a mic: the playback canceller's reference ([frontend.music] playback)"
    )
    speaker_sensitivity_db_spl: float = Field(95.0, gt=40, lt=140, description="datasheet SPL at 1 m of a full-scale sine")
    mic_sensitivity_dbfs_per_pa: float = Field(-26.0, lt=0, description="datasheet mic sensitivity, dBFS per Pa")

    @model_validator(mode="after")
    def _one_geometry(self) -> "SoundCardConfig":
        if self.array is not None and self.mic_offsets_m is not None:
            raise ValueError("give either array or mic_offsets_m, not both")
        if (self.mic_offsets_m is None) != (self.speaker_offset_m is None):
            raise ValueError("mic_offsets_m and speaker_offset_m go together")
        return self


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
    music: MusicCancellerConfig = MusicCancellerConfig()

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

    major_threshold: float = Field(0.8, gt=0, le=1, description="score of walking-scale (major) motion")
    minor_threshold: float = Field(0.45, gt=0, le=1, description="score of minor motion trusted without context")
    sensitive_threshold: float = Field(
        0.15, gt=0, le=1, description="minor-motion score while occupied, within sensitive_s of a clear motion"
    )
    sensitive_s: float = Field(
        1800.0, ge=0, description="how long a clear (major or trusted minor) motion keeps the sensitive threshold"
    )
    confirm_frames: int = Field(3, ge=1, description="consecutive frames over a threshold that make a motion")
    release_frames: int = Field(
        50, ge=1, description="consecutive frames without one that end a motion (1 s at the 20 ms hop; 1: at once)"
    )
    hold_s: float = Field(180.0, gt=0, description="an occupied room turns vacant after this long without motion")
    departure_vacancy_s: float = Field(
        60.0, gt=0, description="vacancy this long after a major motion flagged as leaving, with nothing since"
    )
    minor_occupy_s: float = Field(1.0, gt=0, description="minor motion (s) that occupies a vacant room …")
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


# --- live operation: journal, MQTT, routines (issue 5) -------------------------------------

_HHMM = r"([01]\d|2[0-3]):[0-5]\d"


class LiveConfig(_Section):
    """``uspd run``: where events are journaled, where more routines live."""

    journal_path: Optional[Path] = Field(
        None, description="SQLite event journal (default: $XDG_DATA_HOME/uspd/events.sqlite3)"
    )
    routines_file: Optional[Path] = Field(None, description="TOML file with more [[routines]] (relative to the working directory)")
    sim_start: str = Field("00:00", pattern=f"^{_HHMM}$", description="wall-clock time of day a simulated scene starts at")
    view_events: int = Field(8, ge=1, le=100, description="recent events shown in the live view")
    soundcard_block_s: float = Field(
        0.1, ge=0.01, le=1.0, description="audio a sound card hands over per call: shorter blocks decide sooner "
        "(a frame waits for its block's end) and cost more CPU per second of audio (docs/live.md)"
    )
    action_timeout_s: float = Field(10.0, gt=0, le=300, description="default timeout of webhooks and commands")
    action_retries: int = Field(3, ge=0, le=20, description="more tries of a webhook or command that failed for a passing reason")
    retry_backoff_s: float = Field(5.0, gt=0, le=3600, description="wait before the first retry; doubles with each")
    journal_keep_days: float = Field(30.0, gt=0, description="settled events and deliveries older than this are pruned")


class MqttConfig(_Section):
    """MQTT broker and Home Assistant discovery; ``host`` unset turns MQTT off."""

    host: Optional[str] = Field(None, min_length=1, description="broker host name or address; unset: no MQTT")
    port: int = Field(1883, ge=1, le=65535, description="broker port (8883 is usual with TLS)")
    username: Optional[str] = Field(None, description="broker user name")
    password: Optional[str] = Field(None, description="broker password (needs username)")
    tls: bool = Field(False, description="connect with TLS")
    ca_file: Optional[Path] = Field(None, description="CA certificate file for TLS (default: the system's)")
    tls_insecure: bool = Field(False, description="skip the broker host-name check (self-signed test brokers only)")
    client_id: str = Field("uspd", min_length=1, pattern=r"^[A-Za-z0-9_-]+$", description="MQTT client id, also the device id in topics")
    base_topic: str = Field("uspd", min_length=1, description="states go to <base_topic>/<client_id>/...")
    discovery_prefix: str = Field("homeassistant", min_length=1, description="Home Assistant discovery prefix")
    device_name: str = Field("uspd presence sensor", min_length=1, description="device name shown in Home Assistant")
    keepalive_s: int = Field(30, ge=5, le=3600, description="MQTT keep-alive; the last will fires after ~1.5× this")
    score_interval_s: float = Field(
        2.0, gt=0, description="the motion-score sensor is published at most this often (the interval's maximum)"
    )
    motion_off_s: float = Field(
        5.0, ge=0, description="the motion sensor turns off after this long without motion (no flapping)"
    )

    @model_validator(mode="after")
    def _password_needs_user(self) -> "MqttConfig":
        if self.password is not None and self.username is None:
            raise ValueError("password is set without username")
        return self


class _Rule(_Section):
    pass


class MqttAction(_Rule):
    """Publish to MQTT (through the journal: re-sent if the broker was away)."""

    type: Literal["mqtt"]
    topic: str = Field(min_length=1, description="topic; $routine, $event, $kind, $score, $time expand")
    payload: str = Field("$event", description="payload template ($routine, $event, $kind, $score, $time, $time_s)")
    retain: bool = False

    @model_validator(mode="after")
    def _templates(self) -> "MqttAction":
        check_template(self.topic, "topic")
        check_template(self.payload, "payload")
        return self


class WebhookAction(_Rule):
    """POST the event as JSON to a URL."""

    type: Literal["webhook"]
    url: str = Field(pattern=r"^https?://\S+$", description="http:// or https:// URL")
    timeout_s: Optional[float] = Field(None, gt=0, le=300, description="default: live.action_timeout_s")
    headers: dict[str, str] = Field(default_factory=dict, description="extra HTTP headers (e.g. Authorization)")


class CommandAction(_Rule):
    """Run a program (argv list, never through a shell); arguments expand templates."""

    type: Literal["command"]
    argv: list[str] = Field(min_length=1, description="program and arguments; $event etc. expand in each")
    timeout_s: Optional[float] = Field(None, gt=0, le=3600, description="default: live.action_timeout_s")

    @model_validator(mode="after")
    def _templates(self) -> "CommandAction":
        for i, arg in enumerate(self.argv):
            check_template(arg, f"argv[{i}]")
        return self


Action = Annotated[Union[MqttAction, WebhookAction, CommandAction], Field(discriminator="type")]


class Routine(_Rule):
    """When ``trigger`` happens (within ``active_hours``, not within ``cooldown_s`` of the
    last firing), run every action."""

    name: str = Field(min_length=1, description="shown in the journal and the view")
    enabled: bool = Field(True, description="false: kept in the config but never fires (the dashboard's switch)")
    trigger: Literal["motion", "occupied", "vacant", "no_motion_for"]
    kind: Literal["major", "minor", "any"] = Field("any", description="motion class a 'motion' trigger needs")
    seconds: Optional[float] = Field(None, gt=0, description="quiet time of a 'no_motion_for' trigger")
    cooldown_s: float = Field(0.0, ge=0, description="no second firing within this long")
    active_hours: Optional[str] = Field(
        None, pattern=f"^{_HHMM}-{_HHMM}$", description="local time window, e.g. '22:00-06:00' (wraps midnight)"
    )
    actions: list[Action] = Field(min_length=1)

    @model_validator(mode="after")
    def _trigger_fields(self) -> "Routine":
        if self.trigger == "no_motion_for" and self.seconds is None:
            raise ValueError("a no_motion_for trigger needs seconds")
        if self.trigger != "no_motion_for" and self.seconds is not None:
            raise ValueError(f"seconds only applies to no_motion_for, not to {self.trigger}")
        if self.kind != "any" and self.trigger != "motion":
            raise ValueError(f"kind only applies to motion triggers, not to {self.trigger}")
        return self


TEMPLATE_FIELDS = ("routine", "event", "kind", "score", "time", "time_s")


def check_template(text: str, key: str) -> None:
    """Reject a template naming a field that does not exist (or a lone $) when loading,
    not when the routine first fires."""
    template = string.Template(text)
    if not template.is_valid():
        raise ValueError(f"{key} has a '$' that starts no field (write $$ for a literal $)")
    unknown = sorted(set(template.get_identifiers()) - set(TEMPLATE_FIELDS))
    if unknown:
        raise ValueError(f"{key} names unknown field(s) {', '.join(unknown)}; known: {', '.join(TEMPLATE_FIELDS)}")


# --- the web dashboard (issue 8) -------------------------------------------------------------


class DashboardConfig(_Section):
    """``uspd serve``: where the page listens and how much of the stream it gets."""

    host: str = Field("127.0.0.1", min_length=1, description="address to bind; other than loopback needs --token")
    port: int = Field(8765, ge=1, le=65535, description="HTTP port of the page")
    messages_per_s: float = Field(25.0, gt=0, le=50, description="Doppler frames sent to the page per second of stream")
    history_s: float = Field(60.0, gt=0, le=600, description="stream seconds a newly opened page is sent at once")


class Config(_Section):
    simulation: SimulationConfig = SimulationConfig()
    emission: EmissionConfig = EmissionConfig()
    duty_cycle: DutyCycleConfig = DutyCycleConfig()
    calibration: CalibrationConfig = CalibrationConfig()
    soundcard: SoundCardConfig = SoundCardConfig()
    frontend: FrontendConfig = FrontendConfig()
    detect: DetectConfig = DetectConfig()
    baseline: BaselineConfig = BaselineConfig()
    presence: PresenceConfig = PresenceConfig()
    live: LiveConfig = LiveConfig()
    mqtt: MqttConfig = MqttConfig()
    routines: list[Routine] = Field(default_factory=list, description="[[routines]]: triggers → actions")
    dashboard: DashboardConfig = DashboardConfig()

    def with_music(self, **settings) -> "Config":
        """This config with ``[frontend.music]`` settings changed: the same chain with a canceller off or on."""
        music = self.frontend.music.model_copy(update=settings)
        return self.model_copy(update={"frontend": self.frontend.model_copy(update={"music": music})})

    @model_validator(mode="after")
    def _probe_within_hold(self) -> "Config":
        if self.duty_cycle.enabled:
            self.duty_cycle.check_within_hold(self.presence.hold_s)
        return self


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
