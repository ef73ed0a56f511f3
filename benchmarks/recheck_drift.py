"""How far the re-check's echo change moves in unchanged and changed rooms (tuning seeds).

    python benchmarks/recheck_drift.py --units 12

For each tuning unit × room (seeds from 1000, drawn as the calibration study draws them:
HVAC in about half), calibrate, then re-check a minute later in the room as it was, with
the air 3 °C warmer, with the device moved 30 cm, and with one 0.05 m² reflector brought
in 1.3 m away. Prints each case's echo change (``Drift.echo_change``; a re-calibration
follows above ``[calibration] echo_tolerance``) and the chosen carrier, per unit and as
ranges split by HVAC. Unchanged rooms must stay under the tolerance, changed ones above.
"""

from __future__ import annotations

import argparse
import dataclasses

import numpy as np

from uspd.calibrate import DeviceProfile, SimulatedProber, calibrate, recheck
from uspd.calibration_study import draw_unit
from uspd.config import Config
from uspd.sim.room import Furniture

TUNING_SEED_START = 1000
RECHECK_AT_S = 60.0  # a later stretch of the same room: its noise differs


def changes(scene) -> dict:
    """The rooms a re-check is compared in: as calibrated, and three kinds of drift."""
    x, y, z = scene.device.position_m
    warmer = dataclasses.replace(scene.environment, temperature_c=scene.environment.temperature_c + 3.0)
    reflector = Furniture((x + 1.2, y + 0.5, 0.6), 0.05)
    return {
        "unchanged": scene,
        "+3 °C": dataclasses.replace(scene, environment=warmer),
        "moved 30 cm": dataclasses.replace(scene, device=dataclasses.replace(scene.device, position_m=(x, y + 0.3, z))),
        "0.05 m² reflector": dataclasses.replace(
            scene, room=dataclasses.replace(scene.room, furniture=scene.room.furniture + (reflector,))),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=12)
    args = parser.parse_args()
    config = Config()
    tolerance = config.calibration.echo_tolerance
    found: dict[tuple[str, bool], list[float]] = {}
    for seed in range(TUNING_SEED_START, TUNING_SEED_START + args.units):
        scene = draw_unit(seed).scene
        hvac = bool(scene.modulators)
        result = calibrate(SimulatedProber(scene, config.simulation), DeviceProfile.of(scene.device), config.calibration,
                           device_id=f"sim:recheck_drift:{seed}")
        row = []
        for case, changed in changes(scene).items():
            drift = recheck(result, SimulatedProber(changed, config.simulation, at_s=RECHECK_AT_S), config.calibration)
            found.setdefault((case, hvac), []).append(drift.echo_change)
            row.append(f"{case} {100 * drift.echo_change:.0f} %")
        print(f"unit {seed}: {result.carrier_hz / 1000:g} kHz at {result.level_dbfs:.1f} dBFS "
              f"(re-check probe {result.reference.level_dbfs:.1f} dBFS){', HVAC' if hvac else ''}: " + ", ".join(row))
    print(f"\necho change, min–max over units (re-calibration above {100 * tolerance:.0f} %):")
    for (case, hvac), values in found.items():
        print(f"  {case:18s} {'with HVAC' if hvac else 'no HVAC':9s} n={len(values):2d}  "
              f"{100 * np.min(values):.0f}–{100 * np.max(values):.0f} %")


if __name__ == "__main__":
    main()
