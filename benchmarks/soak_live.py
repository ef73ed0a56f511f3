"""Soak: a whole simulated day through the live chain as fast as possible (issue 5).

The `living_room_day` scene (24 h from midnight, residents, pets, fans, music, vacuum)
streams through `uspd run`'s chain — detector, presence, routines, the SQLite journal —
and the process's resident memory is read every simulated hour. Memory must stay flat and
no frame may be dropped. Writes a markdown table.

    python benchmarks/soak_live.py --hours 24 --out docs/soak-live.md
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from uspd.config import config_from_dict
from uspd.live.journal import Journal
from uspd.live.routines import Timeline, load_routines
from uspd.live.run import LiveChain, run_live
from uspd.live.sources import SimulatedSource
from uspd.sim.scenarios import build_scene


def rss_mib() -> float:
    """Resident set size now (MiB), from /proc."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    raise RuntimeError("no VmRSS in /proc/self/status")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=Path("docs/soak-live.md"))
    args = parser.parse_args()
    config = config_from_dict({"routines": [
        {"name": "quiet", "trigger": "no_motion_for", "seconds": 600, "actions": [{"type": "command", "argv": ["true"]}]},
    ]})
    scene = build_scene("living_room_day", args.seed, duration_s=args.hours * 3600.0)
    source = SimulatedSource(scene, config)
    rows: dict[int, tuple[float, float, float]] = {}  # hour → (RSS, peak RSS, wall s)
    started = time.perf_counter()

    def measure(status) -> None:
        hour = int(status.time_s // 3600)
        if hour >= 1 and hour not in rows:
            rows[hour] = (rss_mib(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
                          time.perf_counter() - started)
            print(f"hour {hour}: RSS {rows[hour][0]:.0f} MiB, peak {rows[hour][1]:.0f} MiB, "
                  f"{rows[hour][2]:.0f} s", file=sys.stderr, flush=True)

    with tempfile.TemporaryDirectory() as tmp, Journal(Path(tmp) / "soak.sqlite3") as journal:
        chain = LiveChain(config, source.velocity_m_s, journal=journal, timeline=Timeline(datetime(2024, 5, 1)),
                          source_name=source.name, routines=load_routines(config))
        summary = run_live(source, chain, speed=None, on_block=measure)
        journaled = len(journal.events())
    wall_s = time.perf_counter() - started
    end = (rss_mib(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, wall_s)
    lines = [
        "# Live soak: a simulated day through `uspd run`'s chain", "",
        f"Made by `python benchmarks/soak_live.py --hours {args.hours:g} --seed {args.seed} --out {args.out}` "
        f"(one process, as fast as possible, journal and a routine on).", "",
        f"{args.hours:g} simulated hours in {wall_s:.0f} s ({args.hours * 3600 / wall_s:.0f}× real time, rendering "
        f"included); {summary.frames:,} frames, {summary.dropped_frames} dropped; {len(summary.events)} events, "
        f"{journaled} journaled.", "",
        "| simulated hour | RSS (MiB) | peak RSS (MiB) | wall time (s) |", "|---:|---:|---:|---:|",
        *(f"| {hour} | {rss:.0f} | {peak:.0f} | {t:.0f} |" for hour, (rss, peak, t) in sorted(rows.items())),
        f"| end | {end[0]:.0f} | {end[1]:.0f} | {end[2]:.0f} |", "",
    ]
    args.out.write_text("\n".join(lines))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
