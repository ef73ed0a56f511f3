"""Networks side by side in music rooms of tuning seeds: choosing a retrain for music
without looking at held-out rooms (docs/music.md's held-out study uses seeds ≥ 1,000,000).

    python benchmarks/music_models.py src/uspd/models/motion.fp32.onnx CANDIDATE/motion.fp32.onnx \
        --workers 2                                     # ~7 min on 2 cores

For each mic array (single mic and a laptop's pair by default: the arrays whose canceller
leaves the most distortion) the music study's rooms from ``--seed`` — loud music in empty
rooms, and ``music_with_walk`` — are rendered once and every network's chain runs on them
(the canceller and presence thresholds of ``--config``, else the defaults: canceller on):
false motion onsets and ``occupied`` events per hour with music, the time with motion
shown, walking events detected.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from uspd.config import ConfigError, config_from_dict, load_config
from uspd.evaluate import HELD_OUT_SEED_START, TOLERANCE_S, false_alarm_row, motion_events, run_scenes
from uspd.music_study import StudySettings, plan
from uspd.sim.device import ARRAY_PRESETS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="+", type=Path, help="ONNX networks (fp32)")
    parser.add_argument("--arrays", nargs="+", choices=sorted(ARRAY_PRESETS), default=["single", "laptop_2"])
    parser.add_argument("--seed", type=int, default=6000, help="first tuning seed (the canceller's tuning rooms)")
    parser.add_argument("--hours", type=float, default=0.5, help="hours of empty rooms with music per array")
    parser.add_argument("--walks", type=int, default=16, help="music_with_walk scenes per array")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--config", type=Path, default=None, help="TOML config for every network (e.g. its [presence])")
    args = parser.parse_args()
    if missing := [str(m) for m in args.models if not m.is_file()]:
        parser.error(f"no such model file: {', '.join(missing)}")
    if args.hours <= 0 or args.walks <= 0:
        parser.error("give some hours of music rooms and some walk scenes")
    if not 0 <= args.seed < HELD_OUT_SEED_START - max(args.walks, round(args.hours * 3600)):
        parser.error(f"--seed must leave every room below the held-out seeds ({HELD_OUT_SEED_START:,})")
    try:
        base = load_config(args.config)
    except ConfigError as err:
        parser.error(str(err))
    # validated, and the neural detector whatever --config names (as uspd evaluate's --detector LABEL=MODEL)
    configs = {str(m): config_from_dict({**base.model_dump(), "detect": {"detector": "neural", "model": str(m)}},
                                        source=str(m)) for m in args.models}
    hop_s = base.frontend.hop_s
    print(f"Music rooms from tuning seed {args.seed:,}: {args.hours:g} h of loud music in empty rooms and "
          f"{args.walks} music_with_walk scenes per array; canceller {'on' if base.frontend.music.enabled else 'off'}; presence thresholds "
          f"{', '.join(f'{k} {v:g}' for k, v in base.presence.model_dump().items() if k.endswith('threshold'))}.\n")
    print("| array | network | false onsets / h | false `occupied` / h | motion shown | walking detected |")
    print("|---|---|---:|---:|---:|---:|")
    for array in args.arrays:
        jobs = plan(StudySettings(hours=args.hours, walk_scenes=args.walks, array=array, seed_start=args.seed))
        frames = run_scenes(jobs, configs, args.workers)
        for label, scenes in frames.items():
            empty = [s for s in scenes if not s.job.is_human]
            walks = motion_events([s for s in scenes if s.job.is_human], "major", int(round(TOLERANCE_S / hop_s)))
            row = false_alarm_row(empty)
            print(f"| {array} | {label} | {row['motion']['per_hour']:.1f} | {row['occupied']['per_hour']:.1f} "
                  f"| {row['motion_shown']:.1%} | {walks['detected']} of {walks['events']} |", flush=True)


if __name__ == "__main__":
    main()
