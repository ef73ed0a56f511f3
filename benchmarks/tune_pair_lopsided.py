"""Tuning the conjugate-pair canceller's gate for lopsided bins (``frontend.music.pair_lopsided_s``)
on tuning seeds: the network's false motion onsets per room set, with the gate at each wait and
off (a wait no stream reaches).

    python benchmarks/tune_pair_lopsided.py --waits 10 20 30 --rooms laptop_2:music_loud_empty:6000:45 \\
        single:music_loud_empty:6000:45 single:robot_vacuum:3000:15

Each room set is ARRAY:SCENARIO:FIRST_SEED:COUNT, rooms of 2 min (walks: 20 s, with walking
detection). docs/music.md's "Lopsided bins" table is this script's output; its "10 s" rows
are ``--waits 10``, e.g. ``--rooms laptop_2:music_loud_empty:6000:150``.
"""

from __future__ import annotations

import argparse

import numpy as np

from uspd.config import Config
from uspd.evaluate import (
    EMPTY_SCENE_S, HUMAN_SCENE_S, TOLERANCE_S, SceneJob, events_hit, false_onset_frames, run_scenes, spans,
)

OFF_S = 1e9  # a wait no stream reaches: the gate never opens


def room_set(spec: str) -> list[SceneJob]:
    array, scenario, first_seed, count = spec.split(":")
    duration_s = HUMAN_SCENE_S.get(scenario, EMPTY_SCENE_S)
    return [SceneJob(scenario, scenario, int(first_seed) + i, duration_s, array) for i in range(int(count))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--waits", type=float, nargs="+", default=[30.0])
    parser.add_argument("--rooms", nargs="+", required=True, help="ARRAY:SCENARIO:FIRST_SEED:COUNT (seeds < 1,000,000)")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    configs = {f"wait {w:g} s" if w != OFF_S else "gate off": Config.model_validate(
        {"frontend": {"music": {"pair_lopsided_s": w}}}) for w in [*args.waits, OFF_S]}
    tolerance_frames = int(round(TOLERANCE_S / Config().frontend.hop_s))
    for spec in args.rooms:
        jobs = room_set(spec)
        if any(job.seed >= 1_000_000 for job in jobs):
            raise SystemExit(f"{spec}: tuning must stay below the held-out seeds (1,000,000)")
        cells = []
        for label, frames in run_scenes(jobs, configs, args.workers).items():
            onsets = sum(len(false_onset_frames(f.moving, f.truth_occupied, f.time_s)) for f in frames)
            walks = np.concatenate([np.zeros(0, bool)] + [events_hit(*spans(f.truth_motion == "major"), f.moving,
                                                                     tolerance_frames) for f in frames])
            cells.append(f"{label}: {onsets}" + (f" ({walks.mean():.1%} of {walks.size} walks)" if walks.size else ""))
        print(f"{spec}: false onsets, " + "; ".join(cells), flush=True)


if __name__ == "__main__":
    main()
