"""A virtual duplex sound card whose microphones hear a simulated room's answer to
whatever the card plays: a stand-in for the ``sounddevice`` module, so the sound-card
code (calibration, duty-cycling) runs and is tested without audio hardware.

The room (:class:`RoomLoopback`) is linear and time-invariant: the static field of the
simulator's scene (direct path, wall images, furniture) as an FIR at the device rate,
plus the room's own sound (the scene rendered with the tone off: mic noise, hiss,
interferers). The FIR is sampled in frequency from the simulator's
:meth:`~uspd.sim.render.Propagation.static_response` at every whole kHz, each crossfading
linearly into the next (every path's delay exact, its gain that of the nearest whole
kHz: the speaker's and mics' response, the speaker's pattern, the walls and the air as
the simulation has them there). So a tone at a whole-kHz
carrier reaches the mics exactly as the simulation renders it, and anything else played
(another carrier, another level, a chirp, silence) reaches them as it would.

The card adds one block of latency (a callback's input can only hear what earlier
callbacks played) and ``extra_latency`` samples, like a real card's driver buffers.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from types import SimpleNamespace

import numpy as np
from scipy import signal

from uspd.config import SimulationConfig
from uspd.emission import ToneGate
from uspd.sim.render import Propagation, render_passband
from uspd.sim.scene import NYQUIST_GUARD_HZ, Scene

BAND_HZ = 1000.0
LOWEST_HZ = 17000.0  # the room fades out below this (nothing uspd plays goes there)
_LEAD = 256  # samples the FIR is shifted by to hold the band-limited direct path's leading ringing


class RoomLoopback:
    """speaker drive (n,) → what the mics record (n_mics, n), for a scene's room and unit."""

    def __init__(self, scene: Scene, config: SimulationConfig, ambient_s: float = 4.0) -> None:
        rate = scene.device.hardware.sample_rate_hz
        n_fft = 2 ** int(np.ceil(np.log2(0.3 * rate)))
        f_hz = np.fft.rfftfreq(n_fft, 1.0 / rate)
        response = np.zeros((scene.device.n_mics, len(f_hz)), complex)
        for centre_hz in np.arange(LOWEST_HZ, rate / 2, BAND_HZ):
            weight = np.clip(1.0 - np.abs(f_hz - centre_hz) / BAND_HZ, 0.0, None)  # triangles: a smooth crossfade
            near = weight > 0
            modelled_hz = float(min(centre_hz, rate / 2 - NYQUIST_GUARD_HZ))  # the highest carrier a scene takes
            propagation = Propagation(dataclasses.replace(scene, carrier_hz=modelled_hz, level_dbfs=0.0), config)
            response[:, near] += weight[near] * propagation.static_response(f_hz[near] - modelled_hz)
        taps = np.roll(np.fft.irfft(response, n_fft), _LEAD, axis=-1)  # the triangles fade out below 17 and above 47 kHz
        significant = np.flatnonzero(np.abs(taps).max(axis=0) > 1e-7 * np.abs(taps).max())
        self.taps = taps[:, : significant[-1] + 1]  # (n_mics, L): tap i delays by i − _LEAD samples
        self.lead = _LEAD
        quiet = dataclasses.replace(scene, duration_s=ambient_s)
        self.ambient = render_passband(quiet, config, tone_gate=ToneGate(initially_on=False)).signal  # (n_mics, m)
        self.sample_rate_hz = rate

    length = None  # endless

    @property
    def n_mics(self) -> int:
        return self.taps.shape[0]

    def answer(self, drive: np.ndarray, start: int, n: int, delay: int) -> np.ndarray:
        """(n_mics, n) the mics record over stream samples [start, start + n) when what the card
        played (``drive``, from stream sample 0) leaves the speaker ``delay`` samples late."""
        taps = self.taps
        first = start - (delay - self.lead) - (taps.shape[1] - 1)  # earliest drive sample reaching the block
        window = np.zeros(n + taps.shape[1] - 1)
        lo, hi = max(first, 0), min(first + len(window), len(drive))
        if hi > lo:
            window[lo - first : hi - first] = drive[lo:hi]
        echo = signal.oaconvolve(window[None, :], taps, mode="valid", axes=-1)
        return echo + self.ambient[:, (start + np.arange(n)) % self.ambient.shape[1]]


class EchoRecording:
    """A scene's recording with its tone on (``full``) and off (``ambient``), both (n_mics, m):
    the mics hear the ambient sound plus the tone's echoes (``full − ambient``) scaled by the
    envelope of what the card played, demodulated at ``carrier_hz`` over 1 ms, relative to
    a ``level_dbfs`` tone: the echoes follow the tone's ramps and level, a tone at another
    carrier makes none. The echoes' Doppler and the walk are the scene's own; the card ends
    with the recording."""

    _RMS_S = 0.001

    def __init__(self, full: np.ndarray, ambient: np.ndarray, carrier_hz: float, level_dbfs: float,
                 sample_rate_hz: int) -> None:
        self.echoes, self.ambient = full - ambient, ambient
        self.carrier_hz, self.amplitude, self.sample_rate_hz = carrier_hz, 10 ** (level_dbfs / 20), sample_rate_hz
        self.n_mics, self.length = full.shape

    def answer(self, drive: np.ndarray, start: int, n: int, delay: int) -> np.ndarray:
        width = int(self._RMS_S * self.sample_rate_hz)
        first = start - delay - width + 1
        window = np.zeros(n + width - 1)
        lo, hi = max(first, 0), min(first + len(window), len(drive))
        if hi > lo:
            window[lo - first : hi - first] = drive[lo:hi]
        baseband = window * np.exp(-2j * np.pi * self.carrier_hz / self.sample_rate_hz * (first + np.arange(len(window))))
        envelope = 2 * np.abs(np.convolve(baseband, np.ones(width) / width, mode="valid")) / self.amplitude
        return self.ambient[:, start : start + n] + self.echoes[:, start : start + n] * envelope


class LoopbackCard:
    """Stands in for the ``sounddevice`` module: one duplex device whose mics hear ``room``
    answer the output, ``extra_latency`` samples late (plus one block); ``muted``: the
    speaker stays silent; ``speed``: stream seconds per wall second; ``unplug_at_s``: its
    first stream stops calling back there, as an unplugged card does (the next open finds it back);
    ``feed_channel``: an input there records what the speaker is fed, as it leaves (a hardware loopback)."""

    class PortAudioError(Exception):
        pass

    def __init__(self, room: RoomLoopback, *, name: str = "virtual loopback", extra_latency: int = 389,
                 muted: bool = False, speed: float = 20.0, unplug_at_s: float | None = None,
                 feed_channel: int | None = None) -> None:
        self.room, self.name, self.extra_latency, self.muted, self.speed = room, name, extra_latency, muted, speed
        self.unplug_at_s, self.feed_channel = unplug_at_s, feed_channel
        self.n_inputs = room.n_mics + (feed_channel is not None)
        self.rate = room.sample_rate_hz
        self.played = np.zeros(0, np.float32)  # everything played so far, across streams
        self.opens = 0

    def query_devices(self, device=None, kind=None):
        return {"name": self.name, "max_input_channels": self.n_inputs, "max_output_channels": 1}

    def check_input_settings(self, device, samplerate):
        if samplerate != self.rate:
            raise self.PortAudioError(f"Invalid sample rate {samplerate}")

    def check_output_settings(self, device, samplerate, channels):
        self.check_input_settings(device, samplerate)

    def Stream(self, *, device, samplerate, blocksize, channels, dtype, callback):
        assert (samplerate, channels, dtype) == (self.rate, (self.n_inputs, 1), "float32")
        return _LoopbackStream(self, blocksize, callback)

    def heard(self, start: int, n: int, block: int) -> np.ndarray:
        """(n, n_inputs) float32 the inputs record over stream samples [start, start + n)."""
        delay = block + self.extra_latency
        drive = np.zeros(0) if self.muted else self.played
        heard = self.room.answer(drive, start, n, delay)
        if self.feed_channel is not None:  # the output as it leaves for the speaker (muted or not), in input time
            fed = self.played[max(start - delay, 0) : max(start - delay + n, 0)]
            heard = np.insert(heard, self.feed_channel, np.pad(fed, (n - len(fed), 0)), axis=0)
        return heard.T.astype(np.float32)


class VirtualStream:
    """A virtual duplex stream: while open, a thread calls the callback block after block
    (:meth:`_run`, per card); ``latency`` as PortAudio reports it (input, output) in s."""

    def __init__(self, card, blocksize: int, callback, latency_s: float = 0.0) -> None:
        self.card, self.blocksize, self.callback = card, blocksize, callback
        self.latency = (latency_s, 0.0)
        self.closed = False

    def __enter__(self):
        self.card.opens += 1
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.closed = True
        self.thread.join()

    def _run(self) -> None:
        raise NotImplementedError


class _LoopbackStream(VirtualStream):
    def __init__(self, card: LoopbackCard, blocksize: int, callback) -> None:
        super().__init__(card, blocksize, callback, latency_s=(blocksize + card.extra_latency) / card.rate)

    def _run(self) -> None:
        card, n = self.card, self.blocksize
        status = SimpleNamespace(input_overflow=False, output_underflow=False)
        while not self.closed and (card.room.length is None or len(card.played) + n <= card.room.length):
            start = len(card.played)
            if card.opens == 1 and card.unplug_at_s is not None and start >= card.unplug_at_s * card.rate:
                return
            outdata = np.zeros((n, 1), np.float32)
            self.callback(card.heard(start, n, n), outdata, n, None, status)
            card.played = np.concatenate([card.played, outdata[:, 0]])
            time.sleep(n / card.rate / card.speed)
