"""The scenario catalog: every scene builds and renders, seeds reproduce, the day scenario
has a plausible day in it, and the labels of a walk-in say what happened."""

from __future__ import annotations

import time
from collections import Counter

import numpy as np
import pytest

from uspd.config import SimulationConfig
from uspd.sim.labels import label_scene
from uspd.sim.movers import Away, Person, Stay, Walk
from uspd.sim.render import render_baseband
from uspd.sim.scenarios import SCENARIOS, build_scene

DAY_S = 86400.0
HOUR_S = 3600.0
DAY_FRAME_S = 0.5  # coarse frames keep labelling a whole day fast; shorter than any gap between visits


def _kinds(labels) -> set[str]:
    return set("+".join(labels.nonhuman).split("+")) - {"none"}


def _hours(labels, lo_h: float, hi_h: float, scale: float = 1.0) -> np.ndarray:
    """Frames whose end falls in [lo_h, hi_h) o'clock of a day compressed by ``scale``."""
    return (labels.time_s >= lo_h * HOUR_S * scale) & (labels.time_s < hi_h * HOUR_S * scale)


def _people(scene) -> list[Person]:
    return [m for m in scene.movers if m.is_person]


def _entries(person: Person) -> int:
    """Walks that start from being away: each one is an 'enter'."""
    segs = person.segments
    return sum(isinstance(a, Away) and isinstance(b, Walk) for a, b in zip(segs[:-1], segs[1:]))


@pytest.fixture(scope="module")
def day_labels():
    """Two full days (different seeds), built and labelled once: (scene, labels, build time)."""
    out = {}
    for seed in (3, 11):
        start = time.perf_counter()
        scene = build_scene("living_room_day", seed)
        built_s = time.perf_counter() - start
        out[seed] = (scene, label_scene(scene, DAY_FRAME_S), built_s)
    return out


# -- the whole catalog -------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_every_scenario_builds_and_renders_a_second(name):
    config = SimulationConfig()
    for seed in (0, 1):
        scene = build_scene(name, seed, duration_s=1.0)
        assert scene.name == name and scene.seed == seed and scene.duration_s == 1.0
        rendered = render_baseband(scene, config)
        assert rendered.signal.shape == (scene.device.n_mics, config.baseband_rate_hz)
        assert rendered.signal.dtype == np.complex64
        assert np.all(np.isfinite(rendered.signal))
        assert np.all(np.abs(rendered.signal).mean(axis=1) > 0)  # the tone reaches every mic
        assert np.all(np.isfinite(rendered.reference)) and rendered.reference.shape == (config.baseband_rate_hz,)


def test_default_durations():
    assert SCENARIOS["walk_in"].default_duration_s == 20.0
    assert SCENARIOS["living_room_day"].default_duration_s == DAY_S
    assert build_scene("living_room_day", 0).duration_s == DAY_S


@pytest.mark.parametrize("name", ["walk_in", "music_with_walk", "living_room_day"])
def test_same_name_and_seed_give_the_same_scene_and_render(name):
    config = SimulationConfig()
    a, b = (build_scene(name, 5, duration_s=2.0) for _ in range(2))
    assert a.to_dict() == b.to_dict()
    assert np.array_equal(render_baseband(a, config).signal, render_baseband(b, config).signal)


@pytest.mark.parametrize("name", ["walk_in", "empty_quiet", "living_room_day"])
def test_different_seeds_give_different_rooms(name):
    rooms = [build_scene(name, seed, duration_s=2.0).to_dict()["room"] for seed in range(4)]
    sizes = {tuple(room["size_m"]) for room in rooms}
    assert len(sizes) == 4


def test_full_day_scene_is_reproducible_and_seeded():
    a, b, c = build_scene("living_room_day", 7), build_scene("living_room_day", 7), build_scene("living_room_day", 8)
    assert a.to_dict() == b.to_dict()
    assert a.to_dict()["movers"] != c.to_dict()["movers"]


# -- living_room_day ---------------------------------------------------------------------
def test_day_builds_fast(day_labels):
    for scene, _, built_s in day_labels.values():
        assert built_s < 2.0
        assert scene.duration_s == DAY_S


def test_day_has_occupied_and_empty_stretches_and_both_kinds_of_motion(day_labels):
    for scene, labels, _ in day_labels.values():
        assert len(labels) == int(DAY_S / DAY_FRAME_S)
        assert set(np.unique(labels.occupied)) == {0, 1}
        assert 0.05 < labels.occupied.mean() < 0.7
        motion = Counter(labels.motion)
        assert motion["major"] > 0 and motion["minor"] > 0
        assert motion["minor"] > motion["major"]  # seated periods outlast walking
        assert motion["none"] > 0.5 * len(labels)  # mostly nothing happens
        # motion only while someone is in (a fade at the door can lead by a frame)
        moving = labels.motion != "none"
        assert labels.occupied[moving].mean() > 0.99


def test_day_has_several_nonhuman_kinds(day_labels):
    for _, labels, _ in day_labels.values():
        assert len(_kinds(labels)) >= 3


def test_day_nights_are_empty_and_evenings_busy(day_labels):
    for _, labels, _ in day_labels.values():
        night = labels.occupied[_hours(labels, 2.0, 5.0)]
        evening = labels.occupied[_hours(labels, 19.0, 22.0)]
        assert night.mean() < 0.02
        assert evening.mean() > 0.3
        assert labels.occupied[_hours(labels, 0.0, 5.5)].mean() < 0.02


def test_day_enter_and_leave_onsets_match_the_scripts(day_labels):
    for scene, labels, _ in day_labels.values():
        onsets = Counter(o for frame in labels.onsets for o in frame.split(";") if o)
        expected = sum(_entries(p) for p in _people(scene))
        assert expected >= 5
        assert onsets["enter"] == onsets["leave"] == expected  # everyone is out again at midnight
        assert labels.occupied[-1] == 0


def test_day_person_distance_is_inside_the_room(day_labels):
    for scene, labels, _ in day_labels.values():
        diagonal = float(np.linalg.norm(scene.room.size_m))
        occupied = labels.occupied == 1
        distance = labels.person_distance_m
        assert np.all(np.isfinite(distance[occupied])) and np.all(np.isnan(distance[~occupied]))
        assert np.all((distance[occupied] > 0.1) & (distance[occupied] < diagonal))


def test_robot_vacuum_runs_around_midday_while_nobody_is_in():
    runs = 0
    for seed in range(12):
        scene = build_scene("living_room_day", seed)
        robots = [m for m in scene.movers if m.kind == "robot_vacuum"]
        if not robots:
            continue
        runs += 1
        robot = robots[0]
        assert 10.0 * HOUR_S <= robot.start_s <= 15.5 * HOUR_S
        assert 40 * 60 - 1 <= robot.end_s - robot.start_s <= 120 * 60 + 1
        t = np.arange(robot.start_s, robot.end_s, 1.0)
        assert not any(p.present(t).any() for p in _people(scene))
    assert runs >= 2


def test_day_fans_drafts_and_hvac_keep_to_their_schedules():
    seen = Counter()
    for seed in range(12):
        scene = build_scene("living_room_day", seed)
        for mover in scene.movers:
            seen[mover.kind] += 1
            if mover.kind in ("desk_fan", "ceiling_fan"):
                assert 0.0 <= mover.on_s < DAY_S and mover.off_s > mover.on_s + 0.4 * HOUR_S
            if mover.kind == "curtain":
                assert all(7.0 * HOUR_S <= on < 19.0 * HOUR_S and off > on for on, off in mover.drafts_s)
        for element in (*scene.sources, *scene.modulators):
            seen[element.kind] += 1
            windows = np.array(element.windows_s)
            assert np.all(windows[:, 1] > windows[:, 0]) and np.all(windows[1:, 0] > windows[:-1, 1])
            assert windows[0, 0] >= 0.0 and windows[-1, 0] < DAY_S
        if scene.music is not None:
            seen["music"] += 1
            (on, off), = scene.music.windows_s[:1]
            assert 17.0 * HOUR_S <= on < off <= DAY_S  # during an evening seated session
    for kind in ("person", "desk_fan", "curtain", "airflow_hiss", "hvac_turbulence", "keys"):
        assert seen[kind] > 0, kind
    assert seen["cat"] + seen["dog"] > 0
    assert seen["person"] > 12  # some days have two residents


def test_shorter_duration_compresses_the_day():
    for seed in (3, 11):
        scene = build_scene("living_room_day", seed, duration_s=3600.0)
        scale = 3600.0 / DAY_S
        labels = label_scene(scene, 0.1)
        assert set(np.unique(labels.occupied)) == {0, 1}
        assert labels.occupied[_hours(labels, 2.0, 5.0, scale)].mean() < 0.05
        assert labels.occupied[_hours(labels, 19.0, 22.0, scale)].mean() > 0.3
        assert "major" in labels.motion and "minor" in labels.motion
        assert labels.occupied[-1] == 0
        # the compressed scene is not a truncated copy of the full day
        assert build_scene("living_room_day", seed, duration_s=3600.0).to_dict() == scene.to_dict()
        assert scene.to_dict()["movers"] != build_scene("living_room_day", seed).to_dict()["movers"]


def test_tiny_durations_build_and_label():
    for duration in (0.5, 3.0, 30.0):
        scene = build_scene("living_room_day", 2, duration_s=duration)
        labels = label_scene(scene, 0.02)
        assert len(labels) == int(round(duration / 0.02))
        for person in _people(scene):
            assert person.present(np.array([0.0]))[0] == 0  # asleep elsewhere at midnight


def test_longer_duration_repeats_days():
    scene = build_scene("living_room_day", 3, duration_s=2 * DAY_S)
    labels = label_scene(scene, 2.0)
    for day in (0, 1):
        evening = (labels.time_s >= (day * 24 + 19) * HOUR_S) & (labels.time_s < (day * 24 + 22) * HOUR_S)
        night = (labels.time_s >= (day * 24 + 2) * HOUR_S) & (labels.time_s < (day * 24 + 5) * HOUR_S)
        assert labels.occupied[evening].mean() > 0.3
        assert labels.occupied[night].mean() < 0.05


def test_seated_evening_stays_have_minor_motions():
    scene = build_scene("living_room_day", 3)
    stays = [seg for p in _people(scene) for seg in p.segments if isinstance(seg, Stay) and seg.posture == "sit"]
    assert stays and max(s.duration_s for s in stays) > 15 * 60
    minors = [e for p in _people(scene) for e in p.minor_events]
    assert len(minors) > 50
    assert {kind for _, _, kind in minors} >= {"page", "reach", "shift"}


@pytest.mark.slow
def test_full_day_labels_at_20_ms():
    scene = build_scene("living_room_day", 3)
    start = time.perf_counter()
    labels = label_scene(scene, 0.02)
    elapsed = time.perf_counter() - start
    assert len(labels) == 4_320_000
    assert set(np.unique(labels.occupied)) == {0, 1}
    assert "major" in labels.motion and "minor" in labels.motion
    assert elapsed < 120.0


# -- walk_in labels ----------------------------------------------------------------------
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_walk_in_labels_follow_the_person(seed):
    frame = 0.02
    scene = build_scene("walk_in", seed)
    labels = label_scene(scene, frame)
    onsets = [(i, o) for i, frame_onsets in enumerate(labels.onsets) for o in frame_onsets.split(";") if o]
    enters = [i for i, o in onsets if o == "enter"]
    assert len(enters) == 1 and "leave" not in {o for _, o in onsets}
    enter = enters[0]
    person = _people(scene)[0]
    assert labels.time_s[enter] == pytest.approx(person.segments[0].duration_s, abs=frame)
    # nobody before, someone from the entry on, moving first, then staying
    assert np.all(labels.occupied[:enter] == 0) and np.all(labels.occupied[enter:] == 1)
    major = np.flatnonzero(labels.motion == "major")
    assert len(major) > 0 and major.min() >= enter
    assert np.all(labels.motion[:enter] == "none")
    walk_end = enter + int(np.argmax(labels.motion[enter:] != "major"))  # walking (and sitting down) ends
    assert walk_end - enter > 1.0 / frame  # a walk of a metre or more
    assert np.all(labels.motion[walk_end:] != "major")
    # distance and speed: finite while there, inside the room, consistent with each other
    occupied = labels.occupied == 1
    diagonal = float(np.linalg.norm(scene.room.size_m))
    distance, radial = labels.person_distance_m, labels.person_radial_speed_m_s
    assert np.all(np.isnan(distance[~occupied])) and np.all(np.isnan(radial[~occupied]))
    assert np.all(np.isfinite(distance[occupied])) and np.all(np.isfinite(radial[occupied]))
    assert np.all((distance[occupied] > 0.1) & (distance[occupied] < diagonal))
    walking = slice(enter + 5, walk_end - 5)
    assert np.abs(radial[walking]).max() > 0.1
    approach = -np.gradient(distance[walking], frame)
    assert np.median(np.abs(approach - radial[walking])) < 0.05
    staying = slice(walk_end + 50, len(labels))  # stood or sat down: postural sway only
    assert np.abs(radial[staying]).max() < 0.1


def test_longer_labeled_pet_scenes_continue_the_short_ones():
    from uspd.model.data import DISTRACTOR_SCENE_S, PET_SCENARIOS, labeled_set
    from uspd.sim.movers import Pet

    default, longer = labeled_set(2), labeled_set(2, pet_scene_s=240.0)
    assert [s.name for s in default] == [s.name for s in longer]
    for short, long in zip(default, longer):
        assert long.duration_s == (240.0 if short.name in PET_SCENARIOS else short.duration_s)
    assert {s.duration_s for s in default if s.name in PET_SCENARIOS} == {DISTRACTOR_SCENE_S}
    t_s = np.arange(0.0, DISTRACTOR_SCENE_S, 0.5)
    for name in PET_SCENARIOS:
        pets = [next(m for m in build_scene(name, 1, duration_s=d).movers if isinstance(m, Pet)) for d in (60.0, 240.0)]
        assert np.asarray(pets[0].motion(t_s)).astype(bool).any()  # seed 1: the pet walks within the first minute
        np.testing.assert_array_equal(pets[0].motion(t_s), pets[1].motion(t_s))
        np.testing.assert_allclose(pets[0].scatterers(t_s, np.zeros(3)).positions_m,
                                   pets[1].scatterers(t_s, np.zeros(3)).positions_m)
