"""Scene files: the recording, its ground truth and its parameters, side by side.

``scene.wav`` (passband, the device's channels and rate, ADC word length) or
``scene.npz`` (complex baseband), plus
``scene.labels.csv`` (per-frame ground truth), ``scene.json`` (scenario, seed, duration,
config and every drawn parameter: enough to re-render the scene), and
``scene.playback.wav`` (the speaker drive: the playback reference later stages may use).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import soundfile as sf

from uspd import __version__
from uspd.config import Config
from uspd.sim.labels import label_scene
from uspd.sim.render import iter_baseband, iter_passband
from uspd.sim.scene import Scene

_SUBTYPES = {16: "PCM_16", 24: "PCM_24", 32: "PCM_32"}


def sidecar(path: Path, suffix: str) -> Path:
    """``scene.wav`` → ``scene<suffix>``."""
    return path.with_name(path.stem + suffix)


def write_scene(
    scene: Scene,
    config: Config,
    out: Path,
    *,
    baseband: bool = False,
    on_progress: Callable[[float], None] | None = None,
    rerender: str | None = None,
) -> list[Path]:
    """Render and write a scene; returns the paths written.

    rerender: the command that makes this scene again, recorded in the JSON (default: the
    scenario, seed and duration alone, right when nothing else was overridden).
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    hardware = scene.device.hardware
    clipped = 0.0
    if baseband:
        out = out.with_suffix(".npz")
        blocks = []
        for block in iter_baseband(scene, config.simulation):
            blocks.append(block)
            if on_progress:
                on_progress(block.start_s + block.signal.shape[1] / block.sample_rate_hz)
        np.savez_compressed(
            out,
            signal=np.concatenate([b.signal for b in blocks], axis=1),
            reference=np.concatenate([b.reference for b in blocks]),
            sample_rate_hz=config.simulation.baseband_rate_hz,
            carrier_hz=scene.carrier_hz,
            speed_of_sound_m_s=scene.speed_of_sound_m_s,
        )
        written = [out]
    else:
        playback = sidecar(out, ".playback.wav")
        rate, n_total, n_clipped = hardware.sample_rate_hz, 0, 0.0
        with (
            sf.SoundFile(out, "w", rate, scene.device.n_mics, _SUBTYPES.get(hardware.adc_bits, "FLOAT")) as audio,
            sf.SoundFile(playback, "w", rate, 1, "FLOAT") as reference,
        ):
            for block in iter_passband(scene, config.simulation):
                audio.write(block.signal.T)
                reference.write(block.reference)
                n = block.signal.shape[1]
                n_total, n_clipped = n_total + n, n_clipped + block.clipped_fraction * n
                if on_progress:
                    on_progress(n_total / rate)
        clipped = n_clipped / max(n_total, 1)
        written = [out, playback]

    labels_path = sidecar(out, ".labels.csv")
    label_scene(scene, config.simulation.label_frame_s).write_csv(labels_path)
    params_path = sidecar(out, ".json")
    params = {
        "uspd_version": __version__,
        "scenario": scene.name,
        "seed": scene.seed,
        "duration_s": scene.duration_s,
        "rerender": rerender or f"uspd simulate {scene.name} --seed {scene.seed} --duration {scene.duration_s:g}",
        "config": config.model_dump(),
        "clipped_fraction": clipped,
        "scene": scene.to_dict(),
    }
    params_path.write_text(json.dumps(params, indent=1))
    return [*written, labels_path, params_path]


def read_labels(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Frame end times, human motion class and non-human activity per frame."""
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows or "time_s" not in rows[0]:
        raise ValueError(f"{path} is not a uspd labels CSV (no time_s column)")
    times = np.array([float(r["time_s"]) for r in rows])
    return times, np.array([r["motion"] for r in rows]), np.array([r["nonhuman"] for r in rows])


def plot_recording(
    recording: Path,
    out_png: Path,
    config: Config,
    *,
    carrier_hz: float | None = None,
    labels_csv: Path | None = None,
) -> None:
    """Doppler spectrogram PNG of a WAV or baseband ``.npz``, with ground truth if known."""
    from uspd.frontend.demod import find_carrier_hz
    from uspd.frontend.spectrogram import DopplerSpectrogram
    from uspd.frontend.stream import DEFAULT_SPEED_OF_SOUND_M_S, doppler_frames
    from uspd.plot import plot_doppler

    recording = Path(recording)
    if not recording.exists():
        raise ValueError(f"{recording} does not exist")
    params_path = sidecar(recording, ".json")
    params = json.loads(params_path.read_text()) if params_path.exists() else {}
    c_m_s = params.get("scene", {}).get("derived", {}).get("speed_of_sound_m_s", DEFAULT_SPEED_OF_SOUND_M_S)
    rate = config.simulation.baseband_rate_hz
    if recording.suffix == ".npz":
        data = np.load(recording)
        rate, carrier_hz = int(data["sample_rate_hz"]), float(data["carrier_hz"])
        spectrogram = DopplerSpectrogram(
            config.frontend, carrier_hz=carrier_hz, baseband_rate_hz=rate,
            speed_of_sound_m_s=c_m_s,
        )
        power, times = spectrogram.compute(data["signal"])
        velocity = spectrogram.velocity_m_s
    else:
        try:
            audio, device_rate = sf.read(recording, dtype="float32", always_2d=True)
        except sf.LibsndfileError as err:
            raise ValueError(f"cannot read {recording} as audio: {err}") from None
        audio = audio.T
        carrier_hz = carrier_hz or find_carrier_hz(audio, device_rate)
        power, times, velocity = doppler_frames(
            audio, device_rate, carrier_hz, config.frontend, baseband_rate_hz=rate, speed_of_sound=c_m_s
        )

    motion = nonhuman = None
    labels_csv = labels_csv or sidecar(recording, ".labels.csv")
    if labels_csv.exists():
        label_times, motion, nonhuman = read_labels(labels_csv)
        at = np.clip(np.searchsorted(label_times, times - 1e-9), 0, len(label_times) - 1)
        motion, nonhuman = motion[at], nonhuman[at]
    title = f"{recording.name}: {carrier_hz / 1000:.1f} kHz carrier"
    if params:
        scene = params.get("scene", {})
        title = (
            f"{params['scenario']} (seed {params['seed']}, {params.get('duration_s', times[-1]):g} s), "
            f"{scene.get('device', {}).get('array', '?')} array, {carrier_hz / 1000:.1f} kHz carrier"
        )
    plot_doppler(power, times, velocity, out_png, title=title, motion=motion, nonhuman=nonhuman)
