"""How much music distortion each canceller leaves, with and without the device's playback, on tuning rooms.

    python benchmarks/playback_suppression.py --rooms 8 --workers 2       # ~6 min on 2 cores

For each mic array, ``music_loud_empty`` rooms from ``--seed`` (the canceller's tuning
rooms, below the held-out seeds) are rendered as drawn and without their music; the
music's part alone (the difference) goes through the front end with each setting, each
cell cancelled as the whole render's cell was (``uspd.music_study.music_part_frames``). Per setting: the distortion energy in the Doppler band before over after, over
the whole of each room's music and from its 5th second of music on (every canceller
learns first; the playback canceller also keeps what it learned through the pauses
between songs, which a fresh stream per room does not show).
"""

from __future__ import annotations

import argparse
from functools import partial

import numpy as np

from uspd.config import Config
from uspd.evaluate import HELD_OUT_SEED_START
from uspd.music_study import music_part_frames
from uspd.parallel import map_jobs
from uspd.sim.device import ARRAY_PRESETS
from uspd.sim.scenarios import build_scene

SETTINGS = {  # the music cancellers of the front end, per setting
    "none": {"enabled": False},
    "default (no playback)": {},
    "playback alone": {"playback": True, "pair": False, "min_mics": 99},
    "playback, then the default": {"playback": True},
}
SETTLED_S = 5.0  # the whole of a room's music, and from this far into it on
ROOM_S = 120.0


def room(seed: int, array: str) -> dict[str, np.ndarray]:
    """Per setting, the music part's Doppler-band energy per frame; 'playing': frames with music."""
    scene = build_scene("music_loud_empty", seed, duration_s=ROOM_S, array=array)
    configs = {name: Config.model_validate({"frontend": {"music": music}}) for name, music in SETTINGS.items()}
    energy: dict[str, list[np.ndarray]] = {name: [] for name in SETTINGS}
    times = []
    for _, frames in music_part_frames(scene, configs):
        for name, (_, end_s, part) in frames.items():
            energy[name].append(part.sum(axis=1, dtype=np.float64))
        times.append(end_s)
    out = {name: np.concatenate(parts) for name, parts in energy.items()}
    out["playing_s"] = _seconds_of_music(scene, np.concatenate(times))
    return out


def _seconds_of_music(scene, frame_end_s: np.ndarray) -> np.ndarray:
    """Per frame, how long the music had been playing at its end (−1 when not playing)."""
    (start_s, stop_s), = scene.music.windows_s
    playing = (frame_end_s >= start_s) & (frame_end_s <= stop_s)
    return np.where(playing, frame_end_s - max(start_s, 0.0), -1.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arrays", nargs="+", choices=sorted(ARRAY_PRESETS), default=["single", "laptop_2", "smart_speaker_7"])
    parser.add_argument("--seed", type=int, default=6000, help="first tuning seed")
    parser.add_argument("--rooms", type=int, default=8, help="rooms per array (2 min each)")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    if args.rooms < 1:
        parser.error("give at least one room")
    if not 0 <= args.seed < HELD_OUT_SEED_START - args.rooms:
        parser.error(f"--seed must leave every room below the held-out seeds ({HELD_OUT_SEED_START:,})")
    print(f"music_loud_empty rooms from tuning seed {args.seed:,}, {args.rooms} per array, {ROOM_S:g} s each: distortion "
          f"suppression in the Doppler band, all of the music / from its {SETTLED_S:g}th second on.\n")
    print("| array | " + " | ".join(name for name in SETTINGS if name != "none") + " |")
    print("|---|" + "---:|" * (len(SETTINGS) - 1))
    for array in args.arrays:
        rooms = map_jobs(partial(room, array=array), list(range(args.seed, args.seed + args.rooms)), args.workers)
        cells = []
        for name in SETTINGS:
            if name == "none":
                continue
            ratios = []
            for frames in (lambda r: r["playing_s"] >= 0.0, lambda r: r["playing_s"] >= SETTLED_S):
                before = sum(r["none"][frames(r)].sum() for r in rooms)
                after = sum(r[name][frames(r)].sum() for r in rooms)
                ratios.append(10 * np.log10(before / after))
            cells.append(" / ".join(f"{db:.1f} dB" for db in ratios))
        print(f"| {array} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
