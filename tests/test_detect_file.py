"""``uspd detect`` on WAV files: the timeline and events contract, streaming == batch, and one
clear sentence (exit code 2) for every recording it cannot use."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from scipy import signal
from typer.testing import CliRunner

from helpers import same_events
from uspd.cli import app
from uspd.config import Config
from uspd.detect.file import baseband_rate_for, detect_file
from uspd.detect.pipeline import Detection
from uspd.frontend.stream import doppler_frames
from uspd.sim.files import write_scene
from uspd.sim.scenarios import build_scene

CONFIG = Config()
RATE = 48000
CARRIER_HZ = 20000.0
runner = CliRunner()


def _run(*args) -> object:
    return runner.invoke(app, [str(a) for a in args])


def _scene(directory: Path, name: str, seed: int) -> Path:
    scene = build_scene(name, seed, duration_s=6.0, sample_rate_hz=RATE, carrier_hz=CARRIER_HZ)
    return write_scene(scene, CONFIG, directory / f"{name}.wav")[0]


@pytest.fixture(scope="module")
def walk_in(tmp_path_factory) -> Path:
    return _scene(tmp_path_factory.mktemp("walk_in"), "walk_in", 2)  # laptop_2: 2 mics, PCM_16


@pytest.fixture(scope="module")
def empty(tmp_path_factory) -> Path:
    return _scene(tmp_path_factory.mktemp("empty"), "empty_quiet", 1)  # smart_speaker_7: 7 mics


@pytest.fixture(scope="module")
def walk_in_result(walk_in):
    return detect_file(walk_in, CONFIG)


def _audio(path: Path) -> np.ndarray:
    audio, _ = sf.read(path, dtype="float64", always_2d=True)
    return audio


def _entry_s(wav: Path) -> float:
    """Ground truth: the end of the first labelled frame with someone in the room."""
    with open(wav.with_name(wav.stem + ".labels.csv"), newline="") as handle:
        rows = list(csv.DictReader(handle))
    return next(float(row["time_s"]) for row in rows if row["occupied"] == "1")


def test_timeline_has_one_row_per_hop(walk_in, walk_in_result, tmp_path):
    decisions, _ = walk_in_result
    out = tmp_path / "timeline.csv"
    result = _run("detect", walk_in, "--timeline", out)
    assert result.exit_code == 0, result.output
    lines = out.read_text().splitlines()
    assert lines[0] == "time_s,motion_score,motion,occupied"
    rows = list(csv.DictReader(lines))
    assert len(rows) == len(decisions.time_s) > 280  # 6 s at 20 ms, less the front end's first frame
    times = np.array([float(r["time_s"]) for r in rows])
    np.testing.assert_allclose(np.diff(times), 0.02, atol=1.5e-3)  # 3 decimals
    assert times[-1] <= 6.0 and all(len(r["time_s"].split(".")[1]) == 3 for r in rows)
    assert {r["motion"] for r in rows} <= {"none", "minor", "major"} and {r["occupied"] for r in rows} == {"0", "1"}
    np.testing.assert_allclose([float(r["motion_score"]) for r in rows], decisions.score, atol=5e-5)


def test_events_are_json_lines_of_the_presence_events(walk_in, walk_in_result, tmp_path):
    decisions, _ = walk_in_result
    out = tmp_path / "events.jsonl"
    result = _run("detect", walk_in, "--events", out)
    assert result.exit_code == 0, result.output
    events = [json.loads(line) for line in out.read_text().splitlines()]
    assert [list(e) for e in events] == [["time_s", "event", "kind", "score"]] * len(events)
    assert [(e["event"], e["kind"]) for e in events] == [(e.event, e.kind) for e in decisions.events]
    np.testing.assert_allclose([e["time_s"] for e in events], [e.time_s for e in decisions.events], atol=5e-4)


def test_walk_in_occupies_soon_after_the_scripted_entry(walk_in, walk_in_result):
    decisions, info = walk_in_result
    occupied = [e.time_s for e in decisions.events if e.event == "occupied"]
    entry_s = _entry_s(walk_in)
    assert len(occupied) == 1 and entry_s <= occupied[0] <= entry_s + 1.5
    assert info.carrier_found and abs(info.carrier_hz - CARRIER_HZ) < 1.0
    assert (info.sample_rate_hz, info.n_channels, info.n_samples, info.warnings) == (RATE, 2, 6 * RATE, ())


def test_empty_room_raises_no_event(empty):
    decisions, info = detect_file(empty, CONFIG)
    assert decisions.events == [] and not decisions.occupied.any()
    assert info.n_channels == 7


def test_explicit_carrier_gives_the_auto_result(walk_in, walk_in_result):
    auto, info = walk_in_result
    given, given_info = detect_file(walk_in, CONFIG, carrier_hz=CARRIER_HZ)
    assert not given_info.carrier_found and given_info.carrier_hz == CARRIER_HZ
    # the carriers differ by < 1 Hz, which shifts the velocity grid by < 0.01 m/s: the
    # network's scores move a little where they are steep, so a decision may move by a
    # few hops (≤ 0.1 s), never appear or vanish; where a score sits at the major threshold
    # that may flip a shown motion's level for a few hops (and so add a level-change event)
    assert np.abs(given.score - auto.score).mean() < 0.01 and np.abs(given.score - auto.score).max() < 0.2
    assert np.count_nonzero(given.occupied != auto.occupied) <= 5
    assert np.count_nonzero(given.motion != auto.motion) <= 5  # shown motion and its level, hop by hop
    for event, kind in (("occupied", "major"), ("vacant", None)):
        given_s, auto_s = ([e.time_s for e in d.events if (e.event, e.kind) == (event, kind)] for d in (given, auto))
        assert len(given_s) == len(auto_s) and np.allclose(given_s, auto_s, atol=0.1)


def test_streaming_the_file_equals_the_batch_path(walk_in, walk_in_result):
    streamed, info = walk_in_result
    power, times, velocity = doppler_frames(_audio(walk_in).T, RATE, info.carrier_hz, CONFIG.frontend)
    batch = Detection(CONFIG, velocity).process(power, times)
    np.testing.assert_array_equal(streamed.time_s, batch.time_s)
    np.testing.assert_allclose(streamed.score, batch.score, atol=1e-5)  # float rounding of block sizes
    np.testing.assert_array_equal(streamed.occupied, batch.occupied)
    assert same_events(streamed.events, batch.events)


def test_summary_names_duration_carrier_device_motion_and_transitions(walk_in):
    result = _run("detect", walk_in)
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    for text in ("6.0 s", "2 channels at 48 kHz", "carrier 20000.0 Hz (found in the recording)",
                 "occupied 7", "ends occupied", "│ occupied │ major │"):
        assert text in out, text
    assert re.search(r"motion events: [1-9]\d* major", out)  # walking, maybe in bursts


@pytest.mark.parametrize("subtype", ["PCM_24", "PCM_32", "FLOAT"])
def test_24_bit_32_bit_and_float_wavs_give_the_16_bit_result(walk_in, walk_in_result, tmp_path, subtype):
    out = tmp_path / f"{subtype}.wav"
    sf.write(out, _audio(walk_in), RATE, subtype=subtype)  # 16-bit values: exact in every one of these
    decisions, info = detect_file(out, CONFIG)
    assert info.subtype == subtype
    np.testing.assert_array_equal(decisions.score, walk_in_result[0].score)


@pytest.mark.parametrize("n_channels", [1, 16])
def test_one_to_sixteen_channels_work(walk_in, walk_in_result, tmp_path, n_channels):
    out = tmp_path / "channels.wav"
    sf.write(out, np.resize(_audio(walk_in)[:, :1].T, (n_channels, 6 * RATE)).T, RATE, subtype="PCM_16")
    decisions, info = detect_file(out, CONFIG)
    assert info.n_channels == n_channels
    assert [e.event for e in decisions.events].count("occupied") == 1


def test_44_1_khz_audio_keeps_20_ms_hops(walk_in, walk_in_result, tmp_path):
    out = tmp_path / "cd_rate.wav"
    sf.write(out, signal.resample_poly(_audio(walk_in), 147, 160, axis=0), 44100, subtype="FLOAT")
    decisions, info = detect_file(out, CONFIG)
    assert info.baseband_rate_hz == 3150
    np.testing.assert_allclose(np.diff(decisions.time_s), 0.02, atol=1e-9)
    occupied = [e.time_s for e in decisions.events if e.event == "occupied"]
    reference = [e.time_s for e in walk_in_result[0].events if e.event == "occupied"]
    assert len(occupied) == 1 and abs(occupied[0] - reference[0]) < 0.2


def test_baseband_rate_divides_every_common_sample_rate():
    assert [baseband_rate_for(r, CONFIG) for r in (44100, 48000, 88200, 96000, 176400, 192000)] == [
        3150, 3000, 3150, 3000, 3150, 3000]


def test_unknown_length_header_is_not_truncation(walk_in, walk_in_result, tmp_path):
    data = bytearray(walk_in.read_bytes())
    at = data.find(b"data")
    data[at + 4 : at + 8] = b"\xff\xff\xff\xff"  # what a streaming recorder leaves
    out = tmp_path / "streamed.wav"
    out.write_bytes(bytes(data))
    decisions, _ = detect_file(out, CONFIG)
    np.testing.assert_array_equal(decisions.score, walk_in_result[0].score)


# --- recordings uspd cannot use: one sentence on stderr, exit code 2 -------------------------


def _noise(n_channels: int = 2, seconds: float = 3.0, rate: int = RATE, seed: int = 0) -> np.ndarray:
    return 0.01 * np.random.default_rng(seed).standard_normal((int(seconds * rate), n_channels))


def _clipped(walk_in: Path, fraction: float) -> np.ndarray:
    audio = _audio(walk_in)
    rng = np.random.default_rng(1)
    flat = audio.reshape(-1)
    flat[rng.choice(flat.size, int(fraction * flat.size), replace=False)] = 1.0
    return audio


def _bad(kind: str, walk_in: Path, d: Path) -> tuple[Path, list[str]]:
    """A bad recording of ``kind`` in ``d`` and extra CLI arguments."""
    path = d / f"{kind}.wav"
    if kind == "missing":
        return path, []
    if kind == "text":
        path.write_text("time_s,score\n0.0,0.1\n")
    elif kind == "flac":
        path = d / "x.flac"
        sf.write(path, _audio(walk_in), RATE)
    elif kind == "corrupt_header":
        path.write_bytes(b"JUNK" + walk_in.read_bytes()[4:])
    elif kind == "truncated":
        data = walk_in.read_bytes()
        path.write_bytes(data[: len(data) // 2 + 1])  # data chunk cut short, mid-frame
    elif kind == "low_rate":
        sf.write(path, _noise(rate=16000), 16000)
    elif kind == "too_many_channels":
        sf.write(path, _noise(n_channels=17, seconds=0.5), RATE)
    elif kind == "carrier_too_high":
        return walk_in, ["--carrier", "30000"]
    elif kind == "no_tone":
        sf.write(path, _noise(), RATE)
    elif kind in ("silent", "silent_given_carrier"):
        sf.write(path, np.zeros((3 * RATE, 2)), RATE)
        return path, ["--carrier", "20000"] if kind == "silent_given_carrier" else []
    elif kind == "nan":
        audio = _audio(walk_in)
        audio[int(2.5 * RATE), 1] = np.nan
        sf.write(path, audio, RATE, subtype="FLOAT")
    elif kind == "clipped":
        sf.write(path, _clipped(walk_in, 0.05), RATE, subtype="PCM_16")
    elif kind == "bad_carrier":
        return walk_in, ["--carrier", "twenty"]
    return path, []


@pytest.mark.parametrize(
    ("kind", "sentence"),
    [
        ("missing", "missing.wav does not exist"),
        ("text", "cannot read {path} as a WAV file: format not recognised"),
        ("flac", "x.flac is FLAC"),
        ("corrupt_header", "cannot read {path} as a WAV file"),
        ("truncated", "is truncated: its header promises 6.000 s of audio but only 3.000 s could be read"),
        ("low_rate", "is sampled at 16000 Hz; an ultrasonic pilot tone needs at least 44100 Hz"),
        ("too_many_channels", "has 17 channels; uspd reads at most 16"),
        ("carrier_too_high", "sample rate 48000 Hz is too low for a 30000 Hz carrier"),
        ("no_tone", "no pilot tone found"),
        ("silent", "is silent (every sample is zero)"),
        ("silent_given_carrier", "is silent (every sample is zero)"),
        ("nan", "contains NaN or infinite samples (the first at 2.500 s)"),
        ("clipped", "is clipped: 5.0% of its samples are at full scale"),
        ("bad_carrier", "--carrier must be 'auto' or a frequency in Hz, got 'twenty'"),
    ],
)
def test_unusable_recording_is_one_clear_error(walk_in, tmp_path, kind, sentence):
    path, extra = _bad(kind, walk_in, tmp_path)
    timeline = tmp_path / "timeline.csv"
    result = _run("detect", path, "--timeline", timeline, *extra)
    assert result.exit_code == 2, result.output
    output = " ".join(result.output.split())
    assert output.startswith("error: ") and output.count("error:") == 1
    assert sentence.format(path=path) in output
    assert not timeline.exists()  # nothing half-written


def test_mild_clipping_warns_and_still_detects(walk_in, tmp_path):
    path = tmp_path / "mild.wav"
    sf.write(path, _clipped(walk_in, 0.005), RATE, subtype="PCM_16")
    events = tmp_path / "events.jsonl"
    result = _run("detect", path, "--events", events)
    assert result.exit_code == 0, result.output
    output = " ".join(result.output.split())
    assert "warning: 0.50% of the samples in" in output and "are at full scale (clipped)" in output
    assert events.exists()


def test_leading_digital_silence_does_not_blind_the_detector(walk_in, tmp_path):
    audio = _audio(walk_in)
    audio[: RATE // 2] = 0.0  # many recorders and sound cards start with a few hundred ms of zeros
    path = tmp_path / "lead_in.wav"
    sf.write(path, audio, RATE, subtype="PCM_16")
    decisions, _ = detect_file(path, CONFIG, carrier_hz=CARRIER_HZ)
    assert [e.event for e in decisions.events].count("occupied") == 1


def test_a_tone_dropout_is_missing_input_not_motion(tmp_path):
    """The tone pausing for 1.5 s in an empty room (a duty-cycled emitter) raises no motion."""
    scene = build_scene("empty_quiet", 3, duration_s=8.0, sample_rate_hz=RATE, carrier_hz=CARRIER_HZ, array="laptop_2")
    path = tmp_path / "empty.wav"
    write_scene(scene, CONFIG, path)
    audio, _ = sf.read(path, dtype="float32", always_2d=True)
    audio[4 * RATE : int(5.5 * RATE)] = 0.0
    gap = tmp_path / "gap.wav"
    sf.write(gap, audio, RATE, subtype="PCM_16")
    decisions, _ = detect_file(gap, CONFIG, carrier_hz=CARRIER_HZ)
    assert decisions.events == []


PLAYBACK_ON = Config().with_music(playback=True)


def _feed(walk_in: Path) -> Path:
    return walk_in.with_name(walk_in.stem + ".playback.wav")  # what uspd simulate wrote beside it: the tone


@pytest.mark.parametrize(
    ("kind", "sentence"),
    [
        ("stereo", "has 2 channels; it must hold the speaker's feed alone (1 channel)"),
        ("other_rate", "is sampled at 96000 Hz and {recording} at 48000 Hz: they must match sample for sample"),
        ("short", "holds 3.000 s, less than the 6.000 s of {recording}"),
        ("nan", "contains NaN or infinite samples"),
        ("missing", "feed.wav does not exist"),
    ],
)
def test_an_unusable_playback_file_is_one_clear_error(walk_in, tmp_path, kind, sentence):
    feed = sf.read(_feed(walk_in), dtype="float32")[0]
    path = tmp_path / "feed.wav"
    if kind == "stereo":
        sf.write(path, np.stack([feed, feed], axis=1), RATE, subtype="FLOAT")
    elif kind == "other_rate":
        sf.write(path, np.repeat(feed, 2), 2 * RATE, subtype="FLOAT")
    elif kind == "short":
        sf.write(path, feed[: 3 * RATE], RATE, subtype="FLOAT")
    elif kind == "nan":
        feed[int(4.5 * RATE)] = np.nan
        sf.write(path, feed, RATE, subtype="FLOAT")
    config = tmp_path / "playback.toml"
    config.write_text("[frontend.music]\nplayback = true\n")
    result = _run("detect", walk_in, "--playback", path, "--config", config)
    assert result.exit_code == 2, result.output
    output = " ".join(result.output.split())
    assert output.startswith("error: ") and sentence.format(recording=walk_in) in output


def test_a_playback_file_feeds_the_playback_canceller_only_when_it_is_on(walk_in, walk_in_result):
    """Off (the default): checked, not read, and a warning says so (the result is the plain
    one). On: read beside the mics; the simulator's feed of this room is its tone alone, of
    which the canceller's 0 Hz decimator and clutter filter leave nothing to fit, so the
    scores are the plain ones."""
    decisions, info = detect_file(walk_in, CONFIG, playback=_feed(walk_in))
    assert any("the playback canceller is off" in warning for warning in info.warnings)
    np.testing.assert_array_equal(decisions.score, walk_in_result[0].score)
    plain, _ = detect_file(walk_in, PLAYBACK_ON)
    fed, info = detect_file(walk_in, PLAYBACK_ON, playback=_feed(walk_in))
    assert info.warnings == ()
    np.testing.assert_array_equal(fed.score, plain.score)  # measured: equal bit for bit


def test_run_takes_a_playback_only_with_a_wav(walk_in):
    result = _run("run", "--playback", _feed(walk_in), "--no-view", "--fast")
    assert result.exit_code == 2 and "--playback goes with --wav" in result.output
