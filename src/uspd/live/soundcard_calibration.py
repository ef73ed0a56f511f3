"""Calibrating a real sound card: the probes of :mod:`uspd.calibrate` played and recorded.

:class:`SoundCardProber` is a :class:`~uspd.calibrate.Prober` on one open duplex stream.
Each probe is the simulated prober's (the carrier at the level, ramped on, on for
``on_s``, ramped off in :data:`~uspd.calibrate.PROBE_RAMP_S`, off for ``off_s``), played
from a callback that also records the mics; the recording is cut at the card's round-trip
latency and demodulated like any recording (:func:`~uspd.frontend.demod.demodulate`), so
its sample 0 is the moment the tone is fully on, as in the simulated prober's output, and
:func:`~uspd.calibrate.measure_probe` reads both alike.

The round trip (DAC → speaker → mic → ADC, plus the driver's buffers) is measured once per
stream with a short ultrasonic chirp: the lag where each mic's recording best matches the
chirp, less the nominal speaker-to-mic flight time (the room's own delay is part of the
probe's response, as in the simulation). The stream stays open for all probes, so the
latency, and with it every probe's phase, is the same for all of them. A running live
stream can play the probes instead of the prober's own stream: it hands its callbacks to
:meth:`SoundCardProber.callback` and calls :meth:`SoundCardProber.measure_latency` once
(:class:`~uspd.live.soundcard.SoundCardSource`'s periodic re-check).

What the maker knows about the card (mic geometry, datasheet sensitivities) comes from
``[soundcard]`` (:func:`card_profile`); a card whose mics barely hear its speaker (muted
output, wrong device) is refused instead of calibrated to full scale
(:func:`check_speaker_heard`).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np
from scipy import signal

from uspd.calibrate import PROBE_RAMP_S, Calibration, DeviceProfile
from uspd.config import Config, SoundCardConfig
from uspd.detect.file import baseband_rate_for
from uspd.emission import ToneGate
from uspd.frontend.demod import demodulate
from uspd.live import soundcard
from uspd.live.soundcard import Card, SoundCardError, find_card, stream_problem
from uspd.sim.device import ARRAY_PRESETS, SAMPLE_RATES_HZ
from uspd.sim.scene import NYQUIST_GUARD_HZ

PROBE_BLOCK_S = 0.1  # the probes' stream: nothing waits on their frames, so a block size fixed for all cards
MAX_LATENCY_S = 0.5  # recording kept after each played buffer: the card's round trip must fit in it
CHIRP_S = 0.05  # the latency chirp: min_carrier_hz up to Nyquist less the guard
CHIRP_LEVEL_DBFS = -20.0
_PREROLL_S = 0.05  # silence before each probe's ramp: the demodulator's filter starts on it
_POSTROLL_S = 0.05  # recorded after the probe: the demodulator's filter ends on it
_GLITCH_RETRIES = 3  # a probe hit by an overrun or underrun is played again
SPEAKER_UNHEARD_DB = 20.0  # loudest candidate this far under the speaker's rated SPL: the mics do not hear it
_PRESET_BY_COUNT = {len(mics): name for name, mics in ARRAY_PRESETS.items()}


def card_profile(config: SoundCardConfig, n_mics: int, sample_rate_hz: int) -> DeviceProfile:
    """The card's nominal design from ``[soundcard]``; the preset for its mic count when no
    geometry is given and exactly one fits (ValueError with what to set otherwise)."""
    if sample_rate_hz not in SAMPLE_RATES_HZ:
        raise ValueError(f"calibration needs a card running at {', '.join(f'{r // 1000} kHz' for r in SAMPLE_RATES_HZ)}; "
                         f"this one runs at {sample_rate_hz / 1000:g} kHz at most")
    sensitivities = {"speaker_sensitivity_db_spl": config.speaker_sensitivity_db_spl,
                     "mic_sensitivity_dbfs_per_pa": config.mic_sensitivity_dbfs_per_pa}
    if config.mic_offsets_m is not None:
        profile = DeviceProfile("custom", sample_rate_hz, tuple(map(tuple, config.mic_offsets_m)),
                                tuple(config.speaker_offset_m), **sensitivities)
    else:
        array = config.array or _PRESET_BY_COUNT.get(n_mics)
        if array is None:
            raise ValueError(f"the card has {n_mics} microphone inputs and no preset has {n_mics} mics: describe "
                             "the array in [soundcard] mic_offsets_m and speaker_offset_m (metres from the device "
                             "centre, x forward, z up)")
        if array not in ARRAY_PRESETS:
            raise ValueError(f"unknown [soundcard] array '{array}'; presets: {', '.join(ARRAY_PRESETS)}")
        profile = DeviceProfile(array, sample_rate_hz, **sensitivities)
    if profile.n_mics != n_mics:
        raise ValueError(f"the card has {n_mics} microphone inputs but [soundcard] describes {profile.n_mics} mics")
    return profile


def check_speaker_heard(calibration: Calibration, profile: DeviceProfile) -> None:
    """SoundCardError when even the loudest carrier's estimated SPL is far under the
    speaker's rating: the output is muted or is not the speaker beside these mics."""
    loudest_db = max(c.spl_at_0dbfs_db for c in calibration.candidates)
    if loudest_db < profile.speaker_sensitivity_db_spl - SPEAKER_UNHEARD_DB:
        raise SoundCardError(
            f"the microphones barely hear the speaker (≈ {loudest_db:.0f} dB SPL at 1 m for a full-scale tone where "
            f"the speaker is rated {profile.speaker_sensitivity_db_spl:.0f}): check that the output is not muted and "
            "that the card plays through the speaker next to its microphones"
        )


@dataclass
class _Take:
    """One buffer to play and the recording made meanwhile (filled by the stream callback)."""

    play: np.ndarray  # (n,) float32
    recording: np.ndarray  # (n_inputs, n + latency allowance) float32: the mics, and a loopback if the card has one
    position: int = 0
    glitch: str | None = None
    done: threading.Event = field(default_factory=threading.Event)


class SoundCardProber:
    """A :class:`~uspd.calibrate.Prober` through a sound card's duplex stream (see the module doc).

    >>> with SoundCardProber(card, profile, config) as prober:
    ...     result = calibrate(prober, profile, config.calibration, device_id=card.id)
    """

    def __init__(self, card: Card, profile: DeviceProfile, config: Config, sd=None) -> None:
        self.sd = sd or soundcard._sounddevice()
        self.card, self.profile, self.config = card, profile, config
        self.mics = card.mic_channels(config.soundcard.playback_channel)  # a loopback input is not probed
        self.sample_rate_hz = profile.sample_rate_hz
        self.baseband_rate_hz = float(baseband_rate_for(self.sample_rate_hz, config))
        self.latency_samples: int | None = None
        self._take: _Take | None = None
        self._stream = None
        self._abandoned: str | None = None

    def __enter__(self) -> SoundCardProber:
        rate = self.sample_rate_hz
        self._stream = self.sd.Stream(device=self.card.device, samplerate=rate, blocksize=int(PROBE_BLOCK_S * rate),
                                      channels=(self.card.n_inputs, 1), dtype="float32", callback=self.callback)
        self._stream.__enter__()
        try:
            self.measure_latency()
        except BaseException:
            self._stream.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc) -> None:
        self._stream.__exit__(*exc)

    def callback(self, indata, outdata, frames, time_info, status) -> None:
        """The duplex stream's callback: plays the current take (silence without one) and records it."""
        outdata.fill(0.0)
        take = self._take
        if take is None:
            return
        take.glitch = take.glitch or stream_problem({"input_overflow": status.input_overflow,
                                                      "output_underflow": status.output_underflow})
        a = take.position
        play = take.play[a : a + frames]
        outdata[: len(play), 0] = play
        kept = take.recording[:, a : a + frames]
        kept[:] = indata[: kept.shape[1]].T
        take.position += frames
        if take.position >= take.recording.shape[1]:
            self._take = None
            take.done.set()

    def playrec(self, samples: np.ndarray) -> np.ndarray:
        """Play ``samples`` (n,) and return what the mics recorded from its first sample on,
        (n_mics, n + MAX_LATENCY_S); a take hit by an overrun or underrun is played again."""
        n_record = len(samples) + int(MAX_LATENCY_S * self.sample_rate_hz)
        for _ in range(_GLITCH_RETRIES):
            take = _Take(np.asarray(samples, np.float32), np.zeros((self.card.n_inputs, n_record), np.float32))
            self._take = take
            if not take.done.wait(timeout=n_record / self.sample_rate_hz + 5.0):
                self._take = None
                raise SoundCardError("the sound card stopped delivering audio while calibrating (device unplugged?)")
            if self._abandoned is not None:  # checked after the take is set: abandon() sees it or it sees abandon()
                raise SoundCardError(self._abandoned)
            if take.glitch is None:
                return take.recording[self.mics]
        raise SoundCardError(f"every try of a probe was disturbed ({take.glitch}); close other audio programs and retry")

    def abandon(self, reason: str) -> None:
        """The stream playing the takes is gone: the take now playing and every later one raise
        :class:`SoundCardError` with ``reason`` (a stream re-opened meanwhile has another latency)."""
        self._abandoned = reason
        take = self._take
        if take is not None:
            take.done.set()

    def measure_latency(self) -> None:
        """Sets :attr:`latency_samples`, the stream's round trip: the chirp's lag in each mic less
        its nominal flight time (median over mics)."""
        rate, cal = self.sample_rate_hz, self.config.calibration
        t = np.arange(int(CHIRP_S * rate)) / rate
        top_hz = rate / 2 - NYQUIST_GUARD_HZ
        chirp = signal.chirp(t, cal.min_carrier_hz, CHIRP_S, top_hz) * signal.windows.tukey(len(t), 0.2)
        chirp *= 10 ** (CHIRP_LEVEL_DBFS / 20)
        recording = self.playrec(chirp)
        lag = np.argmax(signal.correlate(recording, chirp[None, :], mode="valid"), axis=-1)
        flight = np.round(self.profile.direct_delay_s(cal.temperature_c) * rate).astype(int)
        latency = int(np.median(lag - flight))
        if latency < 0:
            raise SoundCardError("could not find the calibration chirp in the recording: is the speaker on?")
        self.latency_samples = latency

    def probe(self, carrier_hz: float, level_dbfs: float, on_s: float, off_s: float) -> np.ndarray:
        rate = self.sample_rate_hz
        decimation = int(round(rate / self.baseband_rate_hz))
        preroll = int(np.ceil(_PREROLL_S * rate / decimation)) * decimation
        n = preroll + int(round((on_s + off_s + _POSTROLL_S) * rate))
        gate = ToneGate(PROBE_RAMP_S, initially_on=False)
        gate.switch(-PROBE_RAMP_S, True)
        gate.switch(on_s, False)
        samples = np.arange(n)
        tone = np.cos(2 * np.pi * ((carrier_hz / rate * samples) % 1.0))  # phase 0 at the recording's first sample
        played = 10 ** (level_dbfs / 20) * gate.gain((samples - preroll) / rate) * tone
        recorded = self.playrec(played)[:, self.latency_samples : self.latency_samples + n]
        baseband = demodulate(recorded, rate, carrier_hz, self.baseband_rate_hz)
        first = preroll // decimation
        return baseband[:, first : first + int(round((on_s + off_s) * self.baseband_rate_hz))]


def soundcard_prober(config: Config, device: int | str | None) -> tuple[SoundCardProber, DeviceProfile, str]:
    """The prober (open it with ``with``), the profile and the calibration id of a card."""
    sd = soundcard._sounddevice()
    card = find_card(sd, device)
    if not card.rates_hz:
        raise SoundCardError(f"device {card.name} supports none of the rates uspd uses; pick another with --device")
    prober = card_prober(card, config, sd)
    return prober, prober.profile, card.id


def card_prober(card: Card, config: Config, sd) -> SoundCardProber:
    """The prober of a found card at its fastest rate, with its profile from ``[soundcard]``."""
    profile = card_profile(config.soundcard, len(card.mic_channels(config.soundcard.playback_channel)), card.rates_hz[0])
    return SoundCardProber(card, profile, config, sd)
