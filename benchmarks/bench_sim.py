"""Simulator speed as a multiple of real time, per scenario, on one core.

    python benchmarks/bench_sim.py --out docs/benchmarks-sim.md

Baseband (the training-data renderer) and passband (WAV) are measured in the same run
on the same scenes, in CPU time (``uspd.bench.simulator_speed``, which ``uspd bench``
runs too; this script adds the scatterer counts and the day-long scene). The ratio column compares each against the empty room's baseband
speed measured in this run, since absolute speed on shared machines drifts.

The day-long ``living_room_day`` scene is measured with windowed rendering: a stretch
where a person is present (found from its labels), and the CPU time of the whole day
projected from windows drawn one per stretch of the day (mostly nobody is home).
"""

from __future__ import annotations

import argparse
import os
import platform
from pathlib import Path

# One core, as the goal is stated: set before NumPy (and its BLAS) is first imported,
# overriding the environment, since a BLAS reads them only when it loads.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import numpy as np  # noqa: E402

from uspd.bench import SIM_SCENARIOS, cpu_seconds, simulator_speed  # noqa: E402
from uspd.config import SimulationConfig  # noqa: E402
from uspd.sim.labels import label_scene  # noqa: E402
from uspd.sim.render import iter_baseband  # noqa: E402
from uspd.sim.scenarios import build_scene  # noqa: E402

DAY_S = 86400.0



def _render_seconds(scene, config: SimulationConfig, start_s: float, stop_s: float) -> float:
    """CPU time of one baseband window (setup included, as every window pays it)."""
    return cpu_seconds(lambda: [None for _ in iter_baseband(scene, config, start_s=start_s, stop_s=stop_s)], 1)


def _occupied_stretch(scene, length_s: float) -> float:
    """Start of the first ``length_s`` stretch in which a person is present throughout."""
    labels = label_scene(scene, 0.5)
    frames = int(round(length_s / 0.5))
    present = np.convolve(labels.occupied.astype(int), np.ones(frames, dtype=int), mode="valid") == frames
    if not present.any():
        raise RuntimeError(f"no {length_s:g} s stretch with a person present")
    return float(labels.time_s[int(np.argmax(present))])


def _day(config: SimulationConfig, stretch_s: float, windows: int, window_s: float) -> list[str]:
    """living_room_day: speed over an occupied stretch, and the whole day projected from
    one window drawn at random in each of ``windows`` equal parts of the day."""
    scene = build_scene("living_room_day", seed=7, duration_s=DAY_S, array="smart_speaker_7", sample_rate_hz=96000)
    at_s = _occupied_stretch(scene, stretch_s)
    occupied = stretch_s / min(_render_seconds(scene, config, at_s, at_s + stretch_s) for _ in range(2))
    rng = np.random.default_rng(0)
    part_s = DAY_S / windows
    starts = [k * part_s + rng.uniform(0.0, part_s - window_s) for k in range(windows)]
    spent = [_render_seconds(scene, config, s, s + window_s) for s in starts]
    day_cpu_s = DAY_S * sum(spent) / (window_s * windows)
    slowest = int(np.argmax(spent))
    lines = [
        f"living_room_day (seed 7, movers: {', '.join(type(m).__name__ for m in scene.movers)}):",
        f"- {stretch_s:g} s with a person present (from {at_s:,.0f} s): baseband {occupied:,.1f}× real time",
        f"- whole day projected from {windows} windows of {window_s:g} s: {day_cpu_s:,.0f} s of CPU "
        f"({DAY_S / day_cpu_s:,.1f}× real time); slowest window at {starts[slowest]:,.0f} s: "
        f"{window_s / spent[slowest]:,.1f}× real time",
    ]
    for line in lines:
        print(line, flush=True)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseband-seconds", type=float, default=20.0)
    parser.add_argument("--passband-seconds", type=float, default=2.0)
    parser.add_argument("--day-stretch-seconds", type=float, default=60.0)
    parser.add_argument("--day-windows", type=int, default=48, help="0: skip the day-long scene")
    parser.add_argument("--day-window-seconds", type=float, default=10.0)
    parser.add_argument("--out", type=Path, default=None, help="write the markdown table here")
    args = parser.parse_args()

    config = SimulationConfig()
    rows = []
    reference = None
    for name in SIM_SCENARIOS:
        speed = simulator_speed(name, args.baseband_seconds, args.passband_seconds, repeats=2)
        bb, pb = speed["baseband"], speed["passband"]
        reference = reference or bb
        scene = build_scene(name, seed=7, duration_s=args.baseband_seconds, array="smart_speaker_7", sample_rate_hz=96000)
        n_scat = sum(m.scatterers(np.zeros(1), np.zeros(3)).positions_m.shape[0] for m in scene.movers)
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
    day = _day(config, args.day_stretch_seconds, args.day_windows, args.day_window_seconds) if args.day_windows else []
    table = "\n".join([header, "", *lines, "", *day, ""])
    print(table)
    if args.out:
        args.out.write_text(table)


if __name__ == "__main__":
    main()
