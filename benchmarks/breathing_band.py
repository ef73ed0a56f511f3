"""Is a still person's breathing visible to the front end, and is it unlike an empty room's
slow movers? A study for "still person" presence, which the Doppler frames cannot give:
breathing moves the chest by millimetres at 0.2–0.33 Hz, a few mm/s, where the clutter
filter removes the static field.

    python benchmarks/breathing_band.py --per-kind 12 --workers 2

Each scene (42 s, seeds from 1000: tuning seeds) is rendered as baseband and averaged
over each 20 ms hop, a 50 Hz "slow time" signal per mic. Per 20 s window (two per scene,
the first 2 s skipped): remove the mean (the static field), take the Hann-windowed
spectrum summed over mics, and compare the power in the breathing band (0.1–0.8 Hz, both
signs: breathing's phase swing of several radians spreads it into harmonics) with the
median power per bin at 5–20 Hz (the noise floor) times the band's bin count. Prints, per
scenario, the smallest, median and largest ratio in dB over its windows.
"""

from __future__ import annotations

import argparse

import numpy as np
from scipy import signal

from uspd.config import Config
from uspd.parallel import map_jobs
from uspd.sim.render import render_baseband
from uspd.sim.scenarios import build_scene

SCENARIOS = ("still_person", "seated_reading", "empty_quiet", "curtain_draft", "door_draft", "hvac", "empty_fan",
             "ceiling_fan", "cat", "dog", "music_loud_empty")
SCENE_S, WINDOW_S, SKIP_S, FIRST_SEED = 42.0, 20.0, 2.0, 1000  # two windows per scene
BAND_HZ, FLOOR_HZ = (0.1, 0.8), (5.0, 20.0)


def band_to_floor_db(job: tuple[str, int]) -> list[float]:
    """The breathing band's power over the noise floor (dB), per 20 s window of one scene."""
    name, seed = job
    config = Config()
    rendered = render_baseband(build_scene(name, seed, duration_s=SCENE_S), config.simulation)
    hop = int(round(config.frontend.hop_s * rendered.sample_rate_hz))
    n_hops = rendered.signal.shape[1] // hop
    slow = rendered.signal[:, : n_hops * hop].reshape(rendered.signal.shape[0], n_hops, hop).mean(-1)
    rate_hz = 1.0 / config.frontend.hop_s
    slow = slow[:, int(SKIP_S * rate_hz):]
    window = int(WINDOW_S * rate_hz)
    ratios = []
    for start in range(0, slow.shape[1] - window + 1, window):
        freq_hz, power = signal.periodogram(slow[:, start:start + window], rate_hz, window=np.hanning(window),
                                            detrend="constant", return_onesided=False, axis=1)
        freq_hz, power = np.abs(freq_hz), power.sum(0)
        band = (freq_hz >= BAND_HZ[0]) & (freq_hz <= BAND_HZ[1])
        floor = (freq_hz >= FLOOR_HZ[0]) & (freq_hz <= FLOOR_HZ[1])
        ratios.append(float(10 * np.log10(power[band].sum() / (np.median(power[floor]) * band.sum()))))
    return ratios


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-kind", type=int, default=12, help="scenes per scenario")
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    jobs = [(name, FIRST_SEED + i) for name in SCENARIOS for i in range(args.per_kind)]
    results = map_jobs(band_to_floor_db, jobs, args.workers)
    print(f"Breathing band ({BAND_HZ[0]:g}–{BAND_HZ[1]:g} Hz) over the noise floor, dB, per {WINDOW_S:g} s window; "
          f"{args.per_kind} scenes of {SCENE_S:g} s per scenario, seeds from {FIRST_SEED}.\n")
    print("| scenario | windows | smallest | median | largest |\n|---|---:|---:|---:|---:|")
    for name in SCENARIOS:
        ratios = [r for (job_name, _), rs in zip(jobs, results) if job_name == name for r in rs]
        print(f"| {name} | {len(ratios)} | {min(ratios):.1f} | {np.median(ratios):.1f} | {max(ratios):.1f} |")


if __name__ == "__main__":
    main()
