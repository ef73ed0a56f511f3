"""Whole-pipeline real-time factor of the uspd on ``PYTHONPATH``, for comparing checkouts.

    git worktree add /tmp/uspd-base b6fdfb2
    for src in /tmp/uspd-base/src src; do PYTHONPATH=$src python benchmarks/bench_pipeline.py; done

``uspd bench`` measures every stage of this checkout; this script uses only what every
revision has (``FrontEnd``, ``Detection``, ``Config``), so the same run can time an older
checkout beside this one. 7 mics at 96 kHz, float32 channel-major audio (the sound card's
layout), the shipped network, in the sound card's 0.1 s and ``uspd detect``'s 1 s blocks
(``--blocks`` gives others); the whole pipeline and the front end alone; CPU time, best of
three, one thread.

``--blocks 1 10`` shows how much per-call cost is left in 1 s blocks: 10 s blocks share it
out over 500 hops, leaving the cost per sample and per frame, the floor that serving many
devices in one call (a hub) could reach with this code at best.

``--blas-threads 2`` gives numpy's BLAS two threads (its default on two cores) and prints
wall time beside CPU time: what the `uspd` command's one BLAS thread per process saves.
"""

import os
import sys

# One core: set before NumPy (and its BLAS) is first imported.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"
if "--blas-threads" in sys.argv[:-1]:
    os.environ["OPENBLAS_NUM_THREADS"] = sys.argv[sys.argv.index("--blas-threads") + 1]

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

import uspd  # noqa: E402
from uspd.config import Config  # noqa: E402
from uspd.detect.pipeline import Detection  # noqa: E402
from uspd.frontend.stream import FrontEnd  # noqa: E402

RATE_HZ, N_MICS, CARRIER_HZ, SECONDS = 96000, 7, 34000.0, 20.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=float, nargs="+", default=[0.1, 1.0], help="block lengths, s")
    parser.add_argument("--blas-threads", type=int, default=1, help="numpy's BLAS threads (set before NumPy loads)")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    t = np.arange(int(SECONDS * RATE_HZ)) / RATE_HZ
    echo = 0.01 * np.cos(2 * np.pi * (CARRIER_HZ + 150.0) * t + 3 * np.sin(2 * np.pi * 0.7 * t))
    audio = (0.3 * np.cos(2 * np.pi * CARRIER_HZ * t) + echo).astype(np.float32)
    audio = audio + (1e-3 * rng.standard_normal((N_MICS, len(t)))).astype(np.float32)
    config = Config()
    cells = [os.path.dirname(uspd.__file__)]
    for block_s in args.blocks:
        front = FrontEnd(RATE_HZ, CARRIER_HZ, config.frontend)
        detection = Detection(config, front.velocity_m_s)
        step = int(block_s * RATE_HZ)

        def front_end() -> None:
            for i in range(0, audio.shape[1], step):
                front.process(audio[:, i : i + step])
            front.flush()

        def pipeline() -> None:
            for i in range(0, audio.shape[1], step):
                detection.process(*front.process(audio[:, i : i + step]))
            detection.process(*front.flush())
            detection.reset()

        (front_cpu, front_wall), (cpu, wall) = (_best_s(run) for run in (front_end, pipeline))
        cells.append(f"{block_s:g} s blocks: real-time factor {cpu / SECONDS:.5f} (front end {front_cpu / SECONDS:.5f})"
                     + (f", wall {wall / SECONDS:.5f} ({front_wall / SECONDS:.5f})" if args.blas_threads > 1 else ""))
    print(" | ".join(cells))


def _best_s(run) -> tuple[float, float]:
    """Best of three: CPU seconds, wall seconds."""
    cpu = wall = float("inf")
    for _ in range(3):
        start_cpu, start_wall = time.process_time(), time.perf_counter()
        run()
        cpu, wall = min(cpu, time.process_time() - start_cpu), min(wall, time.perf_counter() - start_wall)
    return cpu, wall


if __name__ == "__main__":
    main()
