"""``uspd demo``: a simulated walk-in, streamed through the front end, narrated per second.

It renders the scene block by block, feeds each block to the streaming Doppler
spectrogram exactly as live audio would be fed, and prints, beside the simulator's ground
truth, how much Doppler energy stands above the noise floor and at what radial speed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from uspd.config import Config
from uspd.frontend.spectrogram import DopplerSpectrogram
from uspd.physics import power_to_db
from uspd.plot import plot_doppler
from uspd.sim.labels import label_scene
from uspd.sim.render import iter_baseband
from uspd.sim.scenarios import build_scene

STILL_BAND_M_S = 0.15  # |v| below this is breathing and residual clutter, not motion


def run_demo(seed: int, duration_s: float, out_dir: Path, console: Console, config: Config | None = None) -> None:
    config = config or Config()
    scene = build_scene("walk_in", seed, duration_s=duration_s)
    console.print(
        f"[bold]uspd demo[/]: {scene.device.array} device at "
        f"({', '.join(f'{v:.1f}' for v in scene.device.position_m)}) m in a "
        f"{' × '.join(f'{v:.1f}' for v in scene.room.size_m)} m room, {scene.carrier_hz / 1000:.1f} kHz tone; "
        f"someone walks in (scenario walk_in, seed {seed})."
    )
    spectrogram = DopplerSpectrogram(
        config.frontend, carrier_hz=scene.carrier_hz,
        baseband_rate_hz=config.simulation.baseband_rate_hz, speed_of_sound_m_s=scene.speed_of_sound_m_s,
    )
    frames, times = [], []
    for block in iter_baseband(scene, config.simulation):
        power, t = spectrogram.process(block.signal)
        frames.append(power)
        times.append(t)
    power, times = np.concatenate(frames), np.concatenate(times)

    moving = np.abs(spectrogram.velocity_m_s) >= STILL_BAND_M_S
    floor = np.median(power[:, moving])  # most bins of most frames hold only noise
    truth = label_scene(scene, config.frontend.hop_s)
    table = Table("time", "ground truth", "Doppler energy above floor", "strongest radial speed")
    for second in range(int(np.floor(times[-1]))):
        rows = (times > second) & (times <= second + 1)
        if not rows.any():
            continue
        energy = power[rows][:, moving].sum(axis=1) / (floor * moving.sum())
        best = rows.nonzero()[0][np.argmax(energy)]
        speed = spectrogram.velocity_m_s[moving][np.argmax(power[best, moving])]
        at = np.clip(np.searchsorted(truth.time_s, second + 0.5), 0, len(truth) - 1)
        dist = truth.person_distance_m[at]
        gt = truth.motion[at] + (f" at {dist:.1f} m" if np.isfinite(dist) else ", room empty")
        table.add_row(
            f"{second:3d}–{second + 1} s", gt, f"{power_to_db(energy.max()):+5.1f} dB",
            f"{speed:+.2f} m/s ({'approaching' if speed > 0 else 'receding'})",
        )
    console.print(table)

    out_dir.mkdir(parents=True, exist_ok=True)
    png = out_dir / "walk_in.png"
    at = np.clip(np.searchsorted(truth.time_s, times - 1e-9), 0, len(truth) - 1)
    plot_doppler(power, times, spectrogram.velocity_m_s, png, title=f"walk_in (seed {seed}), simulated baseband",
                 motion=truth.motion[at], nonhuman=truth.nonhuman[at])
    console.print(f"Doppler spectrogram with ground truth: {png}")
    console.print("Next: `uspd simulate --list`, then `uspd simulate empty_fan --out fan.wav && uspd plot fan.wav`.")

