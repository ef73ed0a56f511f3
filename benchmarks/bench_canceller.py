"""CPU time of the music cancellers of this checkout against another's, in one process.

    git worktree add /tmp/uspd-base 79d6594
    python benchmarks/bench_canceller.py --base /tmp/uspd-base/src

Whole-pipeline timings (``bench_pipeline.py``) move by ±30 % from run to run on a shared
2-core machine, more than a change to one stage saves; here both versions of
``uspd/frontend/music.py`` are loaded side by side and timed in alternating rounds on the
same STFT cells, so the machine's drift hits both alike. The cells are those the
spectrogram hands a canceller (bins, frames, mics) for 10 s of two inputs per device: the
bench's synthetic audio (no music: the gate stays shut) and a tuning room with loud music
(seed 7, ``music_loud_empty``: the gate opens), in the sound card's 0.1 s and ``uspd
detect``'s 1 s blocks; on a 7-mic 96 kHz front end (the multi-mic canceller) and a laptop's
2 mics at 48 kHz (the conjugate-pair canceller). CPU time, one thread, best of ``--rounds``.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import time
from pathlib import Path

# One core: set before NumPy (and its BLAS) is first imported.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import numpy as np  # noqa: E402

import uspd.frontend.music as this_music  # noqa: E402
from uspd.bench import blocks, synthetic_audio  # noqa: E402
from uspd.config import Config  # noqa: E402
from uspd.frontend.stream import FrontEnd  # noqa: E402
from uspd.sim.device import ARRAY_PRESETS  # noqa: E402
from uspd.sim.render import render_baseband, scene_spectrogram  # noqa: E402
from uspd.sim.scenarios import build_scene  # noqa: E402

SECONDS, TUNING_SEED = 10.0, 7
DEVICES = (("MusicCanceller", "smart_speaker_7", 96000, 34000.0), ("ConjugatePairCanceller", "laptop_2", 48000, 20000.0))


def canceller_inputs(baseband: np.ndarray, spectrogram, block_s: float) -> tuple[list[np.ndarray], np.ndarray]:
    """The cells the spectrogram would pass its canceller, one array per block, and the
    static field it starts from (cells of the clutter-filtered frames; the canceller itself
    is bypassed while they are collected)."""
    captured: list[np.ndarray] = []
    static: list[np.ndarray] = []

    class Recorder:
        basis = None

        def active(self, n_mics: int) -> bool:
            return True

        def process(self, cells, static_field, part=None):
            captured.append(cells.copy())
            if static_field is not None and not static:
                static.append(np.asarray(static_field))
            self.basis = True
            return cells

        def reset(self) -> None:
            pass

    spectrogram.canceller = Recorder()
    spectrogram.reset()
    step = int(round(block_s * spectrogram.rate_hz))
    for block in blocks(baseband, step):
        spectrogram.process(block)
    return [c for c in captured if c.shape[1]], static[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="the other checkout's src directory")
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    spec = importlib.util.spec_from_file_location("base_music", Path(args.base) / "uspd" / "frontend" / "music.py")
    base_music = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(base_music)

    config = Config()
    print("| canceller | input | blocks | base (ms per s of audio) | this checkout | base / this | largest difference / peak |")
    print("|---|---|---|---:|---:|---:|---:|")
    for canceller_name, array, rate_hz, carrier_hz in DEVICES:
        n_mics = len(ARRAY_PRESETS[array])
        front = FrontEnd(rate_hz, carrier_hz, config.frontend)
        synthetic = front.demodulator.process(synthetic_audio(rate_hz, n_mics, carrier_hz, SECONDS))
        scene = build_scene("music_loud_empty", TUNING_SEED, duration_s=SECONDS, array=array, sample_rate_hz=rate_hz)
        inputs = {
            "synthetic (no music)": (synthetic, FrontEnd(rate_hz, carrier_hz, config.frontend).spectrogram),
            "music_loud_empty": (render_baseband(scene, config.simulation).signal, scene_spectrogram(scene, config)),
        }
        for name, (baseband, spectrogram) in inputs.items():
            n_bins = len(spectrogram.velocity_m_s)
            for block_s in (0.1, 1.0):
                cells, static = canceller_inputs(baseband, spectrogram, block_s)
                best, outputs = {}, {}
                for _ in range(args.rounds):
                    for label, module in (("base", base_music), ("this", this_music)):
                        canceller = getattr(module, canceller_name)(config.frontend.music, n_bins=n_bins,
                                                                    hop_s=config.frontend.hop_s)
                        start = time.process_time()
                        outputs[label] = [canceller.process(c, static) for c in cells]
                        best[label] = min(best.get(label, np.inf), time.process_time() - start)
                peak = max(np.abs(c).max() for c in outputs["base"])
                worst = max(np.abs(a - b).max() for a, b in zip(outputs["base"], outputs["this"])) / peak
                seconds = sum(c.shape[1] for c in cells) * config.frontend.hop_s
                base_ms, this_ms = (1e3 * best[label] / seconds for label in ("base", "this"))
                print(f"| {canceller_name} | {name} | {block_s:g} s | {base_ms:.3f} | {this_ms:.3f} | "
                      f"{base_ms / this_ms:.2f} | {worst:.1e} |")

if __name__ == "__main__":
    main()
