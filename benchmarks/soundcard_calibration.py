"""Calibrating through a (virtual) sound card chooses what the simulated prober chooses.

For each held-out unit of the calibration study (:func:`~uspd.calibration_study.draw_unit`,
seeds from 1,000,000) the unit is calibrated three ways: the simulated prober at scene
time 0, the simulated prober again at scene time 3 s (other noise: the choice's own
repeat scatter), and the :class:`~uspd.live.soundcard_calibration.SoundCardProber`
through a :class:`~uspd.sim.virtual_card.LoopbackCard` whose mics hear the unit's room
answer whatever it plays. Prints a markdown table: carriers and levels, the card's
level and estimated SPL at 1 m (what the choice minimises) less the simulation's, and the
simulation's own repeat differences.

The virtual room is linear and time-invariant: HVAC turbulence (which modulates the
echoes and adds a floor that grows with the level) is not in it, so on units with HVAC
the card sees only the additive floor.

    python benchmarks/soundcard_calibration.py --units 8
"""

from __future__ import annotations

import argparse

from uspd.calibrate import DeviceProfile, SimulatedProber, calibrate
from uspd.calibration_study import draw_unit
from uspd.config import Config
from uspd.live.soundcard import find_card
from uspd.live.soundcard_calibration import SoundCardProber, card_profile
from uspd.sim.virtual_card import LoopbackCard, RoomLoopback

FIRST_SEED = 1_000_000


def compare(seed: int, config: Config) -> dict:
    unit = draw_unit(seed)
    profile = DeviceProfile.of(unit.scene.device)
    card = LoopbackCard(RoomLoopback(unit.scene, config.simulation), speed=50.0)
    found = find_card(card, None)
    with SoundCardProber(found, card_profile(config.soundcard, found.n_inputs, found.rates_hz[0]), config, card) as prober:
        heard = calibrate(prober, profile, config.calibration, "card")
    rendered, repeat = (calibrate(SimulatedProber(unit.scene, config.simulation, at_s=at_s), profile, config.calibration, "sim")
                        for at_s in (0.0, 3.0))
    return {"seed": seed, "array": unit.scene.device.array, "rate_khz": unit.scene.device.hardware.sample_rate_hz / 1000,
            "hvac": bool(unit.scene.modulators), "card": heard, "sim": rendered, "repeat": repeat}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=8)
    args = parser.parse_args()
    config = Config()
    print("| unit | array | rate (kHz) | HVAC | carrier sim / card (kHz) | level sim / card (dBFS) | level card − sim (dB) "
          "| SPL card − sim (dB) | sim repeat: level, SPL (dB) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for seed in range(FIRST_SEED, FIRST_SEED + args.units):
        r = compare(seed, config)
        sim, card, repeat = r["sim"], r["card"], r["repeat"]
        print(f"| {seed} | {r['array']} | {r['rate_khz']:g} | {'yes' if r['hvac'] else 'no'} | "
              f"{sim.carrier_hz / 1000:g} / {card.carrier_hz / 1000:g} | {sim.level_dbfs:.1f} / {card.level_dbfs:.1f} | "
              f"{card.level_dbfs - sim.level_dbfs:+.1f} | {card.spl_db - sim.spl_db:+.1f} | "
              f"{repeat.level_dbfs - sim.level_dbfs:+.1f}, {repeat.spl_db - sim.spl_db:+.1f}"
              f"{'' if repeat.carrier_hz == sim.carrier_hz else f' ({repeat.carrier_hz / 1000:g} kHz)'} |", flush=True)


if __name__ == "__main__":
    main()
