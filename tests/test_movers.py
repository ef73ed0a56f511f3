"""Movers: body kinematics, fans, curtains, doors, pets and the robot vacuum, in numbers."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from uspd.sim.base import Motion
from uspd.sim.movers import (
    NEVER_S,
    PERSON_SCATTERERS,
    Away,
    Cat,
    CeilingFan,
    Curtain,
    DeskFan,
    Dog,
    Door,
    Person,
    RobotVacuum,
    Stay,
    Walk,
)

ROOM_M = (5.5, 4.5, 2.7)
DEVICE_M = (0.4, 2.25, 1.0)
LISTENER_M = np.asarray(DEVICE_M)
ALL_KINDS = (Person, DeskFan, CeilingFan, Curtain, Door, Cat, Dog, RobotVacuum)


def _speeds(positions_m: np.ndarray, rate_hz: float) -> np.ndarray:
    """(n, T−1) scatterer speeds by finite differences."""
    return np.linalg.norm(np.diff(positions_m, axis=1), axis=-1) * rate_hz


def _part(name: str) -> int:
    return PERSON_SCATTERERS.index(name)


def _straight_walk(speed_m_s: float) -> Person:
    return Person.walk_in((0.5, 2.0), (9.5, 2.0), 30.0, enter_s=0.0, speed_m_s=speed_m_s, height_m=1.75)


# -- person: walking ------------------------------------------------------------------------
@pytest.mark.parametrize("speed_m_s", [0.7, 1.3, 1.7])
def test_walking_torso_moves_at_the_walking_speed(speed_m_s):
    person = _straight_walk(speed_m_s)
    rate = 1000.0
    t = np.arange(1.5, 5.0, 1 / rate)  # cruising: past the 0.5 s ramp, before the stop
    torso = person.body_center_m(t)
    horizontal = np.linalg.norm(np.diff(torso[:, :2], axis=0), axis=-1) * rate
    assert horizontal.mean() == pytest.approx(speed_m_s, rel=0.03)
    assert np.all(np.abs(horizontal / speed_m_s - 1) < 0.25)  # the gait only modulates it


def test_walking_body_has_fast_limbs_and_planted_feet():
    person = _straight_walk(1.3)
    rate = 1000.0
    t = np.arange(1.5, 5.0, 1 / rate)
    scat = person.scatterers(t, LISTENER_M)
    assert scat.positions_m.shape[0] >= 10
    speeds = _speeds(scat.positions_m, rate)
    limbs = [_part(n) for n in ("forearm_r", "forearm_l", "shin_r", "shin_l", "foot_r", "foot_l")]
    assert np.all((speeds[limbs].max(axis=1) > 2.0) & (speeds[limbs].max(axis=1) < 6.0))
    assert speeds[_part("chest")].max() < 1.3 * 1.3
    for foot in ("foot_r", "foot_l"):
        planted = speeds[_part(foot)] < 0.02
        assert 0.45 < planted.mean() < 0.7  # stance ≈ 58 % of the gait cycle
        heights = scat.positions_m[_part(foot), 1:, 2][planted]
        assert heights.max() < 0.06  # on the floor while planted


def test_person_cross_sections_scale_with_clothing_and_aspect():
    t = np.array([10.0])
    base = Person.still((2.5, 2.0), 0.0, 20.0, posture="stand", torso_cross_section_m2=0.008)
    muffled = dataclasses.replace(base, reflectivity_db=-4.0)
    facing = base.scatterers(t, np.array([4.5, 2.0, 1.3])).cross_section_m2[:, 0]  # in front
    side_on = base.scatterers(t, np.array([2.5, 4.0, 1.3])).cross_section_m2[:, 0]
    torso = [_part("chest"), _part("abdomen")]
    assert facing[torso].sum() == pytest.approx(0.008, rel=0.02)
    assert side_on[torso].sum() == pytest.approx(0.55 * 0.008, rel=0.05)
    assert facing[_part("head")] == pytest.approx(0.002) and facing[_part("foot_l")] == pytest.approx(0.0005)
    np.testing.assert_allclose(muffled.scatterers(t, np.array([4.5, 2.0, 1.3])).cross_section_m2[:, 0],
                               facing * 10 ** -0.4, rtol=1e-9)


def test_gait_cycle_lasts_about_a_second_at_normal_speed():
    person = _straight_walk(1.3)
    rate = 1000.0
    t = np.arange(1.5, 7.0, 1 / rate)
    planted = _speeds(person.scatterers(t, LISTENER_M).positions_m[[_part("foot_r")]], rate)[0] < 0.02
    landings = t[1:][np.flatnonzero(planted[1:] & ~planted[:-1]) + 1]
    assert 1.0 <= np.median(np.diff(landings)) <= 1.2


def test_sharp_turn_inside_one_walk_is_refused():
    with pytest.raises(ValueError, match="turn"):
        Person((Walk(((3.0, 2.0), (1.2, 2.1)), 1.0),), (1.0, 2.0))


# -- person: staying, minor motion, presence --------------------------------------------------
def test_seated_minor_motions_are_slow_and_labelled_when_scheduled():
    person = Person.seated((2.5, 2.0), 0.5, 120.0, minor_per_min=6.0, seed=4)
    events = person.minor_events
    assert len(events) >= 3
    rate = 500.0
    t = np.arange(0.0, 120.0, 1 / rate)
    motion = person.motion(t)
    inside = np.zeros(t.shape, dtype=bool)
    for start, end, _ in events:
        inside |= (t >= start) & (t < end)
    assert np.all(motion[inside] == Motion.MINOR)
    assert np.all(motion[~inside] == Motion.NONE)
    speeds = _speeds(person.scatterers(t, LISTENER_M).positions_m, rate)
    assert speeds.max() < 1.0
    still = ~inside[1:] & ~inside[:-1]
    assert speeds[:, still].max() < 0.05  # breathing and postural sway only
    assert speeds[:, inside[1:]].max() > 0.1


def test_still_person_only_breathes():
    person = Person.still((2.5, 2.0), 0.0, 60.0, posture="sit", breathing_amplitude_m=0.005)
    t = np.arange(0.0, 60.0, 1 / 200)
    assert np.all(person.motion(t) == Motion.NONE) and np.all(person.present(t))
    chest = person.scatterers(t, LISTENER_M).positions_m[_part("chest")]
    excursion = np.ptp(chest[:, 0] - chest[:, 0].mean())
    assert 0.006 < excursion < 0.025  # ±5 mm breathing plus millimetres of sway


def test_script_enter_sit_get_up_and_leave():
    door, seat = (0.5, 0.5), (3.0, 2.5)
    person = Person.walk_in(door, seat, 40.0, enter_s=3.0, posture="sit", minor_per_min=0.0, leave_s=25.0)
    planned = person._plan[0]
    walk_in_end, stay_end, walk_out_end = planned[1].end_s, planned[2].end_s, planned[3].end_s
    rate = 200.0
    t = np.arange(0.0, 40.0, 1 / rate)
    scat, motion, present = person.scatterers(t, LISTENER_M), person.motion(t), person.present(t)
    before, after = t < 3.0, t > walk_out_end
    assert not present[before].any() and not present[after].any()
    assert np.all(scat.cross_section_m2[:, before] == 0) and np.all(scat.cross_section_m2[:, after] == 0)
    assert present[(t > 3.0) & (t < walk_out_end)].all()
    assert np.all(motion[(t > 3.0) & (t < walk_in_end)] == Motion.MAJOR)  # walking in
    assert np.all(motion[(t > walk_in_end) & (t < walk_in_end + 2.0)] == Motion.MAJOR)  # sitting down
    assert np.all(motion[(t > walk_in_end + 2.0) & (t < stay_end - 2.0)] == Motion.NONE)  # seated, still
    assert np.all(motion[(t > stay_end - 2.0) & (t < walk_out_end)] == Motion.MAJOR)  # up and out
    seated = person.body_center_m(np.array([15.0]))[0]
    standing = person.body_center_m(np.array([walk_in_end - 0.01]))[0]
    assert standing[2] - seated[2] > 0.3
    assert _speeds(scat.positions_m, rate).max() < 7.0  # one continuous track, parked at the door
    np.testing.assert_allclose(person.body_center_m(np.array([1.0]))[0, :2], door, atol=0.05)


def test_segments_compose_into_a_day():
    segments = (Away(100.0), Walk(((2.0, 2.0),), 1.0), Stay(300.0, "sit", 2.0), Walk(((4.0, 3.0),), 1.2),
                Stay(60.0, "stand", 1.0), Walk(((0.5, 3.5),), 1.4), Away(500.0), Walk(((2.5, 1.5),), 0.9), Stay(200.0))
    person = Person(segments, (0.5, 3.5), seed=9)
    t = np.arange(0.0, 1500.0, 0.05)
    present = person.present(t)
    assert not present[t < 100].any() and present[(t > 101) & (t < 400)].all()
    assert np.count_nonzero(np.diff(present.astype(int))) == 3  # in, out, in again
    assert _speeds(person.scatterers(t, LISTENER_M).positions_m, 20.0).max() < 8.0


# -- fans --------------------------------------------------------------------------------------
@pytest.mark.parametrize("fan", [
    DeskFan(n_blades=5, radius_m=0.15, rpm=1200.0, pivot_m=(2.0, 2.0, 1.0), yaw_rad=np.pi, spin_up_s=0.5),
    CeilingFan(n_blades=3, radius_m=0.6, rpm=120.0, hub_m=(2.5, 2.2, 2.3), wobble_m=0.0, spin_up_s=0.5,
               points_per_blade=4),
])
def test_fan_blade_points_move_at_two_pi_r_rpm(fan):
    rate = 20000.0
    t = 30.0 + np.arange(2000) / rate
    scat = fan.scatterers(t, LISTENER_M)
    blades = scat.positions_m[:-1]  # the housing is last
    centre = blades.mean(axis=0)  # symmetric blades: their mean is the hub
    radius = np.linalg.norm(blades - centre, axis=-1)
    expected = 2 * np.pi * radius[:, 1:] * fan.rpm / 60.0
    np.testing.assert_allclose(_speeds(blades, rate), expected, rtol=2e-3)
    assert np.ptp(radius, axis=1).max() < 1e-9 and radius.max() <= fan.radius_m


def test_desk_fan_flashes_at_the_blade_rate():
    fan = DeskFan(n_blades=4, radius_m=0.15, rpm=900.0, pivot_m=(3.0, 2.0, 1.0), yaw_rad=np.pi, spin_up_s=0.5,
                  root_pitch_rad=0.5, tip_pitch_rad=0.4)
    angle = 0.45  # the device sits on the cone the blade-face normals sweep
    listener = np.array([3.0 - 2.0 * np.cos(angle), 2.0 + 2.0 * np.sin(angle), 1.0])
    rate = 20000.0
    period_s = 60.0 / (fan.rpm * fan.n_blades)
    t = 20.0 + np.arange(int(0.5 * rate)) / rate
    total = fan.scatterers(t, listener).cross_section_m2.sum(axis=0)
    shifted = fan.scatterers(t + period_s, listener).cross_section_m2.sum(axis=0)
    np.testing.assert_allclose(shifted, total, rtol=1e-6)
    assert total.max() > 4 * np.median(total) and total.max() > 0.01  # flashes, not a steady echo
    spectrum = np.abs(np.fft.rfft(total - total.mean()))
    peak_hz = np.fft.rfftfreq(len(total), 1 / rate)[np.argmax(spectrum)]
    blade_rate_hz = 1 / period_s
    assert peak_hz / blade_rate_hz == pytest.approx(round(peak_hz / blade_rate_hz), abs=0.05)


def test_fan_is_moving_while_on_and_coasts_down_after_off():
    fan = DeskFan(rpm=1000.0, on_s=5.0, off_s=20.0, spin_up_s=1.0, spin_down_s=3.0, sweep_amplitude_rad=0.6)
    t = np.array([4.9, 5.5, 19.9, 22.0, 40.0])
    assert fan.motion(t).tolist() == [Motion.NONE, Motion.MOVING, Motion.MOVING, Motion.MOVING, Motion.NONE]
    still = fan.scatterers(np.array([45.0, 45.01]), LISTENER_M).positions_m
    assert np.abs(np.diff(still, axis=1)).max() < 1e-6


def test_oscillating_desk_fan_sweeps_its_head():
    fan = DeskFan(pivot_m=(3.0, 2.0, 0.9), yaw_rad=np.pi, sweep_amplitude_rad=0.7, sweep_period_s=12.0, on_s=0.0)
    t = np.linspace(0.0, 12.0, 241)
    housing = fan.scatterers(t, LISTENER_M).positions_m[-1]
    bearing = np.arctan2(housing[:, 1] - 2.0, housing[:, 0] - 3.0)
    assert np.ptp(np.unwrap(bearing)) == pytest.approx(1.4, abs=0.02)


# -- curtain and door --------------------------------------------------------------------------
def test_curtain_sways_centimetres_in_a_draft_and_millimetres_without():
    curtain = Curtain(room_size_m=ROOM_M, wall="x1", centre_along_m=2.0, width_m=1.6, rows=3, columns=4,
                      sway_amplitude_m=0.05, drafts_s=((60.0, 120.0),), gust_rate_per_min=2.0, seed=3)
    rate = 50.0
    t = np.arange(0.0, 180.0, 1 / rate)
    scat = curtain.scatterers(t, LISTENER_M)
    normal = ROOM_M[0] - scat.positions_m[..., 0]  # distance from the window wall
    calm, draft = t < 55.0, (t > 65.0) & (t < 115.0)
    assert np.ptp(normal[:, calm], axis=1).max() < 0.015
    assert 0.02 < np.ptp(normal[:, draft], axis=1).max() < 0.4
    assert normal.min() >= 0.01 - 1e-12
    assert 8 <= scat.positions_m.shape[0] <= 16
    assert 0.005 <= scat.cross_section_m2[:, 0].sum() <= 0.02
    motion = curtain.motion(t)
    assert np.all(motion[draft] == Motion.MOVING) and np.all(motion[calm] == Motion.NONE)
    assert _speeds(scat.positions_m, rate).max() < 1.5


def test_door_wanders_slowly_slams_fast_and_flashes_towards_the_device():
    door = Door(room_size_m=ROOM_M, wall="y0", hinge_along_m=2.0, rest_angle_rad=0.3, wander_amplitude_rad=0.12,
                drafts_s=((0.0, 600.0),), slam_rate_per_min=0.0, flash_cross_section_m2=0.1, seed=1)
    t = np.arange(5.0, 600.0, 0.02)
    angle, _ = door._angles(t)
    rate_rad_s = np.abs(np.diff(angle)) / 0.02
    assert rate_rad_s.max() < 0.5 and 0.05 < np.ptp(angle) < 0.9
    slamming = dataclasses.replace(door, slam_rate_per_min=3.0)
    slam_rate = np.abs(np.diff(slamming._angles(t)[0])) / 0.02
    assert slam_rate.max() > 1.0
    assert np.all(slamming.motion(t) == Motion.MOVING)
    # a device straight out along the panel normal sees the specular flash
    panel_mid = np.array([2.0 + 0.425 * np.cos(0.3), 0.425 * np.sin(0.3), 1.0])
    on_normal = panel_mid + 2.0 * np.array([-np.sin(0.3), np.cos(0.3), 0.0])
    still = dataclasses.replace(door, drafts_s=())
    facing = still.scatterers(np.array([1.0]), on_normal).cross_section_m2.sum()
    aside = still.scatterers(np.array([1.0]), np.array([4.5, 1.0, 1.0])).cross_section_m2.sum()
    assert facing > 5 * aside
    assert np.all(still.motion(t) == Motion.NONE)


# -- pets and robot ----------------------------------------------------------------------------
@pytest.mark.parametrize(("kind", "sigma_range"), [(Cat, (0.001, 0.002)), (Dog, (0.003, 0.008))])
def test_pets_rest_walk_run_and_jump_within_their_limits(kind, sigma_range):
    pet = kind.sample(np.random.default_rng(11), ROOM_M, DEVICE_M, 600.0, jump_probability=0.5, rest_mean_s=15.0)
    rate = 200.0
    t = np.arange(0.0, 600.0, 1 / rate)
    scat = pet.scatterers(t, LISTENER_M)
    assert sigma_range[0] <= scat.cross_section_m2[:, 0].sum() <= sigma_range[1]
    body_speed = _speeds(scat.positions_m[:1], rate)[0]
    moving = pet.motion(t) == Motion.MOVING
    assert 0.02 < moving.mean() < 0.8
    near_motion = np.convolve(moving, np.ones(5), "same")[1:] > 0  # landings end abruptly
    assert body_speed[~near_motion].max() < 0.01  # resting: breathing only
    assert body_speed.max() < 5.5  # runs up to 3 m/s, jumps a little faster
    kinds = {b.kind for b in pet._bouts[0]}
    assert kinds == {0, 1, 2}  # rests, moves and jumps all happen


def test_robot_vacuum_runs_slowly_with_a_fast_side_brush_and_stops_at_the_end():
    robot = RobotVacuum(room_size_m=ROOM_M, dock_xy_m=(2.0, 0.26), dock_heading_rad=np.pi / 2, start_s=5.0, end_s=200.0,
                        speed_m_s=0.3, brush_rpm=150.0, seed=2)
    rate = 100.0
    t = np.arange(0.0, 220.0, 1 / rate)
    scat = robot.scatterers(t, LISTENER_M)
    speeds = _speeds(scat.positions_m, rate)
    top = speeds[4]
    assert top.max() <= 0.3 + 1e-6 and top.max() > 0.29
    assert speeds[5:].max() > 0.9  # brush tufts: 2π · r · rpm on top of the drive
    assert np.all(speeds[:, t[1:] < 5.0] < 1e-9) and np.all(speeds[:, t[:-1] > 200.0] < 1e-9)
    motion = robot.motion(t)
    assert np.all(motion[(t >= 5.0) & (t < 200.0)] == Motion.MOVING) and np.all(motion[t >= 200.0] == Motion.NONE)
    travelled = np.linalg.norm(np.diff(scat.positions_m[4, :, :2], axis=0), axis=-1).sum()
    assert travelled > 0.5 * 0.3 * 195.0  # mostly driving, not turning


# -- contract: every mover ---------------------------------------------------------------------
def _sampled(seed: int, duration_s: float = 60.0) -> tuple[tuple, tuple, list]:
    """A random room and device, and one sampled mover of every kind (people in three scripts)."""
    rng = np.random.default_rng(seed)
    room = (float(rng.uniform(3.5, 7.0)), float(rng.uniform(3.0, 6.0)), float(rng.uniform(2.4, 3.0)))
    device = (0.4, room[1] / 2, 1.0)
    movers = [kind.sample(rng, room, device, duration_s) for kind in ALL_KINDS]
    movers += [Person.sample(rng, room, device, duration_s, mode=mode) for mode in ("visit", "walk_through", "seated")]
    return room, device, movers


@pytest.mark.parametrize("seed", [0, 1])
def test_block_evaluation_equals_evaluation_all_at_once(seed):
    _, device, movers = _sampled(seed)
    t = np.arange(0.0, 30.0, 1 / 400)
    cuts = [0, 1, 777, 3000, 5001, 9000, 11999, len(t)]
    listener = np.asarray(device)
    for mover in movers:
        whole = mover.scatterers(t, listener)
        parts = [mover.scatterers(t[a:b], listener) for a, b in zip(cuts[:-1], cuts[1:])]
        np.testing.assert_allclose(np.concatenate([p.positions_m for p in parts], axis=1), whole.positions_m,
                                   rtol=0, atol=1e-9, err_msg=mover.kind)
        np.testing.assert_allclose(np.concatenate([p.cross_section_m2 for p in parts], axis=1), whole.cross_section_m2,
                                   rtol=1e-9, atol=1e-15, err_msg=mover.kind)
        blocks = [mover.motion(t[a:b]) for a, b in zip(cuts[:-1], cuts[1:])]
        assert np.array_equal(np.concatenate(blocks), mover.motion(t))
        shuffled = np.random.default_rng(0).permutation(len(t))[:500]
        np.testing.assert_allclose(mover.scatterers(t[shuffled], listener).positions_m, whole.positions_m[:, shuffled],
                                   rtol=0, atol=1e-9, err_msg=mover.kind)


@pytest.mark.parametrize("seed", [2, 3, 4])
def test_everything_stays_inside_the_room(seed):
    room, device, movers = _sampled(seed, duration_s=120.0)
    t = np.arange(-1.0, 121.0, 1 / 50)
    for mover in movers:
        scat = mover.scatterers(t, np.asarray(device))
        assert scat.positions_m.min() >= 0.0, mover
        assert np.all(scat.positions_m.max(axis=(0, 1)) <= np.asarray(room)), mover
        assert np.all(scat.cross_section_m2 >= 0.0) and np.all(np.isfinite(scat.positions_m))
        motion = mover.motion(t)
        assert motion.dtype == np.int8 and motion.shape == t.shape
        if mover.is_person:
            torso = mover.body_center_m(t)[mover.present(t)]
            assert torso[:, :2].min() >= 0.2 and np.all(torso[:, :2].max(axis=0) <= np.asarray(room[:2]) - 0.2)
        else:
            assert not mover.present(t).any()


def test_sample_is_deterministic_for_a_seed():
    for kind in ALL_KINDS:
        first = kind.sample(np.random.default_rng(5), ROOM_M, DEVICE_M, 60.0)
        again = kind.sample(np.random.default_rng(5), ROOM_M, DEVICE_M, 60.0)
        other = kind.sample(np.random.default_rng(6), ROOM_M, DEVICE_M, 60.0)
        assert first == again and first != other, kind.__name__
        t = np.linspace(0.0, 60.0, 50)
        np.testing.assert_array_equal(first.scatterers(t, LISTENER_M).positions_m,
                                      again.scatterers(t, LISTENER_M).positions_m)


def test_sample_keywords_override_drawn_parameters():
    fan = DeskFan.sample(np.random.default_rng(1), ROOM_M, DEVICE_M, 60.0, on_s=0.0, off_s=NEVER_S, rpm=700.0)
    assert (fan.on_s, fan.off_s, fan.rpm) == (0.0, NEVER_S, 700.0)
    person = Person.sample(np.random.default_rng(1), ROOM_M, DEVICE_M, 60.0, mode="walk_in", height_m=1.6,
                           posture="sit")
    assert person.height_m == 1.6 and person.segments[-1].posture == "sit"


def _plain(value) -> bool:
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return all(_plain(v) for v in value)
    return type(value) in (float, int, str, bool)


@pytest.mark.parametrize("seed", [0, 1])
def test_every_mover_serialises_to_plain_json(seed):
    _, _, movers = _sampled(seed)
    for mover in movers:
        data = dataclasses.asdict(mover)
        assert _plain(data), mover.kind
        json.dumps(data, allow_nan=False)
