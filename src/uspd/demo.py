"""``uspd demo``: a simulated walk-in, streamed through the front end and detector, narrated per second.

It renders the scene block by block, feeds each block to the streaming Doppler
spectrogram, the baseline detector and the presence state machine exactly as live audio
would be fed, and prints, beside the simulator's ground truth, what uspd decided each
second, the room's state, and the strongest radial speed it saw.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from uspd.config import Config
from uspd.detect.pipeline import Decisions, Detection
from uspd.plot import plot_doppler
from uspd.sim.labels import label_scene
from uspd.sim.render import iter_doppler, scene_spectrogram
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
    spectrogram = scene_spectrogram(scene, config)
    detection = Detection(config, spectrogram.velocity_m_s)
    frames, decisions = [], []
    for power, t in iter_doppler(scene, config, spectrogram):
        frames.append(power)
        decisions.append(detection.process(power, t))
    power, decided = np.concatenate(frames), Decisions.concatenate(decisions)
    times = decided.time_s

    moving = np.abs(spectrogram.velocity_m_s) >= STILL_BAND_M_S
    truth = label_scene(scene, config.frontend.hop_s)
    table = Table("time", "ground truth", "uspd sees (peak score)", "room", "strongest radial speed (when moving)")
    for second in range(int(np.floor(times[-1]))):
        rows = (times > second) & (times <= second + 1)
        if not rows.any():
            continue
        best = rows.nonzero()[0][np.argmax(power[rows][:, moving].sum(axis=1))]
        speed = spectrogram.velocity_m_s[moving][np.argmax(power[best, moving])]
        at = np.clip(np.searchsorted(truth.time_s, second + 0.5), 0, len(truth) - 1)
        dist = truth.person_distance_m[at]
        gt = truth.motion[at] + (f" at {dist:.1f} m" if np.isfinite(dist) else ", room empty")
        seen = max(decided.motion[rows], key=("none", "minor", "major").index)
        table.add_row(
            f"{second:3d}–{second + 1} s", gt, f"{seen} ({decided.score[rows].max():.2f})",
            "occupied" if decided.occupied[rows][-1] else "vacant",
            "—" if seen == "none" else f"{speed:+.2f} m/s ({'approaching' if speed > 0 else 'receding'})",
        )
    console.print(table)
    for event in decided.events:
        console.print(f"  {event.time_s:6.2f} s  {event.event}" + (f" ({event.kind})" if event.kind else ""))

    out_dir.mkdir(parents=True, exist_ok=True)
    png = out_dir / "walk_in.png"
    at = np.clip(np.searchsorted(truth.time_s, times - 1e-9), 0, len(truth) - 1)
    plot_doppler(power, times, spectrogram.velocity_m_s, png, title=f"walk_in (seed {seed}), simulated baseband",
                 motion=truth.motion[at], nonhuman=truth.nonhuman[at])
    console.print(f"Doppler spectrogram with ground truth: {png}")
    console.print("Next: `uspd simulate --list`, then `uspd simulate empty_fan --out fan.wav && uspd plot fan.wav`.")

