"""Doppler frames and neural scores of the uspd on ``PYTHONPATH``, to check that a speed-up left
them as they were (equal, or within float32 rounding).

    git worktree add /tmp/uspd-base 6030a25
    PYTHONPATH=/tmp/uspd-base/src python benchmarks/compare_outputs.py /tmp/base.npz
    PYTHONPATH=src python benchmarks/compare_outputs.py /tmp/this.npz --against /tmp/base.npz

The inputs: the bench's synthetic audio (7 mics at 96 kHz, 2 mics at 48 kHz) through the
whole streaming pipeline in 0.1 s and 1 s blocks, and held-out scenes (seed 1,000,003)
through the spectrogram (cancellers on) and the neural detector: loud music in an empty
room, music with a walker and a walk-in on the 7-mic array (the multi-mic canceller), and
the two music scenes on a laptop's pair and a single mic (the conjugate-pair canceller).
With ``--against`` it prints, per output, the largest difference relative to that output's
peak, and exits non-zero when one exceeds ``--tolerance``.
"""

from __future__ import annotations

import argparse
import os
import sys

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import numpy as np  # noqa: E402

from uspd.bench import DEVICES, blocks, synthetic_audio  # noqa: E402
from uspd.config import Config  # noqa: E402
from uspd.detect.neural import NeuralDetector  # noqa: E402
from uspd.detect.pipeline import Detection  # noqa: E402
from uspd.frontend.stream import FrontEnd  # noqa: E402
from uspd.sim.render import render_baseband, scene_spectrogram  # noqa: E402
from uspd.sim.scenarios import build_scene  # noqa: E402

AUDIO_S = 6.0
HELD_OUT_SEED = 1_000_003
SCENES = (("music_loud_empty", "smart_speaker_7"), ("music_with_walk", "smart_speaker_7"), ("walk_in", "smart_speaker_7"),
          ("music_loud_empty", "laptop_2"), ("music_with_walk", "laptop_2"), ("music_loud_empty", "single"),
          ("music_with_walk", "single"))  # (scenario, array)


def outputs() -> dict[str, np.ndarray]:
    config = Config()
    out = {}
    for device in DEVICES:
        audio = synthetic_audio(device.sample_rate_hz, device.n_mics, device.carrier_hz, AUDIO_S)
        for block_s in (0.1, 1.0):
            front = FrontEnd(device.sample_rate_hz, device.carrier_hz, config.frontend)
            detection = Detection(config, front.velocity_m_s)
            parts = [front.process(b) for b in blocks(audio, int(block_s * device.sample_rate_hz))] + [front.flush()]
            key = f"{device.name}, {block_s:g} s blocks"
            out[f"{key}: frames"] = np.concatenate([power for power, _ in parts])
            out[f"{key}: scores"] = np.concatenate([detection.process(*part).score for part in parts])
    for name, array in SCENES:
        scene = build_scene(name, HELD_OUT_SEED, duration_s=8.0, array=array)
        spectrogram = scene_spectrogram(scene, config)
        power, _ = spectrogram.compute(render_baseband(scene, config.simulation).signal)
        key = name if array == "smart_speaker_7" else f"{name} ({array})"
        out[f"{key}: frames"] = power
        out[f"{key}: scores"] = NeuralDetector(spectrogram.velocity_m_s, config.frontend.hop_s).process(power).score
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="where to save this checkout's outputs (.npz)")
    parser.add_argument("--against", help="another checkout's saved outputs to compare with")
    parser.add_argument("--tolerance", type=float, default=1e-5, help="largest difference allowed, relative to the peak")
    args = parser.parse_args()
    mine = outputs()
    np.savez(args.out, **mine)
    if args.against is None:
        return
    theirs = np.load(args.against)
    worst = 0.0
    print("| output | largest difference / peak | bit-identical |\n|---|---:|---|")
    for key, value in mine.items():
        difference = float(np.max(np.abs(value - theirs[key])) / max(np.max(np.abs(theirs[key])), 1e-30))
        worst = max(worst, difference)
        print(f"| {key} | {difference:.1e} | {'yes' if np.array_equal(value, theirs[key]) else 'no'} |")
    if worst > args.tolerance:
        sys.exit(f"outputs differ by up to {worst:.1e} of their peak, more than {args.tolerance:g}")


if __name__ == "__main__":
    main()
