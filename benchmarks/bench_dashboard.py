"""What the dashboard costs the live chain, and what it sends to a page.

A simulated scene is rendered once into Doppler blocks; then the same blocks go through a
fresh :class:`~uspd.live.run.LiveChain` with and without the dashboard's
:class:`~uspd.dashboard.feed.Feed` listening, alternately, ``--repeats`` times each. Prints
a markdown table: chain time per stream hour both ways and their ratio, messages and bytes
per stream second of the event stream (what one open page receives).

    python benchmarks/bench_dashboard.py --scenario living_room_day --seed 5 --seconds 1800 --repeats 3
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import datetime
from pathlib import Path

import numpy as np

from uspd.config import Config
from uspd.dashboard.feed import Feed
from uspd.live.journal import Journal
from uspd.live.routines import Timeline
from uspd.live.run import LiveChain
from uspd.live.sources import SimulatedSource
from uspd.sim.scenarios import build_scene


def run_chain(blocks, source, folder: Path, with_feed: bool) -> tuple[float, dict[str, list[int]]]:
    """Seconds the chain took over ``blocks``, and the sizes of the messages sent, by kind."""
    sizes: dict[str, list[int]] = {}
    with Journal(folder / f"j{time.monotonic_ns()}.sqlite3") as journal:
        chain = LiveChain(Config(), source.velocity_m_s, journal=journal, timeline=Timeline(datetime(2024, 5, 1)),
                          source_name=source.name)
        if with_feed:
            feed = Feed(chain, source)
            def count(messages: list[str], keep=None) -> None:
                for message in messages:
                    sizes.setdefault(message.split("\n", 1)[0].removeprefix("event: "), []).append(len(message))

            feed._publish = count
        started = time.perf_counter()
        for power, times in blocks:
            chain.process(power, times)
            if with_feed:
                feed.status(chain.status)
        elapsed = time.perf_counter() - started
        chain.close()
    return elapsed, sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="living_room_day")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=1800.0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    source = SimulatedSource(build_scene(args.scenario, args.seed, duration_s=args.seconds), Config())
    blocks = list(source.blocks())
    stream_s = float(blocks[-1][1][-1])
    times = {False: [], True: []}
    with tempfile.TemporaryDirectory() as folder:
        for _ in range(args.repeats):
            for with_feed in (False, True):
                elapsed, sizes = run_chain(blocks, source, Path(folder), with_feed)
                times[with_feed].append(elapsed)
                if with_feed:
                    sent = sizes
    bare, fed = np.median(times[False]), np.median(times[True])
    per_hour = 3600.0 / stream_s
    print(f"`{args.scenario}` seed {args.seed}, {stream_s:.0f} s of stream, median of {args.repeats} runs each\n")
    print("| | chain s per stream hour | ratio |")
    print("| --- | ---: | ---: |")
    print(f"| live chain alone | {bare * per_hour:.1f} | 1.00 |")
    print(f"| live chain + dashboard feed | {fed * per_hour:.1f} | {fed / bare:.2f} |")
    print("\n| message | per stream second | bytes each (mean) | bytes per stream second |")
    print("| --- | ---: | ---: | ---: |")
    for kind, lengths in sorted(sent.items()):
        print(f"| `{kind}` | {len(lengths) / stream_s:.2f} | {np.mean(lengths):.0f} | {sum(lengths) / stream_s:,.0f} |")
    total = sum(sum(lengths) for lengths in sent.values())
    print(f"| all | | | {total / stream_s:,.0f} |")


if __name__ == "__main__":
    main()
