"""uspd bench: its naive reference sees what the front end sees, and the command reports
every goal."""

import numpy as np
import pytest
from typer.testing import CliRunner

from uspd.bench import DEVICES, naive_doppler, synthetic_audio
from uspd.cli import app
from uspd.config import FrontendConfig
from uspd.frontend.stream import DEFAULT_SPEED_OF_SOUND_M_S, doppler_frames


@pytest.mark.parametrize("device", DEVICES, ids=lambda d: d.name)
def test_naive_reference_and_front_end_find_the_echo_at_the_same_speed(device):
    config = FrontendConfig()
    audio = synthetic_audio(device.sample_rate_hz, device.n_mics, device.carrier_hz, 2.0)
    expected_m_s = 150.0 * DEFAULT_SPEED_OF_SOUND_M_S / (2 * device.carrier_hz)  # the echo's +150 Hz
    naive, naive_v = naive_doppler(audio, device.sample_rate_hz, device.carrier_hz, config.frame_s, config.hop_s,
                                   config.max_speed_m_s, DEFAULT_SPEED_OF_SOUND_M_S)
    power, _, velocity = doppler_frames(audio, device.sample_rate_hz, device.carrier_hz, config)
    bin_m_s = np.diff(velocity).mean()
    assert len(naive) == pytest.approx(len(power), abs=6)  # the front end withholds its settling frames
    for frames, axis in ((naive[10:], naive_v), (power[10:], velocity)):
        moving = np.abs(axis) > 0.2  # the direct path sits at 0 m/s (the front end removes it)
        peaks = axis[moving][np.argmax(frames[:, moving], axis=1)]
        assert np.all(np.abs(peaks - expected_m_s) <= bin_m_s)


@pytest.mark.slow
def test_bench_quick_writes_every_goal_and_table(tmp_path):
    out = tmp_path / "bench.md"
    result = CliRunner().invoke(app, ["bench", "--quick", "--out", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert "Made by `uspd bench --quick" in text
    assert "Where the time goes" in text
    for row in ("whole pipeline real-time factor", "hours scored per core-hour", "algorithmic latency"):
        assert row in text and row in result.output
    for device in DEVICES:
        assert text.count(f"| {device.name} |") == 6  # naive reference + five stages
    latency = next(line for line in text.splitlines() if "algorithmic latency" in line)
    assert latency.endswith("| yes |")  # 20 ms hop + 3.7 ms look-ahead
    assert "up to one block more than the algorithmic latency, 124 ms at the default 0.1 s blocks" in text
