"""The detection chain on simulated rooms: a walk-in occupies the room, an empty one stays vacant."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import same_events
from uspd.config import Config
from uspd.detect.pipeline import Decisions, Detection
from uspd.sim.labels import label_scene
from uspd.sim.render import iter_doppler, scene_spectrogram
from uspd.sim.scenarios import build_scene

CONFIG = Config()


def _decide(name: str, seed: int, duration_s: float, block_frames: int | None = None) -> tuple[Decisions, object]:
    scene = build_scene(name, seed, duration_s=duration_s, array="smart_speaker_7")
    spec = scene_spectrogram(scene, CONFIG)
    detection = Detection(CONFIG, spec.velocity_m_s)
    parts = []
    for power, times in iter_doppler(scene, CONFIG, spec):
        step = block_frames or len(times) or 1
        parts += [detection.process(power[i : i + step], times[i : i + step]) for i in range(0, len(times), step)]
    return Decisions.concatenate(parts), label_scene(scene, CONFIG.frontend.hop_s)


def test_walk_in_occupies_the_room_soon_after_the_person_enters():
    decisions, truth = _decide("walk_in", 2, 15.0)
    enter_s = truth.time_s[np.argmax(truth.occupied == 1)]
    occupied_s = decisions.time_s[np.argmax(decisions.occupied == 1)]
    assert decisions.occupied.any()
    assert enter_s <= occupied_s <= enter_s + 1.5
    assert [e.event for e in decisions.events].count("occupied") == 1


@pytest.mark.parametrize("name", ["empty_quiet", "cat"])
def test_empty_rooms_stay_vacant(name):
    decisions, _ = _decide(name, 2, 15.0)
    assert not decisions.occupied.any()


def test_block_size_does_not_change_decisions():
    whole, _ = _decide("walk_in", 3, 8.0)
    framewise, _ = _decide("walk_in", 3, 8.0, block_frames=1)
    np.testing.assert_allclose(whole.score, framewise.score, atol=1e-5)  # float rounding of block sizes
    np.testing.assert_array_equal(whole.occupied, framewise.occupied)
    assert same_events(whole.events, framewise.events)
