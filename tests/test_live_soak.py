"""Soak: hours of a simulated day through the live chain as fast as possible, with the
journal and routines on: memory stays flat and no frame is dropped."""

from __future__ import annotations

import tracemalloc
from datetime import datetime

import pytest

from uspd.config import config_from_dict
from uspd.live.journal import Journal
from uspd.live.routines import Timeline, load_routines
from uspd.live.run import LiveChain, run_live
from uspd.live.sources import SimulatedSource
from uspd.sim.scenarios import build_scene

HOURS = 2
_MAX_GROWTH_BYTES = 4 * 2**20  # after the first hour; the score history and recent-events lists are bounded


@pytest.mark.slow
def test_hours_of_live_operation_keep_memory_flat_and_drop_no_frame(tmp_path):
    config = config_from_dict({"routines": [
        {"name": "quiet", "trigger": "no_motion_for", "seconds": 600, "actions": [{"type": "command", "argv": ["true"]}]},
    ]})
    scene = build_scene("living_room_day", 7, duration_s=HOURS * 3600.0)
    source = SimulatedSource(scene, config)
    checkpoints: dict[int, int] = {}
    with Journal(tmp_path / "soak.sqlite3") as journal:
        chain = LiveChain(config, source.velocity_m_s, journal=journal, timeline=Timeline(datetime(2024, 5, 1)),
                          source_name=source.name, routines=load_routines(config))

        def measure(status) -> None:
            hour = int(status.time_s // 3600)
            if hour not in checkpoints and hour >= 1:
                checkpoints[hour] = tracemalloc.get_traced_memory()[0]

        tracemalloc.start()
        try:
            summary = run_live(source, chain, speed=None, on_block=measure)
            end_bytes = tracemalloc.get_traced_memory()[0]
        finally:
            tracemalloc.stop()
        assert summary.dropped_frames == 0
        assert summary.frames == pytest.approx(HOURS * 3600 / config.frontend.hop_s, abs=10)
        rows = journal.events()  # every presence event, and a row per no_motion_for firing
        assert len([e for e in rows if e.event != "no_motion_for"]) == len(summary.events)
        assert len([e for e in rows if e.event == "no_motion_for"]) == summary.firings > 0
    assert end_bytes - checkpoints[1] < _MAX_GROWTH_BYTES, (checkpoints, end_bytes)
