"""Fixtures shared by the sound-card tests: one calibration-study unit and its room as a
virtual card hears it (:class:`~uspd.sim.virtual_card.RoomLoopback`), built once."""

import pytest

from uspd.calibration_study import draw_unit
from uspd.config import Config
from uspd.sim.virtual_card import RoomLoopback

QUIET_UNIT = 2009  # the calibration tests' unit: one mic, 96 kHz, no HVAC (tests/test_calibrate.py)


@pytest.fixture(scope="session")
def unit():
    return draw_unit(QUIET_UNIT)


@pytest.fixture(scope="session")
def room(unit):
    return RoomLoopback(unit.scene, Config().simulation)
