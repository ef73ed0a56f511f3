"""Tuning the conjugate-pair canceller's tie test (``frontend.music.pair_tie``) on tuning seeds.

    python benchmarks/tune_pair_tie.py --values 0 0.05 0.1          # ~25 min on 2 cores

Two sets of rooms, all below the held-out seeds:

- jingling keys and crinkling paper next door on laptops (``keys_paper``, 2 mics, 2 min
  each, seeds from ``--keys-seed``): the network's false motion onsets per setting, and
  with the pair canceller off;
- the music study's chains (``uspd music-study``) on laptop and single-mic rooms from
  ``--music-seed``: distortion suppression, the network's false onsets with music, walking
  detected with music.

docs/music.md's tuning table is this script's output (``--values 0 0.03 0.05 0.1 0.2``
for keys where a cell is filled).
"""

from __future__ import annotations

import argparse

import uspd.music_study as music_study
from uspd.config import Config
from uspd.evaluate import SceneJob, false_onset_frames, run_scenes


def _config(**music) -> Config:
    return Config.model_validate({"frontend": {"music": music}})


def keys_onsets(values: list[float], first_seed: int, n_rooms: int, workers: int) -> None:
    jobs = [SceneJob("keys_paper", "keys_paper", first_seed + i, 120.0, "laptop_2") for i in range(n_rooms)]
    configs = {f"pair_tie {v:g}": _config(pair_tie=v) for v in values} | {"pair canceller off": _config(pair=False)}
    for label, frames in run_scenes(jobs, configs, workers).items():
        onsets = sum(len(false_onset_frames(f.moving, f.truth_occupied, f.time_s)) for f in frames)
        print(f"keys, laptop, {label}: {onsets} false onsets in {sum(f.alarm_hours for f in frames):.2f} h", flush=True)


def music_rooms(values: list[float], first_seed: int, hours: float, walks: int, workers: int) -> None:
    for array in ("laptop_2", "single"):
        for value in values:
            s = music_study.run_study(music_study.StudySettings(hours=hours, walk_scenes=walks, array=array,
                                                                workers=workers, seed_start=first_seed), _config(pair_tie=value))
            fa, walking = s["false_alarms"]["music"], s["major_detection"]["music"]
            print(f"music, {array}, pair_tie {value:g}: suppression {s['suppression']['total_db']:.1f} dB; network false "
                  f"onsets with music, canceller on / off: {fa['neural/on']['motion']['per_hour']:.1f} / "
                  f"{fa['neural/off']['motion']['per_hour']:.1f} per hour; walking with music "
                  f"{walking['neural/on']['rate']:.1%} / {walking['neural/off']['rate']:.1%}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--values", type=float, nargs="+", default=[0.0, 0.05, 0.1])
    parser.add_argument("--keys-seed", type=int, default=3000)
    parser.add_argument("--keys-rooms", type=int, default=200)
    parser.add_argument("--music-seed", type=int, default=6000)
    parser.add_argument("--music-hours", type=float, default=0.5)
    parser.add_argument("--music-walks", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    keys_onsets(args.values, args.keys_seed, args.keys_rooms, args.workers)
    music_rooms(args.values, args.music_seed, args.music_hours, args.music_walks, args.workers)


if __name__ == "__main__":
    main()
