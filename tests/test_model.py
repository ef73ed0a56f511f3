"""Training, export and the long-tail loop's bookkeeping (needs the train extra: torch, onnx)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnxruntime = pytest.importorskip("onnxruntime")

from uspd.detect.features import N_BINS  # noqa: E402
from uspd.detect.neural import CLASSES  # noqa: E402
from uspd.model.data import SceneData, SceneSpec  # noqa: E402
from uspd.model.export import export_onnx, quantize_int8  # noqa: E402
from uspd.model.loop import LoopSettings, Mined, category, cut, stage_metrics, stretches  # noqa: E402
from uspd.model.network import MotionNet  # noqa: E402
from uspd.model.train import TrainSettings, crops, train, validate  # noqa: E402

MAJOR, NONHUMAN = CLASSES.index("major"), CLASSES.index("nonhuman")


def _synthetic(seed: int, n_frames: int = 3000) -> SceneData:
    """Noise frames with walking-like bursts (one-sided, broad) and fan-like spells
    (two narrow symmetric lines): separable, so a working training loop must learn it."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 0.1, (n_frames, N_BINS))
    target = np.zeros(n_frames, np.int8)
    nonhuman = np.full(n_frames, "none", dtype=object)
    for start in rng.integers(0, n_frames - 100, 6):
        if rng.uniform() < 0.5:
            x[start:start + 60, 40:52] += 1.5
            target[start:start + 60] = MAJOR
        else:
            x[start:start + 90, [20, 43]] += 1.5
            target[start:start + 90] = np.where(target[start:start + 90] == MAJOR, MAJOR, NONHUMAN)
            nonhuman[start:start + 90] = "desk_fan"
    return SceneData(SceneSpec("synthetic", seed, n_frames * 0.02), x.astype(np.float16), np.zeros(n_frames, bool),
                     target, nonhuman.astype(str), np.full(n_frames, np.nan, np.float32))


@pytest.fixture(scope="module")
def trained():
    """A model trained on separable synthetic scenes, and its per-epoch reports."""
    return train([_synthetic(i, 2000) for i in range(6)], [_synthetic(100, 2000)], TrainSettings(epochs=5, batch=8, seed=1))


def test_training_learns_separable_motion(trained):
    model, reports = trained
    assert len(reports) == 5 and reports[-1].train_loss < reports[0].train_loss
    major, _, false_per_h = validate(model, [_synthetic(101)], threshold=0.35)
    assert major > 0.9 and false_per_h < 0.05 * 3600 / 0.02  # fewer than 5 % of other frames over threshold


def test_crops_skip_context_and_missing_frames():
    scene = _synthetic(0, 700)
    scene.missing[100:110] = True
    x, y = crops([scene], crop=256, context=128, rng=np.random.default_rng(0))
    assert x.shape[1:] == (N_BINS, 384) and y.shape[1] == 384
    assert np.all(y[:, :128] == -1)
    scored = (y >= 0).sum()
    assert scored == 700 - 10  # every frame with data is scored exactly once


def test_network_fits_the_budget_and_training_context_covers_its_view():
    net = MotionNet()
    assert sum(p.numel() for p in net.parameters()) <= 50_000
    assert net.macs_per_frame() * 50 <= 2_000_000  # ≤ 2 MMAC per second of audio at 20 ms hops
    assert net.receptive_frames - 1 <= TrainSettings().context_frames


def test_export_matches_torch_and_streams_hop_by_hop(tmp_path):
    torch.manual_seed(0)
    net = MotionNet().eval()
    path = export_onnx(net, tmp_path / "m.onnx", {"stage": "test"})
    session = onnxruntime.InferenceSession(str(path))
    states = [i for i in session.get_inputs() if i.name.startswith("state")]
    x = np.random.default_rng(0).normal(size=(1, N_BINS, 200)).astype(np.float32)
    zero = {i.name: np.zeros(i.shape, np.float32) for i in states}
    whole = session.run(None, {"features": x, **zero})[0]
    with torch.no_grad():
        expected = torch.softmax(net(torch.from_numpy(x))[0], dim=1).numpy()
    np.testing.assert_allclose(whole, expected, atol=1e-5)
    state, hops = zero, []
    for k in range(200):
        out = session.run(None, {"features": x[:, :, k:k + 1], **state})
        hops.append(out[0])
        state = {i.name: v for i, v in zip(states, out[1:])}
    np.testing.assert_allclose(np.concatenate(hops, axis=2), whole, atol=1e-5)
    assert session.get_modelmeta().custom_metadata_map["classes"] == ",".join(CLASSES)


def test_int8_model_agrees_with_float(trained, tmp_path):
    fp32 = export_onnx(trained[0], tmp_path / "m.fp32.onnx", {})
    int8 = quantize_int8(fp32, tmp_path / "m.int8.onnx")
    x = _synthetic(99).features.T[None].astype(np.float32)
    outputs = []
    for path in (fp32, int8):
        session = onnxruntime.InferenceSession(str(path))
        zero = {i.name: np.zeros(i.shape, np.float32) for i in session.get_inputs()[1:]}
        outputs.append(session.run(None, {"features": x, **zero})[0][0])
    difference = np.abs(outputs[0] - outputs[1])
    assert difference.mean() < 0.01 and difference.max() < 0.15
    assert np.mean(outputs[0].argmax(0) == outputs[1].argmax(0)) > 0.98


def test_stretches_pad_and_join_runs_after_the_warm_up():
    flag = np.zeros(100, bool)
    flag[[2, 20, 24, 60]] = True
    assert stretches(flag, context=3, skip=5) == [(17, 28), (57, 64)]


def test_cut_marks_the_lead_in_missing_and_category_reads_truth():
    scene = _synthetic(3, 1000)
    fan = np.flatnonzero(scene.nonhuman == "desk_fan")
    m = Mined(0, int(fan[0]), int(fan[0]) + 50)
    piece = cut(scene, m, lead_in=128)
    lead = min(128, m.start)
    assert len(piece) == lead + 50 and piece.missing[:lead].all() and not piece.missing[lead:].any()
    assert category(scene, m) == "desk_fan"
    assert category(scene, Mined(0, 0, 0)) == "nothing"


def _empty_room(name: str, n_frames: int) -> SceneData:
    return SceneData(SceneSpec(name, 0, n_frames * 0.02), np.zeros((n_frames, N_BINS), np.float16), np.zeros(n_frames, bool),
                     np.zeros(n_frames, np.int8), np.full(n_frames, "none"), np.full(n_frames, np.nan, np.float32))


def test_stage_metrics_count_onsets_per_scenario_after_the_warm_up():
    fan, quiet, walk = _empty_room("empty_fan", 1000), _empty_room("empty_quiet", 1000), _synthetic(5, 1000)
    fan_score, quiet_score = np.zeros(1000), np.zeros(1000)
    fan_score[[10, 11, 12]] = 0.9  # inside the 5 s warm-up: not counted
    fan_score[400:403] = fan_score[600:610] = 0.9  # two onsets of ≥ 3 frames
    fan_score[800:803] = fan_score[820:823] = 0.9  # 0.3 s apart: one motion, held through the gap as shown
    quiet_score[700:702] = 0.9  # 2 frames: debounced away
    walk_score = np.where(walk.target == MAJOR, 0.9, 0.0)
    m = stage_metrics([fan_score, quiet_score, walk_score], [fan, quiet, walk], LoopSettings(), 0.02)
    hours = (1000 - 250) * 0.02 / 3600  # each empty room after the warm-up
    assert m["false_onsets_per_hour_by_scenario"] == pytest.approx({"empty_fan": 3 / hours, "empty_quiet": 0.0})
    assert m["false_onsets_per_hour"] == pytest.approx(1.5 / hours) and m["empty_hours"] == pytest.approx(2 * hours)
    assert m["major_detected"] == 1.0 and m["minor_detected"] is None  # no minor events to detect


def test_loop_settings_reject_pet_scenes_without_length():
    with pytest.raises(ValueError, match="positive"):
        LoopSettings(pet_scene_s=0.0)
    with pytest.raises(ValueError, match="0 or more"):
        LoopSettings(single_mic_music=-1)
    with pytest.raises(ValueError, match="0 or more"):
        LoopSettings(single_mic_music_walks=-1)


def test_single_mic_walks_take_new_rooms_and_leave_the_music_rooms_as_cached():
    from uspd.model.loop import single_mic_sets

    assert single_mic_sets(LoopSettings()) == {}
    music_only = single_mic_sets(LoopSettings(labeled_per_kind=4, single_mic_music=3))
    sets = single_mic_sets(LoopSettings(labeled_per_kind=4, single_mic_music=3, single_mic_music_walks=5))
    music, walks = sets.values()
    assert music == next(iter(music_only.values()))  # the same specs: the same cache key
    assert [(s.name, s.seed, s.array) for s in walks] == [("music_with_walk", 7 + i, "single") for i in range(5)]
    assert not {(s.name, s.seed) for s in walks} & {(s.name, s.seed) for s in music}


def test_single_mic_music_rooms_follow_the_labeled_seeds_and_keep_their_array_in_the_cache(tmp_path):
    from uspd.model.data import MUSIC_SCENARIOS, labeled_set, load_scenes, save_scenes, single_mic_music

    labeled = labeled_set(4)
    extra = single_mic_music(3, first_seed=4)
    assert [(s.name, s.seed) for s in extra] == [(name, 4 + i) for name in MUSIC_SCENARIOS for i in range(3)]
    assert {s.array for s in extra} == {"single"} and {s.array for s in labeled} == {None}
    assert not {(s.name, s.seed) for s in extra} & {(s.name, s.seed) for s in labeled}  # new rooms only
    scenes = [replace(_empty_room("music_loud_empty", 10), spec=spec) for spec in (extra[-1], labeled[0])]
    save_scenes(scenes, tmp_path / "set.npz")
    assert [s.spec for s in load_scenes(tmp_path / "set.npz")] == [extra[-1], labeled[0]]


def test_the_playback_cancellers_settings_key_the_render_cache_only_while_it_is_on(tmp_path, monkeypatch):
    """Off, its settings change no frame: caches made before it stay valid. On, training
    renders pass the scene's playback (render.iter_doppler): scenes with music are new,
    the others are the plain chain's."""
    from uspd.config import Config, config_from_dict
    from uspd.model import loop

    rendered = []

    def render(specs, config, workers, on_done=None):
        rendered.append((config.frontend.music.playback, [spec.name for spec in specs]))
        scenes = [replace(_empty_room(spec.name, 10), spec=spec) for spec in specs]
        for spec, scene in zip(specs, scenes):
            on_done(spec, scene)
        return scenes

    monkeypatch.setattr(loop, "render_scenes", render)
    specs = [SceneSpec("music_loud_empty", 3, 10.0), SceneSpec("empty_quiet", 3, 10.0)]
    off_otherwise = config_from_dict({"frontend": {"music": {"playback_filter_s": 0.1}}})
    on = config_from_dict({"frontend": {"music": {"playback": True}}})
    ticks = []
    for config in (on, Config(), off_otherwise, on):
        scenes = loop.cached_render(specs, config, tmp_path, workers=1, on_done=lambda spec, _: ticks.append(spec.name))
        assert [s.spec for s in scenes] == specs
    # on: the plain chain's render of the list (kept for the others), then only the music scene anew
    assert rendered == [(False, ["music_loud_empty", "empty_quiet"]), (True, ["music_loud_empty"])]
    assert ticks[:2] == ["empty_quiet", "music_loud_empty"]  # one tick per scene
    assert len(list(tmp_path.glob("*.npz"))) == 2
