"""The evaluation harness: metrics with known answers on hand-made frames, and a tiny real run."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from uspd.cli import app
from uspd.config import PresenceConfig
from uspd.detect.presence import run_presence
from uspd.evaluate import (
    HELD_OUT_SEED_START,
    WARMUP_S,
    EvaluationSettings,
    SceneFrames,
    SceneJob,
    arrivals,
    at_equal_detection,
    calibrated_scene,
    debounce,
    det_curve,
    distractor_rows,
    events_hit,
    false_alarm_row,
    false_onsets,
    first_after_s,
    hardest_walks,
    motion_events,
    onsets,
    plan_scenes,
    poisson_upper_95,
    rate_by_distance,
    rate_per_hour,
    run_scene,
    spans,
    write_comparison,
)

HOP_S = 0.02
runner = CliRunner()


def _frames(group: str, score: np.ndarray, truth_motion: list[str] | None = None) -> SceneFrames:
    """Hand-made frames: a human scene (truth_motion given, a person at 2 m throughout) or an empty one."""
    n = len(score)
    motion = np.array(truth_motion or ["none"] * n)
    human = truth_motion is not None
    return SceneFrames(
        job=SceneJob(group, group, HELD_OUT_SEED_START, n * HOP_S, None), array="single", carrier_hz=32000.0,
        level_dbfs=-6.0,
        time_s=(np.arange(n) + 1) * HOP_S, score=np.asarray(score, dtype=np.float32),
        moving=np.zeros(n, bool), occupied=np.zeros(n, bool), truth_motion=motion,
        truth_occupied=np.full(n, human), distance_m=np.full(n, 2.0 if human else np.nan),
    )


def test_spans_and_debounce_follow_the_presence_machine():
    active = np.array([0, 1, 1, 0, 1, 1, 1, 1, 0, 1], bool)
    start, stop = spans(active)
    np.testing.assert_array_equal(start, [1, 4, 9])
    np.testing.assert_array_equal(stop, [3, 8, 10])
    # motion is confirmed on the third consecutive frame over the threshold, not before
    np.testing.assert_array_equal(debounce(active, 3), [0, 0, 0, 0, 0, 0, 1, 1, 0, 0])
    # and ends on the release_frames-th consecutive frame that confirms nothing
    np.testing.assert_array_equal(debounce(active, 3, release_frames=2), [0, 0, 0, 0, 0, 0, 1, 1, 1, 0])
    np.testing.assert_array_equal(debounce(active, 1, release_frames=2), [0, 1, 1, 1, 1, 1, 1, 1, 1, 1])


def test_the_sweep_shows_motion_as_the_presence_machine_does_in_a_vacant_room():
    """The DET sweep's debounce and the presence machine agree frame by frame while the room
    stays vacant (no context, no minor-occupancy), so sweep and chain count the same onsets."""
    config = PresenceConfig(minor_occupy_s=20.0, release_frames=10)
    time_s = (np.arange(5000) + 1) * 0.02
    rng = np.random.default_rng(1)
    minor_score = (config.minor_threshold + config.major_threshold) / 2
    score = np.where(rng.random(5000) < 0.3, minor_score, 0.05)  # minor-level flicker, never occupies
    motion, occupied, _ = run_presence(time_s, score, config)
    assert not occupied.any() and (motion != "none").any()
    swept = debounce(score >= config.minor_threshold, config.confirm_frames, config.release_frames)
    np.testing.assert_array_equal(motion != "none", swept)
    assert len(onsets(swept)) < len(onsets(debounce(score >= config.minor_threshold, config.confirm_frames)))


def test_events_are_hit_within_the_span_or_its_tolerance():
    truth = np.array(["none", "major", "major", "none", "none", "none", "major", "none", "none", "none"])
    start, stop = spans(truth == "major")
    late = np.zeros(10, bool)
    late[4] = True  # two frames after the first span, long before the second
    np.testing.assert_array_equal(events_hit(start, stop, late, tolerance_frames=2), [True, False])
    np.testing.assert_array_equal(events_hit(start, stop, late, tolerance_frames=1), [False, False])


def test_detection_rate_by_distance_bins():
    rows = rate_by_distance(np.array([0.5, 1.5, 1.7, 4.2, 6.0]), np.array([True, True, False, False, True]))
    assert [r["bin"] for r in rows] == ["0–1 m", "1–2 m", "2–3 m", "3–4 m", "4–5 m", "5+ m"]
    assert [r["events"] for r in rows] == [1, 2, 0, 0, 1, 1]
    assert [r["rate"] for r in rows] == [1.0, 0.5, None, None, 0.0, 1.0]


def test_latency_runs_from_the_arrival_to_the_first_detection():
    truth_occupied = np.zeros(40, bool)
    truth_occupied[10:30] = True
    truth_motion = np.full(40, "none", dtype="<U5")
    truth_motion[12:20] = "major"
    start, stop = arrivals(truth_motion, truth_occupied)
    np.testing.assert_array_equal(start, [12])
    np.testing.assert_array_equal(stop, [30])
    time_s = (np.arange(40) + 1) * HOP_S
    moving = np.zeros(40, bool)
    moving[15] = True
    np.testing.assert_allclose(first_after_s(start, stop, moving, time_s), [3 * HOP_S])
    assert np.isnan(first_after_s(start, stop, np.zeros(40, bool), time_s)[0])  # never seen: missed


def test_false_alarm_rate_and_its_zero_alarm_upper_bound():
    assert poisson_upper_95(0) == pytest.approx(-np.log(0.05))  # the "rule of three"
    assert rate_per_hour(0, 2.0) == {"count": 0, "per_hour": 0.0, "upper95_per_hour": pytest.approx(1.498, abs=1e-3)}
    four = rate_per_hour(4, 2.0)
    assert four["per_hour"] == 2.0 and four["upper95_per_hour"] == pytest.approx(9.154 / 2, abs=1e-3)


def test_false_onsets_skip_the_warm_up_and_occupied_time():
    time_s = np.arange(1, 1001) * HOP_S  # 20 s
    active = np.zeros(1000, bool)
    active[[10, 400, 800]] = True  # at 0.22 s (warm-up), 8 s and 16 s
    occupied = np.zeros(1000, bool)
    occupied[700:900] = True
    assert time_s[10] < WARMUP_S
    assert false_onsets(active, occupied, time_s) == 1


def test_a_flag_stuck_on_raises_no_onset_but_shows_motion_all_the_time():
    stuck, flicker = _frames("empty_quiet", np.ones(1000)), _frames("empty_quiet", np.zeros(1000))
    stuck = SceneFrames(**{**stuck.__dict__, "moving": np.ones(1000, bool)})  # on from the first frame
    flicker.moving[::100] = True  # ten one-frame motions every 2 s, three in the warm-up
    row = false_alarm_row([stuck, flicker])
    assert row["motion"]["count"] == 7 and row["hours"] == pytest.approx(2 * (20.0 - WARMUP_S) / 3600)
    assert row["rooms"] == {"scenes": 2, "with_onsets": 1, "worst_onsets": 7}  # all seven from one room
    counted = 2 * int(np.sum(stuck.time_s > WARMUP_S))
    assert row["motion_shown"] == pytest.approx((counted / 2 + 7) / counted)


def test_det_curve_falls_as_the_threshold_rises():
    rng = np.random.default_rng(0)
    truth = np.where(np.arange(3000) % 100 < 30, "major", "none").tolist()
    human = _frames("walk_in", rng.uniform(0.0, 1.0, 3000) ** 2, truth)
    empty = _frames("empty_quiet", rng.uniform(0.0, 0.8, 30000))
    det = det_curve([human, empty], confirm_frames=3, release_frames=1, tolerance_frames=25, thresholds=(0.1, 0.3, 0.5, 0.7, 0.9))
    major = np.array(det["major_rate"])
    assert major[0] == 1.0 and np.all(np.diff(major) <= 0)
    assert det["minor_rate"] == [None] * 5  # no minor events in these scenes
    fa = det["false_alarms_per_hour"]
    assert fa[0] > fa[2] > 0 and fa[-1] == 0.0  # empty-room scores never reach 0.8
    shown = det["motion_shown"]
    assert 1.0 >= shown[0] > shown[2] > 0 and shown[-1] == 0.0


def test_equal_detection_counts_walks_within_range_and_takes_the_quietest_threshold():
    # ten walks: the first eight at 2 m score 0.9, the ninth at 2 m only 0.3, the tenth at 4.5 m 0.1
    truth, score, distance = [], [], []
    for k in range(10):
        truth += ["none"] * 50 + ["major"] * 20
        score += [0.0] * 50 + [0.9 if k < 8 else 0.3 if k == 8 else 0.1] * 20
        distance += [np.nan] * 50 + [4.5 if k == 9 else 2.0] * 20
    human = _frames("walk_in", np.array(score), truth)
    human = SceneFrames(**{**human.__dict__, "distance_m": np.array(distance)})
    empty = _frames("empty_quiet", np.tile(np.r_[np.zeros(90), np.full(10, 0.5)], 400))  # an onset every 2 s at 0.5
    det = det_curve([human, empty], confirm_frames=3, release_frames=1, tolerance_frames=25, thresholds=(0.2, 0.4, 0.6))
    assert det["major_near_events"] == 9  # the walk at 4.5 m is out of range
    assert det["major_near_rate"] == pytest.approx([1.0, 8 / 9, 8 / 9])
    assert det["major_rate"] == pytest.approx([0.9, 0.8, 0.8])
    assert det["false_alarms_per_hour"][0] > 0 and det["false_alarms_per_hour"][2] == 0.0
    at_85, at_99 = at_equal_detection(det, levels=(0.85, 0.99))
    assert at_85["threshold"] == 0.6 and at_85["false_alarms_per_hour"] == 0.0  # 0.4 reaches it too, with alarms
    assert at_99["threshold"] == 0.2 and at_99["major_near_rate"] == 1.0
    assert at_equal_detection(det, levels=(1.0,))[0]["threshold"] == 0.2
    det["major_near_rate"][0] = 0.5
    assert at_equal_detection(det, levels=(0.99,))[0]["threshold"] is None
    # per walk within range, the highest threshold that detects it; the report lists the lowest first
    assert det["near_walk_threshold"] == [0.6] * 8 + [0.2]
    human = SceneFrames(**{**human.__dict__, "moving": np.array(score) >= 0.5})  # the chain sees the loud walks
    hardest = hardest_walks([human], det["near_walk_threshold"], tolerance_frames=25, count=2)
    assert [(w["highest_threshold"], w["chain_detected"]) for w in hardest] == [(0.2, False), (0.6, True)]
    assert hardest[0]["start_s"] == pytest.approx((8 * 70 + 50 + 1) * HOP_S) and hardest[0]["distance_m"] == 2.0
    never = hardest_walks([human], [0.6] * 7 + [None, 0.2], tolerance_frames=25, count=1)[0]
    assert never["highest_threshold"] is None and never["start_s"] == pytest.approx((7 * 70 + 50 + 1) * HOP_S)


def test_a_calibrated_unit_keeps_its_room_and_plays_what_calibration_chose():
    from uspd.calibrate import DeviceProfile
    from uspd.config import Config
    from uspd.sim.scenarios import build_scene

    job = SceneJob("walk_in", "walk_in", HELD_OUT_SEED_START + 3, 4.0, None, calibrated=True)
    drawn = build_scene(job.name, job.seed, duration_s=job.duration_s)
    scene = calibrated_scene(drawn, job, Config())
    assert scene.room == drawn.room and scene.device == drawn.device and scene.environment == drawn.environment
    assert scene.carrier_hz in DeviceProfile.of(drawn.device).candidate_carriers(Config().calibration)
    assert scene.level_dbfs < drawn.level_dbfs - 10  # the drawn levels (−12…−3 dBFS) are far louder than needed
    frames = run_scene(job, {"neural": Config()})["neural"]
    assert (frames.carrier_hz, frames.level_dbfs) == (scene.carrier_hz, scene.level_dbfs)
    assert plan_scenes(EvaluationSettings(hours=0.1, scenes_per_kind=1, calibrated=True))[-1].calibrated


def test_held_out_plan_splits_the_hours_over_distractors():
    jobs = plan_scenes(EvaluationSettings(hours=1.0, scenes_per_kind=2, seed_offset=5))
    assert min(job.seed for job in jobs) == HELD_OUT_SEED_START + 5
    empty = [job for job in jobs if not job.is_human]
    assert sum(job.duration_s for job in empty) == pytest.approx(3600.0)
    assert {"cat", "dog", "empty_fan", "ceiling_fan", "music_loud_empty"} <= {job.name for job in empty}
    assert sum(job.is_human for job in jobs) == 2 * 6


def test_hours_can_go_to_chosen_distractors_only():
    rows = distractor_rows(["cat", "quiet", "desk fan"])  # a scenario stands for its row; report order
    assert rows == ("quiet", "desk fan", "pet (cat, dog)")
    jobs = plan_scenes(EvaluationSettings(hours=0.5, scenes_per_kind=0, distractors=rows))
    assert {job.group for job in jobs} == set(rows)
    assert sum(job.duration_s for job in jobs) == pytest.approx(1800.0)
    assert {job.name for job in jobs} == {"empty_quiet", "empty_fan", "cat", "dog"}


def test_rare_event_homes_are_asked_for_by_name_and_last_an_hour_each():
    from uspd.model.data import EMPTY_SCENARIOS

    assert "rare-event homes" not in EvaluationSettings().distractors  # not in the default rows …
    assert "rare_events_home" not in EMPTY_SCENARIOS  # … nor in the labeled training set
    rows = distractor_rows(["rare_events_home"])
    assert rows == ("rare-event homes",)
    jobs = plan_scenes(EvaluationSettings(hours=3.0, scenes_per_kind=0, distractors=rows))
    assert [(job.name, job.duration_s) for job in jobs] == [("rare_events_home", 3600.0)] * 3
    assert len({job.seed for job in jobs}) == 3


def test_an_unknown_distractor_is_one_clear_error():
    with pytest.raises(ValueError, match="unknown distractor 'sofa'.*quiet, desk fan"):
        EvaluationSettings(distractors=distractor_rows(["quiet", "sofa"]))
    result = runner.invoke(app, ["evaluate", "--hours", "1", "--distractor", "sofa"])
    assert result.exit_code == 2
    assert "unknown distractor 'sofa'" in result.output


def test_empty_rooms_alone_give_false_alarms_and_no_empty_plots(tmp_path):
    result = runner.invoke(app, ["evaluate", "--hours", "0.01", "--scenes-per-kind", "0", "--distractor", "quiet",
                                 "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json", "report.md"]  # no detection rates to plot
    report = json.loads((tmp_path / "report.json").read_text())
    assert [row["distractor"] for row in report["false_alarms"]] == ["quiet", "all distractors"]
    assert report["false_alarms"][0]["hours"] > 0
    assert ".png" not in (tmp_path / "report.md").read_text()


@pytest.fixture(scope="module")
def tiny_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("eval1")
    result = runner.invoke(app, ["evaluate", "--hours", "0.02", "--scenes-per-kind", "1", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def test_tiny_run_writes_the_documented_report(tiny_report):
    files = {p.name for p in tiny_report.iterdir()}
    assert files == {"report.md", "report.json", "det.png", "detection_by_distance.png"}
    report = json.loads((tiny_report / "report.json").read_text())
    assert {"command", "settings", "config", "totals", "detection", "latency", "false_alarms", "presence", "det",
            "scenes"} <= set(report)
    assert report["totals"]["scenes"] == 6 + 12
    assert report["totals"]["alarm_hours"] == pytest.approx((0.02 * 3600 - 12 * WARMUP_S) / 3600)
    assert len(report["detection"]["major"]["by_distance"]) == 6
    assert report["detection"]["major"]["events"] > 0 and report["latency"]["motion"]["n"] > 0
    assert [row["distractor"] for row in report["false_alarms"]][-1] == "all distractors"
    assert len(report["det"]["thresholds"]) == len(report["det"]["false_alarms_per_hour"])
    assert all(scene["seed"] >= HELD_OUT_SEED_START for scene in report["scenes"])
    markdown = (tiny_report / "report.md").read_text()
    assert report["command"] in markdown and "![DET curve](det.png)" in markdown
    assert [row["level"] for row in report["det"]["at_equal_detection"]] == [0.95, 0.97, 0.99]
    assert "walking detected within range" in markdown
    hardest = report["det"]["hardest_walks"]
    assert 0 < len(hardest) <= 10 and all(w["distance_m"] < 4.0 for w in hardest)
    assert "The hardest walks within 4 m" in markdown and f"({hardest[0]['seed']})" in markdown


def test_comparison_puts_detectors_side_by_side_at_equal_detection(tiny_report, tmp_path):
    one = json.loads((tiny_report / "report.json").read_text())
    one.pop("command")
    two = json.loads(json.dumps(one))
    for point in one["det"]["at_equal_detection"]:
        point.update(threshold=0.5, major_near_rate=1.0, false_alarms_per_hour=30.0, motion_shown=0.2)
    for point in two["det"]["at_equal_detection"]:
        point.update(threshold=0.25, major_near_rate=1.0, false_alarms_per_hour=3.0, motion_shown=0.001)
    two["det"]["at_equal_detection"][-1].update(threshold=None, major_near_rate=None, false_alarms_per_hour=None,
                                                motion_shown=None)
    write_comparison({"classic": one, "network": two}, tmp_path, "uspd evaluate --detector …")
    markdown = (tmp_path / "report.md").read_text()
    assert "| ≥ 95.0 % | 30 (0.50; 20.0 %) | 3 (0.25, 10.0×; 0.1 %) |" in markdown
    assert "| ≥ 99.0 % | 30 (0.50; 20.0 %) | not reached |" in markdown
    assert (tmp_path / "det.png").exists() and (tmp_path / "network" / "report.md").exists()


def test_two_workers_give_the_same_numbers(tiny_report, tmp_path):
    result = runner.invoke(app, ["evaluate", "--hours", "0.02", "--scenes-per-kind", "1", "--workers", "2",
                                 "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    one, two = (json.loads((path / "report.json").read_text()) for path in (tiny_report, tmp_path))
    one.pop("command"), two.pop("command")
    assert one == two


def test_bad_options_are_one_clear_error(tmp_path):
    result = runner.invoke(app, ["evaluate", "--workers", "0", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "workers must be at least 1" in result.output
    result = runner.invoke(app, ["evaluate", "--array", "nope", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "unknown mic array 'nope'" in result.output


def test_an_unknown_detector_is_one_clear_error(tmp_path):
    from typer.testing import CliRunner

    from uspd.cli import app

    result = CliRunner().invoke(app, ["evaluate", "--detector", "nn", "--hours", "0.01", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "detect.detector" in result.output and "'baseline'" in result.output


def test_every_motion_event_has_its_latency_from_onset_to_first_detection():
    truth = ["none"] * 10 + ["major"] * 20 + ["none"] * 10 + ["major"] * 5 + ["none"] * 20
    scene = _frames("walk_in", np.zeros(len(truth)), truth)
    scene.moving[15] = True  # the first walk is seen 5 hops after its onset; the second never
    result = motion_events([scene], "major", tolerance_frames=2)
    assert result["events"] == 2 and result["detected"] == 1
    assert result["latency"]["n"] == 1 and result["latency"]["missed"] == 1
    assert result["latency"]["median_s"] == pytest.approx(5 * HOP_S)
