"""Self-calibration: the carrier and the *lowest* emission level that still reach the target range.

Every unit and every room differ: the tweeter's response above 20 kHz varies by several
dB from unit to unit, rooms differ in noise and interference. So a device measures itself:

1. **Probe** each candidate carrier (``ultrasonic_carrier_hz`` — ``min_carrier_hz`` on 48 kHz
   hardware — … Nyquist − guard, every ``carrier_step_hz``) with a short, quiet tone
   (``probe_level_dbfs``; on for ``probe_on_s``, then off for ``probe_off_s``), recorded
   through the same demodulation as everything else (:class:`Prober`; on the simulator
   :class:`SimulatedProber` renders the unit in its room — nothing is read from the
   simulator but the recording).
2. **Measure** per carrier (:func:`measure_probe`): the static response per mic (the
   probe's mean baseband per unit of drive: direct path + room), the noise and
   interference floor in the walking Doppler band with the tone off, the extra floor with
   the tone on (multiplicative noise: HVAC turbulence modulating the echoes, which grows
   with the level), and the reverberation (how fast the echo decays 20 dB after switch-off).
3. **Predict** the Doppler SNR of a reference walker at ``target_range_m``
   (:func:`predicted_snr_db`): the radar equation scaled from the measured direct path —
   echo/direct = r_d · √σ_ref / R² · air(2R) · D(0)/D(θ_mic) — with σ_ref
   (:data:`REFERENCE_CROSS_SECTION_M2`), ISO 9613-1 absorption at the carrier for the
   configured air, and the product's *nominal* geometry and speaker pattern
   (:class:`DeviceProfile`: what the maker knows, not the unit's true values).
4. **Choose** per carrier the lowest level reaching ``target_snr_db`` (closed form, the
   multiplicative floor included), capped by the hard SPL cap (``max_spl_db``, SPL
   estimated from the response through the nominal mic sensitivity) and full scale; then
   the carrier whose level makes the least SPL.
5. **Keep** the result per device (:class:`CalibrationStore`, JSON keyed by device id)
   and **re-check** it (:func:`recheck`): a probe at the chosen carrier compared with the
   reference, a probe kept at calibration time, both at the unit's own level or the probes'
   if louder (:func:`reference_level_dbfs`). The room's fingerprint is the echo tail right after the probe's switch-off
   (4–14 ms: the direct path has gone, the walls' and furniture's echoes have not): it
   changes when the device moves, furniture moves or the air warms (every echo's phase
   moves). A tail change beyond ``echo_tolerance``, a direct-path change beyond
   ``coupling_tolerance_db`` or a floor change beyond ``floor_tolerance_db`` means
   calibrate again.

>>> prober = SimulatedProber(scene, config.simulation)
>>> result = calibrate(prober, DeviceProfile.of(scene.device), config.calibration, device_id="sim:living_room")
>>> result.carrier_hz, result.level_dbfs
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
from scipy import signal

from uspd.config import CalibrationConfig, SimulationConfig
from uspd.emission import ToneGate, capped_level_dbfs
from uspd.physics import P_REF_PA, air_absorption_db_per_m, amplitude_to_db, power_to_db, speed_of_sound_m_s
from uspd.sim.device import ARRAY_PRESETS, SPEAKER_OFFSET_M, Device, Hardware
from uspd.sim.render import render_baseband
from uspd.sim.scene import NYQUIST_GUARD_HZ, Scene

REFERENCE_CROSS_SECTION_M2 = 0.0075
"""Radar cross-section of the reference person: a walker's torso (the simulator's default
torso; limbs add echoes at other Doppler shifts). ``target_snr_db`` is tuned with it."""
WALK_BAND_M_S = (0.3, 2.0)
"""Radial speeds whose Doppler band the floor is measured in: a walking torso and limbs."""
PROBE_RAMP_S = 0.002  # short switch-off ramp: the decay after it is the room's
DECAY_DB = 20.0  # reverberation: time for the echo to fall this far after switch-off
TAIL_S = (0.004, 0.014)  # the echo tail after switch-off that fingerprints the room
MULTIPLICATIVE_DB = 1.0  # a tone-on floor this far over the tone-off one is multiplicative noise, not estimation scatter
_SETTLE_S = 0.1  # probe samples skipped after the tone starts (the echoes build up)


# --------------------------------------------------------------------------------------
# What the product's maker knows: nominal geometry, speaker pattern, mic sensitivity
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DeviceProfile:
    """A product's nominal design: mic array, sample rate, speaker-to-mic geometry and the
    datasheet speaker and mic (:class:`~uspd.sim.device.Hardware` at its defaults unless
    the maker states the sensitivities). ``mic_offsets_m`` and ``speaker_offset_m`` (device
    frame, x forward) default to the ``array`` preset's; a sound card states its own."""

    array: str
    sample_rate_hz: int
    mic_offsets_m: tuple[tuple[float, float, float], ...] | None = None
    speaker_offset_m: tuple[float, float, float] | None = None
    speaker_sensitivity_db_spl: float = Hardware.speaker_sensitivity_db_spl
    mic_sensitivity_dbfs_per_pa: float = Hardware.mic_sensitivity_dbfs_per_pa

    @classmethod
    def of(cls, device: Device) -> DeviceProfile:
        """The profile of a device's product (its array and rate, never its unit's spread)."""
        return cls(device.array, device.hardware.sample_rate_hz)

    @property
    def nominal(self) -> Hardware:
        return Hardware(sample_rate_hz=self.sample_rate_hz, speaker_sensitivity_db_spl=self.speaker_sensitivity_db_spl,
                        mic_sensitivity_dbfs_per_pa=self.mic_sensitivity_dbfs_per_pa)

    @property
    def n_mics(self) -> int:
        return len(self.mic_offsets_m or ARRAY_PRESETS[self.array])

    def _geometry(self) -> tuple[np.ndarray, np.ndarray]:
        """(K,) speaker-to-mic distance (m) and cos of the angle off the speaker's axis."""
        mics = self.mic_offsets_m or ARRAY_PRESETS[self.array]
        speaker = self.speaker_offset_m or SPEAKER_OFFSET_M[self.array]
        legs = np.asarray(mics, float) - np.asarray(speaker, float)
        distance_m = np.linalg.norm(legs, axis=-1)
        return distance_m, legs[:, 0] / distance_m  # the speaker faces +x in the device frame

    def direct_delay_s(self, temperature_c: float) -> np.ndarray:
        """(K,) time of flight from the speaker to each mic."""
        return self._geometry()[0] / float(speed_of_sound_m_s(temperature_c))

    def direct_to_axis(self, carrier_hz: float, temperature_c: float) -> np.ndarray:
        """(K,) amplitude ratio: pressure at 1 m on the speaker's axis over pressure at each
        mic (the direct path: spreading over r_d and the speaker's pattern towards the mic)."""
        distance_m, cos_theta = self._geometry()
        c = float(speed_of_sound_m_s(temperature_c))
        pattern = self.nominal.speaker_directivity(np.array([1.0]), carrier_hz, c)[0]
        return distance_m * pattern / self.nominal.speaker_directivity(cos_theta, carrier_hz, c)

    def mic_gain(self, carrier_hz: float) -> float:
        """Nominal digital units per Pa at the carrier (datasheet sensitivity and resonance)."""
        return float(np.abs(self.nominal.mic_gains(1, carrier_hz))[0])

    def candidate_carriers(self, config: CalibrationConfig) -> np.ndarray:
        """Carriers from the lowest allowed to Nyquist less the Doppler guard: from
        ``ultrasonic_carrier_hz`` where the rate reaches it (96 kHz hardware), else from
        ``min_carrier_hz`` (48 kHz hardware, whose band ends near 22 kHz)."""
        top_hz = self.sample_rate_hz / 2 - NYQUIST_GUARD_HZ
        low_hz = config.ultrasonic_carrier_hz if top_hz >= config.ultrasonic_carrier_hz else config.min_carrier_hz
        return np.arange(low_hz, top_hz + 1e-6, config.carrier_step_hz)


# --------------------------------------------------------------------------------------
# Probing and measuring
# --------------------------------------------------------------------------------------
class Prober(Protocol):
    """Plays a probe (tone on for ``on_s`` then off for ``off_s``) and returns the mics'
    complex baseband (n_mics, n) at ``baseband_rate_hz`` around the carrier."""

    baseband_rate_hz: float

    def probe(self, carrier_hz: float, level_dbfs: float, on_s: float, off_s: float) -> np.ndarray: ...


class SimulatedProber:
    """Probes rendered from a scene: the unit in its room (movers, sounds and air as they
    are at ``at_s`` in the scene), each probe at the next free time so noise differs."""

    def __init__(self, scene: Scene, config: SimulationConfig, at_s: float = 0.0) -> None:
        self.scene, self.config = scene, config
        self.baseband_rate_hz = float(config.baseband_rate_hz)
        self._at_s = at_s

    def probe(self, carrier_hz: float, level_dbfs: float, on_s: float, off_s: float) -> np.ndarray:
        start_s = self._at_s
        stop_s = start_s + on_s + off_s
        self._at_s = stop_s
        scene = dataclasses.replace(self.scene, carrier_hz=float(carrier_hz), level_dbfs=float(level_dbfs),
                                    duration_s=max(self.scene.duration_s, stop_s))
        gate = ToneGate(PROBE_RAMP_S, initially_on=False)
        gate.switch(start_s - PROBE_RAMP_S, True)
        gate.switch(start_s + on_s, False)
        return render_baseband(scene, self.config, start_s=start_s, stop_s=stop_s, tone_gate=gate).signal


@dataclass(frozen=True)
class ProbeMeasurement:
    """What one probe at one carrier tells (floors in digital units²/Hz, mean over mics)."""

    carrier_hz: float
    level_dbfs: float
    response: tuple[complex, ...]  # (K,) static baseband per unit of full-scale drive
    floor_off_psd: float  # tone off: mic noise, interference, hiss
    floor_on_psd: float  # tone on: the above plus multiplicative noise at the probe level
    decay_ms: float | None  # echo falls DECAY_DB after switch-off (None: the floor is nearer than that)
    tail: tuple[tuple[complex, ...], ...]  # (K, n) echo tail after switch-off per unit of drive

    @property
    def coupling_db(self) -> float:
        """Static response, power mean over mics, in dB re full scale per full-scale drive."""
        return float(power_to_db(np.mean(np.abs(np.asarray(self.response)) ** 2)))

    @property
    def floor_db(self) -> float:
        """Tone-off floor in the walk band, dB re full scale² per Hz."""
        return float(power_to_db(self.floor_off_psd))

    def to_dict(self) -> dict:
        out = dataclasses.asdict(self)
        out["response"] = _pairs(self.response)
        out["tail"] = [_pairs(mic) for mic in self.tail]
        return out

    @classmethod
    def from_dict(cls, data: dict) -> ProbeMeasurement:
        return cls(**{**data, "response": _complex(data["response"]),
                      "tail": tuple(_complex(mic) for mic in data["tail"])})


def _pairs(values) -> list[list[float]]:
    return [[float(np.real(z)), float(np.imag(z))] for z in values]


def _complex(pairs: list[list[float]]) -> tuple[complex, ...]:
    return tuple(complex(re, im) for re, im in pairs)


def walk_band_hz(carrier_hz: float, temperature_c: float) -> tuple[float, float]:
    c = float(speed_of_sound_m_s(temperature_c))
    return tuple(2.0 * v * carrier_hz / c for v in WALK_BAND_M_S)


def _band_psd(x: np.ndarray, rate_hz: float, band_hz: tuple[float, float]) -> float:
    """Two-sided PSD (units²/Hz) of complex (K, n), mean over mics and |f| in the band."""
    f, psd = signal.welch(x, fs=rate_hz, nperseg=min(256, x.shape[-1]), return_onesided=False, detrend="constant", axis=-1)
    inside = (np.abs(f) >= band_hz[0]) & (np.abs(f) <= band_hz[1])
    return float(psd[:, inside].mean())


def measure_probe(baseband: np.ndarray, rate_hz: float, carrier_hz: float, level_dbfs: float,
                  on_s: float, temperature_c: float) -> ProbeMeasurement:
    """One probe's recording (K, n), tone on for its first ``on_s`` → its measurements."""
    on_end = int(round(on_s * rate_hz))
    settle = int(round(_SETTLE_S * rate_hz))
    on, off = baseband[:, settle:on_end], baseband[:, on_end + settle :]
    if on.shape[-1] < 64 or off.shape[-1] < 64:
        raise ValueError(f"probe too short: need at least {2 * _SETTLE_S + 64 / rate_hz:.2f} s on and off")
    drive = 10.0 ** (level_dbfs / 20.0)
    band = walk_band_hz(carrier_hz, temperature_c)
    energy = (np.abs(baseband) ** 2).mean(axis=0)
    steady = energy[on_end - settle : on_end].mean()
    below = np.flatnonzero(energy[on_end:] < steady * 10.0 ** (-DECAY_DB / 10.0))
    floor_energy = energy[on_end + settle :].mean()
    measurable = len(below) and floor_energy < steady * 10.0 ** (-DECAY_DB / 10.0)
    decay_ms = float(below[0] / rate_hz * 1e3) if measurable else None
    tail = baseband[:, on_end + int(round(TAIL_S[0] * rate_hz)) : on_end + int(round(TAIL_S[1] * rate_hz))] / drive
    return ProbeMeasurement(
        carrier_hz=float(carrier_hz), level_dbfs=float(level_dbfs),
        response=tuple(complex(z) for z in on.mean(axis=-1) / drive),
        floor_off_psd=_band_psd(off, rate_hz, band), floor_on_psd=_band_psd(on, rate_hz, band), decay_ms=decay_ms,
        tail=tuple(tuple(complex(z) for z in mic) for mic in tail),
    )


# --------------------------------------------------------------------------------------
# Predicting and choosing
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LinkBudget:
    """At one carrier: SNR(L) = echo·x / (floor·B + mult·B·x), x = 10^(L/10), and the SPL
    a full-scale tone makes at 1 m (dB)."""

    echo: float  # reference walker's echo power per unit drive power, mean over mics
    floor: float  # additive floor in the walk band (units²)
    mult: float  # multiplicative floor in the walk band per unit drive power
    spl_at_0dbfs_db: float

    def snr_db(self, level_dbfs: float) -> float:
        x = 10.0 ** (level_dbfs / 10.0)
        return float(power_to_db(self.echo * x / (self.floor + self.mult * x)))

    def level_for_snr_db(self, snr_db: float) -> float | None:
        """The lowest level reaching ``snr_db``; None when multiplicative noise caps the SNR below it."""
        target = 10.0 ** (snr_db / 10.0)
        headroom = self.echo - target * self.mult
        if headroom <= 0:
            return None
        return float(power_to_db(target * self.floor / headroom))


def link_budget(probe: ProbeMeasurement, profile: DeviceProfile, config: CalibrationConfig) -> LinkBudget:
    """The radar equation scaled from the measured direct path (see the module doc)."""
    carrier_hz, range_m = probe.carrier_hz, config.target_range_m
    to_axis = profile.direct_to_axis(carrier_hz, config.temperature_c)  # (K,)
    alpha_db_per_m = float(air_absorption_db_per_m(carrier_hz, config.temperature_c, config.relative_humidity_pct))
    echo_per_axis = np.sqrt(REFERENCE_CROSS_SECTION_M2) / range_m**2 * 10.0 ** (-alpha_db_per_m * 2 * range_m / 20.0)
    response = np.abs(np.asarray(probe.response))
    echo = float(np.mean((response * to_axis * echo_per_axis) ** 2))
    lo, hi = walk_band_hz(carrier_hz, config.temperature_c)
    bandwidth_hz = 2 * (hi - lo)  # approaching and receding
    excess = probe.floor_on_psd - probe.floor_off_psd
    significant = probe.floor_on_psd > probe.floor_off_psd * 10.0 ** (MULTIPLICATIVE_DB / 10.0)
    mult = excess / 10.0 ** (probe.level_dbfs / 10.0) if significant else 0.0
    axis_pa = response * to_axis / profile.mic_gain(carrier_hz)  # peak Pa at 1 m on axis, full-scale drive
    spl = float(amplitude_to_db(np.sqrt(np.mean(axis_pa**2)) / np.sqrt(2) / P_REF_PA))
    return LinkBudget(echo, probe.floor_off_psd * bandwidth_hz, mult * bandwidth_hz, spl)


def predicted_snr_db(probe: ProbeMeasurement, profile: DeviceProfile, config: CalibrationConfig, level_dbfs: float) -> float:
    """Doppler SNR of the reference walker at the target range if the tone were at ``level_dbfs``."""
    return link_budget(probe, profile, config).snr_db(level_dbfs)


@dataclass(frozen=True)
class Candidate:
    """One probed carrier and what it would need."""

    probe: ProbeMeasurement
    needed_level_dbfs: float | None  # lowest level reaching the target SNR (None: unreachable)
    cap_level_dbfs: float  # highest level the SPL cap and full scale allow
    spl_at_0dbfs_db: float  # estimated SPL at 1 m of a full-scale tone

    @property
    def feasible(self) -> bool:
        return self.needed_level_dbfs is not None and self.needed_level_dbfs <= self.cap_level_dbfs


@dataclass(frozen=True)
class Calibration:
    """The result kept per device (and shown by the dashboard): carrier, level and why."""

    device_id: str
    carrier_hz: float
    level_dbfs: float
    spl_db: float  # estimated SPL at 1 m on axis of the chosen tone
    predicted_snr_db: float
    target_met: bool
    target_range_m: float
    target_snr_db: float
    reference: ProbeMeasurement  # the chosen carrier probed at the reference level: the re-check compares with it
    candidates: tuple[Candidate, ...]
    created_unix_s: float

    def to_dict(self) -> dict:
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out["reference"] = self.reference.to_dict()
        out["candidates"] = [{**dataclasses.asdict(c), "probe": c.probe.to_dict()} for c in self.candidates]
        return out

    @classmethod
    def from_dict(cls, data: dict) -> Calibration:
        candidates = tuple(Candidate(**{**c, "probe": ProbeMeasurement.from_dict(c["probe"])}) for c in data["candidates"])
        return cls(**{**data, "reference": ProbeMeasurement.from_dict(data["reference"]), "candidates": candidates})


def choose(probes: list[ProbeMeasurement], profile: DeviceProfile, config: CalibrationConfig,
           device_id: str) -> Calibration:
    """Pick the carrier and level from the probes (see the module doc, step 4)."""
    candidates, budgets = [], []
    for probe in probes:
        budget = link_budget(probe, profile, config)
        needed = budget.level_for_snr_db(config.target_snr_db)
        cap = capped_level_dbfs(config.max_level_dbfs, budget.spl_at_0dbfs_db, config.max_spl_db)
        candidates.append(Candidate(probe, needed, cap, budget.spl_at_0dbfs_db))
        budgets.append(budget)
    feasible = [i for i, c in enumerate(candidates) if c.feasible]
    if feasible:
        def spl(i: int) -> float:
            return candidates[i].spl_at_0dbfs_db + max(candidates[i].needed_level_dbfs, config.min_level_dbfs)
        best = min(feasible, key=spl)
        level = max(candidates[best].needed_level_dbfs, config.min_level_dbfs)
    else:  # the target is out of reach: the best SNR the caps allow
        best = max(range(len(candidates)), key=lambda i: budgets[i].snr_db(candidates[i].cap_level_dbfs))
        level = candidates[best].cap_level_dbfs
    chosen = candidates[best]
    return Calibration(
        device_id=device_id, carrier_hz=chosen.probe.carrier_hz, level_dbfs=float(level),
        spl_db=float(chosen.spl_at_0dbfs_db + level), predicted_snr_db=budgets[best].snr_db(level),
        target_met=bool(feasible), target_range_m=config.target_range_m, target_snr_db=config.target_snr_db,
        reference=chosen.probe, candidates=tuple(candidates), created_unix_s=time.time(),
    )


def probe_carrier(prober: Prober, carrier_hz: float, config: CalibrationConfig,
                  level_dbfs: float | None = None) -> ProbeMeasurement:
    """One probe at ``level_dbfs`` (default: the quiet ``probe_level_dbfs``), measured."""
    level_dbfs = config.probe_level_dbfs if level_dbfs is None else level_dbfs
    baseband = prober.probe(carrier_hz, level_dbfs, config.probe_on_s, config.probe_off_s)
    return measure_probe(baseband, prober.baseband_rate_hz, carrier_hz, level_dbfs, config.probe_on_s,
                         config.temperature_c)


def calibrate(prober: Prober, profile: DeviceProfile, config: CalibrationConfig, device_id: str,
              on_carrier: Callable[[float], None] | None = None) -> Calibration:
    """Probe every candidate carrier and choose; then probe the chosen carrier once more at
    the reference level, the re-check's reference. ``on_carrier(hz)`` after each probe."""
    carriers = profile.candidate_carriers(config)
    if len(carriers) == 0:
        raise ValueError(
            f"no carrier fits between {config.min_carrier_hz:.0f} Hz and the {profile.sample_rate_hz} Hz rate's "
            f"Nyquist less {NYQUIST_GUARD_HZ:.0f} Hz; lower calibration.min_carrier_hz or raise the sample rate"
        )
    probes = []
    for carrier_hz in carriers:
        probes.append(probe_carrier(prober, float(carrier_hz), config))
        if on_carrier is not None:
            on_carrier(float(carrier_hz))
    chosen = choose(probes, profile, config, device_id)
    reference = probe_carrier(prober, chosen.carrier_hz, config, reference_level_dbfs(chosen.level_dbfs, config))
    if on_carrier is not None:
        on_carrier(chosen.carrier_hz)
    return dataclasses.replace(chosen, reference=reference)


def reference_level_dbfs(level_dbfs: float, config: CalibrationConfig) -> float:
    """The re-check's probe level: the unit's own level, or the probes' if that is louder.
    At 32–46 kHz (a tweeter past its best, more absorbing air) a quiet probe's echo tail is
    barely above the noise, so an unchanged room would read as changed; the level that
    reaches a walker at the target range lifts the tail clear (docs/calibration.md)."""
    return max(level_dbfs, config.probe_level_dbfs)


# --------------------------------------------------------------------------------------
# Re-check and storage
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Drift:
    """A re-check's finding: how far the response and the floor moved, and the verdict."""

    echo_change: float  # |tail_new − tail_old| / |tail_old| over the mics
    coupling_change_db: float
    floor_change_db: float
    drifted: bool
    reason: str


def compare(saved: ProbeMeasurement, now: ProbeMeasurement, config: CalibrationConfig) -> Drift:
    old, new = np.asarray(saved.tail), np.asarray(now.tail)
    echo = float(np.linalg.norm(new - old) / np.linalg.norm(old))
    coupling_db = now.coupling_db - saved.coupling_db
    floor_db = now.floor_db - saved.floor_db
    reasons = []
    if echo > config.echo_tolerance:
        reasons.append(f"the room's echoes changed by {100 * echo:.0f} % (device moved, furniture moved or the air changed)")
    if abs(coupling_db) > config.coupling_tolerance_db:
        reasons.append(f"the direct path moved {coupling_db:+.1f} dB")
    if abs(floor_db) > config.floor_tolerance_db:
        reasons.append(f"the noise floor moved {floor_db:+.1f} dB")
    return Drift(echo, coupling_db, floor_db, bool(reasons), "; ".join(reasons) or "unchanged")


def recheck(calibration: Calibration, prober: Prober, config: CalibrationConfig) -> Drift:
    """One short probe at the calibrated carrier and the reference's level, compared with the reference."""
    reference = calibration.reference
    return compare(reference, probe_carrier(prober, calibration.carrier_hz, config, reference.level_dbfs), config)


def simulated_device_id(scenario: str, seed: int) -> str:
    """The id a simulated unit's calibration is kept under (its scenario and seed draw the unit)."""
    return f"sim:{scenario}:{seed}"


class CalibrationStore:
    """Calibrations per device id in one JSON file (written whole, atomically)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def _read(self) -> dict:
        if not self.path.exists():
            return {}
        try:
            return json.loads(self.path.read_text())
        except json.JSONDecodeError as err:
            raise ValueError(f"calibration file {self.path} is not valid JSON ({err}); delete it to start over") from None

    def load(self, device_id: str) -> Calibration | None:
        entry = self._read().get(device_id)
        return None if entry is None else Calibration.from_dict(entry)

    def save(self, calibration: Calibration) -> None:
        data = self._read()
        data[calibration.device_id] = calibration.to_dict()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=1))
        tmp.replace(self.path)
