"""Cost of the music-distortion cancellers: front end with them off, on, and on with the playback canceller, same run, one core.

    python benchmarks/bench_music.py --out docs/benchmarks-music.md

The audio is a rendered scene (tuning seed 5, real passband from the simulator) with loud
music (``music_loud_empty``: the gate opens in most cells and the canceller removes
there) and without (``empty_quiet``: it only checks). It streams through
:class:`~uspd.frontend.stream.FrontEnd` in 1 s blocks, as ``uspd detect`` feeds it; times
are CPU seconds of this process, best of ``--repeats``. The playback column also feeds
the front end what the speaker plays (the music's drive; silence in ``empty_quiet``);
``--baseline-rev REV`` measures it again with the playback canceller of ``music.py`` at
that git revision, in the same run.
"""

from __future__ import annotations

import argparse
import itertools
import platform
from pathlib import Path

from bench_frontend import _stream, module_at  # noqa: E402  (sets one BLAS thread before NumPy loads)

import numpy as np  # noqa: E402

from uspd.bench import cpu_seconds  # noqa: E402
from uspd.config import Config  # noqa: E402
from uspd.frontend.stream import FrontEnd  # noqa: E402
from uspd.music_study import chain_configs  # noqa: E402
from uspd.sim.render import render_passband  # noqa: E402
from uspd.sim.scenarios import build_scene  # noqa: E402

DEVICES = (("7 mics @ 96 kHz", "smart_speaker_7", 96000), ("2 mics @ 48 kHz", "laptop_2", 48000))
PLAYBACK = Config.model_validate({"frontend": {"music": {"playback": True}}})
SCENARIOS = ("music_loud_empty", "empty_quiet")  # the gate open in most cells, and closed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--baseline-rev", default=None, help="also the playback canceller of music.py at this git revision")
    args = parser.parse_args()
    chains = chain_configs(Config())
    settings = [("off", chains["neural/off"].frontend), ("on", chains["neural/on"].frontend), ("playback", PLAYBACK.frontend)]
    old = None if args.baseline_rev is None else module_at(args.baseline_rev, "src/uspd/frontend/music.py")
    if old is not None:
        settings.append(("baseline", PLAYBACK.frontend))
    rows = []
    for (name, array, rate_hz), scenario in itertools.product(DEVICES, SCENARIOS):
        scene = build_scene(scenario, 5, duration_s=args.seconds, array=array, sample_rate_hz=rate_hz)
        audio = render_passband(scene, Config().simulation).signal
        t_s = np.arange(audio.shape[1]) / rate_hz
        drive = scene.music.drive_fs(t_s) if scene.music is not None else np.zeros(audio.shape[1])
        cpu = {}
        for setting, frontend in settings:
            front = FrontEnd(rate_hz, scene.carrier_hz, frontend, speed_of_sound=scene.speed_of_sound_m_s)
            if setting == "baseline":
                spectrogram = front.spectrogram
                spectrogram.playback_canceller = old.PlaybackCanceller(frontend.music, rate_hz=spectrogram.rate_hz)
            playback = drive if setting in ("playback", "baseline") else None
            cpu[setting] = cpu_seconds(lambda: _stream(front, audio, rate_hz, playback), args.repeats)
        hops = args.seconds / chains["neural/on"].frontend.hop_s
        baseline = "" if old is None else f" {cpu['baseline'] / args.seconds:.4f} | {cpu['baseline'] / cpu['playback']:.2f} |"
        rows.append(f"| {name} | {scenario} | {cpu['off'] / args.seconds:.4f} | {cpu['on'] / args.seconds:.4f} | "
                    f"{cpu['on'] / cpu['off']:.2f} | {1e6 * (cpu['on'] - cpu['off']) / hops:.0f} µs | "
                    f"{cpu['playback'] / args.seconds:.4f} | {cpu['playback'] / cpu['on']:.2f} |" + baseline)
        print(rows[-1], flush=True)
    command = "PYTHONPATH=src python benchmarks/bench_music.py" + (
        f" --baseline-rev {args.baseline_rev}" if old is not None else "") + " --out docs/benchmarks-music.md"
    text = "\n".join([
        "# Music canceller cost", "", "Made with", "", f"    {command}", "",
        f"One core ({platform.machine()}, NumPy {np.__version__}), CPU time, best of {args.repeats}; {args.seconds:g} s "
        "of a rendered scene per device and scene in 1 s blocks. Front end = demodulator + Doppler spectrogram "
        "(+ canceller).", "",
        "| device | scene | front end real-time factor, canceller off | on | on / off | canceller per 20 ms hop "
        "| with the playback canceller too | playback / on |"
        + ("" if old is None else f" playback canceller at {args.baseline_rev} | that / today's |"),
        "|---|---|---:|---:|---:|---:|---:|---:|" + ("" if old is None else "---:|---:|"), *rows, "",
        "With 2 mics the conjugate-pair canceller runs (docs/music.md). The playback canceller (off by default) is "
        "given the music's drive, or silence where there is none.", "",
    ])
    if args.out:
        args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
