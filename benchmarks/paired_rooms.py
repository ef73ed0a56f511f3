"""Room by room: does one detector raise fewer false onsets than another in the same rooms?

    python benchmarks/paired_rooms.py docs/evaluation/rare-homes seed neural

Reads a comparison written by ``uspd evaluate --detector … --detector …`` (each detector's
report.json lists its false onsets per empty room) and counts the rooms where the second
detector raised fewer false onsets than the first, as many, and more. A rate summed over
rooms can move with one loud room; the sign test over the rooms that differ asks whether
the change holds room by room (two-sided, ties dropped).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from scipy import stats


def room_onsets(report_dir: Path, label: str) -> dict[tuple[str, int], int]:
    """(scenario, seed) → false onsets, for every empty room of one detector's report."""
    path = report_dir / label / "report.json"
    if not path.is_file():
        raise SystemExit(f"no report for detector '{label}' at {path}")
    scenes = json.loads(path.read_text())["scenes"]
    if any("false_onsets" not in scene for scene in scenes):
        raise SystemExit(f"{path} has no per-room false onsets: re-make it with this checkout's uspd evaluate")
    return {(s["scenario"], s["seed"]): s["false_onsets"] for s in scenes if s["false_onsets"] is not None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report_dir", type=Path, help="the comparison's --out folder")
    parser.add_argument("first", help="detector label, e.g. seed")
    parser.add_argument("second", help="detector label, e.g. neural")
    args = parser.parse_args()
    first, second = room_onsets(args.report_dir, args.first), room_onsets(args.report_dir, args.second)
    if first.keys() != second.keys():
        raise SystemExit(f"'{args.first}' and '{args.second}' were not run on the same rooms: compare detectors of one run")
    fewer = sum(second[room] < n for room, n in first.items())
    more = sum(second[room] > n for room, n in first.items())
    ties = len(first) - fewer - more
    p_value = stats.binomtest(fewer, fewer + more).pvalue if fewer + more else 1.0
    print(f"{len(first)} rooms: {args.second} raised fewer false onsets than {args.first} in {fewer}, as many in "
          f"{ties} ({sum(n == 0 and second[room] == 0 for room, n in first.items())} with none from either), more in "
          f"{more}; sign test p = {p_value:.3g}; onsets {sum(first.values())} → {sum(second.values())}")


if __name__ == "__main__":
    main()
