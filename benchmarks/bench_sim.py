"""Simulator speed as a multiple of real time, per scenario, on one core.

    python benchmarks/bench_sim.py --out docs/benchmarks-sim.md

Baseband (the training-data renderer) and passband (WAV) are measured in the same run
on the same scenes. The ratio column compares each against the empty room's baseband
speed measured in this run, since absolute speed on shared machines drifts.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core, as the goal is stated
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from uspd.config import SimulationConfig  # noqa: E402
from uspd.sim.render import iter_baseband, iter_passband  # noqa: E402
from uspd.sim.scenarios import build_scene  # noqa: E402

SCENARIOS = ("empty_quiet", "walk_in", "seated_reading", "empty_fan", "music_loud_empty", "cat")


def _speed(render, scene, config: SimulationConfig) -> float:
    """Seconds of scene rendered per second of wall time (best of two runs)."""
    best = float("inf")
    for _ in range(2):
        start = time.perf_counter()
        for _block in render(scene, config):
            pass
        best = min(best, time.perf_counter() - start)
    return scene.duration_s / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseband-seconds", type=float, default=20.0)
    parser.add_argument("--passband-seconds", type=float, default=2.0)
    parser.add_argument("--out", type=Path, default=None, help="write the markdown table here")
    args = parser.parse_args()

    config = SimulationConfig()
    rows = []
    reference = None
    for name in SCENARIOS:
        bb_scene = build_scene(name, seed=7, duration_s=args.baseband_seconds, array="smart_speaker_7", sample_rate_hz=96000)
        pb_scene = build_scene(name, seed=7, duration_s=args.passband_seconds, array="smart_speaker_7", sample_rate_hz=96000)
        bb = _speed(iter_baseband, bb_scene, config)
        pb = _speed(iter_passband, pb_scene, config)
        reference = reference or bb
        n_scat = sum(m.scatterers(np.zeros(1), np.zeros(3)).positions_m.shape[0] for m in bb_scene.movers)
        rows.append((name, n_scat, bb, bb / reference, pb))
        print(f"{name:18s} scatterers={n_scat:3d}  baseband {bb:9.1f}× real time  passband {pb:7.2f}×", flush=True)

    lines = [
        "| scenario | moving scatterers | baseband (× real time) | vs empty room | passband (× real time) |",
        "|---|---:|---:|---:|---:|",
        *(f"| {n} | {s} | {bb:,.1f} | {r:.3f} | {pb:,.2f} |" for n, s, bb, r, pb in rows),
    ]
    header = (
        f"7-mic smart speaker, 96 kHz, {config.baseband_rate_hz} Hz baseband, wall images to order "
        f"{config.max_order_moving} for moving scatterers; one core ({platform.processor() or platform.machine()}), "
        f"baseband over {args.baseband_seconds:g} s scenes, passband over {args.passband_seconds:g} s."
    )
    table = "\n".join([header, "", *lines, ""])
    print(table)
    if args.out:
        args.out.write_text(table)


if __name__ == "__main__":
    main()
