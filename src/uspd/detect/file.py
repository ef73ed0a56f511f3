"""Detection on a recording: a WAV file → per-hop decisions and presence events.

The file streams through the same :class:`~uspd.frontend.stream.FrontEnd` and
:class:`~uspd.detect.pipeline.Detection` a live sound card feeds, in 1 s blocks, so a
day-long recording needs no more memory for audio than a short one and gives the same
decisions as the batch path (:func:`~uspd.frontend.stream.doppler_frames` on all of it).

>>> decisions, info = detect_file("kitchen.wav", Config())      # carrier found in the audio
>>> write_timeline(decisions, "kitchen.timeline.csv")           # one row per 20 ms hop
>>> write_events(decisions.events, "kitchen.events.jsonl")      # motion / occupied / vacant

Problems a user can fix (not a WAV, truncated, sample rate too low, no pilot tone,
silence, NaN samples, heavy clipping) raise :class:`RecordingError` (a ``ValueError``)
with one sentence; mild clipping is a warning in ``info.warnings``.

Where the speaker's feed was recorded too (a loopback, or the ``.playback.wav`` that
``uspd simulate`` writes beside its audio), ``playback=`` streams it beside the mics for
the playback canceller (``[frontend.music] playback``; docs/music.md).
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
import struct
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

from uspd.config import Config
from uspd.detect.pipeline import Decisions, Detection
from uspd.detect.presence import Event
from uspd.frontend.demod import BATCH_BLOCK_S, NoPilotToneError, find_carrier_hz
from uspd.frontend.stream import DEFAULT_SPEED_OF_SOUND_M_S, FrontEnd

MIN_SAMPLE_RATE_HZ = 44100
MAX_CHANNELS = 16
CLIPPED_ERROR_FRACTION = 0.01  # more samples than this at full scale: the recording is unusable
WAV_FORMATS = ("WAV", "WAVEX", "RF64", "W64")  # RIFF WAV and its large-file variants
TIMELINE_HEADER = ("time_s", "motion_score", "motion", "occupied")
_CARRIER_SEARCH_S = 2.0  # pilot-tone search window
_CARRIER_FALLBACKS = (0.25, 0.5, 0.75)  # where else to look (fraction of the file) if the start has no tone
_PCM_BITS = {"PCM_S8": 8, "PCM_U8": 8, "PCM_16": 16, "PCM_24": 24, "PCM_32": 32}
_UNKNOWN_SIZES = (0, 0xFFFFFFFF)  # data sizes streaming writers leave when the length is not known


class RecordingError(ValueError):
    """A recording uspd cannot use, in one sentence the user can act on."""


@dataclass(frozen=True)
class RecordingInfo:
    """What the file held and how it was processed."""

    path: Path
    sample_rate_hz: int
    n_channels: int
    subtype: str  # soundfile subtype, e.g. PCM_16, PCM_24, FLOAT
    n_samples: int  # per channel
    carrier_hz: float
    carrier_found: bool  # True: found in the audio (auto); False: given by the user
    baseband_rate_hz: int
    clipped_fraction: float  # share of all samples at full scale
    warnings: tuple[str, ...] = field(default=())

    @property
    def duration_s(self) -> float:
        return self.n_samples / self.sample_rate_hz


def detect_file(
    path: str | Path,
    config: Config,
    carrier_hz: float | None = None,
    on_progress: Callable[[float, float], None] | None = None,
    playback: str | Path | None = None,
) -> tuple[Decisions, RecordingInfo]:
    """Run detection over a WAV recording, streaming it in 1 s blocks.

    carrier_hz: the pilot tone; ``None`` finds it in the first 2 s (then at 25, 50 and
    75 % of the file if the start holds none). on_progress(seconds done, seconds total)
    is called after every block. playback: a mono WAV of what the speaker was fed, sample
    for sample with the recording (:class:`PlaybackFile`). Returns the per-hop decisions
    (time = end of the audio each used, in s since the first sample) and a :class:`RecordingInfo`.
    Raises :class:`RecordingError` (or the front end's ``ValueError``) on unusable input.
    """
    path = Path(path)
    with contextlib.ExitStack() as files:
        sound = files.enter_context(_open(path))
        rate, n_channels, n_samples, subtype = sound.samplerate, sound.channels, sound.frames, sound.subtype
        full_scale = _full_scale(subtype)
        found = carrier_hz is None
        if found:
            carrier_hz = _find_carrier(sound, path)
        elif not (math.isfinite(carrier_hz) and carrier_hz > 0):
            raise RecordingError(f"the carrier must be a positive frequency in Hz, got {carrier_hz:g}")
        baseband_hz = baseband_rate_for(rate, config)
        front = FrontEnd(rate, carrier_hz, config.frontend, baseband_rate_hz=baseband_hz,
                         speed_of_sound=DEFAULT_SPEED_OF_SOUND_M_S)
        detection = Detection(config, front.velocity_m_s)
        feed = None
        if playback is not None:
            feed = PlaybackFile.open(playback, path, rate, n_samples, config)
            files.callback(feed.close)
        end_s = n_samples / rate
        parts: list[Decisions] = []

        def decide(power: np.ndarray, times: np.ndarray) -> None:
            if len(times):
                parts.append(detection.process(power, times))

        sound.seek(0)
        step = max(1, int(round(BATCH_BLOCK_S * rate)))
        n_read, n_clipped, heard = 0, 0, False
        while n_read < n_samples:
            try:
                block = sound.read(min(step, n_samples - n_read), dtype="float64", always_2d=True)
            except (sf.LibsndfileError, RuntimeError) as err:
                raise RecordingError(f"cannot read {path} after {n_read / rate:.3f} s: {_reason(err)}") from None
            if not len(block):
                break
            finite = np.isfinite(block)
            if not finite.all():
                first = n_read + int(np.argmin(finite.all(axis=1)))
                raise RecordingError(f"{path} contains NaN or infinite samples (the first at {first / rate:.3f} s)")
            n_clipped += int(np.count_nonzero(np.abs(block) >= full_scale))
            heard = heard or bool(np.any(block))
            decide(*front.process(block.T, None if feed is None else feed.read(len(block))))
            n_read += len(block)
            if on_progress:
                on_progress(n_read / rate, end_s)
        decide(*front.flush())

    declared = _declared_samples(path)
    if n_read < n_samples or (declared is not None and declared > n_read):
        promised = max(n_samples, declared or 0)
        raise RecordingError(
            f"{path} is truncated: its header promises {promised / rate:.3f} s of audio but only "
            f"{n_read / rate:.3f} s could be read (was the recording cut off?)"
        )
    if not heard:
        raise RecordingError(f"{path} is silent (every sample is zero): check the microphone input")
    clipped = n_clipped / max(n_read * n_channels, 1)
    if clipped > CLIPPED_ERROR_FRACTION:
        raise RecordingError(
            f"{path} is clipped: {clipped:.1%} of its samples are at full scale (over "
            f"{CLIPPED_ERROR_FRACTION:.0%}); lower the microphone gain or the tone level and record again"
        )
    if not parts:
        raise RecordingError(
            f"{path} is too short: {end_s:.3f} s of audio gives no detector frame "
            f"(it needs about {2 * config.frontend.frame_s:.2f} s)"
        )
    warnings = [] if feed is None else list(feed.warnings)
    if clipped > 0:
        warnings.append(
            f"{clipped:.2%} of the samples in {path} are at full scale (clipped); motion scores may run "
            "high: lower the microphone gain"
        )
    info = RecordingInfo(
        path=path, sample_rate_hz=rate, n_channels=n_channels, subtype=subtype, n_samples=n_read,
        carrier_hz=float(carrier_hz), carrier_found=found, baseband_rate_hz=baseband_hz,
        clipped_fraction=clipped, warnings=tuple(warnings),
    )
    return Decisions.concatenate(parts), info


class PlaybackFile:
    """What the speaker was fed during a recording (tone and music), read beside it block by
    block for the playback canceller: a mono WAV at the recording's rate whose first sample
    is the recording's first (a loopback capture, or ``uspd simulate``'s ``.playback.wav``).

    With ``[frontend.music] playback`` off it is checked but not read, and ``warnings``
    says so: a given file that silently does nothing would look like a canceller that fails.
    """

    def __init__(self, sound: sf.SoundFile, path: Path, used: bool) -> None:
        self.sound, self.path, self.used = sound, path, used
        self.warnings: tuple[str, ...] = () if used else (
            f"the playback canceller is off ([frontend.music] playback = false), so {path} was not used "
            "(docs/music.md, \"With the device's playback\")",
        )

    @classmethod
    def open(cls, path: str | Path, recording: Path, sample_rate_hz: int, n_samples: int, config: Config) -> PlaybackFile:
        path = Path(path)
        sound = _open(path)
        problem = None
        if sound.channels != 1:
            problem = f"the playback {path} has {sound.channels} channels; it must hold the speaker's feed alone (1 channel)"
        elif sound.samplerate != sample_rate_hz:
            problem = (f"the playback {path} is sampled at {sound.samplerate} Hz and {recording} at {sample_rate_hz} Hz: "
                       "they must match sample for sample")
        elif sound.frames < n_samples:
            problem = (f"the playback {path} holds {sound.frames / sample_rate_hz:.3f} s, less than the "
                       f"{n_samples / sample_rate_hz:.3f} s of {recording}")
        if problem:
            sound.close()
            raise RecordingError(problem)
        return cls(sound, path, config.frontend.music.playback)

    def read(self, n_samples: int) -> np.ndarray | None:
        """The next ``n_samples`` of the feed (full scale), or None when it is not used."""
        if not self.used:
            return None
        try:
            block = self.sound.read(n_samples, dtype="float64")
        except (sf.LibsndfileError, RuntimeError) as err:
            raise RecordingError(f"cannot read the playback {self.path}: {_reason(err)}") from None
        if len(block) < n_samples:
            raise RecordingError(f"the playback {self.path} is truncated: it ends before the recording does")
        if not np.isfinite(block).all():
            raise RecordingError(f"the playback {self.path} contains NaN or infinite samples")
        return block

    def close(self) -> None:
        self.sound.close()


def baseband_rate_for(sample_rate_hz: int, config: Config) -> int:
    """The complex baseband rate for audio at ``sample_rate_hz``.

    The configured rate where it divides the sample rate (48, 96, 192 kHz); otherwise the
    nearest rate that does and that holds a whole number of samples per hop and per STFT
    frame (44.1, 88.2, 176.4 kHz → 3150 Hz), so frames keep their configured timing.
    """
    preferred = config.simulation.baseband_rate_hz
    if sample_rate_hz % preferred == 0:
        return preferred

    def whole(seconds: float, rate: int) -> bool:
        return abs(seconds * rate - round(seconds * rate)) < 1e-6

    candidates = [
        sample_rate_hz // d
        for d in range(1, sample_rate_hz + 1)
        if sample_rate_hz % d == 0 and preferred / 2 <= sample_rate_hz // d <= 2 * preferred
        and whole(config.frontend.hop_s, sample_rate_hz // d) and whole(config.frontend.frame_s, sample_rate_hz // d)
    ]
    if not candidates:
        raise RecordingError(
            f"a sample rate of {sample_rate_hz} Hz does not decimate to a baseband rate near {preferred} Hz "
            "with whole 20 ms hops; use 44.1, 48, 88.2, 96, 176.4 or 192 kHz audio"
        )
    return min(candidates, key=lambda r: (abs(r - preferred), -r))


def write_timeline(decisions: Decisions, path: str | Path) -> None:
    """CSV ``time_s,motion_score,motion,occupied``: one row per detector hop."""
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(TIMELINE_HEADER)
        writer.writerows(
            (f"{t:.3f}", f"{s:.4f}", m, int(o))
            for t, s, m, o in zip(decisions.time_s.tolist(), decisions.score.tolist(),
                                  decisions.motion.tolist(), decisions.occupied.tolist())
        )


def write_events(events: Iterable[Event], path: str | Path) -> None:
    """JSON lines, one presence event each: ``{"time_s", "event", "kind", "score"}``."""
    with open(path, "w") as handle:
        for event in events:
            row = asdict(event)
            row["time_s"], row["score"] = round(row["time_s"], 3), round(row["score"], 4)
            handle.write(json.dumps(row) + "\n")


@dataclass(frozen=True)
class Summary:
    """The numbers ``uspd detect`` prints when no output file is asked for."""

    duration_s: float
    motion_events: dict[str, int]  # kind → onsets
    occupied_fraction: float
    transitions: list[Event]  # occupied / vacant events, in order
    final_state: str


def summarize(decisions: Decisions) -> Summary:
    motion = [e.kind for e in decisions.events if e.event == "motion"]
    return Summary(
        duration_s=float(decisions.time_s[-1]) if len(decisions.time_s) else 0.0,
        motion_events={kind: motion.count(kind) for kind in ("major", "minor")},
        occupied_fraction=float(decisions.occupied.mean()) if len(decisions.occupied) else 0.0,
        transitions=[e for e in decisions.events if e.event in ("occupied", "vacant")],
        final_state="occupied" if len(decisions.occupied) and decisions.occupied[-1] else "vacant",
    )


def clock(seconds: float) -> str:
    """12.3456 → '0:00:12.35': readable times for day-long recordings."""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{int(hours)}:{int(minutes):02d}:{secs:05.2f}"


def _open(path: Path) -> sf.SoundFile:
    if not path.exists():
        raise RecordingError(f"{path} does not exist")
    if not path.is_file():
        raise RecordingError(f"{path} is not a file")
    try:
        sound = sf.SoundFile(path)
    except (sf.LibsndfileError, RuntimeError) as err:
        raise RecordingError(f"cannot read {path} as a WAV file: {_reason(err)}") from None
    problem = None
    if sound.format not in WAV_FORMATS:
        problem = f"{path} is {sound.format_info or sound.format} audio, not a WAV file"
    elif sound.samplerate < MIN_SAMPLE_RATE_HZ:
        problem = (
            f"{path} is sampled at {sound.samplerate} Hz; an ultrasonic pilot tone needs at least "
            f"{MIN_SAMPLE_RATE_HZ} Hz"
        )
    elif sound.channels > MAX_CHANNELS:
        problem = f"{path} has {sound.channels} channels; uspd reads at most {MAX_CHANNELS}"
    elif sound.frames == 0:
        problem = f"{path} holds no audio (0 samples)"
    if problem:
        sound.close()
        raise RecordingError(problem)
    return sound


def _find_carrier(sound: sf.SoundFile, path: Path) -> float:
    """The pilot tone, from the first 2 s or, failing that, a few later 2 s windows."""
    rate, n = sound.samplerate, sound.frames
    span = int(_CARRIER_SEARCH_S * rate)
    starts = [0] + [s for s in (int(f * n) for f in _CARRIER_FALLBACKS) if s + span <= n]
    first_error: Exception | None = None
    silent = True
    for start in starts:
        sound.seek(start)
        audio = sound.read(min(span, n - start), dtype="float64", always_2d=True).T
        if not np.all(np.isfinite(audio)):
            continue  # the streaming pass names the first bad sample
        if not np.any(audio):
            continue
        silent = False
        try:
            return find_carrier_hz(audio, rate)
        except NoPilotToneError as err:
            first_error = first_error or err
    if silent and not _any_sound(sound):
        raise RecordingError(f"{path} is silent (every sample is zero): check the microphone input")
    if first_error is None:  # only NaN or silent windows: the streaming pass would not know the tone
        raise NoPilotToneError(f"no pilot tone found in {path}: the audio searched for it is silent or not finite")
    raise NoPilotToneError(f"{path}: {first_error}")


def _any_sound(sound: sf.SoundFile) -> bool:
    sound.seek(0)
    return any(np.any(block) for block in sound.blocks(int(BATCH_BLOCK_S * sound.samplerate), dtype="float32"))


def _full_scale(subtype: str) -> float:
    """The magnitude at which a sample of this subtype is clipped (read as float in [-1, 1))."""
    bits = _PCM_BITS.get(subtype)
    return 1.0 - 2.0 ** (1 - bits) if bits else 1.0


def _declared_samples(path: Path) -> int | None:
    """Samples per channel the RIFF/RF64 header declares, None where it does not say.

    libsndfile quietly reads a file whose data chunk was cut short as a shorter one; this
    is how a truncated recording is told from a short one.
    """
    try:
        with open(path, "rb") as handle:
            head = handle.read(12)
            if len(head) < 12 or head[8:12] != b"WAVE" or head[:4] not in (b"RIFF", b"RF64"):
                return None
            block_align, ds64_data = None, None
            while True:
                chunk = handle.read(8)
                if len(chunk) < 8:
                    return None
                chunk_id, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
                if chunk_id == b"ds64":
                    ds64_data = struct.unpack("<Q", handle.read(16)[8:16])[0]
                    handle.seek(size - 16 + (size & 1), 1)
                elif chunk_id == b"fmt ":
                    block_align = struct.unpack("<H", handle.read(16)[12:14])[0]
                    handle.seek(size - 16 + (size & 1), 1)
                elif chunk_id == b"data":
                    if head[:4] == b"RF64" and size == 0xFFFFFFFF:
                        size = ds64_data
                    if not block_align or size is None or size in _UNKNOWN_SIZES:
                        return None
                    return size // block_align
                else:
                    handle.seek(size + (size & 1), 1)
    except (OSError, struct.error):
        return None


def _reason(err: Exception) -> str:
    """libsndfile's reason ("Format not recognised.") as a clause: "format not recognised"."""
    text = (getattr(err, "error_string", None) or str(err)).rstrip(".")
    return text[:1].lower() + text[1:]
