"""Loud music while the tone is duty-cycled: what restarting the front end at each probe costs.

    python benchmarks/duty_music_probes.py [--keep-cancellers]

`GatedFrames` restarts the Doppler spectrogram, its music cancellers included, each time the
tone comes back. This runs `music_loud_empty` tuning rooms (seeds 6000–6003, one, two and
seven mics) with the tone on throughout, and compares two front ends over the same probes
(30 s off, 4 s on, as `[duty_cycle]`'s defaults): the continuous chain, and one that, like
`GatedFrames`, sees only the probes and restarts `settle_s` after each one starts. Both feed
the shipped network with no-data frames outside the probes (its warm-up restarts there as
live). Per room: probes with motion (the score over the minor threshold for the presence
machine's ``confirm_frames``, as it shows motion) and the Doppler power in the probes' frames. ``--keep-cancellers``: the restarted chain
keeps its cancellers' learned state over the pauses (everything else restarts).
"""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import copy  # noqa: E402

import numpy as np  # noqa: E402

from uspd.config import Config  # noqa: E402
from uspd.detect.pipeline import DETECTORS  # noqa: E402
from uspd.evaluate import debounce  # noqa: E402
from uspd.sim.render import iter_baseband, scene_spectrogram  # noqa: E402
from uspd.sim.scenarios import build_scene  # noqa: E402

WARM_S, PROBES = 20.0, 4


def probe_windows(config: Config) -> list[tuple[float, float]]:
    """(start, end) of each probe after a first 20 s of continuous sensing."""
    period_s = config.duty_cycle.off_s + config.duty_cycle.probe_s
    return [(WARM_S + config.duty_cycle.off_s + k * period_s, WARM_S + (k + 1) * period_s) for k in range(PROBES)]


def restarted_frames(spectrogram, baseband: np.ndarray, rate_hz: float, windows, settle_s: float,
                     keep_cancellers: bool) -> dict[float, np.ndarray]:
    """Frames by end time (rounded to 0.1 ms) of a spectrogram fed only the probes, restarted in each."""
    frames = {}
    for start_s, end_s in windows:
        start_s += settle_s
        kept = copy.deepcopy((spectrogram.canceller, spectrogram.pair_canceller, spectrogram.playback_canceller))
        spectrogram.reset(start_s)
        if keep_cancellers:
            spectrogram.canceller, spectrogram.pair_canceller, spectrogram.playback_canceller = kept
        power, ends = spectrogram.process(baseband[:, int(round(start_s * rate_hz)) : int(round(end_s * rate_hz))])
        frames.update({round(float(t), 4): row for t, row in zip(ends, power)})
    return frames


def probes_with_motion(score: np.ndarray, ends_s: np.ndarray, windows, config: Config) -> int:
    over = score >= config.presence.minor_threshold
    return sum(bool(debounce(over[(ends_s > start_s) & (ends_s <= end_s)], config.presence.confirm_frames).any())
               for start_s, end_s in windows)


def run_room(array: str, seed: int, config: Config, keep_cancellers: bool) -> dict[str, tuple[int, float]]:
    windows = probe_windows(config)
    scene = build_scene("music_loud_empty", seed, duration_s=windows[-1][1], array=array)
    baseband = np.concatenate([block.signal for block in iter_baseband(scene, config.simulation)], axis=1)
    rate_hz = baseband.shape[1] / scene.duration_s
    continuous = scene_spectrogram(scene, config)
    power, ends = continuous.process(baseband)[:2]
    restarted = restarted_frames(scene_spectrogram(scene, config), baseband, rate_hz, windows,
                                 config.duty_cycle.settle_s, keep_cancellers)
    blank = np.zeros(power.shape[1], np.float32)
    chains = {"continuous": power, "restarted": np.array([restarted.get(round(float(t), 4), blank) for t in ends])}
    in_probe = np.zeros(len(ends), bool)
    for start_s, end_s in windows:
        in_probe |= (ends - continuous.frame / continuous.rate_hz > start_s + config.duty_cycle.settle_s) & (ends <= end_s)
    result = {}
    for label, frames in chains.items():
        frames = np.where(in_probe[:, None], frames, 0.0).astype(np.float32)  # no data outside the probes
        score = DETECTORS["neural"](config, continuous.velocity_m_s).process(frames).score
        result[label] = (probes_with_motion(score, ends, windows, config),
                         float(frames.sum(dtype=np.float64)))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep-cancellers", action="store_true", help="the restarted chain keeps its cancellers")
    args = parser.parse_args()
    config = Config()
    print("| array | seed | probes with motion: continuous / restarted | Doppler power in probes: continuous / restarted |")
    print("|---|---:|---:|---:|")
    totals = np.zeros(2, int)
    for array in ("single", "laptop_2", "smart_speaker_7"):
        for seed in range(6000, 6004):
            r = run_room(array, seed, config, args.keep_cancellers)
            totals += [r["continuous"][0], r["restarted"][0]]
            print(f"| {array} | {seed} | {r['continuous'][0]} / {r['restarted'][0]} of {PROBES} | "
                  f"{r['continuous'][1]:.3g} / {r['restarted'][1]:.3g} |", flush=True)
    print(f"| all | | {totals[0]} / {totals[1]} of {12 * PROBES} | |")


if __name__ == "__main__":
    main()
