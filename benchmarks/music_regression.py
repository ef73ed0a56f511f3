"""The music canceller on every held-out scene kind: does it change anything without music?

    python benchmarks/music_regression.py --hours 1 --scenes-per-kind 6 --out docs/music/regression

Runs ``uspd evaluate``'s scene plan (every human kind and every empty-room distractor, on
the 7-mic array the canceller acts on) through four chains on the same rendered frames —
neural and baseline detectors, each with the canceller on and off — and writes the
evaluation's side-by-side report (report.md, det.png, one full report per chain).
The shipped network was trained on frames without the canceller, so any change in the
non-music rows is what turning it on costs or buys.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from uspd.config import Config
from uspd.evaluate import EvaluationSettings, evaluate, write_comparison
from uspd.music_study import chain_configs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=1.0)
    parser.add_argument("--scenes-per-kind", type=int, default=6)
    parser.add_argument("--seed-offset", type=int, default=0)
    parser.add_argument("--array", default="smart_speaker_7")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    settings = EvaluationSettings(hours=args.hours, scenes_per_kind=args.scenes_per_kind, seed_offset=args.seed_offset,
                                  array=args.array)
    configs = {label.replace("/", "-canceller-"): config for label, config in chain_configs(Config()).items()}
    summaries = evaluate(settings, configs)
    command = "python benchmarks/music_regression.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    for path in write_comparison(summaries, args.out, command):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
