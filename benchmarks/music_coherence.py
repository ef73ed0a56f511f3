"""Why the canceller's gate works: how much of each kind of Doppler energy lies along the
distortion's direction across the mics.

    python benchmarks/music_coherence.py --out docs/music/coherence.md

For ``music_with_walk`` rooms on tuning seeds (below the held-out 1,000,000) on the 7-mic
array, the simulator renders each room three times — as drawn, without music, and without
music or person — so the music's distortion (first minus second), the person's
reflections (second minus third) and the noise (third) are known apart. Each goes through
the clutter filter and the Doppler STFT of the front end; per STFT cell within the
Doppler band the coherence c = |hᴴx|²/|x|² with h the static field across the mics (the
direct path's vector, where the canceller starts) is reported as percentiles over cells
where that part stands ≥ 10 dB over the mean noise cell. It also reports how much of the
distortion's energy is left after removing its component along h (projecting out h(0)
alone) and in the best 1, 2, 3 directions per bin (what a canceller of that rank can reach).
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import numpy as np
from scipy import signal

from uspd.config import Config
from uspd.sim.render import render_baseband
from uspd.sim.scenarios import build_scene
from uspd.sim.sources import ALWAYS_S

PERCENTILES = (5, 25, 50, 75, 95, 99)


def _cells(baseband: np.ndarray, config: Config, keep_hz: float) -> np.ndarray:
    """(n_mics, n_cells) clutter-filtered STFT cells with 10 Hz < |f| < keep_hz, front-end framing."""
    rate = config.simulation.baseband_rate_hz
    sos = signal.butter(2, config.frontend.clutter_cutoff_hz, "highpass", fs=rate, output="sos")
    frame, hop = int(config.frontend.frame_s * rate), int(config.frontend.hop_s * rate)
    freq, _, stft = signal.stft(signal.sosfilt(sos, baseband, axis=-1), rate, window="hann", nperseg=frame,
                                noverlap=frame - hop, return_onesided=False, boundary=None, padded=False)
    band = (np.abs(freq) > 10.0) & (np.abs(freq) < keep_hz)
    return stft[:, band]  # (n_mics, n_bins, n_frames)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5, 6])
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    config = Config()
    rows, coherence = [], {"distortion": [], "person": [], "noise": []}
    for seed in args.seeds:
        scene = build_scene("music_with_walk", seed, duration_s=args.duration, array="smart_speaker_7")
        scene = dataclasses.replace(scene, music=dataclasses.replace(scene.music, windows_s=ALWAYS_S))  # music throughout
        no_music = dataclasses.replace(scene, music=None)
        renders = [render_baseband(s, config.simulation).signal.astype(np.complex128)
                   for s in (scene, no_music, dataclasses.replace(no_music, movers=()))]
        h = renders[2].mean(axis=1)
        h /= np.linalg.norm(h)
        keep_hz = 2 * config.frontend.max_speed_m_s * scene.carrier_hz / scene.speed_of_sound_m_s
        parts = {"distortion": renders[0] - renders[1], "person": renders[1] - renders[2], "noise": renders[2]}
        cells = {name: _cells(x, config, keep_hz) for name, x in parts.items()}
        noise_level = np.mean(np.sum(np.abs(cells["noise"]) ** 2, axis=0))
        for name, x in cells.items():
            energy = np.sum(np.abs(x) ** 2, axis=0)
            c = np.abs(np.einsum("m,mbt->bt", h.conj(), x)) ** 2 / np.maximum(energy, 1e-30)
            strong = energy > (10 * noise_level if name != "noise" else 0)
            coherence[name].append(c[strong])
        d = cells["distortion"]
        total = np.sum(np.abs(d) ** 2)
        along_h = np.sum(np.abs(np.einsum("m,mbt->bt", h.conj(), d)) ** 2)
        eigenvalues = np.array([np.linalg.eigvalsh(d[:, b] @ d[:, b].conj().T)[::-1] for b in range(d.shape[1])])
        left = [10 * np.log10(1 - eigenvalues[:, :rank].sum() / total) for rank in (1, 2, 3)]
        rows.append(f"| {seed} | {scene.carrier_hz:.0f} | {10 * np.log10(1 - along_h / total):.1f} dB | "
                    + " | ".join(f"{x:.1f} dB" for x in left) + " |")
        print(rows[-1], flush=True)
    table = ["| part | cells | " + " | ".join(f"p{p}" for p in PERCENTILES) + " |", "|---|---:|" + "---:|" * len(PERCENTILES)]
    for name, values in coherence.items():
        c = np.concatenate(values)
        table.append(f"| {name} | {len(c):,} | " + " | ".join(f"{q:.2f}" for q in np.percentile(c, PERCENTILES)) + " |")
    text = "\n".join([
        "# Coherence of Doppler energy with the distortion's direction", "", "Made with", "",
        f"    PYTHONPATH=src python benchmarks/music_coherence.py --seeds {' '.join(map(str, args.seeds))} "
        f"--duration {args.duration:g} --out docs/music/coherence.md", "",
        "`music_with_walk` on tuning seeds, 7-mic array, music forced on throughout. Coherence "
        "c = |hᴴx|²/|x|² of STFT cells (front-end framing, clutter filter, |f| > 10 Hz within the Doppler band) "
        "with h the static field across the mics; cells where that part stands ≥ 10 dB over the mean noise cell "
        "(noise: all cells).", "", *table, "",
        "Distortion energy left after removing, per bin, its component along h(0) (the static field) and in the "
        "best 1, 2 or 3 directions of that bin (the limits of a canceller of that rank):", "",
        "| seed | carrier (Hz) | along h(0) | best 1 | best 2 | best 3 |", "|---:|---:|---:|---:|---:|---:|", *rows, "",
    ])
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
