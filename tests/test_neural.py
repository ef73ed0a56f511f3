"""The neural detector: features, streaming, export agreement, shipped model behaviour."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from uspd.config import Config
from uspd.detect.features import CLIP_DB, DB_SCALE, MAX_SPEED_M_S, N_BINS, DopplerFeatures, pooling_matrix
from uspd.detect.neural import CLASSES, NeuralDetector, default_model_path, motion_score
from uspd.detect.pipeline import Detection
from uspd.sim.render import iter_doppler, scene_spectrogram
from uspd.sim.scenarios import build_scene

CONFIG = Config()
HELD_OUT = 1_000_000 + 900_000  # seeds no training set uses


def _frames(name: str, seed: int, duration_s: float):
    scene = build_scene(name, seed, duration_s=duration_s)
    spectrogram = scene_spectrogram(scene, CONFIG)
    parts = list(iter_doppler(scene, CONFIG, spectrogram))
    return (np.concatenate([p for p, _ in parts]), np.concatenate([t for _, t in parts]),
            spectrogram.velocity_m_s)


@pytest.fixture(scope="module")
def walk_in():
    return _frames("walk_in", HELD_OUT, 20.0)


@pytest.fixture(scope="module")
def fan():
    return _frames("empty_fan", HELD_OUT + 1, 40.0)


def test_pooling_keeps_mean_power_on_any_carrier_grid():
    for carrier_hz in (20000.0, 32000.0, 40000.0):
        velocity = np.fft.fftshift(np.fft.fftfreq(240, 1 / 3000.0)) * 343.0 / (2 * carrier_hz)
        velocity = velocity[np.abs(velocity) <= MAX_SPEED_M_S + 0.1]
        pool = pooling_matrix(velocity)
        assert pool.shape == (len(velocity), N_BINS)
        np.testing.assert_allclose(np.ones(len(velocity)) @ pool, 1.0, rtol=1e-5)  # flat power stays flat
    with pytest.raises(ValueError, match="does not cover"):
        pooling_matrix(np.linspace(-1.0, 1.0, 50))


def test_features_measure_db_over_a_floor_and_flag_missing_frames():
    velocity = np.linspace(-4.2, 4.2, 120)
    features = DopplerFeatures(velocity)
    quiet = np.ones((100, 120))
    burst = quiet.copy()
    burst[50:55, 90:100] = 1000.0  # +30 dB in a few bins for 0.1 s
    burst[70] = 0.0  # no data
    x, missing = features.process(burst)
    assert np.all(x[:50] == 0) and missing.tolist() == [i == 70 for i in range(100)]
    assert x[50].max() == pytest.approx(30.0 / DB_SCALE * (9 / 10.7), rel=0.3)  # part of a grid bin
    assert x[70].max() == 0 and x[60:].max() < 0.05  # the floor did not follow the burst
    assert x.min() >= CLIP_DB[0] / DB_SCALE


def _int8() -> Path:
    return default_model_path().with_name("motion.int8.onnx")


def test_streaming_one_frame_at_a_time_equals_one_call(walk_in):
    """Exact with the shipped float model; the int8 model quantizes activations per call, so
    block sizes move its scores by quantization noise only."""
    power, _, velocity = walk_in
    for model, atol, mean_tol in ((None, 1e-5, 1e-6), (_int8(), 0.2, 0.01)):
        whole = NeuralDetector(velocity, 0.02, model_path=model).process(power)
        detector = NeuralDetector(velocity, 0.02, model_path=model)
        parts = [detector.process(power[i:i + 1]) for i in range(0, 300)]
        parts.append(detector.process(power[300:]))
        streamed = np.concatenate([p.score for p in parts])
        np.testing.assert_allclose(streamed, whole.score, atol=atol)
        assert np.abs(streamed - whole.score).mean() < mean_tol


def test_missing_frames_score_zero_and_restart_the_warm_up(walk_in):
    power, _, velocity = walk_in
    gap = power.copy()
    gap[400:410] = 0.0
    frames = NeuralDetector(velocity, 0.02).process(gap)
    assert np.all(frames.score[:50] == 0)  # 1 s warm-up at the start
    assert np.all(frames.score[400:460] == 0)  # the gap and 1 s after it


def test_shipped_model_sees_a_walk_in_and_ignores_a_fan(walk_in, fan):
    for (power, time_s, velocity), expect_occupied in ((walk_in, True), (fan, False)):
        decisions = Detection(CONFIG, velocity).process(power, time_s)
        assert bool(decisions.occupied.any()) == expect_occupied
        assert any(e.event == "occupied" for e in decisions.events) == expect_occupied


def test_int8_model_agrees_with_the_shipped_float_model(walk_in, fan):
    for power, _, velocity in (walk_in, fan):
        a = NeuralDetector(velocity, 0.02, model_path=_int8()).process(power)
        b = NeuralDetector(velocity, 0.02).process(power)
        assert np.abs(a.score - b.score).max() < 0.2
        assert np.abs(a.score - b.score).mean() < 0.01
        assert np.mean((a.score >= 0.35) == (b.score >= 0.35)) > 0.99


def test_motion_score_is_the_expected_motion_level():
    p = np.eye(len(CLASSES), dtype=np.float32)
    assert motion_score(p).tolist() == [0.0, 0.5, 1.0, 0.0]


def test_a_model_for_other_features_is_refused(tmp_path):
    onnx = pytest.importorskip("onnx")
    model = onnx.load(str(default_model_path()))
    onnx.helper.set_model_props(model, {"n_bins": "32", "classes": ",".join(CLASSES)})
    path = tmp_path / "other.onnx"
    onnx.save(model, str(path))
    with pytest.raises(ValueError, match="other features"):
        NeuralDetector(np.linspace(-4.2, 4.2, 120), 0.02, model_path=path)
    with pytest.raises(FileNotFoundError, match="uspd mine"):
        NeuralDetector(np.linspace(-4.2, 4.2, 120), 0.02, model_path=tmp_path / "none.onnx")
