"""Presence state machine: latency, false alarms, seated hold, vacancy timers, streaming."""

from __future__ import annotations

import numpy as np
import pytest

from uspd.config import ConfigError, PresenceConfig, config_from_dict, load_config
from uspd.detect.presence import Event, Presence, run_presence

HOP_S = 0.02
CONFIG = PresenceConfig()
WALK = 0.9  # a walking person's score: over major_threshold (0.7)
FIDGET = 0.45  # clear minor motion: over minor_threshold (0.35), under major
FAINT = 0.25  # a reader turning a page: only over sensitive_threshold (0.15)


def timeline(duration_s: float) -> np.ndarray:
    """Frame end times of a hop-spaced stream."""
    return (np.arange(int(round(duration_s / HOP_S))) + 1) * HOP_S


def quiet(times_s: np.ndarray, seed: int = 0) -> np.ndarray:
    """Background scores of an empty room: small, never over the sensitive threshold."""
    return np.random.default_rng(seed).uniform(0.0, 0.1, times_s.shape)


def put(scores: np.ndarray, times_s: np.ndarray, start_s: float, stop_s: float, value: float) -> None:
    scores[(times_s > start_s) & (times_s <= stop_s)] = value


def sparse_bursts(scores, times_s, rng, *, start_s, stop_s, value, burst_s=0.4) -> list[float]:
    """A seated person's small motions: one burst every 20–60 s; returns the burst starts."""
    starts = []
    t = start_s + rng.uniform(20.0, 60.0)
    while t < stop_s:
        put(scores, times_s, t, t + burst_s, value)
        starts.append(t)
        t += rng.uniform(20.0, 60.0)
    return starts


def transitions(events: list[Event]) -> list[Event]:
    return [e for e in events if e.event != "motion"]


def test_sustained_walk_occupies_within_100_ms_with_one_motion_event():
    times = timeline(20.0)
    scores = quiet(times)
    put(scores, times, 10.0, 15.0, WALK)
    motion, occupied, events = run_presence(times, scores, CONFIG)

    onset_s = times[scores >= CONFIG.major_threshold][0]
    assert [(e.event, e.kind) for e in events] == [("motion", "major"), ("occupied", "major")]
    assert 0.0 <= events[1].time_s - onset_s <= 0.1
    assert events[1].time_s - onset_s == pytest.approx((CONFIG.confirm_frames - 1) * HOP_S)
    assert occupied[times < onset_s].sum() == 0 and occupied[times >= events[1].time_s].all()
    assert set(motion[(times > 10.1) & (times <= 15.0)]) == {"major"}


def test_minor_then_major_gives_two_motion_onsets():
    times = timeline(10.0)
    scores = quiet(times)
    put(scores, times, 2.0, 2.5, FIDGET)
    put(scores, times, 2.5, 4.0, WALK)
    _, _, events = run_presence(times, scores, CONFIG)
    assert [(e.event, e.kind) for e in events] == [("motion", "minor"), ("motion", "major"), ("occupied", "major")]


def test_a_flickering_motion_is_one_onset_and_held_frames_renew_nothing():
    """A pet whose score hovers at the minor threshold flickers over and under it every few
    frames: one onset, shown until release_frames after its last frame; vacancy counts from
    that last frame, not from the end of the hold."""
    config = PresenceConfig(hold_s=10.0, departure_vacancy_s=5.0, minor_occupy_s=1.0)
    times = timeline(30.0)
    scores = quiet(times)
    scores[(times > 2.0) & (times <= 6.0) & (np.arange(times.size) % 8 < 5)] = FIDGET  # 5 over, 3 under
    motion, occupied, events = run_presence(times, scores, config)
    assert [(e.event, e.kind) for e in events if e.event == "motion"] == [("motion", "minor")]
    last_s = times[scores >= config.minor_threshold][-1]
    shown = times[motion != "none"]
    assert shown[-1] == pytest.approx(last_s + (config.release_frames - 1) * HOP_S)
    (vacant,) = [e for e in events if e.event == "vacant"]
    assert vacant.time_s == pytest.approx(last_s + config.hold_s, abs=HOP_S / 2)
    # without the hold the same scores give an onset per flicker
    flicker = run_presence(times, scores, PresenceConfig(**{**config.model_dump(), "release_frames": 1}))[2]
    assert sum(e.event == "motion" for e in flicker) == 25  # 4 s of 8-frame cycles


@pytest.mark.parametrize("burst_frames", [1, CONFIG.confirm_frames - 1])
def test_a_short_spike_never_occupies(burst_frames):
    times = timeline(10.0)
    scores = quiet(times)
    scores[250 : 250 + burst_frames] = 1.0
    motion, occupied, events = run_presence(times, scores, CONFIG)
    assert events == [] and occupied.sum() == 0 and set(motion) == {"none"}


def test_isolated_spikes_for_an_hour_never_occupy():
    """1 % of frames (30 per minute) spike to any score, singly or in pairs: no motion, no occupancy."""
    rng = np.random.default_rng(7)
    times = timeline(3600.0)
    scores = quiet(times, seed=1)
    starts = np.flatnonzero(rng.random(times.size) < 0.01)
    starts = starts[np.diff(starts, append=times.size) >= CONFIG.confirm_frames]  # a low frame between bursts
    for start in starts:
        length = int(rng.integers(1, CONFIG.confirm_frames))
        scores[start : start + length] = rng.uniform(CONFIG.sensitive_threshold, 1.0, length)
    assert (scores >= CONFIG.major_threshold).sum() > 300  # hundreds of walking-level spikes among them
    motion, occupied, events = run_presence(times, scores, CONFIG)
    assert events == [] and occupied.sum() == 0 and set(motion) == {"none"}


def test_seated_faint_motion_holds_presence_for_30_minutes_after_walk_in():
    rng = np.random.default_rng(3)
    times = timeline(3600.0)
    scores = quiet(times)
    put(scores, times, 10.0, 14.0, WALK)  # walks in and sits down
    bursts = sparse_bursts(scores, times, rng, start_s=14.0, stop_s=3600.0, value=FAINT)
    motion, occupied, events = run_presence(times, scores, CONFIG)

    walk_in = events[1]
    assert walk_in.event == "occupied" and walk_in.time_s < 10.1
    assert occupied[(times >= walk_in.time_s) & (times <= 14.0 + 1800.0)].all()
    assert {motion[(times > b) & (times <= b + 0.4)][-1] for b in bursts if b < 14.0 + 1800.0} == {"minor"}
    # Faint motion does not renew the sensitive window: the room empties hold_s after the
    # last burst that began within sensitive_s of the walk, though the bursts go on.
    last_burst = max(b for b in bursts if b + 3 * HOP_S <= 14.0 + CONFIG.sensitive_s)
    last_counted = times[(times > last_burst) & (times <= last_burst + 0.4)][-1]
    (vacant,) = [e for e in events if e.event == "vacant"]
    assert 0.0 <= vacant.time_s - (last_counted + CONFIG.hold_s) < HOP_S + 1e-9


def test_clear_minor_motion_renews_sensitivity_for_a_long_read():
    """Faint page turns plus one shift in the chair every 20 minutes hold the room for 2 hours."""
    rng = np.random.default_rng(4)
    times = timeline(7200.0)
    scores = quiet(times)
    put(scores, times, 10.0, 14.0, WALK)
    sparse_bursts(scores, times, rng, start_s=14.0, stop_s=7200.0, value=FAINT)
    for shift_s in np.arange(1200.0, 7200.0, 1200.0):
        put(scores, times, shift_s, shift_s + 1.0, FIDGET)
    _, occupied, events = run_presence(times, scores, CONFIG)
    assert occupied[times >= 10.1].all()
    assert [e.event for e in transitions(events)] == ["occupied"]


def test_sparse_motion_does_not_occupy_an_empty_room():
    rng = np.random.default_rng(3)
    times = timeline(3600.0)
    faint = quiet(times)
    sparse_bursts(faint, times, rng, start_s=0.0, stop_s=3600.0, value=FAINT)
    _, occupied, events = run_presence(times, faint, CONFIG)
    assert events == [] and occupied.sum() == 0

    # Even clear minor motion, when sparse, is reported as motion but does not occupy.
    clear = quiet(times)
    bursts = sparse_bursts(clear, times, np.random.default_rng(3), start_s=0.0, stop_s=3600.0, value=FIDGET)
    _, occupied, events = run_presence(times, clear, CONFIG)
    assert occupied.sum() == 0
    assert [e.event for e in events] == ["motion"] * len(bursts)


def test_sustained_minor_motion_occupies_after_minor_occupy_s():
    times = timeline(20.0)
    scores = quiet(times)
    put(scores, times, 5.0, 10.0, FIDGET)  # someone typing, never walking
    _, _, events = run_presence(times, scores, CONFIG)
    (occupied,) = transitions(events)
    assert occupied.kind == "minor"
    confirmed_s = 5.0 + CONFIG.confirm_frames * HOP_S
    assert occupied.time_s - confirmed_s == pytest.approx(CONFIG.minor_occupy_s, abs=HOP_S + 1e-9)


@pytest.mark.parametrize("hold_s", [CONFIG.hold_s, 60.0])
def test_vacancy_comes_hold_s_after_the_last_motion(hold_s):
    config = CONFIG.model_copy(update={"hold_s": hold_s, "departure_vacancy_s": min(hold_s, 60.0)})
    times = timeline(400.0)
    scores = quiet(times)
    put(scores, times, 10.0, 15.0, WALK)
    _, occupied, events = run_presence(times, scores, config)
    last_motion_s = times[scores >= config.major_threshold][-1]
    (vacant,) = [e for e in events if e.event == "vacant"]
    assert 0.0 <= vacant.time_s - (last_motion_s + hold_s) < HOP_S + 1e-9
    assert occupied[times >= vacant.time_s].sum() == 0


def _departure_scene(fan: float = 0.0):
    times = timeline(600.0)
    scores = quiet(times)
    put(scores, times, 10.0, 14.0, WALK)  # walks in
    put(scores, times, 60.0, 64.0, WALK)  # walks out
    leaving = (times > 60.0) & (times <= 64.0)
    put(scores, times, 64.5, 600.0, fan)  # a fan the detector half-believes, or nothing
    return times, scores, leaving


def test_departure_hint_gives_vacancy_after_departure_vacancy_s():
    times, scores, leaving = _departure_scene()
    (_, vacant) = transitions(run_presence(times, scores, CONFIG, leaving)[2])
    assert 0.0 <= vacant.time_s - (64.0 + CONFIG.departure_vacancy_s) < HOP_S + 1e-9

    (_, vacant) = transitions(run_presence(times, scores, CONFIG)[2])  # no hint: the hold timer
    assert 0.0 <= vacant.time_s - (64.0 + CONFIG.hold_s) < HOP_S + 1e-9


def test_departure_closes_the_sensitive_window_and_without_it_a_fan_holds_a_bounded_time():
    times, scores, leaving = _departure_scene(fan=FAINT)
    (_, vacant) = transitions(run_presence(times, scores, CONFIG, leaving)[2])
    assert 0.0 <= vacant.time_s - (64.0 + CONFIG.departure_vacancy_s) < HOP_S + 1e-9

    config = CONFIG.model_copy(update={"sensitive_s": 120.0})
    (_, vacant) = transitions(run_presence(times, scores, config)[2])
    assert 0.0 <= vacant.time_s - (64.0 + 120.0 + CONFIG.hold_s) < HOP_S + 1e-9


def test_motion_after_a_departure_cancels_the_fast_vacancy():
    """Walking away from the device to a chair and fidgeting there is not leaving."""
    times, scores, leaving = _departure_scene()
    put(scores, times, 100.0, 101.0, FIDGET)
    (_, vacant) = transitions(run_presence(times, scores, CONFIG, leaving)[2])
    assert 0.0 <= vacant.time_s - (101.0 + CONFIG.hold_s) < HOP_S + 1e-9


def _mixed_scene(seed: int):
    rng = np.random.default_rng(seed)
    times = timeline(900.0)
    scores = quiet(times, seed)
    for _ in range(40):
        start = rng.uniform(0.0, 890.0)
        put(scores, times, start, start + rng.uniform(0.02, 8.0), rng.uniform(0.1, 1.0))
    leaving = rng.random(times.size) < 0.3
    return times, scores, leaving


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_streaming_in_any_chunks_equals_batch(seed):
    times, scores, leaving = _mixed_scene(seed)
    config = CONFIG.model_copy(update={"hold_s": 60.0, "departure_vacancy_s": 20.0, "sensitive_s": 100.0})
    motion, occupied, events = run_presence(times, scores, config, leaving)
    assert {e.event for e in events} == {"motion", "occupied", "vacant"}

    rng = np.random.default_rng(seed)
    presence = Presence(config)
    edges = np.unique(np.concatenate([[0, times.size], rng.integers(0, times.size, 300)]))
    parts = [presence.process(times[a:b], scores[a:b], leaving[a:b]) for a, b in zip(edges[:-1], edges[1:])]
    assert np.array_equal(np.concatenate([p[0] for p in parts]), motion)
    assert np.array_equal(np.concatenate([p[1] for p in parts]), occupied)
    assert [e for p in parts for e in p[2]] == events

    presence.reset()
    one_by_one = [e for t, s, lv in zip(times, scores, leaving) for e in presence.update(t, s, leaving=lv)]
    assert one_by_one == events
    assert presence.state == ("occupied" if occupied[-1] else "vacant") and presence.motion == motion[-1]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_release_only_holds_the_motion_flag(seed):
    """Holding motion through short gaps changes nothing else: the same occupied/vacant
    events and states, and each shown onset is an onset of the unheld flag."""
    times, scores, leaving = _mixed_scene(seed)
    config = CONFIG.model_copy(update={"hold_s": 60.0, "departure_vacancy_s": 20.0, "sensitive_s": 100.0})
    held = run_presence(times, scores, config, leaving)
    unheld = run_presence(times, scores, config.model_copy(update={"release_frames": 1}), leaving)
    assert np.array_equal(held[1], unheld[1])
    assert [e for e in held[2] if e.event != "motion"] == [e for e in unheld[2] if e.event != "motion"]
    shown, raw = held[0] != "none", unheld[0] != "none"
    assert shown[raw].all() and (shown & ~raw).any()
    assert {e.time_s for e in held[2] if e.event == "motion"} <= {e.time_s for e in unheld[2] if e.event == "motion"}


def test_reset_forgets_state_and_time():
    presence = Presence(CONFIG)
    for t in timeline(1.0):
        presence.update(t, WALK)
    assert presence.state == "occupied" and presence.motion == "major"
    presence.reset()
    assert presence.state == "vacant" and presence.motion == "none"
    assert presence.update(0.02, 0.0) == []  # earlier times are fine after a reset


def test_bad_inputs_raise_clear_errors():
    presence = Presence(CONFIG)
    presence.update(1.0, 0.5)
    with pytest.raises(ValueError, match="time_s must increase"):
        presence.update(1.0, 0.5)
    with pytest.raises(ValueError, match=r"score must be a finite number in \[0, 1\], got nan"):
        presence.update(2.0, float("nan"))
    with pytest.raises(ValueError, match="got 1.5"):
        presence.update(2.0, 1.5)
    with pytest.raises(ValueError, match="time_s must be finite"):
        presence.update(float("inf"), 0.5)
    with pytest.raises(ValueError, match="frame 2: time_s must increase"):
        run_presence([0.02, 0.04, 0.04], [0.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="frame 1: score"):
        run_presence([0.02, 0.04], [0.0, -0.1])
    with pytest.raises(ValueError, match="1-D arrays of one length"):
        run_presence([0.02, 0.04], [0.0])


def test_config_errors_name_the_key(tmp_path):
    with pytest.raises(ConfigError, match="'presence.hold_s'"):
        config_from_dict({"presence": {"hold_s": 0}})
    with pytest.raises(ConfigError, match="'presence.confirm_frames'"):
        config_from_dict({"presence": {"confirm_frames": 0}})
    with pytest.raises(ConfigError, match="'presence.hold'"):
        config_from_dict({"presence": {"hold": 60}})
    with pytest.raises(ConfigError, match="'presence'.*sensitive_threshold ≤ minor_threshold"):
        config_from_dict({"presence": {"minor_threshold": 0.1}})
    with pytest.raises(ConfigError, match="'presence'.*departure_vacancy_s"):
        config_from_dict({"presence": {"hold_s": 30.0}})
    path = tmp_path / "uspd.toml"
    path.write_text("[presence]\nmajor_threshold = 1.5\n")
    with pytest.raises(ConfigError, match="'presence.major_threshold'"):
        load_config(path)
    path.write_text("[presence]\nhold_s = 120.0\ndeparture_vacancy_s = 30.0\n")
    assert load_config(path).presence.hold_s == 120.0


def test_the_minor_threshold_in_force_follows_the_context_window():
    """Trusted-minor threshold while vacant; the sensitive one from the walk-in's confirmed
    frame until ``sensitive_s`` after the last clear motion; back at vacancy."""
    config = PresenceConfig(sensitive_s=5.0, hold_s=12.0, departure_vacancy_s=2.0)
    times = timeline(30.0)
    scores = quiet(times)
    put(scores, times, 2.0, 3.0, WALK)
    put(scores, times, 6.0, 6.4, FAINT)  # held by the sensitive threshold, renews nothing
    motion, occupied, events, threshold = Presence(config).process(times, scores, return_threshold=True)
    entered_s = next(e.time_s for e in events if e.event == "occupied")
    left_s = next(e.time_s for e in events if e.event == "vacant")
    last_clear_s = times[scores >= config.major_threshold][-1]  # the shown motion is held past it
    assert entered_s == pytest.approx(2.0 + 3 * HOP_S)
    assert set(threshold[times <= entered_s]) == {CONFIG.minor_threshold}  # judged before the state changed
    sensitive = (times > entered_s) & (times <= last_clear_s + config.sensitive_s)
    assert set(threshold[sensitive]) == {config.sensitive_threshold}
    assert set(threshold[times > last_clear_s + config.sensitive_s]) == {config.minor_threshold}
    assert left_s == pytest.approx(6.4 + config.hold_s, abs=HOP_S) and occupied[times > left_s].sum() == 0
    assert Presence(config).process(times, scores)[0].tolist() == motion.tolist()  # three values without the flag
