"""The calibration's periodic re-check while running: the tone pauses for a probe, an
unchanged room logs one line, a changed one (furniture added since calibrating) is
calibrated again in the pause, saved, and the tone resumes at the new level."""

import dataclasses
from datetime import datetime

import numpy as np
import pytest

from uspd.calibrate import CalibrationStore, DeviceProfile, SimulatedProber, calibrate
from uspd.calibration_study import draw_unit
from uspd.config import Config
from uspd.live.journal import Journal
from uspd.live.recheck import PeriodicRecheck
from uspd.live.routines import Timeline
from uspd.live.run import LiveChain, run_live
from uspd.live.sources import SimulatedSource
from uspd.sim.room import Furniture

QUIET_UNIT = 2009  # the calibration tests' unit: one mic, no HVAC
EVERY_S = 8.0
CONFIG = Config().model_copy(update={"calibration": Config().calibration.model_copy(
    update={"recheck_every_h": EVERY_S / 3600})})


@pytest.fixture(scope="module")
def calibrated():
    unit = draw_unit(QUIET_UNIT)
    profile = DeviceProfile.of(unit.scene.device)
    return unit.scene, profile, calibrate(SimulatedProber(unit.scene, CONFIG.simulation), profile, CONFIG.calibration, "sim:unit")


def _run(scene, profile, calibration, tmp_path):
    store = CalibrationStore(tmp_path / "calibration.json")
    store.save(calibration)
    lines: list[str] = []
    recheck = PeriodicRecheck(calibration, profile, CONFIG.calibration, store, lines.append)
    source = SimulatedSource(scene, CONFIG, calibration=calibration, recheck=recheck)
    heard = []
    with Journal(tmp_path / "events.sqlite3") as journal:
        chain = LiveChain(CONFIG, source.velocity_m_s, journal=journal, timeline=Timeline(datetime(2024, 5, 1)),
                          source_name=source.name)
        chain.listeners.append(lambda power, decisions, firings: heard.append((power, decisions.time_s)))
        run_live(source, chain, speed=None)
    power = np.concatenate([p for p, _ in heard])
    times = np.concatenate([t for _, t in heard])
    return source, store, lines, power, times


def _blank(power, times, start_s, stop_s):
    inside = (times > start_s) & (times <= stop_s)
    return inside.sum() > 0.9 * (stop_s - start_s) / CONFIG.frontend.hop_s and not power[inside].any()


def test_an_unchanged_room_pauses_the_tone_for_a_probe_and_logs_one_line(calibrated, tmp_path):
    scene, profile, calibration = calibrated
    source, store, lines, power, times = _run(dataclasses.replace(scene, duration_s=22.0), profile, calibration, tmp_path)
    probe_s = CONFIG.calibration.probe_on_s + CONFIG.calibration.probe_off_s
    assert len(lines) == 2 and all(line.endswith(": unchanged") for line in lines)
    # at 8 s, then at the end of the first 1 s block 8 s after the first probe ended
    assert source.tone_gate.times_s == [8.0, 8.0 + probe_s, 18.0, 18.0 + probe_s]
    assert _blank(power, times, 8.0, 8.0 + probe_s) and power[(times > 2.0) & (times < 8.0)].any()
    assert store.load("sim:unit") == calibration and source.level_dbfs == calibration.level_dbfs


def test_a_changed_room_is_calibrated_again_in_the_pause(calibrated, tmp_path):
    scene, profile, calibration = calibrated
    x, y, _ = scene.device.position_m
    sofa = Furniture((x + 1.2, y + 0.4, 0.6), 0.3)
    furnished = dataclasses.replace(scene, duration_s=42.0, room=dataclasses.replace(
        scene.room, furniture=scene.room.furniture + (sofa,)))
    source, store, lines, power, times = _run(furnished, profile, calibration, tmp_path)
    pause_s = (CONFIG.calibration.probe_on_s + CONFIG.calibration.probe_off_s) * (1 + len(profile.candidate_carriers(CONFIG.calibration)))
    assert "echoes changed" in lines[0] and "re-calibrated to" in lines[0]
    assert lines[1].endswith(": unchanged")  # the next re-check agrees with the new calibration
    again = store.load("sim:unit")
    assert again.created_unix_s > calibration.created_unix_s and again.reference != calibration.reference
    assert source.tone_gate.times_s[:2] == [8.0, 8.0 + pause_s]
    assert _blank(power, times, 8.0, 8.0 + pause_s)
    if again.carrier_hz == calibration.carrier_hz:  # the tone resumed at the new level
        assert source.calibration == again and source.level_dbfs == again.level_dbfs


def test_uspd_run_rechecks_a_calibrated_unit_only_when_asked(tmp_path):
    from typer.testing import CliRunner

    from uspd.cli import _live_source, app

    result = CliRunner().invoke(app, ["calibrate", "--scenario", "empty_quiet", "--seed", "3",
                                      "--store", str(tmp_path / "calibration.json")])
    assert result.exit_code == 0, result.output
    journal = tmp_path / "events.sqlite3"  # the store beside it is the default
    asked, _ = _live_source(CONFIG, "empty_quiet", 3, 2.0, False, None, False, None, journal)
    assert asked.recheck is not None and asked.recheck.every_s == EVERY_S and asked.recheck.calibration == asked.calibration
    assert _live_source(Config(), "empty_quiet", 3, 2.0, False, None, False, None, journal)[0].recheck is None
    assert _live_source(CONFIG, "empty_quiet", 4, 2.0, False, None, False, None, journal)[0].recheck is None  # not calibrated
