"""Tune the classical baseline on tuning seeds (below the held-out range), fairly.

    python benchmarks/tune_baseline.py --out docs/evaluation/baseline-tuning.md

Renders human and empty-room scenes once with seeds from 1000 (never the evaluation's
held-out seeds ≥ 1,000,000), caches their Doppler frames, then replays every candidate
baseline setting through the detector and the presence machine. Each candidate is scored
by what the product needs: false `occupied` events and false motion onsets per hour in
empty rooms, against the share of walking and minor-motion events seen. The chosen
setting goes into `BaselineConfig`'s defaults by hand; `uspd evaluate` then judges it on
held-out rooms.
"""

from __future__ import annotations

import argparse
import itertools
import multiprocessing
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from uspd.config import BaselineConfig, Config
from uspd.detect.baseline import BaselineDetector
from uspd.detect.presence import Presence
from uspd.evaluate import DISTRACTORS, HELD_OUT_SEED_START, WARMUP_S, events_hit, onsets, spans
from uspd.sim.labels import label_scene
from uspd.sim.render import iter_doppler, scene_spectrogram
from uspd.sim.scenarios import build_scene

TUNING_SEED = 1000
HUMAN_KINDS = {"walk_in": 20.0, "walk_through": 20.0, "seated_reading": 30.0, "music_with_walk": 20.0}
GRID = {  # candidate settings; every combination is replayed
    "asymmetry_weight": (0.0, 0.5, 0.8, 1.0),
    "min_active_bins": (2, 6),
    "score_center_db": (3.0, 4.5, 6.0, 7.5),
}


@dataclass(frozen=True)
class Cached:
    group: str
    power: np.ndarray  # (n_frames, n_velocity)
    time_s: np.ndarray
    velocity_m_s: np.ndarray
    truth_motion: np.ndarray
    truth_occupied: np.ndarray


def _render(job: tuple[str, str, int, float]) -> Cached:
    group, name, seed, duration_s = job
    config = Config()
    scene = build_scene(name, seed, duration_s=duration_s)
    spec = scene_spectrogram(scene, config)
    parts = list(iter_doppler(scene, config, spec))
    power, time_s = np.concatenate([p for p, _ in parts]), np.concatenate([t for _, t in parts])
    truth = label_scene(scene, config.frontend.hop_s)
    row = np.minimum(np.rint(time_s / config.frontend.hop_s).astype(int) - 1, len(truth) - 1)
    return Cached(group, power, time_s, spec.velocity_m_s, truth.motion[row], truth.occupied[row].astype(bool))


def _replay(scene: Cached, baseline: BaselineConfig, config: Config) -> tuple[np.ndarray, np.ndarray]:
    frames = BaselineDetector(baseline, scene.velocity_m_s, config.frontend.hop_s).process(scene.power)
    motion, occupied, _ = Presence(config.presence).process(scene.time_s, frames.score)
    return motion != "none", occupied.astype(bool)


def _score(scenes: list[Cached], baseline: BaselineConfig, config: Config) -> dict:
    hits = {"major": [], "minor": []}
    false_onsets = false_occupied = 0
    empty_hours = 0.0
    tolerance = int(round(0.5 / config.frontend.hop_s))
    for scene in scenes:
        moving, occupied = _replay(scene, baseline, config)
        if scene.group in HUMAN_KINDS:
            for kind in hits:
                start, stop = spans(scene.truth_motion == kind)
                hits[kind] += list(events_hit(start, stop, moving, tolerance))
        else:
            counted = scene.time_s > WARMUP_S
            false_onsets += int(onsets(moving & counted).size)
            false_occupied += int(onsets(occupied & counted).size)
            empty_hours += counted.sum() * config.frontend.hop_s / 3600.0
    return {
        "major": float(np.mean(hits["major"])) if hits["major"] else float("nan"),
        "minor": float(np.mean(hits["minor"])) if hits["minor"] else float("nan"),
        "onsets_per_h": false_onsets / empty_hours,
        "occupied_per_h": false_occupied / empty_hours,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--human-scenes", type=int, default=6, help="scenes per human kind")
    parser.add_argument("--empty-scenes", type=int, default=3, help="scenes per distractor row")
    parser.add_argument("--empty-seconds", type=float, default=60.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    assert TUNING_SEED + max(args.human_scenes, args.empty_scenes) < HELD_OUT_SEED_START

    jobs = [(kind, kind, TUNING_SEED + i, d) for kind, d in HUMAN_KINDS.items() for i in range(args.human_scenes)]
    jobs += [(group, names[i % len(names)], TUNING_SEED + i, args.empty_seconds)
             for group, names in DISTRACTORS.items() for i in range(args.empty_scenes)]
    with multiprocessing.get_context("spawn").Pool(args.workers) as pool:
        scenes = pool.map(_render, jobs)
    config = Config()
    rows = []
    for values in itertools.product(*GRID.values()):
        baseline = config.baseline.model_copy(update=dict(zip(GRID, values)))
        rows.append((values, _score(scenes, baseline, config)))
        print(values, rows[-1][1], flush=True)
    rows.sort(key=lambda r: (r[1]["occupied_per_h"] + 0.01 * r[1]["onsets_per_h"], -r[1]["major"]))
    hours = sum(s.time_s[-1] for s in scenes if s.group not in HUMAN_KINDS) / 3600.0
    lines = [
        f"Tuning seeds from {TUNING_SEED}: {args.human_scenes} scenes per human kind "
        f"({', '.join(HUMAN_KINDS)}), {args.empty_scenes} × {args.empty_seconds:g} s per distractor row "
        f"({hours:.2f} h of empty rooms). Sorted by false `occupied` per hour, then onsets.",
        "",
        "| " + " | ".join(GRID) + " | walking seen | minor seen | false onsets / h | false occupied / h |",
        "|" + "---:|" * (len(GRID) + 4),
        *(f"| {' | '.join(f'{v:g}' for v in values)} | {r['major']:.0%} | {r['minor']:.0%} | "
          f"{r['onsets_per_h']:.0f} | {r['occupied_per_h']:.1f} |" for values, r in rows),
    ]
    print("\n".join(lines))
    if args.out:
        args.out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
