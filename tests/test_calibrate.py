"""Calibration: probe measurements, the link budget, the choice, the SPL cap, storage, re-check."""

import dataclasses

import numpy as np
import pytest
from typer.testing import CliRunner

from uspd.calibrate import (
    CalibrationStore, DeviceProfile, LinkBudget, SimulatedProber, calibrate, choose, measure_probe, probe_carrier,
    recheck,
)
from uspd.calibration_study import draw_unit, true_spl_db
from uspd.cli import app
from uspd.config import CalibrationConfig, Config
from uspd.sim.room import Furniture
from uspd.sim.sources import AirflowHiss

CONFIG = Config()
QUIET_UNIT = 2009  # a tuning-range unit without HVAC: one mic, fast to probe


def test_measure_probe_on_a_known_signal():
    """A constant response per mic plus white noise of known PSD, switched off after 1 s."""
    rate, level_dbfs = 3000.0, -30.0
    rng = np.random.default_rng(0)
    response = np.array([0.5 * np.exp(0.3j), 0.25 * np.exp(-1.0j)])
    n = int(1.5 * rate)
    on = np.arange(n) < int(1.0 * rate)
    psd = 1e-10  # two-sided, units²/Hz
    noise = np.sqrt(psd * rate / 2) * (rng.standard_normal((2, n)) + 1j * rng.standard_normal((2, n)))
    x = response[:, None] * 10 ** (level_dbfs / 20) * on + noise
    probe = measure_probe(x, rate, 30000.0, level_dbfs, on_s=1.0, temperature_c=20.0)
    np.testing.assert_allclose(probe.response, response, rtol=0.01)
    assert probe.floor_off_psd == pytest.approx(psd, rel=0.15)
    assert probe.floor_on_psd == pytest.approx(psd, rel=0.15)
    assert probe.coupling_db == pytest.approx(10 * np.log10(np.mean(np.abs(response) ** 2)), abs=0.1)
    assert probe.decay_ms < 1.0  # an instant switch-off: no room


def test_link_budget_closed_form():
    budget = LinkBudget(echo=1e-6, floor=1e-12, mult=0.0, spl_at_0dbfs_db=90.0)
    assert budget.snr_db(-20.0) == pytest.approx(40.0)
    assert budget.snr_db(budget.level_for_snr_db(10.0)) == pytest.approx(10.0)
    noisy = dataclasses.replace(budget, mult=1e-7)  # multiplicative noise caps the SNR at 10 dB
    assert noisy.level_for_snr_db(12.0) is None
    assert noisy.snr_db(noisy.level_for_snr_db(5.0)) == pytest.approx(5.0)


@pytest.fixture(scope="module")
def quiet_unit():
    unit = draw_unit(QUIET_UNIT)
    assert not unit.scene.modulators
    profile = DeviceProfile.of(unit.scene.device)
    result = calibrate(SimulatedProber(unit.scene, CONFIG.simulation), profile, CONFIG.calibration, "unit")
    return unit, profile, result


def test_calibration_meets_target_with_lowest_level(quiet_unit):
    unit, profile, result = quiet_unit
    cfg = CONFIG.calibration
    assert [c.probe.carrier_hz for c in result.candidates] == list(np.arange(32000.0, 46001.0, 2000.0))
    assert result.target_met and result.predicted_snr_db == pytest.approx(cfg.target_snr_db, abs=0.01)
    # the SPL it estimates from the nominal design is within a few dB of the unit's truth
    assert abs(result.spl_db - true_spl_db(unit.scene, result.carrier_hz, result.level_dbfs)) < 4.0
    chosen_spl = [c.spl_at_0dbfs_db + c.needed_level_dbfs for c in result.candidates if c.feasible]
    assert result.spl_db == pytest.approx(min(chosen_spl))
    # a lower target needs less, a longer range more
    probes = [c.probe for c in result.candidates]
    easier = choose(probes, profile, cfg.model_copy(update={"target_snr_db": cfg.target_snr_db - 10}), "unit")
    farther = choose(probes, profile, cfg.model_copy(update={"target_range_m": 6.0}), "unit")
    assert easier.spl_db == pytest.approx(result.spl_db - 10.0, abs=0.5)
    assert farther.spl_db > result.spl_db + 5.0


def test_spl_cap_wins_over_target(quiet_unit):
    _, profile, result = quiet_unit
    cap = result.spl_db - 15.0
    capped = choose([c.probe for c in result.candidates], profile,
                    CONFIG.calibration.model_copy(update={"max_spl_db": cap}), "unit")
    assert not capped.target_met
    assert capped.spl_db <= cap + 1e-6
    assert capped.predicted_snr_db < CONFIG.calibration.target_snr_db


def test_louder_room_needs_more_level(quiet_unit):
    unit, profile, result = quiet_unit
    hiss = AirflowHiss.sample(np.random.default_rng(1), unit.scene.room.size_m, unit.scene.device.position_m, 10.0,
                              unit.scene.carrier_hz, windows_s=((0.0, 1e6),), level_db_spl=50.0)
    noisy = dataclasses.replace(unit.scene, sources=(hiss,))
    loud = calibrate(SimulatedProber(noisy, CONFIG.simulation), profile, CONFIG.calibration, "unit")
    same = next(c for c in loud.candidates if c.probe.carrier_hz == result.carrier_hz)
    assert same.probe.floor_db > result.reference.floor_db + 6.0
    assert loud.spl_db > result.spl_db + 6.0


def test_store_round_trip(tmp_path, quiet_unit):
    _, _, result = quiet_unit
    store = CalibrationStore(tmp_path / "calibration.json")
    assert store.load("unit") is None
    store.save(result)
    store.save(dataclasses.replace(result, device_id="other", level_dbfs=-40.0))
    assert store.load("unit") == result
    assert store.load("other").level_dbfs == -40.0
    (tmp_path / "calibration.json").write_text("{")
    with pytest.raises(ValueError, match="not valid JSON"):
        store.load("unit")


def test_recheck_triggers_on_drift_only(quiet_unit):
    unit, _, result = quiet_unit
    scene, cfg = unit.scene, CONFIG.calibration

    def drift(changed):
        return recheck(result, SimulatedProber(changed, CONFIG.simulation, at_s=40.0), cfg)

    unchanged = drift(scene)
    assert not unchanged.drifted and unchanged.echo_change < 0.25
    x, y, z = scene.device.position_m
    moved = drift(dataclasses.replace(scene, device=dataclasses.replace(scene.device, position_m=(x, y + 0.3, z))))
    warmer = drift(dataclasses.replace(scene, environment=dataclasses.replace(
        scene.environment, temperature_c=scene.environment.temperature_c + 3.0)))
    sofa = Furniture((x + 1.2, y + 0.4, 0.6), 0.1)
    furnished = drift(dataclasses.replace(scene, room=dataclasses.replace(scene.room, furniture=scene.room.furniture + (sofa,))))
    for found in (moved, warmer, furnished):
        assert found.drifted and found.echo_change > 2 * cfg.echo_tolerance * 0.5
        assert "echoes changed" in found.reason


def test_probe_records_room_decay(quiet_unit):
    unit, _, _ = quiet_unit
    probe = probe_carrier(SimulatedProber(unit.scene, CONFIG.simulation), 24000.0, CONFIG.calibration)
    assert 1.0 < probe.decay_ms < 20.0
    assert np.asarray(probe.tail).shape == (unit.scene.device.n_mics, 30)


def test_calibrate_cli(tmp_path):
    runner = CliRunner()
    store = tmp_path / "calibration.json"
    result = runner.invoke(app, ["calibrate", "--scenario", "empty_quiet", "--seed", "3", "--store", str(store)])
    assert result.exit_code == 0, result.output
    assert "sim:empty_quiet:3: carrier" in result.output and store.exists()
    again = runner.invoke(app, ["calibrate", "--scenario", "empty_quiet", "--seed", "3", "--store", str(store),
                                "--recheck", "--at", "10"])
    assert again.exit_code == 0 and "unchanged" in again.output
    missing = runner.invoke(app, ["calibrate", "--scenario", "empty_quiet", "--seed", "4", "--store", str(store), "--recheck"])
    assert missing.exit_code == 2 and "no saved calibration" in missing.output
    late = runner.invoke(app, ["calibrate", "--scenario", "empty_quiet", "--at", "99", "--store", str(store)])
    assert late.exit_code == 2 and "outside the 20 s scene" in late.output


def test_config_rejects_inverted_levels():
    with pytest.raises(ValueError, match="min_level_dbfs"):
        CalibrationConfig(min_level_dbfs=-3.0, max_level_dbfs=-6.0)


def test_a_calibrated_simulated_unit_runs_live_at_its_carrier_and_level(tmp_path):
    from uspd.cli import _live_source
    from uspd.dashboard.feed import emission_state
    from uspd.live.run import LiveStatus

    journal = tmp_path / "events.sqlite3"
    result = CliRunner().invoke(app, ["calibrate", "--scenario", "empty_quiet", "--seed", "3",
                                      "--store", str(tmp_path / "calibration.json")])  # beside the journal: the default
    assert result.exit_code == 0, result.output
    saved = CalibrationStore(tmp_path / "calibration.json").load("sim:empty_quiet:3")
    source, _ = _live_source(Config(), "empty_quiet", 3, 2.0, False, None, False, None, journal)
    assert source.calibration == saved
    assert (source.carrier_hz, source.level_dbfs) == (saved.carrier_hz, saved.level_dbfs)
    shown = emission_state(source, LiveStatus(history_frames=10, recent_events=2))
    assert shown["calibration"]["level_dbfs"] == saved.level_dbfs and shown["carrier_hz"] == saved.carrier_hz
    other, _ = _live_source(Config(), "empty_quiet", 4, 2.0, False, None, False, None, journal)
    assert other.calibration is None and emission_state(other, LiveStatus(10, 2))["calibration"] is None
