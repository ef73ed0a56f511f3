"""False motion onsets of one distractor row of `uspd evaluate`, scene by scene.

    python benchmarks/false_alarms_by_scene.py --group music --hours 6 --scenes-per-kind 24

Re-runs the held-out scenes of that row (the same plan and seeds as `uspd evaluate` with
the same --hours, --scenes-per-kind and --seed-offset) through the default chain and prints,
per scene, its mic array, sample rate, carrier and the times of its false motion onsets,
then the rate per array: where an evaluation's per-distractor figure comes from.
"""

from __future__ import annotations

import argparse

from uspd.config import Config
from uspd.evaluate import DISTRACTORS, EvaluationSettings, false_onset_frames, plan_scenes, run_scene


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--group", choices=sorted(DISTRACTORS), default="music")
    parser.add_argument("--hours", type=float, default=6.0)
    parser.add_argument("--scenes-per-kind", type=int, default=24)
    parser.add_argument("--seed-offset", type=int, default=0)
    args = parser.parse_args()
    settings = EvaluationSettings(hours=args.hours, scenes_per_kind=args.scenes_per_kind, seed_offset=args.seed_offset)
    per_array: dict[str, list[float]] = {}
    for job in (j for j in plan_scenes(settings) if j.group == args.group):
        frames = run_scene(job, {"default": Config()})["default"]
        starts = false_onset_frames(frames.moving, frames.truth_occupied, frames.time_s)
        print(f"{job.name} seed {job.seed}: {frames.array}, {frames.carrier_hz / 1000:.1f} kHz, "
              f"false onsets at {[round(float(t), 1) for t in frames.time_s[starts]]} s")
        tally = per_array.setdefault(frames.array, [0, 0.0])
        tally[0] += len(starts)
        tally[1] += frames.alarm_hours
    for array, (count, hours) in per_array.items():
        print(f"{array}: {count} false onsets in {hours:.2f} h = {count / hours:.1f} per hour")


if __name__ == "__main__":
    main()
