"""Two ``uspd mine`` runs, e.g. on the process pool and on Ray: are their results the same?

    uspd mine --out /tmp/pool --cache /tmp/cache-pool --labeled-per-kind 1 --corpus-hours 0.1 --epochs 1 --workers 2
    uspd mine --out /tmp/ray --cache /tmp/cache-ray --labeled-per-kind 1 --corpus-hours 0.1 --epochs 1 \
        --workers 2 --ray-address local
    python benchmarks/compare_mine_runs.py /tmp/pool /tmp/ray --caches /tmp/cache-pool /tmp/cache-ray

Compares the reports (mining-report.json without the command line, the worker count and
the timings), every cached scene set array by array (each run needs its own empty
``--cache``, or the second loads the first's renders), and each model's outputs on one
random feature block. Exits non-zero on any difference.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from uspd.detect.features import N_BINS
from validate_models import network_outputs

# how a run was made and how long it took, not what it found
NOT_RESULTS = {"command", "workers", "render_s", "train_s", "scoring_s", "hours_scored_per_s", "seconds"}
MODELS = ("seed.fp32.onnx", "rare.fp32.onnx", "motion.fp32.onnx", "motion.int8.onnx")


def results_only(report):
    if isinstance(report, dict):
        return {k: results_only(v) for k, v in report.items() if k not in NOT_RESULTS}
    if isinstance(report, list):
        return [results_only(v) for v in report]
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs=2, type=Path, help="the two --out folders")
    parser.add_argument("--caches", nargs=2, type=Path, help="the two runs' --cache folders")
    args = parser.parse_args()
    first, second = args.runs
    same = []

    reports = [results_only(json.loads((run / "mining-report.json").read_text())) for run in args.runs]
    same.append(reports[0] == reports[1])
    print(f"reports (command line, workers and timings left out): {'same' if same[-1] else 'DIFFERENT'}")
    if args.caches:
        names = [sorted(p.name for p in cache.glob("*.npz")) for cache in args.caches]
        same.append(names[0] == names[1])
        print(f"cached scene sets: {len(names[0])} and {len(names[1])}, {'same keys' if same[-1] else 'DIFFERENT keys'}")
        for name in sorted(set(names[0]) & set(names[1])):
            with np.load(args.caches[0] / name) as a, np.load(args.caches[1] / name) as b:
                equal = a.files == b.files and all(np.array_equal(a[k], b[k], equal_nan=a[k].dtype.kind == "f")
                                                   for k in a.files)
            same.append(equal)
            print(f"  {name}: {'identical' if equal else 'DIFFERENT'}")
    features = [np.random.default_rng(0).standard_normal((N_BINS, 500)).astype(np.float32)]
    for name in MODELS:
        (a,), (b,) = network_outputs(first / name, features), network_outputs(second / name, features)
        gap = float(np.abs(a - b).max())
        same.append(gap == 0.0)
        print(f"{name}: largest output difference {gap:.3g}")
    sys.exit(0 if all(same) else 1)


if __name__ == "__main__":
    main()
