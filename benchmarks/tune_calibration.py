"""Tune calibration's target Doppler SNR on tuning seeds (below the held-out range).

    python benchmarks/tune_calibration.py --units 30 --out docs/calibration/tuning.md

For each tuning unit × room (seeds from 1000, drawn as the study draws them), probe once,
then for every candidate target SNR choose the carrier and level from the same probes and
run a walk at 4 m (and 2 m) through the chain at that setting, beside the fixed setting.
The chosen target (the lowest whose walking-frame detection at 4 m is within one point of
the fixed setting's, with no more walks missed) goes into ``CalibrationConfig``'s default by
hand; ``uspd calibrate --study`` then judges it on held-out units.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from uspd.calibrate import DeviceProfile, SimulatedProber, calibrate, choose
from uspd.calibration_study import RANGES_M, detect_walk, draw_unit, fixed_setting, true_spl_db, walk_scene
from uspd.config import Config

TUNING_SEED_START = 1000
TARGETS_DB = (0.0, 5.0, 10.0, 15.0, 20.0, 25.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=30)
    parser.add_argument("--out", type=Path, default=Path("docs/calibration/tuning.md"))
    args = parser.parse_args()
    config = Config()
    started = time.monotonic()
    rows: dict[str, dict] = {name: {"spl": [], **{f"{r:g}": ([], []) for r in RANGES_M}}
                             for name in ["fixed", *map(str, TARGETS_DB)]}
    for i in range(args.units):
        unit = draw_unit(TUNING_SEED_START + i)
        profile = DeviceProfile.of(unit.scene.device)
        probes = [c.probe for c in calibrate(SimulatedProber(unit.scene, config.simulation), profile,
                                             config.calibration, "tuning").candidates]
        settings = {"fixed": fixed_setting(unit.scene, config)}
        for target in TARGETS_DB:
            cal = choose(probes, profile, config.calibration.model_copy(update={"target_snr_db": target}), "tuning")
            settings[str(target)] = (cal.carrier_hz, cal.level_dbfs)
        for name, (carrier_hz, level_dbfs) in settings.items():
            rows[name]["spl"].append(true_spl_db(unit.scene, carrier_hz, level_dbfs))
            for range_m in RANGES_M:
                hit, share = detect_walk(walk_scene(unit, range_m, carrier_hz, level_dbfs), config)
                rows[name][f"{range_m:g}"][0].append(hit)
                rows[name][f"{range_m:g}"][1].append(share)
        print(f"unit {i + 1}/{args.units} done, {time.monotonic() - started:.0f} s", flush=True)

    lines = ["# Calibration tuning: target Doppler SNR", "",
             f"Made by `python benchmarks/tune_calibration.py --units {args.units} --out {args.out}` "
             f"(tuning seeds {TUNING_SEED_START}–{TUNING_SEED_START + args.units - 1}, never the held-out ones), "
             f"{time.monotonic() - started:.0f} s.", "",
             "| setting | mean SPL (dB at 1 m) | 2 m: walks detected | 2 m: walking frames | 4 m: walks detected | 4 m: walking frames |",
             "|---|---:|---:|---:|---:|---:|"]
    for name, row in rows.items():
        label = "fixed level" if name == "fixed" else f"target {float(name):g} dB"
        cells = [f"{np.mean(row['spl']):.1f}"]
        for range_m in RANGES_M:
            hits, shares = row[f"{range_m:g}"]
            cells += [f"{100 * np.mean(hits):.0f} %", f"{100 * np.mean(shares):.1f} %"]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    far = f"{max(RANGES_M):g}"
    fixed_hits, fixed_frames = (np.mean(v) for v in rows["fixed"][far])
    passing = [t for t in TARGETS_DB
               if np.mean(rows[str(t)][far][0]) >= fixed_hits and np.mean(rows[str(t)][far][1]) >= fixed_frames - 0.01]
    lines += ["", f"Chosen by the rule above (the lowest target within one point of the fixed level's walking frames at "
              f"{far} m, no walk missed that it caught): " + (f"**{min(passing):g} dB**." if passing else "none passes.")]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
