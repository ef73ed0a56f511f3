"""The ``uspd`` command as a user meets it: outputs on disk, one clear error on bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import soundfile as sf
from typer.testing import CliRunner

from uspd.cli import app

runner = CliRunner()


def _run(*args: str, terminal_width: int | None = None):
    return runner.invoke(app, list(args), terminal_width=terminal_width)


def test_list_shows_the_catalog():
    result = _run("simulate", "--list")
    assert result.exit_code == 0
    for name in ("walk_in", "empty_quiet", "empty_fan", "music_loud_empty"):
        assert name in result.output


def test_unknown_scenario_is_one_clear_error():
    result = _run("simulate", "no_such_scene", "--out", "x.wav")
    assert result.exit_code == 2
    assert "unknown scenario 'no_such_scene'" in result.output


def test_sample_rate_below_twice_the_carrier_is_one_clear_error(tmp_path):
    result = _run("simulate", "empty_quiet", "--rate", "48000", "--carrier", "32000", "--out", str(tmp_path / "x.wav"))
    assert result.exit_code == 2
    assert "too low for a 32000 Hz carrier" in result.output


def test_bad_config_names_the_key(tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text("[simulation]\nbaseband_rate_hz = -5\n")
    result = _run("simulate", "empty_quiet", "--config", str(config), "--out", str(tmp_path / "x.wav"))
    assert result.exit_code == 2
    assert "simulation.baseband_rate_hz" in result.output


def test_simulate_writes_audio_labels_parameters_and_plot(tmp_path):
    out = tmp_path / "scene.wav"
    result = _run("simulate", "walk_in", "--seed", "4", "--duration", "3", "--rate", "96000", "--out", str(out))
    assert result.exit_code == 0, result.output
    audio, rate = sf.read(out, always_2d=True)
    params = json.loads((tmp_path / "scene.json").read_text())
    assert rate == 96000 and audio.shape == (3 * 96000, params["scene"]["derived"]["n_mics"])
    assert params["seed"] == 4 and params["scenario"] == "walk_in"
    assert params["rerender"] == "uspd simulate walk_in --seed 4 --duration 3 --rate 96000"
    header = (tmp_path / "scene.labels.csv").read_text().splitlines()[0]
    assert header == "time_s,motion,nonhuman,occupied,person_distance_m,person_radial_speed_m_s,onsets"
    assert len((tmp_path / "scene.labels.csv").read_text().splitlines()) == 1 + 150  # 20 ms frames
    assert (tmp_path / "scene.playback.wav").exists()
    assert np.abs(audio).max() > 0.001  # the tone is there

    result = _run("plot", str(out))
    assert result.exit_code == 0, result.output
    png = tmp_path / "scene.png"
    assert png.stat().st_size > 10_000


def test_plot_of_a_missing_file_is_one_clear_error(tmp_path):
    result = _run("plot", str(tmp_path / "nothing.wav"))
    assert result.exit_code == 2
    assert "does not exist" in result.output


def test_config_sections_in_warnings_and_help_are_shown_as_written(tmp_path):
    """Rich would take "[frontend.music]" for a style tag and drop it from the sentence."""
    out = tmp_path / "scene.wav"
    assert _run("simulate", "walk_in", "--seed", "4", "--duration", "2", "--rate", "96000", "--out", str(out)).exit_code == 0
    result = _run("detect", str(out), "--playback", str(tmp_path / "scene.playback.wav"))
    assert result.exit_code == 0, result.output
    assert "the playback canceller is off ([frontend.music] playback = false)" in result.output
    for command, said in {"detect": "([frontend.music] playback)", "calibrate": "([soundcard] in the config)"}.items():
        shown = " ".join(_run(command, "--help", terminal_width=250).output.split())
        assert said in shown, shown


def test_the_command_runs_numpys_blas_on_one_thread_unless_told_otherwise():
    """uspd's parallel work runs in processes; BLAS threads on top only contend (docs/benchmarks-frontend.md)."""
    code = ("import uspd.cli, numpy, scipy.linalg; from threadpoolctl import threadpool_info; "
            "print(sorted({i['num_threads'] for i in threadpool_info() if i['user_api'] == 'blas'}))")
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    pinned = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert pinned.stdout.split() == ["[1]"]
    told = subprocess.run([sys.executable, "-c", code], env={**env, "OPENBLAS_NUM_THREADS": "2"},
                          capture_output=True, text=True, check=True)
    assert told.stdout.split() == ["[2]"]
