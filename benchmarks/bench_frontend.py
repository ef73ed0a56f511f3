"""Front-end speed as a multiple of real time on one core: demodulator and whole front end.

    python benchmarks/bench_frontend.py --baseline-rev fbbdfaa --out docs/benchmarks-frontend.md

``uspd bench`` measures the whole pipeline (see docs/benchmarks.md); this script keeps the
demodulator's own comparison. Issue 6 asks for a whole pipeline at ≤ 0.002 real-time factor (500× real time) per
7-mic 96 kHz device on one core. Measured in one run on the same audio (a pilot tone, a
moving echo and noise, fed in 1 s blocks as ``uspd detect`` feeds it):

- the naive reference: float64 mixing with exact cos/sin, the demodulator's own low-pass
  as one FIR at the input rate (``scipy.signal.lfilter``), every D-th output kept. Its
  speed is the yardstick, so runs on different days compare as ratios; its output is
  the accuracy check (relative RMS difference from the demodulator after the settle period);
- :class:`~uspd.frontend.demod.Demodulator` and :class:`~uspd.frontend.stream.FrontEnd`
  (demodulator + Doppler spectrogram) of this checkout;
- with ``--baseline-rev``, the same two with ``demod.py`` as it was at that git revision.

Times are CPU seconds of this process (best of ``--repeats``), which a training run
sharing the machine disturbs less than wall time.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import types
from pathlib import Path

# One core, as the goal is stated: set before NumPy (and its BLAS) is first imported.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import numpy as np  # noqa: E402
from scipy import signal  # noqa: E402

from uspd.bench import DEVICES, FILE_BLOCK_S, blocks, cpu_seconds, synthetic_audio  # noqa: E402
from uspd.config import FrontendConfig  # noqa: E402
from uspd.frontend.demod import Demodulator  # noqa: E402
from uspd.frontend.stream import FrontEnd  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def _naive(audio: np.ndarray, rate_hz: int, carrier_hz: float, taps: np.ndarray, decimation: int,
           delay_in: int) -> np.ndarray:
    """Exact float64 mixing, full-rate FIR, every D-th sample: sample j at j·D input samples."""
    phase = 2 * np.pi * carrier_hz / rate_hz * np.arange(audio.shape[1])
    mixed = 2 * audio * np.exp(-1j * phase)
    return signal.lfilter(taps, 1.0, mixed, axis=-1)[:, delay_in::decimation]


def _stream(processor, audio: np.ndarray, rate_hz: int, playback: np.ndarray | None = None) -> list:
    """Every block through ``processor`` and its flush; ``playback`` (a FrontEnd's) block for block with the audio."""
    step = int(FILE_BLOCK_S * rate_hz)
    if playback is None:
        return [processor.process(block) for block in blocks(audio, step)] + [processor.flush()]
    pairs = zip(blocks(audio, step), blocks(playback, step))
    return [processor.process(block, sound) for block, sound in pairs] + [processor.flush()]


def module_at(rev: str, path: str) -> types.ModuleType:
    """The module in ``path`` (from the repository root) as it was at git revision ``rev``."""
    source = subprocess.run(["git", "show", f"{rev}:{path}"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    module = types.ModuleType(f"{Path(path).stem}_at_{rev}")
    exec(compile(source, f"{rev}:{path}", "exec"), module.__dict__)
    return module


def _measure(name: str, demod_cls: type, audio: np.ndarray, rate_hz: int, carrier_hz: float,
             reference: np.ndarray, repeats: int) -> tuple[float, float, float]:
    """× real time of the demodulator and of the front end built on it; relative RMS vs reference."""
    seconds = audio.shape[1] / rate_hz
    demod = demod_cls(rate_hz, carrier_hz)
    demod_x = seconds / cpu_seconds(lambda: _stream(demod, audio, rate_hz), repeats)
    front = FrontEnd(rate_hz, carrier_hz, FrontendConfig())
    front.demodulator = demod_cls(rate_hz, carrier_hz)
    front.reset()
    front_x = seconds / cpu_seconds(lambda: _stream(front, audio, rate_hz), repeats)
    baseband = np.concatenate(_stream(demod, audio[:, : reference.shape[1] * demod.decimation], rate_hz), axis=1)
    settled = slice(demod.settle_samples, reference.shape[1] - demod.settle_samples)
    error = baseband[:, settled] - reference[:, settled]
    rel_rms = float(np.sqrt(np.mean(np.abs(error) ** 2) / np.mean(np.abs(reference[:, settled]) ** 2)))
    print(f"  {name:28s} demodulator {demod_x:8.1f}×  front end {front_x:8.1f}×  rel. RMS vs naive {rel_rms:.1e}",
          flush=True)
    return demod_x, front_x, rel_rms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="audio per device for the streaming paths")
    parser.add_argument("--naive-seconds", type=float, default=2.0, help="audio for the (slow) naive reference")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--baseline-rev", default=None, help="also measure demod.py at this git revision")
    parser.add_argument("--out", type=Path, default=None, help="write the markdown table here")
    args = parser.parse_args()

    candidates = [("this checkout", Demodulator)]
    if args.baseline_rev:
        candidates.insert(0, (f"demod.py at {args.baseline_rev}",
                              module_at(args.baseline_rev, "src/uspd/frontend/demod.py").Demodulator))
    rows = []
    for device, rate_hz, n_mics, carrier_hz in ((d.name, d.sample_rate_hz, d.n_mics, d.carrier_hz) for d in DEVICES):
        print(device, flush=True)
        audio = np.asfortranarray(synthetic_audio(rate_hz, n_mics, carrier_hz, args.seconds, np.float64))  # as a file is read
        short = audio[:, : int(args.naive_seconds * rate_hz)]
        demod = Demodulator(rate_hz, carrier_hz)
        naive_args = (rate_hz, carrier_hz, demod.taps, demod.decimation, demod.delay_samples * demod.decimation)
        naive_x = args.naive_seconds / cpu_seconds(lambda: _naive(short, *naive_args), 1)
        reference = _naive(short, *naive_args)
        print(f"  {'naive reference':28s} demodulator {naive_x:8.2f}×  ({len(demod.taps)} taps)", flush=True)
        rows.append((device, "naive reference", naive_x, None, None))
        for name, demod_cls in candidates:
            rows.append((device, name, *_measure(name, demod_cls, audio, rate_hz, carrier_hz, reference, args.repeats)))

    naive_by_device = {device: x for device, name, x, _, _ in rows if name == "naive reference"}
    lines = [
        "| device | implementation | demodulator (× real time) | vs naive | front end (× real time) "
        "| front end real-time factor | rel. RMS vs naive |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for device, name, demod_x, front_x, rel_rms in rows:
        front = f"{front_x:,.1f} | {1 / front_x:.4f}" if front_x else "– | –"
        error = f"{rel_rms:.1e}" if rel_rms is not None else "–"
        lines.append(f"| {device} | {name} | {demod_x:,.1f} | {demod_x / naive_by_device[device]:,.0f} | {front} | {error} |")
    header = (
        f"One core ({platform.processor() or platform.machine()}, NumPy {np.__version__}), CPU time, best of "
        f"{args.repeats}; {args.seconds:g} s of audio per device in {FILE_BLOCK_S:g} s blocks, the naive reference "
        f"over {args.naive_seconds:g} s. Front end = demodulator + Doppler spectrogram."
    )
    table = "\n".join([header, "", *lines, ""])
    print(table)
    if args.out:
        args.out.write_text(table)


if __name__ == "__main__":
    main()
