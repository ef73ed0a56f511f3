"""A sound card as the source: play the pilot tone, record the mics (full duplex).

sounddevice (PortAudio) is imported only when a sound card is used, so everything else
works on machines without PortAudio. The choices that need no hardware are pure
functions and tested: :func:`plan_audio` picks the sample rate and carrier from what a
device supports; the stream callback's status flags become :class:`SoundCardError`
sentences.

Calibrating a card (probing it through this same duplex stream) is
:mod:`uspd.live.soundcard_calibration`; with ``[calibration] recheck_every_h`` the running
source re-checks its calibration (:class:`SoundCardSource`).

48 kHz hardware (most laptops and USB headsets) cannot carry a 32 kHz tone: the tone
moves to ~20 kHz, where some people (children, young adults) and most pets can hear it,
and uspd says so.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from uspd.config import Config
from uspd.emission import DutyCycler, GatedFrames, ToneGate
from uspd.frontend.stream import DEFAULT_SPEED_OF_SOUND_M_S, FrontEnd
from uspd.sim.scene import NYQUIST_GUARD_HZ

if TYPE_CHECKING:
    from uspd.calibrate import CalibrationStore
    from uspd.live.recheck import PeriodicRecheck
    from uspd.live.soundcard_calibration import SoundCardProber

PREFERRED_RATES_HZ = (192000, 96000, 48000, 44100)
LOW_RATE_CARRIER_HZ = 20000.0  # the highest tone a 44.1/48 kHz device reproduces with room to spare
_CARRIER_MARGIN = 0.85  # carrier + Doppler must stay below this share of Nyquist
_QUEUE_S = 5.0  # audio that may wait for the detector before blocks are dropped
_RETRY_S = 5.0
_STALL_S = 2.0  # no audio for this long: the device is gone
CLIP_LEVEL = 1.0 - 2.0**-15  # a float32 stream's full scale from a 16-bit or finer converter
CLIP_WINDOW_S = 10.0  # clipping is judged over this much audio
CLIP_WARN_FRACTION = 1e-3  # of the mics' samples in a window at full scale: warn
CLIP_REPEAT_S = 300.0  # a warning repeats at most this often while the clipping lasts


class SoundCardError(RuntimeError):
    """A sound-card problem in one sentence (missing PortAudio or device, lost device)."""


@dataclass(frozen=True)
class AudioPlan:
    sample_rate_hz: int
    carrier_hz: float
    warnings: tuple[str, ...]


def plan_audio(supported_rates_hz: list[int], carrier_hz: float) -> AudioPlan:
    """The highest preferred rate the device supports, and the carrier it can carry:
    the configured one where it fits under ~85 % of Nyquist, else the ~20 kHz mode."""
    rates = [r for r in PREFERRED_RATES_HZ if r in set(supported_rates_hz)]
    if not rates:
        raise SoundCardError(
            f"the device supports none of {', '.join(f'{r / 1000:g} kHz' for r in PREFERRED_RATES_HZ)}; "
            "pick another device with --device"
        )
    rate = rates[0]
    if carrier_hz <= _CARRIER_MARGIN * rate / 2:
        return AudioPlan(rate, carrier_hz, ())
    warning = (
        f"the device runs at {rate / 1000:g} kHz, too slow for a {carrier_hz / 1000:g} kHz tone: using "
        f"{LOW_RATE_CARRIER_HZ / 1000:g} kHz instead, which some people and most pets can hear; a 96 kHz "
        "device keeps the tone inaudible"
    )
    return AudioPlan(rate, LOW_RATE_CARRIER_HZ, (warning,))


def _sounddevice():
    try:
        import sounddevice
    except (OSError, ImportError) as err:  # PortAudio (or the sounddevice package) is missing
        raise SoundCardError(
            f"cannot use the sound card: {err} (install PortAudio, e.g. apt-get install libportaudio2)"
        ) from None
    return sounddevice


def list_devices() -> list[dict]:
    """Input/output devices: index, name, channels in and out, default rate."""
    sd = _sounddevice()
    try:
        devices = sd.query_devices()
    except sd.PortAudioError as err:
        raise SoundCardError(f"cannot list sound devices: {err}") from None
    return [
        {"index": i, "name": d["name"], "inputs": d["max_input_channels"], "outputs": d["max_output_channels"],
         "default_rate_hz": d["default_samplerate"]}
        for i, d in enumerate(devices)
    ]


def stream_problem(status_flags: dict[str, bool]) -> str | None:
    """PortAudio callback flags → one sentence, or None when the block is clean."""
    problems = [text for flag, text in (
        ("input_overflow", "the microphones overran (audio was lost: the machine is too busy)"),
        ("output_underflow", "the tone output ran dry (the speaker had a gap)"),
    ) if status_flags.get(flag)]
    return "; ".join(problems) or None


class ClipWatch:
    """Counts the mics' samples at full scale and says so when more than
    ``CLIP_WARN_FRACTION`` of a ``CLIP_WINDOW_S`` window clipped (loud music, a voice close
    by, the gain set too high): clipped audio mixes the tone with what clipped, which
    no canceller predicts and the network may read as motion. Once per ``CLIP_REPEAT_S``
    at most, in stream time."""

    def __init__(self, sample_rate_hz: float) -> None:
        self.window = int(CLIP_WINDOW_S * sample_rate_hz)
        self.repeat = int(CLIP_REPEAT_S * sample_rate_hz)
        self._seen = 0  # stream samples so far
        self._in_window = self._clipped = self._values = 0  # samples, clipped values and values of this window
        self._warned_at: int | None = None  # stream sample of the last warning

    def add(self, mics: np.ndarray) -> str | None:
        """The next block (n_mics, n); a sentence when it ends a window with too much clipped."""
        self._clipped += int(np.count_nonzero(np.abs(mics) >= CLIP_LEVEL))
        self._values += mics.size
        self._in_window += mics.shape[1]
        self._seen += mics.shape[1]
        if self._in_window < self.window:
            return None
        fraction = self._clipped / self._values
        self._in_window = self._clipped = self._values = 0
        if fraction <= CLIP_WARN_FRACTION or (self._warned_at is not None and self._seen - self._warned_at < self.repeat):
            return None
        self._warned_at = self._seen
        return (f"the microphones clip: {fraction:.1%} of their samples in the last {CLIP_WINDOW_S:g} s were at full "
                "scale (loud music, or a sound close by?); motion scores may run high: lower the microphone gain")


@dataclass(frozen=True)
class Card:
    """A duplex device as PortAudio reports it."""

    device: int | str | None  # what PortAudio was asked for: index, name or None (the default)
    name: str
    n_inputs: int
    rates_hz: tuple[int, ...]  # the preferred rates it supports, fastest first

    @property
    def id(self) -> str:
        """Its calibration is kept under this: the name survives re-plugging and reboots, the index does not."""
        return f"soundcard:{self.name}"

    def mic_channels(self, playback_channel: int | None) -> list[int]:
        """Its inputs that are mics: all but the one recording what the speaker plays
        (``[soundcard] playback_channel``, a hardware loopback)."""
        if playback_channel is None:
            return list(range(self.n_inputs))
        if playback_channel >= self.n_inputs:
            raise SoundCardError(f"[soundcard] playback_channel {playback_channel} is not an input of {self.name}, "
                                 f"which has {self.n_inputs} (channels 0–{self.n_inputs - 1}); check the card's "
                                 "channel map (uspd devices)")
        if self.n_inputs < 2:
            raise SoundCardError(f"[soundcard] playback_channel {playback_channel} is the only input of {self.name}: "
                                 "it leaves no microphone")
        return [c for c in range(self.n_inputs) if c != playback_channel]


def find_card(sd, device: int | str | None) -> Card:
    """The device's name, microphone count and supported rates, or a :class:`SoundCardError`."""
    try:
        info = sd.query_devices(device, "input")
    except (sd.PortAudioError, ValueError) as err:
        raise SoundCardError(f"no usable input device {device if device is not None else '(default)'}: {err}") from None
    if int(info["max_input_channels"]) < 1:
        raise SoundCardError(f"device {info['name']} has no microphone inputs")

    def supports(rate_hz: int) -> bool:
        try:
            sd.check_input_settings(device, samplerate=rate_hz)
            sd.check_output_settings(device, samplerate=rate_hz, channels=1)
            return True
        except (sd.PortAudioError, ValueError):
            return False

    return Card(device, str(info["name"]), int(info["max_input_channels"]),
                tuple(r for r in PREFERRED_RATES_HZ if supports(r)))


class SoundCardSource:
    """Duplex stream: the tone out, the mics in, through the front end to Doppler frames.

    The tone is the card's saved calibration (``calibrations``, kept under
    :attr:`Card.id` by ``uspd calibrate --device``) or ``[emission]``'s. With
    ``[duty_cycle]`` enabled the callback plays it through :attr:`tone_gate`, which
    :attr:`cycler` switches, and the frames the mics recorded while it was off, ramping or
    settling (the stream's reported round trip later) are no data.

    A stream error or a vanished device is reported through ``on_problem`` and the stream
    re-opened every few seconds; frame times count the audio received, so events keep
    their order across the gap. ``stop()`` ends :meth:`blocks`.

    With ``[calibration] recheck_every_h`` and a saved calibration, :attr:`recheck`
    (:class:`~uspd.live.recheck.PeriodicRecheck`) re-checks it every so often while the tone
    is steadily on (never during a duty cycle's pause or probe; the cycler is held meanwhile):
    the tone ramps off through :attr:`tone_gate`, the calibration's own
    :class:`~uspd.live.soundcard_calibration.SoundCardProber` plays its latency chirp and
    probes (and on drift a whole calibration) through *this running stream's* callback, on a
    thread of its own, and the tone ramps back on (at a new level at once, phase continuous).
    The stream stays open because closing it for a prober's own stream would stop the audio
    that counts frame time (the pause would vanish from the timeline and the presence clock)
    and risk a device that does not open again; this way the pause's frames are heard and
    come out as no data, like a duty cycle's, and the detector keeps taking blocks while the
    probes, up to half a minute for a re-calibration, run. ``log`` gets its one line.
    """

    paced = True
    duration_s = None

    def __init__(self, config: Config, *, device: int | str | None = None, on_problem=print,
                 calibrations: CalibrationStore | None = None, log: Callable[[str], None] = print) -> None:
        self.sd = _sounddevice()
        self.config = config
        self.device = device
        self.on_problem = on_problem
        self.card = card = find_card(self.sd, device)
        self.n_channels = card.n_inputs
        self.mics = card.mic_channels(config.soundcard.playback_channel)
        self.playback_channel = config.soundcard.playback_channel
        self.name = card.id
        self.plan = plan_audio(list(card.rates_hz), config.emission.carrier_hz)
        self.calibration = calibrations.load(card.id) if calibrations is not None else None
        if self.calibration is not None:  # `uspd calibrate --device` measured this card: its carrier and level
            if self.calibration.carrier_hz <= self.plan.sample_rate_hz / 2 - NYQUIST_GUARD_HZ:
                self.plan = AudioPlan(self.plan.sample_rate_hz, self.calibration.carrier_hz, ())
            else:
                on_problem(f"the saved calibration's {self.calibration.carrier_hz / 1000:g} kHz carrier does not fit the "
                           f"card's {self.plan.sample_rate_hz / 1000:g} kHz rate: calibrate it again")
                self.calibration = None
        self.carrier_hz = self.plan.carrier_hz
        self.level_dbfs = self.calibration.level_dbfs if self.calibration is not None else config.emission.level_dbfs
        for warning in self.plan.warnings:
            on_problem(warning)
        from uspd.detect.file import baseband_rate_for

        self._front = FrontEnd(self.plan.sample_rate_hz, self.plan.carrier_hz, config.frontend,
                               baseband_rate_hz=baseband_rate_for(self.plan.sample_rate_hz, config),
                               speed_of_sound=DEFAULT_SPEED_OF_SOUND_M_S)
        self.velocity_m_s = self._front.velocity_m_s
        if self.playback_channel is not None and not self._front.spectrogram.takes_playback:
            on_problem(f"the playback canceller is off ([frontend.music] playback = false): input {self.playback_channel}, "
                       "the speaker's loopback, is only left out of the microphones")
        self.recheck = self._periodic_recheck(calibrations, log)
        self._rechecking: _Rechecking | None = None
        self.tone_gate = self.cycler = self._heard_gate = self._gated = None
        duty = config.duty_cycle
        if duty.enabled or self.recheck is not None:
            self.tone_gate = ToneGate(duty.ramp_s)  # in output time: what the speaker plays
            self._heard_gate = _DelayedGate(self.tone_gate)  # in input time: what the mics hear
            self._gated = GatedFrames(self._front.spectrogram, self._heard_gate, duty.settle_s)
        if duty.enabled:
            self.cycler = DutyCycler(duty, self.tone_gate, hold_s=config.presence.hold_s)
        self._baseband_out = 0  # baseband samples the demodulator released (a gated tone only)
        self.block_s = config.live.soundcard_block_s
        self._queue: queue.Queue = queue.Queue(maxsize=int(np.ceil(_QUEUE_S / self.block_s)))
        self._stopped = False
        self._phase = 0
        self.problems = 0
        self._clips = ClipWatch(self.plan.sample_rate_hz)
        self.dropped_blocks = 0  # audio blocks the detector was too slow to take

    def _periodic_recheck(self, calibrations: CalibrationStore | None, log: Callable[[str], None]) -> PeriodicRecheck | None:
        """The re-check of the card's calibration, when one is saved and ``recheck_every_h`` asks for it."""
        if self.calibration is None or self.config.calibration.recheck_every_h is None:
            return None
        from uspd.live.recheck import PeriodicRecheck
        from uspd.live.soundcard_calibration import card_profile, check_speaker_heard

        profile = card_profile(self.config.soundcard, len(self.mics), self.plan.sample_rate_hz)
        return PeriodicRecheck(self.calibration, profile, self.config.calibration, calibrations, log,
                               accept=lambda calibration: check_speaker_heard(calibration, profile))

    def stop(self) -> None:
        self._stopped = True

    @property
    def rendered_s(self) -> float:
        """Where the duty-cycle scheduler's switches start: the output already handed to the
        card plus one block, so a switch never lands inside a block being played."""
        return self._phase / self.plan.sample_rate_hz + self.block_s

    def _callback(self, indata, outdata, frames, time_info, status) -> None:
        rate, amplitude = self.plan.sample_rate_hz, 10 ** (self.level_dbfs / 20)
        n = np.arange(self._phase, self._phase + frames)
        rechecking = self._rechecking
        if rechecking is not None and self._phase >= rechecking.from_sample:  # the tone is off: the probes play
            rechecking.prober.callback(indata, outdata, frames, time_info, status)
        else:
            outdata[:, 0] = amplitude * np.sin(2 * np.pi * self.plan.carrier_hz * n / rate)
            if self.tone_gate is not None:  # its switches are at least a block ahead (rendered_s): this block's are settled
                outdata[:, 0] *= self.tone_gate.gain(n / rate)
        self._phase += frames
        problem = stream_problem({"input_overflow": status.input_overflow, "output_underflow": status.output_underflow})
        try:
            self._queue.put_nowait((indata.T.copy(), problem))
        except queue.Full:
            self.dropped_blocks += 1

    def blocks(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        rate = self.plan.sample_rate_hz
        dropped_seen = 0
        while not self._stopped:
            try:
                with self.sd.Stream(device=self.device, samplerate=rate, blocksize=int(self.block_s * rate),
                                    channels=(self.n_channels, 1), dtype="float32", callback=self._callback) as stream:
                    if self._heard_gate is not None:
                        self._heard_gate.delay_s = float(sum(stream.latency))  # PortAudio's input + output latency
                    while not self._stopped:
                        try:
                            audio, problem = self._queue.get(timeout=_STALL_S)
                        except queue.Empty:
                            raise SoundCardError("the sound card stopped delivering audio (device unplugged?)") from None
                        if self.dropped_blocks > dropped_seen:
                            problem = f"detection fell behind: {self.dropped_blocks - dropped_seen} audio blocks dropped"
                            dropped_seen = self.dropped_blocks
                        mics, playback = self._split(audio)
                        problem = "; ".join(p for p in (problem, self._clips.add(mics)) if p) or None
                        if problem:
                            self.problems += 1
                            self.on_problem(problem)
                        yield self._frames(mics, playback)
                        if self.recheck is not None:
                            self._step_recheck()
            except (self.sd.PortAudioError, SoundCardError) as err:
                if self._rechecking is not None:
                    self._rechecking.prober.abandon(f"the sound card was lost during it: {err}")
                self.on_problem(f"sound card lost: {err}; retrying in {_RETRY_S:g} s")
                time.sleep(_RETRY_S)

    def _step_recheck(self) -> None:
        """Start a due re-check while the tone is steadily on; end a finished one (see the class doc)."""
        gate, now_s = self.tone_gate, self.rendered_s
        if self._rechecking is None:
            steady = gate.steadily_on(now_s)
            if self.cycler is not None and steady:
                self.cycler.held = False  # the tone is back and its ramp done: the duty cycle may switch it again
            if self.recheck.due(now_s) and steady and (self.cycler is None or self.cycler.mode == "continuous"):
                from uspd.live.soundcard_calibration import card_prober

                if self.cycler is not None:
                    self.cycler.held = True
                gate.switch(now_s, False)
                self._rechecking = _Rechecking(card_prober(self.card, self.config, self.sd), self.recheck,
                                               now_s, int(np.ceil((now_s + gate.ramp_s) * self.plan.sample_rate_hz)))
        elif not self._rechecking.thread.is_alive():
            error, self._rechecking = self._rechecking.error, None
            if error is not None:
                self.on_problem(f"the calibration re-check failed ({error}); keeping the saved calibration")
            calibration = self.recheck.calibration
            if calibration.carrier_hz == self.carrier_hz:  # a new carrier waits for the next start
                self.calibration, self.level_dbfs = calibration, calibration.level_dbfs
            gate.switch(now_s, True)
            self.recheck.resumed(now_s)

    def _split(self, audio: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Audio block (n_inputs, n) → the mics (n_mics, n) and, from a loopback input, the playback (n,)."""
        if self.playback_channel is None:
            return audio, None
        return audio[self.mics], audio[self.playback_channel]

    def _frames(self, mics: np.ndarray, playback: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """The mics' block (n_mics, n) and the playback → Doppler frames; with a tone gate
        (duty-cycling, re-checks), frames the mics recorded with the tone off, ramping or
        settling are no data (:class:`~uspd.emission.GatedFrames`)."""
        if self._gated is None:
            return self._front.process(mics, playback)
        demodulator = self._front.demodulator
        baseband, regressors = demodulator.process(mics), self._front.regressors(playback)
        first = self._baseband_out
        self._baseband_out += baseband.shape[1]
        skip = min(max(demodulator.settle_samples - first, 0), baseband.shape[1])  # ramping up from the silence before the stream
        return self._gated.process(baseband[:, skip:], (first + skip) / demodulator.baseband_rate_hz,
                                   None if regressors is None else regressors[:, skip:])


class _Rechecking:
    """A re-check in progress: ``recheck`` runs ``prober`` on its own thread, from ``now_s``
    (stream time); the stream's callback plays the prober from ``from_sample`` (the tone is off)."""

    def __init__(self, prober: SoundCardProber, recheck: PeriodicRecheck, now_s: float, from_sample: int) -> None:
        self.prober, self.from_sample = prober, from_sample
        self.error: Exception | None = None
        self.thread = threading.Thread(target=self._run, args=(recheck, now_s), daemon=True)
        self.thread.start()

    def _run(self, recheck: PeriodicRecheck, now_s: float) -> None:
        try:
            self.prober.measure_latency()
            recheck.run(self.prober, now_s)
        except (SoundCardError, ValueError) as err:  # a lost or disturbed card, or no carrier left to choose
            self.error = err


class _DelayedGate:
    """The tone gate as the microphones hear it: ``delay_s`` (the card's round trip) later."""

    def __init__(self, gate: ToneGate) -> None:
        self.gate, self.delay_s = gate, 0.0

    def gain(self, t_s: np.ndarray) -> np.ndarray:
        return self.gate.gain(np.asarray(t_s) - self.delay_s)
