"""Duty-cycling closed loop: the scheduler acting on the chain while the scene renders through its gate."""

from datetime import datetime

import numpy as np
import pytest
from typer.testing import CliRunner

from uspd.cli import app
from uspd.config import Config
from uspd.dutycycle import MODES, WindowResult, occupied_windows, run_chain, summarize_day
from uspd.live.journal import Journal
from uspd.live.routines import Timeline
from uspd.live.run import LiveChain, run_live
from uspd.live.sources import SimulatedSource
from uspd.sim.scenarios import build_scene

CONFIG = Config().model_copy(update={"duty_cycle": Config().duty_cycle.model_copy(update={"enabled": True, "off_s": 10.0})})


def test_closed_loop_on_a_walk_in():
    scene = build_scene("walk_in", 21, duration_s=60.0)
    run = run_chain(scene, CONFIG, duty=True)
    d = run.decisions
    entered = next(e.time_s for e in d.events if e.event == "occupied")
    modes = [mode for _, mode in run.transitions]
    assert modes[:2] == ["off", "probe"]
    first_off = run.transitions[0][0]
    assert entered < first_off <= entered + 1.0 + 1e-9  # off at the end of the block that established presence
    # while off the chain gets no data (scores 0) and the tone is truly off for off_s
    off = (d.time_s > first_off + 0.1) & (d.time_s < first_off + 9.9)
    assert off.any() and np.all(d.score[off] == 0.0)
    assert run.gate.gain(np.array([first_off + 5.0]))[0] == 0.0
    assert 20.0 < run.duty.duty_pct < 90.0
    assert d.occupied[d.time_s > entered].all()  # duty-cycling lost no presence here


def test_continuous_mode_keeps_the_tone_on():
    scene = build_scene("walk_in", 21, duration_s=20.0)
    run = run_chain(scene, CONFIG, duty=False)
    assert run.duty.duty_pct == 100.0 and run.transitions == []


def test_windows_pad_and_join_occupied_spans():
    truth = np.zeros(3000, dtype=bool)
    truth[500:600] = True
    truth[700:800] = True  # 100 s later: joined with the first (padding reaches it)
    truth[2800:2900] = True  # near the end: cut at the end
    windows = occupied_windows(truth, 1.0, hold_s=180.0, end_s=3000.0)
    assert windows == [(380.0, 1160.0), (2680.0, 3000.0)]


def test_day_summary_numbers():
    def window(mode, on_s, latency):
        return WindowResult(mode, 0.0, 1000.0, on_s, on_s / 2, 600.0, 4, {"500": latency}, 0, 1.0)

    results = [window("continuous", 1000.0, 60.0), window("duty-cycled", 400.0, 90.0)]
    summary = summarize_day(10000.0, [(0.0, 1000.0)], results)
    assert summary["modes"]["continuous"]["duty_day_pct"] == pytest.approx(100.0)
    assert summary["modes"]["duty-cycled"]["duty_day_pct"] == pytest.approx(94.0)
    assert summary["modes"]["duty-cycled"]["duty_occupied_pct"] == pytest.approx(100.0 * 200.0 / 600.0)
    assert summary["latency_cost_s"]["mean"] == pytest.approx(30.0)
    assert set(summary["modes"]) == set(MODES)


def test_live_chain_duty_cycles_like_the_offline_loop(tmp_path):
    """`uspd run` with [duty_cycle] enabled: the same switches and decisions as run_chain."""
    scene = build_scene("walk_in", 21, duration_s=40.0)
    source = SimulatedSource(scene, CONFIG)
    with Journal(tmp_path / "events.sqlite3") as journal:
        chain = LiveChain(CONFIG, source.velocity_m_s, journal=journal, timeline=Timeline(datetime(2024, 5, 1)),
                          source_name=source.name)
        run_live(source, chain, speed=None)
    offline = run_chain(scene, CONFIG, duty=True)
    assert source.tone_gate.times_s == offline.gate.times_s and len(offline.gate.times_s) >= 2
    assert chain.status.emission == offline.transitions[-1][1]
    assert chain.status.duty_pct == pytest.approx(offline.duty.duty_pct, abs=0.5)
    assert chain.status.dropped_frames == 0


def test_run_refuses_duty_cycling_a_recording(tmp_path):
    import soundfile

    wav = tmp_path / "tone.wav"
    t = np.arange(96000) / 96000.0
    soundfile.write(wav, 0.3 * np.sin(2 * np.pi * 32000.0 * t), 96000)
    config = tmp_path / "uspd.toml"
    config.write_text("[duty_cycle]\nenabled = true\n")
    result = CliRunner().invoke(app, ["run", "--wav", str(wav), "--config", str(config), "--no-view", "--fast",
                                      "--journal", str(tmp_path / "events.sqlite3")])
    assert result.exit_code == 2 and "a recording cannot gate its tone" in result.output


def test_day_cache_belongs_to_one_scene_and_config(tmp_path):
    from uspd.dutycycle import run_day

    scene = build_scene("empty_quiet", 1, duration_s=5.0)  # nobody: no windows to run
    summary = run_day(scene, CONFIG, tmp_path)
    assert summary["windows"] == 0 and summary["modes"]["duty-cycled"]["duty_day_pct"] == pytest.approx(100.0)
    other = CONFIG.model_copy(update={"duty_cycle": CONFIG.duty_cycle.model_copy(update={"off_s": 20.0})})
    with pytest.raises(ValueError, match="another scene or config"):
        run_day(scene, other, tmp_path)


def test_day_cache_notices_a_network_replaced_in_place(tmp_path):
    import shutil

    from uspd.detect.neural import default_model_path
    from uspd.dutycycle import run_day

    model = tmp_path / "motion.onnx"
    shutil.copy(default_model_path(), model)
    config = CONFIG.model_copy(update={"detect": CONFIG.detect.model_copy(update={"detector": "neural", "model": model})})
    scene = build_scene("empty_quiet", 1, duration_s=5.0)
    run_day(scene, config, tmp_path / "day")
    run_day(scene, config, tmp_path / "day")  # the same network: the cache is reused
    shutil.copy(default_model_path().with_name("seed.fp32.onnx"), model)  # same path and config, other weights
    with pytest.raises(ValueError, match="another scene or config"):
        run_day(scene, config, tmp_path / "day")


def test_duty_cycle_periods_changed_live_reach_the_scheduler(tmp_path):
    """The dashboard's settings path: new periods given to the chain are the ones the
    scheduler switches by (an off period of 5 s instead of 10 s)."""
    scene = build_scene("walk_in", 21, duration_s=40.0)
    source = SimulatedSource(scene, CONFIG)
    with Journal(tmp_path / "events.sqlite3") as journal:
        chain = LiveChain(CONFIG, source.velocity_m_s, journal=journal, timeline=Timeline(datetime(2024, 5, 1)),
                          source_name=source.name)
        shorter = CONFIG.duty_cycle.model_copy(update={"off_s": 5.0})
        chain.update_settings(CONFIG.presence, {}, shorter)
        run_live(source, chain, speed=None)
    modes = source.cycler.transitions
    offs = [(t, next(t2 for t2, m2 in modes if t2 > t)) for t, m in modes if m == "off" and t < modes[-1][0]]
    assert offs and all(end - start == pytest.approx(5.0, abs=0.15) for start, end in offs)


def test_a_probe_cycle_longer_than_the_hold_time_is_refused_when_the_config_loads():
    from uspd.config import ConfigError, config_from_dict

    with pytest.raises(ConfigError, match=r"duty_cycle.off_s \+ probe_s \(184 s\) must be shorter than presence.hold_s"):
        config_from_dict({"duty_cycle": {"enabled": True, "off_s": 180}, "presence": {"hold_s": 180}})
    assert config_from_dict({"duty_cycle": {"enabled": False, "off_s": 180}}).duty_cycle.off_s == 180
