"""The calibration study: does calibrating save emission without losing detection?

For each of ``units`` held-out simulated units × rooms (seeds from
:data:`~uspd.evaluate.HELD_OUT_SEED_START`), :func:`study_unit`:

1. draws a room, a manufactured unit and its air (:func:`draw_unit`; half the rooms with
   HVAC running: turbulence and hiss), long enough for a walk at the farthest range;
2. calibrates it from probes (:func:`uspd.calibrate.calibrate`);
3. renders a walk at 2 m and at 4 m (:func:`walk_scene`: the person stands, then walks
   twice out and back over ±0.5 m of the range, along a ray in the speaker's half-space)
   with the calibrated carrier and level and with the *fixed* setting every unit would
   otherwise ship with (``[emission]``: its level, its carrier where the rate allows,
   else 20 kHz, as ``uspd run --soundcard`` picks), and runs the configured detector and
   presence machine on each: detected if the chain reports motion during the walk, and
   the share of walking frames it reports;
4. records the emitted SPL at 1 m of both settings from the simulator's truth (the
   calibration itself only had its own estimate).

:func:`summarize` gives mean and worst emission reduction and detection by range;
:func:`write_study` writes report.md, study.json and study.png.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from uspd.calibrate import Calibration, DeviceProfile, SimulatedProber, calibrate
from uspd.config import Config
from uspd.detect.pipeline import Decisions, Detection
from uspd.evaluate import HELD_OUT_SEED_START
from uspd.physics import P_REF_PA, amplitude_to_db
from uspd.sim.labels import label_scene
from uspd.sim.movers import Person, Stay, Walk
from uspd.sim.render import iter_doppler, scene_spectrogram
from uspd.sim.scenarios import draw_setting
from uspd.sim.scene import Scene
from uspd.sim.sources import AirflowHiss, HvacTurbulence

RANGES_M = (2.0, 4.0)
WALK_HALF_M = 0.5  # the walk spans range ± this
WALK_SCENE_S = 10.0
_STAND_S = 2.0  # before the walk: the detector's warm-up
_WALL_MARGIN_M = 0.5
_ALWAYS = ((0.0, 1e6),)
_STREAM = 1768710499  # the study's random stream beside the seed (the catalog's scenarios use others)


@dataclass(frozen=True)
class Unit:
    """A simulated unit in its room, empty: what calibration probes and walks are set in."""

    seed: int
    scene: Scene  # empty room (ambient sounds only), the drawn carrier and level
    walk_bearing_rad: float  # direction of the walks from the device (room frame)
    body: dict


def draw_unit(seed: int) -> Unit:
    """A held-out room + unit (the scenario catalog's draw), lengthened if a walk at the
    farthest range would not fit, with HVAC in half the rooms."""
    rng = np.random.default_rng([seed, _STREAM])
    setting = draw_setting(rng)
    room, device = setting.room, setting.device
    reach_m = max(RANGES_M) + WALK_HALF_M
    bearing = float(np.deg2rad(device.yaw_deg) + rng.uniform(-0.35, 0.35))
    sx, sy, sz = room.size_m
    y_end = device.position_m[1] + reach_m * np.sin(bearing)
    if not _WALL_MARGIN_M <= y_end <= sy - _WALL_MARGIN_M:  # too steep for this room's width: straighten
        room_y = np.clip(y_end, _WALL_MARGIN_M, sy - _WALL_MARGIN_M)
        bearing = float(np.arcsin((room_y - device.position_m[1]) / reach_m))
    x_end = device.position_m[0] + reach_m * np.cos(bearing)
    room = dataclasses.replace(room, size_m=(max(sx, x_end + _WALL_MARGIN_M), sy, sz))
    modulators, sources = (), ()
    if rng.uniform() < 0.5:
        modulators = (HvacTurbulence.sample(rng, room.size_m, device.position_m, WALK_SCENE_S, setting.carrier_hz,
                                            windows_s=_ALWAYS),)
        sources = (AirflowHiss.sample(rng, room.size_m, device.position_m, WALK_SCENE_S, setting.carrier_hz,
                                      windows_s=_ALWAYS),)
    scene = Scene(room=room, device=device, carrier_hz=setting.carrier_hz, duration_s=WALK_SCENE_S,
                  level_dbfs=setting.level_dbfs, environment=setting.environment, sources=sources,
                  modulators=modulators, name="calibration_study", seed=seed)
    return Unit(seed, scene, bearing, Person.draw_body(rng))


def walk_scene(unit: Unit, range_m: float, carrier_hz: float, level_dbfs: float) -> Scene:
    """The unit's room with a person walking out and back twice over range ± 0.5 m."""
    device_xy = np.asarray(unit.scene.device.position_m[:2])
    ray = np.array([np.cos(unit.walk_bearing_rad), np.sin(unit.walk_bearing_rad)])
    near, far = (tuple(map(float, device_xy + (range_m + s * WALK_HALF_M) * ray)) for s in (-1, 1))
    legs = tuple(Walk((end,), 1.0) for end in (far, near, far, near))  # one leg each: a walk cannot turn 180°
    person = Person((Stay(_STAND_S, "stand", 0.0), *legs, Stay(WALK_SCENE_S, "stand", 0.0)), near,
                    unit.walk_bearing_rad, **unit.body)
    return dataclasses.replace(unit.scene, movers=(person,), carrier_hz=float(carrier_hz), level_dbfs=float(level_dbfs),
                               name=f"calibration_walk_{range_m:g}m")


def detect_walk(scene: Scene, config: Config) -> tuple[bool, float]:
    """Run the chain on the walk: (motion reported during the walk, share of walking frames
    reported). Frames count as the detector makes them, without the presence machine's
    release hold, which would fill the gaps that a weaker tone opens and this share measures."""
    config = config.model_copy(update={"presence": config.presence.model_copy(update={"release_frames": 1})})
    spectrogram = scene_spectrogram(scene, config)
    detection = Detection(config, spectrogram.velocity_m_s)
    decisions = Decisions.concatenate([detection.process(*frames) for frames in iter_doppler(scene, config, spectrogram)])
    hop_s = config.frontend.hop_s
    truth = label_scene(scene, hop_s)
    keep, row = truth.rows_at(decisions.time_s, hop_s)
    walking = truth.motion[row] == "major"
    moving = decisions.motion[keep] != "none"
    if not walking.any():
        raise ValueError(f"the walk in {scene.name} (seed {scene.seed}) has no walking frames")
    return bool(moving[walking].any()), float(moving[walking].mean())


def true_spl_db(scene: Scene, carrier_hz: float, level_dbfs: float) -> float:
    """The simulator's truth: SPL at 1 m on axis of the unit's tone (never used to calibrate)."""
    peak_pa = abs(scene.device.hardware.tone_pressure_pa(level_dbfs, carrier_hz))
    return float(amplitude_to_db(peak_pa / np.sqrt(2) / P_REF_PA))


def fixed_setting(scene: Scene, config: Config) -> tuple[float, float]:
    """(carrier, level) a unit ships with uncalibrated: ``[emission]``, carrier as the sound card picks it."""
    from uspd.live.soundcard import plan_audio

    return plan_audio([scene.device.hardware.sample_rate_hz], config.emission.carrier_hz).carrier_hz, config.emission.level_dbfs


@dataclass(frozen=True)
class UnitResult:
    seed: int
    array: str
    sample_rate_hz: int
    hvac: bool
    fixed_carrier_hz: float
    fixed_level_dbfs: float
    fixed_spl_db: float
    calibrated_carrier_hz: float
    calibrated_level_dbfs: float
    calibrated_spl_db: float  # truth
    estimated_spl_db: float  # the calibration's own estimate
    predicted_snr_db: float
    target_met: bool
    detected: dict  # {"fixed"|"calibrated": {range: bool}}
    walk_recall: dict  # {"fixed"|"calibrated": {range: share of walking frames}}

    @property
    def reduction_db(self) -> float:
        return self.fixed_spl_db - self.calibrated_spl_db


def study_unit(seed: int, config: Config) -> tuple[UnitResult, Calibration]:
    unit = draw_unit(seed)
    scene = unit.scene
    calibration = calibrate(SimulatedProber(scene, config.simulation), DeviceProfile.of(scene.device),
                            config.calibration, device_id=f"sim:calibration_study:{seed}")
    settings = {"fixed": fixed_setting(scene, config), "calibrated": (calibration.carrier_hz, calibration.level_dbfs)}
    detected: dict = {name: {} for name in settings}
    recall: dict = {name: {} for name in settings}
    for name, (carrier_hz, level_dbfs) in settings.items():
        for range_m in RANGES_M:
            hit, share = detect_walk(walk_scene(unit, range_m, carrier_hz, level_dbfs), config)
            detected[name][f"{range_m:g}"], recall[name][f"{range_m:g}"] = hit, share
    fixed = settings["fixed"]
    return UnitResult(
        seed=seed, array=scene.device.array, sample_rate_hz=scene.device.hardware.sample_rate_hz,
        hvac=bool(scene.modulators), fixed_carrier_hz=fixed[0], fixed_level_dbfs=fixed[1],
        fixed_spl_db=true_spl_db(scene, *fixed), calibrated_carrier_hz=calibration.carrier_hz,
        calibrated_level_dbfs=calibration.level_dbfs,
        calibrated_spl_db=true_spl_db(scene, calibration.carrier_hz, calibration.level_dbfs),
        estimated_spl_db=calibration.spl_db, predicted_snr_db=calibration.predicted_snr_db,
        target_met=calibration.target_met, detected=detected, walk_recall=recall,
    ), calibration


def run_study(units: int, config: Config, seed_offset: int = 0,
              on_unit: Callable[[UnitResult], None] | None = None) -> list[UnitResult]:
    """``units`` held-out units, one process (each takes a few seconds)."""
    if units < 1:
        raise ValueError(f"need at least one unit, got {units}")
    results = []
    for i in range(units):
        result, _ = study_unit(HELD_OUT_SEED_START + seed_offset + i, config)
        results.append(result)
        if on_unit is not None:
            on_unit(result)
    return results


def summarize(results: list[UnitResult]) -> dict:
    reduction = np.array([r.reduction_db for r in results])
    detection = {
        name: {f"{rng:g}": {
            "detected": float(np.mean([r.detected[name][f"{rng:g}"] for r in results])),
            "walk_frames": float(np.mean([r.walk_recall[name][f"{rng:g}"] for r in results])),
        } for rng in RANGES_M} for name in ("fixed", "calibrated")
    }
    spl_error = np.array([r.estimated_spl_db - r.calibrated_spl_db for r in results])
    return {
        "units": len(results),
        "reduction_db": {"mean": float(reduction.mean()), "worst": float(reduction.min()),
                         "median": float(np.median(reduction)), "best": float(reduction.max())},
        "fixed_spl_db": {"mean": float(np.mean([r.fixed_spl_db for r in results])),
                         "max": float(np.max([r.fixed_spl_db for r in results]))},
        "calibrated_spl_db": {"mean": float(np.mean([r.calibrated_spl_db for r in results])),
                              "max": float(np.max([r.calibrated_spl_db for r in results]))},
        "spl_estimate_error_db": {"mean": float(spl_error.mean()), "rms": float(np.sqrt(np.mean(spl_error**2)))},
        "target_met": float(np.mean([r.target_met for r in results])),
        "detection": detection,
    }


def write_study(results: list[UnitResult], config: Config, out_dir: Path, command: str) -> list[Path]:
    """report.md, study.json (every unit) and study.png in ``out_dir``."""
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    summary = summarize(results)
    paths = [out_dir / "study.json", out_dir / "study.png", out_dir / "report.md"]
    paths[0].write_text(json.dumps({"summary": summary, "command": command,
                                    "calibration": config.calibration.model_dump(mode="json"),
                                    "units": [{**dataclasses.asdict(r), "reduction_db": r.reduction_db} for r in results]},
                                   indent=1))
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.8))
    ax1.hist([r.reduction_db for r in results], bins=20, color="tab:blue")
    ax1.axvline(summary["reduction_db"]["mean"], color="k", ls="--", label=f"mean {summary['reduction_db']['mean']:.1f} dB")
    ax1.set_xlabel("emission reduction vs fixed level (dB SPL at 1 m)")
    ax1.set_ylabel("units")
    ax1.legend()
    width = 0.35
    x = np.arange(len(RANGES_M))
    for k, name in enumerate(("fixed", "calibrated")):
        rates = [100 * summary["detection"][name][f"{rng:g}"]["walk_frames"] for rng in RANGES_M]
        ax2.bar(x + (k - 0.5) * width, rates, width, label=name)
    ax2.set_xticks(x, [f"walk at {rng:g} m" for rng in RANGES_M])
    ax2.set_ylabel("walking frames detected (%)")
    ax2.set_ylim(0, 100)
    ax2.legend(loc="lower left")
    fig.tight_layout()
    fig.savefig(paths[1], dpi=110)
    plt.close(fig)
    paths[2].write_text(_markdown(summary, results, config, command))
    return paths


def _markdown(summary: dict, results: list[UnitResult], config: Config, command: str) -> str:
    red, cal = summary["reduction_db"], config.calibration
    lines = [
        "# Calibration study: emission vs a fixed level, detection at 2 m and 4 m", "",
        f"Made by `{command}`: {summary['units']} held-out units × rooms (seeds from {HELD_OUT_SEED_START}), "
        f"target {cal.target_snr_db:g} dB predicted Doppler SNR at {cal.target_range_m:g} m, SPL cap {cal.max_spl_db:g} dB.",
        "",
        "| emission (dB SPL at 1 m, simulator truth) | fixed | calibrated |", "|---|---:|---:|",
        f"| mean | {summary['fixed_spl_db']['mean']:.1f} | {summary['calibrated_spl_db']['mean']:.1f} |",
        f"| loudest unit | {summary['fixed_spl_db']['max']:.1f} | {summary['calibrated_spl_db']['max']:.1f} |", "",
        f"Reduction per unit (fixed − calibrated): mean **{red['mean']:.1f} dB**, median {red['median']:.1f} dB, "
        f"worst {red['worst']:.1f} dB, best {red['best']:.1f} dB. Target reached within the caps on "
        f"{100 * summary['target_met']:.0f} % of units. The calibration's own SPL estimate is off by "
        f"{summary['spl_estimate_error_db']['mean']:+.1f} dB on average ({summary['spl_estimate_error_db']['rms']:.1f} dB rms).",
        "",
        "| walk at | fixed: detected | calibrated: detected | fixed: walking frames | calibrated: walking frames |",
        "|---|---:|---:|---:|---:|",
    ]
    det = summary["detection"]
    for rng in RANGES_M:
        key = f"{rng:g}"
        lines.append(f"| {key} m | {100 * det['fixed'][key]['detected']:.0f} % | {100 * det['calibrated'][key]['detected']:.0f} % | "
                     f"{100 * det['fixed'][key]['walk_frames']:.1f} % | {100 * det['calibrated'][key]['walk_frames']:.1f} % |")
    carriers = sorted({r.calibrated_carrier_hz for r in results})
    lines += ["", "![reduction histogram and detection](study.png)", "",
              "Chosen carriers (kHz): " + ", ".join(
                  f"{c / 1000:g} ({sum(r.calibrated_carrier_hz == c for r in results)})" for c in carriers), ""]
    return "\n".join(lines)
