"""The music-distortion cancellers (≥ 3 mics, and conjugate pairs for 1–2): suppression, people kept,
streaming == batch, the per-cell formula."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from uspd.config import Config, ConfigError, config_from_dict
from uspd.live.sources import WavSource
from uspd.music_study import chain_configs, distortion_energy
from uspd.sim.files import write_scene
from uspd.sim.render import playback_baseband, render_baseband, scene_spectrogram
from uspd.sim.scenarios import build_scene

SEED = 5  # a tuning seed (< 1,000,000): held-out rooms are for docs/music.md
PAIR_SEED = 7  # a tuning room whose music stands 29 dB (single mic), 46 dB (laptop_2) over the noise
CHAINS = chain_configs(Config())
ON, OFF = CHAINS["neural/on"], CHAINS["neural/off"]


def _energy(scene, baseband: np.ndarray, config: Config) -> float:
    return float(scene_spectrogram(scene, config).compute(baseband)[0].sum(dtype=np.float64))


def _renders(name: str, duration_s: float, array: str = "smart_speaker_7") -> tuple:
    """The scene, its baseband, and the same room's baseband without music and without movers."""
    scene = build_scene(name, SEED, duration_s=duration_s, array=array)
    quiet = dataclasses.replace(scene, music=None)
    return scene, *(render_baseband(s, Config().simulation).signal for s in (scene, quiet, dataclasses.replace(quiet, movers=())))


def test_distortion_in_an_empty_room_is_suppressed_by_more_than_22_db():
    scene = build_scene("music_loud_empty", SEED, duration_s=8.0, array="smart_speaker_7")
    energy = distortion_energy(scene, {"neural/on": ON, "neural/off": OFF})  # the music's part alone, off and on
    assert energy["off"] > 100 * energy["noise"]  # loud: 20 dB over the noise in the band
    assert 10 * np.log10(energy["off"] / energy["on"]) > 22.0  # 25.9 dB measured (its first second still learning)


def test_the_measured_part_leaves_the_frames_as_they_are():
    scene = build_scene("music_loud_empty", SEED, duration_s=3.0, array="smart_speaker_7")
    baseband = render_baseband(scene, Config().simulation).signal
    part = render_baseband(dataclasses.replace(scene, music=None), Config().simulation).signal
    alone, _ = scene_spectrogram(scene, ON).process(baseband)
    with_part, _, part_power = scene_spectrogram(scene, ON).process(baseband, part=part)
    np.testing.assert_array_equal(with_part, alone)
    assert part_power.shape == alone.shape and part_power.sum() > 0


def test_a_walker_keeps_their_doppler_energy_with_and_without_music():
    scene, music, walk, empty = _renders("music_with_walk", 10.0)
    person = {label: _energy(scene, walk, c) - _energy(scene, empty, c) for label, c in (("off", OFF), ("on", ON))}
    assert abs(10 * np.log10(person["on"] / person["off"])) < 0.2  # without music: untouched
    # with music the band holds little more than the walker once the canceller is on
    excess_db = {label: 10 * np.log10(_energy(scene, music, c) / _energy(scene, walk, c)) for label, c in (("off", OFF), ("on", ON))}
    assert excess_db["off"] > 8.0  # 13.4 dB measured
    assert excess_db["on"] < 1.0  # 0.34 dB measured


def test_canceller_streams_block_by_block_like_the_whole_recording():
    scene = build_scene("music_loud_empty", SEED, duration_s=6.0, array="smart_speaker_7")
    baseband = render_baseband(scene, Config().simulation).signal
    spectrogram = scene_spectrogram(scene, ON)
    whole, whole_t = spectrogram.compute(baseband)
    parts = [spectrogram.process(block) for block in np.split(baseband, [1, 61, 62, 4000, 9001, 12000], axis=1)]
    np.testing.assert_array_equal(np.concatenate([t for _, t in parts]), whole_t)
    assert np.max(np.abs(np.concatenate([p for p, _ in parts]) - whole)) <= 1e-6 * np.max(whole)
    assert spectrogram.canceller.h is not None and np.allclose(np.linalg.norm(spectrogram.canceller.h, axis=1), 1.0)


@pytest.mark.parametrize("array", ["single", "laptop_2"])
def test_one_or_two_mics_cancel_the_distortion_on_conjugate_pairs(array):
    scene = build_scene("music_loud_empty", PAIR_SEED, duration_s=15.0, array=array)
    energy = distortion_energy(scene, {"neural/on": ON, "neural/off": OFF})
    assert energy["off"] > 100 * energy["noise"]
    assert 10 * np.log10(energy["off"] / energy["on"]) > 5.0  # 6.7 (single) and 11.8 dB (laptop_2) measured


def test_one_mic_keeps_a_walker_and_takes_some_music_out():
    scene, music, walk, empty = _renders("music_with_walk", 10.0, array="single")
    person = {label: _energy(scene, walk, c) - _energy(scene, empty, c) for label, c in (("off", OFF), ("on", ON))}
    assert abs(10 * np.log10(person["on"] / person["off"])) < 0.3  # without music: −0.06 dB measured
    excess_db = {label: 10 * np.log10(_energy(scene, music, c) / _energy(scene, walk, c)) for label, c in (("off", OFF), ("on", ON))}
    assert excess_db["on"] < excess_db["off"] - 4.0  # 26.8 → 22.7 dB measured


def test_one_mic_canceller_streams_block_by_block_like_the_whole_recording():
    scene = build_scene("music_loud_empty", PAIR_SEED, duration_s=6.0, array="single")
    baseband = render_baseband(scene, Config().simulation).signal
    spectrogram = scene_spectrogram(scene, ON)
    whole, _ = spectrogram.compute(baseband)
    parts = [spectrogram.process(block)[0] for block in np.split(baseband, [1, 61, 62, 4000, 9001, 12000], axis=1)]
    assert np.max(np.abs(np.concatenate(parts) - whole)) <= 1e-6 * np.max(whole)
    assert spectrogram.pair_canceller.active(1) and not spectrogram.canceller.active(1)
    assert not scene_spectrogram(scene, config_from_dict({"frontend": {"music": {"pair": False}}})).pair_canceller.active(1)
    assert spectrogram.pair_canceller._cancelled.any()  # the distortion was found: the comparison covers cancelling


def test_each_conjugate_pair_loses_its_gated_projection_and_a_one_sided_cell_stays():
    """v = [X(f), X*(−f)]; y = v − β·hhᴴv with β the gate's ramp of g = (c − u)/(1 − u):
    c the coherence with h, u the share on the cell's stronger side of 0 Hz."""
    from uspd.frontend.music import ConjugatePairCanceller

    config = Config().frontend.music
    rng = np.random.default_rng(4)
    n_bins, period = 7, int(round(config.update_s / 0.02))
    canceller = ConjugatePairCanceller(config, n_bins=n_bins, hop_s=0.02)
    h = rng.standard_normal((n_bins // 2, 2)) + 1j * rng.standard_normal((n_bins // 2, 2))
    h /= np.linalg.norm(h, axis=-1, keepdims=True)

    def cells(gain: np.ndarray, one_sided: float = 0.0) -> np.ndarray:
        pairs = gain[None, :, None] * h[:, None, :] + rng.standard_normal((n_bins // 2, len(gain), 2)) * (1 + 1j) / 2
        pairs[:, -1, 0] += one_sided  # the last frame: a mover at +f
        out = np.zeros((n_bins, len(gain), 1), dtype=np.complex64)
        out[n_bins // 2 + 1 :, :, 0], out[n_bins // 2 - 1 :: -1, :, 0] = pairs[..., 0], pairs[..., 1].conj()
        return out

    canceller.process(cells(np.full(period, 20.0)))  # one period of distortion: h is learned, every bin cancelled
    assert canceller._cancelled.all()
    assert np.allclose(np.abs(np.einsum("bd,bd->b", canceller.basis[..., 0].conj(), h)), 1.0, atol=1e-3)
    x = cells(np.linspace(0.0, 6.0, 40), one_sided=30.0)
    y = canceller.process(x)

    v = np.stack([x[n_bins // 2 + 1 :, :, 0], x[n_bins // 2 - 1 :: -1, :, 0].conj()], axis=-1).astype(np.complex128)
    learned = canceller.basis[..., 0]
    along = np.einsum("bd,btd->bt", learned.conj(), v)
    energy = (np.abs(v) ** 2).sum(axis=-1)
    coherence, stronger = np.abs(along) ** 2 / energy, (np.abs(v) ** 2).max(axis=-1) / energy
    beta = np.clip(((coherence - stronger) / (1 - stronger) - config.pair_gate[0]) / np.diff(config.pair_gate), 0.0, 1.0)
    expected = v - beta[..., None] * along[..., None] * learned[:, None, :]
    assert (beta == 0).any() and (beta == 1).any() and ((beta > 0) & (beta < 1)).any()  # the whole gate
    assert (beta[:, -1] == 0).all()  # the mover's cells stay
    np.testing.assert_allclose(y[n_bins // 2 + 1 :, :, 0], expected[..., 0], rtol=0, atol=2e-5 * np.abs(x).max())
    np.testing.assert_allclose(y[n_bins // 2 - 1 :: -1, :, 0], expected[..., 1].conj(), rtol=0, atol=2e-5 * np.abs(x).max())
    np.testing.assert_array_equal(y[n_bins // 2], x[n_bins // 2])  # 0 Hz passes


def test_bins_without_a_lasting_tie_pass_bit_for_bit_and_so_does_their_measured_part():
    """The pair canceller touches only the bins it cancels: in the others (noise alone) every
    cell, and every cell of a measured part, comes out exactly as it went in."""
    from uspd.frontend.music import ConjugatePairCanceller

    config = Config().frontend.music
    rng = np.random.default_rng(5)
    n_bins, period, centre = 7, int(round(config.update_s / 0.02)), 3
    canceller = ConjugatePairCanceller(config, n_bins=n_bins, hop_s=0.02)
    tied = (0, 2)  # pairs (bins above 0 Hz, in order) that carry music's ±f tie; pair 1 holds noise alone

    def cells(n_frames: int) -> np.ndarray:
        out = (rng.standard_normal((n_bins, n_frames, 1)) + 1j * rng.standard_normal((n_bins, n_frames, 1))) / 2
        for pair in tied:
            music = 20.0 * (rng.standard_normal(n_frames) + 1j * rng.standard_normal(n_frames))
            out[centre + 1 + pair, :, 0] += 0.8 * music
            out[centre - 1 - pair, :, 0] += np.conj(0.6j * music)  # X(−f) = conj of the pair's second entry
        return out.astype(np.complex64)

    canceller.process(cells(period))
    assert canceller._cancelled.tolist() == [True, False, True]
    x, part = cells(30), cells(30)
    y, part_out = canceller.process(x, part=part)
    untouched = [centre - 2, centre, centre + 2]  # pair 1 at ±f, and 0 Hz
    np.testing.assert_array_equal(y[untouched], x[untouched])
    np.testing.assert_array_equal(part_out[untouched], part[untouched])
    assert np.abs(y).sum() < 0.5 * np.abs(x).sum()  # the tied bins lost their music


def test_a_few_loud_transients_do_not_open_a_bin_but_a_lasting_tie_does():
    """Two clicks carry nearly all of a period's energy and are two directions: the
    energy-weighted share alone would call the bin music; the unit-weighted one does not."""
    from uspd.frontend.music import ConjugatePairCanceller

    config = Config().frontend.music
    rng = np.random.default_rng(5)
    n_bins, n_mics, period = 7, 2, int(round(config.update_s / 0.02))

    def noise() -> np.ndarray:
        shape = (n_bins, period, n_mics)
        return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64)

    clicks = noise()
    clicks[:, [10, 30]] *= 100.0
    canceller = ConjugatePairCanceller(config, n_bins=n_bins, hop_s=0.02)
    canceller.process(clicks)
    assert not canceller._cancelled.any()
    tie = noise()  # every frame: the same sideband at +f and, conjugated, at −f
    music = 10.0 * rng.standard_normal((n_bins // 2, period)) * (1 + 0.5j)
    tie[n_bins // 2 + 1 :, :, 0] += music
    tie[n_bins // 2 - 1 :: -1, :, 0] += music.conj()
    canceller.reset()
    canceller.process(tie)
    assert canceller._cancelled.all()


def test_one_lasting_sound_from_one_direction_on_two_mics_opens_few_bins():
    """A sound from one direction (keys jingling next door) on a laptop's two mics: its +f
    and its −f are each one direction across the mics, so two directions hold all of it,
    energy- and unit-weighted alike, but the two sides are unrelated: not a tie. Their
    sample correlation only reaches the threshold by chance, in a few bins now and then."""
    from uspd.frontend.music import ConjugatePairCanceller

    config = Config().frontend.music
    rng = np.random.default_rng(6)
    n_bins, n_mics, period = 101, 2, int(round(config.update_s / 0.02))

    def noise(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64)

    frames = 10 * period
    cells = noise(n_bins, frames, n_mics)
    direction = noise(n_bins, 1, n_mics)
    direction /= np.linalg.norm(direction, axis=-1, keepdims=True)  # as loud at +f as at −f: not lopsided (see below)
    cells += 10.0 * noise(n_bins, frames, 1) * direction  # per bin one direction, its own sound
    opened = {}
    for tie in (config.pair_tie, 0.0):
        canceller = ConjugatePairCanceller(config.model_copy(update={"pair_tie": tie}), n_bins=n_bins, hop_s=0.02)
        canceller.process(cells)
        opened[tie] = canceller._cancelled.mean()
    assert opened[config.pair_tie] <= 0.1
    assert opened[0.0] == 1.0  # dominance and persistence alone would cancel every bin


@pytest.mark.parametrize("n_mics", [1, 2])
def test_a_lopsided_line_is_removed_once_it_has_lasted_and_not_before(n_mics):
    """Distortion on one side of 0 Hz only (the other side noise), pulsing as music does:
    every cell is one-sided, so the two-sided gate leaves it, and on two mics the sides do
    not correlate. After ``pair_lopsided_s`` of it the bins are gated on plain coherence and
    the line goes, and a few seconds without it (a quiet bar) do not bring it back; before
    that (a walker's few seconds) it stays, and a steady tone there (an interferer, which the
    detector's floor already takes) stays however long it lasts."""
    from uspd.frontend.music import ConjugatePairCanceller

    config = Config().frontend.music
    rng = np.random.default_rng(8)
    n_bins, period = 7, int(round(config.update_s / 0.02))
    direction = rng.standard_normal(n_mics) + 1j * rng.standard_normal(n_mics)
    direction /= np.linalg.norm(direction)

    def cells(seconds: float, steady: bool = False, line_level: float = 10.0) -> np.ndarray:
        shape = (n_bins, int(seconds * period), n_mics)
        out = ((rng.standard_normal(shape) + 1j * rng.standard_normal(shape)) / np.sqrt(2)).astype(np.complex64)
        level = line_level if steady else line_level * rng.standard_normal((n_bins // 2, shape[1]))
        line = level * np.exp(2j * np.pi * rng.random((n_bins // 2, 1)))
        out[: n_bins // 2] += (line[..., None] * direction).astype(np.complex64)  # −f only
        return out

    def kept(canceller: ConjugatePairCanceller, x: np.ndarray) -> float:
        return float((np.abs(canceller.process(x)[: n_bins // 2]) ** 2).sum() / (np.abs(x[: n_bins // 2]) ** 2).sum())

    wait_s = config.pair_lopsided_s
    canceller = ConjugatePairCanceller(config, n_bins=n_bins, hop_s=0.02)
    assert kept(canceller, cells(wait_s / 2)) > 0.9  # half the wait: left alone
    canceller.process(cells(wait_s / 2))
    assert canceller._lopsided.all() and canceller._cancelled.all()
    assert kept(canceller, cells(2.0)) < 0.05
    canceller.process(cells(3.0, line_level=0.0))  # a quiet bar: noise alone
    assert kept(canceller, cells(2.0)) < 0.05
    never = ConjugatePairCanceller(config.model_copy(update={"pair_lopsided_s": 1e9}), n_bins=n_bins, hop_s=0.02)
    never.process(cells(wait_s))
    assert kept(never, cells(2.0)) > 0.9  # the two-sided gate alone leaves it
    steady = ConjugatePairCanceller(config, n_bins=n_bins, hop_s=0.02)
    steady.process(cells(2 * wait_s, steady=True))
    assert not steady._lopsided.any() and kept(steady, cells(2.0, steady=True)) > 0.9


@pytest.mark.parametrize("music", [{"gate_coherence": [0.9, 0.5]}, {"min_mics": 2}, {"adapt_coherence": 1.0},
                                   {"pair_gate": [0.8, 0.5]}, {"pair_dominance": 0.4},
                                   {"pair_persistence": 1.5}, {"pair_tie": 1.5},
                                   {"pair_lopsided": 0.5}, {"pair_lopsided_s": -1}, {"playback_filter_s": 0},
                                   {"playback_adapt_s": -1}, {"playback_explained": 1.0}])
def test_bad_canceller_settings_are_refused_with_the_key(music):
    with pytest.raises(ConfigError, match="frontend.music"):
        config_from_dict({"frontend": {"music": music}})


def test_detection_range_is_the_edge_of_the_last_band_before_one_misses():
    from uspd.evaluate import rate_by_distance
    from uspd.music_study import detection_range_m

    distance_m = np.array([1.5, 2.5, 2.6, 3.5, 3.6, 4.5])
    assert detection_range_m(rate_by_distance(distance_m, np.array([1, 1, 1, 1, 1, 1], bool))) == 5.0
    assert detection_range_m(rate_by_distance(distance_m, np.array([1, 1, 1, 1, 0, 1], bool))) == 3.0  # 3–4 m: 50 %
    assert detection_range_m(rate_by_distance(distance_m, np.array([0, 1, 1, 1, 1, 1], bool))) is None


def test_music_study_refuses_bad_settings_in_one_sentence():
    from typer.testing import CliRunner

    from uspd.cli import app

    result = CliRunner().invoke(app, ["music-study", "--array", "tin_can", "--out", "x"])
    assert result.exit_code == 2
    assert "unknown mic array 'tin_can'" in result.output
    result = CliRunner().invoke(app, ["music-study", "--hours", "0", "--walk-scenes", "0", "--out", "x"])
    assert result.exit_code == 2


@pytest.mark.slow
def test_music_study_on_two_rooms_measures_suppression_and_false_alarms(tmp_path):
    from uspd.music_study import StudySettings, run_study, write_study

    summary = run_study(StudySettings(hours=120 / 3600, walk_scenes=1, seed_offset=7))
    assert summary["suppression"]["total_db"] > 12.0
    alarms = summary["false_alarms"]["music"]
    # without the canceller the baseline shows motion all the time in this room: stuck on, no onset to count
    assert alarms["baseline/on"]["motion_shown"] < 0.5 * alarms["baseline/off"]["motion_shown"]
    assert summary["major_detection"]["music"]["neural/on"]["events"] >= 1
    paths = write_study(summary, tmp_path, "test")
    assert "Distortion suppression" in paths[1].read_text()


def test_each_cell_loses_its_gated_projection_on_the_learned_subspace():
    """y = x − β·UUᴴx cell by cell, β the gate's ramp of |hᴴx|²/|x|²: the batched products
    over (bins, frames, mics) give what the formula gives for every cell."""
    from uspd.frontend.music import MusicCanceller

    config = Config().frontend.music
    rng = np.random.default_rng(3)
    n_bins, n_mics, period = 6, 7, int(round(config.update_s / 0.02))
    canceller = MusicCanceller(config, n_bins=n_bins, hop_s=0.02)
    h = rng.standard_normal(n_mics) + 1j * rng.standard_normal(n_mics)

    def cells(direction_gain: np.ndarray) -> np.ndarray:
        noise = rng.standard_normal((n_bins, len(direction_gain), n_mics)) * (1 + 1j) / 2
        return (direction_gain[None, :, None] * h / np.linalg.norm(h) + noise).astype(np.complex64)

    canceller.process(cells(np.full(period, 20.0)), h)  # one period of distortion: the subspace is learned
    basis = canceller.basis.copy()
    assert np.count_nonzero(np.abs(basis[..., 1:]).sum(axis=1) > 0.5) == n_bins * (basis.shape[-1] - 1)
    x = cells(np.linspace(0.0, 6.0, 40))  # from noise alone to distortion-dominated cells
    y = canceller.process(x, None)

    along = np.einsum("bmr,btm->btr", basis.conj(), x.astype(np.complex128))
    coherence = np.abs(along[..., 0]) ** 2 / (np.abs(x.astype(np.complex128)) ** 2).sum(axis=-1)
    beta = np.clip((coherence - config.gate_coherence[0]) / np.diff(config.gate_coherence), 0.0, 1.0)
    expected = x - np.einsum("bmr,btr->btm", basis, beta[..., None] * along)
    assert (beta == 0).any() and (beta == 1).any() and ((beta > 0) & (beta < 1)).any()  # the whole gate
    np.testing.assert_allclose(y, expected, rtol=0, atol=2e-5 * np.abs(x).max())


# --------------------------------------------------------------------------------------
# The playback canceller: filters from what the device plays to each mic's baseband
# --------------------------------------------------------------------------------------
PLAYBACK_ONLY = config_from_dict({"frontend": {"music": {"playback": True, "pair": False, "min_mics": 99}}})
PAIRS_ONLY = ON  # the playback canceller is off by default


def _music_part_by_second(scene, config: Config, split_at: list[int] | None = None) -> np.ndarray:
    """Doppler-band energy of the music's part per second of the scene after ``config``'s
    cancellers (the render with its playback, block by block where ``split_at`` says)."""
    rendered = render_baseband(scene, Config().simulation)
    part = rendered.signal - render_baseband(dataclasses.replace(scene, music=None), Config().simulation).signal
    playback = playback_baseband(scene, rendered)
    spectrogram = scene_spectrogram(scene, config)
    bounds = [0, *(split_at or []), rendered.signal.shape[1]]
    energy = np.concatenate([spectrogram.process(rendered.signal[:, a:b], part=part[:, a:b], playback=playback[:, a:b])[2]
                             for a, b in zip(bounds[:-1], bounds[1:])]).sum(axis=1)
    return energy[: len(energy) // 50 * 50].reshape(-1, 50).sum(axis=1)


@pytest.mark.parametrize("array", ["single", "laptop_2"])
def test_the_playback_takes_the_distortion_far_below_what_conjugate_pairs_leave(array):
    scene = build_scene("music_loud_empty", PAIR_SEED, duration_s=12.0, array=array)  # single: the song starts at 4.8 s
    off = _music_part_by_second(scene, OFF)
    pairs, playback = _music_part_by_second(scene, PAIRS_ONLY), _music_part_by_second(scene, PLAYBACK_ONLY)
    settled = slice(int(np.argmax(off > 1e-6 * off.max())) + 2, None)  # from the song's second full second on
    pairs_db, playback_db = (10 * np.log10(off[settled].sum() / e[settled].sum()) for e in (pairs, playback))
    assert playback_db > 35.0 and playback_db > pairs_db + 10.0  # measured: single 11.8 / 40.6, laptop 30.5 / 45.9 dB
    assert np.all(playback <= off * 1.01)  # it never adds, not even in the song's first second


def test_the_playback_canceller_streams_block_by_block_like_the_whole_recording():
    scene = build_scene("music_loud_empty", PAIR_SEED, duration_s=6.0, array="laptop_2")
    whole = _music_part_by_second(scene, PLAYBACK_ONLY)
    parts = _music_part_by_second(scene, PLAYBACK_ONLY, split_at=[1, 61, 62, 700, 4000, 9001, 12000])
    np.testing.assert_allclose(parts, whole, rtol=1e-4)


def test_a_silent_playback_leaves_the_frames_bit_for_bit_and_a_walker_keeps_their_energy():
    scene, music, walk, empty = _renders("music_with_walk", 10.0, array="single")
    rendered = render_baseband(scene, Config().simulation)
    silent = np.zeros((2, walk.shape[1]))
    frames = {p is None: scene_spectrogram(scene, PLAYBACK_ONLY).process(walk, playback=p)[0] for p in (None, silent)}
    np.testing.assert_array_equal(frames[True], frames[False])
    # what remains over the walker alone from the song's second second on (it plays 3.1–7.2 s)
    playback, settled = playback_baseband(scene, rendered), slice(200, None)

    def band_energy(config: Config, baseband: np.ndarray, playback: np.ndarray | None) -> float:
        return float(scene_spectrogram(scene, config).process(baseband, playback=playback)[0][settled].sum(dtype=np.float64))

    excess_db = {label: 10 * np.log10(band_energy(c, music, playback) / band_energy(c, walk, None))
                 for label, c in (("pairs", PAIRS_ONLY), ("playback", PLAYBACK_ONLY))}
    assert excess_db["playback"] < 6.0 and excess_db["playback"] < excess_db["pairs"] - 15.0  # measured: 3.9 against 23.6 dB


def test_a_recording_given_its_playback_file_loses_the_music_as_the_baseband_does(tmp_path):
    """Real audio end to end: `uspd simulate`'s WAV and the speaker's feed it writes beside it
    (tone and music, as a loopback records it), streamed through the front end in 1 s blocks
    (WavSource, as `uspd run --wav … --playback …` and `uspd detect` read them), lose the
    music as the simulator's baseband path does (a tuning room whose music plays throughout
    and does not clip the mic). The feed's tone, far from 0 Hz, does not disturb the fit."""
    scene = build_scene("music_loud_empty", 6001, duration_s=6.0, array="single", sample_rate_hz=96000)
    quiet = dataclasses.replace(scene, music=None)
    recordings = {}
    for label, room in (("music", scene), ("quiet", quiet)):
        recordings[label] = write_scene(room, Config(), tmp_path / f"{label}.wav")
    assert json.loads(recordings["music"][3].read_text())["clipped_fraction"] == 0.0
    settled = slice(100, None)  # after the fit's first 2 s

    def recording(label: str, config: Config, playback: bool = False) -> float:
        wav, feed = recordings[label][:2]
        source = WavSource(wav, config, carrier_hz=scene.carrier_hz, playback=feed if playback else None)
        return float(np.concatenate([power for power, _ in source.blocks()])[settled].sum(dtype=np.float64))

    def baseband(scene, config: Config) -> float:
        block = render_baseband(scene, Config().simulation)
        frames = scene_spectrogram(scene, config).process(block.signal, playback=playback_baseband(scene, block))[0]
        return float(frames[settled].sum(dtype=np.float64))

    noise = recording("quiet", PAIRS_ONLY)
    excess_db = {"pairs": 10 * np.log10(recording("music", PAIRS_ONLY) / noise),
                 "playback": 10 * np.log10(recording("music", PLAYBACK_ONLY, playback=True) / noise),
                 "baseband": 10 * np.log10(baseband(scene, PLAYBACK_ONLY) / baseband(quiet, PLAYBACK_ONLY))}
    # measured: pairs 3.7, playback 1.1, the baseband path 0.7 dB over the room without music
    assert excess_db["playback"] < excess_db["pairs"] - 1.0 and abs(excess_db["playback"] - excess_db["baseband"]) < 0.5
