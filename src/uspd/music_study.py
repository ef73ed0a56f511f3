"""What the music-distortion canceller buys, measured on held-out rooms (docs/music.md).

Every scene is rendered twice — as drawn (loud music through the device's nonlinear
speaker) and without its music (the same room, device and people: the ground truth of
what the music added) — and each render runs through four chains on the same baseband:
neural and baseline detectors, canceller on and off
(:func:`uspd.evaluate.run_scene`, one spectrogram per front end).

- **Suppression**: energy of the music's part alone (the render minus the same room
  without music) in the Doppler band, before the canceller over after it (each cell
  cancelled as the whole render's cell was), in empty rooms.
- **False alarms per hour** in empty rooms with music against the same rooms without it.
- **Major-motion detection by distance** in ``music_with_walk`` scenes with music against
  the same scenes without it; the *range* is the upper edge of the farthest distance band
  up to which every band with events detects ≥ :data:`RANGE_RATE` of them.
- **No regression without music**: the rooms without music, canceller on against off.

Seeds follow the evaluation's convention (≥ :data:`~uspd.evaluate.HELD_OUT_SEED_START`).

>>> summary = run_study(StudySettings(hours=0.5, walk_scenes=24))
>>> write_study(summary, Path("docs/music"))
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from uspd.config import Config
from uspd.evaluate import (
    EMPTY_SCENE_S, HELD_OUT_SEED_START, HUMAN_SCENE_S, TOLERANCE_S, SceneFrames, SceneJob, false_alarm_row,
    motion_events, run_scene,
)
from uspd.parallel import map_jobs
from uspd.physics import power_to_db
from uspd.sim.device import ARRAY_PRESETS
from uspd.sim.labels import label_scene
from uspd.sim.render import Rendered, iter_baseband, playback_baseband, scene_spectrogram
from uspd.sim.scenarios import build_scene
from uspd.sim.scene import Scene
from uspd.sim.sources import ALWAYS_S

EMPTY, WALK = "music_loud_empty", "music_with_walk"
DETECTORS = ("neural", "baseline")
RANGE_RATE = 0.9


@dataclass(frozen=True)
class StudySettings:
    hours: float = 0.5  # empty rooms with music (each also rendered without it)
    walk_scenes: int = 24  # music_with_walk scenes (each also rendered without music)
    seed_offset: int = 0
    array: str = "smart_speaker_7"  # 1–2 mics (single, laptop_2): the conjugate-pair canceller
    workers: int = 1
    seed_start: int = HELD_OUT_SEED_START  # held-out rooms; tuning scripts start below it

    @property
    def first_seed(self) -> int:
        return self.seed_start + self.seed_offset

    def __post_init__(self) -> None:
        if self.hours < 0 or self.walk_scenes < 0 or self.hours == self.walk_scenes == 0:
            raise ValueError("give some hours of empty rooms with music or some walk scenes")
        if self.seed_offset < 0:
            raise ValueError(f"seed offset must be ≥ 0 to stay in the held-out range, got {self.seed_offset}")
        if self.array not in ARRAY_PRESETS:
            raise ValueError(f"unknown mic array '{self.array}'; presets: {', '.join(ARRAY_PRESETS)}")


def chain_configs(base: Config) -> dict[str, Config]:
    """'detector/on' and 'detector/off' for both detectors: canceller on and off."""
    configs = {}
    for detector in DETECTORS:
        for enabled in (True, False):
            configs[f"{detector}/{'on' if enabled else 'off'}"] = base.with_music(enabled=enabled).model_copy(update={
                "detect": base.detect.model_copy(update={"detector": detector}),
            })
    return configs


def plan(settings: StudySettings) -> list[SceneJob]:
    first = settings.first_seed
    n_empty = round(settings.hours * 3600.0 / EMPTY_SCENE_S)
    return ([SceneJob(WALK, WALK, first + i, HUMAN_SCENE_S[WALK], settings.array) for i in range(settings.walk_scenes)]
            + [SceneJob(EMPTY, EMPTY, first + i, EMPTY_SCENE_S, settings.array) for i in range(n_empty)])


def music_part_frames(scene: Scene, configs: dict[str, Config]) -> Iterator[tuple[Rendered, dict[str, tuple]]]:
    """Block by block: the room rendered without its music, and per chain (``configs``'
    labels) its frames of the render with the music — power, frame end times (s) and the
    power of the music's part alone (the render minus the quiet one), each cell cancelled
    as the whole render's cell was (``DopplerSpectrogram.process(…, part=…)``)."""
    spectrograms = {label: scene_spectrogram(scene, c) for label, c in configs.items()}
    simulation = next(iter(configs.values())).simulation
    for block, quiet in zip(iter_baseband(scene, simulation), iter_baseband(dataclasses.replace(scene, music=None), simulation)):
        playback = playback_baseband(scene, block) if any(s.takes_playback for s in spectrograms.values()) else None
        yield quiet, {label: s.process(block.signal, part=block.signal - quiet.signal, playback=playback)
                      for label, s in spectrograms.items()}


def distortion_energy(scene: Scene, configs: dict[str, Config]) -> dict[str, float]:
    """Σ Doppler power of the music's part alone (:func:`music_part_frames`) with the
    canceller off and on ('off', 'on'), and of the room without music ('noise')."""
    noise_spectrogram = scene_spectrogram(scene, next(c for label, c in configs.items() if label.endswith("off")))
    energy = {"off": 0.0, "on": 0.0, "noise": 0.0}
    for quiet, frames in music_part_frames(scene, configs):
        for label, (_, _, part) in frames.items():
            energy[label.split("/")[1]] += float(part.sum(dtype=np.float64))
        energy["noise"] += float(noise_spectrogram.process(quiet.signal)[0].sum(dtype=np.float64))
    return energy


def run_job(job: SceneJob, configs: dict[str, Config]) -> dict:
    """One room with and without its music: frames of every chain; for empty rooms, the
    Doppler-band energy of both renders per canceller setting."""
    scene = build_scene(job.name, job.seed, duration_s=job.duration_s, array=job.array)
    quiet = dataclasses.replace(scene, music=None)
    result = {"music": run_scene(job, configs, scene), "quiet": run_scene(job, configs, quiet)}
    if not job.is_human:
        result["energy"] = distortion_energy(scene, configs)
    return result


def detection_range_m(by_distance: list[dict]) -> float | None:
    """Upper edge of the farthest distance band up to which every band with events detects
    ≥ RANGE_RATE of them (None if the nearest such band already misses more)."""
    reach = None
    for row in by_distance:
        if row["events"] == 0:
            continue
        if row["rate"] < RANGE_RATE:
            break
        reach = row["hi_m"] if row["hi_m"] is not None else row["lo_m"]
    return reach


def _db(ratio: float) -> float | None:
    return float(10.0 * np.log10(ratio)) if ratio > 0 else None


def summarize(results: list[dict], jobs: list[SceneJob], settings: StudySettings, hop_s: float) -> dict:
    empty = [(j, r) for j, r in zip(jobs, results) if not j.is_human]
    walks = [r for j, r in zip(jobs, results) if j.is_human]
    tolerance_frames = int(round(TOLERANCE_S / hop_s))
    summary: dict = {"settings": dataclasses.asdict(settings), "hop_s": hop_s}

    if empty:
        per_scene = []
        for job, r in empty:
            e = r["energy"]
            per_scene.append({"seed": job.seed, "distortion_off": e["off"], "distortion_on": e["on"], "noise": e["noise"],
                              "suppression_db": _db(e["off"] / e["on"]) if e["on"] > 0 else None,
                              "distortion_to_noise_off_db": _db(e["off"] / e["noise"]),
                              "distortion_to_noise_on_db": _db(e["on"] / e["noise"])})
        total_off = sum(s["distortion_off"] for s in per_scene)
        total_on = sum(s["distortion_on"] for s in per_scene)
        scene_db = [s["suppression_db"] for s in per_scene if s["suppression_db"] is not None]
        summary["suppression"] = {
            "total_db": _db(total_off / total_on) if total_on > 0 else None,
            "scene_median_db": float(np.median(scene_db)) if scene_db else None,
            "scene_min_db": float(np.min(scene_db)) if scene_db else None,
            "scenes": per_scene,
        }
        hours = sum(r["music"]["neural/on"].alarm_hours for _, r in empty)
        summary["false_alarms"] = {"hours": hours} | {
            render: {label: false_alarm_row(frames) for label, frames in _by_label([r[render] for _, r in empty]).items()}
            for render in ("music", "quiet")
        }
    if walks:
        summary["major_detection"] = {
            render: {label: _detection(frames, tolerance_frames) for label, frames in _by_label([r[render] for r in walks]).items()}
            for render in ("music", "quiet")
        }
    return summary


def _by_label(results: list[dict[str, SceneFrames]]) -> dict[str, list[SceneFrames]]:
    return {label: [r[label] for r in results] for label in results[0]}


def _detection(frames: list[SceneFrames], tolerance_frames: int) -> dict:
    events = motion_events(frames, "major", tolerance_frames)
    return {"events": events["events"], "rate": events["rate"], "by_distance": events["by_distance"],
            "range_m": detection_range_m(events["by_distance"])}


def run_study(settings: StudySettings, config: Config | None = None,
              on_scene: Callable[[SceneJob], None] | None = None) -> dict:
    configs = chain_configs(config or Config())
    jobs = plan(settings)
    results = map_jobs(partial(run_job, configs=configs), jobs, settings.workers, cost=lambda job: job.duration_s,
                       on_done=(lambda job, _: on_scene(job)) if on_scene else None)
    return summarize(results, jobs, settings, next(iter(configs.values())).frontend.hop_s)


# --------------------------------------------------------------------------------------
# Report: music.json, music.md; before/after spectrograms
# --------------------------------------------------------------------------------------
def write_study(summary: dict, out_dir: Path, command: str = "") -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = {"command": command, **summary}
    paths = [out_dir / "music.json", out_dir / "music.md"]
    paths[0].write_text(json.dumps(summary, indent=1, allow_nan=False) + "\n")
    paths[1].write_text(_markdown(summary))
    return paths


def _markdown(summary: dict) -> str:
    s = summary["settings"]
    lines = [f"# Music-distortion canceller: held-out study ({s['array']})", "",
             f"Made by `{summary['command']}`." if summary["command"] else "", ""]
    if "suppression" in summary:
        sup = summary["suppression"]
        dnr_off = [x["distortion_to_noise_off_db"] for x in sup["scenes"] if x["distortion_to_noise_off_db"] is not None]
        dnr_on = [x["distortion_to_noise_on_db"] for x in sup["scenes"] if x["distortion_to_noise_on_db"] is not None]
        lines += [
            f"## Distortion suppression ({len(sup['scenes'])} empty rooms with music, {EMPTY_SCENE_S:g} s each)", "",
            "| what | value |", "|---|---:|",
            f"| distortion energy in the Doppler band, all rooms, off / on | {_f(sup['total_db'])} dB |",
            f"| per room: median / worst | {_f(sup['scene_median_db'])} / {_f(sup['scene_min_db'])} dB |",
            f"| distortion over noise, median room: off → on | {_f(np.median(dnr_off) if dnr_off else None)} → "
            f"{_f(np.median(dnr_on) if dnr_on else None)} dB |", "",
        ]
    if "false_alarms" in summary:
        fa = summary["false_alarms"]
        hours = fa["hours"]
        lines += [f"## False alarms per hour, empty rooms ({hours:.2f} h counted; the same rooms without music beside)", "",
                  "| chain | motion onsets/h, music | without music | `occupied`/h, music | without music | "
                  "motion shown, music | without music |",
                  "|---|---:|---:|---:|---:|---:|---:|"]
        for label in fa["music"]:
            m, q = fa["music"][label], fa["quiet"][label]
            lines.append(f"| {_chain(label)} | {_rate(m['motion'])} | {_rate(q['motion'])} | "
                         f"{_rate(m['occupied'])} | {_rate(q['occupied'])} | {_pct(m['motion_shown'])} | "
                         f"{_pct(q['motion_shown'])} |")
        lines.append("")
    if "major_detection" in summary:
        det = summary["major_detection"]
        bands = [row["bin"] for row in det["music"]["neural/on"]["by_distance"]]
        lines += ["## Major motion (walking) detected, music_with_walk rooms with and without their music", "",
                  f"Range: upper edge of the farthest distance band up to which every band with events detects "
                  f"≥ {RANGE_RATE:.0%} of them.", "",
                  "| chain | render | events | detected | range | " + " | ".join(bands) + " |",
                  "|---|---|---:|---:|---:|" + "---:|" * len(bands)]
        for label in det["music"]:
            for render in ("music", "quiet"):
                d = det[render][label]
                cells = [f"{row['rate']:.0%} ({row['events']})" if row["events"] else "–" for row in d["by_distance"]]
                lines.append(f"| {_chain(label)} | {'music' if render == 'music' else 'no music'} | {d['events']} | "
                             f"{_pct(d['rate'])} | {_f(d['range_m'], '{:g} m')} | " + " | ".join(cells) + " |")
        lines += ["", "Range with music over range without:", ""]
        for label in det["music"]:
            with_music, without = det["music"][label]["range_m"], det["quiet"][label]["range_m"]
            ratio = with_music / without if with_music is not None and without else None
            lines.append(f"- {_chain(label)}: {_f(with_music, '{:g} m')} / {_f(without, '{:g} m')} = {_pct(ratio)}")
        lines.append("")
    return "\n".join(lines)


def _chain(label: str) -> str:
    detector, setting = label.split("/")
    return f"{detector}, canceller {setting}"


def _f(value, fmt: str = "{:.1f}") -> str:
    return "–" if value is None else fmt.format(value)


def _pct(value) -> str:
    return "–" if value is None else f"{value:.1%}"


def _rate(entry: dict) -> str:
    if entry["count"] == 0:
        return f"0 (< {entry['upper95_per_hour']:,.1f})"
    return f"{entry['per_hour']:,.1f} ({entry['count']})"


def figure_scenes(settings: StudySettings, duration_s: float = 20.0) -> dict[str, Scene]:
    """"empty + music" and "walk + music": the study's first room of each kind whose music
    plays throughout (30 % of drawn songs start or stop within the scene)."""
    scenes = {}
    for title, name in (("empty + music", EMPTY), ("walk + music", WALK)):
        for seed in range(settings.first_seed, settings.first_seed + 100):
            scene = build_scene(name, seed, duration_s=duration_s, array=settings.array)
            if scene.music.windows_s == ALWAYS_S:
                scenes[f"{title}, seed {seed}"] = scene
                break
    return scenes


def plot_before_after(scenes: dict[str, Scene], out_png: Path, config: Config | None = None) -> None:
    """One row per scene (title → scene with music): without its music (the truth), with
    music and the canceller off, with music and the canceller on; one colour scale per row
    (from the no-music panel's noise floor), the person's ground truth underneath."""
    configs = {label: c for label, c in chain_configs(config or Config()).items() if label.startswith("neural")}
    fig, axes = plt.subplots(2 * len(scenes), 3, figsize=(15, 4.2 * len(scenes)), squeeze=False, layout="constrained",
                             gridspec_kw={"height_ratios": [10, 1] * len(scenes)})
    for row, (title, scene) in enumerate(scenes.items()):
        panels = {}
        for name, render, setting in (("without music", dataclasses.replace(scene, music=None), "off"),
                                      ("music, canceller off", scene, "off"), ("music, canceller on", scene, "on")):
            spectrogram = scene_spectrogram(render, configs[f"neural/{setting}"])
            parts = [spectrogram.process(b.signal) for b in iter_baseband(render, configs["neural/on"].simulation)]
            panels[name] = (np.concatenate([p for p, _ in parts]), np.concatenate([t for _, t in parts]))
        floor_db = float(np.median(power_to_db(panels["without music"][0])))
        truth = label_scene(scene, configs["neural/on"].frontend.hop_s)
        motion = np.array([{"none": 0, "minor": 1, "major": 2}[m] for m in truth.motion])
        for col, (name, (power, times)) in enumerate(panels.items()):
            ax = axes[2 * row, col]
            mesh = ax.pcolormesh(times, spectrogram.velocity_m_s, power_to_db(power).T, vmin=floor_db - 6, vmax=floor_db + 44,
                                 shading="nearest", cmap="magma", rasterized=True)
            ax.set_title(name)
            ax.set_ylabel(f"{title}\nradial velocity (m/s)" if col == 0 else "")
            strip = axes[2 * row + 1, col]
            strip.imshow(motion[None], aspect="auto", interpolation="nearest", vmin=0, vmax=2, cmap="Reds",
                         extent=(truth.time_s[0], truth.time_s[-1], 0, 1))
            strip.set_yticks([])
            strip.set_ylabel("person" if col == 0 else "", rotation=0, ha="right", va="center")
        fig.colorbar(mesh, ax=axes[2 * row, :], label=f"power (dB, noise floor ≈ {floor_db:.0f})")
    axes[-1, 1].set_xlabel("time (s)")
    fig.savefig(out_png, dpi=90)
    plt.close(fig)
